"""Registers the simulated fleet in the devices table (an idempotent upsert)."""

from __future__ import annotations

import math
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ioc.config import DatabaseSettings
from ioc.db.connect import connect
from sensors_sim.fleet import Camera, Fleet

FRIGATE_EXPECTED_INTERVAL_S = 3600  # Frigate cameras speak only when they track something

UPSERT = sql.SQL(
    "INSERT INTO devices (device_id, family, kind, name, lon, lat, district, metadata, "
    "expected_interval_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (device_id) DO UPDATE SET family = EXCLUDED.family, kind = EXCLUDED.kind, "
    "name = EXCLUDED.name, lon = EXCLUDED.lon, lat = EXCLUDED.lat, "
    "district = EXCLUDED.district, metadata = EXCLUDED.metadata, "
    "expected_interval_s = EXCLUDED.expected_interval_s, "
    # a device retired in the registry (ioc devices retire) stays retired
    "enabled = devices.retired_at IS NULL, updated_at = now()"
)


def device_rows(fleet: Fleet) -> list[tuple[Any, ...]]:
    """One devices-table row per device of the fleet."""
    rows = []
    for d in fleet.devices:
        interval = fleet.interval(d)
        metadata = d.metadata()
        if isinstance(d, Camera) and d.protocol == "frigate":
            expected = FRIGATE_EXPECTED_INTERVAL_S
            metadata["event_driven"] = True
        else:
            expected = max(1, math.ceil(interval))
            metadata["interval_s"] = interval
        rows.append((d.id, d.family, d.kind, d.name, d.lon, d.lat, d.district, Jsonb(metadata),
                     expected))
    return rows


def register_fleet(db: DatabaseSettings, fleet: Fleet) -> int:
    """Insert or update every device of the fleet; returns how many."""
    rows = device_rows(fleet)
    with connect(db, application_name="ioc-sim") as conn:
        with conn.cursor() as cur:
            cur.executemany(UPSERT, rows)
        conn.commit()
    return len(rows)
