"""Device status on ioc/v1/status/<device_id>: `online`/`offline`, plain or as JSON."""

from __future__ import annotations

from datetime import datetime

from ingest.records import DeviceStatus, PayloadError

from . import json_values as jv
from .times import check_window, parse_time

STATES = ("online", "offline")
FIELDS = frozenset({"status", "time"})


def parse_status(device_id: str, payload: bytes, *, now: datetime,
                 max_future_s: int) -> DeviceStatus:
    """Plain `online`/`offline` (surrounding whitespace ignored) or
    `{"status": "online"|"offline", "time": ...}`."""
    text = jv.decode_text(payload).strip()
    if text in STATES:
        return DeviceStatus(device_id=device_id, online=text == "online", time=now)
    if not text.startswith("{"):
        raise PayloadError(f"expected 'online', 'offline' or a JSON object, got {text[:40]!r}")
    obj = jv.expect_object(jv.decode_json(payload), "")
    jv.reject_unknown(obj, FIELDS, "")
    state = jv.string(jv.required(obj, "status", ""), "status", max_len=16)
    if state not in STATES:
        raise PayloadError(f"status: {state!r} is not one of online, offline")
    t = parse_time(obj["time"], "time") if "time" in obj else now
    return DeviceStatus(device_id=device_id, online=state == "online",
                        time=check_window(t, now, max_future_s, "time"))
