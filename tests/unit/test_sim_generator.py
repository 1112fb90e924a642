"""The generator: repeatable, time-ordered, live from the first seconds, pure."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from sensors_sim.fleet import FaultRates, load_fleet
from sensors_sim.generator import generate
from sensors_sim.scenarios import SCENARIOS

START = datetime(2025, 7, 12, 1, 0, tzinfo=UTC)  # 08:00 in Lào Cai


@pytest.fixture(scope="module")
def fleet():
    return load_fleet()


def first(n: int, *args, **kwargs) -> list:
    return list(itertools.islice(generate(*args, **kwargs), n))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_seed_gives_identical_messages(fleet, scenario):
    a = first(3000, fleet, scenario, START, 1234)
    b = first(3000, load_fleet(), scenario, START, 1234)
    assert [(m.sim_time, m.topic, m.payload) for m in a] == \
        [(m.sim_time, m.topic, m.payload) for m in b]


def test_different_seeds_differ(fleet):
    a = [m.payload for m in first(3000, fleet, "normal", START, 1)]
    b = [m.payload for m in first(3000, fleet, "normal", START, 2)]
    assert a != b
    assert len(set(a) & set(b)) < len(a) // 2


def test_messages_unpack_as_time_topic_payload(fleet):
    sim_time, topic, payload = next(generate(fleet, "normal", START, 1))
    assert sim_time == START
    assert topic.startswith("ioc/v1/status/")
    assert json.loads(payload)["status"] == "online"


def test_messages_are_in_time_order_and_start_live(fleet):
    messages = [m for m in first(5000, fleet, "normal", START, 5)]
    times = [m.sim_ts for m in messages]
    assert times == sorted(times)
    # every device announces itself and sends a first reading within ten seconds
    early = [m for m in messages if m.sim_ts <= START.timestamp() + 10]
    online = {m.device_id for m in early if m.topic.startswith("ioc/v1/status/")}
    data = {m.device_id for m in early if not m.topic.startswith("ioc/v1/status/")}
    assert online == {d.id for d in fleet.devices}
    assert data == {d.id for d in fleet.devices}


def test_devices_report_at_their_intervals(fleet):
    end = START.timestamp() + 3600
    counts: dict[str, int] = {}
    for m in generate(fleet, "normal", START, 3, faults=FaultRates()):
        if m.sim_ts > end:
            break
        if m.topic.startswith(("ioc/v1/environment/", "ioc/v1/disaster/", "ioc/v1/tourism/",
                               "ioc/v1/senml/")):
            counts[m.device_id] = counts.get(m.device_id, 0) + 1
    assert 59 <= counts["aq-bac-cuong"] <= 61  # every 60 s
    assert 12 <= counts["wl-red-lao-cai"] <= 13  # every 300 s
    assert 59 <= counts["cnt-sa-pa-square"] <= 61
    assert 4 <= counts["acc-sa-pa"] <= 5  # every 900 s


def test_payload_times_are_simulated_time_at_speed_1(fleet):
    for m in first(500, fleet, "normal", START, 9, faults=FaultRates()):
        assert m.stamp == pytest.approx(m.sim_ts)
        if m.topic.startswith("ioc/v1/environment/"):
            doc = json.loads(m.payload)
            assert doc["time"].endswith("+00:00")
            assert datetime.fromisoformat(doc["time"]) == \
                datetime.fromtimestamp(round(m.sim_ts, 3), UTC)


def test_speed_compresses_payload_times_but_not_the_signals(fleet):
    slow = first(2000, fleet, "normal", START, 9, faults=FaultRates())
    fast = first(2000, fleet, "normal", START, 9, faults=FaultRates(), speed=60)
    assert [m.sim_ts for m in slow] == [m.sim_ts for m in fast]
    for s, f in zip(slow, fast, strict=True):
        assert f.stamp == pytest.approx(START.timestamp() + (s.sim_ts - START.timestamp()) / 60)
        if s.topic.startswith("ioc/v1/disaster/"):
            assert json.loads(s.payload)["metrics"] == json.loads(f.payload)["metrics"]


def test_a_device_stream_does_not_depend_on_the_rest_of_the_fleet(fleet):
    """Per-device random streams: removing devices leaves the others' messages unchanged."""
    one = fleet.model_copy(update={"devices": [fleet.device("aq-sa-pa")]})
    alone = [m.payload for m in first(50, one, "normal", START, 77)]
    together = [m.payload for m in itertools.islice(
        (m for m in generate(fleet, "normal", START, 77) if m.device_id == "aq-sa-pa"), 50)]
    assert alone == together


def test_daily_pm25_cycle_and_diurnal_temperature(fleet):
    station = fleet.model_copy(update={"devices": [fleet.device("aq-coc-leu")]})
    start = datetime(2025, 1, 13, 17, 0, tzinfo=UTC)  # midnight local, dry season
    by_hour: dict[int, list[float]] = {}
    temps: dict[int, list[float]] = {}
    end = start + timedelta(days=4)
    for m in generate(station, "normal", start, 11, faults=FaultRates()):
        if m.sim_time > end:
            break
        if m.topic.startswith("ioc/v1/senml/"):
            values = {r["n"]: r["v"] for r in json.loads(m.payload)}
            hour = (m.sim_time + timedelta(hours=7)).hour
            by_hour.setdefault(hour, []).append(values["pm25"])
            temps.setdefault(hour, []).append(values["temperature"])

    def mean(xs):
        return sum(xs) / len(xs)

    assert mean(by_hour[19]) > 1.3 * mean(by_hour[14])  # evening peak, afternoon low
    assert mean(by_hour[7]) > 1.3 * mean(by_hour[14])  # morning traffic
    assert mean(temps[14]) > mean(temps[5]) + 4


def test_rain_raises_the_river_after_a_delay(fleet):
    """In the flood, gauges fill at once; the downstream river responds hours later."""
    devices = [fleet.device(i) for i in ("rain-bao-ha", "wl-red-bao-ha", "wl-nam-thi-kim-tan")]
    sub = fleet.model_copy(update={"devices": devices})
    storm = SCENARIOS["flood"].storm
    first_rain = first_rise = first_flash = None
    base: dict[str, float] = {}
    for m in generate(sub, "flood", START, 4, faults=FaultRates()):
        if m.sim_ts > START.timestamp() + 12 * 3600:
            break
        if m.topic.startswith("ioc/v1/status/"):
            continue
        doc = json.loads(m.payload)
        values = doc["metrics"] if isinstance(doc, dict) else {r["n"]: r["v"] for r in doc}
        h = (m.sim_ts - START.timestamp()) / 3600
        if "rain_mm" in values and values["rain_mm"] >= 2 and first_rain is None:
            first_rain = h
        if "water_level_m" in values:
            base.setdefault(m.device_id, values["water_level_m"])
            risen = values["water_level_m"] > base[m.device_id] + 1.0
            if risen and m.device_id == "wl-red-bao-ha" and first_rise is None:
                first_rise = h
            if risen and m.device_id == "wl-nam-thi-kim-tan" and first_flash is None:
                first_flash = h
    assert first_rain is not None and first_rain < storm.after_s / 3600 + 2
    assert first_flash is not None and first_rise is not None
    assert first_rain < first_flash < first_rise  # small stream first, big river later
    assert first_rise - first_rain > 3
