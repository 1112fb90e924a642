"""Our own JSON on ioc/v1/<family>/<device_id>: readings, camera events and every rejection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.formats import FAMILY_METRICS, parse
from ingest.records import CameraEvent, PayloadError, Reading

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


def env(doc, device="aq-1", family="environment", raw: bytes | None = None):
    payload = raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode()
    return parse(f"ioc/v1/{family}/{device}", payload, now=NOW)


def reason(doc=None, device="aq-1", family="environment", raw: bytes | None = None) -> str:
    with pytest.raises(PayloadError) as err:
        env(doc, device, family, raw)
    assert err.value.format == "ioc-json" and err.value.device_id == device
    return err.value.reason


def test_environment_readings_with_units_and_utc_time():
    parsed = env({"device_id": "aq-1", "time": "2025-06-01T08:00:00+07:00", "seq": 7,
                  "metrics": {"pm25": 38.2, "humidity": 83}})
    t = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
    assert parsed.format == "ioc-json" and parsed.device_id == "aq-1" and parsed.seq == 7
    assert parsed.records == (Reading("aq-1", "pm25", t, 38.2, None, "µg/m³"),
                              Reading("aq-1", "humidity", t, 83.0, None, "%"))
    assert parsed.records[0].time.tzinfo is UTC


@pytest.mark.parametrize("family", sorted(FAMILY_METRICS))
def test_every_metric_of_every_family_is_accepted_at_its_bounds(family):
    for name, spec in FAMILY_METRICS[family].items():
        for value in (spec.minimum, spec.maximum):
            (r,) = env({"metrics": {name: value}}, family=family).records
            assert (r.metric, r.value, r.unit) == (name, float(value), spec.unit)


@pytest.mark.parametrize(("time", "expected"), [
    ("2025-06-01T02:00:00Z", datetime(2025, 6, 1, 2, tzinfo=UTC)),
    ("2025-06-01t02:00:00z", datetime(2025, 6, 1, 2, tzinfo=UTC)),
    ("2025-06-01T09:00:00.123456789+07:00", datetime(2025, 6, 1, 2, 0, 0, 123456, tzinfo=UTC)),
    ("2025-05-31T21:00:00-05:00", datetime(2025, 6, 1, 2, tzinfo=UTC)),
    (1748743200, datetime(2025, 6, 1, 2, tzinfo=UTC)),
    (1748743200.5, datetime(2025, 6, 1, 2, 0, 0, 500000, tzinfo=UTC)),
])
def test_time_forms(time, expected):
    assert env({"time": time, "metrics": {"pm25": 1}}).records[0].time == expected


def test_time_defaults_to_receive_time_and_may_be_a_little_ahead():
    assert env({"metrics": {"pm25": 1}}).records[0].time == NOW
    ahead = (NOW + timedelta(seconds=300)).isoformat()
    assert env({"time": ahead, "metrics": {"pm25": 1}}).records[0].time > NOW


@pytest.mark.parametrize(("doc", "expected"), [
    ({"metrics": {"pm25": float("nan")}}, "metrics.pm25: not a finite number (NaN)"),
    ({"metrics": {"pm25": float("inf")}}, "metrics.pm25: not a finite number (Infinity)"),
    ({"metrics": {"pm25": float("-inf")}}, "metrics.pm25: not a finite number (-Infinity)"),
    ({"device_id": "aq-2", "metrics": {"pm25": 1}},
     "device_id 'aq-2' in payload differs from topic device 'aq-1'"),
    ({"metrics": {"pm25": True}}, "metrics.pm25: expected a number, got a boolean"),
    ({"metrics": {"pm25": "12"}}, "metrics.pm25: expected a number, got a string"),
    ({"metrics": {"pm25": None}}, "metrics.pm25: expected a number, got null"),
    ({"metrics": {"pm25": [1]}}, "metrics.pm25: expected a number, got an array"),
    ({"metrics": [1]}, "metrics: expected a JSON object, got an array"),
    ({"metrics": {"pm25": 2000.5}},
     "metrics.pm25: 2000.5 is outside the physical range of pm25 [0, 2000] µg/m³"),
    ({"metrics": {"humidity": -0.1}},
     "metrics.humidity: -0.1 is outside the physical range of humidity [0, 100] %"),
    ({"metrics": {"humidity": 101}},
     "metrics.humidity: 101 is outside the physical range of humidity [0, 100] %"),
    ({"metrics": {"water_level_m": 2}}, "metrics.water_level_m: unknown metric for family "
                                        "environment (known: pm25, pm10, o3, no2, so2, co, "
                                        "temperature, humidity, wind_speed, wind_dir, pressure, "
                                        "noise)"),
    ({"metrics": {}}, "no metrics"),
    ({}, "no metrics"),
    ({"metrics": {"pm25": 1}, "extra": 1},
     "unknown field 'extra' (allowed: device_id, metrics, seq, time)"),
    ({"metrics": {"pm25": 1}, "event": {}},
     "unknown field 'event' (only camera payloads carry events, this is environment)"),
    ({"time": "2025-06-01T02:00:00", "metrics": {"pm25": 1}},
     "time: '2025-06-01T02:00:00' is not an RFC 3339 date-time with an offset"),
    ({"time": "2025-06-01", "metrics": {"pm25": 1}}, "is not an RFC 3339 date-time"),
    ({"time": "2025-13-01T02:00:00Z", "metrics": {"pm25": 1}}, "is not a valid date-time"),
    ({"time": "2025-06-01T02:00:00+24:00", "metrics": {"pm25": 1}}, "is not a valid date-time"),
    ({"time": "１９９９-06-01T02:00:00Z", "metrics": {"pm25": 1}}, "is not an RFC 3339"),
    ({"time": True, "metrics": {"pm25": 1}},
     "time: expected an RFC 3339 string or Unix seconds, got a boolean"),
    ({"time": "1999-12-31T23:59:59Z", "metrics": {"pm25": 1}},
     "time: 1999-12-31T23:59:59+00:00 is before 2000-01-01"),
    ({"time": 946684799, "metrics": {"pm25": 1}}, "before 2000-01-01"),
    ({"time": 1e30, "metrics": {"pm25": 1}}, "absurdly far ahead"),
    ({"time": "2025-06-01T03:05:01Z", "metrics": {"pm25": 1}},
     "time: 2025-06-01T03:05:01+00:00 is 301 s in the future (limit 300 s)"),
    ({"seq": -1, "metrics": {"pm25": 1}}, "seq: expected a non-negative integer, got -1"),
    ({"seq": 1.5, "metrics": {"pm25": 1}}, "seq: expected a non-negative integer, got 1.5"),
    ({"seq": True, "metrics": {"pm25": 1}}, "seq: expected a non-negative integer, got True"),
    ({"device_id": 5, "metrics": {"pm25": 1}}, "device_id: expected a string, got a number"),
    ([{"pm25": 1}], "payload: expected a JSON object, got an array"),
    ("online", "payload: expected a JSON object, got a string"),
])
def test_rejections_name_the_field_and_the_problem(doc, expected):
    assert expected in reason(doc)


@pytest.mark.parametrize(("family", "metrics", "expected"), [
    ("tourism", {"entries": -3}, "metrics.entries: entries is a count and cannot be negative, "
                                 "got -3"),
    ("tourism", {"exits": 2.5}, "metrics.exits: exits must be a whole number, got 2.5"),
    ("camera", {"people_count": -1}, "people_count is a count and cannot be negative"),
    ("disaster", {"water_level_m": 500.01}, "outside the physical range of water_level_m "
                                            "[-50, 500] m"),
    ("disaster", {"water_level_m": -50.5}, "[-50, 500] m"),
    ("disaster", {"rain_mm": -0.2}, "outside the physical range of rain_mm [0, 2000] mm"),
    ("environment", {"wind_dir": 361}, "[0, 360] deg"),
    ("environment", {"pressure": 200}, "[300, 1100] hPa"),
])
def test_physical_ranges(family, metrics, expected):
    assert expected in reason({"metrics": metrics}, family=family)


def test_counts_accept_integral_floats():
    (r,) = env({"metrics": {"entries": 12.0}}, family="tourism").records
    assert r.value == 12.0 and r.unit == "count"


@pytest.mark.parametrize(("raw", "expected"), [
    (b'{"metrics": {"pm25": NaN}}', "metrics.pm25: not a finite number (NaN)"),
    (b'{"metrics": {"pm25": 1e400}}', "metrics.pm25: not a finite number (1e400)"),
    (b'{"metrics": {"pm25": -Infinity}}', "metrics.pm25: not a finite number (-Infinity)"),
    (b'{"metrics": {"pm25": 1' + b"0" * 400 + b"}}", "metrics.pm25: not a finite number"),
    (b'{"metrics": {"pm25": 1' + b"0" * 5000 + b"}}", "invalid JSON:"),
    (b'{"metrics": {"pm25": 1, "pm25": 2}}', "duplicate key 'pm25' in a JSON object"),
    (b'{"metrics": {"pm25": 1}', "invalid JSON: Expecting ',' delimiter at line 1 column 24"),
    (b"", "invalid JSON: Expecting value at line 1 column 1"),
    (b'{"metrics": {"pm25": 1}, "device_id": "a\\u0000"}', "device_id: string contains a NUL"),
    (b'{"metrics": {"pm25": 1}, "device_id": "\\ud800"}', "lone UTF-16 surrogate"),
    (b'\xef\xbb\xbf{"metrics": {"pm25": 1}}', "invalid JSON: Unexpected UTF-8 BOM"),
    (b'{"metrics": {"pm25": 1}, "device_id": "\xc3"}',
     "payload is not valid UTF-8 (byte 0xc3 at offset 39)"),
    (b"[" * 40 + b"]" * 40, "invalid JSON: nested deeper than 16 levels"),
    (b"[" * 5000 + b"]" * 5000, "invalid JSON: nested deeper than 16 levels"),
])
def test_strict_json(raw, expected):
    assert expected in reason(raw=raw)


# --- camera events -----------------------------------------------------------------------------

def test_camera_event_new_and_end():
    snap = "sha256:" + "ab" * 32
    new = env({"time": "2025-06-01T09:00:00+07:00", "seq": 3, "metrics": {"people_count": 40},
               "event": {"id": "e-7", "type": "fire", "phase": "new", "confidence": 0.87,
                         "zone": "cho", "label": "khói", "snapshot": snap}},
              device="cam-1", family="camera")
    t = datetime(2025, 6, 1, 2, tzinfo=UTC)
    assert new.records[0] == Reading("cam-1", "people_count", t, 40.0, None, "count")
    assert new.records[1] == CameraEvent(
        source="ioc", event_id="e-7", device_id="cam-1", phase="new", label="fire",
        confidence=0.87, top_confidence=None, started_at=t, ended_at=None, time=t,
        zones=("cho",), plate=None, plate_confidence=None, snapshot_ref=snap,
        data={"type": "fire", "label": "khói", "seq": 3})
    (end,) = env({"time": 1748743800, "event": {"id": "e-7", "type": "fire", "phase": "end"}},
                 device="cam-1", family="camera").records
    assert end.phase == "end" and end.ended_at == end.time == datetime.fromtimestamp(
        1748743800, UTC) and end.confidence is None and end.zones == ()


def test_camera_wanted_plate_with_url_snapshot():
    (ev,) = env({"event": {"id": "a1", "type": "wanted_plate", "phase": "update",
                           "plate": "24A-123.45", "snapshot": "https://nvr.example/s/1.jpg",
                           "confidence": None, "zone": None}},
                device="cam-2", family="camera").records
    assert (ev.plate, ev.snapshot_ref, ev.label, ev.time) == (
        "24A-123.45", "https://nvr.example/s/1.jpg", "wanted_plate", NOW)


@pytest.mark.parametrize(("event", "expected"), [
    ({"type": "fire", "phase": "new"}, "event.id: missing"),
    ({"id": "e", "phase": "new"}, "event.type: missing"),
    ({"id": "e", "type": "fire"}, "event.phase: missing"),
    ({"id": "", "type": "fire", "phase": "new"}, "event.id: must not be empty"),
    ({"id": 5, "type": "fire", "phase": "new"}, "event.id: expected a string, got a number"),
    ({"id": "e", "type": "flood", "phase": "new"},
     "event.type: 'flood' is not one of fire, smoke, fight, crowd, accident, wanted_plate, "
     "intrusion, traffic_violation, other"),
    ({"id": "e", "type": "fire", "phase": "start"},
     "event.phase: 'start' is not one of new, update, end"),
    ({"id": "e", "type": "fire", "phase": "new", "confidence": 1.2},
     "event.confidence: 1.2 is outside [0, 1]"),
    ({"id": "e", "type": "fire", "phase": "new", "confidence": True},
     "event.confidence: expected a number, got a boolean"),
    ({"id": "e", "type": "fire", "phase": "new", "snapshot": "sha256:XYZ"},
     "event.snapshot: expected 'sha256:<64 lowercase hex>' or an http(s) URL"),
    ({"id": "e", "type": "fire", "phase": "new", "where": "x"},
     "event: unknown field 'where' (allowed: confidence, id, label, phase, plate, snapshot, "
     "type, zone)"),
    ("fire", "event: expected a JSON object, got a string"),
])
def test_camera_event_rejections(event, expected):
    assert reason({"event": event}, device="cam-1", family="camera") == expected


def test_camera_needs_metrics_or_event():
    assert reason({"metrics": {}}, device="cam-1", family="camera") == "no metrics and no event"
    assert reason({"metrics": {"pm25": 3}}, device="cam-1", family="camera").startswith(
        "metrics.pm25: unknown metric for family camera")
