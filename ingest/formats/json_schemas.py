"""JSON Schemas (draft 2020-12) of our JSON payloads, generated from the parsers' tables."""

# Regenerate the published copies with `python -m ingest.formats.json_schemas docs/schemas`;
# tests/unit/test_formats_docs.py fails when they drift.

from __future__ import annotations

import json
import sys
from pathlib import Path

from .identifiers import DEVICE_ID_PATTERN
from .ioc_json import EVENT_TYPES, PHASES
from .metrics import FAMILY_METRICS, MetricSpec

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://ioc.example/schemas/"
RFC3339 = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
           r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
TIME = {
    "description": "RFC 3339 date-time with offset, or Unix seconds; default: receive time. "
                   "Not before 2000-01-01, not more than max_future_s (300 s) ahead.",
    "oneOf": [
        {"type": "string", "format": "date-time", "pattern": RFC3339},
        {"type": "number", "minimum": 946684800},
    ],
}


def _metric(spec: MetricSpec) -> dict:
    return {
        "type": "integer" if spec.integer else "number",
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "description": f"{spec.description} ({spec.unit})",
    }


def family_schema(family: str) -> dict:
    metrics = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _metric(spec) for name, spec in FAMILY_METRICS[family].items()},
    }
    properties = {
        "device_id": {"type": "string", "pattern": DEVICE_ID_PATTERN,
                      "description": "Optional; must equal the device id in the topic."},
        "time": TIME,
        "seq": {"type": "integer", "minimum": 0, "description": "Sender's sequence number."},
        "metrics": metrics,
    }
    schema = {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}{family}.schema.json",
        "title": f"ioc/v1/{family}/<device_id> payload",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if family == "camera":
        properties["event"] = _event_schema()
        schema["anyOf"] = [
            {"required": ["event"]},
            {"required": ["metrics"], "properties": {"metrics": {"minProperties": 1}}},
        ]
    else:
        metrics["minProperties"] = 1
        schema["required"] = ["metrics"]
    return schema


def _event_schema() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "type", "phase"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 128,
                   "description": "Stable across the new/update/end messages of one incident."},
            "type": {"enum": list(EVENT_TYPES)},
            "phase": {"enum": list(PHASES)},
            "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "zone": {"type": ["string", "null"], "minLength": 1, "maxLength": 128},
            "plate": {"type": ["string", "null"], "minLength": 1, "maxLength": 32},
            "snapshot": {"type": ["string", "null"],
                         "pattern": r"^(sha256:[0-9a-f]{64}|https?://\S{1,2000})$"},
            "label": {"type": ["string", "null"], "minLength": 1, "maxLength": 128},
        },
    }


def senml_schema() -> dict:
    number = {"type": "number"}
    string = {"type": "string"}
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}senml.schema.json",
        "title": "ioc/v1/senml/<device_id> payload: an RFC 8428 SenML JSON pack",
        "description": "Structure only: name resolution, relative times, the device/metric "
                       "naming rule and value ranges are checked by the parser.",
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {
                "bn": string, "bt": number, "bu": {"type": "string", "minLength": 1},
                "bv": number, "bs": number,
                "bver": {"type": "integer", "minimum": 1, "maximum": 10},
                "n": {"type": "string", "pattern": r"^[A-Za-z0-9\-:./_]*$"},
                "u": {"type": "string", "minLength": 1}, "t": number, "ut": {"minimum": 0,
                                                                             "type": "number"},
                "v": number, "vs": string, "vb": {"type": "boolean"},
                "vd": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                "s": number,
            },
            # Must-understand fields end in "_"; we know none, so every such field is rejected.
            # Fields we know: KNOWN_FIELDS; other unknown fields are ignored (RFC 8428 4.4).
            "patternProperties": {"_$": False},
            "not": {"anyOf": [{"required": [a, b]} for a, b in _value_pairs()]},
        },
    }


def _value_pairs() -> list[tuple[str, str]]:
    fields = ("v", "vs", "vb", "vd")
    return [(a, b) for i, a in enumerate(fields) for b in fields[i + 1:]]


def status_schema() -> dict:
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}status.schema.json",
        "title": "ioc/v1/status/<device_id> payload (JSON form; plain `online`/`offline` is "
                 "also accepted)",
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"enum": ["online", "offline"]}, "time": TIME},
    }


def _frigate_message(title: str, after: dict) -> dict:
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}{title}.schema.json",
        "title": f"Frigate <prefix>/{title.removeprefix('frigate-')}: the fields ioc relies on",
        "description": "Frigate's own format; other fields are allowed and ignored.",
        "type": "object",
        "required": ["type", "after"],
        "properties": {
            "type": {"enum": list(PHASES)},
            "before": {"type": ["object", "null"]},
            "after": after,
        },
    }


def frigate_event_schema() -> dict:
    score = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    zones = {"type": ["array", "null"], "items": {"type": "string"}}
    return _frigate_message("frigate-events", {
        "type": "object",
        "required": ["id", "camera", "label", "start_time"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 128},
            "camera": {"type": "string", "pattern": DEVICE_ID_PATTERN},
            "label": {"type": "string", "minLength": 1, "maxLength": 64},
            "sub_label": {"anyOf": [
                {"type": ["string", "null"]},
                {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}],
                 "minItems": 2, "maxItems": 2},
            ]},
            "score": score, "top_score": score,
            "false_positive": {"type": ["boolean", "null"]},
            "start_time": {"type": "number", "minimum": 946684800},
            "end_time": {"type": ["number", "null"], "minimum": 946684800},
            "frame_time": {"type": ["number", "null"], "minimum": 946684800},
            "current_zones": zones, "entered_zones": zones,
            "has_snapshot": {"type": ["boolean", "null"]},
            "recognized_license_plate": {"type": ["string", "null"], "maxLength": 32},
            "recognized_license_plate_score": score,
        },
    })


def frigate_review_schema() -> dict:
    return _frigate_message("frigate-reviews", {
        "type": "object",
        "required": ["id", "camera", "severity", "start_time"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 128},
            "camera": {"type": "string", "pattern": DEVICE_ID_PATTERN},
            "severity": {"enum": ["alert", "detection"]},
            "start_time": {"type": "number", "minimum": 946684800},
            "end_time": {"type": ["number", "null"], "minimum": 946684800},
            "data": {
                "type": "object",
                "properties": {
                    "detections": {"type": "array", "items": {"type": "string"}},
                    "objects": {"type": "array"}, "zones": {"type": "array"},
                    "sub_labels": {"type": "array"}, "audio": {"type": "array"},
                },
            },
        },
    })


def all_schemas() -> dict[str, dict]:
    """File name -> schema, for every JSON payload we document."""
    out = {f"{family}.schema.json": family_schema(family) for family in FAMILY_METRICS}
    out["senml.schema.json"] = senml_schema()
    out["status.schema.json"] = status_schema()
    out["frigate-events.schema.json"] = frigate_event_schema()
    out["frigate-reviews.schema.json"] = frigate_review_schema()
    return out


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "docs/schemas")
    for name, schema in all_schemas().items():
        (target / name).write_text(render(schema), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
