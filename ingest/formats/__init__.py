"""Pure payload parsing: route an MQTT topic to its format's parser and return typed records."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.records import Parsed, PayloadError

from . import frigate
from .cap import parse_cap
from .identifiers import check_device_id, is_device_id
from .ioc_json import parse_ioc_json
from .json_values import decode_json, decode_text
from .metrics import ALL_METRICS, FAMILIES, FAMILY_METRICS, MetricSpec
from .senml import ResolvedRecord, parse_senml, resolve_pack
from .status import parse_status

__all__ = [
    "ALL_METRICS",
    "FAMILIES",
    "FAMILY_METRICS",
    "MAX_SNAPSHOT_BYTES",
    "MetricSpec",
    "ResolvedRecord",
    "check_device_id",
    "frigate_instance_id",
    "parse",
    "resolve_pack",
]

MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024


def frigate_instance_id(frigate_prefix: str) -> str:
    """The device id of the Frigate instance itself (for `<prefix>/available`)."""
    return frigate_prefix.strip("/").replace("/", ".") or "frigate"


def parse(topic: str, payload: bytes, *, frigate_prefix: str = "frigate",
          now: datetime | None = None, max_future_s: int = 300,
          max_payload_bytes: int = 65536,
          max_snapshot_bytes: int = MAX_SNAPSHOT_BYTES) -> Parsed:
    """Parse one MQTT message; `topic` is given without the deployment's topic prefix.

    Raises PayloadError (with `format` and `device_id` filled in where known) for anything
    that must go to the dead-letter table.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    fmt, device_id = _route(topic, frigate_prefix)
    try:
        limit = max_snapshot_bytes if topic.endswith("/snapshot") and fmt == "frigate" \
            else max_payload_bytes
        if len(payload) > limit:
            raise PayloadError(f"payload of {len(payload)} bytes is larger than the limit of "
                               f"{limit} bytes")
        return _parse(fmt, device_id, topic, bytes(payload), frigate_prefix, now, max_future_s)
    except PayloadError as exc:
        if exc.format is None:
            raise PayloadError(exc.reason, format=fmt, device_id=device_id) from None
        raise


def _route(topic: str, frigate_prefix: str) -> tuple[str, str | None]:
    """(format, topic device id) for a topic, or PayloadError for an unknown shape."""
    prefix = frigate_prefix.strip("/")
    parts = topic.split("/")
    if prefix and topic.startswith(prefix + "/"):
        rest = topic[len(prefix) + 1:].split("/")
        if rest in (["events"], ["reviews"]):
            return "frigate", None
        if rest == ["available"]:
            return "status", frigate_instance_id(prefix)
        if len(rest) == 3 and rest[2] == "snapshot":
            return "frigate", _topic_device(rest[0], topic, "frigate")
    elif parts[:2] == ["ioc", "v1"]:
        if parts[2:] == ["cap"]:
            return "cap", None
        if len(parts) == 4 and parts[2] == "senml":
            return "senml", _topic_device(parts[3], topic, "senml")
        if len(parts) == 4 and parts[2] == "status":
            return "status", _topic_device(parts[3], topic, "status")
        if len(parts) == 4 and parts[2] in FAMILIES:
            return "ioc-json", _topic_device(parts[3], topic, "ioc-json")
    raise PayloadError(f"unknown topic shape {topic[:200]!r}")


def _topic_device(segment: str, topic: str, fmt: str) -> str:
    if not is_device_id(segment):
        raise PayloadError(f"device id {segment[:80]!r} in topic {topic[:200]!r} is not a valid "
                           "device id", format=fmt)
    return segment


def _parse(fmt: str, device_id: str | None, topic: str, payload: bytes, frigate_prefix: str,
           now: datetime, max_future_s: int) -> Parsed:
    window = {"now": now, "max_future_s": max_future_s}
    if fmt == "ioc-json":
        family = topic.split("/")[2]
        records, seq = parse_ioc_json(family, device_id, decode_json(payload), **window)
        return Parsed(fmt, device_id, records, seq)
    if fmt == "senml":
        return Parsed(fmt, device_id, parse_senml(device_id, decode_json(payload), **window))
    if fmt == "status" and topic.startswith("ioc/v1/"):
        return Parsed(fmt, device_id, (parse_status(device_id, payload, **window),))
    if fmt == "status":
        status = frigate.parse_available(device_id, decode_text(payload), now=now)
        return Parsed(fmt, device_id, (status,))
    if fmt == "cap":
        return Parsed(fmt, None, (parse_cap(payload, **window),))
    leaf = topic.rsplit("/", 1)[1]
    if leaf == "events":
        event = frigate.parse_event(decode_json(payload), **window)
        return Parsed(fmt, event.device_id, (event,))
    if leaf == "reviews":
        return Parsed(fmt, None, (frigate.parse_review(decode_json(payload), **window),))
    camera, label = topic.split("/")[-3:-1]
    return Parsed(fmt, device_id, (frigate.parse_snapshot(camera, label, payload, now=now),))
