"""The typed messages between processes (ioc/events.py): every type survives encode/decode,
version 1 is the format written before versions existed (byte for byte), and what this code
cannot read is refused with a reason instead of being half-read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ioc import events as ev
from ioc.live import decode_entries

T = datetime(2025, 6, 1, 2, 30, 12, 345000, tzinfo=UTC)
ICT = timezone(timedelta(hours=7))

SAMPLES = [
    ev.Readings((("wl-1", "water_level_m", 82.4, 1748745012.345), ("aq-1", "pm25", 35, 1.5),
                 ("st-1", "state", "open", 2.0)), worker="node-1", committed_at=1748745013.0),
    ev.Readings((("wl-1", "water_level_m", 82.4, 1.0),)),
    ev.Incident("frigate", "1748.5-abc", "cam-1", "fire", "new", 0.91, 0.93, ("gate", "yard"),
                "24A68668", 0.8, "ab" * 32, "http://nvr/s.jpg", False, T, None, T),
    ev.Review("r-1", "cam-1", "end", "alert", ("e1", "e2"), T),
    ev.Snapshot("cam-1", "person", "cd" * 32, "image/jpeg", 48213, T),
    ev.Cap("LC-2025-061", "pctt@laocai.gov.vn", datetime(2025, 6, 1, 9, 30, tzinfo=ICT),
           "Update", "Actual", "Public",
           (("pctt@laocai.gov.vn", "LC-2025-060", "2025-06-01T09:00:00+07:00"),),
           ({"language": "vi-VN", "severity": "Severe", "area": [{"areaDesc": "Xã Bát Xát"}]},)),
    ev.Status("aq-1", False, T),
    ev.AlertMessage(812, "opened", "system", None, T.isoformat(),
                    {"severity": "severe", "value": 82.4, "level": 2}, 42,
                    {"id": 42, "kind": "water_level", "unit_id": "02683", "parent_id": None,
                     "title": "Trạm Lào Cai: mực nước 82.40 m", "details": {"level": 2}}),
    ev.HazardLevel("02683", "Xã Bát Xát", 3, 2, 1, "#FF7E00", "Cấp 3 – rủi ro lớn",
                   {"flood": 2, "heavy_rain": 1}, 1, T),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.TYPE)
def test_every_type_survives_the_wire(event):
    text = event.to_json()
    back = ev.loads(text)
    assert type(back) is type(event)
    assert back.to_wire() == json.loads(text)  # decode(encode(x)) encodes to the same object
    assert ev.dumps(back) == text  # ... and to the same bytes
    assert ev.decode(event) is event  # an already typed event passes through


def test_round_trip_keeps_the_fields():
    readings, _, incident, _, _, cap, status, alert, hazard = SAMPLES
    assert ev.loads(readings.to_json()).readings[0] == ["wl-1", "water_level_m", 82.4,
                                                      1748745012.345]
    assert ev.loads(readings.to_json()).count == 3
    back = ev.loads(incident.to_json())
    assert (back.time, back.zones, back.ended_at, back.confidence) == (T, ("gate", "yard"),
                                                                       None, 0.91)
    back = ev.loads(cap.to_json())
    assert back.sent == cap.sent and back.references == cap.references
    assert back.info[0]["area"][0]["areaDesc"] == "Xã Bát Xát"
    assert ev.loads(status.to_json()) == status
    assert ev.loads(hazard.to_json()) == hazard
    back = ev.loads(alert.to_json(compact=False))  # as MQTT and webhooks carry it
    assert (back.event_id, back.alert["title"], back.data["level"]) == \
        (812, "Trạm Lào Cai: mực nước 82.40 m", 2)


def test_version_1_is_the_format_before_versions_byte_for_byte():
    # what ingest/live_feed.py wrote before ioc.events existed, for the same readings
    before = json.dumps({"type": "readings", "worker": "node-1", "committed_at": 1.5,
                         "count": 1, "readings": [["wl-1", "water_level_m", 82.4, 1.0]]},
                        separators=(",", ":"))
    now = ev.Readings((["wl-1", "water_level_m", 82.4, 1.0],), "node-1", 1.5).to_json()
    assert now == before
    assert "\"v\"" not in now
    # an old message (no "v") and the same with an explicit "v": 1 both decode
    assert ev.loads(before) == ev.loads(before[:-1] + ',"v":1}')
    # messages written by hand before the types (no worker, no count) still decode
    assert ev.decode({"type": "readings", "readings": [["a", "m", 1, 2.0]]}).count == 1
    assert ev.decode({"type": "incident", "source": "ioc", "event_id": "e1",
                      "device_id": "cam-1", "label": "fire", "phase": "new"}).time is None


def test_a_newer_version_or_a_bad_one_is_refused():
    new = {"type": "status", "v": 2, "device_id": "aq-1", "online": True}
    with pytest.raises(ev.UnsupportedVersion, match="version 2 is newer"):
        ev.decode(new)
    for bad in (0, "1", True, None):
        with pytest.raises(ev.UnsupportedVersion):
            ev.decode({**new, "v": bad})


def test_malformed_messages_are_refused_with_a_reason():
    with pytest.raises(ev.UnknownEventType):
        ev.decode({"type": "telepathy"})
    with pytest.raises(ev.UnknownEventType):
        ev.decode({"no": "type"})
    with pytest.raises(ev.EventError, match="not a JSON object"):
        ev.decode([1, 2])
    with pytest.raises(ev.EventError, match="not JSON"):
        ev.loads(b"{oops")
    with pytest.raises(ev.EventError, match="time"):
        ev.decode({"type": "status", "device_id": "x", "online": True, "time": "yesterday"})
    with pytest.raises(ev.EventError, match="confidence"):
        ev.decode({"type": "incident", "confidence": "high"})
    with pytest.raises(ev.EventError, match="readings"):
        ev.decode({"type": "readings", "readings": "wl-1"})
    with pytest.raises(ev.EventError, match="event_id"):
        ev.decode({"type": "alert", "action": "opened"})
    assert issubclass(ev.EventError, ValueError)


def test_stream_entries_that_do_not_decode_keep_their_place():
    good = ev.Status("aq-1", True, T).to_json().encode()
    entries = [(b"1-0", {b"data": good}), (b"2-0", None), (b"3-0", {b"data": b"[]"}),
               (b"4-0", {b"data": b'{"type": "status", "v": 9}'}), (b"5-0", {})]
    out = decode_entries(entries)
    assert [i for i, _ in out] == ["1-0", "2-0", "3-0", "4-0", "5-0"]  # acknowledged all
    assert out[0][1] == ev.Status("aq-1", True, T)
    assert [e for _, e in out[1:]] == [None, None, None, None]
