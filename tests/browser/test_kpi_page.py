"""The leadership KPI page in a real Chromium: tiles, district map and table, trends, export,
the printable report; Vietnamese by default, English on request; behind the log-in."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from dashboards.app import create_app
from tests.fixtures.fix_web import login
from tests.integration.test_kpi_page_data import fill_province

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"


def _wait_graphs(dash_duo, css: str, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(dash_duo.find_elements(css)) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} of {css!r} rendered")


def test_kpi_page_for_the_leadership(dash_duo, settings, db_conn, web_users, tmp_path):
    fill_province(db_conn)
    app = create_app(settings)
    dash_duo.start_server(app)
    user = web_users["leadership"]
    login(dash_duo, user.username, user.password, next_url="/kpi")
    dash_duo.driver.get(dash_duo.server_url + "/kpi")
    dash_duo.wait_for_element("#kpi-tile-aqi_today", timeout=15)
    assert dash_duo.find_element("h1").text == "Chỉ số điều hành của tỉnh"
    dash_duo.wait_for_text_to_equal("#kpi-value-flood_alarms_active .kpi-tile-number", "1")
    assert "Số liệu 2020" in dash_duo.find_element("#kpi-tile-egov_services_full_pct").text
    assert "Toàn tỉnh" in dash_duo.find_element("#kpi-district-table").text
    # the district map (offline style, circle-free choropleth) and four trend charts
    _wait_graphs(dash_duo, "#kpi-map .maplibregl-canvas", 1)
    _wait_graphs(dash_duo, "#kpi-trends .js-plotly-plot", 4)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.set_window_size(1920, 2600)
    time.sleep(1.0)  # let the map finish drawing before the picture
    dash_duo.driver.save_screenshot(str(SHOTS / "kpi-vi.png"))
    dash_duo.driver.set_window_size(1920, 1080)
    # 90 days: the charts are redrawn; the export button sends a CSV
    dash_duo.find_element("#kpi-range input[value='90']").click()
    _wait_graphs(dash_duo, "#kpi-trends .js-plotly-plot", 4)
    dash_duo.find_element("#kpi-export-button").click()
    time.sleep(0.5)
    # the printable report, then the page in English
    dash_duo.find_element("#kpi-report-link").click()
    dash_duo.wait_for_element("#kpi-report-districts", timeout=15)
    assert "Báo cáo chỉ số điều hành" in dash_duo.find_element("#kpi-report h1").text
    dash_duo.driver.save_screenshot(str(SHOTS / "kpi-report-vi.png"))
    # what "print / save as PDF" gives: Chromium's own PDF of the page with the print styles
    pdf = dash_duo.driver.execute_cdp_cmd(
        "Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})
    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF") and len(data) > 10_000
    (tmp_path / "kpi-report-vi.pdf").write_bytes(data)  # pdftoppm it to look at the pages
    dash_duo.driver.get(dash_duo.server_url + "/kpi?lang=en")
    dash_duo.wait_for_text_to_equal("h1", "Province KPIs", timeout=15)
    assert "Whole province" in dash_duo.find_element("#kpi-district-table").text
    _wait_graphs(dash_duo, "#kpi-map .maplibregl-canvas", 1)
    dash_duo.driver.save_screenshot(str(SHOTS / "kpi-en.png"))
    assert dash_duo.get_logs() == []


def test_kpi_page_is_refused_to_the_police(dash_duo, settings, web_users):
    app = create_app(settings)
    dash_duo.start_server(app)
    user = web_users["police"]
    login(dash_duo, user.username, user.password)
    dash_duo.driver.get(dash_duo.server_url + "/kpi")
    time.sleep(1.5)
    assert not dash_duo.find_elements("#kpi-tile-aqi_today")
