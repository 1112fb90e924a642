"""The web app across a real PostgreSQL restart: the next requests work, none is an HTTP 500.

Each test starts its own embedded PostgreSQL (the session's shared one is not restarted
under the other tests), with the owner and runtime roles as in the demo.
"""

from __future__ import annotations

import pytest

from dashboards.app import create_app
from dashboards.context import context
from dashboards.i18n import t
from ioc.config import DatabaseSettings, Settings
from ioc.db import connect
from ioc.db.migrate import migrate
from ioc.security.tokens import create_token
from tests.fixtures.fix_web import login_client, make_user

pytestmark = pytest.mark.integration


@pytest.fixture
def own_pg():
    import shutil
    import tempfile
    from pathlib import Path

    from ioc.services.postgres import EmbeddedPostgres

    # Not under tmp_path: pytest prunes old basetemp directories of concurrent runs.
    root = Path(tempfile.mkdtemp(prefix="ioc-test-restart-"))
    server = EmbeddedPostgres(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def restart_settings(own_pg, mqtt_settings, redis_settings, tmp_path) -> Settings:
    db = DatabaseSettings(url=own_pg.runtime_url, owner_url=own_pg.url, schema="ioc_restart",
                          pool_max=4, pool_timeout_s=5)
    migrate(db)
    return Settings(env="test", state_dir=tmp_path / "state", database=db, mqtt=mqtt_settings,
                    redis=redis_settings)


def _restart(server) -> None:
    server.stop()
    server.start()  # same port, same data


def _token(settings: Settings) -> dict:
    with connect(settings.database) as conn:
        raw, _ = create_token(conn, "restart", ["devices:read"], days=1, actor="test")
        conn.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_log_in_then_restart_then_pages_and_api_reads_work(own_pg, restart_settings):
    user = make_user(restart_settings, "operator")
    bearer = _token(restart_settings)
    client = create_app(restart_settings).server.test_client()
    assert client.get("/api/v1/devices", headers=bearer).status_code == 200
    login = login_client(client, user.username, user.password)
    assert login.status_code == 303 and "error" not in login.headers["Location"]
    assert client.get("/").status_code == 200

    _restart(own_pg)  # every pooled connection is now dead
    page = client.get("/")
    assert page.status_code == 200  # the session was looked up on a fresh connection
    api = client.get("/api/v1/devices", headers=bearer)
    assert api.status_code == 200 and api.json["data"] == []

    _restart(own_pg)
    client.post("/auth/logout", headers={"X-CSRFToken": client.get_cookie("_csrf_token").value})
    again = login_client(client, user.username, user.password)
    assert again.status_code == 303 and "error" not in again.headers["Location"]
    assert client.get("/").status_code == 200


def test_without_the_pool_check_a_read_is_retried_and_a_write_says_it_failed(
    own_pg, restart_settings
):
    """The second line of defence: the pool's check is switched off, so a dead connection
    reaches the request itself. One pooled connection, so the retry's is a fresh one."""
    restart_settings = restart_settings.model_copy(update={
        "database": restart_settings.database.model_copy(update={"pool_max": 1})})
    user = make_user(restart_settings, "operator")
    bearer = _token(restart_settings)
    client = create_app(restart_settings).server.test_client()
    login_client(client, user.username, user.password)
    assert client.get("/").status_code == 200
    pool = context().pool
    pool._check = None  # only this test switches it off

    _restart(own_pg)
    assert client.get("/api/v1/devices", headers=bearer).status_code == 200  # retried once
    _restart(own_pg)
    assert client.get("/").status_code == 200  # the gate's session lookup, retried once

    # A write on a dead connection is not retried: it says so (503, or for the log-in form
    # the log-in page with a message), never a 500.
    _restart(own_pg)
    out = client.post("/auth/logout",
                      headers={"X-CSRFToken": client.get_cookie("_csrf_token").value})
    assert out.status_code == 503 and out.headers["Retry-After"]
    assert "database" in out.get_data(as_text=True).lower() or out.json["error"]
    # A log-in while the database is away (the pool gives up after pool_timeout_s).
    own_pg.stop()
    fresh = create_app(restart_settings).server.test_client()  # no session cookie
    failed = login_client(fresh, user.username, user.password)
    assert failed.status_code == 303 and "error=unavailable" in failed.headers["Location"]
    shown = fresh.get(failed.headers["Location"])  # the log-in page itself needs no database
    assert shown.status_code == 200
    # the log-in page says why, in Vietnamese by default
    key, style = _login_page_module().MESSAGES["unavailable"]
    assert style == "banner-error" and "Không kết nối được cơ sở dữ liệu" in t(key, "vi")
    own_pg.start()
    back = login_client(fresh, user.username, user.password)
    assert back.status_code == 303 and "error" not in back.headers["Location"]


def _login_page_module():
    """The log-in page as Dash loaded it (importing it again would register it twice)."""
    import sys

    import dash

    page = next(p for p in dash.page_registry.values() if p["path"] == "/login")
    return sys.modules[page["module"]]


def test_an_alert_action_on_a_dead_connection_says_it_was_not_saved(own_pg, restart_settings):
    from dashboards import alert_actions

    create_app(restart_settings)
    pool = context().pool
    with pool.connection() as conn:
        alert_id = conn.execute(
            "INSERT INTO alerts (rule_id, subject, kind, severity, title) "
            "VALUES ('water', 'st-1', 'water_level', 'severe', 'Báo động II') RETURNING id"
        ).fetchone()[0]
    pool._check = None  # let the dead connection reach the action
    _restart(own_pg)
    result = alert_actions.act(pool, alert_id, "acknowledge", actor="op")
    assert (result.ok, result.reason) == (False, "unavailable")
    assert "chưa được cập nhật" in t("act.unavailable", "vi", id=alert_id)
    # and once the pool has a live connection again, the same action works
    assert alert_actions.act(pool, alert_id, "acknowledge", actor="op").ok
