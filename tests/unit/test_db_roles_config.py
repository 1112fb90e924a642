"""The owner/runtime URL settings and the connection-error classes, without a database."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from ioc.config import DatabaseSettings, load_settings
from ioc.db.connect import is_connection_lost, is_database_unavailable
from ioc.db.migrate import MigrationError, owner_settings, runtime_role
from ioc.db.privileges import url_user, with_login

OWNER = "postgresql://ioc:owner-pw@db:5432/ioc"
RUNTIME = "postgresql://ioc_app:app-pw@db:5432/ioc"


def test_the_owner_url_comes_from_its_own_variable():
    s = load_settings({"IOC_DATABASE_URL": RUNTIME, "IOC_DATABASE_OWNER_URL": OWNER})
    assert (s.database.url, s.database.owner_url) == (RUNTIME, OWNER)
    with pytest.raises(Exception, match="IOC_DATABASE_OWNER_URL"):
        load_settings({"IOC_DATABASE_OWNER_URL": "mysql://x@y/z"})


def test_migrate_connects_as_the_owner_and_grants_the_url_role():
    db = DatabaseSettings(url=RUNTIME, owner_url=OWNER)
    assert owner_settings(db).url == OWNER and runtime_role(db) == "ioc_app"
    assert runtime_role(DatabaseSettings(url=RUNTIME)) is None  # one role: no grants
    assert owner_settings(DatabaseSettings(url=RUNTIME)).url == RUNTIME
    with pytest.raises(MigrationError, match="both connect as 'ioc'"):
        runtime_role(DatabaseSettings(url=OWNER, owner_url=OWNER))


def test_login_swap_keeps_host_and_escapes_the_password():
    url = with_login(OWNER, "ioc_app", "p@ss/word:1")
    assert url.startswith("postgresql://ioc_app:p%40ss%2Fword%3A1@db:5432/ioc")
    assert url_user(url) == "ioc_app"
    assert psycopg.conninfo.conninfo_to_dict(url)["password"] == "p@ss/word:1"


def test_config_show_hides_both_database_passwords(monkeypatch, capsys):
    import argparse

    from ioc.cli import cmd_config_show

    monkeypatch.setenv("IOC_DATABASE_URL", RUNTIME)
    monkeypatch.setenv("IOC_DATABASE_OWNER_URL", OWNER)
    assert cmd_config_show(argparse.Namespace(config=None)) == 0
    shown = json.loads(capsys.readouterr().out)["database"]
    assert shown["url"] == "postgresql://ioc_app:***@db:5432/ioc"
    assert shown["owner_url"] == "postgresql://ioc:***@db:5432/ioc"


def _caused(outer: Exception, cause: Exception) -> Exception:
    try:
        try:
            raise cause
        except Exception as err:
            raise outer from err
    except Exception as err:
        return err


@pytest.mark.parametrize("err, lost, unavailable", [
    (psycopg.OperationalError("server closed the connection unexpectedly"), True, True),
    (psycopg.errors.AdminShutdown("terminating connection"), True, True),
    (_caused(RuntimeError("api 503"), psycopg.OperationalError("gone")), True, True),
    (PoolTimeout("couldn't get a connection after 5.00 sec"), False, True),
    (psycopg.errors.QueryCanceled("statement timeout"), False, False),
    (psycopg.errors.InsufficientPrivilege("permission denied"), False, False),
    (psycopg.errors.UniqueViolation("duplicate key"), False, False),
    (ValueError("bad input"), False, False),
])
def test_which_errors_are_a_lost_connection(err, lost, unavailable):
    assert is_connection_lost(err) is lost
    assert is_database_unavailable(err) is unavailable
