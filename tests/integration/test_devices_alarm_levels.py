"""Five real river stations imported with `ioc devices import`; water levels just below, at and
above each alarm level go through the real broker, ingest and the alerts worker and open and
escalate the alert exactly at the thresholds; a retired station raises nothing more."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alerts.worker import AlertWorker
from ioc.cli import main
from ioc.config import AlertsSettings, settings_env
from ioc.db import connect
from ioc.devices.formats import parse_registry
from ioc.mqtt import MqttClient
from tests.integration.test_ingest_support import Publisher, RunningWorker, wait_for, with_ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STATIONS_FILE = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data" / \
    "river_stations.yaml"
RULE = "water_level_alarm"
EPS = 0.01


def _alert(conn, device_id: str):
    """(level, severity, thresholds, levels version) of the station's active alert, or None."""
    return conn.execute(
        "SELECT (details->>'level')::int, severity, details->'thresholds', "
        "(details->>'alarm_levels_version')::int FROM alerts WHERE device_id = %s "
        "AND rule_id = %s AND status NOT IN ('resolved', 'false_alarm')",
        (device_id, RULE)).fetchone()


def _events(conn, device_id: str) -> list[tuple[int, float, float]]:
    """(level, value, threshold) of each opened/escalated event of the station, in order."""
    return [tuple(r) for r in conn.execute(
        "SELECT (e.data->>'level')::int, (e.data->>'value')::float, "
        "(e.data->>'threshold')::float FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
        "WHERE a.device_id = %s AND a.rule_id = %s "
        "AND e.action IN ('opened', 'severity_changed') ORDER BY e.id", (device_id, RULE))]


@pytest.fixture
def pipeline(settings, monkeypatch):
    settings = with_ingest(settings, auto_register=False, flush_interval_ms=100)
    settings = settings.model_copy(update={"alerts": AlertsSettings(
        evaluate_interval_ms=200, reload_s=1, mqtt_out=False)})
    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)
    assert main(["devices", "import", str(STATIONS_FILE), "--actor", "pctt"]) == 0
    ingest = RunningWorker(settings, "dev-e2e")
    mqtt = MqttClient(settings.mqtt, "alerts-dev-e2e").connect()
    alerts = AlertWorker(settings, "dev-e2e", mqtt=mqtt, housekeeping=False).start()
    pub = Publisher(settings)
    time.sleep(1.0)  # the shared subscription is in place before the first message
    try:
        yield settings, pub, alerts
    finally:
        pub.close()
        alerts.stop()
        mqtt.close()
        alerts.live.r.close()
        ingest.stop()


def test_alerts_open_and_escalate_exactly_at_each_alarm_level(pipeline):
    settings, pub, alerts = pipeline
    stations = {e.id: e.alarm_levels for _, e in
                parse_registry(STATIONS_FILE.read_bytes(), "yaml").entries}
    assert len(stations) == 5
    # (value, expected level) for each station: just below, at and just above each level.
    steps = []
    for n, name in enumerate(("I", "II", "III"), start=1):
        steps += [(name, -EPS, n - 1), (name, 0.0, n), (name, +EPS, n)]
    t0 = time.time() - 60
    sent = 0
    with connect(settings.database, autocommit=True) as conn:
        for k, (name, delta, expected) in enumerate(steps):
            for device_id, levels in stations.items():
                value = round(getattr(levels, name) + delta, 3)
                pub.publish(f"ioc/v1/disaster/{device_id}",
                            {"time": t0 + k, "metrics": {"water_level_m": value}})
            pub.flush()
            sent += len(stations)
            wait_for(lambda n=sent: alerts.readings_handled >= n, 60,
                     f"the alerts worker to see {sent} readings")
            for device_id, levels in stations.items():
                value = round(getattr(levels, name) + delta, 3)
                alert = _alert(conn, device_id)
                got = alert[0] if alert else 0
                assert got == expected, (device_id, name, delta, value, alert)
        for device_id, levels in stations.items():
            thresholds = levels.as_tuple()
            # Opened at I, escalated at II and III, each at exactly the threshold value.
            assert _events(conn, device_id) == [(1, thresholds[0], thresholds[0]),
                                                (2, thresholds[1], thresholds[1]),
                                                (3, thresholds[2], thresholds[2])]
            level, severity, applied, version = _alert(conn, device_id)
            assert (level, severity) == (3, "extreme")
            # The alert records the levels that applied, and their version in the history.
            assert applied == dict(zip(("I", "II", "III"), thresholds, strict=True))
            assert version == 1
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0


def test_new_levels_apply_without_restart_and_a_retired_station_stays_quiet(pipeline):
    settings, pub, alerts = pipeline
    station, other = "wl-hong-lao-cai", "wl-thao-yen-bai"
    t0 = time.time() - 60
    with connect(settings.database, autocommit=True) as conn:
        # New official levels for Lào Cai, set with a reason: the running workers use them.
        assert main(["devices", "levels", station, "81,82.5,84", "--reason",
                     "QĐ điều chỉnh (thử)", "--actor", "pctt"]) == 0
        wait_for(lambda: (alerts.engine.devices[station].meta("alarm_levels_version")) == 2,
                 60, "the alerts worker to reload the registry")
        pub.send(f"ioc/v1/disaster/{station}", {"time": t0, "metrics": {"water_level_m": 80.5}})
        wait_for(lambda: alerts.readings_handled >= 1, 60, "the reading")
        assert _alert(conn, station) is None  # 80.5 was above the old I (80), not the new (81)
        pub.send(f"ioc/v1/disaster/{station}", {"time": t0 + 1, "metrics": {"water_level_m": 81}})
        wait_for(lambda: _alert(conn, station) is not None, 60, "the alert at the new level I")
        level, _sev, applied, version = _alert(conn, station)
        assert (level, applied, version) == (1, {"I": 81.0, "II": 82.5, "III": 84.0}, 2)

        # Retired: its readings are refused and raise nothing; the other station still alerts.
        assert main(["devices", "retire", other, "--reason", "trạm di dời", "--actor", "pctt"]) == 0
        wait_for(lambda: other not in alerts.engine.devices, 60, "the worker to drop it")
        handled = alerts.readings_handled
        pub.send(f"ioc/v1/disaster/{other}", {"time": t0 + 2, "metrics": {"water_level_m": 35.0}})
        pub.send(f"ioc/v1/disaster/{station}", {"time": t0 + 3, "metrics": {"water_level_m": 84}})
        wait_for(lambda: _alert(conn, station)[0] == 3, 60, "the active station escalating")
        wait_for(lambda: alerts.readings_handled >= handled + 1, 60, "the readings")
        assert _alert(conn, other) is None
        assert conn.execute("SELECT count(*) FROM alerts WHERE device_id = %s",
                            (other,)).fetchone()[0] == 0


def test_a_station_imported_while_running_alerts_at_once(pipeline, tmp_path):
    """No restart: ingest takes a device it has never seen (registry reload on a miss) and
    the alerts worker binds its levels at its next reload."""
    settings, pub, alerts = pipeline
    new = tmp_path / "new.csv"
    new.write_text("id,name,kind,unit,lon,lat,river,datum,alarm_level_1,alarm_level_2,"
                   "alarm_level_3\nwl-ngoi-thia-van-chan,Trạm Ngòi Thia (thử),water_level,"
                   "04279,104.5,21.6,Ngòi Thia,cao độ quốc gia,10,11,12\n", encoding="utf-8")
    assert main(["devices", "import", str(new)]) == 0
    wait_for(lambda: "wl-ngoi-thia-van-chan" in alerts.engine.devices, 60,
             "the alerts worker to load the new station")
    pub.send("ioc/v1/disaster/wl-ngoi-thia-van-chan",
             {"time": time.time() - 5, "metrics": {"water_level_m": 11.0}})
    with connect(settings.database, autocommit=True) as conn:
        wait_for(lambda: _alert(conn, "wl-ngoi-thia-van-chan") is not None, 60, "its alert")
        assert _alert(conn, "wl-ngoi-thia-van-chan")[:2] == (2, "severe")
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0
