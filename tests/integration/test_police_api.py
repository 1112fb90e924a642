"""/api/v1 incidents and snapshots as evidence: every incident read is audited (who, which
incidents, which query) and a snapshot is never kept in a cache."""

from __future__ import annotations

import pytest

from tests.integration.test_api_endpoints import SNAPSHOT, api, get  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def audit_rows(db_conn, action: str) -> list[tuple]:
    with db_conn.transaction():
        return db_conn.execute(
            "SELECT actor, target, details FROM audit_log WHERE action = %s ORDER BY id",
            (action,)).fetchall()


def test_incident_reads_are_audited(api, db_conn):  # noqa: F811
    client, token = api
    h = token("incidents:read")
    assert audit_rows(db_conn, "incident.read") == []
    resp = get(client, h, "/incidents?label=fight")
    assert resp.status_code == 200 and resp.json["data"][0]["plate"] == "24A-123.45"
    get(client, h, "/incidents?label=fire&format=csv")
    rows = audit_rows(db_conn, "incident.read")
    assert len(rows) == 2
    actor, target, details = rows[0]
    assert actor == "token:test-system"  # the token that read them
    assert target == "incidents"
    assert details["via"] == "api" and details["query"] == {"label": "fight"}
    assert details["count"] == 1 and details["with_plate"] == 1
    assert details["incidents"] == ["ioc:ev-1"]
    assert rows[1][2]["count"] == 0 and rows[1][2]["incidents"] == []
    # a refused read returns nothing and is not an incident read
    assert get(client, token("alerts:read"), "/incidents").status_code == 403
    assert len(audit_rows(db_conn, "incident.read")) == 2


def test_snapshots_are_not_cached(api, db_conn):  # noqa: F811
    client, token = api
    resp = get(client, token("evidence:read"), f"/snapshots/{SNAPSHOT}")
    assert resp.status_code == 200 and resp.data == b"\xff\xd8\xff\xd9"
    assert resp.headers["Cache-Control"] == "no-store"
    assert len(audit_rows(db_conn, "evidence.view")) == 1


def test_a_watchlist_hit_reaches_the_api_only_with_the_police_scope(settings, db_conn):
    from dashboards.app import create_app
    from tests.integration.test_api_endpoints import make_token
    from tests.integration.test_police_queue import seed_queue_scenario

    seeded = seed_queue_scenario(db_conn, detections=5)
    client = create_app(settings).server.test_client()
    police = {"Authorization": "Bearer " + make_token(db_conn, "incidents:read",
                                                      name="cong-an-tinh")}
    other = {"Authorization": "Bearer " + make_token(db_conn, "alerts:read", "devices:read",
                                                     "readings:read", name="giao-thong")}
    resp = get(client, police, "/incidents?watchlist_hit=true")
    assert resp.status_code == 200
    hits = resp.json["data"]
    assert sorted(f"{h['source']}:{h['event_id']}" for h in hits) == sorted(seeded["plate"])
    assert all(h["watchlist_hit"] and h["queue_rule"] == "watchlist"
               and h["queue_priority"] == 100 for h in hits)
    fire = get(client, police, "/incidents?label=fire").json["data"][0]
    assert (fire["watchlist_hit"], fire["queue_rule"], fire["queue_priority"]) == (False, "fire",
                                                                                   90)
    ordinary = get(client, police, "/incidents?label=motorcycle").json["data"]
    assert ordinary == [] or all(o["queue_priority"] is None for o in ordinary)
    # without the police scope: nothing about incidents, hits or plates
    for url in ("/incidents?watchlist_hit=true", "/incidents"):
        resp = get(client, other, url)
        assert resp.status_code == 403
        assert "24A" not in resp.get_data(as_text=True)
    alerts = get(client, other, "/alerts")
    assert alerts.status_code == 200 and "24A" not in alerts.get_data(as_text=True)
    assert len(audit_rows(db_conn, "incident.read")) == 3  # the police token's reads only
