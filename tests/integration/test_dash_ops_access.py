"""Every role against the operations pages over real HTTP (Flask test client): who may see
the map, the feed, device health and the wall, and who may act on an alert."""

from __future__ import annotations

import json
import time

import pytest

from dashboards.app import create_app
from ioc.live import LatestValue, LiveState, open_redis
from tests.fixtures.fix_web import find_callback, login_client, post_callback
from tests.integration.test_dash_ops_data import fill_province

pytestmark = pytest.mark.integration

PAGES = {
    "/ops": "ops-map",
    "/feed": "feed-table",
    "/devices": "devices-body",
    "/wall": "wall-stage",
}
VIEWERS = {"operator", "leadership", "admin"}


@pytest.fixture
def world(settings, db_conn, web_users):
    live = LiveState(open_redis(settings.redis), settings.redis)
    ids = fill_province(db_conn, live)
    live.r.close()
    app = create_app(settings)
    clients = {}
    for role, user in web_users.items():
        client = app.server.test_client()
        client.get("/login")
        resp = login_client(client, user.username, user.password)
        assert resp.status_code == 303, role
        clients[role] = client
    anonymous = app.server.test_client()
    anonymous.get("/login")
    clients["anonymous"] = anonymous
    return app, clients, ids


def _render(app, client, path: str, search: str = ""):
    key, spec = find_callback(app, "_pages_content")
    return post_callback(
        client,
        key,
        spec,
        {("_pages_location", "pathname"): path, ("_pages_location", "search"): search},
    )


def test_each_role_sees_only_its_pages(world):
    app, clients, _ids = world
    for role, client in clients.items():
        for path, marker in PAGES.items():
            resp = _render(app, client, path)
            shown = resp.status_code == 200 and marker in resp.get_data(as_text=True)
            assert shown == (role in VIEWERS), (role, path, resp.status_code)


def test_action_bar_only_for_roles_that_may_act(world):
    app, clients, _ids = world
    for role in ("operator", "admin", "leadership"):
        text = _render(app, clients[role], "/feed").get_data(as_text=True)
        assert ("feed-act-ack" in text) == (role != "leadership"), role


def test_read_callbacks_for_viewers_only(world):
    app, clients, ids = world
    key, spec = find_callback(app, "..feed-table.data")
    for role, client in clients.items():
        resp = post_callback(client, key, spec, {("feed-status", "value"): ["open"]})
        expected = 200 if role in VIEWERS else (401 if role == "anonymous" else 403)
        assert resp.status_code == expected, (role, resp.get_data(as_text=True)[:200])
        if expected == 200:
            rows = resp.json["response"]["feed-table"]["data"]
            assert {r["id"] for r in rows} == set(ids.values())


def test_acting_needs_the_act_permission_and_is_recorded(world, db_conn):
    app, clients, ids = world
    key, spec = find_callback(app, "..feed-act-result.children")
    values = {
        ("feed-act-ack", "n_clicks"): 1,
        ("feed-selected", "data"): ids["fire"],
        ("feed-act-note", "value"): "đã báo PCCC",
    }
    for role in ("leadership", "police", "anonymous"):
        resp = post_callback(clients[role], key, spec, values)
        assert resp.status_code in (401, 403), role
    status = db_conn.execute("SELECT status FROM alerts WHERE id = %s", (ids["fire"],))
    assert status.fetchone()[0] == "open"
    db_conn.commit()
    resp = post_callback(clients["operator"], key, spec, values)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert "act-ok" in json.dumps(resp.json)
    row = db_conn.execute(
        "SELECT status, acknowledged_by FROM alerts WHERE id = %s", (ids["fire"],)
    ).fetchone()
    assert row == ("acknowledged", "t-operator")
    audit = db_conn.execute(
        "SELECT actor FROM audit_log WHERE action = 'alert.acknowledged' AND target = %s",
        (f"alert:{ids['fire']}",),
    ).fetchall()
    assert audit == [("t-operator",)]
    # the map page's own action bar: resolving without a note is refused, with a note done
    key, spec = find_callback(app, "..ops-act-result.children")
    base = {
        ("ops-act-resolve", "n_clicks"): 1,
        ("ops-alert-pick", "value"): ids["water"],
        ("ops-selected", "data"): "wl-lc",
    }
    refused = post_callback(clients["admin"], key, spec, base)
    assert refused.status_code == 200 and "act-refused" in json.dumps(refused.json)
    done = post_callback(
        clients["admin"], key, spec, {**base, ("ops-act-note", "value"): "nước rút"}
    )
    assert "act-ok" in json.dumps(done.json)


def test_map_callback_answers_with_the_whole_figure_then_patches(world, settings):
    app, clients, _ids = world
    key, spec = find_callback(app, "..ops-map.figure...ops-map-state.data")
    first = post_callback(
        clients["operator"],
        key,
        spec,
        {
            ("ops-live", "n_intervals"): 1,
            ("ops-lang-store", "data"): "vi",
            ("ops-layers", "value"): ["water"],
        },
    )
    assert first.status_code == 200
    body = first.json["response"]
    figure, state = body["ops-map"]["figure"], body["ops-map-state"]["data"]
    assert len(figure["data"]) >= 9 and state["epoch"]
    again = post_callback(
        clients["operator"],
        key,
        spec,
        {
            ("ops-live", "n_intervals"): 2,
            ("ops-map-state", "data"): state,
            ("ops-lang-store", "data"): "vi",
        },
    )
    assert again.status_code == 204  # nothing new: nothing sent
    live = LiveState(open_redis(settings.redis), settings.redis)
    time.sleep(0.1)  # the mirror reads Redis at most every 50 ms
    now = time.time()
    live.record(
        [LatestValue("wl-lc", "water_level_m", 83.9, now)],
        [{"type": "readings", "readings": [["wl-lc", "water_level_m", 83.9, now]]}],
    )
    live.r.close()
    patched = post_callback(
        clients["operator"],
        key,
        spec,
        {
            ("ops-live", "n_intervals"): 3,
            ("ops-map-state", "data"): state,
            ("ops-lang-store", "data"): "vi",
        },
    )
    assert patched.status_code == 200
    patch = patched.json["response"]["ops-map"]["figure"]
    ops = patch["operations"]
    assert patch["__dash_patch_update"] and any(
        "hovertext" in op["location"] and "83,90 m" in str(op["params"]["value"]) for op in ops
    )


def test_wall_callback_takeover_stale_badges_and_rotation(world):
    app, clients, ids = world
    key, spec = find_callback(app, "..wall-view-map.className")
    resp = post_callback(
        clients["leadership"],
        key,
        spec,
        {("wall-lang-store", "data"): "en", ("wall-pin", "data"): "water"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    out = resp.json["response"]
    assert out["wall-view-water"]["className"] == "wall-view active"
    assert out["wall-view-map"]["className"] == "wall-view"
    # every panel's data is fresh in this province: no stale badge
    for view in ("map", "water", "air", "tourism", "alerts"):
        assert "hidden" in out[f"wall-stale-{view}"]["className"], view
    # the open fire (extreme) takes the screen; this wall now remembers when it showed it
    assert out["wall-takeover"]["className"] == "wall-takeover sev-extreme"
    assert "cam-mk: fire" in json.dumps(out["wall-takeover"]["children"], ensure_ascii=False)
    assert set(out["wall-seen"]["data"]) == {str(ids["fire"])}
    assert "Alarm II" in json.dumps(out["wall-body-water"]["children"])
    # two minutes later the same alert is a banner instead
    seen = {str(ids["fire"]): time.time() - 500}
    later = post_callback(
        clients["leadership"],
        key,
        spec,
        {("wall-lang-store", "data"): "en", ("wall-seen", "data"): seen},
    )
    out = later.json["response"]
    assert out["wall-takeover"]["className"] == "wall-takeover hidden"
    assert out["wall-banner"]["className"] == "wall-banner"


def test_a_storm_parent_lists_the_alerts_grouped_under_it(world, db_conn):
    app, clients, ids = world
    parent = ids["fire"]
    children = []
    for n in (1, 2):
        (child,) = db_conn.execute(
            "INSERT INTO alerts (rule_id, subject, kind, family, severity, status, title, "
            "unit_id, parent_id) VALUES ('camera_incidents', %s, 'camera_incident', 'camera', "
            "'severe', 'open', %s, 'lao_cai_city', %s) RETURNING id",
            (f"cam-storm-{n}:fight", f"Camera {n}: ẩu đả", parent)).fetchone()
        children.append(child)
    db_conn.commit()
    key, spec = find_callback(app, "..feed-detail.children")
    resp = post_callback(clients["operator"], key, spec, {("feed-selected", "data"): parent,
                                                          ("feed-lang-store", "data"): "vi"})
    assert resp.status_code == 200
    text = json.dumps(resp.json, ensure_ascii=False)
    assert "feed-children" in text and "Gộp 2 cảnh báo đang mở" in text
    assert "Camera 1: ẩu đả" in text and "Camera 2: ẩu đả" in text
    # an alert with nothing grouped under it has no such list
    resp = post_callback(clients["operator"], key, spec, {("feed-selected", "data"): ids["crowd"],
                                                          ("feed-lang-store", "data"): "vi"})
    assert "feed-children" not in resp.get_data(as_text=True)
