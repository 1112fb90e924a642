"""Query parameters of each endpoint as pydantic models: unknown ones, bad values and
impossible combinations become one 400 that names every wrong parameter and says why.

Parsing is pure (a MultiDict in, a frozen model out), so it is unit-tested without a server.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from typing import Annotated, ClassVar, Literal, TypeVar, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from dashboards.api.problems import UNKNOWN_PARAMETER, ParameterError, invalid
from ioc.alert_status import STATUSES
from ioc.timezones import is_timezone, known_timezones

# -- value types ------------------------------------------------------------------------------
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")
LAYER = re.compile(r"[a-z][a-z0-9_]{0,62}")
# base64url of {"f": ..., "k": [...]} (dashboards/api/cursors.py): it starts with `{"f":"`
CURSOR = re.compile(r"eyJmIjoi[A-Za-z0-9_-]{1,1992}")

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


def _string(pattern: re.Pattern) -> WithJsonSchema:
    """The OpenAPI schema of a string checked by `pattern` (which is matched whole)."""
    return WithJsonSchema({"type": "string", "pattern": f"^{pattern.pattern}$"})


Ident = Annotated[
    str, _matching(IDENT, "an id (letters, digits, _ . : -; at most 64)"), _string(IDENT)
]
DeviceId = Annotated[
    str, _matching(IDENT, "a device id (letters, digits, _ . : -; at most 64)"), _string(IDENT)
]
Metric = Annotated[str, _matching(METRIC, "a metric name (a-z, 0-9, _; at most 64)"),
                   _string(METRIC)]
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
Cursor = Annotated[str, _matching(CURSOR, "a cursor returned by this API"), _string(CURSOR)]
Family = Literal["environment", "disaster", "camera", "tourism"]
Format = Literal["json", "csv"]

# What the shared parameters mean (the OpenAPI document's descriptions come from the fields).
CURSOR_DOC = (
    "Opaque cursor from `next_cursor` of the previous page (or the `Link: rel=next` header). "
    "Repeat the same filters; only limit, format and tz may change between pages. Only a "
    "cursor this API returned is valid: any other is refused with a 400."
)
FORMAT_DOC = "Output format; without it, `Accept: text/csv` selects CSV. JSON by default."
TZ_DOC = "IANA time zone for the times in the answer (UTC by default, written +00:00)."
FAMILY_DOC = "Device family."
UNIT_DOC = (
    "Administrative unit (commune or ward): its official code. Deprecated alias: `district` "
    "(read as unit_id; the district level no longer exists since 1 July 2025)."
)
KIND_DOC = (
    "Device kind (air_quality, weather, rain_gauge, water_level, landslide, camera, "
    "visitor_counter, accommodation, ...)."
)


def _limit(default: int, maximum: int, what: str = "rows"):
    return Field(default, ge=1, le=maximum, description=f"Page size ({what} per page).",
                 examples=[default])


def _cursor():
    return Field(None, description=CURSOR_DOC)


def _format():
    return Field(None, description=FORMAT_DOC)


def _tz():
    return Field("UTC", description=TZ_DOC, examples=["Asia/Ho_Chi_Minh"])


def _family():
    return Field(None, max_length=4, description=FAMILY_DOC, examples=[["environment"]])


def _units():
    return Field(None, max_length=50, description=UNIT_DOC, examples=[["03006"]])


def _kinds(max_length: int = 50, description: str = KIND_DOC):
    return Field(None, max_length=max_length, description=description,
                 examples=[["water_level"]])


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
    family: list[Family] | None = _family()
    kind: list[Ident] | None = _kinds()
    unit_id: list[Ident] | None = _units()
    enabled: bool | None = Field(None, description="Only enabled (true) or disabled devices.",
                                 examples=[True])
    limit: int = _limit(100, 1000, "devices")
    cursor: Cursor | None = _cursor()
    format: Format | None = _format()
    tz: Tz = _tz()


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
    device_id: list[DeviceId] = Field(min_length=1, max_length=50, description="Device id(s).",
                                      examples=[["aq-lc-001"]])
    metric: list[Metric] | None = Field(None, max_length=50, examples=[["pm25"]],
                                        description="Metric name(s); all metrics when absent.")
    start: Time = Field(description="Start of the time range (inclusive), ISO 8601 with an "
                        "offset.", examples=["2025-06-01T00:00:00+07:00"])
    end: Time | None = Field(None, description="End of the time range (exclusive), ISO 8601 "
                             "with an offset; now when absent.",
                             examples=["2025-06-02T00:00:00+07:00"])
    bucket: Bucket = Field("raw", examples=["hour"], description=(
        "raw: every reading (range ≤ 31 days); 5min/15min/30min: aggregated from raw readings "
        "(range ≤ 7 days); hour: from the hourly rollups (≤ 400 days); day: local days of "
        "`tz` (≤ 3660 days)."))
    limit: int = _limit(1000, 10000)
    cursor: Cursor | None = _cursor()
    format: Format | None = _format()
    tz: Tz = _tz()

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
    device_id: list[DeviceId] | None = Field(None, max_length=200, description="Device id(s).",
                                             examples=[["wl-sapa-01"]])
    family: list[Family] | None = _family()
    kind: list[Ident] | None = _kinds()
    unit_id: list[Ident] | None = _units()
    metric: list[Metric] | None = Field(None, max_length=50, description="Metric name(s).",
                                        examples=[["water_level_m"]])
    limit: int = _limit(100, 500, "devices")
    cursor: Cursor | None = _cursor()
    format: Format | None = _format()
    tz: Tz = _tz()


AlertStatus = Literal[(*STATUSES, "active")]
Severity = Literal["info", "minor", "moderate", "severe", "extreme"]


class AlertsQuery(Query):
    status: list[AlertStatus] | None = Field(
        None, max_length=6, examples=[["active"]],
        description="Status (active = open, acknowledged or assigned).")
    severity: list[Severity] | None = Field(None, max_length=5, description="Severity.",
                                            examples=[["severe", "extreme"]])
    family: list[Family] | None = _family()
    unit_id: list[Ident] | None = _units()
    device_id: list[DeviceId] | None = Field(None, max_length=50, description="Device id.",
                                             examples=[["wl-sapa-01"]])
    rule_id: list[Ident] | None = Field(None, max_length=20, description="Rule id.",
                                        examples=[["water_level_alarm"]])
    kind: list[Ident] | None = _kinds(20, "Alert kind (water_level, landslide, air_quality, "
                                      "crowd, fire, ...).")
    top_level: bool | None = Field(None, examples=[True], description=(
        "true: leave out alerts grouped under a storm parent (reach them through "
        "`parent_id`); false: only those."))
    start: Time | None = Field(None, description="Alerts still active at or after this time.",
                               examples=["2025-06-01T00:00:00+07:00"])
    end: Time | None = Field(None, description="Alerts opened before this time.",
                             examples=["2025-06-02T00:00:00+07:00"])
    limit: int = _limit(100, 1000, "alerts")
    cursor: Cursor | None = _cursor()
    format: Format | None = _format()
    tz: Tz = _tz()

    def problems(self) -> list[ParameterError]:
        return _check_range(self.start, self.end, None)


class TzQuery(Query):
    tz: Tz = _tz()


class IncidentsQuery(Query):
    device_id: list[DeviceId] | None = Field(None, max_length=50, description="Camera id.",
                                             examples=[["cam-lc-cho-01"]])
    label: list[Ident] | None = Field(None, max_length=20, examples=[["fire"]], description=(
        "Incident type (fire, smoke, fight, crowd, wanted_plate, ...)."))
    unit_id: list[Ident] | None = _units()
    source: Literal["ioc", "frigate"] | None = Field(
        None, description="Which detector reported it.", examples=["ioc"])
    open: bool | None = Field(None, description="Only ongoing (true) or ended incidents.",
                              examples=[True])
    watchlist_hit: bool | None = Field(None, examples=[True], description=(
        "Only sightings of a plate on a live police watchlist (true), or none."))
    start: Time | None = Field(None, description="Incidents updated at or after this time.",
                               examples=["2025-06-01T00:00:00+07:00"])
    end: Time | None = Field(None, description="Incidents started before this time.",
                             examples=["2025-06-02T00:00:00+07:00"])
    limit: int = _limit(100, 1000, "incidents")
    cursor: Cursor | None = _cursor()
    format: Format | None = _format()
    tz: Tz = _tz()

    def problems(self) -> list[ParameterError]:
        return _check_range(self.start, self.end, None)


Period = Literal["day", "week", "month", "quarter", "year"]
PROVINCE = "province"  # the unit filter value for province-wide figures (stored as '')


class KpiValuesQuery(Query):
    kpi_id: list[Ident] | None = Field(None, max_length=50, description="KPI id.",
                                       examples=[["egov_services_full_pct"]])
    unit_id: list[Ident] | None = Field(None, max_length=50, examples=[["province"]],
                                        description="Unit id; `province` for province-wide "
                                        "values.")
    period: list[Period] | None = Field(None, max_length=5, description="Period.",
                                        examples=[["year"]])
    start: Day | None = Field(None, description="Periods starting on or after this date.",
                              examples=["2019-01-01"])
    end: Day | None = Field(None, description="Periods starting before this date.",
                            examples=["2026-01-01"])
    limit: int = _limit(100, 1000)
    cursor: Cursor | None = _cursor()
    format: Format | None = _format()

    def problems(self) -> list[ParameterError]:
        if self.start and self.end and self.start >= self.end:
            return [ParameterError("end", "must be after start")]
        return []


class KpiTargetsQuery(Query):
    kpi_id: list[Ident] | None = Field(None, max_length=50, description="KPI id.",
                                       examples=[["egov_services_full_pct"]])
    format: Format | None = _format()


class KpiImportQuery(Query):
    source: Annotated[
        str, _matching(IDENT, "a source name (letters, digits, _ . : -)"), _string(IDENT)
    ] | None = Field(None, examples=["bao-cao-2024"], description=(
        "Name of the report the figures come from (kept with each value as "
        "api:<token name>:<source>)."))
    dry_run: bool = Field(False, description="Check the rows without storing them.",
                          examples=[False])


NgsiType = Literal["AirQualityObserved", "WeatherObserved", "FloodMonitoring", "Alert"]
NGSI_ID = re.compile(r"urn:ngsi-ld:[A-Za-z]{1,40}:[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
NgsiId = Annotated[str, _matching(NGSI_ID, "an entity id like urn:ngsi-ld:<Type>:<id>"),
                   _string(NGSI_ID)]


NGSI_FORMAT_DOC = "NGSI-LD 1.8 spelling of options=keyValues."


class NgsiQuery(Query):
    type: NgsiType = Field(description="Entity type (readings:read for the observations, "
                           "alerts:read for Alert).", examples=["FloodMonitoring"])
    id: list[NgsiId] | None = Field(None, max_length=100, description="Entity id(s).",
                                    examples=[["urn:ngsi-ld:FloodMonitoring:wl-sapa-01"]])
    limit: int = Field(20, ge=1, le=1000, description="Entities per page.", examples=[20])
    offset: int = Field(0, ge=0, le=100_000, description="Entities to skip.", examples=[0])
    options: list[Literal["keyValues", "normalized", "sysAttrs", "count"]] | None = Field(
        None, max_length=4, examples=[["keyValues"]],
        description="keyValues: simplified entities; count: NGSILD-Results-Count header.")
    format: Literal["simplified", "keyValues", "normalized"] | None = Field(
        None, description=NGSI_FORMAT_DOC, examples=["simplified"])
    count: bool = Field(False, description="Send the total in the NGSILD-Results-Count header.",
                        examples=[True])

    @property
    def key_values(self) -> bool:
        return self.format in ("simplified", "keyValues") or "keyValues" in (self.options or ())

    @property
    def wants_count(self) -> bool:
        return self.count or "count" in (self.options or ())


class NgsiEntityQuery(Query):
    options: list[Literal["keyValues", "normalized", "sysAttrs"]] | None = Field(
        None, max_length=3, description="keyValues: the simplified entity.",
        examples=[["keyValues"]])
    format: Literal["simplified", "keyValues", "normalized"] | None = Field(
        None, description=NGSI_FORMAT_DOC, examples=["normalized"])

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
