"""Encoders: readings and events as our JSON, SenML packs, Frigate events and status messages."""

from __future__ import annotations

import json
from typing import Any

from sensors_sim.emissions import EventState
from sensors_sim.simtime import rfc3339

# SenML units (RFC 8428 registry and ingest's accepted spellings) per metric.
SENML_UNITS = {
    "pm25": "ug/m3", "pm10": "ug/m3", "o3": "ug/m3", "no2": "ug/m3", "so2": "ug/m3",
    "co": "ug/m3", "temperature": "Cel", "humidity": "%RH", "wind_speed": "m/s",
    "wind_dir": "deg", "pressure": "hPa", "noise": "dBA", "rain_mm": "mm", "water_level_m": "m",
    "tilt_deg": "deg", "soil_moisture_pct": "%", "displacement_mm": "mm", "entries": "count",
    "exits": "count", "occupancy": "count", "checkins": "count",
}
FRIGATE_FRAME = (1920, 1080)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def ioc_json_topic(family: str, device_id: str) -> str:
    return f"ioc/v1/{family}/{device_id}"


def senml_topic(device_id: str) -> str:
    return f"ioc/v1/senml/{device_id}"


def status_topic(device_id: str) -> str:
    return f"ioc/v1/status/{device_id}"


def frigate_topic(frigate_prefix: str) -> str:
    return f"{frigate_prefix.strip('/')}/events"


def frigate_snapshot_topic(frigate_prefix: str, camera: str, label: str) -> str:
    return f"{frigate_prefix.strip('/')}/{camera}/{label}/snapshot"


def ioc_json_reading(device_id: str, stamp: float, seq: int, metrics: dict[str, float]) -> dict:
    return {"device_id": device_id, "time": rfc3339(stamp), "seq": seq, "metrics": metrics}


def senml_reading(device_id: str, stamp: float, metrics: dict[str, float]) -> list[dict]:
    """A pack with the device as base name and the report time as base time."""
    pack: list[dict] = []
    for i, (name, value) in enumerate(metrics.items()):
        record: dict[str, Any] = {"n": name, "u": SENML_UNITS[name], "v": value}
        if i == 0:
            record = {"bn": f"{device_id}:", "bt": round(stamp, 3), **record}
        pack.append(record)
    return pack


def event_id(e: EventState, stamp_started: float) -> str:
    """Frigate-style id: start time and a random suffix, stable across new/update/end."""
    return f"{stamp_started:.6f}-{e.event_id}"


def ioc_json_event(device_id: str, stamp: float, seq: int, e: EventState,
                   stamp_started: float, snapshot_sha256: str | None = None) -> dict:
    event: dict[str, Any] = {
        "id": event_id(e, stamp_started),
        "type": e.type,
        "phase": e.phase,
        "confidence": e.confidence,
        "zone": e.zones[0],
        "label": e.label,
    }
    if e.plate:
        event["plate"] = e.plate
    if snapshot_sha256:
        event["snapshot"] = f"sha256:{snapshot_sha256}"
    return {"device_id": device_id, "time": rfc3339(stamp), "seq": seq, "event": event}


def frigate_object(camera: str, e: EventState, stamp: float, stamp_started: float,
                   entered: tuple[str, ...]) -> dict:
    """The tracked object as Frigate puts it in `before`/`after` of frigate/events."""
    x1, y1, x2, y2 = e.box
    w, h = FRIGATE_FRAME
    area = (x2 - x1) * (y2 - y1)
    end = e.phase == "end"
    obj: dict[str, Any] = {
        "id": event_id(e, stamp_started),
        "camera": camera,
        "frame_time": round(stamp, 6),
        "snapshot": None,
        "label": e.label,
        # Frigate has no incident types: a fight, crowd or intrusion is a person whose
        # sub_label says what the analytics recognised
        "sub_label": [e.type, e.confidence] if e.type not in ("object", "fire", "smoke",
                                                              "wanted_plate") else None,
        "top_score": e.top_confidence,
        "false_positive": False,
        "start_time": round(stamp_started, 6),
        "end_time": round(stamp, 6) if end else None,
        "score": e.confidence,
        "box": [x1, y1, x2, y2],
        "area": area,
        "ratio": round((x2 - x1) / max(1, y2 - y1), 3),
        "region": [max(0, x1 - 40), max(0, y1 - 40), min(w, x2 + 40), min(h, y2 + 40)],
        "active": not end,
        "stationary": e.type in ("fire", "smoke"),
        "motionless_count": 0,
        "position_changes": 1 if e.phase != "new" else 0,
        "current_zones": [] if end else list(e.zones),
        "entered_zones": list(entered),
        "has_clip": True,
        "has_snapshot": True,
        "attributes": {},
        "current_attributes": [],
    }
    if e.plate:
        obj["recognized_license_plate"] = e.plate
        obj["recognized_license_plate_score"] = e.plate_confidence
    return obj


def frigate_event(phase: str, before: dict | None, after: dict) -> dict:
    return {"type": phase, "before": before if before is not None else after, "after": after}


def status(online: bool, stamp: float) -> dict:
    return {"status": "online" if online else "offline", "time": rfc3339(stamp)}
