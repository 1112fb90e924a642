"""Our own JSON on ioc/v1/<family>/<device_id>: metrics and (camera) incident events."""

from __future__ import annotations

import re
from datetime import datetime

from ingest.records import CameraEvent, FrozenDict, PayloadError, Reading, Record

from . import json_values as jv
from .metrics import FAMILY_METRICS, check_value
from .times import check_window, parse_time

TOP_LEVEL = frozenset({"device_id", "time", "seq", "metrics", "event"})
EVENT_FIELDS = frozenset({"id", "type", "phase", "confidence", "zone", "plate", "snapshot",
                          "label"})
EVENT_TYPES = ("fire", "smoke", "fight", "crowd", "accident", "wanted_plate", "intrusion",
               "traffic_violation", "other")
PHASES = ("new", "update", "end")
_SNAPSHOT = re.compile(r"sha256:[0-9a-f]{64}|https?://[^\s]{1,2000}")


def parse_ioc_json(family: str, device_id: str, doc: object, *, now: datetime,
                   max_future_s: int) -> tuple[tuple[Record, ...], int | None]:
    """The readings (and camera event) in one decoded payload, plus its `seq` if any."""
    obj = jv.expect_object(doc, "")
    allowed = TOP_LEVEL if family == "camera" else TOP_LEVEL - {"event"}
    if "event" in obj and family != "camera":
        raise PayloadError(f"unknown field 'event' (only camera payloads carry events, "
                           f"this is {family})")
    jv.reject_unknown(obj, allowed, "")
    if "device_id" in obj:
        claimed = jv.string(obj["device_id"], "device_id", max_len=64)
        if claimed != device_id:
            raise PayloadError(f"device_id {claimed!r} in payload differs from topic device "
                               f"{device_id!r}")
    t = parse_time(obj["time"], "time") if "time" in obj else now
    check_window(t, now, max_future_s, "time")
    seq = None
    if "seq" in obj:
        if not isinstance(obj["seq"], int) or isinstance(obj["seq"], bool) or obj["seq"] < 0:
            raise PayloadError(f"seq: expected a non-negative integer, got "
                               f"{obj['seq']!r}"[:120])
        seq = obj["seq"]
    metrics = jv.expect_object(obj["metrics"], "metrics") if "metrics" in obj else {}
    if not metrics and "event" not in obj:
        raise PayloadError("no metrics" + (" and no event" if family == "camera" else ""))
    records: list[Record] = [
        _reading(family, device_id, name, value, t) for name, value in metrics.items()
    ]
    if "event" in obj:
        records.append(_event(device_id, obj["event"], t, seq))
    return tuple(records), seq


def _reading(family: str, device_id: str, name: str, raw: object, t: datetime) -> Reading:
    path = jv.join("metrics", name)
    table = FAMILY_METRICS[family]
    spec = table.get(name)
    if spec is None:
        raise PayloadError(f"{path}: unknown metric for family {family} "
                           f"(known: {', '.join(table)})"[:300])
    value = jv.number(raw, path)
    problem = check_value(name, spec, value, path)
    if problem:
        raise PayloadError(problem)
    return Reading(device_id=device_id, metric=name, time=t, value=value, unit=spec.unit)


def _event(device_id: str, raw: object, t: datetime, seq: int | None) -> CameraEvent:
    ev = jv.expect_object(raw, "event")
    jv.reject_unknown(ev, EVENT_FIELDS, "event")
    event_id = jv.string(jv.required(ev, "id", "event"), "event.id", max_len=128)
    kind = jv.string(jv.required(ev, "type", "event"), "event.type", max_len=64)
    if kind not in EVENT_TYPES:
        raise PayloadError(f"event.type: {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    phase = jv.string(jv.required(ev, "phase", "event"), "event.phase", max_len=16)
    if phase not in PHASES:
        raise PayloadError(f"event.phase: {phase!r} is not one of new, update, end")
    confidence = None
    if ev.get("confidence") is not None:
        confidence = jv.number(ev["confidence"], "event.confidence")
        if not 0 <= confidence <= 1:
            raise PayloadError(f"event.confidence: {confidence!r} is outside [0, 1]")
    zone = _opt_str(ev, "zone")
    plate = _opt_str(ev, "plate", max_len=32)
    snapshot = _opt_str(ev, "snapshot", max_len=2048)
    if snapshot is not None and not _SNAPSHOT.fullmatch(snapshot):
        raise PayloadError("event.snapshot: expected 'sha256:<64 lowercase hex>' or an "
                           "http(s) URL")
    label = _opt_str(ev, "label")
    data = {"type": kind}
    if label is not None:
        data["label"] = label
    if seq is not None:
        data["seq"] = seq
    return CameraEvent(
        source="ioc", event_id=event_id, device_id=device_id, phase=phase, label=kind,
        confidence=confidence, top_confidence=None, started_at=t,
        ended_at=t if phase == "end" else None, time=t,
        zones=(zone,) if zone else (), plate=plate, plate_confidence=None,
        snapshot_ref=snapshot, false_positive=False, data=FrozenDict(data),
    )


def _opt_str(ev: dict, key: str, *, max_len: int = 128) -> str | None:
    value = ev.get(key)
    return None if value is None else jv.string(value, f"event.{key}", max_len=max_len)
