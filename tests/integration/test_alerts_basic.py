"""The alerts worker's rules against the real database and Redis."""

import time

import pytest

from alerts.worker import evaluate_once, load_devices
from ioc.live import LatestValue, LiveState, open_redis

pytestmark = pytest.mark.integration


def test_water_level_opens_escalates_and_resolves(db_conn, redis_settings):
    db_conn.execute(
        "INSERT INTO devices (device_id, family, kind, name, unit_id, metadata) VALUES "
        "('wl-1', 'disaster', 'water_level', 'Trạm Lào Cai', 'lao_cai_city', "
        "'{\"alarm_levels\": [80, 82, 83.5]}')"
    )
    db_conn.commit()
    db_conn.autocommit = True
    live = LiveState(open_redis(redis_settings), redis_settings)
    devices = load_devices(db_conn)
    now = time.time()

    def at(value, t):
        live.record([LatestValue("wl-1", "water_level_m", value, now + t)])
        return evaluate_once(db_conn, live, devices)

    assert at(79.0, 0) == 0
    assert at(80.5, 1) == 1
    assert at(82.5, 2) == 0  # same alert, escalated
    rows = db_conn.execute("SELECT id, severity, count, peak_value, status FROM alerts").fetchall()
    assert len(rows) == 1 and rows[0][1:] == ("severe", 2, 82.5, "open")
    at(78.0, 3)
    assert db_conn.execute("SELECT status FROM alerts").fetchone()[0] == "resolved"
    actions = [r[0] for r in db_conn.execute("SELECT action FROM alert_events ORDER BY id")]
    assert actions == ["opened", "severity_changed", "resolved"]
