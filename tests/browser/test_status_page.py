"""The status page in a real Chromium: live counts, Vietnamese by default, English on request."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dashboards.app import create_app
from ioc.live import LatestValue, LiveState, open_redis
from tests.fixtures.fix_web import login

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHOTS = Path(__file__).parent / "screenshots"


def test_status_page_shows_live_counts(dash_duo, settings, db_conn, web_users):
    db_conn.execute(
        "INSERT INTO devices (device_id, family, kind, name) VALUES "
        "('aq-1', 'environment', 'air_quality', 'Trạm Cốc Lếu'), ('wl-1', 'disaster', 'water_level', 'Trạm Lào Cai')"
    )
    db_conn.commit()
    live = LiveState(open_redis(settings.redis), settings.redis)

    def stored(metric: str, value: float) -> None:
        """What an ingest worker does after committing one reading."""
        now = time.time()
        live.record([LatestValue("aq-1", metric, value, now)],
                    [{"type": "readings", "count": 1, "readings": [["aq-1", metric, value, now]]}])

    stored("pm25", 21)
    app = create_app(settings)
    dash_duo.start_server(app)
    login(dash_duo, web_users["operator"].username, web_users["operator"].password)
    dash_duo.wait_for_text_to_equal("#status-devices", "2", timeout=10)
    dash_duo.wait_for_text_to_equal("#status-rpm", "1", timeout=10)
    assert "Trung tâm điều hành thông minh" in dash_duo.find_element("h1").text
    assert dash_duo.find_element("#status-family-disaster").text == "1"
    # a new reading shows up without a reload
    stored("pm10", 40)
    dash_duo.wait_for_text_to_equal("#status-rpm", "2", timeout=10)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "status-vi.png"))
    dash_duo.find_element("#status-lang").click()
    dash_duo.wait_for_contains_text("h1", "Intelligent Operations Centre", timeout=10)
    dash_duo.driver.save_screenshot(str(SHOTS / "status-en.png"))
    assert dash_duo.get_logs() == []
