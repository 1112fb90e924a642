"""Reading a request's query string into its endpoint's model (params.py): one 400 that
names every unknown, repeated or invalid parameter and says why; deprecated aliases.

Pure (a MultiDict in, a frozen model out), so it is unit-tested without a server.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, TypeVar, get_args, get_origin

from pydantic import ValidationError

from dashboards.api.params import Query
from dashboards.api.problems import UNKNOWN_PARAMETER, ParameterError, invalid

Q = TypeVar("Q", bound=Query)


def is_list_field(annotation: object) -> bool:
    """Whether a field takes several values (`a=1,2` or `a=1&a=2`)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return any(is_list_field(arg) for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Annotated:
        return is_list_field(get_args(annotation)[0])
    return get_origin(annotation) is list


def _reason(error: dict) -> str:
    msg = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if error["type"] == "missing":
        return "required"
    if error["type"] == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        given = error.get("input")
        return f"{str(given)[:80]!r} is not one of {expected}"
    return msg[:300]


def validation_errors(err: ValidationError, prefix: str = "") -> list[ParameterError]:
    out = []
    for error in err.errors():
        loc = error["loc"]
        name = prefix + str(loc[0]) if loc else prefix.rstrip(".") or "body"
        rest = [str(p) for p in loc[1:] if not str(p).startswith(("function-", "literal["))]
        for part in rest:
            name += f"[{part}]" if part.isdigit() else f".{part}"
        out.append(ParameterError(name, _reason(error)))
    return out


# Deprecated parameter names still read, as the name they stand for (docs/api.md). `district`:
# before 1 July 2025 areas were districts; an id given there is matched against the units.
DEPRECATED_ALIASES = {"district": "unit_id"}


def parse_query(model: type[Q], args) -> Q:
    """The validated model for a request's query string (a werkzeug MultiDict).

    Raises ApiProblem (400) naming each unknown, repeated or invalid parameter. A deprecated
    alias (DEPRECATED_ALIASES) counts as the parameter it stands for.
    """
    fields = model.model_fields
    field_of = {
        name: DEPRECATED_ALIASES[name]
        if name in DEPRECATED_ALIASES and DEPRECATED_ALIASES[name] in fields else name
        for name in args
    }
    unknown = sorted(name for name in args if field_of[name] not in fields)
    if unknown:
        takes = ", ".join(fields) or "no parameters"
        raise invalid(
            [
                ParameterError(name[:64], f"unknown parameter; this endpoint takes {takes}")
                for name in unknown
            ],
            type_=UNKNOWN_PARAMETER,
        )
    data: dict[str, object] = {}
    errors: list[ParameterError] = []
    for name in args:
        values = args.getlist(name)
        field = field_of[name]
        if is_list_field(fields[field].annotation):
            items = [item.strip() for value in values for item in value.split(",")]
            data[field] = [*data.get(field, []), *items]
        elif len(values) > 1 or field in data:
            errors.append(ParameterError(name, f"given {len(values)} times; give it once"))
        else:
            data[field] = values[0]
    try:
        query = model.model_validate(data)
    except ValidationError as err:
        named = {e.parameter for e in errors}
        later = [e for e in validation_errors(err) if e.parameter not in named]
        raise invalid(errors + later) from None
    errors += query.problems()
    if errors:
        raise invalid(errors)
    return query
