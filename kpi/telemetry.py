"""The telemetry KPIs' refresh: which local days to recompute, and storing them in one go.

`compute_telemetry` runs the computations the wanted KPIs need (kpi/telemetry_values.py) over
day windows (kpi/hourly.py); `refresh_kpis` is what `ioc kpi refresh` and `ioc maintain` call:
the last days from the hourly rollups into kpi_values, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

from kpi import quality
from kpi.catalogue import COMPUTED, load_catalogue
from kpi.hourly import HourlySource, Window, day_windows
from kpi.store import KpiValue, replace_days
from kpi.telemetry_values import (
    Values,
    ack_values,
    air_values,
    flood_values,
    incident_values,
    online_values,
    quality_values,
    visitor_values,
)

log = logging.getLogger(__name__)


def compute_telemetry(conn: psycopg.Connection, windows: Sequence[Window], *,
                      source: HourlySource = "rollups",
                      kpis: Iterable[str] | None = None) -> list[KpiValue]:
    """The telemetry KPI values of `windows`, per unit and for the province."""
    wanted = set(COMPUTED if kpis is None else kpis) & COMPUTED
    out = Values()
    if wanted & {"aqi_today", "aqi_good_share"}:
        air_values(conn, windows, source, out, wanted)
    if wanted & {"visitors_today", "visitors_vs_last_year_pct"}:
        visitor_values(conn, windows, source, out, wanted)
    if wanted & {"incidents_today", "incidents_7d", "incidents_verified_pct"}:
        incident_values(conn, windows, out, wanted)
    ack_values(conn, windows, out, wanted)
    flood_values(conn, windows, out, wanted)
    online_values(conn, windows, source, out, wanted)
    if wanted & set(quality.QUALITY_KPIS):
        quality_values(conn, windows, source, out, wanted)
    return out.out


@dataclass(frozen=True)
class RefreshReport:
    first_day: dt.date | None
    last_day: dt.date | None
    values: int
    elapsed_ms: float


def first_data_time(conn: psycopg.Connection) -> dt.datetime | None:
    """When the first telemetry the KPIs read was stored (hourly rollups, incidents, alerts)."""
    row = conn.execute(
        "SELECT least("
        " (SELECT bucket FROM reading_rollups WHERE width = 'hour' ORDER BY bucket LIMIT 1),"
        " (SELECT started_at FROM camera_incidents ORDER BY started_at LIMIT 1),"
        " (SELECT opened_at FROM alerts ORDER BY opened_at LIMIT 1))"
    ).fetchone()
    return row[0] if row else None


def refresh_kpis(conn: psycopg.Connection, *, days: int = 2, now: dt.datetime | None = None,
                 catalogue=None) -> RefreshReport:
    """Recompute the telemetry KPIs of the last `days` local days (today included) into kpi_values.

    Reads hourly rollups, so run it after the rollup refresh (`ioc maintain` does both, and
    covers every day a late reading fell in). Idempotent; one transaction, so the page never sees half a day.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    started = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    now = now or dt.datetime.now(dt.UTC)
    today = now.astimezone(catalogue.zone).date()
    windows = day_windows(today - dt.timedelta(days=days - 1), today, now, catalogue.zone)
    # A day that began before the first data the IOC ever stored is not recomputed: its
    # figures would be made of nothing (a "+178 vs yesterday" on a new installation's first
    # day) and would overwrite the demo's seeded history (kpi.history).
    first = first_data_time(conn)
    windows = [w for w in windows if w.day == today or (first is not None and w.start >= first)]
    kpi_ids = [k.id for k in catalogue.telemetry()]
    with conn.transaction():
        values = compute_telemetry(conn, windows, kpis=kpi_ids)
        replace_days(conn, kpi_ids, [w.day for w in windows], values, source="telemetry")
    elapsed = (time.perf_counter() - started) * 1000
    log.debug("kpi refresh: %d values for %d day(s) in %.0f ms", len(values), len(windows), elapsed)
    return RefreshReport(windows[0].day if windows else None, windows[-1].day if windows else None,
                         len(values), elapsed)
