"""Response shapes of /api/v1 as pydantic models: the OpenAPI document's schemas, the CSV
columns and the JSON each row becomes are all read from these (dashboards/api/openapi.py).

A model's `example` (in `json_schema_extra`) is the example the document shows. The Alert shape
is the alerts read model (`alerts.queries.Alert`) less the fields kept for operators, plus the
device's location: it is written there once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from alerts.queries import Alert as AlertRow
from dashboards.api.param_types import Family
from dashboards.api.params import Bucket, Period, Severity
from dashboards.api.rendering import fmt_date, fmt_time, num
from ioc.alert_status import Status

T = TypeVar("T")


def _example(value: object) -> ConfigDict:
    return ConfigDict(json_schema_extra={"example": value})


class Point(BaseModel):
    """A GeoJSON point: [longitude, latitude]."""

    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)


class Links(BaseModel):
    self: str
    next: str | None


class Page(BaseModel, Generic[T]):
    """One page of a table; `next_cursor` (and `links.next`) is null on the last page."""

    data: list[T]
    next_cursor: str | None
    links: Links


class ParameterProblem(BaseModel):
    parameter: str
    reason: str


class ImportProblem(BaseModel):
    line: int | None = None
    column: str | None = None
    reason: str


class ImportReport(BaseModel):
    model_config = _example({
        "source": "api:so-tttt:bao-cao-2024", "ok": True, "rows": 1, "stored": 1,
        "kpis": ["egov_services_full_pct"], "problems": [], "dry_run": False,
    })
    source: str
    ok: bool
    rows: int
    stored: int
    kpis: list[str]
    problems: list[dict[str, Any]]
    dry_run: bool


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = _example({
        "type": "urn:ioc:problem:invalid-parameter",
        "title": "Invalid parameter",
        "status": 400,
        "detail": "end: the range is 45.0 days; at most 31 days for bucket=raw; split the "
        "range or use a wider bucket",
        "instance": "/api/v1/readings",
        "errors": [{"parameter": "end", "reason": "the range is 45.0 days; at most 31 days "
                    "for bucket=raw; split the range or use a wider bucket"}],
    })
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ParameterProblem] | None = None
    report: ImportReport | None = None


# -- devices and readings ---------------------------------------------------------------------
POINT_EXAMPLE = {"type": "Point", "coordinates": [103.8612, 22.3121]}


class Device(BaseModel):
    model_config = _example({
        "device_id": "wl-sapa-01", "name": "Trạm thủy văn suối Mường Hoa",
        "family": "disaster", "kind": "water_level", "unit_id": "03006",
        "location": POINT_EXAMPLE, "expected_interval_s": 300, "enabled": True,
        "created_at": "2025-05-20T03:00:00+00:00", "updated_at": "2025-05-20T03:00:00+00:00",
        "metadata": {"river": "Mường Hoa", "alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}},
    })
    device_id: str
    name: str
    family: Family
    kind: str
    unit_id: str | None
    location: Point | None
    expected_interval_s: int
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    metadata: dict[str, Any]


class Reading(BaseModel):
    """One raw reading (bucket=raw)."""

    model_config = _example({
        "time": "2025-06-01T08:00:00+07:00", "device_id": "aq-lc-001", "metric": "pm25",
        "value": 38.2, "value_text": None, "unit": "µg/m³",
    })
    time: dt.datetime
    device_id: str
    metric: str
    value: float | None
    value_text: str | None
    unit: str | None


class Aggregate(BaseModel):
    """One bucket of readings (bucket=5min..day): count, mean, min, max, sum and the last value
    in the bucket."""

    model_config = _example({
        "time": "2025-06-01T00:00:00+07:00", "device_id": "aq-lc-001", "metric": "pm25",
        "bucket": "day", "count": 1440, "mean": 31.4, "min": 12.0, "max": 64.8,
        "sum": 45216.0, "last": 22.5,
    })
    time: dt.datetime = Field(description="Start of the bucket.")
    device_id: str
    metric: str
    bucket: typing.Annotated[str, Field(json_schema_extra={
        "enum": [b for b in typing.get_args(Bucket) if b != "raw"]})]
    count: int
    mean: float | None
    min: float | None
    max: float | None
    sum: float | None
    last: float | None


class ReadingPage(Page[Reading | Aggregate]):
    pass


class LatestValue(BaseModel):
    model_config = _example({
        "device_id": "wl-sapa-01", "metric": "water_level_m", "value": 82.3,
        "time": "2025-06-01T09:40:00+00:00",
    })
    device_id: str
    metric: str
    value: float | str | None
    time: dt.datetime


# -- alerts -----------------------------------------------------------------------------------
# Fields of the alerts read model that are the operators' business, not the open API's.
ALERT_PRIVATE = frozenset({
    "acknowledged_by", "assigned_to", "resolved_by", "escalation_level", "public", "updated_at",
    "children",
})
ALERT_EXAMPLE = {
    "id": 412, "rule_id": "water_level_alarm", "subject": "wl-sapa-01", "kind": "water_level",
    "family": "disaster", "severity": "severe", "status": "acknowledged",
    "title": "Mực nước suối Mường Hoa vượt báo động II", "unit_id": "03006",
    "device_id": "wl-sapa-01", "parent_id": None, "count": 14, "first_value": 80.2,
    "last_value": 82.3, "peak_value": 82.6, "opened_at": "2025-06-01T14:05:00+07:00",
    "last_seen_at": "2025-06-01T16:40:00+07:00", "acknowledged_at": "2025-06-01T14:09:30+07:00",
    "resolved_at": None, "escalated_at": None, "location": POINT_EXAMPLE,
    "details": {"level": 2},
}


def _alert_fields() -> dict[str, tuple]:
    hints = typing.get_type_hints(AlertRow)
    narrower = {"severity": Severity, "status": Status}
    out: dict[str, tuple] = {}
    for f in dataclasses.fields(AlertRow):
        if f.name in ALERT_PRIVATE or f.name in ("lon", "lat"):  # those two: `location`
            continue
        if f.name == "details":
            out["location"] = (Point | None, Field(description="The device's place, if any."))
        out[f.name] = (narrower.get(f.name, hints[f.name]), ...)
    return out


Alert = create_model(
    "Alert",
    __config__=_example(ALERT_EXAMPLE),
    __doc__="An alert: what was seen where, how bad, and where it stands (open → "
    "acknowledged/assigned → resolved or false_alarm).",
    **_alert_fields(),
)


class AlertEvent(BaseModel):
    at: dt.datetime
    action: str
    note: str | None


class AlertDetail(Alert):
    """An alert with its history, oldest step first."""

    model_config = _example({**ALERT_EXAMPLE, "events": [
        {"at": "2025-06-01T14:05:00+07:00", "action": "opened", "note": None},
        {"at": "2025-06-01T14:09:30+07:00", "action": "acknowledged", "note": "đã báo xã"},
    ]})
    events: list[AlertEvent]


# -- camera incidents -------------------------------------------------------------------------
class Incident(BaseModel):
    model_config = _example({
        "source": "ioc", "event_id": "cam-lc-cho-01-20250601-0007",
        "device_id": "cam-lc-cho-01", "unit_id": "02647", "label": "fire",
        "phase": "end", "started_at": "2025-06-01T08:02:11+07:00",
        "last_update": "2025-06-01T08:09:40+07:00", "ended_at": "2025-06-01T08:09:40+07:00",
        "confidence": 0.91, "top_confidence": 0.91, "zones": ["cho_coc_leu"], "plate": None,
        "plate_confidence": None,
        "snapshot_sha256": "9f2c1e4b7a5d3c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70",
        "snapshot_url": None, "false_positive": False, "queue_priority": 90,
        "queue_rule": "fire", "watchlist_hit": False,
    })
    source: Literal["ioc", "frigate"]
    event_id: str
    device_id: str
    unit_id: str | None
    label: str
    phase: Literal["new", "update", "end"]
    started_at: dt.datetime
    last_update: dt.datetime
    ended_at: dt.datetime | None
    confidence: float | None
    top_confidence: float | None
    zones: list[str]
    plate: str | None
    plate_confidence: float | None
    snapshot_sha256: str | None
    snapshot_url: str | None
    false_positive: bool
    queue_priority: int | None
    queue_rule: str | None
    watchlist_hit: bool


# -- KPIs -------------------------------------------------------------------------------------
class Kpi(BaseModel):
    model_config = _example({
        "id": "egov_services_full_pct", "group": "egov",
        "name_vi": "Tỷ lệ dịch vụ công trực tuyến toàn trình",
        "name_en": "Full online public services", "unit": "%", "source": "reported",
        "higher_is_better": True, "target": 80.0, "tolerance": 10.0, "due": "2025-12-31",
        "target_basis": "plan", "baseline_value": None, "baseline_date": None, "units": False,
        "periods": ["year"],
    })
    id: str
    group: str
    name_vi: str
    name_en: str | None
    unit: str
    source: Literal["telemetry", "reported"]
    higher_is_better: bool
    target: float | None
    tolerance: float
    due: dt.date | None
    target_basis: str | None
    baseline_value: float | None
    baseline_date: dt.date | None
    units: bool
    periods: list[str]


class KpiValue(BaseModel):
    model_config = _example({
        "kpi_id": "egov_services_full_pct", "unit_id": None, "breakdown": None,
        "period": "year", "period_start": "2020-01-01", "value": 37.0, "numerator": 753.0,
        "denominator": 2018.0,
        "note": "753 of 2,018 procedures at level 4 (2020); reported as 37% (the counts give "
        "37.3%)",
        "source": "api:so-tttt", "updated_at": "2025-06-01T02:00:00+00:00", "target": 80.0,
        "goal": 80.0, "status": "bad",
    })
    kpi_id: str
    unit_id: str | None = Field(description="null: the whole province.")
    breakdown: str | None
    period: Period
    period_start: dt.date
    value: float | None
    numerator: float | None
    denominator: float | None
    note: str | None
    source: str
    updated_at: dt.datetime
    target: float | None
    goal: float | None = Field(description="The value due at the end of the period.")
    status: Literal["good", "warn", "bad", "info", "none"] | None


class ImportRow(BaseModel):
    kpi_id: str | None = None
    unit_id: str | None = None
    breakdown: str | None = None
    period: Period | None = None
    period_start: str | None = None
    value: float | str | None = None
    numerator: float | str | None = None
    denominator: float | str | None = None
    note: str | None = None
    as_reported: bool | str | None = Field(
        None, description="true: keep the reported value although the counts give another; "
        "the note must say why.")


class ImportRows(BaseModel):
    """KPI figures to store (CSV: the same columns, one row per line)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"rows": [
        {"kpi_id": "egov_services_full_pct", "period": "year", "period_start": "2024",
         "value": 62.5}]}})
    rows: list[ImportRow]


# -- layers and NGSI-LD -----------------------------------------------------------------------
class LayerSummary(BaseModel):
    model_config = _example({
        "layer": "units", "kind": "polygons", "features": 99, "approximate": False,
        "source": "Quyết định 1714/QĐ-UBND", "updated_at": "2025-07-01T00:00:00+00:00",
        "href": "https://ioc.laocai.example/api/v1/layers/units",
    })
    layer: str
    kind: str
    features: int
    approximate: bool
    source: str | None
    updated_at: dt.datetime
    href: str


class Feature(BaseModel):
    type: Literal["Feature"]
    id: str
    properties: dict[str, Any]
    geometry: dict[str, Any]


class FeatureCollection(BaseModel):
    model_config = _example({"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "08107", "properties": {"name": "Phường Sa Pa"},
        "geometry": POINT_EXAMPLE}]})
    type: Literal["FeatureCollection"]
    features: list[Feature]


class Entity(BaseModel):
    """An NGSI-LD entity (normalised, or simplified with options=keyValues)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "id": "urn:ngsi-ld:FloodMonitoring:wl-sapa-01", "type": "FloodMonitoring",
        "name": "Trạm thủy văn suối Mường Hoa", "location": POINT_EXAMPLE,
        "areaServed": "03006", "currentLevel": 82.3, "stationID": "wl-sapa-01",
        "alertLevel": 80.0, "dangerLevel": 83.5,
        "alarmLevels": {"I": 80.0, "II": 82.0, "III": 83.5},
        "floodLevelStatus": "alarmLevelII", "observationDateTime": "2025-06-01T09:40:00Z",
    }})
    id: str = Field(pattern="^urn:ngsi-ld:")
    type: Literal["AirQualityObserved", "WeatherObserved", "FloodMonitoring", "Alert"]


# -- pages of rows ----------------------------------------------------------------------------
class DevicePage(Page[Device]):
    pass


class LatestPage(Page[LatestValue]):
    pass


class AlertPage(Page[Alert]):
    pass


class IncidentPage(Page[Incident]):
    pass


class KpiPage(Page[Kpi]):
    pass


class KpiValuePage(Page[KpiValue]):
    pass


class LayerPage(Page[LayerSummary]):
    pass


# -- rows as the models say -------------------------------------------------------------------
def csv_columns(model: type[BaseModel]) -> tuple[str, ...]:
    """A model's fields as CSV columns: a `location` point becomes `lon`, `lat` in its place."""
    out: list[str] = []
    for name in model.model_fields:
        out += ["lon", "lat"] if name == "location" else [name]
    return tuple(out)


def _kind(annotation: object) -> object:
    """The non-null type of a field (`float | None` -> float)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _converter(annotation: object):
    kind = _kind(annotation)
    if kind is dt.datetime:
        return lambda v, zone: fmt_time(v, zone)
    if kind is dt.date:
        return lambda v, zone: fmt_date(v)
    if kind is float:
        return lambda v, zone: num(v)
    if typing.get_origin(kind) is list:
        return lambda v, zone: list(v or [])
    return None


def row_writer(model: type[BaseModel]):
    """A function (row, zone) -> the JSON object of `model` for a database row (a mapping or
    an object with attributes): times in `zone`, numbers as JSON numbers, the location
    point from the row's `lon` and `lat`."""
    plan = []
    for name, info in model.model_fields.items():
        if name == "location":
            plan.append((name, "location", None))
        else:
            plan.append((name, name, _converter(info.annotation)))

    def write(row, zone: dt.tzinfo) -> dict:
        get = row.__getitem__ if isinstance(row, typing.Mapping) else row.__getattribute__
        out = {}
        for name, source, convert in plan:
            if source == "location":
                lon, lat = get("lon"), get("lat")
                out[name] = None if lon is None or lat is None else {
                    "type": "Point", "coordinates": [lon, lat]}
            else:
                value = get(source)
                out[name] = convert(value, zone) if convert is not None else value
        return out

    return write
