"""Every simulated payload passes ingest validation; faulty ones are dead-lettered."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from ingest import formats
from ingest.records import CameraEvent, DeviceStatus, PayloadError, Reading
from sensors_sim.faults import FAULT_KINDS, REJECTED
from sensors_sim.fleet import FaultRates, load_fleet
from sensors_sim.generator import generate
from sensors_sim.scenarios import SCENARIOS

START = datetime(2025, 3, 8, 20, 0, tzinfo=UTC)  # Sunday 03:00 local, dry season
FRIGATE_PREFIX = "frigate"


@pytest.fixture(scope="module")
def fleet():
    return load_fleet()


def received_at(message) -> datetime:
    """Ingest sees the message when the publisher sends it: at its payload time."""
    return datetime.fromtimestamp(message.stamp, UTC)


def parse(message):
    return formats.parse(message.topic, message.payload, frigate_prefix=FRIGATE_PREFIX,
                         now=received_at(message))


def messages(fleet, scenario, hours, *, seed=1, speed=1.0, faults=None):
    end = START.timestamp() + hours * 3600
    for m in generate(fleet, scenario, START, seed, speed=speed, faults=faults or FaultRates(),
                      frigate_prefix=FRIGATE_PREFIX):
        if m.sim_ts > end:
            return
        yield m


@pytest.mark.parametrize("speed", [1.0, 60.0])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_payload_is_valid_for_ingest(fleet, scenario, speed):
    seen_formats: Counter = Counter()
    records: Counter = Counter()
    for m in messages(fleet, scenario, 3, speed=speed):
        try:
            parsed = parse(m)
        except PayloadError as err:
            pytest.fail(f"{m.topic} rejected: {err}\n{m.payload[:500]!r}")
        seen_formats[parsed.format] += 1
        assert parsed.records
        for record in parsed.records:
            records[type(record).__name__] += 1
            assert record.device_id == m.device_id
            if isinstance(record, Reading | DeviceStatus):
                assert abs((record.time - received_at(m)).total_seconds()) < 0.01
    assert set(seen_formats) == {"ioc-json", "senml", "frigate", "status"}
    assert {"Reading", "CameraEvent", "DeviceStatus"} <= set(records)


def test_frigate_events_keep_their_id_and_zones_across_phases(fleet):
    phases: dict[str, list[CameraEvent]] = {}
    for m in messages(fleet, "incident", 1):
        if m.topic == "frigate/events":
            event = parse(m).records[0]
            phases.setdefault(event.event_id, []).append(event)
    assert phases
    for states in phases.values():
        assert states[0].phase == "new"
        assert len({s.started_at for s in states}) == 1
        assert len({s.device_id for s in states}) == 1
        if states[-1].phase == "end":
            assert states[-1].ended_at >= states[0].started_at


def test_faulty_payloads_are_rejected_and_the_rest_accepted(fleet):
    rates = FaultRates(**{k: 0.03 for k in FAULT_KINDS})
    faults: Counter = Counter()
    for m in messages(fleet, "normal", 3, seed=8, faults=rates):
        faults[m.fault] += 1
        if m.fault in REJECTED:
            with pytest.raises(PayloadError):
                parse(m)
        else:
            parse(m)
    for kind in ("stuck", *REJECTED):
        assert faults[kind] > 5, faults
    # silence drops messages: fewer readings than the same run without faults
    clean = sum(1 for _ in messages(fleet, "normal", 3, seed=8))
    assert sum(faults.values()) < clean


def test_default_fault_rates_are_low(fleet):
    counts: Counter = Counter()
    for m in messages(fleet, "normal", 6, seed=3, faults=fleet.faults):
        counts[m.fault in REJECTED] += 1
    share = counts[True] / (counts[True] + counts[False])
    assert share < 0.005


def test_load_mode_payloads_are_valid(fleet):
    import itertools

    from sensors_sim.load_mode import build_load_fleet, generate_load

    load = build_load_fleet(fleet, 200, 400.0)
    for m in itertools.islice(generate_load(load, START, 5), 2000):
        parse(m)
