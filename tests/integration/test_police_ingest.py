"""Camera events through the real parsers and store into the police queue (real PostgreSQL).

`seed_incident_scenario` is also what the police web and browser tests start from: the
`incident` scenario of sensors_sim in miniature -- smoke and fire at Cốc Lếu market (our
JSON, with a snapshot), a fight at Sa Pa night market (Frigate: a `person` whose sub_label is
the fight), the wanted plate 24A-686.68 seen by four cameras (two spellings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import random

import psycopg
import pytest
from PIL import Image, ImageDraw

from dashboards import police_incident as one
from dashboards import police_queries as q
from evidence import store
from ingest.batch import WritePlan
from ingest.formats import parse
from ingest.records import CameraEvent, Snapshot
from ingest.store import write_plan

pytestmark = pytest.mark.integration

WANTED = "24A-686.68"
CAMERAS = [
    ("cam-mk-coc-leu", "Chợ Cốc Lếu", "lao_cai_city", 103.9712, 22.4985),
    ("cam-ts-sa-pa-night-market", "Chợ đêm Sa Pa", "sa_pa", 103.8440, 22.3345),
    ("cam-bg-lao-cai", "Cửa khẩu Quốc tế Lào Cai – cầu Hồ Kiều", "lao_cai_city", 103.9666,
     22.5046),
    ("cam-jn-coc-leu", "Nút giao Hoàng Liên – cầu Cốc Lếu", "lao_cai_city", 103.9725, 22.4975),
    ("cam-jn-nam-cuong", "Nút giao đại lộ Trần Hưng Đạo – Nam Cường", "lao_cai_city", 103.9820,
     22.4630),
    ("cam-jn-sa-pa-gateway", "Cổng vào thị xã Sa Pa (QL4D)", "sa_pa", 103.8560, 22.3450),
]
PLATE_ROUTE = ["cam-bg-lao-cai", "cam-jn-coc-leu", "cam-jn-nam-cuong", "cam-jn-sa-pa-gateway"]


def camera_jpeg(seed: int, text: str = "", size=(640, 360)) -> bytes:
    """A small street-camera-like JPEG (different for each seed)."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, (40 + seed % 50, 55, 70))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle((0, h * 0.62, w, h), fill=(60, 62, 66))  # road
    for _ in range(60):
        x, y = rng.randrange(w), rng.randrange(int(h * 0.6))
        draw.rectangle((x, y, x + rng.randrange(8, 50), y + rng.randrange(8, 40)),
                       fill=tuple(rng.randrange(60, 220) for _ in range(3)))
    if seed % 3 == 0:  # smoke
        for r in range(5):
            draw.ellipse((250 + r * 20, 40 + r * 10, 420 + r * 25, 180 + r * 12),
                         fill=(150 + r * 10, 150 + r * 10, 150 + r * 10))
    draw.rectangle((280, 250, 400, 282), fill=(245, 245, 245))  # a plate
    draw.text((290, 258), text or f"CAM {seed}", fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


def register_cameras(conn) -> None:
    for device_id, name, unit_id, lon, lat in CAMERAS:
        conn.execute(
            "INSERT INTO devices (device_id, family, kind, name, lon, lat, unit_id) "
            "VALUES (%s, 'camera', 'camera', %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (device_id, name, lon, lat, unit_id),
        )


def parsed(topic: str, payload, now: dt.datetime) -> list:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return list(parse(topic, data, now=now).records)


def write(conn, records: list) -> None:
    plan = WritePlan(entries=[],
                     camera_events=[r for r in records if isinstance(r, CameraEvent)],
                     snapshots=[r for r in records if isinstance(r, Snapshot)])
    with conn.transaction():
        write_plan(conn, plan)


def ioc_event(device_id: str, event_id: str, kind: str, phase: str, at: dt.datetime,
              **extra) -> tuple[str, dict]:
    event = {"id": event_id, "type": kind, "phase": phase, **extra}
    return f"ioc/v1/camera/{device_id}", {"time": at.isoformat(), "event": event}


def frigate_event(phase: str, event_id: str, camera: str, label: str, start: dt.datetime,
                  at: dt.datetime, *, score: float, sub_label=None, plate: str | None = None,
                  zones=(), end: bool = False) -> tuple[str, dict]:
    after = {
        "id": event_id, "camera": camera, "label": label, "sub_label": sub_label,
        "score": score, "top_score": score, "start_time": start.timestamp(),
        "end_time": at.timestamp() if end else None, "frame_time": at.timestamp(),
        "false_positive": phase == "new" and score < 0.5, "has_snapshot": True,
        "entered_zones": list(zones), "current_zones": [] if end else list(zones),
    }
    if plate:
        after["recognized_license_plate"] = plate
        after["recognized_license_plate_score"] = 0.91
    return "frigate/events", {"type": phase, "before": after, "after": after}


def seed_incident_scenario(conn, now: dt.datetime | None = None) -> dict[str, object]:
    """Cameras, incidents and snapshots of the scenario; returns the keys and images."""
    now = now or dt.datetime.now(dt.UTC)
    register_cameras(conn)
    t0 = now - dt.timedelta(minutes=50)
    fire_image = camera_jpeg(3, "SMOKE")
    fire_sha = hashlib.sha256(fire_image).hexdigest()
    fight_image = camera_jpeg(7, "FIGHT")
    plate_images = [camera_jpeg(10 + i, WANTED) for i in range(len(PLATE_ROUTE))]

    records: list = []
    # smoke and fire at Cốc Lếu market: our JSON, new then end, snapshot named by its hash
    for phase, minutes, conf in (("new", 0, 0.81), ("update", 2, 0.9), ("end", 9, 0.88)):
        topic, body = ioc_event("cam-mk-coc-leu", "cam-mk-coc-leu-0007", "fire", phase,
                                t0 + dt.timedelta(minutes=minutes), confidence=conf,
                                zone="stalls", label="khói và lửa ở quầy hàng",
                                snapshot=f"sha256:{fire_sha}")
        records += parsed(topic, body, now)
    records += parsed("frigate/cam-mk-coc-leu/fire/snapshot", fire_image, now)

    # a fight at Sa Pa night market: Frigate `person` with sub_label ["fight", score]
    fight_start = t0 + dt.timedelta(minutes=5)
    for phase, seconds, score in (("new", 0, 0.62), ("update", 40, 0.86), ("end", 150, 0.8)):
        topic, body = frigate_event(phase, "1748743215.482917-fight1",
                                    "cam-ts-sa-pa-night-market", "person", fight_start,
                                    fight_start + dt.timedelta(seconds=seconds), score=score,
                                    sub_label=["fight", score], zones=("stalls",),
                                    end=phase == "end")
        records += parsed(topic, body, now)
    # Frigate's snapshot arrives on its own topic; its time is when it was received
    snap_at = fight_start + dt.timedelta(seconds=45)
    records += parsed("frigate/cam-ts-sa-pa-night-market/person/snapshot", fight_image, snap_at)

    # the wanted plate crossing four cameras, ten minutes apart, two spellings
    plate_keys = []
    for i, camera in enumerate(PLATE_ROUTE):
        at = t0 + dt.timedelta(minutes=10 + 10 * i)
        if i % 2 == 0:
            event_id = f"anpr-{camera}-{i}"
            sha = hashlib.sha256(plate_images[i]).hexdigest()
            topic, body = ioc_event(camera, event_id, "wanted_plate", "new", at,
                                    confidence=0.95, plate=WANTED, zone="lane_in",
                                    snapshot=f"sha256:{sha}")
            records += parsed(topic, body, now)
            records += parsed(f"frigate/{camera}/car/snapshot", plate_images[i], now)
            plate_keys.append(f"ioc:{event_id}")
        else:
            event_id = f"{at.timestamp():.6f}-car{i}"
            for phase, sec in (("new", 0), ("update", 3), ("end", 8)):
                topic, body = frigate_event(phase, event_id, camera, "car", at,
                                            at + dt.timedelta(seconds=sec), score=0.9,
                                            plate="24A68668", zones=("lane_in",),
                                            end=phase == "end")
                records += parsed(topic, body, now)
            records += parsed(f"frigate/{camera}/car/snapshot", plate_images[i],
                              at + dt.timedelta(seconds=4))
            plate_keys.append(f"frigate:{event_id}")
    write(conn, records)
    conn.commit()
    return {
        "fire": "ioc:cam-mk-coc-leu-0007",
        "fight": "frigate:1748743215.482917-fight1",
        "plate": plate_keys,
        "fire_image": fire_image,
        "fire_sha": fire_sha,
        "fight_image": fight_image,
        "now": now,
    }


# -- tests ---------------------------------------------------------------------------------------
def test_frigate_new_update_end_merge_into_one_incident(db_conn):
    register_cameras(db_conn)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(minutes=5)
    messages = [
        frigate_event("new", "ev-1", "cam-ts-sa-pa-night-market", "person", start, start,
                      score=0.55, sub_label=None),
        frigate_event("update", "ev-1", "cam-ts-sa-pa-night-market", "person", start,
                      start + dt.timedelta(seconds=20), score=0.91, sub_label=["fight", 0.91],
                      zones=("stalls",)),
        frigate_event("end", "ev-1", "cam-ts-sa-pa-night-market", "person", start,
                      start + dt.timedelta(seconds=90), score=0.8, sub_label=["fight", 0.8],
                      zones=("street",), end=True),
    ]
    records = [r for topic, body in messages for r in parsed(topic, body, now)]
    # the end arrives first and in its own batch; new and update come later, redelivered
    write(db_conn, records[2:])
    write(db_conn, records[:2] + records[:2])
    with db_conn.transaction():
        (count,) = db_conn.execute("SELECT count(*) FROM camera_incidents").fetchone()
        inc = store.load_incident(db_conn, "frigate", "ev-1")
    assert count == 1
    assert inc.phase == "end" and inc.type == "fight" and inc.label == "person"
    assert inc.started_at == start.replace(microsecond=inc.started_at.microsecond)
    assert inc.ended_at is not None and inc.ended_at > inc.started_at
    assert inc.top_confidence == pytest.approx(0.91) and inc.confidence == pytest.approx(0.8)
    assert inc.zones == ("stalls", "street") and not inc.false_positive
    assert inc.snapshot_url == "frigate:/api/events/ev-1/snapshot.jpg"
    assert inc.unit_id == "sa_pa" and inc.camera_name == "Chợ đêm Sa Pa"


def test_scenario_in_the_queue(db_conn):
    seeded = seed_incident_scenario(db_conn)
    with db_conn.transaction():
        queue = q.load_queue(db_conn, q.QueueFilter(), "police")
    keys = [i.key for i in queue]
    assert set(keys) == {seeded["fire"], seeded["fight"], *seeded["plate"]}
    assert keys == sorted(keys, key=lambda k: -next(
        i.last_update.timestamp() for i in queue if i.key == k))  # newest first
    by_key = {i.key: i for i in queue}
    assert by_key[seeded["fire"]].type == "fire" and by_key[seeded["fight"]].type == "fight"
    assert {by_key[k].plate for k in seeded["plate"]} == {WANTED, "24A68668"}
    with db_conn.transaction():
        fight = store.load_incident(db_conn, *store.split_key(seeded["fight"]))
        snaps = store.incident_snapshots(db_conn, fight)
        fire = store.load_incident(db_conn, *store.split_key(seeded["fire"]))
        fire_snaps = store.incident_snapshots(db_conn, fire)
    assert len(snaps) == 1 and store.load_snapshot(db_conn, snaps[0].sha256).content == \
        seeded["fight_image"]
    assert [s.sha256 for s in fire_snaps] == [seeded["fire_sha"]]


def test_filters_and_unreviewed_first(db_conn):
    seeded = seed_incident_scenario(db_conn)
    with db_conn.transaction():
        store.add_review(db_conn, "ioc", "cam-mk-coc-leu-0007", action="verify",
                         reason="có khói thật", actor="cong-an-1")
        queue = q.load_queue(db_conn, q.QueueFilter(), "police")
        assert queue[-1].key == seeded["fire"] and queue[-1].review == "verified"
        assert all(i.review is None for i in queue[:-1])

        def keys(**kw):
            return {i.key for i in q.load_queue(db_conn, q.QueueFilter.of(**kw), "police")}

        assert keys(types=["fight"]) == {seeded["fight"]}
        assert keys(cameras=["cam-mk-coc-leu"]) == {seeded["fire"]}
        assert keys(units=["sa_pa"]) == {seeded["fight"], seeded["plate"][3]}
        assert keys(states=["verified"]) == {seeded["fire"]}
        assert seeded["fire"] not in keys(states=["unreviewed"])
        assert keys(period="1h") == keys(period="all")
        old = seeded["now"] + dt.timedelta(hours=3)
        later = q.load_queue(db_conn, q.QueueFilter.of(period="1h"), "police", now=old)
        assert later == []


def test_plate_path_across_cameras_and_masking(db_conn):
    seeded = seed_incident_scenario(db_conn)
    with db_conn.transaction():
        police = one.load_detail(db_conn, seeded["plate"][1], "police")
        operator = one.load_detail(db_conn, seeded["plate"][1], "operator")
        queue_op = q.load_queue(db_conn, q.QueueFilter(), "operator")
        fire = one.load_detail(db_conn, seeded["fire"], "police")
    assert [i.key for i in police.plate_path] == seeded["plate"]  # in time order
    assert [i.device_id for i in police.plate_path] == PLATE_ROUTE
    assert police.incident.plate == "24A68668" and police.sensitive
    assert operator.plate_path == () and operator.custody == () and not operator.sensitive
    assert operator.incident.plate == "24A6****"
    assert {i.plate for i in queue_op if i.plate} == {"24A-6**.**", "24A6****"}
    assert fire.plate_path == () and fire.same_camera == ()
    assert [s.sha256 for s in fire.snapshots] == [seeded["fire_sha"]]


def test_decisions_notes_and_custody_are_append_only(db_conn, db_settings):
    from ioc.db import open_pool

    seeded = seed_incident_scenario(db_conn)
    pool = open_pool(db_settings, min_size=1)
    try:
        assert one.review(pool, seeded["fire"], "verify", " ", actor="ca", ip=None) == \
            one.ActionResult(False, "reason_required")
        assert one.review(pool, "ioc:nope", "verify", "x", actor="ca", ip=None).reason == \
            "not_found"
        assert one.review(pool, None, "verify", "x", actor="ca", ip=None).reason == "no_selection"
        assert one.review(pool, seeded["fire"], "dismiss", "báo nhầm", actor="ca",
                        ip="10.0.0.9").ok
        assert one.review(pool, seeded["fire"], "verify", "xem lại: có cháy", actor="cb",
                        ip=None).ok
        assert one.add_note(pool, seeded["fire"], "đã báo PCCC", actor="cb", ip=None).ok
        assert not one.add_note(pool, seeded["fire"], "", actor="cb", ip=None).ok
        one.record_view(pool, seeded["fire"], actor="cc", ip=None)
    finally:
        pool.close()
    with db_conn.transaction():
        detail = one.load_detail(db_conn, seeded["fire"], "police")
        audit_actions = [r[0] for r in db_conn.execute(
            "SELECT action FROM audit_log WHERE target = %s ORDER BY id",
            (f"incident:{seeded['fire']}",)).fetchall()]
    assert detail.incident.review == "verified" and detail.incident.reviewed_by == "cb"
    assert [(r.decision, r.actor) for r in detail.reviews] == [("dismissed", "ca"),
                                                             ("verified", "cb")]
    assert [n.note for n in detail.notes] == ["đã báo PCCC"]
    assert [c.action for c in detail.custody] == ["dismiss", "verify", "note", "view"]
    assert audit_actions == ["incident.dismiss", "incident.verify", "incident.note",
                             "evidence.view"]
    for table in ("incident_reviews", "incident_notes", "evidence_custody"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            with db_conn.transaction():
                db_conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
