"""Our open public-safety alerts as CAP 1.2, in an Atom feed (served at /api/v1/cap.xml).

Each active alert of a rule with `public: true` becomes one CAP <alert>: msgType Alert when
it has not changed since it opened, else Update with `references` to the first message.
Every <alert> we produce validates against the CAP 1.2 XML Schema that ingest checks with
(`ioc/domain/cap-1.2.xsd`); `validate_cap` checks it with xmlschema.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import psycopg

from alerts.cap_in import UNIT_GEOCODE
from alerts.rules import CapInfo, RuleSet
from ioc.alert_status import ACTIVE
from ioc.alert_titles import label
from ioc.domain.cap import CAP_XSD

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
CAP_SEVERITY = {"extreme": "Extreme", "severe": "Severe", "moderate": "Moderate",
                "minor": "Minor", "info": "Minor"}


@functools.cache
def _schema():
    import xmlschema

    return xmlschema.XMLSchema(str(CAP_XSD))


def validate_cap(xml: str | bytes) -> list[str]:
    """Schema problems of one CAP <alert> document ([] when it is valid)."""
    return [f"{e.path}: {e.reason}" for e in _schema().iter_errors(xml)]


def cap_time(t: datetime, tz: ZoneInfo) -> str:
    """CAP date-time: seconds, numeric offset, never "Z" (UTC is written -00:00)."""
    local = t.astimezone(tz).replace(microsecond=0)
    text = local.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "-00:00"
    return text


@dataclass(frozen=True)
class PublicAlert:
    """What the CAP message of one alert needs."""

    alert_id: int
    rule_id: str
    kind: str
    severity: str
    title: str
    unit_id: str | None
    unit_name: str | None
    lat: float | None
    lon: float | None
    opened_at: datetime
    changed_at: datetime  # last change of severity (opened_at when none)
    changes: int  # how many severity changes since it opened
    last_seen_at: datetime
    value: float | None
    details: Mapping[str, Any]


def _sub(parent: ET.Element, name: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        el.text = str(text)
    return el


def cap_alert_element(alert: PublicAlert, info: CapInfo, *, sender: str, sender_name: str,
                      tz: ZoneInfo, language: str = "vi-VN") -> ET.Element:
    """The CAP <alert> of one public alert (pure)."""
    first_id = f"ioc-{alert.alert_id}"
    root = ET.Element(f"{{{CAP_NS}}}alert")
    updated = alert.changes > 0
    _sub(root, "identifier", f"{first_id}-{alert.changes}" if updated else first_id)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(alert.changed_at, tz))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Update" if updated else "Alert")
    _sub(root, "scope", "Public")
    if updated:
        _sub(root, "references", f"{sender},{first_id},{cap_time(alert.opened_at, tz)}")
    el = _sub(root, "info")
    _sub(el, "language", language)
    for category in info.category:
        _sub(el, "category", category)
    _sub(el, "event", info.event)
    for response in info.response_type:
        _sub(el, "responseType", response)
    _sub(el, "urgency", info.urgency)
    _sub(el, "severity", CAP_SEVERITY.get(alert.severity, "Unknown"))
    _sub(el, "certainty", info.certainty)
    code = _sub(el, "eventCode")
    _sub(code, "valueName", "ioc:kind")
    _sub(code, "value", alert.kind)
    _sub(el, "effective", cap_time(alert.opened_at, tz))
    if info.expires_after_s:
        _sub(el, "expires", cap_time(alert.last_seen_at + timedelta(seconds=info.expires_after_s),
                                     tz))
    _sub(el, "senderName", sender_name)
    _sub(el, "headline", alert.title[:160])
    description = alert.title
    if alert.value is not None:
        description += f" (giá trị {alert.value:g})"
    _sub(el, "description", description)
    if info.instruction:
        _sub(el, "instruction", info.instruction)
    if info.web:
        _sub(el, "web", info.web)
    for name, value in (("ioc:alert_id", alert.alert_id), ("ioc:rule_id", alert.rule_id),
                        ("ioc:level", alert.details.get("level"))):
        if value is not None:
            p = _sub(el, "parameter")
            _sub(p, "valueName", name)
            _sub(p, "value", value)
    area = _sub(el, "area")
    _sub(area, "areaDesc", alert.unit_name or alert.unit_id or "Toàn tỉnh")
    if alert.lat is not None and alert.lon is not None:
        _sub(area, "circle", f"{alert.lat:.5f},{alert.lon:.5f} 1.0")
    if alert.unit_id:
        g = _sub(area, "geocode")
        _sub(g, "valueName", UNIT_GEOCODE)
        _sub(g, "value", alert.unit_id)
    return root


def cap_alert_xml(alert: PublicAlert, info: CapInfo, *, sender: str, sender_name: str,
                  tz: ZoneInfo, language: str = "vi-VN") -> str:
    """One CAP 1.2 message as a standalone XML document."""
    el = cap_alert_element(alert, info, sender=sender, sender_name=sender_name, tz=tz,
                           language=language)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(el, encoding="unicode", default_namespace=CAP_NS))


def _info_for(alert: PublicAlert, ruleset: RuleSet | None) -> CapInfo:
    rule = ruleset.rule(alert.rule_id) if ruleset is not None else None
    if rule is not None and rule.cap is not None:
        return rule.cap
    return CapInfo(category=["Safety"], event=label("alert_kind", alert.kind))


_PUBLIC_ALERTS = """
SELECT a.id, a.rule_id, a.kind, a.severity, a.title, a.unit_id, lf.name, d.lat, d.lon,
       a.opened_at, COALESCE(ch.at, a.opened_at), COALESCE(ch.n, 0), a.last_seen_at,
       a.last_value, a.details
FROM alerts a
LEFT JOIN devices d ON d.device_id = a.device_id
LEFT JOIN layer_features lf ON lf.layer = 'units' AND lf.feature_id = a.unit_id
LEFT JOIN LATERAL (
    SELECT max(e.at) AS at, count(*) AS n FROM alert_events e
    WHERE e.alert_id = a.id AND e.action = 'severity_changed'
) ch ON true
WHERE a.public AND a.status = ANY(%s)
ORDER BY a.opened_at DESC, a.id DESC
LIMIT %s
"""


def public_alerts(conn: psycopg.Connection, limit: int = 200) -> list[PublicAlert]:
    return [PublicAlert(*row) for row in conn.execute(_PUBLIC_ALERTS, (list(ACTIVE), limit))]


def cap_feed_xml(conn: psycopg.Connection, *, sender: str = "ioc@localhost",
                 sender_name: str = "Trung tâm Điều hành thông minh",
                 ruleset: RuleSet | None = None, rules_file: Path | None = None,
                 self_url: str | None = None, timezone: str = "Asia/Ho_Chi_Minh",
                 language: str = "vi-VN", limit: int = 200) -> str:
    """An Atom feed whose entries each carry one CAP 1.2 <alert> of an open public alert.

    `ruleset` (default: the rules file with the alert_rules table applied) gives each rule's
    CAP fields (category, event, urgency, certainty, instruction). Take sender and
    sender_name from settings.alerts (cap_sender, cap_sender_name).
    """
    if ruleset is None:
        from alerts.rules.store import effective_rules

        ruleset, _ = effective_rules(conn, rules_file)
    tz = ZoneInfo(timezone)
    alerts = public_alerts(conn, limit)
    now = datetime.now(UTC)
    updated = max((a.changed_at for a in alerts), default=now)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<feed xmlns="{ATOM_NS}">',
        f"<id>urn:ioc:cap:{escape(sender)}</id>",
        f"<title>{escape('Cảnh báo công cộng – ' + sender_name)}</title>",
        f"<updated>{updated.astimezone(UTC).isoformat()}</updated>",
        f"<author><name>{escape(sender_name)}</name></author>",
    ]
    if self_url:
        parts.append(f'<link rel="self" href={quoteattr(self_url)}/>')
    for a in alerts:
        el = cap_alert_element(a, _info_for(a, ruleset), sender=sender, sender_name=sender_name,
                               tz=tz, language=language)
        cap = ET.tostring(el, encoding="unicode", default_namespace=CAP_NS)
        parts += [
            "<entry>",
            f"<id>urn:ioc:cap:{escape(sender)}:ioc-{a.alert_id}-{a.changes}</id>",
            f"<title>{escape(a.title)}</title>",
            f"<updated>{a.changed_at.astimezone(UTC).isoformat()}</updated>",
            f'<category term="{escape(a.severity)}"/>',
            f'<content type="{CAP_MEDIA_TYPE}">{cap}</content>',
            "</entry>",
        ]
    parts.append("</feed>")
    return "\n".join(parts)


def feed_alerts(feed_xml: str) -> list[str]:
    """The CAP <alert> documents inside a feed (for validation and tests)."""
    root = ET.fromstring(feed_xml)
    return [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(el, encoding="unicode", default_namespace=CAP_NS)
        for el in root.iter(f"{{{CAP_NS}}}alert")
    ]
