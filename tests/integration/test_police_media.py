"""Snapshots and clips from Frigate's HTTP API (a small local server the test starts, which
answers like Frigate's `/api/events/<id>/snapshot.jpg` and `clip.mp4`), stored by SHA-256
and carried by the evidence bundle; and `ioc police watchlist` on the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import json
import threading
import zipfile

import pytest

from evidence import store
from evidence.export import export_incident
from evidence.verify import format_report, verify_bundle
from ioc.cli import main
from police.frigate_media import FrigateClient, FrigateError, fetch_pending, pending
from tests.integration.test_police_ingest import (
    camera_jpeg,
    frigate_event,
    parsed,
    register_cameras,
    write,
)

pytestmark = pytest.mark.integration

SNAPSHOT = camera_jpeg(21, "FIGHT")
CLIP = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 40


class FakeFrigate(http.server.BaseHTTPRequestHandler):
    """Frigate's event media routes; `broken` answers 500, `notimage` answers HTML."""

    requests: list[str] = []

    def do_GET(self):
        FakeFrigate.requests.append(self.path)
        parts = self.path.split("/")  # '', api, events, <id>, <file>
        if len(parts) != 5 or parts[1:3] != ["api", "events"]:
            return self._send(404, b"not found", "text/plain")
        event_id, name = parts[3], parts[4]
        if "broken" in event_id:
            return self._send(500, b"internal error", "text/plain")
        if "notimage" in event_id:
            return self._send(200, b"<html>login</html>", "text/html")
        if name == "snapshot.jpg":
            return self._send(200, SNAPSHOT, "image/jpeg")
        if name == "clip.mp4" and "noclip" not in event_id:
            return self._send(200, CLIP, "video/mp4")
        return self._send(404, b'{"success": false}', "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def frigate():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeFrigate)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeFrigate.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def seed_fights(conn, *event_ids: str) -> None:
    register_cameras(conn)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(minutes=10)
    records = []
    for event_id in event_ids:
        for phase, sec in (("new", 0), ("end", 60)):
            topic, body = frigate_event(phase, event_id, "cam-ts-sa-pa-night-market", "person",
                                        start, start + dt.timedelta(seconds=sec), score=0.9,
                                        sub_label=["fight", 0.9], zones=("stalls",),
                                        end=phase == "end")
            body["after"]["has_clip"] = True
            records += parsed(topic, body, now)
    write(conn, records)
    conn.commit()


def test_client_answers(frigate):
    client = FrigateClient(frigate, timeout_s=5)
    snap = client.fetch("1748.1-fight", "snapshot")
    assert snap.content == SNAPSHOT and snap.content_type == "image/jpeg"
    assert snap.url == f"{frigate}/api/events/1748.1-fight/snapshot.jpg"
    assert client.fetch("1748.1-fight", "clip").content_type == "video/mp4"
    assert client.fetch("1748.1-noclip", "clip") is None  # Frigate has none: 404
    with pytest.raises(FrigateError, match="HTTP 500"):
        client.fetch("1748.1-broken", "snapshot")
    with pytest.raises(FrigateError, match=r"not a JPEG or PNG image \(starts with 0x3c68746d"):
        client.fetch("1748.1-notimage", "snapshot")
    with pytest.raises(FrigateError, match="127.0.0.1:9"):
        FrigateClient("http://127.0.0.1:9", timeout_s=2).fetch("x", "snapshot")


def test_fetched_media_are_stored_once_and_go_into_the_bundle(frigate, db_conn):
    seed_fights(db_conn, "1748.1-fight", "1748.2-noclip", "1748.3-broken")
    client = FrigateClient(frigate, timeout_s=5)
    missing: set = set()
    report = fetch_pending(db_conn, client, missing=missing)
    # two snapshots (the same picture: stored once), one clip, one 404 clip, two 500s
    assert (report.stored, report.missing, report.failed) == (3, 1, 2)
    with db_conn.transaction():
        (pictures,) = db_conn.execute("SELECT count(*) FROM camera_snapshots").fetchone()
        left = pending(db_conn, skip=missing)
    assert pictures == 2  # the snapshot and the clip, each once
    # the failed one is asked again next round; the clip Frigate did not have is not
    assert [(p.event_id, p.kinds) for p in left] == [("1748.3-broken", ("snapshot", "clip"))]
    assert missing == {("1748.2-noclip", "clip")}

    with db_conn.transaction():
        inc = store.load_incident(db_conn, "frigate", "1748.1-fight")
        snaps = store.incident_snapshots(db_conn, inc)
        clips = store.incident_clips(db_conn, inc)
        bundle = export_incident(db_conn, "frigate", "1748.1-fight", actor="police1")
    assert snaps[0].sha256 == hashlib.sha256(SNAPSHOT).hexdigest()
    assert clips[0].sha256 == hashlib.sha256(CLIP).hexdigest()
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert f"snapshots/{snaps[0].sha256}.jpg" in names
    assert f"clips/{clips[0].sha256}.mp4" in names
    report = verify_bundle(bundle.content)
    assert report.ok, format_report(report, "bundle.zip")
    listed = {f["path"]: f for f in bundle.manifest["files"]}
    assert listed[f"clips/{clips[0].sha256}.mp4"]["content_type"] == "video/mp4"


def test_only_queued_incidents_are_fetched(frigate, db_conn):
    register_cameras(db_conn)
    now = dt.datetime.now(dt.UTC)
    topic, body = frigate_event("end", "1748.9-car", "cam-jn-coc-leu", "car", now, now,
                                score=0.9, end=True)
    write(db_conn, parsed(topic, body, now))
    db_conn.commit()
    assert fetch_pending(db_conn, FrigateClient(frigate)).stored == 0
    assert FakeFrigate.requests == []


# -- the command line ----------------------------------------------------------------------------
@pytest.fixture
def cli_env(settings, monkeypatch, frigate):
    monkeypatch.setenv("IOC_ENV", "test")
    monkeypatch.setenv("IOC_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IOC_DATABASE_SCHEMA", settings.database.schema_name)
    monkeypatch.setenv("IOC_POLICE_FRIGATE_URL", frigate)
    return settings


def test_cli_watchlist_and_media(cli_env, db_conn, capsys):
    assert main(["police", "watchlist", "add", "24A-686.68", "--reason", "Cướp tài sản",
                 "--expires-days", "30", "--actor", "trung_uy_an"]) == 0
    assert "added 24A-686.68 (key 24A68668)" in capsys.readouterr().out
    assert main(["police", "watchlist", "add", "24a68668", "--reason", "x"]) == 2
    assert "already on the watchlist" in capsys.readouterr().err
    assert main(["police", "watchlist", "list", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["added_by"] == "cli:trung_uy_an" and entry["expires_at"]
    assert main(["police", "watchlist", "remove", "24A 686 68", "--actor", "trung_uy_an"]) == 0
    assert main(["police", "watchlist", "list"]) == 0
    assert capsys.readouterr().out.strip().endswith("")  # nothing live
    with db_conn.transaction():
        rows = db_conn.execute("SELECT actor, action FROM audit_log WHERE action LIKE "
                               "'watchlist.%%' ORDER BY id").fetchall()
    assert rows == [("cli:trung_uy_an", "watchlist.add"), ("cli:trung_uy_an", "watchlist.remove")]
    seed_fights(db_conn, "1748.5-fight")
    assert main(["police", "media", "fetch"]) == 0
    assert "stored 2, not in Frigate 0, failed 0" in capsys.readouterr().out
