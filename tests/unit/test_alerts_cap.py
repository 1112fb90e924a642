"""CAP 1.2 in (warnings received become alert actions) and out (what we publish validates)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.cap_in import cap_actions, message_key
from alerts.cap_out import PublicAlert, cap_alert_xml, cap_time, validate_cap
from alerts.rules import CapInfo, load_rules
from ingest.formats import parse

RULE = load_rules().rule("cap_warnings")
SENDER = "pctt@laocai.gov.vn"


def vn_cap(msg_type: str = "Alert", references: str | None = None, *, identifier="LC-2025-061",
           sent="2025-06-01T09:30:00+07:00", severity="Severe", status="Actual",
           expires="2025-06-02T09:30:00+07:00") -> str:
    """A Vietnamese warning as the provincial steering committee would send it."""
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>{SENDER}</sender>
  <sent>{sent}</sent><status>{status}</status><msgType>{msg_type}</msgType>
  <scope>Public</scope>{refs}
  <info><language>vi-VN</language><category>Geo</category><category>Met</category>
    <event>Lũ quét, sạt lở đất</event><responseType>Evacuate</responseType>
    <urgency>Expected</urgency><severity>{severity}</severity><certainty>Likely</certainty>
    <expires>{expires}</expires>
    <headline>Cảnh báo lũ quét cấp độ 3</headline>
    <area><areaDesc>Xã Bát Xát</areaDesc>
      <geocode><valueName>unit_code</valueName><value>02683</value></geocode></area>
  </info>
</alert>"""


def cap_event(xml: str, now: datetime | None = None) -> dict:
    """The live event ingest publishes for a stored CAP message (ingest/live_feed.py)."""
    now = now or datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    (c,) = parse("ioc/v1/cap", xml.encode(), now=now).records
    event = {"type": "cap", "identifier": c.identifier, "sender": c.sender,
             "sent": c.sent.isoformat(), "msg_type": c.msg_type, "status": c.status,
             "scope": c.scope, "references": [list(x) for x in c.references],
             "info": [dict(i) for i in c.info]}
    return json.loads(json.dumps(event))  # as it comes off the Redis stream


def test_message_keys_are_normalised_to_utc():
    assert message_key(SENDER, "A", "2025-06-01T09:30:00+07:00") == \
        message_key(SENDER, "A", "2025-06-01T02:30:00-00:00") == \
        f"{SENDER},A,2025-06-01T02:30:00+00:00"


def test_alert_update_cancel():
    (opened,) = cap_actions(RULE, cap_event(vn_cap()))
    assert opened.action == "open" and opened.severity == "severe"
    assert opened.key == f"{SENDER},LC-2025-061,2025-06-01T02:30:00+00:00"
    assert opened.unit_id == "02683" and opened.title == "Cảnh báo lũ quét cấp độ 3"
    assert opened.expires == datetime(2025, 6, 2, 2, 30, tzinfo=UTC)
    assert opened.details["cap_event"] == "Lũ quét, sạt lở đất"
    ref = f"{SENDER},LC-2025-061,2025-06-01T09:30:00+07:00"
    (update,) = cap_actions(RULE, cap_event(vn_cap("Update", ref, identifier="LC-2025-062",
                                                   severity="Extreme",
                                                   sent="2025-06-01T10:00:00+07:00")))
    assert update.action == "update" and update.refs == (opened.key,)
    assert update.severity == "extreme"
    (cancel,) = cap_actions(RULE, cap_event(vn_cap("Cancel", ref, identifier="LC-2025-063",
                                                   sent="2025-06-01T10:30:00+07:00")))
    assert cancel.action == "cancel" and cancel.refs == (opened.key,)


def test_ignored_messages():
    assert cap_actions(RULE, cap_event(vn_cap(status="Exercise"))) == []
    assert cap_actions(RULE, cap_event(vn_cap(status="Test"))) == []
    event = cap_event(vn_cap())
    assert cap_actions(RULE, {**event, "msg_type": "Ack"}) == []
    no_expiry = cap_event(vn_cap().replace("<expires>2025-06-02T09:30:00+07:00</expires>", ""))
    (action,) = cap_actions(RULE, no_expiry)
    assert action.expires == datetime(2025, 6, 2, 2, 30, tzinfo=UTC)  # sent + default 24 h


TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OPENED = datetime(2025, 6, 1, 2, 30, 12, 345678, tzinfo=UTC)


def public_alert(**over) -> PublicAlert:
    base = dict(alert_id=42, rule_id="water_level_alarm", kind="water_level", severity="severe",
                title="Trạm thủy văn Lào Cai: mực nước 82.40 m, vượt báo động II & <III>",
                unit_id="02647", unit_name="Phường Lào Cai", lat=22.495,
                lon=103.9755, opened_at=OPENED, changed_at=OPENED, changes=0,
                last_seen_at=OPENED + timedelta(minutes=5), value=82.4, details={"level": 2})
    base.update(over)
    return PublicAlert(**base)


INFO = load_rules().rule("water_level_alarm").cap


def test_published_alert_validates_against_the_cap_schema():
    xml = cap_alert_xml(public_alert(), INFO, sender="ioc@laocai.gov.vn",
                        sender_name="IOC Lào Cai", tz=TZ)
    assert validate_cap(xml) == []
    assert "<sent>2025-06-01T09:30:12+07:00</sent>" in xml
    assert "<msgType>Alert</msgType>" in xml and "&lt;III&gt;" in xml
    assert "<circle>22.49500,103.97550 1.0</circle>" in xml
    # What we publish is also what our own ingest accepts.
    (parsed,) = parse("ioc/v1/cap", xml.encode(), now=OPENED + timedelta(minutes=1)).records
    assert parsed.info[0]["severity"] == "Severe"


def test_update_references_the_first_message():
    changed = OPENED + timedelta(minutes=20)
    xml = cap_alert_xml(public_alert(changes=2, changed_at=changed, severity="extreme",
                                     lat=None, lon=None, unit_id=None, unit_name=None),
                        CapInfo(event="Lũ", expires_after_s=3600), sender="ioc@laocai.gov.vn",
                        sender_name="IOC", tz=ZoneInfo("UTC"))
    assert validate_cap(xml) == []
    assert "<msgType>Update</msgType>" in xml and "<identifier>ioc-42-2</identifier>" in xml
    assert "<references>ioc@laocai.gov.vn,ioc-42,2025-06-01T02:30:12-00:00</references>" in xml
    assert "<areaDesc>Toàn tỉnh</areaDesc>" in xml and "<expires>" in xml


@pytest.mark.parametrize("tz", ["UTC", "Asia/Ho_Chi_Minh", "America/New_York"])
def test_cap_times_have_a_numeric_offset(tz):
    text = cap_time(OPENED, ZoneInfo(tz))
    assert not text.endswith("Z") and "." not in text
    assert datetime.fromisoformat(text) == OPENED.replace(microsecond=0)
