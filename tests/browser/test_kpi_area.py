"""The KPI page's area filter and target form in a real Chromium at 1920x1080: choosing one
unit changes the tiles and the table and puts the area in the address; a shared link opens
on that area; the open controls (area menu, date picker) are drawn in the dark theme."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from dashboards.app import create_app
from tests.fixtures.fix_web import login
from tests.integration.test_kpi_page_data import fill_province

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"
UNIT, UNIT_NAME = "02647", "Phường Lào Cai"


def _text(dash_duo, css: str) -> str:
    return dash_duo.find_element(css).text


def _wait(predicate, timeout: float = 15, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


def _background(driver, element) -> tuple[int, int, int]:
    colour = driver.execute_script(
        "let e = arguments[0]; while (e) { const c = getComputedStyle(e).backgroundColor;"
        " if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;"
        " e = e.parentElement; } return 'rgb(255, 255, 255)';", element)
    parts = colour[colour.index("(") + 1:colour.index(")")].split(",")
    return tuple(int(float(p)) for p in parts[:3])


def _dark(rgb) -> bool:
    return sum(rgb) / 3 < 80


def test_choosing_a_unit_changes_tiles_table_and_link(dash_duo, settings, db_conn, web_users):
    fill_province(db_conn)
    app = create_app(settings)
    dash_duo.start_server(app)
    user = web_users["leadership"]
    login(dash_duo, user.username, user.password, next_url="/kpi")
    driver = dash_duo.driver
    # a 1920x1080 page (the window's own bars not counted)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    driver.get(dash_duo.server_url + "/kpi")
    dash_duo.wait_for_element("#kpi-tile-incidents_today", timeout=15)
    province_incidents = _text(dash_duo, "#kpi-value-incidents_today")
    assert "Toàn tỉnh" in _text(dash_duo, "#kpi-area-name")
    assert "37,0" in _text(dash_duo, "#kpi-value-egov_services_full_pct")
    rows = len(dash_duo.find_elements("#kpi-unit-table tbody tr"))
    SHOTS.mkdir(exist_ok=True)
    # the area menu, open: dark, legible
    dash_duo.find_element("#kpi-area").click()
    dash_duo.wait_for_element(".dash-dropdown-option", timeout=10)
    time.sleep(0.5)
    driver.save_screenshot(str(SHOTS / "kpi-area-menu.png"))
    option = next(o for o in dash_duo.find_elements(".dash-dropdown-option")
                  if "Nhóm: các xã, phường thuộc tỉnh Yên Bái" in o.text)
    assert _dark(_background(driver, option))
    search = dash_duo.find_element(".dash-dropdown-search")
    search.send_keys(UNIT_NAME)
    _wait(lambda: any(o.text.strip() == UNIT_NAME
                      for o in dash_duo.find_elements(".dash-dropdown-option")),
          what="the unit among the options")
    next(o for o in dash_duo.find_elements(".dash-dropdown-option")
         if o.text.strip() == UNIT_NAME).click()
    dash_duo.find_element("h1").click()  # close the menu
    _wait(lambda: UNIT_NAME in _text(dash_duo, "#kpi-area-name"), what="the area's name")
    _wait(lambda: "Chỉ có số liệu toàn tỉnh" in _text(dash_duo, "#kpi-tile-egov_services_full_pct"),
          what="the province-only tile")
    assert _text(dash_duo, "#kpi-value-incidents_today") != province_incidents
    table_rows = dash_duo.find_elements("#kpi-unit-table tbody tr")
    assert len(table_rows) == 1 < rows and UNIT_NAME in table_rows[0].text
    _wait(lambda: f"area={UNIT}" in driver.current_url, what="the area in the address")
    assert f"area={UNIT}" in dash_duo.find_element("#kpi-pdf-link").get_attribute("href")
    # a shared link opens on that area
    driver.get(dash_duo.server_url + "/kpi?area=g:former-15")
    dash_duo.wait_for_element("#kpi-tile-incidents_today", timeout=15)
    assert "Yên Bái" in _text(dash_duo, "#kpi-area-name")
    assert "Cả khu vực (51 xã, phường)" in _text(dash_duo, "#kpi-unit-table")  # its total
    assert "Không cộng gộp được" in _text(dash_duo, "#kpi-tile-ack_median_min")
    driver.execute_script("document.getElementById('kpi-units').scrollIntoView()")
    time.sleep(1.0)
    driver.save_screenshot(str(SHOTS / "kpi-area-table.png"))
    # the target form (leadership): its date picker, open, is dark too
    driver.find_element(By.CSS_SELECTOR, "#kpi-targets summary").click()
    dash_duo.wait_for_element("#kpi-target-start", timeout=10)
    driver.execute_script("document.getElementById('kpi-targets').scrollIntoView()")
    dash_duo.find_element("#kpi-target-start").click()
    dash_duo.wait_for_element(".dash-datepicker-calendar", timeout=10)
    time.sleep(0.5)
    calendar = dash_duo.find_element(".dash-datepicker-calendar")
    assert _dark(_background(driver, calendar))
    driver.save_screenshot(str(SHOTS / "kpi-target-form.png"))
    dash_duo.find_element("h1").click()
    # the page at the top, a group chosen: the screenshot for docs/
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(1.0)
    driver.save_screenshot(str(SHOTS / "kpi-area-group.png"))
    assert dash_duo.get_logs() == []
