"""A flood night in a real Chromium: the wall never hides the map and a pinned screen keeps
its view; the feed starts with the extreme unacknowledged alerts and the selection stays on
its alert across refreshes; resolving a still-high station re-opens the same alert; the
admin's "Mở khoá" really unlocks a locked-out user."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alerts import lifecycle
from alerts.store import AlertDraft, open_or_update
from alerts.worker import evaluate_once, load_devices
from dashboards.app import create_app
from ioc.live import LatestValue, LiveState, open_redis
from ioc.security import users
from tests.browser.test_ops_pages import (
    _click,
    _click_until,
    _content,
    _only_local_requests,
    _start,
    _texts,
    _viewport,
    _wait,
)
from tests.fixtures.fix_web import login
from tests.integration.test_dash_ops_data import fill_province

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"

# the map view's middle: whatever the browser draws on top there is what the room sees
TOP_AT_STAGE = """
const stage = document.querySelector('.wall-stage').getBoundingClientRect();
const el = document.elementFromPoint(stage.left + stage.width / 2, stage.top + stage.height / 2);
return el ? !!el.closest('.wall-stage') : false;
"""
ACTIVE_VIEW = "return document.querySelector('.wall-view.active').id"


def _flood(conn, live):
    """fill_province plus a flood night: five extreme, four severe alerts, some taken on."""
    ids = fill_province(conn, live)
    now_sql = "UPDATE alerts SET opened_at = now() - make_interval(mins => %s) WHERE id = %s"
    for n, (severity, minutes, ack) in enumerate([
        ("extreme", 50, False), ("extreme", 40, True), ("extreme", 30, False),
        ("extreme", 20, False), ("severe", 55, False), ("severe", 45, True),
        ("severe", 15, False), ("moderate", 5, False),
    ]):
        alert_id = open_or_update(conn, AlertDraft(
            rule_id="flood_demo", subject=f"st-{n}", kind="water_level", severity=severity,
            title=f"Trạm {n}: lũ {severity}", family="disaster", unit_id="bat_xat",
            device_id=f"st-{n}", value=84.0)).alert_id
        conn.execute(now_sql, (minutes, alert_id))
        if ack:
            lifecycle.acknowledge(conn, alert_id, "t-operator")
        ids[f"st-{n}"] = alert_id
    conn.commit()
    return ids


@pytest.fixture
def flood(settings, db_conn):
    live = LiveState(open_redis(settings.redis), settings.redis)
    ids = _flood(db_conn, live)
    db_conn.autocommit = True
    yield live, ids
    live.r.close()


def _rows(dash_duo) -> list[str]:
    # one script call: the rows are redrawn at every refresh (no stale elements)
    return _texts(dash_duo, "#feed-table tbody tr")[1:]


def _highlighted(dash_duo) -> str | None:
    return dash_duo.driver.execute_script(
        "const c = document.querySelector('#feed-table td.focused');"
        "return c ? c.parentElement.innerText : null;")


def _text(dash_duo, selector: str) -> str:
    return dash_duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
        selector)


def test_feed_triage_and_selection_across_refreshes(dash_duo, settings, web_users, flood,
                                                     db_conn):
    _live, ids = flood
    _start(dash_duo, settings, web_users, "operator", "/feed")
    _viewport(dash_duo, 1920, 1080)
    dash_duo.wait_for_contains_text("#feed-table", "Trạm 0", timeout=60)
    rows = _rows(dash_duo)
    # the first rows are the extreme unacknowledged ones, waiting longest first
    assert ["Trạm 0" in rows[0], "Trạm 2" in rows[1], "Trạm 3" in rows[2]] == [True] * 3, rows
    assert "cam-mk: fire" in rows[3]
    assert all("Khẩn cấp" in r and "Mới" in r for r in rows[:4]), rows[:4]
    assert "Trạm 1" in rows[4] and "Đã tiếp nhận" in rows[4]  # extreme, taken on
    # this desk console chimes for new extreme alerts
    _click(dash_duo, "#feed-sound input")
    # pick "Trạm 3"; then the rows move under it (one acknowledged, an older one arrives)
    _click_until(dash_duo, "#feed-table tbody tr:nth-child(4) td:nth-child(3)",
                 lambda: "Trạm 3" in _content(dash_duo, "#feed-detail"),
                 what="the detail of Trạm 3")
    lifecycle.acknowledge(db_conn, ids["st-0"], "t-other")
    older = open_or_update(db_conn, AlertDraft(
        rule_id="flood_demo", subject="st-old", kind="water_level", severity="extreme",
        title="Trạm cũ: lũ extreme", family="disaster", unit_id="bat_xat")).alert_id
    db_conn.execute("UPDATE alerts SET opened_at = now() - interval '3 hours' WHERE id = %s",
                    (older,))
    _wait(lambda: "Trạm cũ" in (_rows(dash_duo) or [""])[0], timeout=90, what="the refresh")
    chimed = _wait(lambda: (lambda seen: seen if seen and older in seen else None)(
        dash_duo.driver.execute_script(
            "const s = window.iocAlertSound; return s && s.ctx ? s.seen : null")),
        timeout=30, what="the chime for the new extreme alert")
    assert older in chimed and ids["st-3"] in chimed
    for _ in range(3):  # several refreshes: the highlight and the detail stay on "Trạm 3"
        _wait(lambda: "Trạm 3" in (_highlighted(dash_duo) or ""), timeout=60,
              what="the highlight on the selected alert")
        assert "Trạm 3" in _text(dash_duo, "#feed-detail h2")
        time.sleep(settings.web.refresh_ms / 1000 + 0.5)
    rows = _rows(dash_duo)
    assert "Trạm 3" in rows[2] and "Trạm 3" in _highlighted(dash_duo)
    # acknowledge every unacknowledged alert of the area at once
    _click(dash_duo, "#feed-act-ack-unit")
    dash_duo.wait_for_contains_text("#feed-act-result", "Đã tiếp nhận", timeout=60)
    left = db_conn.execute("SELECT count(*) FROM alerts WHERE unit_id = 'bat_xat' "
                           "AND status = 'open'").fetchone()[0]
    assert left == 0
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_resolving_a_still_high_station_reopens_the_same_alert(dash_duo, settings, web_users,
                                                                flood, db_conn):
    live, _ids = flood
    devices = load_devices(db_conn)
    live.record([LatestValue("wl-lc", "water_level_m", 84.2, time.time())])
    evaluate_once(db_conn, live, devices)
    (alert_id,) = db_conn.execute(
        "SELECT id FROM alerts WHERE rule_id = 'water_level_alarm'").fetchone()
    _start(dash_duo, settings, web_users, "operator", f"/feed?alert={alert_id}")
    dash_duo.wait_for_contains_text("#feed-detail", f"#{alert_id}", timeout=60)
    dash_duo.find_element("#feed-act-note").send_keys("Đã báo xã, chờ nước rút")
    _click(dash_duo, "#feed-act-resolve")
    _wait(lambda: "Đã cập nhật" in _content(dash_duo, "#feed-act-result"), timeout=60,
          what="the resolve confirmed")
    # the river is still above level III: the next reading
    live.record([LatestValue("wl-lc", "water_level_m", 84.3, time.time())])
    evaluate_once(db_conn, live, devices)
    rows = db_conn.execute("SELECT id, status FROM alerts WHERE rule_id = 'water_level_alarm'"
                           ).fetchall()
    assert rows == [(alert_id, "open")]  # the same alert, not a second one
    dash_duo.wait_for_contains_text("#feed-detail", "Mở lại (điều kiện vẫn còn)", timeout=60)
    assert dash_duo.get_logs() == []


def test_the_wall_never_hides_the_map_and_a_pinned_view_stays(dash_duo, settings, web_users,
                                                              flood, db_conn):
    _live, ids = flood
    _start(dash_duo, settings, web_users, "operator", "/wall?view=map")
    _viewport(dash_duo, 1920, 1080)
    dash_duo.wait_for_contains_text("#wall-extreme-list", "Trạm 0", timeout=60)
    # the strip is redrawn every few seconds: read its text in the page, not through a
    # reference to an element that the next refresh replaces
    strip = ""
    deadline = time.monotonic() + 30
    while "Trạm 0" not in strip and time.monotonic() < deadline:
        strip = dash_duo.driver.execute_script(
            "const e = document.querySelector('#wall-extreme-list'); return e ? e.innerText : ''")
    for name in ("Trạm 0", "Trạm 2", "Trạm 3", "cam-mk: fire"):
        assert name in strip  # each extreme alert named, not only counted
    assert "Trạm 1" not in strip  # acknowledged
    dash_duo.wait_for_element("#wall-map .maplibregl-canvas", timeout=60)
    # a new extreme alert arrives: named in the strip; the map stays in sight all along
    open_or_update(db_conn, AlertDraft(
        rule_id="flood_demo", subject="st-new", kind="water_level", severity="extreme",
        title="Trạm mới: lũ extreme", family="disaster", unit_id="bat_xat"))
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        assert dash_duo.driver.execute_script(TOP_AT_STAGE), "something covers the map"
        assert dash_duo.driver.execute_script(ACTIVE_VIEW) == "wall-view-map"
        time.sleep(0.5)
    dash_duo.wait_for_contains_text("#wall-extreme-list", "Trạm mới", timeout=60)
    assert not dash_duo.find_elements(".wall-takeover")
    # a screen pinned to the tourism view keeps it through the rotation and new alerts
    dash_duo.driver.get(dash_duo.server_url + "/wall?view=tourism")
    dash_duo.wait_for_contains_text("#wall-extreme-list", "Trạm mới", timeout=60)
    open_or_update(db_conn, AlertDraft(
        rule_id="flood_demo", subject="st-newer", kind="water_level", severity="extreme",
        title="Trạm mới nữa: lũ extreme", family="disaster", unit_id="bat_xat"))
    deadline = time.monotonic() + 25  # longer than one rotation step
    while time.monotonic() < deadline:
        assert dash_duo.driver.execute_script(ACTIVE_VIEW) == "wall-view-tourism"
        assert dash_duo.driver.execute_script(TOP_AT_STAGE)
        time.sleep(0.5)
    _wait(lambda: "Trạm mới nữa" in _text(dash_duo, "#wall-extreme-list"), timeout=60,
          what="the newer extreme alert in the strip")
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_the_admin_unlock_button_really_unlocks(dash_duo, settings, web_users, db_conn):
    db_conn.autocommit = True
    sec = settings.security
    users.add_user(db_conn, "khoa.nv", "Good-password-42", "operator", actor="test",
                   settings=sec)
    for _ in range(sec.login_max_failures_per_user):
        users.authenticate(db_conn, "khoa.nv", "wrong", ip="10.1.1.1", settings=sec)
    assert users.authenticate(db_conn, "khoa.nv", "Good-password-42", ip="10.1.1.2",
                              settings=sec).outcome == "limited"
    dash_duo.start_server(create_app(settings))
    admin = web_users["admin"]
    login(dash_duo, admin.username, admin.password, next_url="/admin/users")
    dash_duo.driver.get(dash_duo.server_url + "/admin/users")
    dash_duo.wait_for_contains_text("#admin-users-table", "tạm khoá", timeout=20)
    dash_duo.select_dcc_dropdown("#admin-act-user", value="khoa.nv")
    dash_duo.find_element("h1").click()
    dash_duo.find_element("#admin-act-enable").click()
    dash_duo.wait_for_contains_text("#admin-users-message", "Đã mở khoá khoa.nv", timeout=15)
    assert "tạm khoá" not in dash_duo.find_element("#admin-users-table").text
    assert users.authenticate(db_conn, "khoa.nv", "Good-password-42", ip="10.1.1.2",
                              settings=sec).outcome == "ok"
    # the audit log says it in words, and its date fields are big enough to use
    dash_duo.driver.get(dash_duo.server_url + "/admin/audit")
    dash_duo.wait_for_contains_text("#admin-audit-table", "Mở khoá đăng nhập", timeout=20)
    assert "user.unlock" in dash_duo.find_element("#admin-audit-table").text
    box = dash_duo.driver.execute_script(
        "const r = document.querySelector('#admin-audit-since').getBoundingClientRect();"
        "return [r.width, r.height];")
    html_ = dash_duo.driver.execute_script(
        "return document.querySelector('#admin-audit-since').parentElement.outerHTML")
    assert box[0] >= 120 and box[1] >= 25, (box, html_)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "admin-audit-vi.png"))
    assert dash_duo.get_logs() == []


SORT_HEADER = '#feed-table th[data-dash-column="{}"] .column-header--sort'


def test_feed_sorts_by_unit_in_vietnamese_order_across_refreshes(dash_duo, settings, web_users,
                                                                 flood, db_conn):
    """A click on "Địa bàn" sorts by the unit's name in Vietnamese order (by name, not type;
    "Bảo" before "Bát" before "Bắc"), the order holds as refreshes bring new alerts, the
    highlight stays on its alert, and a second click reverses."""
    # opened in the reverse of the sorted order: the operators' order (oldest first) differs
    for title, unit in (("Xếp 1", "02671"), ("Xếp 2", "02683"), ("Xếp 3", "02989")):
        open_or_update(db_conn, AlertDraft(
            rule_id="sort_demo", subject=title, kind="rain", severity="minor", title=title,
            family="disaster", unit_id=unit))
    _start(dash_duo, settings, web_users, "operator", "/feed")
    dash_duo.wait_for_contains_text("#feed-table", "Xếp 3", timeout=60)
    want = ["Xã Bảo Hà", "Xã Bát Xát", "Phường Cam Đường"]  # a plain code-point sort differs
    assert [u for u in _units(dash_duo) if u in want] == list(reversed(want))
    _click(dash_duo, SORT_HEADER.format("unit_name"))
    _wait(lambda: [u for u in _units(dash_duo) if u in want] == want, timeout=60,
          what="the rows sorted by unit")
    _wait(lambda: "Xếp theo cột đã chọn" in _text(dash_duo, "#feed-count"), timeout=30,
          what="the count line saying the order")
    _click_until(dash_duo, "#feed-table tbody tr:nth-child(3) td:nth-child(3)",  # any row
                 lambda: _highlighted(dash_duo), what="a highlighted row")
    picked = _highlighted(dash_duo)
    # a refresh brings an alert in "Xã Bắc Hà": it joins in its place (ă after a)
    open_or_update(db_conn, AlertDraft(
        rule_id="sort_demo", subject="Xếp 4", kind="rain", severity="minor", title="Xếp 4",
        family="disaster", unit_id="02839"))
    want = ["Xã Bảo Hà", "Xã Bát Xát", "Xã Bắc Hà", "Phường Cam Đường"]
    _wait(lambda: [u for u in _units(dash_duo) if u in want] == want, timeout=60,
          what="the new alert sorted into its place")
    time.sleep(settings.web.refresh_ms / 1000 * 2)  # more refreshes: the order stays
    assert [u for u in _units(dash_duo) if u in want] == want
    _wait(lambda: (_highlighted(dash_duo) or "").split("\t")[:3] == picked.split("\t")[:3],
          timeout=60, what="the highlight on its alert")
    _click(dash_duo, SORT_HEADER.format("unit_name"))  # again: reversed
    _wait(lambda: [u for u in _units(dash_duo) if u in want] == list(reversed(want)),
          timeout=60, what="the reversed order")
    assert dash_duo.get_logs() == []


def _units(dash_duo) -> list[str]:
    """The unit column of each row, in the order shown."""
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll("
        "'#feed-table tbody td[data-dash-column=\"unit_name\"]')).map(c => c.innerText);")
