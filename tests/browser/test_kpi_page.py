"""The leadership KPI page in a real Chromium: tiles, unit map and table, trends, export,
the printable report; Vietnamese by default, English on request; behind the log-in."""

from __future__ import annotations

import base64
import csv
import io
import time
from pathlib import Path

import pytest

from dashboards.app import create_app
from tests.fixtures.fix_web import login
from tests.integration.test_kpi_page_data import DAYS, fill_province

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"


def _wait_graphs(dash_duo, css: str, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(dash_duo.find_elements(css)) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} of {css!r} rendered")


def _wait_download(folder: Path, timeout: float = 15) -> Path:
    """The one finished file Chromium saved into `folder` (not a partial .crdownload)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [f for f in folder.iterdir() if not f.name.endswith(".crdownload")]
        if done and not any(f.name.endswith(".crdownload") for f in folder.iterdir()):
            assert len(done) == 1, done
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no download in {folder}: {list(folder.iterdir())}")


def test_kpi_page_for_the_leadership(dash_duo, settings, db_conn, web_users, tmp_path):
    fill_province(db_conn)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    app = create_app(settings)
    dash_duo.start_server(app)
    user = web_users["leadership"]
    login(dash_duo, user.username, user.password, next_url="/kpi")
    dash_duo.driver.get(dash_duo.server_url + "/kpi")
    dash_duo.wait_for_element("#kpi-tile-aqi_today", timeout=15)
    assert dash_duo.find_element("h1").text == "Chỉ số điều hành của tỉnh"
    dash_duo.wait_for_text_to_equal("#kpi-value-flood_alarms_active .kpi-tile-number", "1")
    assert "Số liệu 2020" in dash_duo.find_element("#kpi-tile-egov_services_full_pct").text
    assert "Toàn tỉnh" in dash_duo.find_element("#kpi-unit-table").text
    # the unit map (offline style, circle-free choropleth) and four trend charts
    _wait_graphs(dash_duo, "#kpi-map .maplibregl-canvas", 1)
    _wait_graphs(dash_duo, "#kpi-trends .js-plotly-plot", 4)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.set_window_size(1920, 2600)
    time.sleep(1.0)  # let the map finish drawing before the picture
    dash_duo.driver.save_screenshot(str(SHOTS / "kpi-vi.png"))
    dash_duo.driver.set_window_size(1920, 1080)
    # 90 days: the charts are redrawn; the export button downloads the KPI rows as CSV
    dash_duo.find_element("#kpi-range input[value='90']").click()
    _wait_graphs(dash_duo, "#kpi-trends .js-plotly-plot", 4)
    dash_duo.driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    dash_duo.find_element("#kpi-export-button").click()
    exported = _wait_download(downloads)
    assert exported.name.startswith("chi-so-dieu-hanh-") and exported.name.endswith("-90d.csv")
    text = exported.read_bytes().decode("utf-8")
    assert text.startswith("\ufeffkpi_id,kpi,group,unit_id")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    province_days = {r["period_start"] for r in rows
                     if r["kpi_id"] == "aqi_today" and r["unit_id"] == ""}
    assert len(province_days) == DAYS  # every day of data within the 90 chosen
    full = [(r["period_start"], r["value"], r["numerator"], r["denominator"])
            for r in rows if r["kpi_id"] == "egov_services_full_pct"]
    assert full == [("2019-01-01", "27.2", "544", "2000"), ("2020-01-01", "37", "753", "2018")]
    exported_kpis = {r["kpi_id"] for r in rows}
    assert {"aqi_today", "flood_alarms_active", "devices_online_pct", "dx_tasks_done_pct",
            "ict_index_rank"} <= exported_kpis
    # the printable report, then the page in English
    dash_duo.find_element("#kpi-report-link").click()
    dash_duo.wait_for_element("#kpi-report-units", timeout=15)
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
    assert "Whole province" in dash_duo.find_element("#kpi-unit-table").text
    _wait_graphs(dash_duo, "#kpi-map .maplibregl-canvas", 1)
    dash_duo.driver.save_screenshot(str(SHOTS / "kpi-en.png"))
    assert dash_duo.get_logs() == []


def test_kpi_page_is_refused_to_the_police(dash_duo, settings, web_users):
    app = create_app(settings)
    dash_duo.start_server(app)
    user = web_users["police"]
    login(dash_duo, user.username, user.password)
    dash_duo.driver.get(dash_duo.server_url + "/kpi")
    dash_duo.wait_for_element("#app-forbidden", timeout=10)
    assert "Công an" in dash_duo.find_element("#app-forbidden").text  # the role, named
    assert not dash_duo.find_elements("#kpi-tile-aqi_today")
    assert not dash_duo.find_elements("#kpi-export-button")
