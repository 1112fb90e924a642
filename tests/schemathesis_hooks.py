"""Schemathesis hooks for /api/v1. The in-process test imports this module; for a run against a
server: `SCHEMATHESIS_HOOKS=tests.schemathesis_hooks schemathesis run URL --checks all ...`.

Two things a valid request needs that no OpenAPI schema can say, so generated *valid* requests
(positive mode) that lack them are dropped before they are sent; generated invalid ones are all
kept (they must get a 4xx):

- a page cursor is an opaque token only the API makes (base64url of the page's last sort key
  and a digest of the query's filters, dashboards/api/cursors.py); any other is refused (400);
- some parameters limit each other (end after start; a bucket's longest range, e.g. 31 days of
  raw readings): each is valid alone, the combination is refused (400), as the parameters'
  descriptions say. The query model's own `problems()` tells which combinations those are.
"""

from __future__ import annotations

import schemathesis
from werkzeug.datastructures import MultiDict


def _query_model(case):
    from dashboards.api.routes import OPERATIONS

    path, method = case.operation.path, case.operation.method.lower()
    return next((op.query for op in OPERATIONS
                 if op.openapi_path == path and op.method == method), None)


def _as_args(query: dict) -> MultiDict:
    def text(value) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return MultiDict([(name, text(item)) for name, value in query.items()
                      for item in (value if isinstance(value, list) else [value])])


def _combination_refused(case) -> bool:
    """Every parameter is valid alone, but the query model refuses them together."""
    from pydantic import ValidationError

    from dashboards.api.params import is_list_field

    model = _query_model(case)
    if model is None or not case.query:
        return False
    args = _as_args(case.query)
    data = {}
    for name in args:
        field = model.model_fields.get(name)
        if field is None:
            return False
        values = args.getlist(name)
        if is_list_field(field.annotation):
            data[name] = [item.strip() for v in values for item in v.split(",")]
        else:
            data[name] = values[0]
    try:
        query = model.model_validate(data)
    except ValidationError:
        return False  # a parameter itself is refused: that is for the checks to judge
    return bool(query.problems())


@schemathesis.hook
def filter_case(context, case) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return True
    if case.query and "cursor" in case.query:
        return False
    return not _combination_refused(case)
