"""/api/v1 refuses requests without a valid token (401) or without the scope a route needs (403),
and never answers a server error to hostile parameters."""

from __future__ import annotations

import pytest

from dashboards.app import create_app
from ioc.live import LiveState, open_redis
from ioc.security.tokens import revoke_token
from tests.integration.test_api_endpoints import ALL_SCOPES, make_token, seed

pytestmark = pytest.mark.integration

# A scope each operation does not need (for the 403 check), by operation id.
OTHER_SCOPE = {"listLayers": "devices:read", "getLayer": "devices:read"}
# Operations whose needed scope depends on a parameter: (query, a scope that is not enough).
NGSI_CASES = [
    ("type=AirQualityObserved", "alerts:read"),
    ("type=FloodMonitoring", "alerts:read"),
    ("type=Alert", "readings:read"),
]

LONG_NUMBER = "9" * 40
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE devices; --",
    "x') UNION SELECT password_hash FROM users --",
    "\x00",
    "%00",
    "'||pg_sleep(5)||'",
    "../../etc/passwd",
    "$(reboot)",
    "ä" * 300,
    "-1",
    LONG_NUMBER,
    "",
]


@pytest.fixture
def app_client(settings, db_conn):
    live = LiveState(open_redis(settings.redis), settings.redis)
    seed(db_conn, live)
    live.r.close()
    return create_app(settings).server.test_client()


def operations(client):
    """(operation id, method, example URL, scope) for every documented operation."""
    doc = client.get("/api/v1/openapi.json").json
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            url, query = path, []
            for p in op["parameters"]:
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(p["example"]))
                elif p.get("required"):
                    values = p["example"] if isinstance(p["example"], list) else [p["example"]]
                    query += [f"{p['name']}={v}" for v in values]
            scope = op.get("x-required-scope")
            out.append((op["operationId"], method, f"/api/v1{url}?{'&'.join(query)}", scope))
    return out


def call(client, method, url, headers=None):
    if method == "post":
        return client.post(url, json={"rows": []}, headers=headers or {})
    return client.get(url, headers=headers or {})


def test_no_token_wrong_token_or_revoked_token_is_401(app_client, db_conn):
    raw = make_token(db_conn, *ALL_SCOPES)
    revoke_token(db_conn, raw.split("_")[1], actor="test")
    db_conn.commit()
    for op_id, method, url, _ in operations(app_client):
        if op_id == "getOpenApi":
            continue
        for headers in (
            {},
            {"Authorization": "Bearer ioc_abcdefgh_" + "x" * 43},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer " + raw},
        ):
            resp = call(app_client, method, url, headers)
            assert resp.status_code == 401, (op_id, headers, resp.data[:200])
            assert resp.mimetype == "application/problem+json", op_id
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_scope_is_403(app_client, db_conn):
    for op_id, method, url, scope in operations(app_client):
        if scope is None:
            continue
        other = OTHER_SCOPE.get(op_id, "layers:read")
        assert other != scope
        headers = {"Authorization": "Bearer " + make_token(db_conn, other)}
        resp = call(app_client, method, url, headers)
        assert resp.status_code == 403, (op_id, resp.data[:200])
        assert resp.mimetype == "application/problem+json"
        assert scope in resp.json["detail"]
        ok = {"Authorization": "Bearer " + make_token(db_conn, scope)}
        assert call(app_client, method, url, ok).status_code not in (401, 403), op_id


def test_ngsi_ld_scope_follows_the_entity_type(app_client, db_conn):
    for query, other in NGSI_CASES:
        headers = {"Authorization": "Bearer " + make_token(db_conn, other)}
        resp = app_client.get("/api/v1/ngsi-ld/v1/entities?" + query, headers=headers)
        assert resp.status_code == 403, query
        resp = app_client.get("/api/v1/ngsi-ld/v1/entities/urn:ngsi-ld:Alert:1", headers=headers)
        assert resp.status_code == (403 if other == "readings:read" else 200)
    denied = db_conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'access.denied' AND target LIKE %s",
        ("/api/v1/ngsi-ld/%",),
    ).fetchone()[0]
    assert denied == 4


def test_hostile_values_in_every_parameter_get_a_4xx_never_a_500(app_client, db_conn):
    headers = {"Authorization": "Bearer " + make_token(db_conn, *ALL_SCOPES)}
    doc = app_client.get("/api/v1/openapi.json").json
    checked = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            base = {}
            for p in op["parameters"]:
                if p["in"] == "query" and (p.get("required") or p["name"] == "end"):
                    ex = p["example"]
                    base[p["name"]] = ",".join(ex) if isinstance(ex, list) else str(ex)
            for p in op["parameters"]:
                for bad in INJECTIONS:
                    if p["in"] == "path":
                        url = path.replace("{" + p["name"] + "}", bad.replace("/", "_") or "x")
                        query = base
                    else:
                        url, query = path, {**base, p["name"]: bad}
                    full = "/api/v1" + url
                    if method == "post":
                        resp = app_client.post(
                            full, query_string=query, json={"rows": []}, headers=headers
                        )
                    else:
                        resp = app_client.get(full, query_string=query, headers=headers)
                    where = (path, p["name"], bad, resp.status_code)
                    assert resp.status_code < 500, where
                    if bad != LONG_NUMBER:  # a valid id, just not one that exists
                        assert 400 <= resp.status_code < 500, where
                    if resp.status_code == 400:
                        assert resp.mimetype == "application/problem+json"
                        assert p["name"] in resp.json["detail"] or p["in"] == "path", (
                            where,
                            resp.json["detail"],
                        )
                    checked += 1
    assert checked > 500
    # nothing was dropped or changed
    assert db_conn.execute("SELECT count(*) FROM devices").fetchone()[0] == 5
