"""`ioc units migrate` on a real database: keys moved, history kept, audited, idempotent."""

from __future__ import annotations

import pytest

from ioc.security import audit
from layers.catalog import UnitLocator
from layers.migrate_units import AUDIT_MIGRATE, apply, plan
from layers.store import load_layer, seed_demo_layers

pytestmark = pytest.mark.integration


def _old_installation(conn) -> None:
    """Devices, alerts, a hazard level and KPI values keyed by districts, as before 2025."""
    conn.execute(
        "INSERT INTO devices (device_id, family, kind, name, lon, lat, unit_id) VALUES "
        "('wl-red-lao-cai', 'disaster', 'water_level', 'Lào Cai', 103.9755, 22.4950, "
        "'lao_cai_city'), "
        "('rain-sa-pa', 'disaster', 'rain_gauge', 'Sa Pa', 103.843, 22.336, 'sa_pa'), "
        "('mobile-1', 'camera', 'camera', 'no position', NULL, NULL, 'bat_xat')"
    )
    conn.execute(
        "INSERT INTO alerts (rule_id, subject, kind, severity, title, unit_id, device_id) VALUES "
        "('water_level_alarm', 'wl-red-lao-cai', 'water_level', 'severe', 'x', 'lao_cai_city', "
        "'wl-red-lao-cai'), "
        "('cap_warning', 'cap-1', 'cap_warning', 'severe', 'y', 'bat_xat', NULL)"
    )
    conn.execute(
        "INSERT INTO unit_hazard_levels (unit_id, level, base_level, colour, label) "
        "VALUES ('sa_pa', 2, 2, '#FFD700', 'Cấp 2')"
    )
    conn.execute(
        "INSERT INTO kpi_values (kpi_id, unit_id, period, period_start, value, source) VALUES "
        "('aqi_today', 'sa_pa', 'day', '2024-06-01', 42, 'telemetry'), "
        "('aqi_today', '', 'day', '2024-06-01', 40, 'telemetry')"
    )


def test_migrate_moves_keys_keeps_history_is_audited_and_idempotent(db_conn):
    seed_demo_layers(db_conn)
    _old_installation(db_conn)
    units_layer = load_layer(db_conn, "units")
    units = {f["id"] for f in units_layer["features"]}
    locate = UnitLocator(units_layer).unit_at

    first = plan(db_conn, locate, units)
    assert {(m.key, m.old, m.new) for m in first.devices} == {
        ("wl-red-lao-cai", "lao_cai_city", "02647"),
        ("rain-sa-pa", "sa_pa", "03006"),
    }
    assert [(m.old, m.new) for m in first.alerts] == [("lao_cai_city", "02647")]
    assert first.stale_levels == ("sa_pa",) and first.kpi_history == {"sa_pa": 1}
    apply(db_conn, first, actor="cli:test")
    db_conn.commit()

    devices = dict(db_conn.execute("SELECT device_id, unit_id FROM devices").fetchall())
    assert devices == {"wl-red-lao-cai": "02647", "rain-sa-pa": "03006", "mobile-1": "bat_xat"}
    alerts = sorted(db_conn.execute("SELECT kind, unit_id FROM alerts").fetchall())
    assert alerts == [("cap_warning", "bat_xat"), ("water_level", "02647")]  # CAP: history
    assert db_conn.execute("SELECT count(*) FROM unit_hazard_levels").fetchone()[0] == 0
    assert db_conn.execute(
        "SELECT count(*) FROM kpi_values WHERE unit_id = 'sa_pa'"
    ).fetchone()[0] == 1  # cannot be split: kept, shown as before 1 July 2025
    entries = audit.search(db_conn, action=AUDIT_MIGRATE)
    assert len(entries) == 1 and entries[0].actor == "cli:test"
    assert entries[0].details["devices"] == 2 and entries[0].details["alerts"] == 1

    again = plan(db_conn, locate, units)
    assert again.changes == 0  # idempotent: a second run finds nothing to move
