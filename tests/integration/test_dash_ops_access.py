"""Every role against the operations pages over real HTTP (Flask test client): who may see
the map, the feed, device health and the wall, and who may act on an alert."""

from __future__ import annotations

import json
import time

import pytest

from alerts import lifecycle
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


def test_wall_callback_extreme_strip_stale_badges_and_rotation(world, db_conn):
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
    # a pinned view stays pinned, extreme alert or not
    assert out["wall-view-water"]["className"] == "wall-view active"
    assert out["wall-view-map"]["className"] == "wall-view"
    # every panel's data is fresh in this province: no stale badge
    for view in ("map", "water", "air", "tourism", "alerts"):
        assert "hidden" in out[f"wall-stale-{view}"]["className"], view
    # the open fire (extreme) is named in the strip beside the views; nothing covers them
    assert "wall-takeover" not in out and "wall-banner" not in out
    strip = json.dumps(out["wall-extreme"]["children"], ensure_ascii=False)
    assert "cam-mk: fire" in strip and "Extreme, unacknowledged" in strip
    assert set(out["wall-seen"]["data"]) == {str(ids["fire"])}
    assert out["wall-new"]["data"] == [ids["fire"]]
    assert "Alarm II" in json.dumps(out["wall-body-water"]["children"])
    # escalated to the duty officer: the strip says so; seen before: not new any more
    db_conn.autocommit = True
    assert lifecycle.escalate(db_conn, ids["fire"], 1, notify="truc_ban")
    seen = {str(ids["fire"]): time.time() - 500}
    later = post_callback(
        clients["leadership"],
        key,
        spec,
        {("wall-lang-store", "data"): "en", ("wall-seen", "data"): seen},
    )
    out = later.json["response"]
    strip = json.dumps(out["wall-extreme"]["children"], ensure_ascii=False)
    assert "Escalated to Duty officer" in strip and "fresh" not in strip
    assert out["wall-new"]["data"] == []
    # acknowledged: it leaves the strip
    lifecycle.acknowledge(db_conn, ids["fire"], "t-operator")
    out = post_callback(clients["leadership"], key, spec,
                        {("wall-lang-store", "data"): "en"}).json["response"]
    assert "No extreme alert waiting" in json.dumps(out["wall-extreme"]["children"])


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


def test_assigning_picks_a_known_person_or_unit_and_the_history_says_to_whom(world, db_conn):
    app, clients, ids = world
    key, spec = find_callback(app, "..feed-act-result.children")
    base = {("feed-act-assign", "n_clicks"): 1, ("feed-selected", "data"): ids["fire"],
            ("feed-lang-store", "data"): "vi"}
    refused = post_callback(clients["operator"], key, spec,
                            {**base, ("feed-act-assignee", "value"): "ai_do"})
    assert "Chỉ giao cho người hoặc đơn vị trong danh sách" in json.dumps(
        refused.json, ensure_ascii=False)
    assert db_conn.execute("SELECT assigned_to FROM alerts WHERE id = %s",
                           (ids["fire"],)).fetchone() == (None,)
    db_conn.commit()
    done = post_callback(clients["operator"], key, spec,
                         {**base, ("feed-act-assignee", "value"): "pccc"})
    assert "act-ok" in json.dumps(done.json)
    event = db_conn.execute(
        "SELECT actor, data->>'assignee' FROM alert_events WHERE alert_id = %s "
        "AND action = 'assigned'", (ids["fire"],)).fetchone()
    assert event == ("t-operator", "pccc")  # who assigned it to whom (and the outbox row
    db_conn.commit()                        # that MQTT and webhook deliveries announce)
    # to a person: the picker lists the people who act on alerts
    again = post_callback(clients["admin"], key, spec,
                          {**base, ("feed-act-assignee", "value"): "t-operator"})
    assert "act-ok" in json.dumps(again.json)
    key, spec = find_callback(app, "..feed-detail.children")
    detail = json.dumps(post_callback(clients["operator"], key, spec, {
        ("feed-selected", "data"): ids["fire"], ("feed-lang-store", "data"): "vi"}).json,
        ensure_ascii=False)
    assert "giao cho Cảnh sát PCCC" in detail and detail.count("giao cho") == 2
    # the assignee sees it in the feed's count line
    key, spec = find_callback(app, "..feed-table.data")
    feed = json.dumps(post_callback(clients["operator"], key, spec, {
        ("feed-lang-store", "data"): "vi"}).json, ensure_ascii=False)
    assert "1 cảnh báo giao cho bạn" in feed
