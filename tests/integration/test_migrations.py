"""Migrations against the real PostgreSQL: idempotent, transactional, and the core invariants."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from ioc.config import DatabaseSettings
from ioc.db import connect, timescale
from ioc.db.migrate import MigrationError, available_migrations, migrate

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_schema(pg_url):
    schema = f"m_{uuid.uuid4().hex[:10]}"
    yield DatabaseSettings(url=pg_url, schema=schema)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_migrate_twice(empty_schema):
    first = migrate(empty_schema)
    assert first.applied == [f"{m.version:04d}_{m.name}" for m in available_migrations()]
    second = migrate(empty_schema)
    assert second.applied == [] and second.already == len(available_migrations())
    with connect(empty_schema) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (empty_schema.schema_name,),
            )
        }
    assert {
        "devices", "readings", "reading_rollups", "kpi_values", "dead_letters", "alerts",
        "alert_events", "users", "audit_log", "schema_migrations", "layer_features",
    } <= tables


def test_edited_migration_is_refused(empty_schema):
    migrate(empty_schema)
    with connect(empty_schema, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        migrate(empty_schema)


def test_failed_migration_rolls_back(empty_schema, monkeypatch):
    import ioc.db.migrate as mod

    good = available_migrations()
    bad = mod.Migration(9999, "broken", "CREATE TABLE half_done (x int); SELECT 1/0;")
    monkeypatch.setattr(mod, "available_migrations", lambda: [*good, bad])
    with pytest.raises(MigrationError, match="9999_broken failed and was rolled back"):
        migrate(empty_schema)
    with connect(empty_schema) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert 9999 not in versions and 1 in versions


def test_plain_postgres_path(db_settings, db_conn):
    if timescale.installed_version(db_conn) is not None:
        pytest.skip("the test database has TimescaleDB; the plain-PostgreSQL path is not used")
    db_conn.execute(
        "INSERT INTO readings (time, device_id, metric, value) VALUES "
        "(now() - interval '500 days', 'd1', 'pm25', 1), (now(), 'd1', 'pm25', 2)"
    )
    assert timescale.enforce_retention(db_conn, db_settings) == 1


def test_readings_are_idempotent(db_conn):
    row = ("2026-01-01T00:00:00Z", "d1", "pm25", 12.5)
    for _ in range(2):
        db_conn.execute(
            "INSERT INTO readings (time, device_id, metric, value) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            row,
        )
    assert db_conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 1


def test_audit_log_is_append_only(db_conn):
    db_conn.execute("INSERT INTO audit_log (actor, action) VALUES ('admin', 'login')")
    db_conn.commit()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute("UPDATE audit_log SET actor = 'someone else'")
    db_conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute("DELETE FROM audit_log")


def test_one_open_alert_per_rule_and_subject(db_conn):
    insert = (
        "INSERT INTO alerts (rule_id, subject, kind, severity, title) "
        "VALUES ('water', 'st-1', 'water_level', 'severe', 'Báo động II')"
    )
    db_conn.execute(insert)
    with pytest.raises(psycopg.errors.UniqueViolation):
        db_conn.execute(insert)
    db_conn.rollback()
    db_conn.execute(insert)
    db_conn.execute("UPDATE alerts SET status = 'resolved'")
    db_conn.execute(insert)  # a new one may open once the old one is resolved


@pytest.mark.parametrize("table", ["audit_log", "incident_reviews", "incident_notes",
                                   "evidence_custody", "evidence_exports"])
def test_append_only_records_refuse_truncate(db_conn, table):
    from psycopg import sql

    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    db_conn.rollback()
