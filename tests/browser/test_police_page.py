"""The police review page in a real Chromium: a police officer walks the queue, looks at a
snapshot, verifies with a reason and follows the wanted plate; an operator gets nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.fix_web import login
from tests.integration.test_police_ingest import seed_incident_scenario
from tests.integration.test_police_web import make_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHOTS = Path(__file__).parent / "screenshots"


def wait_until(dash_duo, condition, timeout: float = 10, message: str = ""):
    return WebDriverWait(dash_duo.driver, timeout).until(lambda _d: condition(), message)


def cell(dash_duo, column: str, text: str):
    """The first queue cell of `column` whose text is `text`."""
    def find():
        for el in dash_duo.find_elements(f"#police-table td[data-dash-column='{column}']"):
            if el.text.strip() == text:
                return el
        return None

    return wait_until(dash_duo, find, message=f"no {column} cell {text!r}")


def image_loaded(dash_duo, selector: str) -> bool:
    return bool(dash_duo.driver.execute_script(
        "const i = document.querySelector(arguments[0]);"
        "return !!i && i.complete && i.naturalWidth > 0;", selector))


def shot(dash_duo, name: str) -> Path:
    """A screenshot with the page and its panels scrolled back to the top."""
    dash_duo.driver.execute_script(
        "window.scrollTo(0, 0);"
        "document.querySelectorAll('.ops-side-panel').forEach(p => { p.scrollTop = 0; });")
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    dash_duo.driver.save_screenshot(str(path))
    return path


def test_police_walks_the_queue(dash_duo, settings, db_conn, web_users):
    seeded = seed_incident_scenario(db_conn)
    dash_duo.start_server(make_app(settings))
    police = web_users["police"]
    login(dash_duo, police.username, police.password, "/police")
    dash_duo.wait_for_contains_text("h1", "Xác minh sự vụ từ camera", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "6 sự vụ, 6 chưa xác minh", timeout=15)
    assert dash_duo.find_element("#app-nav-police").text == "Xác minh camera"

    # the fire at Cốc Lếu market: snapshot, facts, verify with a reason
    cell(dash_duo, "type_text", "Cháy").click()
    dash_duo.wait_for_contains_text("#police-detail-title", "Chợ Cốc Lếu", timeout=10)
    wait_until(dash_duo, lambda: image_loaded(dash_duo, "#police-snapshot"),
               message="snapshot not shown")
    dash_duo.find_element("#police-act-verify").click()  # no reason: refused
    dash_duo.wait_for_text_to_equal("#police-act-result", "Cần nhập lý do xác minh hoặc loại bỏ.",
                                    timeout=10)
    dash_duo.find_element("#police-act-reason").send_keys("Có khói thật, đã báo PCCC")
    dash_duo.find_element("#police-act-verify").click()
    dash_duo.wait_for_text_to_equal("#police-act-result", "Đã xác minh sự vụ.", timeout=10)
    dash_duo.wait_for_text_to_equal("#police-state-badge", "ĐÃ XÁC MINH", timeout=10)
    dash_duo.wait_for_contains_text("#police-history", "Có khói thật", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "6 sự vụ, 5 chưa xác minh", timeout=10)
    dash_duo.find_element("#police-act-note-text").send_keys("Đã chuyển PCCC thành phố")
    dash_duo.find_element("#police-act-note").click()
    dash_duo.wait_for_contains_text("#police-notes", "Đã chuyển PCCC", timeout=10)
    dash_duo.wait_for_contains_text("#police-custody", "xác minh", timeout=10)
    shot(dash_duo, "police-verify-vi.png")

    # the wanted plate: its path over four cameras, on the list and on the map
    cell(dash_duo, "plate", "24A-686.68").click()
    dash_duo.wait_for_contains_text("#police-plate", "24A-686.68", timeout=10)
    wait_until(dash_duo, lambda: len(dash_duo.find_elements("#police-plate-path label")) == 4,
               message="plate path not shown")
    wait_until(dash_duo, lambda: "4 lần ghi nhận trên 4 camera" in dash_duo.find_element(
        "#police-plate-title").text.lower())  # shown in capitals
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script(
        "const g = document.querySelector('#police-map .js-plotly-plot');"
        "return !!g && !!g.data && g.data.some(t => t.name === 'path' && t.lon.length === 4);"),
        message="path not on the map")
    wait_until(dash_duo, lambda: image_loaded(dash_duo, "#police-snapshot"))
    # a sighting on the list opens that incident
    dash_duo.find_elements("#police-plate-path label")[3].click()
    dash_duo.wait_for_contains_text("#police-detail-title", "Cổng vào thị xã Sa Pa", timeout=10)
    wait_until(dash_duo, lambda: image_loaded(dash_duo, "#police-snapshot"))
    shot(dash_duo, "police-plate-vi.png")  # the one in docs/screenshots/police-vi.png

    # filters: fights only
    dash_duo.select_dcc_dropdown("#police-type", "Ẩu đả")
    dash_duo.wait_for_contains_text("#police-count", "1 sự vụ", timeout=10)
    assert cell(dash_duo, "camera", "Chợ đêm Sa Pa")

    # English on request
    dash_duo.driver.get(dash_duo.server_url + "/police?lang=en")
    dash_duo.wait_for_contains_text("h1", "Camera incident review", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "6 incidents, 5 unreviewed", timeout=15)
    cell(dash_duo, "type_text", "Fight").click()
    dash_duo.wait_for_contains_text("#police-detail-title", "Fight", timeout=10)
    wait_until(dash_duo, lambda: image_loaded(dash_duo, "#police-snapshot"))
    shot(dash_duo, "police-fight-en.png")
    assert seeded["fight"].split(":", 1)[1] in dash_duo.find_element("#police-detail").text
    assert dash_duo.get_logs() == []


def test_operator_gets_nothing(dash_duo, settings, db_conn, web_users):
    seeded = seed_incident_scenario(db_conn)
    dash_duo.start_server(make_app(settings))
    operator = web_users["operator"]
    login(dash_duo, operator.username, operator.password, "/police")
    dash_duo.wait_for_element("#app-forbidden", timeout=10)
    assert "Điều hành viên" in dash_duo.find_element("#app-forbidden").text
    assert not dash_duo.driver.find_elements(By.ID, "police-table")
    assert not dash_duo.driver.find_elements(By.ID, "app-nav-police")
    assert "24A-686" not in dash_duo.driver.page_source
    shot(dash_duo, "police-operator-vi.png")
    # the snapshot itself comes back blurred
    variant = dash_duo.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => done(r.status + ' ' + r.headers.get('X-Evidence-Variant')));",
        f"/evidence/snapshot/{seeded['fire_sha']}",
    )
    assert variant == "200 blurred"
    assert dash_duo.get_logs() == []
