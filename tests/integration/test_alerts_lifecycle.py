"""Operator actions on alerts, their history and audit trail, the queries the dashboards use,
and the admin-editable rules table, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import lifecycle
from alerts.queries import alert_history, count_active, get_alert, list_alerts
from alerts.rules import RulesError, load_rules
from alerts.rules.store import delete_rule, effective_rules, save_rule, set_rule_enabled
from alerts.store import AlertDraft, open_or_update

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(db_conn):
    db_conn.autocommit = True
    return db_conn


def new_alert(conn, subject="wl-1", *, severity="moderate", family="disaster",
              unit_id="lao_cai_city", kind="water_level") -> int:
    return open_or_update(conn, AlertDraft(
        rule_id="water_level_alarm", subject=subject, kind=kind, severity=severity,
        title=f"{subject}: vượt báo động", family=family, unit_id=unit_id, device_id=subject,
        value=80.5)).alert_id


def test_open_acknowledge_assign_resolve_with_who_when_and_notes(conn):
    alert_id = new_alert(conn)
    before = datetime.now(UTC)
    ack = lifecycle.acknowledge(conn, alert_id, "op.lan", "đang kiểm tra camera")
    assert ack.status == "acknowledged" and ack.acknowledged_at is not None
    assigned = lifecycle.assign(conn, alert_id, "op.lan", "doi_cuu_ho_1", "cử đội cứu hộ")
    assert (assigned.status, assigned.assigned_to) == ("assigned", "doi_cuu_ho_1")
    lifecycle.assign(conn, alert_id, "truong_ca", "doi_cuu_ho_2")  # reassign
    lifecycle.add_note(conn, alert_id, "truong_ca", "nước đang rút")
    done = lifecycle.resolve(conn, alert_id, "truong_ca", "đã xử lý xong")
    assert done.status == "resolved" and done.resolved_at is not None
    history = alert_history(conn, alert_id)
    assert [(e.action, e.actor) for e in history] == [
        ("opened", "system"), ("acknowledged", "op.lan"), ("assigned", "op.lan"),
        ("assigned", "truong_ca"), ("note", "truong_ca"), ("resolved", "truong_ca")]
    assert [e.note for e in history[1:]] == ["đang kiểm tra camera", "cử đội cứu hộ", None,
                                             "nước đang rút", "đã xử lý xong"]
    assert history[3].data == {"from": "assigned", "to": "assigned", "assignee": "doi_cuu_ho_2"}
    assert all(e.at >= before - timedelta(seconds=5) for e in history)
    alert = get_alert(conn, alert_id)
    assert (alert.acknowledged_by, alert.assigned_to, alert.resolved_by) == (
        "op.lan", "doi_cuu_ho_2", "truong_ca")
    audit = conn.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()
    assert audit[0] == ("op.lan", "alert.acknowledged", f"alert:{alert_id}")
    assert len(audit) == 5


def test_false_alarm_and_transitions_that_are_refused(conn):
    alert_id = new_alert(conn)
    lifecycle.mark_false_alarm(conn, alert_id, "op.lan", "cảm biến bị bùn che")
    assert get_alert(conn, alert_id).status == "false_alarm"
    with pytest.raises(lifecycle.TransitionNotAllowed, match="is false_alarm; it cannot"):
        lifecycle.acknowledge(conn, alert_id, "op.lan")
    other = new_alert(conn, "wl-2")
    lifecycle.assign(conn, other, "op.lan", "doi_1")
    with pytest.raises(lifecycle.TransitionNotAllowed, match="is assigned; it cannot become "
                                                             "acknowledged"):
        lifecycle.acknowledge(conn, other, "op.lan")
    with pytest.raises(lifecycle.AlertNotFound):
        lifecycle.resolve(conn, 999_999, "op.lan")
    with pytest.raises(lifecycle.LifecycleError, match="actor"):
        lifecycle.resolve(conn, other, " ")
    with pytest.raises(lifecycle.LifecycleError, match="assign"):
        lifecycle.assign(conn, other, "op.lan", "")
    assert lifecycle.can_transition("open", "resolved")
    assert not lifecycle.can_transition("resolved", "open")
    # A new occurrence after the operator closed it opens a new alert (not the closed one).
    again = new_alert(conn)
    assert again != alert_id and get_alert(conn, again).status == "open"


def test_actions_join_a_callers_open_transaction(db_settings):
    from ioc.db import connect

    with connect(db_settings) as conn:  # not autocommit
        alert_id = new_alert(conn)
        conn.commit()
        conn.execute("SELECT 1")  # the caller has a transaction open: the action joins it
        lifecycle.acknowledge(conn, alert_id, "op.lan")
        conn.rollback()
        assert get_alert(conn, alert_id).status == "open"
        conn.rollback()
        lifecycle.acknowledge(conn, alert_id, "op.lan")  # none open: it commits by itself
        conn.rollback()
        assert get_alert(conn, alert_id).status == "acknowledged"


def test_escalate_once_per_step(conn):
    alert_id = new_alert(conn)
    assert lifecycle.escalate(conn, alert_id, 1, notify="truc_ban", raise_severity=True)
    assert not lifecycle.escalate(conn, alert_id, 1, notify="truc_ban")  # a second worker
    alert = get_alert(conn, alert_id)
    assert (alert.escalation_level, alert.severity) == (1, "severe")
    assert alert.escalated_at is not None
    lifecycle.acknowledge(conn, alert_id, "op")
    assert not lifecycle.escalate(conn, alert_id, 2)


def test_list_alerts_filters(conn):
    a = new_alert(conn, "wl-1", severity="severe")
    b = new_alert(conn, "aq-1", severity="minor", family="environment", unit_id="sa_pa",
                  kind="air_quality")
    c = new_alert(conn, "wl-3", severity="extreme", unit_id="bao_yen")
    lifecycle.resolve(conn, c, "op")
    ids = lambda **kw: [x.id for x in list_alerts(conn, **kw)]  # noqa: E731
    assert ids() == [b, a]
    assert ids(status=None) == [c, b, a] and ids(status="closed") == [c]
    assert ids(status=["resolved", "open"]) == [c, b, a]
    assert ids(severity="severe") == [a] and ids(severity=["minor", "severe"]) == [b, a]
    assert ids(family="environment") == [b] and ids(unit_id="lao_cai_city") == [a]
    assert ids(kind="air_quality") == [b] and ids(limit=1) == [b]
    assert ids(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert count_active(conn) == {"severe": 1, "minor": 1}
    with pytest.raises(ValueError, match="unknown status"):
        list_alerts(conn, status="closed_ok")
    assert list_alerts(conn)[0].to_json()["opened_at"].endswith("+00:00")


def test_rules_table_overrides_and_extends_the_file(conn):
    base = load_rules()
    save_rule(conn, {"id": "device_silent", "type": "silence", "intervals": 10}, "admin")
    save_rule(conn, {"id": "pm10_high", "type": "threshold", "metric": "pm10",
                     "levels": [{"value": 150, "severity": "moderate"}]}, "admin")
    rules, problems = effective_rules(conn, base=base)
    assert problems == [] and rules.rule("device_silent").intervals == 10
    assert rules.rule("pm10_high").levels[0].value == 150
    set_rule_enabled(conn, "camera_incidents", False, "admin")  # a file rule: gets a row
    rules, _ = effective_rules(conn, base=base)
    assert not rules.rule("camera_incidents").enabled
    assert "camera_incidents" not in [r.id for r in rules.active_rules]
    with pytest.raises(RulesError, match="rule 'bad': levels"):
        save_rule(conn, {"id": "bad", "type": "threshold", "metric": "pm10", "levels": "x"},
                  "admin")
    # A row that no longer validates is skipped with the reason, the rest still load.
    conn.execute("UPDATE alert_rules SET definition = definition || '{\"nope\": 1}' "
                 "WHERE rule_id = 'pm10_high'")
    rules, problems = effective_rules(conn, base=base)
    assert rules.rule("pm10_high") is None
    assert problems == ["alert_rules row 'pm10_high': rule 'pm10_high': nope: unknown key"]
    assert delete_rule(conn, "device_silent", "admin")
    assert effective_rules(conn, base=base)[0].rule("device_silent").intervals == 3
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["alert_rule.save", "alert_rule.save", "alert_rule.disable",
                       "alert_rule.delete"]
