"""The police review page in a real Chromium, during the incident scenario: the queue starts
with the wanted plate's sightings and the fire, ordinary detections stay out of it, an
officer verifies, dismisses and exports a bundle that verifies, keeps the watchlist, and
follows the wanted plate; an operator gets nothing."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from evidence.verify import format_report, verify_bundle
from tests.fixtures.fix_web import login
from tests.integration.test_police_ingest import seed_incident_scenario
from tests.integration.test_police_queue import seed_queue_scenario
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


def rows_text(dash_duo, column: str) -> list[str]:
    return [el.text.strip() for el in
            dash_duo.find_elements(f"#police-table td[data-dash-column='{column}']")]


def export_in_browser(dash_duo) -> bytes:
    """Submits the page's export form as the browser would (its CSRF field included) and
    returns the ZIP it answers with."""
    b64 = dash_duo.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const form = document.querySelector('.police-export-form');"
        "fetch(form.action, {method: 'POST', body: new FormData(form)})"
        ".then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status))"
        ".then(b => { let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x));"
        "  done(btoa(s)); }).catch(e => done('ERROR ' + e));")
    assert not b64.startswith("ERROR"), b64
    return base64.b64decode(b64)


def audit_actions(db_conn, prefix: str) -> list[tuple]:
    with db_conn.transaction():
        return db_conn.execute(
            "SELECT actor, action, target FROM audit_log WHERE action LIKE %s ORDER BY id",
            (prefix + "%",)).fetchall()


def test_police_works_the_queue_of_decisions(dash_duo, settings, db_conn, web_users, tmp_path):
    from evidence.signing import generate_key_file, public_key_from_pem
    from ioc.config.models import EvidenceSettings

    key_file = tmp_path / "evidence-key.pem"
    generate_key_file(key_file)
    settings = settings.model_copy(update={
        "evidence": EvidenceSettings(signing_key_file=key_file)})
    seeded = seed_queue_scenario(db_conn)  # the wanted plate on the list, 40 ordinary detections
    dash_duo.start_server(make_app(settings))
    police = web_users["police"]
    login(dash_duo, police.username, police.password, "/police")
    dash_duo.wait_for_contains_text("h1", "Xác minh sự vụ từ camera", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "6 sự vụ cần quyết định", timeout=15)
    assert dash_duo.find_element("#app-nav-police").text == "Xác minh camera"

    # the wanted plate's banner above everything; its rows first, then the fire
    dash_duo.wait_for_contains_text("#police-banner-hit", "BIỂN SỐ TRUY TÌM", timeout=15)
    assert "24A" in dash_duo.find_element("#police-banner-hit").text
    wait_until(dash_duo, lambda: len(rows_text(dash_duo, "type_text")) == 6)
    assert rows_text(dash_duo, "priority_text")[:4] == ["TRUY TÌM"] * 4
    assert rows_text(dash_duo, "type_text")[4] == "Cháy"
    assert rows_text(dash_duo, "type_text")[5] == "Ẩu đả"
    # ordinary detections are counted, not queued (a car is there only as a wanted plate)
    types = rows_text(dash_duo, "type_text")
    assert not set(types) & {"Người", "Xe máy"}
    assert all(p == "TRUY TÌM" for p, k in zip(rows_text(dash_duo, "priority_text"), types,
                                                strict=True) if k == "Ô tô")
    dash_duo.wait_for_contains_text("#police-detections", "46 phát hiện", timeout=15)
    dash_duo.wait_for_contains_text("#police-detections", "không vào hàng chờ: 40", timeout=15)
    # a hit row is coloured apart from the rest
    colours = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#police-table td[data-dash-column=type_text]')]"
        ".map(td => getComputedStyle(td).backgroundColor);")
    assert colours[0] != colours[5] and colours[4] != colours[5]
    shot(dash_duo, "police-queue-vi.png")

    # the banner opens the newest sighting; the plate path over four cameras still works
    dash_duo.find_element("#police-banner-open").click()
    dash_duo.wait_for_contains_text("#police-hit-pill", "TRUY TÌM", timeout=10)
    dash_duo.wait_for_contains_text("#police-watch-reason-fact", "cướp tài sản", timeout=10)
    wait_until(dash_duo, lambda: len(dash_duo.find_elements("#police-plate-path label")) == 4,
               message="plate path not shown")
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script(
        "const g = document.querySelector('#police-map .js-plotly-plot');"
        "return !!g && !!g.data && g.data.some(t => t.name === 'path' && t.lon.length === 4);"),
        message="path not on the map")
    wait_until(dash_duo, lambda: image_loaded(dash_duo, "#police-snapshot"))
    shot(dash_duo, "police-plate-vi.png")  # the one in docs/screenshots/police-vi.png

    # the fire: snapshot, verify with a reason, export a bundle that verifies
    cell(dash_duo, "type_text", "Cháy").click()
    dash_duo.wait_for_contains_text("#police-detail-title", "Chợ Cốc Lếu", timeout=30)
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
    dash_duo.wait_for_contains_text("#police-count", "5 sự vụ cần quyết định", timeout=10)
    bundle = export_in_browser(dash_duo)
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    jpegs = [n for n in names if n.endswith(".jpg")]
    assert jpegs and zipfile.ZipFile(io.BytesIO(bundle)).read(jpegs[0])[:3] == b"\xff\xd8\xff"
    # checked with the public key the deployment publishes, as a court would
    public_key = public_key_from_pem(dash_duo.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/evidence/public-key.pem').then(r => r.text()).then(done);").encode())
    report = verify_bundle(bundle, public_key=public_key)
    assert report.ok and report.signature == "valid" and report.origin_proven, \
        format_report(report, "bundle.zip")
    assert audit_actions(db_conn, "evidence.export") == [
        (police.username, "evidence.export", f"incident:{seeded['fire']}")]
    shot(dash_duo, "police-verify-vi.png")

    # the fight: dismissed with a reason, it leaves the queue
    cell(dash_duo, "type_text", "Ẩu đả").click()
    dash_duo.wait_for_contains_text("#police-detail-title", "Chợ đêm Sa Pa", timeout=10)
    dash_duo.find_element("#police-act-reason").send_keys("Trò chơi của trẻ em, không phải ẩu đả")
    dash_duo.find_element("#police-act-dismiss").click()
    dash_duo.wait_for_text_to_equal("#police-act-result", "Đã loại bỏ sự vụ.", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "4 sự vụ cần quyết định", timeout=10)

    # the watchlist: add a plate seen today (its sighting becomes a hit, with a sound when
    # the officer asked for one), then remove it; both audited
    with db_conn.transaction():
        (seen,) = db_conn.execute("SELECT plate FROM camera_incidents WHERE plate LIKE '24B-%' "
                                  "ORDER BY event_id LIMIT 1").fetchone()
    key = seen.replace("-", "").replace(".", "")
    dash_duo.find_element("#police-sound input").click()
    dash_duo.find_element("#police-watch-summary").click()
    dash_duo.wait_for_contains_text("#police-watch-list", "24A-686.68", timeout=10)
    dash_duo.find_element("#police-act-watch-add").click()  # nothing typed: refused
    dash_duo.wait_for_contains_text("#police-watch-result", "plate: empty", timeout=10)
    dash_duo.find_element("#police-watch-plate").send_keys(seen)
    dash_duo.find_element("#police-watch-reason").send_keys("Xe bị mất cắp")
    dash_duo.find_element("#police-act-watch-add").click()
    dash_duo.wait_for_contains_text("#police-watch-result", f"Đã thêm {seen}", timeout=10)
    dash_duo.wait_for_contains_text("#police-watch-list", "Xe bị mất cắp", timeout=10)
    dash_duo.wait_for_element("#police-sound-audio", timeout=15)  # a sighting not heard before
    wait_until(dash_duo, lambda: seen in rows_text(dash_duo, "plate"), timeout=15,
               message="the new hit is not in the queue")
    shot(dash_duo, "police-watchlist-vi.png")
    dash_duo.select_dcc_dropdown("#police-watch-pick", seen)
    dash_duo.find_element("#police-act-watch-remove").click()
    dash_duo.wait_for_contains_text("#police-watch-result", f"Đã gỡ {seen}", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "4 sự vụ cần quyết định", timeout=10)
    assert audit_actions(db_conn, "watchlist.") == [
        ("police1", "watchlist.add", "plate:24A68668"),
        (police.username, "watchlist.add", f"plate:{key}"),
        (police.username, "watchlist.remove", f"plate:{key}"),
    ]

    # the search finds ordinary detections too, by plate
    dash_duo.find_element("#police-view input[value='all']").click()
    dash_duo.find_element("#police-plate-search").send_keys("24a68668\n")
    dash_duo.wait_for_contains_text("#police-count", "4 phát hiện", timeout=10)

    # English on request
    dash_duo.driver.get(dash_duo.server_url + "/police?lang=en")
    dash_duo.wait_for_contains_text("h1", "Camera incident review", timeout=10)
    dash_duo.wait_for_contains_text("#police-count", "4 incidents to decide", timeout=15)
    dash_duo.wait_for_contains_text("#police-banner-hit", "WANTED PLATE", timeout=15)
    shot(dash_duo, "police-queue-en.png")
    assert seeded["fight"]
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
