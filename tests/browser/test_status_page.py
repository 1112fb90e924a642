"""The status page in a real Chromium: live counts, Vietnamese by default, English on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.app import create_app
from tests.fixtures.fix_web import login

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHOTS = Path(__file__).parent / "screenshots"


def test_status_page_shows_live_counts(dash_duo, settings, db_conn, web_users):
    db_conn.execute(
        "INSERT INTO devices (device_id, family, kind, name) VALUES "
        "('aq-1', 'environment', 'air_quality', 'Trạm Cốc Lếu'), ('wl-1', 'disaster', 'water_level', 'Trạm Lào Cai')"
    )
    db_conn.execute(
        "INSERT INTO readings (time, device_id, metric, value) VALUES (now(), 'aq-1', 'pm25', 21)"
    )
    db_conn.commit()
    app = create_app(settings)
    dash_duo.start_server(app)
    login(dash_duo, web_users["operator"].username, web_users["operator"].password)
    dash_duo.wait_for_text_to_equal("#status-devices", "2", timeout=10)
    dash_duo.wait_for_text_to_equal("#status-rpm", "1", timeout=10)
    assert "Trung tâm điều hành thông minh" in dash_duo.find_element("h1").text
    assert dash_duo.find_element("#status-family-disaster").text == "1"
    # a new reading shows up without a reload
    db_conn.execute(
        "INSERT INTO readings (time, device_id, metric, value) VALUES (now(), 'aq-1', 'pm10', 40)"
    )
    db_conn.commit()
    dash_duo.wait_for_text_to_equal("#status-rpm", "2", timeout=10)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "status-vi.png"))
    dash_duo.find_element("#status-lang").click()
    dash_duo.wait_for_contains_text("h1", "Intelligent Operations Centre", timeout=10)
    dash_duo.driver.save_screenshot(str(SHOTS / "status-en.png"))
    assert dash_duo.get_logs() == []
