"""Schemathesis hooks for /api/v1. The in-process test imports this module; for a run against a
server: `SCHEMATHESIS_HOOKS=tests.schemathesis_hooks schemathesis run URL --checks all ...`.

Two things a valid request needs that no OpenAPI schema can say, so generated *valid* requests
(positive mode) that lack them are dropped before they are sent; generated invalid ones are all
kept (they must get a 4xx):

- a page cursor is an opaque token only the API makes (base64url of the page's last sort key
  and a digest of the query's filters, dashboards/api/cursors.py); any other is refused (400);
- some parameters limit each other (end after start; a bucket's longest range, e.g. 31 days of
  raw readings): each is valid alone, the combination is refused (400), as the parameters'
  descriptions say. The query model's own `problems()` tells which combinations those are;
  such times are replaced by a start and the end one step later (what a client would send).
"""

from __future__ import annotations

import datetime as dt

import schemathesis
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

# Times and dates in the document are RFC 3339 `date-time`/`date` whose year the `pattern` keeps
# to what the API takes (20xx; 19xx-20xx for KPI days). Hypothesis would draw them over years
# 1-9999 and throw away all but a handful; drawn within those years, none is wasted.
_OFFSETS = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=7)),
                            dt.timezone(dt.timedelta(hours=-5, minutes=-30))])
schemathesis.openapi.format("date-time", st.datetimes(
    min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2099, 12, 30), timezones=_OFFSETS,
).map(lambda t: t.isoformat()))
schemathesis.openapi.format("date", st.dates(
    min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)).map(dt.date.isoformat))


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

    from dashboards.api.query_parsing import is_list_field

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


def _repair(query: dict) -> None:
    """Make `start`/`end` a combination the API takes: in order, and one short step apart."""
    start, end = query.get("start"), query.get("end")
    if start is not None and end is not None and str(end) <= str(start):
        query["start"], query["end"] = end, start
        start = end
    try:
        begin = dt.datetime.fromisoformat(str(start))
    except ValueError:
        return
    timed = "T" in str(start).upper()
    step = dt.timedelta(hours=1) if timed else dt.timedelta(days=1)

    def text(t: dt.datetime) -> str:
        return t.isoformat() if timed else t.date().isoformat()

    if (begin + step).year < 2100:
        query["end"] = text(begin + step)
    else:  # the end would leave the years the API takes: the step goes before the start
        query["start"], query["end"] = text(begin - step), str(start)


@schemathesis.hook
def map_case(context, case):
    """Valid requests whose times the API refuses together get times it takes (drawing them
    at random almost never gives a range short enough for raw readings)."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and case.query \
            and "start" in case.query and _combination_refused(case):
        _repair(case.query)
    return case


@schemathesis.hook
def filter_case(context, case) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return True
    if case.query and "cursor" in case.query:
        return False
    return not _combination_refused(case)
