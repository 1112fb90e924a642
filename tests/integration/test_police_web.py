"""The police page's server side over HTTP: every callback and evidence route refuses roles
without the right (and gives them nothing sensitive), views and exports are recorded, and an
exported bundle verifies -- until someone changes it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from dashboards import police_view
from dashboards.app import create_app
from evidence import store
from evidence.cli import check_recorded
from evidence.verify import format_report, verify_bundle
from tests.fixtures.fix_web import csrf_cookie, find_callback, login_client, post_callback
from tests.integration.test_police_ingest import WANTED, seed_incident_scenario

pytestmark = pytest.mark.integration

SENSITIVE_TEXT = ("24A-686", "24A686", "24A68668", "Chợ Cốc Lếu", "cam-mk-coc-leu-0007")


def make_app(settings):
    """The web app; its evidence routes come from dashboards/evidence.py."""
    app = create_app(settings)
    assert "evidence_snapshot" in app.server.view_functions
    return app


@pytest.fixture
def world(settings, db_conn, web_users):
    seeded = seed_incident_scenario(db_conn)
    app = make_app(settings)
    clients = {}
    for role, user in web_users.items():
        client = app.server.test_client()
        resp = login_client(client, user.username, user.password, "/police")
        assert resp.status_code == 303, resp.status_code
        clients[role] = client
    clients["anonymous"] = app.server.test_client()
    clients["anonymous"].get("/login")  # gets a CSRF cookie, like a browser would
    return app, clients, seeded


def police_callbacks(app) -> list[tuple[str, dict]]:
    from dashboards.access import page_of
    from dashboards.auth import callback_ids

    return [(key, spec) for key, spec in app.callback_map.items()
            if any(page_of(i) == "police" for i in callback_ids(spec))]


def _no_secrets(text: str) -> None:
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        pass
    for secret in SENSITIVE_TEXT:
        assert secret not in text


def count(db_conn, query: str, *params) -> int:
    with db_conn.transaction():
        return db_conn.execute(query, params).fetchone()[0]


def test_every_police_callback_refuses_other_roles(world, db_conn):
    app, clients, seeded = world
    callbacks = police_callbacks(app)
    # queue, first page, detection count, watchlist banner and its link, 2 selections,
    # detail, decide, note, watchlist list, add, remove
    assert len(callbacks) == 13
    values = {("police-selected", "data"): seeded["plate"][0],
              ("police-act-reason", "value"): "thử", ("police-act-note-text", "value"): "thử",
              ("police-period", "value"): "all", ("police-watch-plate", "value"): "29A-123.45",
              ("police-watch-reason", "value"): "thử", ("police-watch-pick", "value"): WANTED,
              ("police-banner-open", "title"): seeded["fire"]}
    for role in ("operator", "leadership", "anonymous"):
        for key, spec in callbacks:
            resp = post_callback(clients[role], key, spec, values)
            assert resp.status_code == (401 if role == "anonymous" else 403), (role, key)
            assert resp.json["error"] in ("forbidden", "login_required")
            _no_secrets(resp.get_data(as_text=True))
    assert count(db_conn, "SELECT count(*) FROM incident_reviews") == 0
    assert count(db_conn, "SELECT count(*) FROM incident_notes") == 0
    assert count(db_conn, "SELECT count(*) FROM evidence_custody") == 0
    assert count(db_conn, "SELECT count(*) FROM police_watchlist") == 0
    refused = count(db_conn, "SELECT count(*) FROM audit_log WHERE action = 'access.denied' "
                             "AND details->>'reason' LIKE '%%police%%'")
    assert refused == 2 * len(callbacks)


def test_police_and_admin_get_the_queue_with_whole_plates(world):
    app, clients, seeded = world
    key, spec = find_callback(app, "..police-table.data")
    for role in ("police", "admin"):
        resp = post_callback(clients[role], key, spec, {("police-period", "value"): "all",
                                                        ("police-view", "value"): "all",
                                                        ("police-lang-store", "data"): "en"})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        rows = resp.json["response"]["police-table"]["data"]
        assert {r["id"] for r in rows} == {seeded["fire"], seeded["fight"], *seeded["plate"]}
        assert WANTED in {r["plate"] for r in rows}
        # the queue (no watchlist here): the two reports typed wanted_plate, fire, fight
        resp = post_callback(clients[role], key, spec, {("police-view", "value"): "queue"})
        rows = resp.json["response"]["police-table"]["data"]
        assert [r["type"] for r in rows] == ["wanted_plate", "wanted_plate", "fire", "fight"]


def test_detail_records_the_view(world, db_conn):
    app, clients, seeded = world
    key, spec = find_callback(app, "..police-detail.children")
    resp = post_callback(clients["police"], key, spec,
                         {("police-selected", "data"): seeded["plate"][1]})
    assert resp.status_code == 200
    body = json.dumps(resp.json, ensure_ascii=False)  # Dash escapes '/' as \u002f
    assert "24A68668" in body and "/evidence/snapshot/" in body
    assert "/evidence/bundle/frigate/" in body and csrf_cookie(clients["police"]) in body
    custody = count(db_conn, "SELECT count(*) FROM evidence_custody WHERE action = 'view' "
                             "AND actor = 't-police'")
    audited = count(db_conn, "SELECT count(*) FROM audit_log WHERE action = 'evidence.view' "
                             "AND target = %s", f"incident:{seeded['plate'][1]}")
    assert custody == audited == 1


def test_verify_needs_a_reason_and_the_right(world, db_conn):
    app, clients, seeded = world
    key, spec = find_callback(app, "..police-act-result.children...police-refresh")
    empty = post_callback(clients["police"], key, spec,
                          {("police-selected", "data"): seeded["fire"]})
    assert empty.status_code == 200 and "act-refused" in json.dumps(empty.json)
    ok = post_callback(clients["police"], key, spec,
                       {("police-selected", "data"): seeded["fire"],
                        ("police-act-reason", "value"): "khói thật, đã báo PCCC"})
    assert ok.status_code == 200 and "act-ok" in json.dumps(ok.json)
    with db_conn.transaction():
        inc = store.load_incident(db_conn, *store.split_key(seeded["fire"]))
    assert (inc.review, inc.reviewed_by, inc.review_reason) == (
        "verified", "t-police", "khói thật, đã báo PCCC")
    # without the CSRF header the same request is refused before it runs
    resp = post_callback(clients["police"], key, spec,
                         {("police-selected", "data"): seeded["fight"],
                          ("police-act-reason", "value"): "x"}, csrf=None)
    assert resp.status_code == 403 and resp.json["error"] == "csrf"
    assert count(db_conn, "SELECT count(*) FROM incident_reviews") == 1


def test_snapshot_original_for_police_blurred_for_others(world, db_conn):
    _app, clients, seeded = world
    sha, original = seeded["fire_sha"], seeded["fire_image"]
    url = f"/evidence/snapshot/{sha}?incident={seeded['fire']}"
    for role in ("police", "admin"):
        resp = clients[role].get(url)
        assert resp.status_code == 200 and resp.data == original
        assert resp.headers["X-Evidence-Variant"] == "original"
        assert "no-store" in resp.headers["Cache-Control"]
    for role in ("operator", "leadership"):
        resp = clients[role].get(url)
        assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
        assert resp.headers["X-Evidence-Variant"] == "blurred"
        assert resp.data != original and resp.data[:3] == b"\xff\xd8\xff"
    resp = clients["anonymous"].get(url)
    assert resp.status_code in (302, 401) and original not in resp.data
    assert clients["police"].get("/evidence/snapshot/" + "0" * 64).status_code == 404
    assert clients["police"].get("/evidence/snapshot/NOT-A-HASH").status_code == 404
    views = [(r[0], r[1]) for r in db_conn.execute(
        "SELECT actor, details->>'variant' FROM audit_log WHERE action = 'evidence.view' "
        "AND target = %s ORDER BY id", (f"snapshot:{sha}",)).fetchall()]
    db_conn.commit()
    assert views == [("t-police", "original"), ("t-admin", "original"),
                     ("t-operator", "blurred"), ("t-leadership", "blurred")]
    assert count(db_conn, "SELECT count(*) FROM evidence_custody WHERE action = "
                          "'view_snapshot'") == 2
    # a snapshot asked for with an incident it does not belong to is not put in its custody
    clients["police"].get(f"/evidence/snapshot/{sha}?incident={seeded['fight']}")
    assert count(db_conn, "SELECT count(*) FROM evidence_custody WHERE action = "
                          "'view_snapshot'") == 2


def _export(client, key: str, csrf: bool = True):
    source, event_id = key.split(":", 1)
    data = {"csrf_token": csrf_cookie(client)} if csrf else {}
    return client.post(f"/evidence/bundle/{source}/{event_id}", data=data)


def test_bundle_export_is_police_only(world, db_conn):
    _app, clients, seeded = world
    for role in ("operator", "leadership"):
        resp = _export(clients[role], seeded["fire"])
        assert resp.status_code == 403 and b"PK" not in resp.data[:2]
        _no_secrets(resp.get_data(as_text=True))
    assert _export(clients["anonymous"], seeded["fire"]).status_code == 401
    assert _export(clients["police"], seeded["fire"], csrf=False).status_code == 403
    # a GET (a link, an <img> on another site) exports nothing: the Dash shell answers it
    assert clients["police"].get(
        "/evidence/bundle/ioc/cam-mk-coc-leu-0007").mimetype == "text/html"
    assert _export(clients["police"], "ioc:no-such-incident").status_code == 404
    assert count(db_conn, "SELECT count(*) FROM evidence_exports") == 0


def test_exported_bundle_verifies_and_tampering_is_caught(world, db_conn, settings):
    _app, clients, seeded = world
    clients["police"].get(f"/evidence/snapshot/{seeded['fire_sha']}?incident={seeded['fire']}")
    resp = _export(clients["police"], seeded["fire"])
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert "attachment" in resp.headers["Content-Disposition"]
    content = resp.data
    report = verify_bundle(content)
    assert report.ok, report.problems
    assert report.manifest_sha256 == resp.headers["X-Evidence-Manifest-SHA256"]
    zf = zipfile.ZipFile(io.BytesIO(content))
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["incident"]["event_id"] == "cam-mk-coc-leu-0007"
    assert manifest["incident"]["type"] == "fire" and manifest["created_by"] == "t-police"
    assert [c["action"] for c in manifest["custody"]] == ["view_snapshot", "export"]
    assert zf.read(f"snapshots/{seeded['fire_sha']}.jpg") == seeded["fire_image"]
    with db_conn.transaction():
        exports = store.find_exports(db_conn, report.manifest_sha256)
        audited = db_conn.execute(
            "SELECT details->>'manifest_sha256' FROM audit_log WHERE action = 'evidence.export'"
        ).fetchall()
    assert len(exports) == 1 and exports[0].actor == "t-police" and exports[0].files == 2
    assert audited == [(report.manifest_sha256,)]
    # the database knows the manifest: an edited and re-hashed manifest is caught there.
    # Without a signing key the record is unsigned: anyone who can INSERT could have made
    # it, so it does not prove the origin either (test_signed_bundle_with_the_configured_key)
    check_recorded(settings, report, None)
    assert report.ok and report.notes[-1].startswith(f"recorded export #{exports[0].id}")
    assert any("not signed by the deployment's key" in n for n in report.notes)
    assert not report.origin_proven and report.recorded_export is None
    manifest["incident"]["device_id"] = "cam-somewhere-else"
    forged = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in zf.namelist():
            data = zf.read(name)
            if name == "manifest.json":
                data = forged
            elif name == "manifest.sha256":
                import hashlib

                data = f"{hashlib.sha256(forged).hexdigest()}  manifest.json\n".encode()
            dst.writestr(name, data)
    forged_report = verify_bundle(out.getvalue())
    # consistent on its own, but unsigned: integrity only, nothing proves where it came from ...
    assert forged_report.ok and forged_report.signature == "none"
    assert not forged_report.origin_proven and forged_report.assurance == "integrity_only"
    assert "integrity only: not signed, cannot prove origin" in format_report(forged_report, "f")
    check_recorded(settings, forged_report, None)
    assert not forged_report.ok  # ... and not what this IOC exported
    assert "not among the bundles" in forged_report.problems[0]


def test_signed_bundle_with_the_configured_key(settings, db_conn, web_users, tmp_path):
    from evidence.signing import generate_key_file, public_key_from_pem
    from evidence.verify import format_report
    from ioc.config.models import EvidenceSettings
    from tests.unit.test_evidence_bundle import FORGER

    key_file = tmp_path / "evidence-key.pem"
    key = generate_key_file(key_file)
    signed = settings.model_copy(update={
        "evidence": EvidenceSettings(signing_key_file=key_file)})
    seeded = seed_incident_scenario(db_conn)
    app = make_app(signed)
    client = app.server.test_client()
    # the public key is published to anyone, no log-in needed
    published = app.server.test_client().get("/evidence/public-key.pem")
    assert published.status_code == 200
    assert published.headers["X-Evidence-Key-Id"] == key.public.key_id
    public_key = public_key_from_pem(published.data)
    assert public_key == key.public
    login_client(client, web_users["police"].username, web_users["police"].password)
    line = police_view.public_key_line("en").children  # the line under the export button
    assert "/evidence/public-key.pem" in line and key.public.key_id in line
    resp = _export(client, seeded["fight"])
    assert resp.status_code == 200
    assert "manifest.sig" in zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    report = verify_bundle(resp.data, public_key=public_key)
    assert report.ok and report.signature == "valid" and report.origin_proven
    assert verify_bundle(resp.data, public_key=FORGER.public).signature == "unknown_key"
    assert "Ed25519 valid" in format_report(report, "x.zip")
    with db_conn.transaction():
        (signed_flag, key_id, signature) = db_conn.execute(
            "SELECT signed, key_id, record_signature FROM evidence_exports").fetchone()
    assert signed_flag is True and key_id == key.public.key_id and signature


def test_public_key_page_without_a_key(world):
    _app, clients, _seeded = world
    resp = clients["anonymous"].get("/evidence/public-key.pem")
    assert resp.status_code == 404 and resp.json["error"] == "not_found"


def test_frigate_incident_bundle_has_its_snapshot(world):
    _app, clients, seeded = world
    resp = _export(clients["admin"], seeded["fight"])
    assert resp.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(resp.data))
    snaps = [n for n in zf.namelist() if n.startswith("snapshots/")]
    assert len(snaps) == 1 and zf.read(snaps[0]) == seeded["fight_image"]
    assert verify_bundle(resp.data).ok


def test_changed_snapshot_row_refuses_the_export_and_garbage_is_withheld(world, db_conn):
    import hashlib

    _app, clients, seeded = world
    with db_conn.transaction():
        db_conn.execute("UPDATE camera_snapshots SET content = %s WHERE sha256 = %s",
                        (b"\xff\xd8\xff\xe0 not the original", seeded["fire_sha"]))
    resp = _export(clients["police"], seeded["fire"])
    assert resp.status_code == 409 and resp.json["error"] == "integrity"
    assert count(db_conn, "SELECT count(*) FROM evidence_exports") == 0
    assert count(db_conn, "SELECT count(*) FROM evidence_custody") == 0  # rolled back
    garbage = b"\x89PNG\r\n\x1a\n but not really a picture"
    sha = hashlib.sha256(garbage).hexdigest()
    with db_conn.transaction():
        db_conn.execute(
            "INSERT INTO camera_snapshots (sha256, content, content_type, size, device_id, time) "
            "VALUES (%s, %s, 'image/png', %s, 'cam-mk-coc-leu', now())",
            (sha, garbage, len(garbage)))
    resp = clients["operator"].get(f"/evidence/snapshot/{sha}")
    assert resp.status_code == 403 and resp.json["error"] == "withheld"
    assert clients["police"].get(f"/evidence/snapshot/{sha}").data == garbage
