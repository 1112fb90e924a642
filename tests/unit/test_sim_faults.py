"""Device faults: silence, stuck values and broken payloads, at configurable rates."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from sensors_sim.faults import FaultInjector, malform
from sensors_sim.fleet import FaultRates, load_fleet
from sensors_sim.generator import generate

START = datetime(2025, 7, 12, 1, 0, tzinfo=UTC)


def test_no_faults_when_rates_are_zero():
    injector = FaultInjector(FaultRates(), random.Random(1))
    for i in range(1000):
        d = injector.decide(i * 60.0, {"pm25": 10.0})
        assert not d.drop and d.fault is None and d.metrics is None


def test_silence_lasts_minutes_then_ends():
    injector = FaultInjector(FaultRates(silent=1.0), random.Random(1))
    assert injector.decide(0.0, {"x": 1.0}).drop
    until = injector.silent_until
    assert 600 <= until <= 3600
    assert injector.decide(until - 1, {"x": 1.0}).drop


def test_stuck_repeats_the_last_values():
    injector = FaultInjector(FaultRates(stuck=1.0), random.Random(2))
    first = injector.decide(0.0, {"pm25": 12.3})
    assert first.fault == "stuck" and first.metrics == {"pm25": 12.3}
    later = injector.decide(300.0, {"pm25": 40.0})
    assert later.metrics == {"pm25": 12.3}


@pytest.mark.parametrize("variant", range(5))
def test_malformed_payloads_are_no_longer_valid_documents(variant):
    ours = json.dumps({"device_id": "aq-1", "time": "2025-07-12T01:00:00.000+00:00", "seq": 1,
                       "metrics": {"pm25": 10.5}}).encode()
    senml = json.dumps([{"bn": "aq-1:", "bt": 1752282000, "n": "pm25", "u": "ug/m3",
                         "v": 10.5}]).encode()
    assert malform(ours, variant, "aq-1") != ours
    assert malform(senml, variant, "aq-1") != senml


def test_fault_rates_from_the_fleet_file_shape_a_run():
    fleet = load_fleet()
    rates = FaultRates(silent=0.01, stuck=0.01, out_of_range=0.02, malformed=0.02,
                       clock_skew=0.02)
    end = START.timestamp() + 4 * 3600
    counts: Counter = Counter()
    for m in generate(fleet, "normal", START, 6, faults=rates):
        if m.sim_ts > end:
            break
        counts[m.fault] += 1
        if m.fault == "clock_skew":
            doc = json.loads(m.payload)
            t = doc["time"] if isinstance(doc, dict) else doc[0]["bt"]
            ahead = (datetime.fromisoformat(t).timestamp() if isinstance(t, str) else t) - m.stamp
            assert ahead >= 2 * 3600
    readings = sum(counts.values())
    for kind in ("out_of_range", "malformed", "clock_skew"):
        assert 0.01 < counts[kind] / readings < 0.03, counts
    assert counts["stuck"] > 0 and counts["silent"] == 0  # silence sends nothing
