"""Unit tests of the ingest worker's pure decisions: flushing, errors, devices, merging."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors

from ingest.batch import Entry, Inbound, Rejection, build_plan, message_digest
from ingest.db_errors import ErrorKind, classify, describe
from ingest.flush_policy import FlushPolicy, backoff_s
from ingest.incidents import incident_from_event, merge_incident, merge_incidents
from ingest.live_feed import READINGS_PER_EVENT, live_updates
from ingest.receiver import client_id_for, legacy_shared_topics, subscription_topics
from ingest.records import CameraEvent, DeviceStatus, Parsed, Reading
from ingest.registry import (
    DeviceEntry,
    DeviceRegistry,
    Verdict,
    device_verdict,
    family_from_topic,
)
from ioc.config import IngestSettings, MqttSettings, Settings

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


# -- flushing -----------------------------------------------------------------------------------
def test_flush_policy_by_size_window_and_time():
    policy = FlushPolicy(max_rows=100, max_messages=50, max_age_s=0.2)
    assert policy.reason(0, 0, 10.0) is None
    assert policy.reason(10, 10, 0.05) is None
    assert policy.reason(100, 10, 0.0) == "size"
    assert policy.reason(60, 50, 0.0) == "window"
    assert policy.reason(1, 1, 0.2) == "time"
    assert policy.wait_s(0, 0.0) == 0.2
    assert policy.wait_s(3, 0.15) == pytest.approx(0.05)
    assert policy.wait_s(3, 0.5) == 0.0


def test_flush_policy_keeps_batches_within_half_the_receive_window():
    ingest = IngestSettings(batch_size=5000, flush_interval_ms=250, max_pending=50_000)
    policy = FlushPolicy.from_settings(ingest, receive_window=1000)
    assert (policy.max_rows, policy.max_messages, policy.max_age_s) == (5000, 500, 0.25)
    assert FlushPolicy.from_settings(ingest, 65535).max_messages == 25_000


def test_backoff_doubles_up_to_a_cap():
    assert [backoff_s(a) for a in range(0, 5)] == [0.0, 0.2, 0.4, 0.8, 1.6]
    assert backoff_s(50) == 10.0


# -- database errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (psycopg.OperationalError("connection refused"), ErrorKind.TEMPORARY),
        (errors.AdminShutdown("terminating connection"), ErrorKind.TEMPORARY),
        (errors.SerializationFailure("retry"), ErrorKind.TEMPORARY),
        (psycopg.InterfaceError("the connection is closed"), ErrorKind.TEMPORARY),
        (errors.UndefinedTable("no readings"), ErrorKind.TEMPORARY),
        (errors.CharacterNotInRepertoire("invalid byte sequence"), ErrorKind.DATA),
        (errors.NumericValueOutOfRange("out of range"), ErrorKind.DATA),
        (errors.CheckViolation("devices_device_id_check"), ErrorKind.DATA),
        (errors.NotNullViolation("null value"), ErrorKind.DATA),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
         ErrorKind.DATA),
        (TimeoutError("socket"), ErrorKind.TEMPORARY),
    ],
)
def test_classify(err, kind):
    assert classify(err) is kind


def test_describe_is_one_clean_line():
    assert describe(psycopg.DataError("bad\x00 value\nsecond line")) == "bad value"


# -- device registry ----------------------------------------------------------------------------
def test_device_verdicts():
    on, off = DeviceEntry("environment", True), DeviceEntry("environment", False)
    assert device_verdict(on, auto_register=False, family=None) is Verdict.ACCEPT
    assert device_verdict(off, auto_register=True, family="environment") is Verdict.DISABLED
    assert device_verdict(None, auto_register=False, family="camera") is Verdict.UNKNOWN
    assert device_verdict(None, auto_register=True, family="camera") is Verdict.REGISTER
    assert device_verdict(None, auto_register=True, family=None) is Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("topic", "fmt", "family"),
    [
        ("ioc/v1/disaster/rain-1", "ioc-json", "disaster"),
        ("ioc/v1/senml/aq-9", "senml", "environment"),
        ("frigate/events", "frigate", "camera"),
        ("ioc/v1/status/x", "status", None),
        ("ioc/v1/cap", "cap", None),
    ],
)
def test_family_from_topic(topic, fmt, family):
    assert family_from_topic(topic, fmt) == family


def test_registry_refreshes_periodically_and_on_a_miss_at_most_every_few_seconds():
    now = [100.0]
    reg = DeviceRegistry(refresh_s=30, miss_refresh_s=2, clock=lambda: now[0])
    assert reg.due(misses=False)  # never loaded
    reg.devices, reg.loaded_at = {"a": DeviceEntry("camera", True)}, now[0]
    assert not reg.misses(["a"]) and reg.misses(["a", "b"])
    now[0] += 1
    assert not reg.due(misses=True)  # a miss, but we just loaded
    now[0] += 1.5
    assert reg.due(misses=True) and not reg.due(misses=False)
    now[0] += 30
    assert reg.due(misses=False)


# -- write plans --------------------------------------------------------------------------------
def _entry(topic: str, device: str, fmt: str = "ioc-json", n: int = 1) -> Entry:
    records = tuple(Reading(device, f"m{i}", T0, float(i)) for i in range(n))
    return Entry(Inbound(topic, b"{}", 0.0), parsed=Parsed(fmt, device, records))


def test_build_plan_routes_records_and_dead_letters_refused_messages():
    lookup = {"ok": DeviceEntry("environment", True), "off": DeviceEntry("environment", False)}.get
    bad = Entry(Inbound("ioc/v1/environment/z", b"x" * 100, 0.0),
                rejection=Rejection("invalid JSON", "payload", "ioc-json", "z"))
    status = Entry(Inbound("ioc/v1/status/new", b"online", 0.0),
                   parsed=Parsed("status", "new", (DeviceStatus("new", True, T0),)))
    entries = [
        _entry("ioc/v1/environment/ok", "ok", n=3),
        _entry("ioc/v1/environment/off", "off"),
        _entry("ioc/v1/environment/new", "new"),
        bad,
        status,
    ]
    plan = build_plan(entries, lookup, auto_register=False, payload_cap=10)
    assert len(plan.readings) == 3 and plan.statuses == []
    reasons = [(d.device_id, d.reason_class, d.payload_size, len(d.payload))
               for d in plan.dead_letters]
    assert reasons == [("off", "disabled_device", 2, 2), ("new", "unknown_device", 2, 2),
                       ("z", "payload", 100, 10), ("new", "unknown_device", 6, 6)]
    assert plan.dead_letters[2].digest == message_digest("ioc/v1/environment/z", b"x" * 100)

    auto = build_plan(entries, lookup, auto_register=True, payload_cap=10)
    assert auto.new_devices == {"new": "environment"}
    assert len(auto.readings) == 4 and len(auto.statuses) == 1
    assert [d.reason_class for d in auto.dead_letters] == ["disabled_device", "payload"]


# -- incidents ----------------------------------------------------------------------------------
def _event(phase: str, seconds: int, confidence: float, zones=(), plate=None) -> CameraEvent:
    return CameraEvent(
        source="ioc", event_id="e1", device_id="cam-1", phase=phase, label="fire",
        confidence=confidence, top_confidence=None, started_at=T0,
        ended_at=T0 + timedelta(seconds=seconds) if phase == "end" else None,
        time=T0 + timedelta(seconds=seconds), zones=tuple(zones), plate=plate,
    )


def test_incident_merge_is_order_insensitive_and_idempotent():
    events = [
        _event("new", 0, 0.6, ["a"]),
        _event("update", 5, 0.9, ["b"], plate="29A-12345"),
        _event("end", 9, 0.7),
    ]
    results = [merge_incidents(list(p))[0] for p in itertools.permutations(events)]
    row = results[0]
    assert all(r == row for r in results)
    assert row.phase == "end" and row.confidence == 0.7 and row.top_confidence == 0.9
    assert row.zones == ("a", "b") and row.plate == "29A-12345"
    assert row.first_seen == T0 and row.last_update == T0 + timedelta(seconds=9)
    assert row.ended_at == T0 + timedelta(seconds=9)
    assert merge_incident(row, row) == row
    again = merge_incidents(events + events)[0]
    assert again == row


def test_an_update_after_the_end_does_not_reopen_the_incident():
    end, late = incident_from_event(_event("end", 5, 0.5)), incident_from_event(_event("update", 8, 0.4))
    assert merge_incident(end, late).phase == "end"


# -- live feed ----------------------------------------------------------------------------------
def test_live_updates_are_compact_and_chunked():
    entries = [_entry("ioc/v1/environment/ok", "ok", n=READINGS_PER_EVENT + 5)]
    plan = build_plan(entries, lambda _d: DeviceEntry("environment", True), auto_register=False,
                      payload_cap=10)
    latest, events = live_updates(plan, worker="w", committed_at=1.0)
    assert len(latest) == READINGS_PER_EVENT + 5
    assert [e.count for e in events] == [READINGS_PER_EVENT, 5]
    assert events[1].readings[0] == ["ok", f"m{READINGS_PER_EVENT}",
                                     float(READINGS_PER_EVENT), T0.timestamp()]
    assert [e.to_wire()["count"] for e in events] == [READINGS_PER_EVENT, 5]


# -- MQTT side ----------------------------------------------------------------------------------
def test_subscriptions_and_client_id():
    s = Settings(mqtt=MqttSettings(shared_group="grp", frigate_prefix="nvr"))
    # Plain filters: Mosquitto restores them for offline sessions after a restart.
    assert subscription_topics(s) == ["ioc/v1/#", "nvr/#"]
    assert legacy_shared_topics(s) == ["$share/grp/ioc/v1/#", "$share/grp/nvr/#"]
    assert client_id_for("node 1/a") == "ingest-node-1-a"
    assert client_id_for("x") == client_id_for("x")


def test_acks_only_go_out_on_the_connection_the_message_came_in_on():
    from ingest.batch import Inbound
    from ingest.receiver import Receiver

    s = Settings(mqtt=MqttSettings(url="mqtt://127.0.0.1:1"),
                 ingest=IngestSettings(max_pending=100))
    receiver = Receiver(s, "unit")
    sent = []
    receiver.mqtt.ack_many = lambda handles, generation=None: sent.extend(handles)
    receiver.mqtt.connect_count = 2
    receiver._pending = 3
    old, new = Inbound("t", b"", 0.0, "old", 1), Inbound("t", b"", 0.0, "new", 2)
    assert receiver.ack([old, new, Inbound("t", b"", 0.0, None, 2)]) == 1
    assert sent == ["new"] and receiver.pending == 0
    assert receiver.receive_window == 100


def test_pubacks_leave_in_arrival_order():
    from ioc.mqtt_wire import AckOrder

    order = AckOrder()
    order.arrived(1)
    order.arrived(2, finished=True)  # another member's: finished on arrival
    order.arrived(3)
    order.arrived(4, finished=True)
    assert order.pop_ready() == [] and len(order) == 4  # 1 is not stored yet
    order.finish([3])
    assert order.pop_ready() == []  # 3 may not overtake 1
    order.finish([1])
    assert order.pop_ready() == [1, 2, 3, 4] and len(order) == 0
    order.arrived(5)
    order.arrived(6, finished=True)
    order.drop([5])  # given up: sent again after a reconnect, no PUBACK now
    assert order.pop_ready() == [6]
    order.arrived(7)
    order.reset(2)
    assert len(order) == 0 and order.generation == 2 and order.pop_ready() == []
