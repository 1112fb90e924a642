"""The map's push stream (`/ops/live`, server-sent events) over real HTTP and a real Redis:
only a logged-in role that may see the map gets it, and an event on the live stream reaches it."""

from __future__ import annotations

import time

import pytest

from dashboards import live_push
from dashboards.app import create_app
from ioc.live import LiveState, open_redis
from tests.fixtures.fix_web import login_client

pytestmark = pytest.mark.integration


@pytest.fixture
def app(settings, monkeypatch):
    monkeypatch.setattr(live_push, "KEEPALIVE_S", 0.3)
    return create_app(settings)


def _client(app, user=None):
    client = app.server.test_client()
    if user is not None:
        assert login_client(client, user.username, user.password).status_code == 303
    return client


def test_live_stream_needs_a_session_and_a_map_role(app, web_users):
    anonymous = _client(app).get("/ops/live")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert b"data:" not in anonymous.data
    police = _client(app, web_users["police"]).get("/ops/live")
    assert police.status_code == 403


def test_live_stream_tells_the_page_when_an_event_arrives(app, settings, web_users):
    resp = _client(app, web_users["leadership"]).get("/ops/live", buffered=False)
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    chunks = iter(resp.response)
    first = next(chunks).decode()
    assert first.startswith("retry: ")
    start = int(first.split("data: ")[1])
    live = LiveState(open_redis(settings.redis), settings.redis)
    try:
        deadline = time.monotonic() + 20
        got = None
        while got is None and time.monotonic() < deadline:
            live.publish_event({"type": "readings", "readings": []})
            chunk = next(chunks).decode()
            if chunk.startswith("data: ") and int(chunk[6:]) > start:
                got = int(chunk[6:])
        assert got is not None, "no event reached the stream"
    finally:
        live.r.close()
        resp.close()
