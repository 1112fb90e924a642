"""A large fleet on the live map in a real Chromium (real PostgreSQL and Redis): zoomed out the
page gets clusters whose counts add up to the devices in view, zoomed in (by the search box)
the devices themselves; a new reading reaches the page through the pushed stream alone."""

from __future__ import annotations

import re
import sys
import time

import pytest
from psycopg.types.json import Jsonb
from selenium.webdriver.common.keys import Keys

from dashboards import classify
from dashboards import map_view as mv
from dashboards.app import create_app
from ioc.live import LatestValue, LiveState, open_redis
from tests.fixtures.fix_web import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SIDE = 15  # 225 devices on a grid near Lào Cai
DETAIL_MAX = 60

TRACES = """
const gd = document.querySelector('#ops-map .js-plotly-plot');
if (!gd || !gd.data) return null;
return gd.data.filter(t => t.type === 'scattermap' && t.customdata).map(t => ({
  name: t.name, ids: t.customdata, text: t.hovertext, colour: (t.marker || {}).color}));
"""


def _id(i: int, j: int) -> str:
    return f"wl-{i:02d}-{j:02d}"


@pytest.fixture
def fleet(settings, db_conn, monkeypatch):
    monkeypatch.setattr(mv, "DETAIL_MAX", DETAIL_MAX)
    live = LiveState(open_redis(settings.redis), settings.redis)
    now = time.time()
    latest = []
    for i in range(SIDE):
        for j in range(SIDE):
            device_id = _id(i, j)
            db_conn.execute(
                "INSERT INTO devices (device_id, family, kind, name, lon, lat, unit_id, "
                "expected_interval_s, metadata) VALUES (%s, 'disaster', 'water_level', %s, "
                "%s, %s, NULL, 300, %s)",
                (device_id, f"Trạm thử {i}-{j}", 103.90 + i * 0.01, 22.35 + j * 0.01,
                 Jsonb({"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}})),
            )
            latest.append(LatestValue(device_id, "water_level_m", 78.0, now - 5))
    db_conn.commit()
    live.record(latest)
    yield live
    live.r.close()


def _wait(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def _count(text: str) -> int:
    found = re.match(r"<b>([\d.]+) thiết bị</b>", text)
    return int(found.group(1).replace(".", "")) if found else 1


def _clusters(driver):
    traces = driver.execute_script(TRACES) or []
    return next((t for t in traces if t["name"] == "clusters" and t["ids"]), None)


def test_clusters_zoomed_out_devices_zoomed_in_and_pushed_updates(
    dash_duo, settings, web_users, fleet, monkeypatch
):
    live = fleet
    app = create_app(settings)
    # No slow poll: a change can reach the page only by the push.
    page = next(m for m in list(sys.modules.values()) if hasattr(m, "PUSHED_TICK_MS"))
    monkeypatch.setattr(page, "PUSHED_TICK_MS", 600_000)
    dash_duo.start_server(app)
    user = web_users["operator"]
    login(dash_duo, user.username, user.password, next_url="/ops")
    dash_duo.driver.get(dash_duo.server_url + "/ops")
    dash_duo.wait_for_element("#ops-map .maplibregl-canvas", timeout=45)
    driver = dash_duo.driver
    # zoomed out (the whole province): clusters, their counts add up to every device
    clusters = _wait(lambda: _clusters(driver), what="clusters")
    assert len(clusters["ids"]) < SIDE * SIDE
    assert sum(_count(t) for t in clusters["text"]) == SIDE * SIDE
    water = next(t for t in driver.execute_script(TRACES) if t["name"] == "water")
    assert water["ids"] == []
    # the push stream is open; a station at alarm III turns its cluster red
    _wait(lambda: driver.execute_script(
        "return window.__iocPush && window.__iocPush.source.readyState === 1"),
        what=lambda: "the event stream " + str(driver.execute_script(
            "const p = window.__iocPush; return p ? [p.url, p.source.readyState] : "
            "[typeof window.dash_clientside.iocMap.push]")) + str(dash_duo.get_logs()))
    now = time.time()
    live.record(
        [LatestValue(_id(7, 7), "water_level_m", 84.2, now)],
        [{"type": "readings", "readings": [[_id(7, 7), "water_level_m", 84.2, now]]}],
    )

    def red_cluster():
        c = _clusters(driver)
        return c and any(
            colour == classify.WATER_COLOURS[3] and "1 nguy hiểm" in text
            for colour, text in zip(c["colour"], c["text"], strict=True)
        )

    _wait(red_cluster, what="the cluster of the station at alarm III turning red")
    # the search box flies to a device: close up, the devices themselves, no clusters
    box = dash_duo.find_element("#ops-search")
    box.send_keys("tram thu 7-7", Keys.ENTER)
    dash_duo.wait_for_contains_text("#ops-search-result", "Trạm thử 7-7", timeout=30)

    def water_ids():
        traces = driver.execute_script(TRACES) or []
        return next((t["ids"] for t in traces if t["name"] == "water" and t["ids"]), None)

    ids = _wait(water_ids, what="single devices close up")
    assert _id(7, 7) in ids and len(ids) <= DETAIL_MAX
    assert _clusters(driver) is None
    dash_duo.wait_for_contains_text("#ops-device-head", "Trạm thử 7-7", timeout=30)
    # a new value of a device in view arrives by the push (the poll is off)
    now = time.time()
    live.record(
        [LatestValue(_id(7, 8), "water_level_m", 82.5, now)],
        [{"type": "readings", "readings": [[_id(7, 8), "water_level_m", 82.5, now]]}],
    )

    def hover_of(device_id):
        for t in driver.execute_script(TRACES) or []:
            if device_id in t["ids"]:
                return t["text"][t["ids"].index(device_id)]
        return ""

    _wait(lambda: "82,50 m" in hover_of(_id(7, 8)), what="the pushed value on the map")
    # the search also finds a commune, without diacritics
    box.clear()
    box.send_keys("bat xat", Keys.ENTER)
    dash_duo.wait_for_contains_text("#ops-search-result", "Bát Xát", timeout=30)
    assert dash_duo.get_logs() == []
