"""Least privilege in the database: the runtime role tries every bypass and is refused."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from ioc.db import connect
from ioc.db.migrate import MigrationError, migrate, owner_settings
from ioc.db.privileges import APPEND_ONLY_TABLES, url_user
from tests.fixtures.fix_db import RUNTIME_ROLE

pytestmark = pytest.mark.integration

Denied = psycopg.errors.InsufficientPrivilege


@pytest.fixture
def runtime_conn(db_settings):
    """What every IOC process gets: the runtime role, autocommit so each attempt stands alone."""
    with connect(db_settings, autocommit=True) as conn:
        yield conn


@pytest.fixture
def owner_name(db_settings) -> str:
    return url_user(db_settings.owner_url)


def test_processes_connect_as_a_plain_role_that_owns_nothing(runtime_conn, db_settings):
    user, superuser = runtime_conn.execute(
        "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert user == RUNTIME_ROLE and superuser is False
    owned = runtime_conn.execute(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles "
        "WHERE rolname = current_user)"
    ).fetchone()[0]
    assert owned == 0
    # ... while the owner that migrated is the embedded cluster's superuser
    with connect(owner_settings(db_settings)) as owner:
        assert owner.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                             ).fetchone()[0] is True


def test_the_runtime_role_may_append_and_read_the_audit_log_and_work_the_rest(runtime_conn):
    runtime_conn.execute("INSERT INTO audit_log (actor, action) VALUES ('alice', 'login')")
    assert runtime_conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    runtime_conn.execute(
        "INSERT INTO alerts (rule_id, subject, kind, severity, title) "
        "VALUES ('water', 'st-1', 'water_level', 'severe', 'Báo động II')"
    )
    runtime_conn.execute("UPDATE alerts SET status = 'resolved'")
    runtime_conn.execute("DELETE FROM alerts")


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", [
    "UPDATE {} SET {column} = {column}",
    "DELETE FROM {}",
    "TRUNCATE {}",
    "TRUNCATE {} CASCADE",
    "ALTER TABLE {} DISABLE TRIGGER ALL",
    "ALTER TABLE {} DISABLE TRIGGER USER",
    "ALTER TABLE {} OWNER TO CURRENT_USER",
    "DROP TABLE {} CASCADE",
    "CREATE RULE no_delete AS ON DELETE TO {} DO INSTEAD NOTHING",
])
def test_append_only_tables_refuse_the_runtime_role(runtime_conn, db_settings, table, statement):
    column = runtime_conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = %s AND is_generated = 'NEVER' AND identity_generation IS NULL "
        "ORDER BY ordinal_position LIMIT 1",
        (db_settings.schema_name, table),
    ).fetchone()[0]
    with pytest.raises(Denied):
        runtime_conn.execute(
            sql.SQL(statement).format(sql.Identifier(table), column=sql.Identifier(column))
        )


def test_the_runtime_role_cannot_switch_triggers_off_or_become_the_owner(
    runtime_conn, db_settings, owner_name
):
    with pytest.raises(Denied):
        runtime_conn.execute("SET session_replication_role = replica")
    with pytest.raises(Denied):
        runtime_conn.execute("SELECT set_config('session_replication_role', 'replica', false)")
    with pytest.raises(Denied):
        runtime_conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner_name)))
    with pytest.raises(Denied):
        runtime_conn.execute(
            sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(owner_name))
        )
    with pytest.raises(Denied):
        runtime_conn.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    with pytest.raises(Denied):
        runtime_conn.execute(sql.SQL("ALTER ROLE {} SUPERUSER").format(sql.Identifier(RUNTIME_ROLE)))
    assert runtime_conn.execute("SHOW session_replication_role").fetchone()[0] == "origin"


def test_the_runtime_role_creates_nothing_in_the_schema(runtime_conn, db_settings):
    schema = sql.Identifier(db_settings.schema_name)
    with pytest.raises(Denied):
        runtime_conn.execute(sql.SQL("CREATE TABLE {}.shadow (x int)").format(schema))
    with pytest.raises(Denied):
        runtime_conn.execute(sql.SQL(
            "CREATE FUNCTION {}.audit_log_append_only() RETURNS trigger LANGUAGE sql "
            "AS 'SELECT NULL'").format(schema))
    with pytest.raises(Denied):
        runtime_conn.execute(sql.SQL("DROP TABLE {}.users CASCADE").format(schema))
    with pytest.raises(Denied):
        runtime_conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))
    with pytest.raises(Denied):
        runtime_conn.execute("UPDATE schema_migrations SET checksum = 'x'")


def test_the_history_survives_every_attempt(runtime_conn, db_conn):
    runtime_conn.execute("INSERT INTO audit_log (actor, action) VALUES ('alice', 'login')")
    for attempt in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log",
                    "TRUNCATE audit_log", "SET session_replication_role = replica"):
        with pytest.raises(Denied):
            runtime_conn.execute(attempt)
    assert db_conn.execute("SELECT actor FROM audit_log").fetchall() == [("alice",)]


def test_every_table_with_an_append_only_trigger_is_declared_append_only(db_conn, db_settings):
    """A new append-only table must be added to APPEND_ONLY_TABLES (ioc/db/privileges.py)."""
    guarded = {r[0] for r in db_conn.execute(
        "SELECT DISTINCT c.relname FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE n.nspname = %s AND p.proname LIKE '%%append_only%%'",
        (db_settings.schema_name,),
    ).fetchall()}
    assert guarded and guarded <= set(APPEND_ONLY_TABLES)


def _grants(conn, schema: str) -> list[tuple]:
    return conn.execute(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = %s AND grantee = %s ORDER BY 1, 2",
        (schema, RUNTIME_ROLE),
    ).fetchall()


def test_migrate_again_grants_the_same_and_covers_tables_added_later(db_settings, db_conn):
    schema = db_settings.schema_name
    before = _grants(db_conn, schema)
    assert ("audit_log", "INSERT") in before and ("audit_log", "UPDATE") not in before
    assert ("alerts", "UPDATE") in before
    assert not [g for g in before if g[1] in ("TRUNCATE", "TRIGGER", "REFERENCES")]
    migrate(db_settings)
    assert _grants(db_conn, schema) == before

    # A table a later migration (or anything the owner runs) adds: append-only by default ...
    db_conn.execute("CREATE TABLE later_table (id int GENERATED ALWAYS AS IDENTITY, x int)")
    db_conn.commit()
    with connect(db_settings, autocommit=True) as runtime:
        runtime.execute("INSERT INTO later_table (x) VALUES (1)")
        with pytest.raises(Denied):
            runtime.execute("UPDATE later_table SET x = 2")
        # ... and an ordinary read-write table once migrate has run (it is not in the list).
        migrate(db_settings)
        runtime.execute("UPDATE later_table SET x = 2")
        with pytest.raises(Denied):
            runtime.execute("TRUNCATE later_table")


def test_migrate_refuses_processes_that_would_connect_as_the_owner(db_settings):
    same = db_settings.model_copy(update={"url": db_settings.owner_url})
    with pytest.raises(MigrationError, match="runtime role"):
        migrate(same)


def test_migrate_refuses_a_runtime_role_with_power(db_settings, db_conn):
    name = "ioc_test_powerful"
    db_conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    db_conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(name)))
    db_conn.commit()
    try:
        url = db_settings.url.replace(RUNTIME_ROLE, name, 1)
        with pytest.raises(MigrationError, match="CREATEROLE"):
            migrate(db_settings.model_copy(update={"url": url}))
        missing = db_settings.url.replace(RUNTIME_ROLE, "ioc_test_nobody", 1)
        with pytest.raises(MigrationError, match="does not exist"):
            migrate(db_settings.model_copy(update={"url": missing}))
    finally:
        db_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        db_conn.commit()


def test_the_compose_init_script_makes_a_runtime_role_migrate_accepts(db_settings, pg_url):
    """deploy/postgres/runtime-role.sh, run twice (first start, then by hand), in real psql."""
    import os
    import subprocess
    from pathlib import Path

    from psycopg.conninfo import conninfo_to_dict

    from ioc.db.privileges import with_login
    from ioc.services.postgres import postgres_bindir

    script = Path(__file__).parents[2] / "deploy" / "postgres" / "runtime-role.sh"
    info = conninfo_to_dict(pg_url)
    name, password = "ioc_test_compose_app", "0a1b2c3d4e5f" * 4
    env = {
        "PATH": f"{postgres_bindir()}:{os.environ['PATH']}",
        "PGHOST": info["host"], "PGPORT": str(info.get("port", 5432)),
        "PGPASSWORD": info["password"],
        "POSTGRES_USER": info["user"], "POSTGRES_DB": info["dbname"],
        "POSTGRES_APP_USER": name, "POSTGRES_APP_PASSWORD": password,
    }
    try:
        for _ in range(2):
            done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr
        runtime = db_settings.model_copy(update={"url": with_login(pg_url, name, password)})
        migrate(runtime)
        with connect(runtime, autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == name
            conn.execute("INSERT INTO audit_log (actor, action) VALUES ('a', 'login')")
            with pytest.raises(Denied):
                conn.execute("DELETE FROM audit_log")
        same = subprocess.run(["sh", str(script)], env={**env, "POSTGRES_APP_USER": info["user"]},
                              capture_output=True, text=True, timeout=60)
        assert same.returncode != 0 and "must differ" in same.stderr
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_migrating_with_only_the_runtime_url_names_the_missing_setting(db_settings):
    only_runtime = db_settings.model_copy(update={"owner_url": None})
    with pytest.raises(MigrationError, match="IOC_DATABASE_OWNER_URL"):
        migrate(only_runtime)


def test_a_process_started_as_the_owner_is_refused_in_production(settings, caplog):
    from ioc.cli import check_runtime_role
    from ioc.config import ConfigError

    check_runtime_role(settings.model_copy(update={"env": "production"}))  # runtime role: fine
    as_owner = settings.model_copy(update={"database": owner_settings(settings.database)})
    with pytest.raises(ConfigError, match="superuser.*runtime role"):
        check_runtime_role(as_owner.model_copy(update={"env": "production"}))
    check_runtime_role(as_owner)  # outside production: a warning
    assert "append-only is not enforced" in caplog.text
