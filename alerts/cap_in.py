"""CAP 1.2 warnings received (validated by ingest) become alerts; Update and Cancel follow
`references` to the alert of the message they refer to.

A CAP message is identified by (sender, identifier, sent). The alert of a warning keeps every
key of its chain (the first message and each update) in `details.cap_keys`, so an update that
refers to any earlier message of the chain finds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from alerts.decisions import worst
from alerts.rules import CapRule
from ioc.alert_titles import render
from ioc.events import Cap

# The geocode that names one of our units (its official code; see docs/geography.md). Older
# senders' names are still read; a value that is not one of our units is ignored downstream.
UNIT_GEOCODE = "unit_code"
UNIT_GEOCODES = (UNIT_GEOCODE, "unit_id", "ioc:unit", "district", "ioc:district", "district_id")


def message_key(sender: str, identifier: str, sent: str | datetime) -> str:
    """"sender,identifier,sent" with `sent` normalised to UTC, so that a reference written
    with another offset ("+07:00" or "-00:00") names the same message."""
    when = sent if isinstance(sent, datetime) else datetime.fromisoformat(str(sent))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return f"{sender},{identifier},{when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S+00:00')}"


@dataclass(frozen=True)
class CapAction:
    """What a received CAP message asks of us."""

    action: Literal["open", "update", "cancel"]
    key: str
    refs: tuple[str, ...]
    severity: str = "info"
    title: str = ""
    unit_id: str | None = None
    expires: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def _pick_info(infos: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The Vietnamese info block if there is one, else the first."""
    for info in infos:
        if str(info.get("language", "")).lower().startswith("vi"):
            return info
    return infos[0] if infos else None


def _unit(infos: Sequence[Mapping[str, Any]]) -> str | None:
    for info in infos:
        for area in info.get("area") or ():
            for code in area.get("geocode") or ():
                if code.get("valueName") in UNIT_GEOCODES and code.get("value"):
                    return str(code["value"])
    return None


def _expires(infos: Sequence[Mapping[str, Any]], sent: datetime,
             default_expiry_s: int) -> datetime:
    times = []
    for info in infos:
        if info.get("expires"):
            try:
                times.append(datetime.fromisoformat(str(info["expires"])))
            except ValueError:
                continue
    if times:
        return max(times).astimezone(UTC)
    return sent + timedelta(seconds=default_expiry_s)


def cap_actions(rule: CapRule, event: Cap | Mapping[str, Any]) -> list[CapAction]:
    """The action a `cap` live event asks for under `rule` (pure); [] when the rule ignores
    it (status or scope not accepted, Ack/Error messages). A wire object is decoded first."""
    if not isinstance(event, Cap):
        event = Cap.from_wire(event)
    if event.status not in rule.statuses or event.scope not in rule.scopes:
        return []
    msg_type = event.msg_type
    if msg_type not in ("Alert", "Update", "Cancel"):
        return []
    if event.sent is None:
        raise ValueError("CAP message without `sent`")
    sent = event.sent
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    key = message_key(event.sender, event.identifier, sent)
    refs = tuple(message_key(*ref) for ref in event.references)
    infos = list(event.info)
    info = _pick_info(infos)
    severities = [rule.severities.get(i.get("severity", "Unknown"), "info") for i in infos]
    severity = worst(severities) if severities else "info"
    title = ""
    if info is not None:
        title = info.get("headline") or info.get("event") or ""
    title = title or render("cap", {"identifier": event.identifier, "sender": event.sender})
    details: dict[str, Any] = {
        "identifier": event.identifier, "sender": event.sender,
        "sent": sent.astimezone(UTC).isoformat(), "msg_type": msg_type,
        "status": event.status, "scope": event.scope,
    }
    if info is not None:
        for name in ("event", "headline", "description", "instruction", "senderName", "web",
                     "urgency", "certainty", "severity", "category"):
            if info.get(name):
                value = info[name]
                details[f"cap_{name}"] = list(value) if isinstance(value, list | tuple) else value
        details["areas"] = [a.get("areaDesc") for a in info.get("area") or ()]
    action: Literal["open", "update", "cancel"] = {
        "Alert": "open", "Update": "update", "Cancel": "cancel"}[msg_type]  # type: ignore[assignment]
    expires = _expires(infos, sent, rule.default_expiry_s)
    details["expires"] = expires.isoformat()
    return [CapAction(action, key, refs, severity, title, _unit(infos), expires, details)]
