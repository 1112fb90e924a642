"""The OpenAPI 3.1 document of /api/v1, written as data (served at /api/v1/openapi.json).

Every operation has an example response. tests/unit/test_api_openapi.py keeps this document
and the code in step: each route is documented, each documented parameter is one the
endpoint's query model accepts (and the other way round), each operation has an example.
"""

from __future__ import annotations

import copy
import functools

VERSION = "1.0.0"

# -- parameters -------------------------------------------------------------------------------
IDENT = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
METRIC = "^[a-z][a-z0-9_]{0,63}$"
ENTITY_ID = (
    "^urn:ngsi-ld:(AirQualityObserved|WeatherObserved|FloodMonitoring|Alert)"
    ":[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
)
FAMILIES = ["environment", "disaster", "camera", "tourism"]


def _q(name: str, schema: dict, description: str, example=None, *, required: bool = False):
    param = {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }
    if schema.get("type") == "array":
        param["style"] = "form"
        param["explode"] = True
    if example is not None:
        param["example"] = example
    return param


def _many(
    name: str,
    items: dict,
    max_items: int,
    description: str,
    example=None,
    *,
    required: bool = False,
) -> dict:
    schema = {"type": "array", "items": items, "maxItems": max_items}
    if required:
        schema["minItems"] = 1
    text = description + " Several values: repeat the parameter or separate them with commas."
    return _q(name, schema, text, example, required=required)


def _path(name: str, schema: dict, description: str, example) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
        "example": example,
    }


def _limit(default: int, maximum: int, what: str = "rows") -> dict:
    return _q(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        f"Page size ({what} per page).",
        default,
    )


CURSOR = _q(
    "cursor",
    {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,2000}$"},
    "Opaque cursor from `next_cursor` of the previous page (or the `Link: rel=next` header). "
    "Repeat the same filters; only limit, format and tz may change between pages.",
)
FORMAT = _q(
    "format",
    {"type": "string", "enum": ["json", "csv"]},
    "Output format; without it, `Accept: text/csv` selects CSV. JSON by default.",
)
TZ = _q(
    "tz",
    {"type": "string", "default": "UTC"},
    "IANA time zone for the times in the answer (UTC by default, written +00:00).",
    "Asia/Ho_Chi_Minh",
)
START = _q(
    "start",
    {"type": "string", "format": "date-time"},
    "Start of the time range (inclusive), ISO 8601 with an offset.",
    "2025-06-01T00:00:00+07:00",
)
END = _q(
    "end",
    {"type": "string", "format": "date-time"},
    "End of the time range (exclusive), ISO 8601 with an offset.",
    "2025-06-02T00:00:00+07:00",
)
FAMILY = _many("family", {"type": "string", "enum": FAMILIES}, 4, "Device family.", ["environment"])
UNIT = _many(
    "unit_id",
    {"type": "string", "pattern": IDENT},
    50,
    "Administrative unit (commune or ward): its official code. Deprecated alias: `district` "
    "(read as unit_id; the district level no longer exists since 1 July 2025).",
    ["03006"],
)
KIND = _many(
    "kind",
    {"type": "string", "pattern": IDENT},
    50,
    "Device kind (air_quality, weather, rain_gauge, water_level, landslide, camera, "
    "visitor_counter, accommodation, ...).",
    ["water_level"],
)


# -- schemas ----------------------------------------------------------------------------------
def _nullable(schema: dict) -> dict:
    out = copy.deepcopy(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif "$ref" in out:
        return {"anyOf": [out, {"type": "null"}]}
    return out


TIME = {"type": "string", "format": "date-time"}
NUMBER = {"type": "number"}
TEXT = {"type": "string"}


def _page_of(item_ref: str) -> dict:
    return {
        "type": "object",
        "required": ["data", "next_cursor", "links"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": item_ref}},
            "next_cursor": _nullable(TEXT),
            "links": {"$ref": "#/components/schemas/Links"},
        },
    }


SCHEMAS: dict[str, dict] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["parameter", "reason"],
                    "properties": {"parameter": TEXT, "reason": TEXT},
                },
            },
            "report": {"$ref": "#/components/schemas/ImportReport"},
        },
    },
    "Links": {
        "type": "object",
        "required": ["self", "next"],
        "properties": {"self": TEXT, "next": _nullable(TEXT)},
    },
    "Point": {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"const": "Point"},
            "coordinates": {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 3},
        },
    },
    "Device": {
        "type": "object",
        "required": [
            "device_id",
            "name",
            "family",
            "kind",
            "unit_id",
            "location",
            "expected_interval_s",
            "enabled",
            "created_at",
            "updated_at",
            "metadata",
        ],
        "properties": {
            "device_id": TEXT,
            "name": TEXT,
            "family": {"type": "string", "enum": FAMILIES},
            "kind": TEXT,
            "unit_id": _nullable(TEXT),
            "location": _nullable({"$ref": "#/components/schemas/Point"}),
            "expected_interval_s": {"type": "integer"},
            "enabled": {"type": "boolean"},
            "created_at": TIME,
            "updated_at": TIME,
            "metadata": {"type": "object"},
        },
    },
    "DevicePage": _page_of("#/components/schemas/Device"),
    "Reading": {
        "type": "object",
        "description": "One raw reading (bucket=raw).",
        "required": ["time", "device_id", "metric", "value", "value_text", "unit"],
        "properties": {
            "time": TIME,
            "device_id": TEXT,
            "metric": TEXT,
            "value": _nullable(NUMBER),
            "value_text": _nullable(TEXT),
            "unit": _nullable(TEXT),
        },
    },
    "Aggregate": {
        "type": "object",
        "description": "One bucket of readings (bucket=5min..day): count, mean, min, max, "
        "sum and the last value in the bucket.",
        "required": [
            "time",
            "device_id",
            "metric",
            "bucket",
            "count",
            "mean",
            "min",
            "max",
            "sum",
            "last",
        ],
        "properties": {
            "time": {**TIME, "description": "Start of the bucket."},
            "device_id": TEXT,
            "metric": TEXT,
            "bucket": {"type": "string", "enum": ["5min", "15min", "30min", "hour", "day"]},
            "count": {"type": "integer"},
            "mean": _nullable(NUMBER),
            "min": _nullable(NUMBER),
            "max": _nullable(NUMBER),
            "sum": _nullable(NUMBER),
            "last": _nullable(NUMBER),
        },
    },
    "ReadingPage": {
        "type": "object",
        "required": ["data", "next_cursor", "links"],
        "properties": {
            "data": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/Reading"},
                        {"$ref": "#/components/schemas/Aggregate"},
                    ]
                },
            },
            "next_cursor": _nullable(TEXT),
            "links": {"$ref": "#/components/schemas/Links"},
        },
    },
    "LatestValue": {
        "type": "object",
        "required": ["device_id", "metric", "value", "time"],
        "properties": {
            "device_id": TEXT,
            "metric": TEXT,
            "value": {"type": ["number", "string", "null"]},
            "time": TIME,
        },
    },
    "LatestPage": _page_of("#/components/schemas/LatestValue"),
    "Alert": {
        "type": "object",
        "required": [
            "id",
            "rule_id",
            "subject",
            "kind",
            "family",
            "severity",
            "status",
            "title",
            "unit_id",
            "device_id",
            "opened_at",
            "location",
        ],
        "properties": {
            "id": {"type": "integer"},
            "rule_id": TEXT,
            "subject": TEXT,
            "kind": TEXT,
            "family": _nullable(TEXT),
            "severity": {
                "type": "string",
                "enum": ["info", "minor", "moderate", "severe", "extreme"],
            },
            "status": {
                "type": "string",
                "enum": ["open", "acknowledged", "assigned", "resolved", "false_alarm"],
            },
            "title": TEXT,
            "unit_id": _nullable(TEXT),
            "device_id": _nullable(TEXT),
            "parent_id": _nullable({"type": "integer"}),
            "count": {"type": "integer"},
            "first_value": _nullable(NUMBER),
            "last_value": _nullable(NUMBER),
            "peak_value": _nullable(NUMBER),
            "opened_at": TIME,
            "last_seen_at": TIME,
            "acknowledged_at": _nullable(TIME),
            "resolved_at": _nullable(TIME),
            "escalated_at": _nullable(TIME),
            "location": _nullable({"$ref": "#/components/schemas/Point"}),
            "details": {"type": "object"},
        },
    },
    "AlertPage": _page_of("#/components/schemas/Alert"),
    "AlertDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Alert"},
            {
                "type": "object",
                "required": ["events"],
                "properties": {
                    "events": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["at", "action", "note"],
                            "properties": {"at": TIME, "action": TEXT, "note": _nullable(TEXT)},
                        },
                    }
                },
            },
        ]
    },
    "Incident": {
        "type": "object",
        "required": [
            "source",
            "event_id",
            "device_id",
            "label",
            "phase",
            "started_at",
            "last_update",
            "ended_at",
        ],
        "properties": {
            "source": {"type": "string", "enum": ["ioc", "frigate"]},
            "event_id": TEXT,
            "device_id": TEXT,
            "unit_id": _nullable(TEXT),
            "label": TEXT,
            "phase": {"type": "string", "enum": ["new", "update", "end"]},
            "started_at": TIME,
            "last_update": TIME,
            "ended_at": _nullable(TIME),
            "confidence": _nullable(NUMBER),
            "top_confidence": _nullable(NUMBER),
            "zones": {"type": "array", "items": TEXT},
            "plate": _nullable(TEXT),
            "plate_confidence": _nullable(NUMBER),
            "snapshot_sha256": _nullable(TEXT),
            "snapshot_url": _nullable(TEXT),
            "false_positive": {"type": "boolean"},
            "queue_priority": _nullable({"type": "integer"}),
            "queue_rule": _nullable(TEXT),
            "watchlist_hit": {"type": "boolean"},
        },
    },
    "IncidentPage": _page_of("#/components/schemas/Incident"),
    "Kpi": {
        "type": "object",
        "required": [
            "id",
            "group",
            "name_vi",
            "name_en",
            "unit",
            "source",
            "higher_is_better",
            "target",
            "due",
            "periods",
        ],
        "properties": {
            "id": TEXT,
            "group": TEXT,
            "name_vi": TEXT,
            "name_en": TEXT,
            "unit": TEXT,
            "source": {"type": "string", "enum": ["telemetry", "reported"]},
            "higher_is_better": {"type": "boolean"},
            "target": _nullable(NUMBER),
            "tolerance": NUMBER,
            "due": _nullable({"type": "string", "format": "date"}),
            "target_basis": _nullable(TEXT),
            "baseline_value": _nullable(NUMBER),
            "baseline_date": _nullable({"type": "string", "format": "date"}),
            "units": {"type": "boolean"},
            "periods": {"type": "array", "items": TEXT},
        },
    },
    "KpiPage": _page_of("#/components/schemas/Kpi"),
    "KpiValue": {
        "type": "object",
        "required": [
            "kpi_id",
            "unit_id",
            "breakdown",
            "period",
            "period_start",
            "value",
            "source",
            "updated_at",
            "target",
            "goal",
            "status",
        ],
        "properties": {
            "kpi_id": TEXT,
            "unit_id": _nullable({**TEXT, "description": "null: the whole province."}),
            "breakdown": _nullable(TEXT),
            "period": {"type": "string", "enum": ["day", "week", "month", "quarter", "year"]},
            "period_start": {"type": "string", "format": "date"},
            "value": _nullable(NUMBER),
            "numerator": _nullable(NUMBER),
            "denominator": _nullable(NUMBER),
            "note": _nullable(TEXT),
            "source": TEXT,
            "updated_at": TIME,
            "target": _nullable(NUMBER),
            "goal": _nullable({**NUMBER, "description": "The value due at the end of the period."}),
            "status": _nullable(
                {"type": "string", "enum": ["good", "warn", "bad", "info", "none"]}
            ),
        },
    },
    "KpiValuePage": _page_of("#/components/schemas/KpiValue"),
    "ImportRows": {
        "type": "object",
        "required": ["rows"],
        "additionalProperties": False,
        "properties": {
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kpi_id": TEXT,
                        "unit_id": TEXT,
                        "breakdown": TEXT,
                        "period": {
                            "type": "string",
                            "enum": ["day", "week", "month", "quarter", "year"],
                        },
                        "period_start": TEXT,
                        "value": {"type": ["number", "string"]},
                        "numerator": {"type": ["number", "string"]},
                        "denominator": {"type": ["number", "string"]},
                        "note": TEXT,
                        "as_reported": {
                            "type": ["boolean", "string"],
                            "description": "true: keep the reported value although the counts "
                            "give another; the note must say why.",
                        },
                    },
                },
            }
        },
    },
    "ImportReport": {
        "type": "object",
        "required": ["source", "ok", "rows", "stored", "kpis", "problems", "dry_run"],
        "properties": {
            "source": TEXT,
            "ok": {"type": "boolean"},
            "rows": {"type": "integer"},
            "stored": {"type": "integer"},
            "kpis": {"type": "array", "items": TEXT},
            "problems": {"type": "array", "items": {"type": "object"}},
            "dry_run": {"type": "boolean"},
        },
    },
    "LayerSummary": {
        "type": "object",
        "required": ["layer", "kind", "features", "approximate", "source", "updated_at", "href"],
        "properties": {
            "layer": TEXT,
            "kind": TEXT,
            "features": {"type": "integer"},
            "approximate": {"type": "boolean"},
            "source": _nullable(TEXT),
            "updated_at": TIME,
            "href": TEXT,
        },
    },
    "LayerPage": _page_of("#/components/schemas/LayerSummary"),
    "FeatureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "id", "properties", "geometry"],
                    "properties": {
                        "type": {"const": "Feature"},
                        "id": TEXT,
                        "properties": {"type": "object"},
                        "geometry": {"type": "object"},
                    },
                },
            },
        },
    },
    "Entity": {
        "type": "object",
        "description": "An NGSI-LD entity (normalised, or simplified with options=keyValues).",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "string", "pattern": "^urn:ngsi-ld:"},
            "type": {
                "type": "string",
                "enum": ["AirQualityObserved", "WeatherObserved", "FloodMonitoring", "Alert"],
            },
            "@context": {"type": "array", "items": TEXT},
        },
    },
}


# -- examples ---------------------------------------------------------------------------------
def _links(path: str, nxt: str | None = None) -> dict:
    base = "https://ioc.laocai.example/api/v1"
    return {"self": base + path, "next": base + nxt if nxt else None}


DEVICE_EXAMPLE = {
    "device_id": "wl-sapa-01",
    "name": "Trạm thủy văn suối Mường Hoa",
    "family": "disaster",
    "kind": "water_level",
    "unit_id": "03006",
    "location": {"type": "Point", "coordinates": [103.8612, 22.3121]},
    "expected_interval_s": 300,
    "enabled": True,
    "created_at": "2025-05-20T03:00:00+00:00",
    "updated_at": "2025-05-20T03:00:00+00:00",
    "metadata": {"river": "Mường Hoa", "alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}},
}
READING_EXAMPLE = {
    "time": "2025-06-01T08:00:00+07:00",
    "device_id": "aq-lc-001",
    "metric": "pm25",
    "value": 38.2,
    "value_text": None,
    "unit": "µg/m³",
}
AGGREGATE_EXAMPLE = {
    "time": "2025-06-01T00:00:00+07:00",
    "device_id": "aq-lc-001",
    "metric": "pm25",
    "bucket": "day",
    "count": 1440,
    "mean": 31.4,
    "min": 12.0,
    "max": 64.8,
    "sum": 45216.0,
    "last": 22.5,
}
ALERT_EXAMPLE = {
    "id": 412,
    "rule_id": "water_level_alarm",
    "subject": "wl-sapa-01",
    "kind": "water_level",
    "family": "disaster",
    "severity": "severe",
    "status": "acknowledged",
    "title": "Mực nước suối Mường Hoa vượt báo động II",
    "unit_id": "03006",
    "device_id": "wl-sapa-01",
    "parent_id": None,
    "count": 14,
    "first_value": 80.2,
    "last_value": 82.3,
    "peak_value": 82.6,
    "opened_at": "2025-06-01T14:05:00+07:00",
    "last_seen_at": "2025-06-01T16:40:00+07:00",
    "acknowledged_at": "2025-06-01T14:09:30+07:00",
    "resolved_at": None,
    "escalated_at": None,
    "location": {"type": "Point", "coordinates": [103.8612, 22.3121]},
    "details": {"level": 2},
}
INCIDENT_EXAMPLE = {
    "source": "ioc",
    "event_id": "cam-lc-cho-01-20250601-0007",
    "device_id": "cam-lc-cho-01",
    "unit_id": "02647",
    "label": "fire",
    "phase": "end",
    "started_at": "2025-06-01T08:02:11+07:00",
    "last_update": "2025-06-01T08:09:40+07:00",
    "ended_at": "2025-06-01T08:09:40+07:00",
    "confidence": 0.91,
    "top_confidence": 0.91,
    "zones": ["cho_coc_leu"],
    "plate": None,
    "plate_confidence": None,
    "snapshot_sha256": "9f2c1e4b7a5d3c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70",
    "snapshot_url": None,
    "false_positive": False,
    "queue_priority": 90,
    "queue_rule": "fire",
    "watchlist_hit": False,
}
KPI_EXAMPLE = {
    "id": "egov_services_full_pct",
    "group": "egov",
    "name_vi": "Tỷ lệ dịch vụ công trực tuyến toàn trình",
    "name_en": "Full online public services",
    "unit": "%",
    "source": "reported",
    "higher_is_better": True,
    "target": 80.0,
    "tolerance": 10.0,
    "due": "2025-12-31",
    "target_basis": "plan",
    "baseline_value": None,
    "baseline_date": None,
    "units": False,
    "periods": ["year"],
}
KPI_VALUE_EXAMPLE = {
    "kpi_id": "egov_services_full_pct",
    "unit_id": None,
    "breakdown": None,
    "period": "year",
    "period_start": "2020-01-01",
    "value": 37.0,
    "numerator": 753.0,
    "denominator": 2018.0,
    "note": "753 of 2,018 procedures at level 4 (2020); reported as 37% (the counts give 37.3%)",
    "source": "api:so-tttt",
    "updated_at": "2025-06-01T02:00:00+00:00",
    "target": 80.0,
    "goal": 80.0,
    "status": "bad",
}
IMPORT_EXAMPLE = {
    "source": "api:so-tttt:bao-cao-2024",
    "ok": True,
    "rows": 1,
    "stored": 1,
    "kpis": ["egov_services_full_pct"],
    "problems": [],
    "dry_run": False,
}
CAP_FEED_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom">'
    "<id>urn:ioc:cap:ioc@laocai.gov.vn</id><title>Cảnh báo công cộng</title>"
    "<updated>2025-06-01T07:05:00+00:00</updated>"
    "<entry><id>urn:ioc:cap:ioc@laocai.gov.vn:ioc-412-1</id>"
    "<title>Mực nước suối Mường Hoa vượt báo động II</title>"
    "<updated>2025-06-01T07:05:00+00:00</updated>"
    '<content type="application/cap+xml">'
    '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">...</alert></content></entry></feed>'
)
PROBLEM_EXAMPLE = {
    "type": "urn:ioc:problem:invalid-parameter",
    "title": "Invalid parameter",
    "status": 400,
    "detail": "end: the range is 45.0 days; at most 31 days for bucket=raw; split the range "
    "or use a wider bucket",
    "instance": "/api/v1/readings",
    "errors": [
        {
            "parameter": "end",
            "reason": "the range is 45.0 days; at most 31 days for bucket=raw; split the "
            "range or use a wider bucket",
        }
    ],
}
AQ_ENTITY_EXAMPLE = {
    "id": "urn:ngsi-ld:AirQualityObserved:aq-lc-001",
    "type": "AirQualityObserved",
    "name": {"type": "Property", "value": "Trạm quan trắc không khí Phường Lào Cai"},
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [103.9707, 22.4856]},
    },
    "areaServed": {"type": "Property", "value": "02647"},
    "pm25": {
        "type": "Property",
        "value": 38.2,
        "observedAt": "2025-06-01T01:00:00Z",
        "unitCode": "GQ",
    },
    "relativeHumidity": {"type": "Property", "value": 0.83, "observedAt": "2025-06-01T01:00:00Z"},
    "airQualityIndex": {"type": "Property", "value": 76, "observedAt": "2025-06-01T01:00:00Z"},
    "airQualityLevel": {
        "type": "Property",
        "value": "moderate",
        "observedAt": "2025-06-01T01:00:00Z",
    },
    "dateObserved": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2025-06-01T01:00:00Z"},
    },
}
FLOOD_ENTITY_EXAMPLE = {
    "id": "urn:ngsi-ld:FloodMonitoring:wl-sapa-01",
    "type": "FloodMonitoring",
    "name": "Trạm thủy văn suối Mường Hoa",
    "location": {"type": "Point", "coordinates": [103.8612, 22.3121]},
    "areaServed": "03006",
    "currentLevel": 82.3,
    "stationID": "wl-sapa-01",
    "alertLevel": 80.0,
    "dangerLevel": 83.5,
    "alarmLevels": {"I": 80.0, "II": 82.0, "III": 83.5},
    "floodLevelStatus": "alarmLevelII",
    "observationDateTime": "2025-06-01T09:40:00Z",
}


def _json(schema_ref: str, example, *, csv: bool = False) -> dict:
    content = {
        "application/json": {
            "schema": {"$ref": schema_ref},
            "example": example,
        }
    }
    if csv:
        content["text/csv"] = {
            "schema": {"type": "string"},
            "example": "(the same rows as CSV: a header line, then one line per row)\r\n",
        }
    return content


def _errors(*codes: int) -> dict:
    texts = {
        400: "A parameter is unknown, repeated, malformed or out of range; `detail` and "
        "`errors` name each one and say why.",
        401: "No bearer token, or one that is unknown, expired or revoked.",
        403: "The token lacks the scope this operation needs.",
        404: "No such resource.",
        413: "The body is larger than 10 MiB.",
        415: "The body is neither application/json nor text/csv.",
        422: "Some rows were rejected; nothing was stored. `errors` and `report` list them.",
        501: "Not available on this server yet.",
        503: "The database or the live store is unreachable, or the query took too long.",
    }
    out = {}
    for code in codes:
        example = (
            PROBLEM_EXAMPLE
            if code == 400
            else {
                "type": "about:blank",
                "title": texts[code].split(";")[0],
                "status": code,
                "detail": texts[code],
            }
        )
        out[str(code)] = {
            "description": texts[code],
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": example,
                }
            },
        }
    return out


READ_ERRORS = (400, 401, 403, 503)


def _op(
    op_id: str,
    summary: str,
    scope: str | None,
    parameters: list,
    responses: dict,
    description: str = "",
    tags: tuple[str, ...] = (),
    *,
    public: bool = False,
) -> dict:
    """One operation; `scope` is the token scope it needs (None: it depends on a parameter)."""
    op = {
        "operationId": op_id,
        "summary": summary,
        "description": description + (f"\n\nNeeds the token scope `{scope}`." if scope else ""),
        "tags": list(tags),
        "parameters": parameters,
        "responses": responses,
    }
    if public:
        op["security"] = []
    elif scope is not None:
        op["x-required-scope"] = scope
    return op


def _paths() -> dict:
    ok = "OK"
    return {
        "/openapi.json": {
            "get": _op(
                "getOpenApi",
                "This document",
                None,
                [],
                {
                    "200": {
                        "description": ok,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object"},
                                "example": {
                                    "openapi": "3.1.0",
                                    "info": {"title": "IOC open data API"},
                                },
                            }
                        },
                    },
                    **_errors(400),
                },
                "The OpenAPI 3.1 document of the API. Public (no token).",
                ("meta",),
                public=True,
            )
        },
        "/devices": {
            "get": _op(
                "listDevices",
                "Devices with location and unit_id",
                "devices:read",
                [
                    FAMILY,
                    KIND,
                    UNIT,
                    _q(
                        "enabled",
                        {"type": "boolean"},
                        "Only enabled (true) or disabled devices.",
                        True,
                    ),
                    _limit(100, 1000, "devices"),
                    CURSOR,
                    FORMAT,
                    TZ,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/DevicePage",
                            {
                                "data": [DEVICE_EXAMPLE],
                                "next_cursor": None,
                                "links": _links("/devices?family=disaster"),
                            },
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "The device registry, ordered by device id.",
                ("devices",),
            )
        },
        "/devices/{device_id}": {
            "get": _op(
                "getDevice",
                "One device",
                "devices:read",
                [
                    _path(
                        "device_id",
                        {"type": "string", "pattern": IDENT},
                        "Device id.",
                        "wl-sapa-01",
                    ),
                    TZ,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json("#/components/schemas/Device", DEVICE_EXAMPLE),
                    },
                    **_errors(*READ_ERRORS, 404),
                },
                tags=("devices",),
            )
        },
        "/readings": {
            "get": _op(
                "listReadings",
                "Readings of devices over a time range, raw or aggregated",
                "readings:read",
                [
                    _many(
                        "device_id",
                        {"type": "string", "pattern": IDENT},
                        50,
                        "Device id(s).",
                        ["aq-lc-001"],
                        required=True,
                    ),
                    _many(
                        "metric",
                        {"type": "string", "pattern": METRIC},
                        50,
                        "Metric name(s); all metrics when absent.",
                        ["pm25"],
                    ),
                    {**START, "required": True},
                    _q(
                        "end",
                        END["schema"],
                        "End of the time range (exclusive), ISO 8601 "
                        "with an offset; now when absent.",
                        END["example"],
                    ),
                    _q(
                        "bucket",
                        {
                            "type": "string",
                            "default": "raw",
                            "enum": ["raw", "5min", "15min", "30min", "hour", "day"],
                        },
                        "raw: every reading (range ≤ 31 days); 5min/15min/30min: aggregated "
                        "from raw readings (range ≤ 7 days); hour: from the hourly rollups "
                        "(≤ 400 days); day: local days of `tz` (≤ 3660 days).",
                        "hour",
                    ),
                    _limit(1000, 10000),
                    CURSOR,
                    FORMAT,
                    TZ,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/ReadingPage",
                            {
                                "data": [READING_EXAMPLE],
                                "next_cursor": "eyJmIjoiNGQ...",
                                "links": _links(
                                    "/readings?device_id=aq-lc-001&start=...",
                                    "/readings?device_id=aq-lc-001&start=...&cursor=eyJmIjoiNGQ...",
                                ),
                            },
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "Rows are ordered by device, metric and time. Aggregates cover whole buckets "
                "whose start lies in [start, end); `time` is the bucket's start.",
                ("readings",),
            )
        },
        "/latest": {
            "get": _op(
                "listLatest",
                "Latest value of each metric of each device",
                "readings:read",
                [
                    _many(
                        "device_id",
                        {"type": "string", "pattern": IDENT},
                        200,
                        "Device id(s).",
                        ["wl-sapa-01"],
                    ),
                    FAMILY,
                    KIND,
                    UNIT,
                    _many(
                        "metric",
                        {"type": "string", "pattern": METRIC},
                        50,
                        "Metric name(s).",
                        ["water_level_m"],
                    ),
                    _limit(100, 500, "devices"),
                    CURSOR,
                    FORMAT,
                    TZ,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/LatestPage",
                            {
                                "data": [
                                    {
                                        "device_id": "wl-sapa-01",
                                        "metric": "water_level_m",
                                        "value": 82.3,
                                        "time": "2025-06-01T16:40:00+07:00",
                                    }
                                ],
                                "next_cursor": None,
                                "links": _links("/latest?device_id=wl-sapa-01"),
                            },
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "From the live store. Pages go over devices (`limit` devices per page).",
                ("readings",),
            )
        },
        "/alerts": {
            "get": _op(
                "listAlerts",
                "Alerts, newest first",
                "alerts:read",
                [
                    _many(
                        "status",
                        {
                            "type": "string",
                            "enum": [
                                "open",
                                "acknowledged",
                                "assigned",
                                "resolved",
                                "false_alarm",
                                "active",
                            ],
                        },
                        6,
                        "Status (active = open, acknowledged or assigned).",
                        ["active"],
                    ),
                    _many(
                        "severity",
                        {
                            "type": "string",
                            "enum": ["info", "minor", "moderate", "severe", "extreme"],
                        },
                        5,
                        "Severity.",
                        ["severe", "extreme"],
                    ),
                    FAMILY,
                    UNIT,
                    _many(
                        "device_id",
                        {"type": "string", "pattern": IDENT},
                        50,
                        "Device id.",
                        ["wl-sapa-01"],
                    ),
                    _many(
                        "rule_id",
                        {"type": "string", "pattern": IDENT},
                        20,
                        "Rule id.",
                        ["water_level_alarm"],
                    ),
                    _many(
                        "kind",
                        {"type": "string", "pattern": IDENT},
                        20,
                        "Alert kind (water_level, landslide, air_quality, crowd, fire, ...).",
                        ["water_level"],
                    ),
                    _q(
                        "top_level",
                        {"type": "boolean"},
                        "true: leave out alerts grouped under a storm parent (reach them "
                        "through `parent_id`); false: only those.",
                        True,
                    ),
                    _q(
                        "start",
                        START["schema"],
                        "Alerts still active at or after this time.",
                        START["example"],
                    ),
                    _q("end", END["schema"], "Alerts opened before this time.", END["example"]),
                    _limit(100, 1000, "alerts"),
                    CURSOR,
                    FORMAT,
                    TZ,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/AlertPage",
                            {
                                "data": [ALERT_EXAMPLE],
                                "next_cursor": None,
                                "links": _links("/alerts?status=active"),
                            },
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "Camera alerts (family camera) are listed only for tokens that also hold "
                "`incidents:read`.",
                ("alerts",),
            )
        },
        "/alerts/{alert_id}": {
            "get": _op(
                "getAlert",
                "One alert with its history",
                "alerts:read",
                [_path("alert_id", {"type": "integer", "minimum": 0}, "Alert id.", 412), TZ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/AlertDetail",
                            {
                                **ALERT_EXAMPLE,
                                "events": [
                                    {
                                        "at": "2025-06-01T14:05:00+07:00",
                                        "action": "opened",
                                        "note": None,
                                    },
                                    {
                                        "at": "2025-06-01T14:09:30+07:00",
                                        "action": "acknowledged",
                                        "note": "Đã báo UBND xã",
                                    },
                                ],
                            },
                        ),
                    },
                    **_errors(*READ_ERRORS, 404),
                },
                tags=("alerts",),
            )
        },
        "/cap.xml": {
            "get": _op(
                "getCapFeed",
                "CAP 1.2 feed of public alerts",
                "alerts:read",
                [],
                {
                    "200": {
                        "description": ok,
                        "content": {
                            "application/atom+xml": {
                                "schema": {"type": "string"},
                                "example": CAP_FEED_EXAMPLE,
                            }
                        },
                    },
                    **_errors(400, 401, 403, 501, 503),
                },
                "An Atom feed with one OASIS CAP 1.2 <alert> per open public alert (the alert "
                "rules say which are public), from the alerts engine.",
                ("alerts",),
            )
        },
        "/incidents": {
            "get": _op(
                "listIncidents",
                "Camera incidents (police)",
                "incidents:read",
                [
                    _many(
                        "device_id",
                        {"type": "string", "pattern": IDENT},
                        50,
                        "Camera id.",
                        ["cam-lc-cho-01"],
                    ),
                    _many(
                        "label",
                        {"type": "string", "pattern": IDENT},
                        20,
                        "Incident type (fire, smoke, fight, crowd, wanted_plate, ...).",
                        ["fire"],
                    ),
                    UNIT,
                    _q(
                        "source",
                        {"type": "string", "enum": ["ioc", "frigate"]},
                        "Which detector reported it.",
                        "ioc",
                    ),
                    _q(
                        "open", {"type": "boolean"}, "Only ongoing (true) or ended incidents.", True
                    ),
                    _q(
                        "watchlist_hit",
                        {"type": "boolean"},
                        "Only sightings of a plate on a live police watchlist (true), or none.",
                        True,
                    ),
                    _q(
                        "start",
                        START["schema"],
                        "Incidents updated at or after this time.",
                        START["example"],
                    ),
                    _q("end", END["schema"], "Incidents started before this time.", END["example"]),
                    _limit(100, 1000, "incidents"),
                    CURSOR,
                    FORMAT,
                    TZ,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/IncidentPage",
                            {
                                "data": [INCIDENT_EXAMPLE],
                                "next_cursor": None,
                                "links": _links("/incidents?label=fire"),
                            },
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "Most recently updated first. `queue_priority` and `queue_rule` say why an "
                "incident is in the police queue (null: an ordinary detection); "
                "`watchlist_hit` marks a sighting of a plate on a live police watchlist.",
                ("incidents",),
            )
        },
        "/snapshots/{sha256}": {
            "get": _op(
                "getSnapshot",
                "A camera snapshot (police evidence)",
                "evidence:read",
                [
                    _path(
                        "sha256",
                        {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "SHA-256 of the image.",
                        INCIDENT_EXAMPLE["snapshot_sha256"],
                    )
                ],
                {
                    "200": {
                        "description": ok,
                        "content": {
                            "image/jpeg": {
                                "schema": {"type": "string", "format": "binary"},
                                "example": "(JPEG bytes)",
                            },
                            "image/png": {
                                "schema": {"type": "string", "format": "binary"},
                                "example": "(PNG bytes)",
                            },
                        },
                    },
                    **_errors(*READ_ERRORS, 404),
                },
                "Each view is written to the audit log (evidence.view).",
                ("incidents",),
            )
        },
        "/kpis": {
            "get": _op(
                "listKpis",
                "KPI catalogue with targets",
                "kpi:read",
                [
                    _many(
                        "kpi_id",
                        {"type": "string", "pattern": IDENT},
                        50,
                        "KPI id.",
                        ["egov_services_full_pct"],
                    ),
                    FORMAT,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/KpiPage",
                            {"data": [KPI_EXAMPLE], "next_cursor": None, "links": _links("/kpis")},
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "Every KPI: what it measures, its unit, target, due date and where the target "
                "comes from.",
                ("kpis",),
            )
        },
        "/kpis/values": {
            "get": _op(
                "listKpiValues",
                "KPI values, with their target and status",
                "kpi:read",
                [
                    _many(
                        "kpi_id",
                        {"type": "string", "pattern": IDENT},
                        50,
                        "KPI id.",
                        ["egov_services_full_pct"],
                    ),
                    _many(
                        "unit_id",
                        {"type": "string", "pattern": IDENT},
                        50,
                        "Unit id; `province` for province-wide values.",
                        ["province"],
                    ),
                    _many(
                        "period",
                        {"type": "string", "enum": ["day", "week", "month", "quarter", "year"]},
                        5,
                        "Period.",
                        ["year"],
                    ),
                    _q(
                        "start",
                        {"type": "string", "format": "date"},
                        "Periods starting on or after this date.",
                        "2019-01-01",
                    ),
                    _q(
                        "end",
                        {"type": "string", "format": "date"},
                        "Periods starting before this date.",
                        "2026-01-01",
                    ),
                    _limit(100, 1000),
                    CURSOR,
                    FORMAT,
                ],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/KpiValuePage",
                            {
                                "data": [KPI_VALUE_EXAMPLE],
                                "next_cursor": None,
                                "links": _links("/kpis/values?kpi_id=egov_services_full_pct"),
                            },
                            csv=True,
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                "`goal` is the value due at the end of the period (the target, or the point "
                "on the path from the baseline); `status` compares the value with it.",
                ("kpis",),
            )
        },
        "/kpis/import": {
            "post": {
                **_op(
                    "importKpiValues",
                    "Push reported KPI figures",
                    "kpi:write",
                    [
                        _q(
                            "source",
                            {"type": "string", "pattern": IDENT},
                            "Name of the report the figures come from (kept with each value "
                            "as api:<token name>:<source>).",
                            "bao-cao-2024",
                        ),
                        _q(
                            "dry_run",
                            {"type": "boolean", "default": False},
                            "Check the rows without storing them.",
                            False,
                        ),
                    ],
                    {
                        "200": {
                            "description": "Every row was stored (or, with dry_run, would be).",
                            "content": _json("#/components/schemas/ImportReport", IMPORT_EXAMPLE),
                        },
                        **_errors(400, 401, 403, 413, 415, 422, 503),
                    },
                    "Rows are checked against the KPI catalogue; nothing is stored unless "
                    "every row is good, then all are stored in one transaction (a value for "
                    "the same KPI, unit_id, breakdown and period replaces the stored one).",
                    ("kpis",),
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ImportRows"},
                            "example": {
                                "rows": [
                                    {
                                        "kpi_id": "egov_services_full_pct",
                                        "period": "year",
                                        "period_start": "2024",
                                        "value": 62.5,
                                    }
                                ]
                            },
                        },
                        "text/csv": {
                            "schema": {"type": "string"},
                            "example": "kpi_id,unit_id,breakdown,period,period_start,value\r\n"
                            "egov_services_full_pct,,,year,2024,62.5\r\n",
                        },
                    },
                },
            }
        },
        "/layers": {
            "get": _op(
                "listLayers",
                "Map layers",
                "layers:read",
                [],
                {
                    "200": {
                        "description": ok,
                        "content": _json(
                            "#/components/schemas/LayerPage",
                            {
                                "data": [
                                    {
                                        "layer": "units",
                                        "kind": "unit_id",
                                        "features": 9,
                                        "approximate": True,
                                        "source": "ioc demo layers (lao_cai)",
                                        "updated_at": "2025-05-20T03:00:00+00:00",
                                        "href": "https://ioc.laocai.example/api/v1/layers/units",
                                    }
                                ],
                                "next_cursor": None,
                                "links": _links("/layers"),
                            },
                        ),
                    },
                    **_errors(*READ_ERRORS),
                },
                tags=("layers",),
            )
        },
        "/layers/{layer}": {
            "get": _op(
                "getLayer",
                "One map layer as GeoJSON",
                "layers:read",
                [
                    _path(
                        "layer",
                        {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
                        "Layer name.",
                        "units",
                    )
                ],
                {
                    "200": {
                        "description": ok,
                        "content": {
                            "application/geo+json": {
                                "schema": {"$ref": "#/components/schemas/FeatureCollection"},
                                "example": {
                                    "type": "FeatureCollection",
                                    "features": [
                                        {
                                            "type": "Feature",
                                            "id": "sa_pa_town",
                                            "properties": {
                                                "id": "sa_pa_town",
                                                "name": "Trung tâm phường Sa Pa",
                                                "approximate": True,
                                            },
                                            "geometry": {
                                                "type": "Point",
                                                "coordinates": [103.84, 22.34],
                                            },
                                        }
                                    ],
                                },
                            }
                        },
                    },
                    **_errors(*READ_ERRORS, 404),
                },
                tags=("layers",),
            )
        },
        "/ngsi-ld/v1/entities": {
            "get": _op(
                "listNgsiEntities",
                "FIWARE NGSI-LD entities of one type",
                None,
                [
                    _q(
                        "type",
                        {
                            "type": "string",
                            "enum": [
                                "AirQualityObserved",
                                "WeatherObserved",
                                "FloodMonitoring",
                                "Alert",
                            ],
                        },
                        "Entity type (readings:read for the observations, alerts:read for Alert).",
                        "FloodMonitoring",
                        required=True,
                    ),
                    _many(
                        "id",
                        {
                            "type": "string",
                            "pattern": "^urn:ngsi-ld:[A-Za-z]{1,40}:[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                        },
                        100,
                        "Entity id(s).",
                        ["urn:ngsi-ld:FloodMonitoring:wl-sapa-01"],
                    ),
                    _q(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
                        "Entities per page.",
                        20,
                    ),
                    _q(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": 100000, "default": 0},
                        "Entities to skip.",
                        0,
                    ),
                    _many(
                        "options",
                        {
                            "type": "string",
                            "enum": ["keyValues", "normalized", "sysAttrs", "count"],
                        },
                        4,
                        "keyValues: simplified entities; count: NGSILD-Results-Count header.",
                        ["keyValues"],
                    ),
                    _q(
                        "format",
                        {"type": "string", "enum": ["simplified", "keyValues", "normalized"]},
                        "NGSI-LD 1.8 spelling of options=keyValues.",
                        "simplified",
                    ),
                    _q(
                        "count",
                        {"type": "boolean", "default": False},
                        "Send the total in the NGSILD-Results-Count header.",
                        True,
                    ),
                ],
                {
                    "200": {
                        "description": "Entities; `@context` in the body with `Accept: "
                        "application/ld+json`, else in the `Link` header.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Entity"},
                                },
                                "example": [FLOOD_ENTITY_EXAMPLE],
                            },
                            "application/ld+json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Entity"},
                                },
                                "example": [AQ_ENTITY_EXAMPLE],
                            },
                        },
                    },
                    **_errors(*READ_ERRORS),
                },
                "Smart Data Models: AirQualityObserved, WeatherObserved, FloodMonitoring "
                "(latest values of each device) and Alert (active alerts). Needs a token with "
                "`readings:read` (observations) or `alerts:read` (Alert).",
                ("ngsi-ld",),
            )
        },
        "/ngsi-ld/v1/entities/{entity_id}": {
            "get": _op(
                "getNgsiEntity",
                "One NGSI-LD entity",
                None,
                [
                    _path(
                        "entity_id",
                        {"type": "string", "pattern": ENTITY_ID},
                        "Entity id.",
                        "urn:ngsi-ld:AirQualityObserved:aq-lc-001",
                    ),
                    _many(
                        "options",
                        {"type": "string", "enum": ["keyValues", "normalized", "sysAttrs"]},
                        3,
                        "keyValues: the simplified entity.",
                        ["keyValues"],
                    ),
                    _q(
                        "format",
                        {"type": "string", "enum": ["simplified", "keyValues", "normalized"]},
                        "NGSI-LD 1.8 spelling of options=keyValues.",
                        "normalized",
                    ),
                ],
                {
                    "200": {
                        "description": ok,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Entity"},
                                "example": AQ_ENTITY_EXAMPLE,
                            },
                            "application/ld+json": {
                                "schema": {"$ref": "#/components/schemas/Entity"},
                                "example": AQ_ENTITY_EXAMPLE,
                            },
                        },
                    },
                    **_errors(*READ_ERRORS, 404),
                },
                tags=("ngsi-ld",),
            )
        },
    }


@functools.cache
def _document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IOC open data API",
            "version": VERSION,
            "summary": "Devices, readings, alerts, incidents, KPIs and map layers of the "
            "provincial Intelligent Operations Centre.",
            "description": "JSON by default, CSV for tables (`format=csv` or `Accept: "
            "text/csv`). Tables are paged with opaque cursors (`next_cursor`, `Link: "
            "rel=next`). Times are ISO 8601 with an offset (UTC unless `tz` is given). Errors "
            "are RFC 9457 problem details naming the wrong parameter. See docs/api.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": n}
            for n in (
                "devices",
                "readings",
                "alerts",
                "incidents",
                "kpis",
                "layers",
                "ngsi-ld",
                "meta",
            )
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`ioc tokens create ...`), sent as "
                    "`Authorization: Bearer ioc_<prefix>_<secret>`.",
                }
            },
            "schemas": SCHEMAS,
        },
    }


def openapi_document() -> dict:
    """The document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
