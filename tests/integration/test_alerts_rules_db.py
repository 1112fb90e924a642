"""Every rule type through the engine, against the real database and Redis."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from alerts import lifecycle
from alerts.engine import Engine, load_devices
from alerts.queries import alert_history, list_alerts, unit_hazard_levels
from alerts.rules import load_rules, parse_rule, with_overrides
from alerts.rules.store import effective_rules
from ioc.db import connect
from ioc.live import LatestValue, LiveState, open_redis
from tests.unit.test_alerts_cap import SENDER, cap_event, vn_cap

pytestmark = pytest.mark.integration

RULES = load_rules()


@dataclass
class Env:
    conn: psycopg.Connection
    live: LiveState

    def devices(self, *rows):
        for device_id, family, kind, unit_id, metadata, *interval in rows:
            self.conn.execute(
                "INSERT INTO devices (device_id, family, kind, name, unit_id, metadata, "
                "expected_interval_s, lat, lon) VALUES (%s, %s, %s, %s, %s, %s, %s, 22.4, 103.9)",
                (device_id, family, kind, f"Thiết bị {device_id}", unit_id, Jsonb(metadata),
                 interval[0] if interval else 60))

    def engine(self, ruleset=RULES, **kw) -> Engine:
        return Engine(self.conn, self.live, ruleset, load_devices(self.conn), **kw)

    def alerts(self, *columns: str):
        cols = ", ".join(columns) if columns else "rule_id, subject, severity, status, count"
        return self.conn.execute(f"SELECT {cols} FROM alerts ORDER BY id").fetchall()  # noqa: S608

    def actions(self, alert_id: int) -> list[str]:
        return [e.action for e in alert_history(self.conn, alert_id)]


@pytest.fixture
def env(db_conn, redis_settings):
    db_conn.autocommit = True
    client = open_redis(redis_settings)
    yield Env(db_conn, LiveState(client, redis_settings))
    client.close()


def readings(*items) -> dict:
    return {"type": "readings", "readings": [list(i) for i in items]}


def with_rule(definition: dict):
    return with_overrides(RULES, [parse_rule(definition)])


def test_threshold_duration_hysteresis_and_auto_resolve(env):
    env.devices(("aq-1", "environment", "air_quality", "lao_cai_city", {}),
                ("aq-2", "environment", "air_quality", "lao_cai_city", {}))
    rules = with_rule({"id": "pm25_high", "type": "threshold", "metric": "pm25",
                       "levels": [{"value": 100, "severity": "moderate"},
                                  {"value": 200, "severity": "severe"}],
                       "for_s": 60, "hysteresis": 10})
    engine = env.engine(rules)
    t0 = time.time() - 120
    engine.handle_events([readings(("aq-1", "pm25", 120, t0), ("aq-2", "pm25", 150, t0))])
    assert env.alerts() == []
    assert {r[0] for r in env.conn.execute("SELECT subject FROM alert_pending")} == {"aq-1", "aq-2"}
    engine.handle_events([readings(("aq-2", "pm25", 40, t0 + 30))])  # aq-2 clears in time
    engine.handle_events([readings(("aq-1", "pm25", 130, t0 + 30))])
    assert env.alerts() == []
    engine.handle_events([readings(("aq-1", "pm25", 150, t0 + 61))])
    assert env.alerts() == [("pm25_high", "aq-1", "moderate", "open", 1)]
    engine.handle_events([readings(("aq-1", "pm25", 210, t0 + 62), ("aq-1", "pm25", 195, t0 + 63))])
    assert env.alerts() == [("pm25_high", "aq-1", "severe", "open", 3)]  # 195: held by 10
    engine.handle_events([readings(("aq-1", "pm25", 95, t0 + 64))])  # 95 >= 100-10: stays I
    engine.handle_events([readings(("aq-1", "pm25", 10, t0 + 50))])  # older: ignored
    assert env.alerts("severity", "status", "peak_value", "last_value")[0] == (
        "moderate", "open", 210.0, 95.0)
    engine.handle_events([readings(("aq-1", "pm25", 80, t0 + 65))])
    (alert_id,) = env.conn.execute("SELECT id FROM alerts").fetchone()
    assert env.alerts("status")[0] == ("resolved",)
    assert env.actions(alert_id) == ["opened", "severity_changed", "severity_changed", "resolved"]
    assert env.conn.execute("SELECT count(*) FROM alert_pending").fetchone()[0] == 0


def test_duration_completed_by_the_tick_and_clearing_seen_elsewhere(env):
    env.devices(("cnt-1", "tourism", "visitor_counter", "sa_pa", {"capacity": 1000}),
                ("wl-1", "disaster", "water_level", "lao_cai_city",
                 {"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}}))
    engine = env.engine()
    now = time.time()
    engine.handle_events([readings(("cnt-1", "occupancy", 950, now - 200))])  # for_s: 120
    assert env.alerts() == []
    env.live.record([LatestValue("cnt-1", "occupancy", 960, now - 10)])
    engine.tick(now)
    (row,) = env.alerts("rule_id", "severity", "title")
    assert row[:2] == ("site_over_capacity", "moderate") and "96%" in row[2]
    # The water station's clearing reading went to another worker: the tick resolves it.
    engine.handle_events([readings(("wl-1", "water_level_m", 82.3, now))])
    env.live.record([LatestValue("wl-1", "water_level_m", 79.0, now + 1)])
    engine.tick(now + 2)
    assert env.conn.execute(
        "SELECT status FROM alerts WHERE rule_id = 'water_level_alarm'").fetchone() == ("resolved",)


def test_rain_accumulation_bands(env):
    env.devices(("rain-1", "disaster", "rain_gauge", "bat_xat", {}))
    engine = env.engine()

    def rain(mm_per_hour: float, hours: int):
        env.conn.execute("DELETE FROM readings")
        env.conn.execute(
            "INSERT INTO readings (time, device_id, metric, value, unit) SELECT now() - "
            "make_interval(mins => 30 + 60 * h), 'rain-1', 'rain_mm', %s, 'mm' "
            "FROM generate_series(0, %s - 1) h", (mm_per_hour, hours))
        engine._due.clear()
        engine.tick()

    rain(6, 10)  # 60 mm in 12 h: level 1
    (row,) = env.alerts("kind", "severity", "title", "details->>'window_h'")
    assert row == ("heavy_rain", "moderate", "Thiết bị rain-1: mưa 60 mm trong 12 giờ (cấp 1)",
                   "12")
    rain(11, 11)  # 121 mm in 12 h: level 2
    assert env.alerts("severity", "count")[0] == ("severe", 2)  # the same alert, raised
    rain(0.5, 3)
    assert env.alerts("status")[0] == ("resolved",)


def test_air_quality_category_alert_and_index_table(env):
    env.devices(("aq-1", "environment", "air_quality", "lao_cai_city", {}))
    engine = env.engine()

    def hours(pm25: list[float]):
        env.conn.execute("DELETE FROM readings")
        for h, value in enumerate(pm25):
            env.conn.execute(
                "INSERT INTO readings (time, device_id, metric, value) VALUES "
                "(now() - make_interval(mins => 20 + 60 * %s), 'aq-1', 'pm25', %s)", (h, value))
        engine._due.clear()
        engine.tick()

    hours([70.0] * 12)  # NowCast 70: 50/30·20+100 = 133 (Kém)
    (row,) = env.conn.execute(
        "SELECT aqi, category, dominant FROM air_quality_index WHERE standard = 'vn_aqi'")
    assert row == (133, 3, "pm25")
    assert env.conn.execute(
        "SELECT count(*) FROM air_quality_index WHERE standard = 'us_epa'").fetchone()[0] == 1
    (alert,) = env.alerts("kind", "severity", "title", "public")
    assert alert == ("air_quality", "minor", "Thiết bị aq-1: VN_AQI 133 – Kém", True)
    hours([200.0, 190.0] + [70.0] * 10)  # the last hours jump: NowCast follows them
    assert env.alerts("severity", "details->>'category'")[0] == ("severe", "Rất xấu")
    hours([20.0] * 12)
    assert env.alerts("status")[0] == ("resolved",)


def test_silent_devices(env):
    env.devices(("aq-1", "environment", "air_quality", "sa_pa", {}, 60),
                ("aq-2", "environment", "air_quality", "sa_pa", {}, 600))
    engine = env.engine()
    now = time.time()
    env.live.record([LatestValue("aq-1", "pm25", 10, now - 500),
                     LatestValue("aq-2", "pm25", 10, now - 500)])
    engine.tick(now)
    assert env.alerts("subject", "kind", "severity") == [("aq-1", "device_silent", "minor")]
    engine.tick(now + 1)
    assert env.alerts("count") == [(1,)]  # not counted again every tick
    env.live.record([LatestValue("aq-1", "pm25", 10, now + 2)])
    engine.tick(now + 3)
    assert env.alerts("status") == [("resolved",)]


def incident(camera: str, label: str, event_id: str, phase: str = "new", confidence=0.9):
    return {"type": "incident", "source": "ioc", "event_id": event_id, "device_id": camera,
            "label": label, "phase": phase, "confidence": confidence, "zones": ["gate"],
            "false_positive": False, "time": datetime.now(UTC).isoformat()}


def test_camera_incidents_by_type(env):
    env.devices(("cam-1", "camera", "camera", "lao_cai_city", {}))
    engine = env.engine()
    engine.handle_events([incident("cam-1", "fire", "e1"), incident("cam-1", "fire", "e1", "update"),
                          incident("cam-1", "person", "p1"), incident("cam-1", "fire", "e2")])
    engine.handle_events([incident("cam-1", "fire", "e1", "end"), incident("cam-1", "fire", "e3")])
    assert env.alerts("subject", "kind", "severity", "count", "title") == [
        ("cam-1:fire", "camera_incident", "extreme", 3, "Thiết bị cam-1: cháy")]
    env.conn.execute("UPDATE alerts SET last_seen_at = now() - interval '1 hour'")
    engine.tick()
    assert env.alerts("status") == [("resolved",)]


def test_cap_warnings_update_and_cancel_through_references(env):
    engine = env.engine()
    now = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    engine.handle_events([cap_event(vn_cap(expires=future), now)])
    (row,) = env.alerts("kind", "severity", "unit_id", "title", "status")
    assert row == ("cap_warning", "severe", "02683", "Cảnh báo lũ quét cấp độ 3", "open")
    ref = f"{SENDER},LC-2025-061,2025-06-01T09:30:00+07:00"
    update = vn_cap("Update", ref, identifier="LC-2025-062", severity="Extreme",
                    sent="2025-06-01T10:00:00+07:00", expires=future)
    engine.handle_events([cap_event(update, now)])
    assert env.alerts("severity", "status", "count", "jsonb_array_length(details->'cap_keys')") \
        == [("extreme", "open", 2, 2)]
    # A Cancel that refers to the update (not the first message) still finds the warning.
    cancel = vn_cap("Cancel", f"{SENDER},LC-2025-062,2025-06-01T10:00:00+07:00",
                    identifier="LC-2025-063", sent="2025-06-01T10:30:00+07:00")
    engine.handle_events([cap_event(cancel, now)])
    (alert_id, status) = env.conn.execute("SELECT id, status FROM alerts").fetchone()
    assert status == "resolved"
    assert env.actions(alert_id) == ["opened", "severity_changed", "resolved"]
    assert alert_history(env.conn, alert_id)[-1].actor == "cap"
    # An expired warning resolves by itself.
    engine.handle_events([cap_event(vn_cap(identifier="LC-2025-070"), now)])  # expired 2025-06-02
    engine.tick()
    assert env.alerts("status")[-1] == ("resolved",)


def test_disaster_level_per_unit_with_uplift(env):
    env.devices(("wl-1", "disaster", "water_level", "bat_xat",
                 {"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}}),
                ("rain-1", "disaster", "rain_gauge", "bat_xat", {}),
                ("rain-2", "disaster", "rain_gauge", "sa_pa", {}))
    hazards = []
    engine = env.engine(on_hazard=hazards.append)
    env.live.record([LatestValue("wl-1", "water_level_m", 83.6, time.time())])  # >= III: flood 2
    env.conn.execute(
        "INSERT INTO readings (time, device_id, metric, value) SELECT now() - "
        "make_interval(mins => 30 + 60 * h), 'rain-1', 'rain_mm', 7 "
        "FROM generate_series(0, 9) h")  # 70 mm in 12 h: heavy rain 1
    engine.tick()
    levels = {h.unit_id: h for h in unit_hazard_levels(env.conn)}
    assert (levels["bat_xat"].level, levels["bat_xat"].base_level, levels["bat_xat"].uplift) \
        == (3, 2, 1)
    assert levels["bat_xat"].hazards == {"flood": 2, "heavy_rain": 1}
    assert levels["bat_xat"].label == "Cấp 3 – rủi ro lớn" and levels["sa_pa"].level == 0
    assert [(h.unit_id, h.level) for h in hazards] == [("bat_xat", 3)]
    rows = env.alerts("rule_id", "subject", "severity", "public")
    assert ("unit_disaster_level", "bat_xat", "severe", True) in rows
    assert ("rain_accumulation", "rain-1", "moderate", True) in rows  # the gauge's own alert
    env.live.record([LatestValue("wl-1", "water_level_m", 78.0, time.time() + 1)])
    env.conn.execute("DELETE FROM readings")
    engine._due.clear()
    engine.tick()
    assert unit_hazard_levels(env.conn)[0].level == 0
    assert set(env.alerts("status")) == {("resolved",)}
    assert [r[0] for r in env.conn.execute(
        "SELECT level FROM unit_hazard_history ORDER BY at")] == [3, 0]


def test_storm_of_camera_alerts_becomes_one_parent(env):
    env.devices(*[(f"cam-{i}", "camera", "camera", "sa_pa", {}) for i in range(8)],
                ("cam-x", "camera", "camera", "bac_ha", {}))
    engine = env.engine()
    for i in range(8):
        engine.handle_events([incident(f"cam-{i}", "intrusion", f"e{i}")])
    engine.handle_events([incident("cam-x", "intrusion", "ex")])
    top = list_alerts(env.conn)
    assert sorted((a.rule_id, a.unit_id, a.count, a.children) for a in top) == [
        ("camera_incidents", "bac_ha", 1, 0), ("storm", "sa_pa", 8, 8)]
    parent = next(a for a in top if a.rule_id == "storm")
    assert parent.title == "8 cảnh báo sự việc camera tại sa_pa"
    assert len(list_alerts(env.conn, parent_id=parent.id)) == 8
    done = lifecycle.acknowledge(env.conn, parent.id, "op1", "đã giao công an xã")
    assert done.children == 8
    assert {a.status for a in list_alerts(env.conn, parent_id=parent.id)} == {"acknowledged"}
    env.conn.execute("UPDATE alerts SET last_seen_at = now() - interval '1 hour' "
                     "WHERE rule_id = 'camera_incidents'")
    engine.tick()
    assert list_alerts(env.conn) == []  # children quiet -> resolved -> parent resolved


def test_escalation_when_not_acknowledged(env):
    env.devices(("wl-1", "disaster", "water_level", "lao_cai_city",
                 {"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}}),
                ("wl-2", "disaster", "water_level", "bao_yen",
                 {"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}}))
    engine = env.engine()
    now = time.time()
    engine.handle_events([readings(("wl-1", "water_level_m", 80.5, now),
                                   ("wl-2", "water_level_m", 80.5, now))])
    (a1,), (a2,) = env.conn.execute("SELECT id FROM alerts ORDER BY subject").fetchall()
    lifecycle.acknowledge(env.conn, a2, "op1")
    engine.tick(now + 599)
    assert "escalated" not in env.actions(a1)
    engine.tick(now + 601)
    engine.tick(now + 602)
    assert env.actions(a1) == ["opened", "escalated"]
    assert alert_history(env.conn, a1)[-1].data == {"level": 1, "notify": "truc_ban",
                                                     "severity": "moderate"}
    engine.tick(now + 1801)
    assert env.actions(a1)[-1] == "escalated"
    assert env.conn.execute("SELECT escalation_level FROM alerts WHERE id = %s",
                            (a1,)).fetchone() == (2,)
    assert "escalated" not in env.actions(a2)


def test_two_engines_never_open_the_same_alert_twice(env, db_settings):
    env.devices(*[(f"wl-{i}", "disaster", "water_level", f"d{i}",
                   {"alarm_levels": [80.0, 82.0, 83.5]}) for i in range(20)])
    now = time.time()
    batches = [readings(*[(f"wl-{i}", "water_level_m", 80.0 + k / 10, now + k) for i in range(20)])
               for k in range(1, 6)]
    conns = [connect(db_settings, autocommit=True) for _ in range(2)]
    engines = [Engine(c, env.live, RULES, load_devices(c)) for c in conns]
    barrier = threading.Barrier(2)
    errors = []

    def run(engine):
        try:
            barrier.wait()
            for batch in batches:
                engine.handle_events([batch])
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in conns:
        c.close()
    assert errors == []
    rows = env.alerts("subject", "count")
    assert len(rows) == 20 and all(count == 10 for _, count in rows)  # 5 readings x 2 engines
    assert env.conn.execute(
        "SELECT count(*) FROM alert_events WHERE action = 'opened'").fetchone()[0] == 20


# -- `ioc alerts rules` -------------------------------------------------------------------------
@pytest.fixture
def cli(settings, db_conn, monkeypatch, capsys):
    """Runs `ioc ...` in this process against the test's schema: (exit code, out, err)."""
    from ioc.cli import main
    from ioc.config import settings_env

    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _audit(conn) -> list[tuple]:
    return conn.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()


def test_rules_cli_edits_the_table_with_audit(cli, db_conn, tmp_path):
    from ioc.commands import cli_actor

    code, out, _ = cli("alerts", "rules", "list")
    assert code == 0 and "camera_incidents" in out and "file" in out
    rule = tmp_path / "pm10.yaml"
    rule.write_text("id: pm10_high\ntype: threshold\nmetric: pm10\n"
                    "levels: [{value: 150, severity: moderate}]\n")
    code, out, err = cli("alerts", "rules", "set", str(rule), "--actor", "ana")
    assert (code, out) == (0, "rule pm10_high (threshold) stored, enabled\n"), err
    code, out, _ = cli("alerts", "rules", "disable", "camera_incidents")  # a file rule
    assert code == 0 and "disabled" in out
    listed = {line.split()[0]: line.split()[1:] for line in cli("alerts", "rules", "list")[1]
              .splitlines()[1:]}
    assert listed["pm10_high"] == ["threshold", "enabled", "table", "cli:ana"]
    assert listed["camera_incidents"][:3] == ["camera_incident", "disabled", "table+file"]
    # `show` prints what `set` takes back.
    code, shown, _ = cli("alerts", "rules", "show", "camera_incidents")
    assert code == 0 and shown.startswith("# source: table+file") and "enabled: false" in shown
    again = tmp_path / "again.yaml"
    again.write_text(shown)
    assert cli("alerts", "rules", "set", str(again))[0] == 0
    assert cli("alerts", "rules", "enable", "camera_incidents")[0] == 0
    rules, problems = effective_rules(db_conn)
    assert problems == [] and rules.rule("camera_incidents").enabled
    assert rules.rule("pm10_high").levels[0].value == 150
    assert cli("alerts", "rules", "delete", "pm10_high", "--actor", "ana")[0] == 0
    assert effective_rules(db_conn)[0].rule("pm10_high") is None
    me = cli_actor()
    assert _audit(db_conn) == [
        ("cli:ana", "alert_rule.save", "pm10_high"),
        (me, "alert_rule.disable", "camera_incidents"),
        (me, "alert_rule.save", "camera_incidents"),
        (me, "alert_rule.enable", "camera_incidents"),
        ("cli:ana", "alert_rule.delete", "pm10_high"),
    ]


def test_rules_cli_refuses_what_does_not_validate(cli, db_conn, tmp_path):
    bad = tmp_path / "bad.json"
    # JSON, two rules: the second has a typo, so neither is stored.
    bad.write_text('{"rules": [{"id": "ok_rule", "type": "silence"}, '
                   '{"id": "typo", "type": "silence", "intervalz": 3}]}')
    code, out, err = cli("alerts", "rules", "set", str(bad))
    assert code == 1 and out == ""
    assert "rule 'typo'" in err and "intervalz: unknown key" in err
    assert cli("alerts", "rules", "set", str(tmp_path / "missing.yaml"))[0] == 2
    code, _, err = cli("alerts", "rules", "enable", "no_such_rule")
    assert code == 1 and "no rule 'no_such_rule'" in err
    code, _, err = cli("alerts", "rules", "delete", "camera_incidents")  # only in the file
    assert code == 1 and "disable it" in err
    assert cli("alerts", "rules", "show", "no_such_rule")[0] == 1
    assert db_conn.execute("SELECT count(*) FROM alert_rules").fetchone() == (0,)
    assert _audit(db_conn) == []
