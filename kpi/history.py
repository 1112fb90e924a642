"""A year of plausible daily values of the telemetry KPIs, for the demo's trend charts.

The demo starts with no history, so its trends would be empty. `ioc kpi seed --history DAYS`
(which `ioc demo` runs) stores DAYS days before today, province-wide and per unit, marked with
the source `demo-history`; the page says they are demo values. They are never written over real
figures: a day that already has telemetry values keeps them, and `ioc kpi refresh` does not
recompute a day that began before the first stored reading (so the seeded past stays).

The values are deterministic (seeded by KPI, unit and day): the same demo looks the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence

import psycopg

from kpi.areas import rule_of
from kpi.catalogue import Catalogue
from kpi.store import PROVINCE, KpiValue

SOURCE = "demo-history"


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _season(day: dt.date, peak_month: int) -> float:
    """1 at the middle of `peak_month`, -1 six months away (a smooth yearly cycle)."""
    angle = 2 * math.pi * ((day.timetuple().tm_yday - (peak_month - 0.5) * 30.4) / 365.25)
    return math.cos(angle)


def _weekend(day: dt.date) -> bool:
    return day.weekday() >= 5


def day_values(day: dt.date, r: random.Random, share: float) -> dict[str, float]:
    """The telemetry KPIs of one day for one unit (`share`: its part of the province's counts)."""
    aqi = max(15.0, 70 + 30 * _season(day, 3) + r.gauss(0, 12))  # dry-season haze in March
    good = max(0.0, min(100.0, 110 - aqi + r.gauss(0, 8)))
    incidents = max(0, round(share * (45 + (12 if _weekend(day) else 0) + r.gauss(0, 7))))
    visitors = max(0, round(share * (6500 * (1.6 if _weekend(day) else 1.0)
                                     * (1 + 0.35 * _season(day, 7)) + r.gauss(0, 600))))
    rainy = _season(day, 8) > 0.6  # July to September
    floods = max(0, round(r.gauss(1.5, 1.2))) if rainy and r.random() < 0.25 else 0
    return {
        "aqi_today": round(aqi),
        "aqi_good_share": round(good),
        "incidents_today": incidents,
        "ack_median_min": round(max(1.0, 4.5 + r.gauss(0, 1.3)), 1),
        "incidents_verified_pct": round(max(50.0, min(100.0, 88 + r.gauss(0, 5))), 1),
        "flood_alarms_active": min(floods, 6),
        "visitors_today": visitors,
        "visitors_vs_last_year_pct": round(max(60.0, 108 + 6 * _season(day, 7) + r.gauss(0, 6)),
                                           1),
        "devices_online_pct": round(max(70.0, min(100.0, 96 + r.gauss(0, 2))), 1),
        "data_complete_pct": round(max(70.0, min(100.0, 96.5 + r.gauss(0, 2))), 1),
        "data_live_pct": round(max(60.0, min(100.0, 95 + r.gauss(0, 3))), 1),
        "data_clean_pct": round(max(85.0, min(100.0, 99.2 + r.gauss(0, 0.6))), 1),
        "devices_silent_long": max(0, round(share * abs(r.gauss(0, 2)))),
    }


def _counts(kpi_id: str, value: float, area: str,
            n_units: int) -> tuple[float | None, float | None]:
    """Plausible counts behind a share or a mean (stations, devices), so that a group of units
    can be combined from them as from real figures (kpi.areas); None for other KPIs."""
    rule = rule_of(kpi_id)
    if rule not in ("ratio", "mean"):
        return None, None
    den = float(_rng("size", kpi_id, area).randint(2, 8) if area != PROVINCE
                else 5 * max(1, n_units))
    return (value * den / 100 if rule == "ratio" else value * den), den


def history_values(catalogue: Catalogue, first: dt.date, last: dt.date,
                   units: Sequence[str]) -> list[KpiValue]:
    """Daily values of every telemetry KPI of the catalogue, province-wide and per unit."""
    wanted = {k.id: k for k in catalogue.telemetry()}
    per_unit = {k.id for k in wanted.values() if k.units}
    share = 1 / len(units) if units else 1.0
    out: list[KpiValue] = []
    areas = [(PROVINCE, 1.0)] + [(u, share) for u in units]
    for area, part in areas:
        recent: list[float] = []  # incidents of the last days, for the 7-day sum
        day = first - dt.timedelta(days=6)
        r = _rng("history", area or "province", day.isoformat())
        while day <= last:
            values = day_values(day, r, part)
            recent = (recent + [values["incidents_today"]])[-7:]
            values["incidents_7d"] = sum(recent)
            if day >= first:
                for kpi_id, value in values.items():
                    if kpi_id in wanted and (area == PROVINCE or kpi_id in per_unit):
                        num, den = _counts(kpi_id, float(value), area, len(units))
                        out.append(KpiValue(kpi_id, "day", day, float(value), unit_id=area,
                                            numerator=num, denominator=den))
            day += dt.timedelta(days=1)
    return out


def seed_history(conn: psycopg.Connection, catalogue: Catalogue, *, days: int,
                 today: dt.date) -> int:
    """Store `days` days before `today` where no telemetry value exists yet; returns the count.

    The caller commits. Units are those the device registry names.
    """
    if days <= 0:
        return 0
    units = [row[0] for row in conn.execute(
        "SELECT DISTINCT unit_id FROM devices WHERE unit_id IS NOT NULL AND unit_id <> '' "
        "ORDER BY 1")]
    first, last = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
    taken = {(row[0], row[1], row[2]) for row in conn.execute(
        "SELECT kpi_id, unit_id, period_start FROM kpi_values WHERE period = 'day' "
        "AND period_start BETWEEN %s AND %s AND source <> %s", (first, last, SOURCE))}
    values = [v for v in history_values(catalogue, first, last, units)
              if (v.kpi_id, v.unit_id, v.period_start) not in taken]
    # COPY into a staging table, then one upsert: a year of 99 units is ~330,000 rows
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS kpi_history_stage "
                 "(kpi_id text, unit_id text, period_start date, value double precision, "
                 "numerator double precision, denominator double precision) ON COMMIT DROP")
    with conn.cursor().copy("COPY kpi_history_stage (kpi_id, unit_id, period_start, value, "
                            "numerator, denominator) FROM STDIN") as copy:
        for v in values:
            copy.write_row((v.kpi_id, v.unit_id, v.period_start, v.value, v.numerator,
                            v.denominator))
    conn.execute(
        "INSERT INTO kpi_values (kpi_id, unit_id, breakdown, period, period_start, value, "
        "numerator, denominator, source, updated_at) SELECT kpi_id, unit_id, '', 'day', "
        "period_start, value, numerator, denominator, %s, now() "
        "FROM kpi_history_stage ON CONFLICT (kpi_id, unit_id, breakdown, period, period_start) "
        "DO UPDATE SET value = EXCLUDED.value, numerator = EXCLUDED.numerator, "
        "denominator = EXCLUDED.denominator, source = EXCLUDED.source, "
        "updated_at = EXCLUDED.updated_at WHERE kpi_values.source = %s", (SOURCE, SOURCE))
    conn.execute("DROP TABLE kpi_history_stage")
    return len(values)
