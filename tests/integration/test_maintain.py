"""`ioc maintain`: retention of every growing table, the jobs' record, the alert after two
failures in a row, `ioc db status` and the Prometheus metrics."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from prometheus_client import generate_latest
from psycopg import sql

from alerts.queries import get_alert, title_in
from ioc.config import Settings
from ioc.db.retention import RULES, enforce
from ioc.db.status import status_lines
from ioc.maintain import ALERT_RULE, Maintainer, MaintenanceMetrics, job_states, run_maintain
from ioc.security.hash_chain import verify_chain

pytestmark = pytest.mark.integration

OLD = "now() - interval '6 years'"
YOUNG = "now() - interval '2 days'"


def _run(conn, text: str, age: str = OLD) -> None:
    """`text` with {age}, {old} and {young} replaced by those SQL expressions."""
    conn.execute(sql.SQL(text).format(age=sql.SQL(age), old=sql.SQL(OLD), young=sql.SQL(YOUNG)))


def _fill(conn) -> None:
    """One old and one young row in every table retention covers."""
    for age in (OLD, YOUNG):
        _run(conn,
            "INSERT INTO reading_rollups (bucket, width, device_id, metric, n, sum, min, max, "
            "last, last_time) SELECT {age}, w, 'aq-1', 'pm25', 1, 1, 1, 1, 1, {age} "
            "FROM unnest(ARRAY['hour', 'day']) w", age)
        _run(conn, "INSERT INTO audit_log (at, actor, action) VALUES ({age}, 'admin', 't')", age)
        _run(conn, "INSERT INTO login_attempts (at, username, success) "
                   "VALUES ({age}, 'admin', false)", age)
        _run(conn, "INSERT INTO dead_letters (received_at, topic, payload, payload_size, "
                     "reason) VALUES ({age}, 't', '\\x00', 1, 'bad')", age)
        _run(conn, "INSERT INTO unit_hazard_history (unit_id, at, level) "
                     "VALUES ('sa_pa', {age}, 1)", age)
        _run(conn, "INSERT INTO device_status (device_id, time, online) "
                     "VALUES ('aq-1', {age}, true)", age)
    # incidents: one old and kept by an evidence export (old too), one old and free, one young
    _run(conn,
        "INSERT INTO camera_snapshots (sha256, content, content_type, size, device_id, time) "
        "SELECT repeat(c, 64), '\\x00', 'image/jpeg', 1, 'cam-1', {old} "
        "FROM unnest(ARRAY['a', 'b']) c")
    _run(conn,
        "INSERT INTO camera_incidents (source, event_id, device_id, label, phase, first_seen, "
        "started_at, last_update, snapshot_sha256) "
        "VALUES ('ioc', 'kept', 'cam-1', 'fight', 'end', {old}, {old}, {old}, repeat('a', 64)),"
        " ('ioc', 'free', 'cam-1', 'fight', 'end', {old}, {old}, {old}, repeat('b', 64)),"
        " ('ioc', 'young', 'cam-1', 'fight', 'end', {young}, {young}, {young}, NULL)")
    _run(conn,
        "INSERT INTO evidence_exports (bundle_id, source, event_id, manifest_sha256, "
        "bundle_sha256, files, size, signed, actor, at) VALUES (gen_random_uuid(), 'ioc', "
        "'kept', repeat('c', 64), repeat('d', 64), 1, 1, false, 'police:1', now() - interval '2 years')")
    _run(conn,
        "INSERT INTO incident_reviews (source, event_id, decision, reason, actor, at) VALUES "
        "('ioc', 'free', 'verified', 'ok', 'police:1', {old})")
    # alerts: an old closed one with its events and a delivery, an old open one
    _run(conn,
        "INSERT INTO alerts (rule_id, subject, kind, severity, title, status, opened_at, "
        "resolved_at) VALUES ('r', 'old', 'k', 'minor', 't', 'resolved', {old}, {old}), "
        "('r', 'open', 'k', 'minor', 't', 'open', {old}, NULL)")
    _run(conn, "INSERT INTO alert_events (alert_id, actor, action, at) "
                 "SELECT id, 'system', 'opened', {old} FROM alerts")
    _run(conn, "INSERT INTO alert_deliveries (event_id, destination, body, delivered_at) "
                 "SELECT id, 'mqtt', '{{}}', {old} FROM alert_events")
    conn.commit()


def _count(conn, table: str, where: str = "true") -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
        sql.Identifier(table), sql.SQL(where))).fetchone()[0]


def test_retention_deletes_only_what_is_past_its_setting(db_conn, db_settings):
    _fill(db_conn)
    deleted = enforce(db_conn, db_settings)
    db_conn.commit()
    assert {r.table for r in RULES} <= set(deleted)
    for table in ("audit_log", "login_attempts", "dead_letters", "unit_hazard_history",
                  "device_status"):
        assert _count(db_conn, table) == 1, table  # the young row stays
    assert _count(db_conn, "reading_rollups", "width = 'hour'") == 1
    assert _count(db_conn, "reading_rollups", "width = 'day'") == 2  # kept 10 years
    # evidence an export refers to stays, with its snapshot; the reviewed one goes with its
    # (old) review; the young one stays
    assert sorted(r[0] for r in db_conn.execute("SELECT event_id FROM camera_incidents")) == [
        "kept", "young"]
    assert [r[0][0] for r in db_conn.execute("SELECT sha256 FROM camera_snapshots")] == ["a"]
    assert _count(db_conn, "evidence_exports") == 1 and _count(db_conn, "incident_reviews") == 0
    assert [r[0] for r in db_conn.execute("SELECT subject FROM alerts")] == ["open"]
    # the hash chains lost their old prefix and still verify
    for table in ("audit_log", "evidence_exports"):
        assert verify_chain(db_conn, table).ok, verify_chain(db_conn, table).problems
    db_conn.execute("INSERT INTO audit_log (actor, action) VALUES ('admin', 'after')")
    assert verify_chain(db_conn, "audit_log").ok
    assert _count(db_conn, "alert_deliveries") == 0
    # the append-only tables still refuse a DELETE of young rows, and any UPDATE
    with pytest.raises(psycopg.errors.RaiseException):
        db_conn.execute("DELETE FROM audit_log")
    db_conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException):
        db_conn.execute("SELECT set_config('ioc.retention_before', now()::text, true)")
        db_conn.execute("DELETE FROM audit_log")  # younger than a year: never
    db_conn.rollback()


def test_a_job_failing_twice_opens_an_alert_and_its_success_resolves_it(db_conn, db_settings):
    settings = Settings(database=db_settings)
    maintainer = Maintainer(settings)
    db_conn.execute("ALTER TABLE frigate_reviews RENAME TO frigate_reviews_away")
    db_conn.commit()
    for _ in range(2):
        maintainer.run_due(db_conn, force=True)
        db_conn.commit()
    states = {s.job: s for s in job_states(db_conn)}
    assert states["retention"].last_ok is False and states["retention"].consecutive_failures == 2
    assert "frigate_reviews" in states["retention"].last_error
    assert states["rollups"].last_ok and states["kpis"].last_ok
    assert states["rollups"].next_run > states["rollups"].last_start
    alert = db_conn.execute(
        "SELECT id, status FROM alerts WHERE rule_id = %s AND subject = 'retention'",
        (ALERT_RULE,)).fetchone()
    assert alert is not None and alert[1] == "open"
    stored = get_alert(db_conn, alert[0])  # the pages show its title in the reader's language
    assert title_in(stored, "en") == "Database maintenance job failed: retention"
    assert stored.title == title_in(stored, "vi") == "Tác vụ bảo trì CSDL lỗi: retention"
    assert _count(db_conn, "alert_events", "alert_id = " + str(alert[0]) + " AND action = 'opened'") == 1
    lines, ok = status_lines(db_conn, settings)
    assert not ok and any("retention" in line and "FAILED" in line for line in lines)
    assert any("IOC_DATABASE_AUDIT_RETENTION_DAYS" in line for line in lines)

    metrics = MaintenanceMetrics(db_settings)
    metrics.set_from(job_states(db_conn))
    text = generate_latest(metrics.registry).decode()
    assert 'ioc_maintenance_job_last_success{job="retention"} 0.0' in text
    assert 'ioc_maintenance_job_consecutive_failures{job="retention"} 2.0' in text
    assert 'ioc_maintenance_job_next_run_timestamp_seconds{job="rollups"}' in text

    db_conn.execute("ALTER TABLE frigate_reviews_away RENAME TO frigate_reviews")
    db_conn.commit()
    maintainer.run_due(db_conn, force=True)
    db_conn.commit()
    assert db_conn.execute("SELECT status FROM alerts WHERE id = %s",
                           (alert[0],)).fetchone()[0] == "resolved"
    # (overall ok only on plain PostgreSQL: there, these are the only jobs)
    lines = status_lines(db_conn, settings)[0]
    assert any(line.split()[:1] == ["retention"] and " ok " in line for line in lines)


def test_ioc_maintain_once_runs_every_job(db_settings, db_conn, capsys):
    now = dt.datetime.now(dt.UTC)
    db_conn.execute("INSERT INTO rollup_dirty (device_id, metric, hour) VALUES ('x', 'y', %s)",
                    (now.replace(minute=0, second=0, microsecond=0),))
    db_conn.commit()
    assert run_maintain(Settings(database=db_settings), once=True) == 0
    assert {s.job for s in job_states(db_conn)} == {"rollups", "kpis", "retention"}
    assert _count(db_conn, "rollup_dirty") == 0


def test_the_runtime_role_prunes_records_but_cannot_change_their_periods(db_settings, db_conn):
    from ioc.db import connect

    _fill(db_conn)
    with connect(db_settings) as runtime:  # what `ioc maintain` connects as
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute("UPDATE retention_periods SET days = 365")
        runtime.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute("DELETE FROM audit_log")
        runtime.rollback()
        deleted = dict(runtime.execute("SELECT tbl, deleted FROM prune_records()").fetchall())
        runtime.commit()
    assert deleted["audit_log"] == 1 and deleted["incident_reviews"] == 1
    assert _count(db_conn, "audit_log") == 1
    assert verify_chain(db_conn, "audit_log").ok
