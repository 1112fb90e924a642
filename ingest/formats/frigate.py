"""Frigate NVR over MQTT: tracked-object events, review items, snapshots and availability."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from ingest.records import (
    CameraEvent,
    DeviceStatus,
    FrozenDict,
    PayloadError,
    ReviewItem,
    Snapshot,
)

from . import json_values as jv
from .identifiers import check_device_id
from .times import check_window, from_unix

PHASES = ("new", "update", "end")
SEVERITIES = ("alert", "detection")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Fields of Frigate's tracked object copied into CameraEvent.data when present.
EVENT_DATA_FIELDS = ("sub_label", "current_zones", "entered_zones", "has_snapshot", "has_clip",
                     "stationary", "active", "box", "region", "area", "ratio", "frame_time",
                     "current_estimated_speed", "velocity_angle", "attributes",
                     "current_attributes", "position_changes", "motionless_count")
REVIEW_DATA_FIELDS = ("objects", "zones", "sub_labels", "audio", "thumb_path")
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _message(doc: object) -> tuple[str, dict]:
    msg = jv.expect_object(doc, "")
    phase = jv.string(jv.required(msg, "type", ""), "type", max_len=16)
    if phase not in PHASES:
        raise PayloadError(f"type: {phase!r} is not one of new, update, end")
    after = jv.expect_object(jv.required(msg, "after", ""), "after")
    if "before" in msg and msg["before"] is not None:
        jv.expect_object(msg["before"], "before")
    return phase, after


def _time(obj: dict, key: str, *, now: datetime, max_future_s: int,
          nullable: bool = False) -> datetime | None:
    path = f"after.{key}"
    raw = jv.required(obj, key, "after") if not nullable else obj.get(key)
    if raw is None and nullable:
        return None
    return check_window(from_unix(jv.number(raw, path), path), now, max_future_s, path)


def _score(obj: dict, key: str) -> float | None:
    if obj.get(key) is None:
        return None
    value = jv.number(obj[key], f"after.{key}")
    if not 0 <= value <= 1:
        raise PayloadError(f"after.{key}: {value!r} is outside [0, 1]")
    return value


def _str_list(obj: dict, key: str, path: str) -> tuple[str, ...]:
    raw = obj.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadError(f"{path}.{key}: expected an array, got {jv.type_name(raw)}")
    return tuple(jv.string(v, f"{path}.{key}[{i}]", max_len=128) for i, v in enumerate(raw))


def parse_event(doc: object, *, now: datetime, max_future_s: int) -> CameraEvent:
    """One message of `<prefix>/events` as the state of the tracked object after the change."""
    phase, after = _message(doc)
    event_id = jv.string(jv.required(after, "id", "after"), "after.id", max_len=128)
    camera = check_device_id(jv.string(jv.required(after, "camera", "after"), "after.camera",
                                       max_len=64), "after.camera")
    label = jv.string(jv.required(after, "label", "after"), "after.label", max_len=64)
    started = _time(after, "start_time", now=now, max_future_s=max_future_s)
    ended = _time(after, "end_time", now=now, max_future_s=max_future_s, nullable=True)
    if ended is not None and ended < started:
        raise PayloadError("after.end_time: before after.start_time")
    frame = _time(after, "frame_time", now=now, max_future_s=max_future_s, nullable=True)
    if "false_positive" in after and after["false_positive"] is not None:
        false_positive = jv.boolean(after["false_positive"], "after.false_positive")
    else:
        false_positive = False
    has_snapshot = after.get("has_snapshot")
    if has_snapshot is not None:
        jv.boolean(has_snapshot, "after.has_snapshot")
    entered = _str_list(after, "entered_zones", "after")
    current = _str_list(after, "current_zones", "after")
    _sub_label(after.get("sub_label"))
    plate = after.get("recognized_license_plate")
    if plate is not None:
        plate = jv.string(plate, "after.recognized_license_plate", max_len=32)
    return CameraEvent(
        source="frigate", event_id=event_id, device_id=camera, phase=phase, label=label,
        confidence=_score(after, "score"), top_confidence=_score(after, "top_score"),
        started_at=started, ended_at=ended, time=frame or ended or started,
        zones=entered + tuple(z for z in current if z not in entered),
        plate=plate, plate_confidence=_score(after, "recognized_license_plate_score"),
        snapshot_ref=f"frigate:/api/events/{event_id}/snapshot.jpg" if has_snapshot else None,
        false_positive=false_positive,
        data=FrozenDict({k: after[k] for k in EVENT_DATA_FIELDS if k in after}),
    )


def _sub_label(raw: object) -> None:
    """Frigate sends null, a string, or [name, score] depending on the version."""
    if raw is None or isinstance(raw, str):
        return
    if (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str)
            and jv.is_number(raw[1])):
        return
    raise PayloadError("after.sub_label: expected null, a string or [name, score]")


def parse_review(doc: object, *, now: datetime, max_future_s: int) -> ReviewItem:
    """One message of `<prefix>/reviews` (Frigate 0.14+ review items)."""
    phase, after = _message(doc)
    review_id = jv.string(jv.required(after, "id", "after"), "after.id", max_len=128)
    camera = check_device_id(jv.string(jv.required(after, "camera", "after"), "after.camera",
                                       max_len=64), "after.camera")
    severity = jv.string(jv.required(after, "severity", "after"), "after.severity", max_len=16)
    if severity not in SEVERITIES:
        raise PayloadError(f"after.severity: {severity!r} is not one of alert, detection")
    started = _time(after, "start_time", now=now, max_future_s=max_future_s)
    ended = _time(after, "end_time", now=now, max_future_s=max_future_s, nullable=True)
    if ended is not None and ended < started:
        raise PayloadError("after.end_time: before after.start_time")
    data = jv.expect_object(after.get("data", {}), "after.data")
    detections = _str_list(data, "detections", "after.data")
    for key in ("objects", "zones", "sub_labels", "audio"):
        if key in data and not isinstance(data[key], list):
            raise PayloadError(f"after.data.{key}: expected an array, "
                               f"got {jv.type_name(data[key])}")
    kept = {k: data[k] for k in REVIEW_DATA_FIELDS if k in data}
    kept.update({k: after[k] for k in ("thumb_path",) if k in after})
    kept["start_time"], kept["end_time"] = after["start_time"], after.get("end_time")
    return ReviewItem(review_id=review_id, device_id=camera, phase=phase, severity=severity,
                      event_ids=detections, time=ended or started, data=FrozenDict(kept))


def parse_snapshot(camera: str, label: str, payload: bytes, *, now: datetime) -> Snapshot:
    """`<prefix>/<camera>/<label>/snapshot`: the raw JPEG (or PNG) of the best frame."""
    if not _LABEL.fullmatch(label):
        raise PayloadError(f"label {label[:80]!r} in the topic is not a valid label")
    if payload.startswith(JPEG_MAGIC):
        content_type = "image/jpeg"
    elif payload.startswith(PNG_MAGIC):
        content_type = "image/png"
    else:
        raise PayloadError(f"snapshot is not a JPEG or PNG image (starts with "
                           f"0x{payload[:4].hex() or 'nothing'})")
    return Snapshot(device_id=camera, label=label, content=bytes(payload),
                    sha256=hashlib.sha256(payload).hexdigest(), content_type=content_type,
                    time=now)


def parse_available(instance_id: str, text: str, *, now: datetime) -> DeviceStatus:
    """`<prefix>/available`: "online" or "offline" (Frigate's last will)."""
    state = text.strip()
    if state not in ("online", "offline"):
        raise PayloadError(f"expected 'online' or 'offline', got {state[:40]!r}")
    return DeviceStatus(device_id=instance_id, online=state == "online", time=now)
