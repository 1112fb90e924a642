"""Ownership of the MQTT stream among ingest workers, and the session listing's arithmetic."""

from __future__ import annotations

import pytest

from ingest.batch import Entry, Inbound, build_plan
from ingest.membership import (
    CONTROL_TOPIC,
    EMPTY,
    ControlError,
    Ownership,
    View,
    joined,
    left,
    owner,
)
from ioc.ingest_sessions import Heartbeat, Sample, queued_since, session_rows

TOPICS = [f"ioc/v1/environment/env-{i:04d}" for i in range(2000)]


def test_every_topic_has_exactly_one_owner_among_the_members():
    members = ("a", "b", "c")
    views = [Ownership(m, View(3, members)) for m in members]
    for topic in TOPICS:
        assert sum(o.mine(topic) for o in views) == 1
    shares = [sum(o.mine(t) for t in TOPICS) for o in views]
    assert all(500 < s < 850 for s in shares), shares  # about a third each


def test_removing_a_member_moves_only_its_topics():
    before = {t: owner(t, ("a", "b", "c")) for t in TOPICS}
    after = {t: owner(t, ("a", "c")) for t in TOPICS}
    moved = [t for t in TOPICS if before[t] != after[t]]
    assert moved and all(before[t] == "b" for t in moved)


def test_adding_a_member_moves_topics_only_to_it():
    before = {t: owner(t, ("a", "b")) for t in TOPICS}
    after = {t: owner(t, ("a", "b", "c")) for t in TOPICS}
    assert all(after[t] == "c" for t in TOPICS if before[t] != after[t])


def test_with_no_members_every_worker_stores_everything():
    assert Ownership("a", EMPTY).mine(TOPICS[0]) and Ownership("b", EMPTY).mine(TOPICS[0])
    assert owner(TOPICS[0], ()) is None


def test_a_worker_that_is_not_a_member_stores_nothing():
    o = Ownership("x", View(1, ("a", "b")))
    assert not o.member and not any(o.mine(t) for t in TOPICS)


def test_changing_the_view_clears_the_cache():
    o = Ownership("a", View(1, ("a",)))
    assert o.mine(TOPICS[0])
    o.view = View(2, ("b",))
    assert not o.mine(TOPICS[0])


def test_control_message_round_trip_and_rejections():
    v = View(7, ("b", "a"), "join b")
    decoded = View.decode(v.encode())
    assert decoded.epoch == 7 and decoded.members == ("a", "b") and decoded.change == "join b"
    for bad in (b"nope", b"[]", b'{"v": 2, "epoch": 1, "members": []}',
                b'{"v": 1, "epoch": "1", "members": []}', b'{"v": 1, "epoch": 1, "members": [1]}'):
        with pytest.raises(ControlError):
            View.decode(bad)


def test_joined_and_left():
    assert joined(View(1, ("b",)), "a") == ("a", "b")
    assert joined(View(1, ("a",)), "a") == ("a",)
    assert left(View(1, ("a", "b")), "a") == ("b",)


def test_a_control_message_goes_into_the_plan_as_the_view_not_as_data():
    view = View(4, ("a",))
    entries = [Entry(Inbound(CONTROL_TOPIC, view.encode(), 0.0, control=view))]
    plan = build_plan(entries, lambda d: None, auto_register=False, payload_cap=10)
    assert plan.control == view and not plan.dead_letters and plan.stored_records == 0


# -- sessions ---------------------------------------------------------------------------------
def _beat(name, at, stream, run="r1", pending=0, rate=0.0):
    return Heartbeat(name, at, run, stream, pending, rate, 1, True)


def test_queued_for_an_absent_worker_is_what_a_connected_one_received_since():
    away = _beat("b", 100.0, 50, pending=7)
    witness = _beat("a", 200.0, 1500)
    samples = [Sample(90.0, "r1", 400), Sample(99.0, "r1", 500), Sample(150.0, "r1", 900)]
    assert queued_since(away, witness, samples) == (1000 + 7, False)


def test_queued_is_a_lower_bound_when_the_witness_started_later():
    away = _beat("b", 100.0, 50)
    witness = _beat("a", 200.0, 300, run="r2")
    assert queued_since(away, witness, [Sample(90.0, "r1", 400)]) == (300, True)


def test_session_rows_flag_an_absent_member_that_queues():
    beats = {"a": _beat("a", 1000.0, 2000, rate=50.0), "b": _beat("b", 500.0, 10)}
    rows = session_rows(["a", "b"], ["a", "b"], beats, {"a": [Sample(400.0, "r1", 200)]}, 1001.0)
    a, b = rows
    assert a.online and a.consuming and a.queued == 0
    assert not b.online and not b.consuming and b.queued == 1800 and b.member


def test_the_receivers_first_look_skips_others_share_and_our_output_but_never_a_member_list():
    from ingest.receiver import Receiver
    from ioc.config import IngestSettings, MqttSettings, Settings

    s = Settings(mqtt=MqttSettings(url="mqtt://127.0.0.1:1", topic_prefix="p/"),
                 ingest=IngestSettings(max_pending=100))
    r = Receiver(s, "a")
    r.ownership.view = View(1, ("a", "b"))
    mine = next(t for t in TOPICS if owner(t, ("a", "b")) == "a")
    theirs = next(t for t in TOPICS if owner(t, ("a", "b")) == "b")
    assert r._others_share(f"p/{mine}".encode(), False) is False
    assert r._others_share(f"p/{theirs}".encode(), False) is True
    assert r._others_share(f"p/{theirs}".encode(), True) is True  # a redelivery
    assert r._others_share(b"p/ioc/v1/out/alerts/x", False) is True
    assert r._others_share(f"p/{CONTROL_TOPIC}".encode(), False) is False
    assert (r.skipped_other, r.skipped_outbound, r.stream) == (2, 1, 2)
