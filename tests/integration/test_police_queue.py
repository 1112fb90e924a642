"""The police queue against real PostgreSQL: rules and watchlist hits decide what enters,
ordinary detections are counted and searchable but not queued, order and paging are stable,
and every watchlist change is audited.

`seed_queue_scenario` is what the police browser test starts from: the incident scenario
(tests/integration/test_police_ingest.py), the wanted plate on the watchlist, and ordinary
people and vehicles around it.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from dashboards import police_queries as q
from police import watchlist
from police.rules import load_rules
from tests.integration.test_police_ingest import (
    CAMERAS,
    WANTED,
    frigate_event,
    parsed,
    seed_incident_scenario,
    write,
)

pytestmark = pytest.mark.integration
RULES = load_rules()


def seed_detections(conn, n: int, now: dt.datetime, seed: int = 1) -> None:
    """`n` ordinary Frigate detections (people, cars with plates, motorbikes)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        camera = rng.choice(CAMERAS)[0]
        label = rng.choice(("person", "car", "motorcycle"))
        at = now - dt.timedelta(minutes=rng.uniform(1, 55))
        plate = f"24B-{rng.randrange(1000):03d}.{rng.randrange(100):02d}" if label == "car" \
            else None
        topic, body = frigate_event("end", f"{at.timestamp():.6f}-obj{i}", camera, label, at,
                                    at + dt.timedelta(seconds=20), score=0.8, plate=plate,
                                    zones=("stalls",), end=True)
        records += parsed(topic, body, now)
    write(conn, records)
    conn.commit()


def seed_queue_scenario(conn, *, detections: int = 40, watch_first: bool = True) -> dict:
    now = dt.datetime.now(dt.UTC)
    entry = None
    if watch_first:
        with conn.transaction():
            entry = watchlist.add(conn, WANTED, "Xe liên quan vụ cướp tài sản", actor="police1",
                                  rules=RULES)
    seeded = seed_incident_scenario(conn, now)
    seed_detections(conn, detections, now)
    if not watch_first:
        with conn.transaction():
            entry = watchlist.add(conn, "24a 686 68", "Xe liên quan vụ cướp tài sản",
                                  actor="police1", rules=RULES)
    conn.commit()
    return {**seeded, "watch": entry}


def audit_rows(conn, prefix: str) -> list[tuple]:
    with conn.transaction():
        return conn.execute(
            "SELECT actor, action, target, details FROM audit_log WHERE action LIKE %s "
            "ORDER BY id", (prefix + "%",)).fetchall()


@pytest.mark.parametrize("watch_first", [True, False])
def test_the_queue_holds_decisions_not_detections(db_conn, watch_first):
    seeded = seed_queue_scenario(db_conn, watch_first=watch_first)
    with db_conn.transaction():
        page = q.load_queue_page(db_conn, q.QueueFilter.of(), "police")
        everything = q.load_queue(db_conn, q.QueueFilter.of(), "police")
        counted = q.count_detections(db_conn, q.QueueFilter.of())
    keys = [i.incident.key for i in page.items]
    # the four sightings of the wanted plate first (newest first), then the fire, the fight
    assert keys[:4] == list(reversed(seeded["plate"]))
    assert all(i.hit and i.watch_reason.startswith("Xe liên quan") for i in page.items[:4])
    assert keys[4] == seeded["fire"] and page.items[4].priority == 90
    assert keys[5] == seeded["fight"] and page.items[5].priority == 70
    assert page.total == len(keys) == 6
    # ordinary detections are not queued, but counted and found by the search
    assert not {i.incident.type for i in page.items} & {"person", "motorcycle"}
    assert len(everything) == counted == 46
    assert q.priority_class(page.items[0]) == "hit" and q.priority_class(page.items[4]) == "urgent"


def test_order_is_stable_and_pages_go_beyond_the_first(db_conn):
    seed_incident_scenario(db_conn)
    now = dt.datetime.now(dt.UTC)
    # 230 traffic violations with the same time: the key breaks the tie, the same every time
    at = now - dt.timedelta(minutes=3)
    records = []
    for i in range(230):
        topic = "ioc/v1/camera/cam-jn-coc-leu"
        body = {"time": at.isoformat(), "event": {"id": f"tv-{i:03d}",
                                                  "type": "traffic_violation", "phase": "new",
                                                  "confidence": 0.9, "zone": "stop_line"}}
        records += parsed(topic, body, now)
    write(db_conn, records)
    db_conn.commit()
    flt = q.QueueFilter.of()
    with db_conn.transaction():
        first = q.load_queue_page(db_conn, flt, "police", page=0)
        again = q.load_queue_page(db_conn, flt, "police", page=0)
        pages = [q.load_queue_page(db_conn, flt, "police", page=p) for p in range(first.pages)]
    assert [i.incident.key for i in first.items] == [i.incident.key for i in again.items]
    # 230 + the fire, the fight and the two reports our cameras typed `wanted_plate`
    assert first.total == 234 and first.pages == 5
    seen = [i.incident.key for p in pages for i in p.items]
    assert len(seen) == len(set(seen)) == 234
    # the wanted-plate reports of our JSON cameras are queued by their type (95)
    assert first.items[0].incident.type == "wanted_plate" and not first.items[0].hit
    violations = [k for k in seen if k.startswith("ioc:tv-")]
    assert violations == sorted(violations)


def test_search_by_plate_camera_unit_and_time(db_conn):
    seeded = seed_queue_scenario(db_conn)
    with db_conn.transaction():
        by_plate = q.load_queue(db_conn, q.QueueFilter.of(plate="24a68668"), "police")
        queued = q.load_queue_page(db_conn, q.QueueFilter.of(plate="24A-686.68"), "police")
        camera = q.load_queue_page(db_conn, q.QueueFilter.of(cameras=["cam-mk-coc-leu"]),
                                   "police")
        unit = q.load_queue_page(db_conn, q.QueueFilter.of(units=["sa_pa"]), "police")
        last_hour = q.load_queue_page(db_conn, q.QueueFilter.of(period="1h"), "police")
        masked = q.load_queue_page(db_conn, q.QueueFilter.of(), "operator")
    assert sorted(i.key for i in by_plate) == sorted(seeded["plate"])
    assert len(queued.items) == 4
    assert [i.incident.key for i in camera.items] == [seeded["fire"]]
    assert {i.incident.device_id for i in unit.items} == {"cam-jn-sa-pa-gateway",
                                                          "cam-ts-sa-pa-night-market"}
    assert last_hour.total == 6
    assert {i.incident.plate for i in masked.items[:4]} == {"24A-6**.**", "24A6****"}


def test_deciding_takes_an_incident_out_of_the_queue(db_conn):
    seeded = seed_queue_scenario(db_conn)
    with db_conn.transaction():
        q.store.add_review(db_conn, *q.store.split_key(seeded["fire"]), action="verify",
                           reason="Cháy thật", actor="police1")
    with db_conn.transaction():
        waiting = q.load_queue_page(db_conn, q.QueueFilter.of(), "police")
        done = q.load_queue_page(db_conn, q.QueueFilter.of(states=["verified"]), "police")
    assert seeded["fire"] not in [i.incident.key for i in waiting.items]
    assert [i.incident.key for i in done.items] == [seeded["fire"]]


def test_watchlist_changes_are_audited_and_hits_follow_the_list(db_conn):
    seeded = seed_queue_scenario(db_conn, watch_first=False)
    with db_conn.transaction():
        with pytest.raises(watchlist.WatchlistError, match="already on the watchlist"):
            watchlist.add(db_conn, "24A68668", "again", actor="police2", rules=RULES)
    with db_conn.transaction():
        with pytest.raises(watchlist.WatchlistError, match="reason: required"):
            watchlist.add(db_conn, "29A-111.11", " ", actor="police2", rules=RULES)
        with pytest.raises(watchlist.WatchlistError, match="plate: '--' has fewer"):
            watchlist.add(db_conn, "--", "x", actor="police2", rules=RULES)
    with db_conn.transaction():
        hits = q.load_watch_hits(db_conn, "police")
        assert q.load_watch_hits(db_conn, "operator") == []
    assert sorted(h.incident.key for h in hits) == sorted(seeded["plate"])
    with db_conn.transaction():
        removed = watchlist.remove(db_conn, "24A-686.68", actor="police2", rules=RULES)
    assert removed.removed_by == "police2"
    with db_conn.transaction():
        page = q.load_queue_page(db_conn, q.QueueFilter.of(), "police")
        entries = watchlist.list_entries(db_conn, include_removed=True)
    # without the list, the two Frigate `car` sightings leave the queue; the two reports our
    # cameras typed `wanted_plate` stay, by their own rule
    assert not any(i.hit for i in page.items)
    assert sorted(i.incident.key for i in page.items if i.rule == "wanted_plate") == sorted(
        k for k in seeded["plate"] if k.startswith("ioc:"))
    assert page.total == 4
    assert [(e.plate, e.removed_by) for e in entries] == [("24a 686 68", "police2")]
    rows = audit_rows(db_conn, "watchlist.")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("police1", "watchlist.add", "plate:24A68668"),
        ("police2", "watchlist.remove", "plate:24A68668"),
    ]
    assert rows[0][3]["reason"] == "Xe liên quan vụ cướp tài sản"
    assert rows[0][3]["sightings_queued"] == 4


def test_an_expired_entry_no_longer_hits(db_conn):
    with db_conn.transaction():
        entry = watchlist.add(db_conn, WANTED, "hết hạn", actor="police1", rules=RULES,
                              expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        db_conn.execute("UPDATE police_watchlist SET added_at = now() - interval '3 hours', "
                        "expires_at = now() - interval '1 hour' WHERE id = %s", (entry.id,))
    seed_incident_scenario(db_conn)
    with db_conn.transaction():
        page = q.load_queue_page(db_conn, q.QueueFilter.of(), "police")
    assert not any(i.hit for i in page.items)


def test_simulated_incidents_reach_the_queue_with_their_pictures(db_conn):
    """The incident scenario of the simulator through the real parsers and store: every
    incident in the queue has a stored JPEG; ordinary detections stay out of it."""
    from evidence import store
    from ingest.formats import parse
    from sensors_sim.fleet import FaultRates, load_fleet
    from sensors_sim.generator import generate

    fleet = load_fleet()
    fleet = fleet.model_copy(update={"devices": [d for d in fleet.devices
                                                 if d.kind == "camera"]})
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    register = [(d.id, d.name, d.unit_id, d.lon, d.lat) for d in fleet.devices]
    with db_conn.transaction():
        for row in register:
            db_conn.execute(
                "INSERT INTO devices (device_id, family, kind, name, unit_id, lon, lat) "
                "VALUES (%s, 'camera', 'camera', %s, %s, %s, %s) ON CONFLICT DO NOTHING", row)
        watchlist.add(db_conn, fleet.scenarios.incident.wanted_plate, "Truy nã",
                      actor="police1", rules=RULES)
    records = []
    end = start.timestamp() + 100 * 60
    for m in generate(fleet, "incident", start, 1, faults=FaultRates()):
        if m.sim_ts > end:
            break
        at = dt.datetime.fromtimestamp(m.stamp, dt.UTC)
        records += list(parse(m.topic, m.payload, now=at).records)
    write(db_conn, records)
    db_conn.commit()
    with db_conn.transaction():
        page = q.load_queue_page(db_conn, q.QueueFilter.of(period="24h"), "police",
                                 page_size=500)
        without = [i.incident.key for i in page.items
                   if not store.incident_snapshots(db_conn, i.incident)]
        searched = q.count_detections(db_conn, q.QueueFilter.of(period="24h"))
    kinds = {i.incident.type for i in page.items}
    assert {"fire", "smoke", "fight"} <= kinds
    assert page.items[0].hit and page.items[0].incident.plate == "24A-686.68"
    assert not kinds & {"motorcycle", "truck"}
    assert all(i.hit for i in page.items if i.incident.type == "car")
    # a person is queued only in a closed zone (the rule for intrusion there)
    assert all(set(i.incident.zones) & {"inspection", "loading_bay"}
               for i in page.items if i.incident.type == "person")
    assert without == [], [(i.incident.type, i.rule, i.incident.zones) for i in page.items if i.incident.key in without]
    assert searched > 3 * page.total  # the detections are stored, counted, not queued
