"""Frigate NVR MQTT messages: events new/update/end, reviews, snapshots and availability."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from ingest.formats import MAX_SNAPSHOT_BYTES, parse
from ingest.records import CameraEvent, DeviceStatus, PayloadError, ReviewItem, Snapshot

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
START = 1748743215.482917  # 2025-06-01T02:00:15Z


def ts(x: float) -> datetime:
    return datetime.fromtimestamp(x, UTC)


def tracked_object(**changes) -> dict:
    """A tracked object as Frigate (0.14-0.16) publishes it in `before`/`after`."""
    obj = {
        "id": "1748743215.482917-k3n9vq", "camera": "cam-lc-cho-01", "frame_time": START,
        "snapshot": None, "label": "car", "sub_label": None, "top_score": 0.0,
        "false_positive": True, "start_time": START, "end_time": None, "score": 0.71,
        "box": [812, 402, 1090, 598], "area": 54488, "ratio": 1.418,
        "region": [640, 220, 1280, 860], "active": True, "stationary": False,
        "motionless_count": 0, "position_changes": 0, "current_zones": [], "entered_zones": [],
        "has_clip": False, "has_snapshot": False, "attributes": {}, "current_attributes": [],
        "pending_loitering": False, "max_severity": None, "current_estimated_speed": 0,
        "velocity_angle": 0, "path_data": [], "recognized_license_plate": None,
        "recognized_license_plate_score": None,
    }
    obj.update(changes)
    return obj


NEW = tracked_object()
UPDATE = tracked_object(
    frame_time=START + 6.43, top_score=0.898, false_positive=False, score=0.902,
    box=[702, 388, 1011, 611], current_zones=["cong_cho"],
    entered_zones=["duong_vao", "cong_cho"], has_clip=True, has_snapshot=True,
    snapshot={"frame_time": START + 4.83, "box": [720, 390, 1030, 612], "area": 68820,
              "region": [560, 180, 1200, 820], "score": 0.898, "attributes": []},
    sub_label=["Xe công vụ", 0.79], current_estimated_speed=12.4, velocity_angle=187,
    recognized_license_plate="24A-123.45", recognized_license_plate_score=0.93)
END = dict(UPDATE, frame_time=START + 44.6, end_time=START + 47.2, active=False,
           stationary=True, current_zones=[])


def frigate(topic: str, doc, *, prefix: str = "frigate", **kw):
    payload = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    return parse(topic, payload, frigate_prefix=prefix, now=NOW, **kw)


def test_event_new():
    parsed = frigate("frigate/events", {"type": "new", "before": NEW, "after": NEW})
    assert parsed.format == "frigate" and parsed.device_id == "cam-lc-cho-01"
    (ev,) = parsed.records
    assert ev == CameraEvent(
        source="frigate", event_id="1748743215.482917-k3n9vq", device_id="cam-lc-cho-01",
        phase="new", label="car", confidence=0.71, top_confidence=0.0, started_at=ts(START),
        ended_at=None, time=ts(START), zones=(), plate=None, plate_confidence=None,
        snapshot_ref=None, false_positive=True, data=ev.data)
    assert ev.data["box"] == (812, 402, 1090, 598) and ev.data["has_snapshot"] is False


def test_event_update_uses_after_and_carries_zones_plate_and_snapshot():
    (ev,) = frigate("frigate/events", {"type": "update", "before": NEW, "after": UPDATE}).records
    assert (ev.phase, ev.confidence, ev.top_confidence, ev.false_positive) == (
        "update", 0.902, 0.898, False)
    assert ev.zones == ("duong_vao", "cong_cho")
    assert (ev.plate, ev.plate_confidence) == ("24A-123.45", 0.93)
    assert ev.time == ts(START + 6.43) and ev.started_at == ts(START) and ev.ended_at is None
    assert ev.snapshot_ref == "frigate:/api/events/1748743215.482917-k3n9vq/snapshot.jpg"
    assert ev.data["sub_label"] == ("Xe công vụ", 0.79)
    assert ev.data["current_zones"] == ("cong_cho",)
    assert json.loads(json.dumps(ev.data))["entered_zones"] == ["duong_vao", "cong_cho"]


def test_event_end():
    (ev,) = frigate("frigate/events", {"type": "end", "before": UPDATE, "after": END}).records
    assert ev.phase == "end" and ev.ended_at == ts(START + 47.2) and ev.time == ts(START + 44.6)


def test_event_without_optional_fields():
    after = {"id": "x1", "camera": "c1", "label": "person", "start_time": START}
    (ev,) = frigate("frigate/events", {"type": "new", "after": after}).records
    assert (ev.confidence, ev.top_confidence, ev.zones, ev.false_positive, ev.time) == (
        None, None, (), False, ts(START))


@pytest.mark.parametrize("sub_label", [None, "Nguyễn Văn A", ["Nguyễn Văn A", 0.81]])
def test_sub_label_forms(sub_label):
    frigate("frigate/events", {"type": "update", "after": tracked_object(sub_label=sub_label)})


@pytest.mark.parametrize(("doc", "expected"), [
    ({"after": NEW}, "type: missing"),
    ({"type": "new"}, "after: missing"),
    ({"type": "create", "after": NEW}, "type: 'create' is not one of new, update, end"),
    ({"type": "new", "after": []}, "after: expected a JSON object, got an array"),
    ({"type": "new", "before": 5, "after": NEW}, "before: expected a JSON object, got a number"),
    ({"type": "new", "after": {k: v for k, v in NEW.items() if k != "id"}}, "after.id: missing"),
    ({"type": "new", "after": tracked_object(camera=None)},
     "after.camera: expected a string, got null"),
    ({"type": "new", "after": tracked_object(camera="front door")},
     "after.camera 'front door' is not a valid device id"),
    ({"type": "new", "after": {k: v for k, v in NEW.items() if k != "label"}},
     "after.label: missing"),
    ({"type": "new", "after": {k: v for k, v in NEW.items() if k != "start_time"}},
     "after.start_time: missing"),
    ({"type": "new", "after": tracked_object(start_time="1748743215")},
     "after.start_time: expected a number, got a string"),
    ({"type": "new", "after": tracked_object(start_time=915148800)}, "before 2000-01-01"),
    ({"type": "new", "after": tracked_object(start_time=START + 86400, frame_time=None)},
     "after.start_time: 2025-06-02T02:00:15.482917+00:00 is 82815.482917 s in the future"),
    ({"type": "end", "after": tracked_object(end_time=START - 1)},
     "after.end_time: before after.start_time"),
    ({"type": "new", "after": tracked_object(score=1.5)}, "after.score: 1.5 is outside [0, 1]"),
    ({"type": "new", "after": tracked_object(top_score=True)},
     "after.top_score: expected a number, got a boolean"),
    ({"type": "new", "after": tracked_object(false_positive="no")},
     "after.false_positive: expected true or false, got a string"),
    ({"type": "new", "after": tracked_object(entered_zones="cong")},
     "after.entered_zones: expected an array, got a string"),
    ({"type": "new", "after": tracked_object(current_zones=[1])},
     "after.current_zones[0]: expected a string, got a number"),
    ({"type": "new", "after": tracked_object(sub_label={"name": "x"})},
     "after.sub_label: expected null, a string or [name, score]"),
    ({"type": "new", "after": tracked_object(recognized_license_plate=42)},
     "after.recognized_license_plate: expected a string, got a number"),
    ({"type": "new", "after": tracked_object(score=float("nan"))},
     "after.score: not a finite number (NaN)"),
])
def test_event_rejections(doc, expected):
    with pytest.raises(PayloadError) as err:
        frigate("frigate/events", doc)
    assert expected in err.value.reason and err.value.format == "frigate"


REVIEW_BEFORE = {
    "id": "1748743214.903011-ux1d7w", "camera": "cam-lc-cho-01", "start_time": START - 0.58,
    "end_time": None, "severity": "detection",
    "thumb_path": "/media/frigate/clips/review/thumb-cam-lc-cho-01-1748743214.903011-ux1d7w.webp",
    "data": {"detections": ["1748743215.482917-k3n9vq"], "objects": ["car"], "sub_labels": [],
             "zones": [], "audio": []},
}
REVIEW_AFTER = dict(REVIEW_BEFORE, severity="alert", data={
    "detections": ["1748743215.482917-k3n9vq", "1748743220.118204-p0c2mr"],
    "objects": ["car", "person"], "sub_labels": [], "zones": ["cong_cho"], "audio": []})


def test_review_update():
    parsed = frigate("frigate/reviews", {"type": "update", "before": REVIEW_BEFORE,
                                         "after": REVIEW_AFTER})
    assert parsed.format == "frigate" and parsed.device_id is None
    (item,) = parsed.records
    assert item == ReviewItem(
        review_id="1748743214.903011-ux1d7w", device_id="cam-lc-cho-01", phase="update",
        severity="alert", event_ids=("1748743215.482917-k3n9vq", "1748743220.118204-p0c2mr"),
        time=ts(START - 0.58), data=item.data)
    assert item.data["objects"] == ("car", "person") and item.data["zones"] == ("cong_cho",)


def test_review_end_time():
    after = dict(REVIEW_AFTER, end_time=START + 50)
    (item,) = frigate("frigate/reviews", {"type": "end", "after": after}).records
    assert item.phase == "end" and item.time == ts(START + 50)


@pytest.mark.parametrize(("after", "expected"), [
    (dict(REVIEW_AFTER, severity="critical"),
     "after.severity: 'critical' is not one of alert, detection"),
    ({k: v for k, v in REVIEW_AFTER.items() if k != "camera"}, "after.camera: missing"),
    (dict(REVIEW_AFTER, data={"detections": "x"}),
     "after.data.detections: expected an array, got a string"),
    (dict(REVIEW_AFTER, data={"detections": [], "objects": 3}),
     "after.data.objects: expected an array, got a number"),
    (dict(REVIEW_AFTER, end_time=START - 100), "after.end_time: before after.start_time"),
])
def test_review_rejections(after, expected):
    with pytest.raises(PayloadError, match=expected.replace(".", r"\.")):
        frigate("frigate/reviews", {"type": "update", "after": after})


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 300 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_snapshot_jpeg_is_content_addressed_and_may_exceed_the_json_limit():
    assert len(JPEG) > 65536
    parsed = frigate("frigate/cam-lc-cho-01/person/snapshot", JPEG)
    assert parsed.device_id == "cam-lc-cho-01"
    assert parsed.records == (Snapshot(
        device_id="cam-lc-cho-01", label="person", content=JPEG,
        sha256=hashlib.sha256(JPEG).hexdigest(), content_type="image/jpeg", time=NOW),)


def test_snapshot_png():
    (snap,) = frigate("frigate/c1/car/snapshot", PNG).records
    assert snap.content_type == "image/png"


@pytest.mark.parametrize(("topic", "payload", "expected"), [
    ("frigate/c1/car/snapshot", b"GIF89a....", "snapshot is not a JPEG or PNG image "
                                                "(starts with 0x47494638)"),
    ("frigate/c1/car/snapshot", b"", "(starts with 0xnothing)"),
    ("frigate/c1/car/snapshot", b'{"a":1}', "snapshot is not a JPEG or PNG image"),
    ("frigate/c 1/car/snapshot", JPEG, "device id 'c 1' in topic"),
    ("frigate/c1/ca r/snapshot", JPEG, "label 'ca r' in the topic is not a valid label"),
    ("frigate/c1/car/snapshot", JPEG[:3] + b"\0" * MAX_SNAPSHOT_BYTES,
     "larger than the limit of 8388608 bytes"),
])
def test_snapshot_rejections(topic, payload, expected):
    with pytest.raises(PayloadError) as err:
        frigate(topic, payload)
    assert expected in err.value.reason and err.value.format == "frigate"


@pytest.mark.parametrize(("payload", "online"), [(b"online", True), (b"offline\n", False)])
def test_available(payload, online):
    parsed = frigate("frigate/available", payload)
    assert parsed.format == "status" and parsed.device_id == "frigate"
    assert parsed.records == (DeviceStatus("frigate", online, NOW),)


def test_custom_prefix():
    parsed = frigate("site1/frigate/available", b"online", prefix="site1/frigate")
    assert parsed.records[0].device_id == "site1.frigate"
    assert frigate("nvr/events", {"type": "new", "after": NEW}, prefix="nvr").records
    with pytest.raises(PayloadError, match="unknown topic shape 'frigate/events'"):
        frigate("frigate/events", {"type": "new", "after": NEW}, prefix="nvr")


@pytest.mark.parametrize("payload", [b"ONLINE", b"1", b"", b'{"status": "online"}', b"\xff"])
def test_available_rejections(payload):
    with pytest.raises(PayloadError):
        frigate("frigate/available", payload)
