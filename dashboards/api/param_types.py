"""The value types of /api/v1 query parameters: ids, metric names, times, days, time zones,
cursors, and the OpenAPI schema each one shows (used by the query models in params.py).

Each type checks one value on its own; checks across parameters are the models' `problems`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from ioc.timezones import is_timezone, known_timezones

IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")
LAYER = re.compile(r"[a-z][a-z0-9_]{0,62}")
# base64url of {"f": ..., "k": [...]} (dashboards/api/cursors.py): it starts with `{"f":"`
CURSOR = re.compile(r"eyJmIjoi[A-Za-z0-9_-]{1,1992}")

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def matching(pattern: re.Pattern, what: str):
    """A validator: the whole value matches `pattern`, else it "is not `what`"."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not {what}")
        return value

    return AfterValidator(check)


def parse_time(value: object) -> dt.datetime:
    """An ISO 8601 date-time with a UTC offset, between 2000 and 2100, as an aware datetime."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        # an unencoded "+" in a query string arrives as a space: "...T08:00:00 07:00"
        text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", str(value).strip())
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is None or "T" not in text.upper():
            raise ValueError(
                f"{text[:80]!r} is not an ISO 8601 date-time; "
                "expected e.g. 2025-06-01T08:00:00+07:00"
            )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("needs a UTC offset (Z or ±hh:mm), e.g. 2025-06-01T08:00:00+07:00")
    # the year as written (what the document's pattern can say), not the year in UTC
    if not EARLIEST.year <= parsed.year < LATEST.year:
        raise ValueError("must lie between 2000-01-01 and 2100-01-01")
    return parsed.astimezone(dt.UTC)


def parse_day(value: object) -> dt.date:
    text = str(value).strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10:
        raise ValueError(f"{text[:80]!r} is not a date; expected YYYY-MM-DD, e.g. 2025-06-01")
    if not 1900 <= day.year < 2100:
        raise ValueError("must lie between 1900-01-01 and 2099-12-31")
    return day


def parse_tz(value: str) -> str:
    if not is_timezone(value):
        raise ValueError(f"{value[:80]!r} is not an IANA time zone, e.g. Asia/Ho_Chi_Minh or UTC")
    return value


def pattern_string(pattern: re.Pattern) -> WithJsonSchema:
    """The OpenAPI schema of a string checked by `pattern` (which is matched whole)."""
    return WithJsonSchema({"type": "string", "pattern": f"^{pattern.pattern}$"})


Ident = Annotated[
    str, matching(IDENT, "an id (letters, digits, _ . : -; at most 64)"), pattern_string(IDENT)
]
DeviceId = Annotated[
    str, matching(IDENT, "a device id (letters, digits, _ . : -; at most 64)"),
    pattern_string(IDENT),
]
Metric = Annotated[str, matching(METRIC, "a metric name (a-z, 0-9, _; at most 64)"),
                   pattern_string(METRIC)]
Time = Annotated[dt.datetime, BeforeValidator(parse_time),
                 WithJsonSchema({"type": "string", "format": "date-time",
                                 "pattern": r"^20\d\d-\d\d-\d\d[Tt]"})]
Day = Annotated[dt.date, BeforeValidator(parse_day),
                WithJsonSchema({"type": "string", "format": "date",
                                "pattern": r"^(19|20)\d\d-\d\d-\d\d$"})]
# The OpenAPI document lists the zones once, as the TimeZone schema (dashboards/api/openapi.py).
Tz = Annotated[
    str, AfterValidator(parse_tz), WithJsonSchema({"type": "string", "x-component": "TimeZone"})
]


def time_zone_schema() -> dict:
    return {"type": "string", "enum": sorted(known_timezones()),
            "description": "An IANA time zone name."}
Cursor = Annotated[str, matching(CURSOR, "a cursor returned by this API"),
                   pattern_string(CURSOR)]
Family = Literal["environment", "disaster", "camera", "tourism"]
Format = Literal["json", "csv"]
