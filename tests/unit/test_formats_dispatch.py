"""The dispatcher: topic shapes, limits, and the format/device carried by every PayloadError."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.formats import frigate_instance_id, parse
from ingest.records import CameraEvent, FrozenDict, Parsed, PayloadError, Reading

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
OK = json.dumps({"metrics": {"pm25": 12}}).encode()


@pytest.mark.parametrize("topic", [
    "", "ioc", "ioc/v1", "ioc/v1/environment", "ioc/v1/environment/aq-1/extra",
    "ioc/v1/weather/aq-1", "ioc/v2/environment/aq-1", "/ioc/v1/environment/aq-1",
    "ioc/v1/out/alerts", "ioc/v1/cap/extra", "ioc/v1/senml", "frigate", "frigate/",
    "frigate/stats", "frigate/cam-1/person", "frigate/cam-1/motion", "frigate/cam-1/person/x",
    "frigate/events/extra", "other/events", "$SYS/broker/uptime",
])
def test_unknown_topic_shapes(topic):
    with pytest.raises(PayloadError) as err:
        parse(topic, OK, now=NOW)
    assert err.value.reason == f"unknown topic shape {topic!r}"
    assert err.value.format is None and err.value.device_id is None


@pytest.mark.parametrize("device", ["-aq", "_aq", "a b", "a" * 65, "+", "#", "aq/1", "ạq", ""])
def test_bad_device_ids_in_topics(device):
    with pytest.raises(PayloadError) as err:
        parse(f"ioc/v1/environment/{device}", OK, now=NOW)
    if "/" in device:
        assert err.value.reason.startswith("unknown topic shape")
    else:
        assert err.value.reason.startswith(f"device id {device!r} in topic")
        assert err.value.format == "ioc-json"


@pytest.mark.parametrize("device", ["a", "A9", "aq-lc-001", "site:aq.1", "x" * 64, "0_0"])
def test_good_device_ids(device):
    assert parse(f"ioc/v1/environment/{device}", OK, now=NOW).device_id == device


@pytest.mark.parametrize(("topic", "fmt", "device"), [
    ("ioc/v1/environment/aq-1", "ioc-json", "aq-1"),
    ("ioc/v1/disaster/aq-1", "ioc-json", "aq-1"),
    ("ioc/v1/tourism/aq-1", "ioc-json", "aq-1"),
    ("ioc/v1/camera/aq-1", "ioc-json", "aq-1"),
    ("ioc/v1/senml/aq-1", "senml", "aq-1"),
    ("ioc/v1/status/aq-1", "status", "aq-1"),
    ("ioc/v1/cap", "cap", None),
    ("frigate/events", "frigate", None),
    ("frigate/reviews", "frigate", None),
    ("frigate/cam-1/car/snapshot", "frigate", "cam-1"),
    ("frigate/available", "status", "frigate"),
])
def test_oversized_payloads_are_rejected_before_decoding(topic, fmt, device):
    big = b"\xff" * 65537
    limit = 8 * 1024 * 1024 if topic.endswith("snapshot") else 65536
    if topic.endswith("snapshot"):
        big = b"\xff" * (limit + 1)
    with pytest.raises(PayloadError) as err:
        parse(topic, big, now=NOW)
    assert err.value.reason == (f"payload of {len(big)} bytes is larger than the limit of "
                                f"{limit} bytes")
    assert (err.value.format, err.value.device_id) == (fmt, device)


def test_limits_are_configurable():
    with pytest.raises(PayloadError, match="larger than the limit of 10 bytes"):
        parse("ioc/v1/environment/aq-1", OK, now=NOW, max_payload_bytes=10)
    future = json.dumps({"time": (NOW + timedelta(seconds=90)).isoformat(),
                         "metrics": {"pm25": 1}}).encode()
    with pytest.raises(PayloadError, match="is 90 s in the future \\(limit 60 s\\)"):
        parse("ioc/v1/environment/aq-1", future, now=NOW, max_future_s=60)


def test_the_two_example_messages_of_the_issue():
    with pytest.raises(PayloadError) as err:
        parse("ioc/v1/environment/aq-1", b'{"metrics": {"pm25": NaN}}', now=NOW)
    assert err.value.reason == "metrics.pm25: not a finite number (NaN)"
    with pytest.raises(PayloadError) as err:
        parse("ioc/v1/environment/aq-1", b'{"device_id": "aq-2", "metrics": {"pm25": 1}}',
              now=NOW)
    assert err.value.reason == "device_id 'aq-2' in payload differs from topic device 'aq-1'"
    assert str(err.value) == err.value.reason


def test_now_defaults_to_the_clock_and_must_be_aware():
    parsed = parse("ioc/v1/environment/aq-1", OK)
    assert abs(parsed.records[0].time - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(ValueError):
        parse("ioc/v1/environment/aq-1", OK, now=datetime(2025, 6, 1))
    local = datetime(2025, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=7)))
    assert parse("ioc/v1/environment/aq-1", OK, now=local).records[0].time == NOW
    assert parse("ioc/v1/environment/aq-1", OK, now=local).records[0].time.tzinfo is UTC


def test_payload_may_be_a_bytearray_or_memoryview():
    assert parse("ioc/v1/environment/aq-1", bytearray(OK), now=NOW).records
    assert parse("ioc/v1/environment/aq-1", memoryview(OK), now=NOW).records


def test_frigate_instance_ids():
    assert frigate_instance_id("frigate") == "frigate"
    assert frigate_instance_id("site1/frigate/") == "site1.frigate"


def test_records_are_frozen_hashable_and_picklable():
    parsed = parse("ioc/v1/camera/cam-1", json.dumps(
        {"event": {"id": "e", "type": "crowd", "phase": "new", "zone": "z"}}).encode(), now=NOW)
    (ev,) = parsed.records
    assert isinstance(parsed, Parsed) and isinstance(ev, CameraEvent)
    with pytest.raises(AttributeError):
        ev.label = "fire"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.data["type"] = "fire"  # type: ignore[index]
    assert hash(ev) == hash(pickle.loads(pickle.dumps(ev)))
    assert json.loads(json.dumps(ev.data)) == {"type": "crowd"}
    reading = Reading("a", "pm25", NOW, 1.0)
    assert reading.value_text is None and reading.unit is None


def test_frozen_dict():
    d = FrozenDict({"a": [1, {"b": [2]}]})
    assert d == {"a": (1, {"b": (2,)})} and isinstance(d["a"][1], FrozenDict)
    for mutate in (lambda: d.update(x=1), lambda: d.pop("a"), lambda: d.clear(),
                   lambda: d.setdefault("x", 1), lambda: d.popitem(), lambda: d.__delitem__("a")):
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(TypeError):
        d |= {"x": 1}
    assert json.dumps(d) == '{"a": [1, {"b": [2]}]}'


def test_payload_error_carries_reason_format_and_device():
    err = PayloadError("bad", format="senml", device_id="d")
    assert (err.reason, err.format, err.device_id, str(err)) == ("bad", "senml", "d", "bad")
    assert "senml" in repr(err)
    restored = pickle.loads(pickle.dumps(err))
    assert (restored.reason, restored.format, restored.device_id) == ("bad", "senml", "d")
