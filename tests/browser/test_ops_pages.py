"""The operations pages in a real Chromium, logged in: live map with side panel, alert feed
with actions, device health, wall display at 1080p and 4K; every role; no request leaves
127.0.0.1 and the console stays clean."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder

from alerts import lifecycle
from dashboards.app import create_app
from ioc.live import LatestValue, LiveState, open_redis
from tests.fixtures.fix_web import login
from tests.integration.test_dash_ops_data import fill_province

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"

# The map's figure as the browser has it: hover text of one device, found by its id.
HOVER_OF = """
const gd = document.querySelector('#ops-map .js-plotly-plot');
if (!gd || !gd.data) return null;
for (const trace of gd.data) {
  const i = (trace.customdata || []).indexOf(arguments[0]);
  if (i >= 0) return trace.hovertext[i];
}
return null;
"""

# Viewport pixel of a device's marker (MapLibre projects lon/lat to the map's canvas).
MARKER_AT = """
const gd = document.querySelector('#ops-map .js-plotly-plot');
const map = gd._fullLayout.map._subplot.map;
const p = map.project([arguments[0], arguments[1]]);
const box = map.getCanvas().getBoundingClientRect();
return [box.left + p.x, box.top + p.y];
"""


@pytest.fixture
def province(settings, db_conn):
    live = LiveState(open_redis(settings.redis), settings.redis)
    ids = fill_province(db_conn, live)
    yield live, ids
    live.r.close()


def _wait(condition, timeout: float = 15, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# The tables are redrawn at every live refresh: an element found a moment ago may be gone
# ("stale") when it is read or clicked, more often the more loaded the machine. Read rows in
# one script call, and retry a click on a fresh element until a deadline.
ROW_TEXTS = """
return Array.from(document.querySelectorAll(arguments[0])).map(r => r.innerText);
"""


def _texts(dash_duo, selector: str) -> list[str]:
    return dash_duo.driver.execute_script(ROW_TEXTS, selector)


def _click(dash_duo, selector: str, timeout: float = 30) -> None:
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        NoSuchElementException,
        StaleElementReferenceException,
    )

    deadline = time.monotonic() + timeout
    while True:
        try:
            dash_duo.driver.find_element("css selector", selector).click()
            return
        except (StaleElementReferenceException, NoSuchElementException,
                ElementClickInterceptedException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _click_until(dash_duo, selector: str, done, timeout: float = 60, what: str = "") -> None:
    """Click until `done()`: a click on a table row that a refresh replaces at that moment is
    lost without an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _click(dash_duo, selector, timeout=max(1.0, deadline - time.monotonic()))
        step = time.monotonic() + 10
        while time.monotonic() < min(step, deadline):
            if done():
                return
            time.sleep(0.2)
    raise AssertionError(f"timed out clicking {selector} for {what or 'its effect'}")


def _content(dash_duo, selector: str) -> str:
    """An element's text even when hidden: resolving an alert hides the action bar (and the
    result message in it) at the next refresh, so a visible-text check raced that refresh."""
    return dash_duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
        selector)


def _only_local_requests(dash_duo) -> None:
    names = dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(performance.getEntriesByType('navigation').map(e => e.name))"
    )
    outside = [n for n in names if not n.startswith((dash_duo.server_url, "data:", "blob:"))]
    assert names and outside == []


def _viewport(dash_duo, width: int, height: int) -> None:
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _start(dash_duo, settings, web_users, role: str, path: str) -> None:
    dash_duo.start_server(create_app(settings))
    user = web_users[role]
    login(dash_duo, user.username, user.password, next_url=path)
    dash_duo.driver.get(dash_duo.server_url + path)


def test_map_live_updates_and_side_panel(dash_duo, settings, web_users, province):
    live, ids = province
    _start(dash_duo, settings, web_users, "operator", "/ops")
    dash_duo.wait_for_element("#ops-map .maplibregl-canvas", timeout=45)
    assert dash_duo.find_element("h1").text == "Bản đồ vận hành"
    _wait(
        lambda: "82,60 m" in (dash_duo.driver.execute_script(HOVER_OF, "wl-lc") or ""),
        timeout=45,
        what="the water level on the map",
    )
    # a new reading reaches the map without a reload, as a patch of that one point
    now = time.time()
    live.record(
        [LatestValue("wl-lc", "water_level_m", 83.9, now)],
        [{"type": "readings", "readings": [["wl-lc", "water_level_m", 83.9, now]]}],
    )
    _wait(
        lambda: "83,90 m" in (dash_duo.driver.execute_script(HOVER_OF, "wl-lc") or ""),
        timeout=30,
        what="the new reading on the map",
    )
    assert "Báo động III" in dash_duo.driver.execute_script(HOVER_OF, "wl-lc")
    # the overview lists the open alerts; a click on a marker opens the device
    dash_duo.wait_for_contains_text("#ops-overview", "cam-mk: fire", timeout=30)
    x, y = dash_duo.driver.execute_script(MARKER_AT, 103.80, 22.60)
    ActionChains(dash_duo.driver).move_by_offset(0, 0).perform()
    builder = ActionBuilder(dash_duo.driver)
    builder.pointer_action.move_to_location(int(x), int(y)).click()
    builder.perform()
    dash_duo.wait_for_contains_text("#ops-device-head", "Cảnh báo sạt lở Bản Xèo", timeout=30)
    assert "Độ ẩm đất (%)" in dash_duo.find_element("#ops-device-values").text
    dash_duo.wait_for_element("#ops-chart .main-svg", timeout=30)
    # a device with an open alert: acknowledge it from the panel
    dash_duo.driver.get(dash_duo.server_url + "/ops?device=cam-mk")
    dash_duo.wait_for_contains_text("#ops-device-head", "Chợ Cốc Lếu", timeout=30)
    dash_duo.wait_for_element(f"#ops-alert-pick input[value='{ids['fire']}']", timeout=30).click()
    dash_duo.find_element("#ops-act-ack").click()
    dash_duo.wait_for_contains_text("#ops-act-result", f"#{ids['fire']}", timeout=30)
    dash_duo.wait_for_contains_text("#ops-alert-pick", "Đã tiếp nhận", timeout=30)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "ops-vi.png"))
    # layers switch off and on without a round trip to rebuild the map
    dash_duo.find_element("#ops-layers input[value='water']").click()
    _wait(
        lambda: dash_duo.driver.execute_script(
            "const gd = document.querySelector('#ops-map .js-plotly-plot');"
            "return gd.data.find(t => t.name === 'water').visible === false"
        ),
        timeout=30,
        what="layer off",
    )
    # English
    dash_duo.find_element("#ops-lang").click()
    dash_duo.wait_for_text_to_equal("h1", "Operations map", timeout=30)
    _wait(
        lambda: "Alarm III" in (dash_duo.driver.execute_script(HOVER_OF, "wl-lc") or ""),
        timeout=30,
        what="English hover text",
    )
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_feed_filters_and_actions(dash_duo, settings, web_users, province, db_conn):
    _live, ids = province
    _start(dash_duo, settings, web_users, "operator", "/feed")
    dash_duo.wait_for_contains_text("#feed-table", "cam-mk: fire", timeout=60)
    rows = _texts(dash_duo, "#feed-table tbody tr")
    assert len(rows) == 4  # header + three alerts, most severe first
    assert "cam-mk: fire" in rows[1] and "cnt-sq: crowd" in rows[3]
    # filter by severity, then pick the row
    dash_duo.select_dcc_dropdown("#feed-severity", value="Khẩn cấp")
    _wait(lambda: len(_texts(dash_duo, "#feed-table tbody tr")) == 2, timeout=60,
          what="filter")
    _click(dash_duo, "h1")  # close the dropdown's menu
    time.sleep(0.3)
    _click_until(dash_duo, "#feed-table tbody tr:nth-child(2) td:nth-child(3)",
                 lambda: "cam-mk: fire" in _content(dash_duo, "#feed-detail"),
                 what="the alert's detail")
    _click(dash_duo, "#feed-act-ack")
    dash_duo.wait_for_contains_text("#feed-act-result", "Đã cập nhật", timeout=60)
    dash_duo.wait_for_contains_text("#feed-table", "Đã tiếp nhận", timeout=60)
    # closing needs a note
    _click(dash_duo, "#feed-act-resolve")
    dash_duo.wait_for_contains_text("#feed-act-result", "Cần ghi chú", timeout=60)
    dash_duo.find_element("#feed-act-note").send_keys("Đã dập lửa, PCCC xác nhận")
    _click(dash_duo, "#feed-act-resolve")
    _wait(lambda: "Đã cập nhật" in _content(dash_duo, "#feed-act-result"), timeout=60,
          what="the resolve confirmed")
    dash_duo.wait_for_contains_text("#feed-detail", "Đã dập lửa", timeout=60)
    status = db_conn.execute(
        "SELECT status, resolved_by FROM alerts WHERE id = %s", (ids["fire"],)
    ).fetchone()
    assert status == ("resolved", "t-operator")
    db_conn.commit()
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "feed-vi.png"))
    _click(dash_duo, "#feed-lang")
    dash_duo.wait_for_text_to_equal("h1", "Alert feed", timeout=60)
    dash_duo.wait_for_contains_text("#feed-table", "Severe", timeout=60)
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_device_health(dash_duo, settings, web_users, province):
    _start(dash_duo, settings, web_users, "leadership", "/devices")
    dash_duo.wait_for_contains_text("#devices-silent-table", "Trạm thời tiết Y Tý", timeout=15)
    assert dash_duo.find_element("#devices-silent").text == "1"
    assert dash_duo.find_element("#devices-total").text == "8"
    assert "Kịp thời" in dash_duo.find_element("#devices-feed-environment").text
    assert "Kịp thời" in dash_duo.find_element("#devices-feed-tourism").text  # counted 10 s ago
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "devices-vi.png"))
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_wall_extreme_strip_views_and_4k(dash_duo, settings, web_users, province, db_conn):
    _live, ids = province
    _start(dash_duo, settings, web_users, "operator", "/wall?view=map")
    _viewport(dash_duo, 1920, 1080)
    # the open extreme alert (a fire) is named beside the map until someone acknowledges it
    dash_duo.wait_for_contains_text("#wall-extreme-list", "cam-mk: fire", timeout=15)
    assert not dash_duo.find_elements(".wall-takeover")
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "wall-extreme-1920.png"))
    db_conn.autocommit = True
    lifecycle.acknowledge(db_conn, ids["fire"], "t-operator", "đang xử lý")
    _wait(
        lambda: not dash_duo.find_elements("#wall-extreme-list"),
        what="the strip to empty",
    )
    dash_duo.wait_for_element("#wall-map .maplibregl-canvas", timeout=15)
    dash_duo.wait_for_contains_text("#wall-alerts", "wl-lc: water", timeout=10)
    assert "hidden" in dash_duo.find_element("#wall-stale-alerts").get_attribute("class")
    time.sleep(1.5)  # let the map draw
    dash_duo.driver.save_screenshot(str(SHOTS / "wall-1920.png"))
    size = dash_duo.driver.execute_script(
        "const s = getComputedStyle(document.querySelector('.wall-clock'));"
        "return parseFloat(s.fontSize);"
    )
    _viewport(dash_duo, 3840, 2160)
    _wait(
        lambda: (
            dash_duo.driver.execute_script(
                "return parseFloat(getComputedStyle(document.querySelector('.wall-clock')).fontSize)"
            )
            >= 1.9 * size
        ),
        what="the wall to scale up",
    )
    time.sleep(2.5)  # the map is refitted to the larger screen
    dash_duo.driver.save_screenshot(str(SHOTS / "wall-3840.png"))
    # the water view, pinned
    dash_duo.driver.get(dash_duo.server_url + "/wall?view=water")
    dash_duo.wait_for_contains_text("#wall-body-water", "Lào Cai", timeout=15)
    assert "Báo động II" in dash_duo.find_element("#wall-body-water").text
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


@pytest.mark.parametrize("role", ["operator", "leadership", "admin", "police"])
def test_each_role_on_each_page(dash_duo, settings, web_users, province, role):
    dash_duo.start_server(create_app(settings))
    user = web_users[role]
    login(dash_duo, user.username, user.password)
    markers = {
        "/ops": "#ops-map",
        "/feed": "#feed-table",
        "/devices": "#devices-body",
        "/wall": "#wall-root",
    }
    for path, marker in markers.items():
        dash_duo.driver.get(dash_duo.server_url + path)
        if role == "police":
            dash_duo.wait_for_element("#app-forbidden", timeout=10)
            assert not dash_duo.find_elements(marker), (role, path)
        else:
            dash_duo.wait_for_element(marker, timeout=15)
            if path == "/feed":
                dash_duo.wait_for_contains_text("#feed-table", "cam-mk: fire", timeout=10)
                assert bool(dash_duo.find_elements("#feed-act-ack")) == (role != "leadership")
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []
