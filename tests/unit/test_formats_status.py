"""Device status on ioc/v1/status/<device_id>, plain or JSON (also usable as an MQTT last will)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.formats import parse
from ingest.records import DeviceStatus, PayloadError

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("payload", "expected"), [
    (b"online", DeviceStatus("aq-1", True, NOW)),
    (b"offline", DeviceStatus("aq-1", False, NOW)),
    (b" online\r\n", DeviceStatus("aq-1", True, NOW)),
    (b'{"status": "offline"}', DeviceStatus("aq-1", False, NOW)),
    (b'{"status": "online", "time": "2025-06-01T09:59:00+07:00"}',
     DeviceStatus("aq-1", True, datetime(2025, 6, 1, 2, 59, tzinfo=UTC))),
    (b'{"status": "online", "time": 1748743200}',
     DeviceStatus("aq-1", True, datetime(2025, 6, 1, 2, 0, tzinfo=UTC))),
])
def test_status_forms(payload, expected):
    parsed = parse("ioc/v1/status/aq-1", payload, now=NOW)
    assert (parsed.format, parsed.device_id, parsed.records) == ("status", "aq-1", (expected,))


@pytest.mark.parametrize(("payload", "expected"), [
    (b"Online", "expected 'online', 'offline' or a JSON object, got 'Online'"),
    (b"", "expected 'online', 'offline' or a JSON object, got ''"),
    (b'"online"', "expected 'online', 'offline' or a JSON object"),
    (b"\xffonline", "payload is not valid UTF-8 (byte 0xff at offset 0)"),
    (b'{"status": "up"}', "status: 'up' is not one of online, offline"),
    (b'{"status": true}', "status: expected a string, got a boolean"),
    (b'{"time": 1748743200}', "status: missing"),
    (b'{"status": "online", "battery": 80}',
     "unknown field 'battery' (allowed: status, time)"),
    (b'{"status": "online", "time": "2025-06-01T11:00:00+07:00"}',
     "time: 2025-06-01T04:00:00+00:00 is 3600 s in the future (limit 300 s)"),
    (b'{"status": "online", "time": NaN}', "time: not a finite number (NaN)"),
    (b'{"status": "online"', "invalid JSON"),
])
def test_status_rejections(payload, expected):
    with pytest.raises(PayloadError) as err:
        parse("ioc/v1/status/aq-1", payload, now=NOW)
    assert expected in err.value.reason
    assert (err.value.format, err.value.device_id) == ("status", "aq-1")
