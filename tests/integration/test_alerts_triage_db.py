"""Triage order, acknowledging many at once and re-opening instead of duplicating, against
the real database (and Redis for the worker's rules)."""

from __future__ import annotations

import random
import time

import pytest

from alerts import lifecycle
from alerts.queries import alert_history, escalated_to, list_alerts, triage_order
from alerts.store import AlertDraft, open_or_update
from alerts.worker import evaluate_once, load_devices
from ioc.live import LatestValue, LiveState, open_redis

pytestmark = pytest.mark.integration

SEVERITIES = ("minor", "moderate", "severe", "extreme")


@pytest.fixture
def conn(db_conn):
    db_conn.autocommit = True
    return db_conn


def _draft(subject, severity="severe", *, unit_id="lao_cai_city", rule_id="r1"):
    return AlertDraft(rule_id=rule_id, subject=subject, kind="water_level", severity=severity,
                      title=f"{subject}: {severity}", family="disaster", unit_id=unit_id,
                      device_id=subject.split(":")[0], value=1.0)


def test_the_database_orders_alerts_like_the_pure_triage_order(conn):
    rng = random.Random(7)
    for n in range(60):
        alert_id = open_or_update(conn, _draft(f"d{n}", rng.choice(SEVERITIES))).alert_id
        conn.execute("UPDATE alerts SET opened_at = now() - make_interval(secs => %s) "
                     "WHERE id = %s", (rng.choice([0, 60, 600, 3600]), alert_id))
        pick = rng.random()
        if pick < 0.3:
            lifecycle.acknowledge(conn, alert_id, "op.lan")
        elif pick < 0.45:
            lifecycle.resolve(conn, alert_id, "op.lan", "xong")
    everything = list_alerts(conn, status=None, limit=1000, order="triage")
    assert [a.id for a in everything] == [a.id for a in triage_order(everything)]
    # the limit keeps the first rows of that order
    first = list_alerts(conn, status=None, limit=10, order="triage")
    assert [a.id for a in first] == [a.id for a in everything[:10]]
    assert first[0].severity == "extreme" and first[0].status == "open"
    with pytest.raises(ValueError, match="unknown order"):
        list_alerts(conn, order="loudest")


def test_acknowledge_all_of_one_station_or_one_unit(conn):
    a1 = open_or_update(conn, _draft("wl-1:a")).alert_id
    a2 = open_or_update(conn, _draft("wl-1:b", rule_id="r2")).alert_id
    b1 = open_or_update(conn, _draft("wl-2:a", unit_id="sa_pa")).alert_id
    c1 = open_or_update(conn, _draft("wl-3:a", unit_id="sa_pa")).alert_id
    lifecycle.acknowledge(conn, a2, "op.lan")  # already taken on: left as it is
    assert lifecycle.acknowledge_all(conn, "op.minh", device_id="wl-1") == [a1]
    assert lifecycle.acknowledge_all(conn, "op.minh", unit="sa_pa", note="đang gọi") == [b1, c1]
    assert lifecycle.acknowledge_all(conn, "op.minh", unit="sa_pa") == []
    rows = dict(conn.execute("SELECT id, acknowledged_by FROM alerts").fetchall())
    assert rows == {a1: "op.minh", a2: "op.lan", b1: "op.minh", c1: "op.minh"}
    audit = conn.execute("SELECT actor, action, target FROM audit_log WHERE actor = 'op.minh' "
                         "ORDER BY id").fetchall()
    assert [r[2] for r in audit] == [f"alert:{a1}", f"alert:{b1}", f"alert:{c1}"]
    assert alert_history(conn, c1)[-1].note == "đang gọi"
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.acknowledge_all(conn, "op.minh")


def test_a_condition_that_still_holds_reopens_the_alert_a_person_resolved(conn):
    first = open_or_update(conn, _draft("wl-1:a", "extreme"))
    lifecycle.acknowledge(conn, first.alert_id, "op.lan")
    lifecycle.resolve(conn, first.alert_id, "op.lan", "đã xử lý")
    again = open_or_update(conn, _draft("wl-1:a", "extreme"))
    assert again.alert_id == first.alert_id and again.reopened and not again.opened
    assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1
    status, resolved_at, count = conn.execute(
        "SELECT status, resolved_at, count FROM alerts WHERE id = %s",
        (first.alert_id,)).fetchone()
    assert (status, resolved_at, count) == ("acknowledged", None, 2)
    history = alert_history(conn, first.alert_id)
    assert [e.action for e in history] == ["opened", "acknowledged", "resolved", "reopened"]
    assert history[-1].data["reason"] == "condition_still_holds"
    # resolved by the system (the condition cleared): the next time is a new alert
    conn.execute("UPDATE alerts SET status = 'resolved', resolved_by = 'system', "
                 "resolved_at = now() WHERE id = %s", (first.alert_id,))
    assert open_or_update(conn, _draft("wl-1:a", "extreme")).opened
    # reopen_s = 0: never re-opened
    other = open_or_update(conn, _draft("wl-9:a")).alert_id
    lifecycle.resolve(conn, other, "op.lan", "xong")
    assert open_or_update(conn, _draft("wl-9:a"), reopen_s=0).alert_id != other


def test_resolving_a_still_high_water_level_does_not_create_a_second_alert(db_conn,
                                                                          redis_settings):
    db_conn.execute(
        "INSERT INTO devices (device_id, family, kind, name, unit_id, metadata) VALUES "
        "('wl-1', 'disaster', 'water_level', 'Trạm Lào Cai', 'lao_cai_city', "
        "'{\"alarm_levels\": [80, 82, 83.5]}')")
    db_conn.commit()
    db_conn.autocommit = True
    live = LiveState(open_redis(redis_settings), redis_settings)
    devices = load_devices(db_conn)
    now = time.time()

    def at(value, t):
        live.record([LatestValue("wl-1", "water_level_m", value, now + t)])
        return evaluate_once(db_conn, live, devices)

    at(84.0, 0)  # level III (and the unit's disaster level, another rule)
    water = "SELECT id, status, severity FROM alerts WHERE rule_id = 'water_level_alarm'"
    (alert_id, _status, _severity), = db_conn.execute(water).fetchall()
    lifecycle.resolve(db_conn, alert_id, "op.lan", "đã báo xã")
    at(84.1, 1)  # still above level III
    assert db_conn.execute(water).fetchall() == [(alert_id, "open", "extreme")]
    at(78.0, 2)  # the condition clears: the rule resolves it by itself (auto_resolve)
    assert db_conn.execute("SELECT status, resolved_by FROM alerts WHERE id = %s",
                           (alert_id,)).fetchone() == ("resolved", "system")
    actions = [e.action for e in alert_history(db_conn, alert_id)]
    assert actions == ["opened", "resolved", "reopened", "resolved"]
    live.r.close()


def test_escalated_to_names_whom_the_latest_step_notified(conn):
    alert_id = open_or_update(conn, _draft("wl-1:a", "extreme")).alert_id
    quiet = open_or_update(conn, _draft("wl-2:a", "extreme")).alert_id
    assert lifecycle.escalate(conn, alert_id, 1, notify="truc_ban")
    assert lifecycle.escalate(conn, alert_id, 2, notify="lanh_dao")
    assert escalated_to(conn, [alert_id, quiet]) == {alert_id: "lanh_dao"}
    assert escalated_to(conn, []) == {}
