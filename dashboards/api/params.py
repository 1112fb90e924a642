"""Query parameters of each endpoint as pydantic models: unknown ones, bad values and
impossible combinations become one 400 that names every wrong parameter and says why.

Parsing is pure (a MultiDict in, a frozen model out), so it is unit-tested without a server.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import types
import typing
from typing import Annotated, ClassVar, Literal, TypeVar, get_args, get_origin
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from dashboards.api.problems import UNKNOWN_PARAMETER, ParameterError, invalid

# -- value types ------------------------------------------------------------------------------
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")
LAYER = re.compile(r"[a-z][a-z0-9_]{0,62}")
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2000}")

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _matching(pattern: re.Pattern, what: str):
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
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise ValueError("must lie between 2000-01-01 and 2100-01-01")
    return parsed


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


@functools.cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def parse_tz(value: str) -> str:
    if value not in known_timezones():
        raise ValueError(f"{value[:80]!r} is not an IANA time zone, e.g. Asia/Ho_Chi_Minh or UTC")
    return value


Ident = Annotated[str, _matching(IDENT, "an id (letters, digits, _ . : -; at most 64)")]
DeviceId = Annotated[str, _matching(IDENT, "a device id (letters, digits, _ . : -; at most 64)")]
Metric = Annotated[str, _matching(METRIC, "a metric name (a-z, 0-9, _; at most 64)")]
Time = Annotated[dt.datetime, BeforeValidator(parse_time)]
Day = Annotated[dt.date, BeforeValidator(parse_day)]
Tz = Annotated[str, AfterValidator(parse_tz)]
Cursor = Annotated[str, _matching(CURSOR, "a cursor returned by this API")]
Family = Literal["environment", "disaster", "camera", "tourism"]
Format = Literal["json", "csv"]


# -- models -----------------------------------------------------------------------------------
class Query(BaseModel):
    """Base of every query model: frozen, unknown parameters rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # parameters that do not change which rows are returned (left out of the cursor binding)
    PRESENTATION: ClassVar[frozenset[str]] = frozenset({"limit", "cursor", "format", "tz"})

    def problems(self) -> list[ParameterError]:
        """Checks across parameters; empty when the combination makes sense."""
        return []

    def filters(self) -> dict:
        """The parameters that select rows (a cursor is only valid for the same ones)."""
        return {
            k: v
            for k, v in self.model_dump(mode="json", exclude_none=True).items()
            if k not in self.PRESENTATION
        }

    @property
    def zone(self) -> dt.tzinfo:
        return dt.UTC if getattr(self, "tz", "UTC") == "UTC" else ZoneInfo(self.tz)


def _check_range(
    start: dt.datetime | None, end: dt.datetime | None, max_days: float | None, why: str = ""
) -> list[ParameterError]:
    if start is None or end is None:
        return []
    if start >= end:
        return [ParameterError("end", "must be after start")]
    if max_days is not None and end - start > dt.timedelta(days=max_days):
        days = (end - start).total_seconds() / 86400
        return [
            ParameterError(
                "end",
                f"the range is {days:.1f} days; at most {max_days:g} days{why}; "
                "split the range or use a wider bucket",
            )
        ]
    return []


class DevicesQuery(Query):
    family: list[Family] | None = Field(None, max_length=4)
    kind: list[Ident] | None = Field(None, max_length=50)
    unit_id: list[Ident] | None = Field(None, max_length=50)
    enabled: bool | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: Cursor | None = None
    format: Format | None = None
    tz: Tz = "UTC"


Bucket = Literal["raw", "5min", "15min", "30min", "hour", "day"]

# Longest range per bucket (days); readings of finer buckets are scanned row by row.
MAX_RANGE_DAYS: dict[str, int] = {
    "raw": 31,
    "5min": 7,
    "15min": 7,
    "30min": 7,
    "hour": 400,
    "day": 3660,
}
BUCKET_STEP: dict[str, dt.timedelta] = {
    "5min": dt.timedelta(minutes=5),
    "15min": dt.timedelta(minutes=15),
    "30min": dt.timedelta(minutes=30),
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
}


class ReadingsQuery(Query):
    device_id: list[DeviceId] = Field(min_length=1, max_length=50)
    metric: list[Metric] | None = Field(None, max_length=50)
    start: Time
    end: Time | None = None
    bucket: Bucket = "raw"
    limit: int = Field(1000, ge=1, le=10000)
    cursor: Cursor | None = None
    format: Format | None = None
    tz: Tz = "UTC"

    def problems(self) -> list[ParameterError]:
        why = f" for bucket={self.bucket}"
        return _check_range(self.start, self.end_or_now(), MAX_RANGE_DAYS[self.bucket], why)

    def end_or_now(self) -> dt.datetime:
        return self.end or dt.datetime.now(dt.UTC)

    def filters(self) -> dict:
        # days are the time zone's days: a day cursor only pages through the same zone
        out = super().filters()
        if self.bucket == "day":
            out["tz"] = self.tz
        return out


class LatestQuery(Query):
    device_id: list[DeviceId] | None = Field(None, max_length=200)
    family: list[Family] | None = Field(None, max_length=4)
    kind: list[Ident] | None = Field(None, max_length=50)
    unit_id: list[Ident] | None = Field(None, max_length=50)
    metric: list[Metric] | None = Field(None, max_length=50)
    limit: int = Field(100, ge=1, le=500)
    cursor: Cursor | None = None
    format: Format | None = None
    tz: Tz = "UTC"


AlertStatus = Literal["open", "acknowledged", "assigned", "resolved", "false_alarm", "active"]
Severity = Literal["info", "minor", "moderate", "severe", "extreme"]


class AlertsQuery(Query):
    status: list[AlertStatus] | None = Field(None, max_length=6)
    severity: list[Severity] | None = Field(None, max_length=5)
    family: list[Family] | None = Field(None, max_length=4)
    unit_id: list[Ident] | None = Field(None, max_length=50)
    device_id: list[DeviceId] | None = Field(None, max_length=50)
    rule_id: list[Ident] | None = Field(None, max_length=20)
    kind: list[Ident] | None = Field(None, max_length=20)
    top_level: bool | None = None
    start: Time | None = None
    end: Time | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: Cursor | None = None
    format: Format | None = None
    tz: Tz = "UTC"

    def problems(self) -> list[ParameterError]:
        return _check_range(self.start, self.end, None)


class TzQuery(Query):
    tz: Tz = "UTC"


class IncidentsQuery(Query):
    device_id: list[DeviceId] | None = Field(None, max_length=50)
    label: list[Ident] | None = Field(None, max_length=20)
    unit_id: list[Ident] | None = Field(None, max_length=50)
    source: Literal["ioc", "frigate"] | None = None
    open: bool | None = None
    watchlist_hit: bool | None = None
    start: Time | None = None
    end: Time | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: Cursor | None = None
    format: Format | None = None
    tz: Tz = "UTC"

    def problems(self) -> list[ParameterError]:
        return _check_range(self.start, self.end, None)


Period = Literal["day", "week", "month", "quarter", "year"]
PROVINCE = "province"  # the unit filter value for province-wide figures (stored as '')


class KpiValuesQuery(Query):
    kpi_id: list[Ident] | None = Field(None, max_length=50)
    unit_id: list[Ident] | None = Field(None, max_length=50)
    period: list[Period] | None = Field(None, max_length=5)
    start: Day | None = None
    end: Day | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: Cursor | None = None
    format: Format | None = None

    def problems(self) -> list[ParameterError]:
        if self.start and self.end and self.start >= self.end:
            return [ParameterError("end", "must be after start")]
        return []


class KpiTargetsQuery(Query):
    kpi_id: list[Ident] | None = Field(None, max_length=50)
    format: Format | None = None


class KpiImportQuery(Query):
    source: Annotated[str, _matching(IDENT, "a source name (letters, digits, _ . : -)")] | None = (
        None
    )
    dry_run: bool = False


NgsiType = Literal["AirQualityObserved", "WeatherObserved", "FloodMonitoring", "Alert"]
NGSI_ID = re.compile(r"urn:ngsi-ld:[A-Za-z]{1,40}:[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
NgsiId = Annotated[str, _matching(NGSI_ID, "an entity id like urn:ngsi-ld:<Type>:<id>")]


class NgsiQuery(Query):
    type: NgsiType
    id: list[NgsiId] | None = Field(None, max_length=100)
    limit: int = Field(20, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000)
    options: list[Literal["keyValues", "normalized", "sysAttrs", "count"]] | None = Field(
        None, max_length=4
    )
    format: Literal["simplified", "keyValues", "normalized"] | None = None
    count: bool = False

    @property
    def key_values(self) -> bool:
        return self.format in ("simplified", "keyValues") or "keyValues" in (self.options or ())

    @property
    def wants_count(self) -> bool:
        return self.count or "count" in (self.options or ())


class NgsiEntityQuery(Query):
    options: list[Literal["keyValues", "normalized", "sysAttrs"]] | None = Field(None, max_length=3)
    format: Literal["simplified", "keyValues", "normalized"] | None = None

    @property
    def key_values(self) -> bool:
        return self.format in ("simplified", "keyValues") or "keyValues" in (self.options or ())


class NoQuery(Query):
    pass


# -- parsing ----------------------------------------------------------------------------------
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
