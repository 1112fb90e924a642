"""Query parameters of each endpoint as pydantic models: unknown ones, bad values and
impossible combinations become one 400 that names every wrong parameter and says why.

The value types are in param_types.py; reading a query string into a model (the 400 that
names each wrong parameter) is query_parsing.py. Parsing is pure (a MultiDict in, a frozen
model out), so it is unit-tested without a server.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from dashboards.api.param_types import (
    IDENT,
    Cursor,
    Day,
    DeviceId,
    Family,
    Format,
    Ident,
    Metric,
    Time,
    Tz,
    matching,
    pattern_string,
)
from dashboards.api.problems import ParameterError
from ioc.alert_status import STATUSES

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
        str, matching(IDENT, "a source name (letters, digits, _ . : -)"), pattern_string(IDENT)
    ] | None = Field(None, examples=["bao-cao-2024"], description=(
        "Name of the report the figures come from (kept with each value as "
        "api:<token name>:<source>)."))
    dry_run: bool = Field(False, description="Check the rows without storing them.",
                          examples=[False])


NgsiType = Literal["AirQualityObserved", "WeatherObserved", "FloodMonitoring", "Alert"]
NGSI_ID = re.compile(r"urn:ngsi-ld:[A-Za-z]{1,40}:[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
NgsiId = Annotated[str, matching(NGSI_ID, "an entity id like urn:ngsi-ld:<Type>:<id>"),
                   pattern_string(NGSI_ID)]


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
