"""The device registry page in a real Chromium: an admin searches, filters, opens a station,
changes its alarm levels with a reason and sees the new version; an operator only reads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboards.app import create_app
from ioc.devices.formats import parse_registry
from ioc.devices.store import import_entries
from ioc.live import LatestValue, LiveState, open_redis
from tests.fixtures.fix_web import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"
DATA = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data"


@pytest.fixture
def registry(settings, db_conn):
    for name in ("river_stations.yaml", "example.yaml"):
        entries = [e for _, e in parse_registry((DATA / name).read_bytes(), "yaml").entries]
        import_entries(db_conn, entries, actor="seed", source=name)
    now = time.time()
    db_conn.execute("INSERT INTO readings (time, device_id, metric, value, unit) "
                    "VALUES (to_timestamp(%s), 'wl-hong-lao-cai', 'water_level_m', 81.37, 'm')",
                    (now - 30,))
    db_conn.commit()
    live = LiveState(open_redis(settings.redis), settings.redis)
    live.record([LatestValue("wl-hong-lao-cai", "water_level_m", 81.37, now - 30),
                 LatestValue("wl-thao-yen-bai", "water_level_m", 29.1, now - 7200)], [])
    yield
    live.r.close()


def _start(dash_duo, settings, web_users, role: str) -> None:
    dash_duo.start_server(create_app(settings))
    user = web_users[role]
    login(dash_duo, user.username, user.password, next_url="/devices/registry")
    dash_duo.driver.get(dash_duo.server_url + "/devices/registry")


def _row(dash_duo, device_id: str):
    return dash_duo.driver.find_element(
        By.XPATH, f"//table[@id='devices-reg-table']//tr[td[2][text()='{device_id}']]")


def _retype(element, text: str) -> None:
    """Replace an input's text the way a person does (React sees every key)."""
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE)
    if text:
        element.send_keys(text)


def _only_local_requests(dash_duo) -> None:
    names = dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert [n for n in names if not n.startswith((dash_duo.server_url, "data:", "blob:"))] == []


def test_admin_finds_a_station_and_changes_its_levels(dash_duo, settings, web_users, registry):
    _start(dash_duo, settings, web_users, "admin")
    dash_duo.wait_for_contains_text("#devices-reg-table", "Trạm thủy văn Yên Bái", timeout=20)
    assert dash_duo.find_element("h1").text == "Danh mục thiết bị"
    assert dash_duo.find_element("#devices-reg-n-online").text == "1"
    assert dash_duo.find_element("#devices-reg-n-silent").text == "1"  # Yên Bái, 2 h quiet
    assert dash_duo.find_element("#devices-reg-n-never").text == "10"
    # Search narrows the table; the state filter too.
    search = dash_duo.find_element("#devices-reg-search")
    search.send_keys("lào cai")
    dash_duo.wait_for_text_to_equal("#devices-reg-count", "Hiển thị 2 / 12 thiết bị", timeout=15)
    _retype(search, "wl-hong-lao")
    dash_duo.wait_for_text_to_equal("#devices-reg-count", "Hiển thị 1 / 12 thiết bị", timeout=15)
    _row(dash_duo, "wl-hong-lao-cai").click()
    dash_duo.wait_for_contains_text("#devices-reg-facts", "80 / 82 / 83,50", timeout=15)
    dash_duo.wait_for_contains_text("#devices-reg-readings", "81,37", timeout=10)
    assert "Đang hoạt động" in dash_duo.find_element("#devices-reg-detail").text
    assert "chưa cấp" in dash_duo.find_element("#devices-reg-facts").text
    # New alarm levels need a reason; with one they are stored as version 2.
    _retype(dash_duo.find_element("#devices-form-level_1"), "80.4")
    dash_duo.find_element("#devices-act-save").click()
    dash_duo.wait_for_contains_text("#devices-reg-message", "Ghi lý do", timeout=10)
    dash_duo.find_element("#devices-form-reason").send_keys("Quyết định điều chỉnh 2026")
    dash_duo.find_element("#devices-act-save").click()
    dash_duo.wait_for_contains_text("#devices-reg-message", "Đã lưu", timeout=10)
    dash_duo.wait_for_contains_text("#devices-reg-history", "v2", timeout=10)
    history = dash_duo.find_element("#devices-reg-history").text
    assert "80,40 / 82 / 83,50" in history and "Quyết định điều chỉnh 2026" in history
    assert "t-admin" in history
    _retype(search, "")
    dash_duo.wait_for_text_to_equal("#devices-reg-count", "Hiển thị 12 / 12 thiết bị", timeout=15)
    dash_duo.driver.execute_script("document.querySelector('.reg-side').scrollTop = 0")
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "devices-registry-vi.png"))
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_operator_reads_only(dash_duo, settings, web_users, registry):
    _start(dash_duo, settings, web_users, "operator")
    dash_duo.wait_for_contains_text("#devices-reg-table", "Trạm thủy văn Bảo Hà", timeout=20)
    _row(dash_duo, "wl-thao-yen-bai").click()
    dash_duo.wait_for_contains_text("#devices-reg-detail", "Mất tín hiệu", timeout=15)
    assert "Chỉ quản trị viên được sửa." in dash_duo.find_element("#devices-reg-form").text
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#devices-act-save") == []
    dash_duo.driver.get(dash_duo.server_url + "/devices/registry?lang=en")
    dash_duo.wait_for_text_to_equal("h1", "Device registry", timeout=15)
    dash_duo.wait_for_contains_text("#devices-reg-table", "Never connected", timeout=15)
    assert dash_duo.get_logs() == []
