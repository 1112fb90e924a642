"""The flood scenario end to end: simulator -> broker -> ingest -> Redis -> alerts worker.

The fleet is registered the way `ioc demo` does it (the simulator's registry, before ingest
sees a message), ingest runs with auto_register off, faults are off: every message must be
accepted, and the water-level alerts at the flooded stations must climb I, II, III in order.
"""

from __future__ import annotations

import argparse
import re
import time

import pytest

from alerts.worker import AlertWorker
from ioc.config import AlertsSettings
from ioc.db import connect
from ioc.mqtt import MqttClient
from sensors_sim.cli import add_arguments, run_sim
from sensors_sim.fleet import load_fleet
from tests.integration.test_ingest_support import RunningWorker, with_ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The storm starts at +5 min; Nậm Thi (the quickest stream) reaches I at ~2.6 h, II at ~3.1 h,
# III at ~3.75 h and falls back below III at ~4.9 h (the same for any start time). At speed 500
# a 34 s run covers 4.7 simulated hours: the rise through every level, not the fall.
# No --start: the payloads carry start + elapsed real time, and must be "now" for ingest (a
# past start makes every device look silent to the alerts worker).
SPEED = 500
DURATION_S = 34
SEED = 7
QUICKEST = "wl-nam-thi-kim-tan"
OUTBOUND = "ioc/v1/out/"


def sim_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ioc sim")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _start_alerts(settings):
    mqtt = MqttClient(settings.mqtt, "alerts-e2e").connect()
    worker = AlertWorker(settings, "e2e", mqtt=mqtt).start()

    def stop() -> None:
        worker.stop()
        mqtt.close()
        worker.live.r.close()

    return worker, stop


def _levels(conn, device_id: str) -> list[int]:
    """Alarm levels of the station's water-level alert(s), in the order they were recorded."""
    rows = conn.execute(
        "SELECT (e.data->>'level')::int FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
        "WHERE a.device_id = %s AND a.rule_id = 'water_level_alarm' "
        "AND e.action IN ('opened', 'severity_changed') AND e.data ? 'level' ORDER BY e.id",
        (device_id,),
    ).fetchall()
    return [r[0] for r in rows]


def test_flood_scenario_through_the_whole_pipeline(settings):
    settings = with_ingest(settings, auto_register=False, flush_interval_ms=100)
    settings = settings.model_copy(update={"alerts": AlertsSettings(evaluate_interval_ms=200)})
    stations = list(load_fleet().scenarios.flood.stations)
    assert run_sim(settings, sim_args("--register-only")) == 0  # as `ioc demo` does
    ingest = RunningWorker(settings, "e2e")
    stop_alerts = None
    try:
        _alerts, stop_alerts = _start_alerts(settings)
        time.sleep(1.0)  # the shared subscription is in place before the first message
        started = time.monotonic()
        argv = ["--scenario", "flood", "--speed", str(SPEED), "--seed", str(SEED)]
        argv += ["--duration", str(DURATION_S), "--fault-rate", "0"]
        assert run_sim(settings, sim_args(*argv)) == 0
        assert time.monotonic() - started < DURATION_S + 15
        with connect(settings.database, autocommit=True) as conn:
            deadline = time.monotonic() + 20  # ingest and the alerts worker catch up
            while time.monotonic() < deadline and 3 not in _levels(conn, QUICKEST):
                time.sleep(0.2)
            dead = conn.execute(
                "SELECT topic, reason, format, device_id FROM dead_letters ORDER BY id"
            ).fetchall()
            readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
            station = conn.execute(
                "SELECT count(*), max(value) FROM readings "
                "WHERE device_id = %s AND metric = 'water_level_m'",
                (QUICKEST,),
            ).fetchone()
            levels = {s: _levels(conn, s) for s in stations}
            hazard = dict(conn.execute("SELECT unit_id, level FROM unit_hazard_levels").fetchall())
            alert_units = {
                u for (u,) in conn.execute("SELECT DISTINCT unit_id FROM alerts WHERE unit_id <> ''")
            }
    finally:
        if stop_alerts is not None:
            stop_alerts()
        ingest.stop()
    # No faults were injected: every simulated message is valid for ingest.
    simulated_dead = [d for d in dead if not d[0].startswith(OUTBOUND)]
    assert simulated_dead == [], simulated_dead[:10]
    assert readings > 1000
    # The quickest station climbed through every level, in order, one at a time.
    assert levels[QUICKEST] == [1, 2, 3], (levels[QUICKEST], station)
    # No flooded station skipped a level or fell back during the rise.
    for name, seen in levels.items():
        assert seen == list(range(1, len(seen) + 1)), (name, seen)
    # Disaster levels and alerts are per commune-level unit (official codes), none per district.
    quickest_unit = next(d.unit_id for d in load_fleet().devices if d.id == QUICKEST)
    assert quickest_unit in hazard, hazard  # levels are computed for the station's commune
    assert all(re.fullmatch(r"\d{5}", u) for u in set(hazard) | alert_units), (hazard, alert_units)
    # Nothing at all is dead-lettered, not even the alerts worker's own ioc/v1/out/...
    # messages, which fall under the ingest's ioc/v1/# subscription.
    assert dead == [], dead[:5]
