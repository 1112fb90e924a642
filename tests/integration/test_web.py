"""The web app's HTTP routes against the real database and Redis (no browser)."""

import pytest

from dashboards.app import create_app
from dashboards.context import context
from dashboards.queries import live_counts
from tests.fixtures.fix_web import login_client

pytestmark = pytest.mark.integration


def test_healthz_and_counts(settings, db_conn, web_users):
    app = create_app(settings)
    client = app.server.test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}
    db_conn.execute(
        "INSERT INTO devices (device_id, family, kind, name) VALUES ('c1', 'camera', 'ai_camera', 'Cam')"
    )
    db_conn.execute("INSERT INTO dead_letters (topic, payload, payload_size, reason) "
                    "VALUES ('ioc/v1/x', 'x', 1, 'bad json')")
    db_conn.commit()
    counts = live_counts(context().pool, context().live)
    assert counts.devices == 1 and counts.devices_by_family == {"camera": 1}
    assert counts.dead_letters_last_hour == 1 and counts.readings_last_minute == 0
    assert client.get("/").status_code == 302  # to the log-in page
    login_client(client, web_users["operator"].username, web_users["operator"].password)
    page = client.get("/")
    assert page.status_code == 200
