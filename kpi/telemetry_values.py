"""The telemetry KPI computations, one per family of KPIs, per unit and local day.

Each reads an hourly source (kpi/hourly.py) and, besides the rollups, only small tables:
devices, alerts, camera_incidents, incident_reviews and dead_letters (by index). Each adds
its figures to a `Values`; kpi/telemetry.py runs the ones the wanted KPIs need.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

import psycopg
from psycopg import sql

from ioc.domain.aqi import category, vn_aqi_daily
from kpi import quality
from kpi.hourly import (
    WINDOWS,
    HourlySource,
    Window,
    air_window,
    hour_ceil,
    hour_floor,
    hourly_source,
    window_params,
)
from kpi.store import PROVINCE, KpiValue

# A device is online while it has reported within this many expected intervals (the alerts
# worker's silent-device rule uses the same number).
ONLINE_INTERVALS = 3
LAST_YEAR = dt.timedelta(days=364)  # the same weekday a year earlier
PM_METRICS = ("pm25", "pm10")
VISITOR_METRIC = "entries"
# Camera incidents that count: all of our own JSON events (their label is the incident type);
# from Frigate, fire and smoke, and objects whose sub_label names what the analytics recognised
# (fight, crowd, ...); plain person/car tracking is not an incident.
INCIDENT_FILTER = sql.SQL(
    "NOT ci.false_positive AND (ci.source = 'ioc' OR ci.label IN ('fire', 'smoke') "
    "OR ci.data->>'sub_label' IS NOT NULL)"
)



class Values:
    """Collects KpiValues; rounding keeps stored figures tidy."""

    def __init__(self) -> None:
        self.out: list[KpiValue] = []

    def add(self, kpi_id: str, day: dt.date, unit_id: str | None, value: float,
            numerator: float | None = None, denominator: float | None = None,
            breakdown: str = "") -> None:
        if unit_id is None:
            return  # a device or alert without a unit counts for the province only
        self.out.append(KpiValue(kpi_id, "day", day, round(float(value), 3), unit_id=unit_id,
                                 breakdown=breakdown, numerator=numerator,
                                 denominator=denominator))


def _sum_by_unit(rows: Iterable[tuple]) -> dict[dt.date, dict[str, float]]:
    """{day: {unit_id: total, PROVINCE: total of all}} from (day, unit_id or None, n) rows."""
    out: dict[dt.date, dict[str, float]] = defaultdict(dict)
    for day, unit_id, total in rows:
        by = out[day]
        if unit_id is not None:
            by[unit_id] = by.get(unit_id, 0) + float(total)
        by[PROVINCE] = by.get(PROVINCE, 0) + float(total)
    return out


def _fill(days: Iterable[dt.date], sums: dict[dt.date, dict[str, float]],
          covered: set[str] | None) -> dict[dt.date, dict[str, float]]:
    """Counts with 0 where nothing happened, for the units that have the devices counted.

    covered None: no such device is registered; days with counts still get their values.
    """
    if covered is None:
        return dict(sums)
    out = {}
    for day in days:
        by = dict(sums.get(day, {}))
        for unit_id in covered:
            by.setdefault(unit_id, 0.0)
        by.setdefault(PROVINCE, 0.0)
        out[day] = by
    return out


def _covered(conn: psycopg.Connection, where: sql.Composable) -> set[str] | None:
    """Units of the enabled devices matching `where`; None when there is no such device."""
    query = sql.SQL("SELECT DISTINCT unit_id FROM devices d WHERE d.enabled AND {}").format(where)
    rows = conn.execute(query).fetchall()
    if not rows:
        return None
    return {r[0] for r in rows if r[0] is not None}


def air_values(conn: psycopg.Connection, windows: Sequence[Window], source: HourlySource,
               out: Values, wanted: set[str]) -> None:
    """aqi_today (mean of station AQIs) and aqi_good_share, per unit and the province."""
    aw = [air_window(w) for w in windows]
    if not aw:
        return
    query = sql.SQL(
        "WITH {windows}, hourly AS ({hourly}) "
        "SELECT w.day, h.device_id, d.unit_id, "
        "  sum(h.total) FILTER (WHERE h.metric = 'pm25') "
        "    / nullif(sum(h.n) FILTER (WHERE h.metric = 'pm25'), 0), "
        "  sum(h.total) FILTER (WHERE h.metric = 'pm10') "
        "    / nullif(sum(h.n) FILTER (WHERE h.metric = 'pm10'), 0) "
        "FROM w JOIN hourly h ON h.bucket >= w.w_start AND h.bucket < w.w_end "
        "JOIN devices d ON d.device_id = h.device_id "
        "GROUP BY 1, 2, 3"
    ).format(windows=WINDOWS, hourly=hourly_source(source, metrics=PM_METRICS))
    params = {**window_params(aw), "metrics": list(PM_METRICS),
              "h_from": hour_floor(min(w.start for w in aw)),
              "h_to": hour_ceil(max(w.end for w in aw))}
    stations: dict[dt.date, dict[str | None, list[int]]] = defaultdict(lambda: defaultdict(list))
    for day, _device, unit_id, pm25, pm10 in conn.execute(query, params):
        result = vn_aqi_daily(pm25_24h=pm25, pm10_24h=pm10)
        if result is None:
            continue
        aqi = result.aqi
        stations[day][unit_id].append(aqi)
        stations[day][PROVINCE].append(aqi)
    for day, by in sorted(stations.items()):
        for unit_id, values in by.items():
            if not values:
                continue
            if "aqi_today" in wanted:
                # the counts let a group of units be combined (kpi.areas)
                out.add("aqi_today", day, unit_id, sum(values) / len(values), sum(values),
                        len(values))
            if "aqi_good_share" in wanted:
                good = sum(1 for v in values if category(v).level == 1)
                out.add("aqi_good_share", day, unit_id, 100 * good / len(values), good,
                        len(values))


def visitor_values(conn: psycopg.Connection, windows: Sequence[Window], source: HourlySource,
                   out: Values, wanted: set[str]) -> None:
    """visitors_today, and visitors_vs_last_year_pct where last year has visits."""
    covered = _covered(conn, sql.SQL("d.kind = 'visitor_counter'"))
    if not windows:
        return
    query = sql.SQL(
        "WITH {windows}, hourly AS ({hourly}) "
        "SELECT w.day, d.unit_id, sum(h.total) "
        "FROM w JOIN hourly h ON h.bucket >= w.w_start AND h.bucket < w.w_end "
        "JOIN devices d ON d.device_id = h.device_id "
        "GROUP BY 1, 2"
    ).format(windows=WINDOWS, hourly=hourly_source(source, metrics=(VISITOR_METRIC,)))

    def totals(ws: Sequence[Window]) -> dict[dt.date, dict[str, float]]:
        params = {**window_params(ws), "metrics": [VISITOR_METRIC],
                  "h_from": hour_floor(min(w.start for w in ws)),
                  "h_to": hour_ceil(max(w.end for w in ws))}
        return _sum_by_unit(conn.execute(query, params))

    now_totals = _fill((w.day for w in windows), totals(windows), covered)
    last = [Window(w.day, w.start - LAST_YEAR, w.end - LAST_YEAR) for w in windows]
    last_totals = totals(last)
    for day, by in sorted(now_totals.items()):
        for unit_id, visits in by.items():
            if "visitors_today" in wanted:
                out.add("visitors_today", day, unit_id, visits)
            before = last_totals.get(day, {}).get(unit_id)
            if "visitors_vs_last_year_pct" in wanted and before:
                out.add("visitors_vs_last_year_pct", day, unit_id, 100 * visits / before,
                        visits, before)


def incident_values(conn: psycopg.Connection, windows: Sequence[Window], out: Values,
                    wanted: set[str]) -> None:
    """incidents_today, incidents_7d and incidents_verified_pct, by the camera's unit_id.

    Incidents count by start time. Verified: the newest police review (incident_reviews) made
    by the end of the day says `verified`; the share is of all the 7 days' incidents.
    """
    covered = _covered(conn, sql.SQL("d.family = 'camera'"))
    if not windows:
        return
    query = sql.SQL(
        "WITH {windows} "
        "SELECT w.day, d.unit_id, "
        "  count(*) FILTER (WHERE ci.started_at >= w.w_start), count(*), "
        "  count(*) FILTER (WHERE r.decision = 'verified') "
        "FROM w JOIN camera_incidents ci "
        "  ON ci.started_at >= w.w_start - interval '6 days' AND ci.started_at < w.w_end "
        "LEFT JOIN devices d ON d.device_id = ci.device_id "
        "LEFT JOIN LATERAL ("
        "  SELECT ir.decision FROM incident_reviews ir "
        "  WHERE ir.source = ci.source AND ir.event_id = ci.event_id AND ir.at < w.w_end "
        "  ORDER BY ir.id DESC LIMIT 1) r ON true "
        "WHERE {incident} "
        "GROUP BY 1, 2"
    ).format(windows=WINDOWS, incident=INCIDENT_FILTER)
    rows = conn.execute(query, window_params(windows)).fetchall()
    days = [w.day for w in windows]
    today = _fill(days, _sum_by_unit((r[0], r[1], r[2]) for r in rows), covered)
    week = _fill(days, _sum_by_unit((r[0], r[1], r[3]) for r in rows), covered)
    for kpi_id, table in (("incidents_today", today), ("incidents_7d", week)):
        if kpi_id in wanted:
            for day, by in sorted(table.items()):
                for unit_id, count in by.items():
                    out.add(kpi_id, day, unit_id, count)
    if "incidents_verified_pct" in wanted:
        verified = _sum_by_unit((r[0], r[1], r[4]) for r in rows)
        for day, by in sorted(week.items()):
            for unit_id, count in by.items():
                if count:
                    done = verified.get(day, {}).get(unit_id, 0.0)
                    out.add("incidents_verified_pct", day, unit_id, 100 * done / count, done,
                            count)


def ack_values(conn: psycopg.Connection, windows: Sequence[Window], out: Values,
               wanted: set[str]) -> None:
    """ack_median_min: median minutes to acknowledge, alerts opened in the 7 days to the day."""
    if not windows or "ack_median_min" not in wanted:
        return
    query = sql.SQL(
        "WITH {windows} "
        "SELECT w.day, a.unit_id, grouping(a.unit_id), "
        "  percentile_cont(0.5) WITHIN GROUP ("
        "    ORDER BY extract(epoch FROM a.acknowledged_at - a.opened_at) / 60), count(*) "
        "FROM w JOIN alerts a ON a.opened_at >= w.w_start - interval '6 days' "
        "  AND a.opened_at < w.w_end AND a.acknowledged_at IS NOT NULL "
        "  AND a.acknowledged_at < w.w_end "
        "GROUP BY GROUPING SETS ((w.day, a.unit_id), (w.day))"
    ).format(windows=WINDOWS)
    for day, unit_id, is_total, median, count in conn.execute(query, window_params(windows)):
        out.add("ack_median_min", day, PROVINCE if is_total else unit_id, median, None, count)


def flood_values(conn: psycopg.Connection, windows: Sequence[Window], out: Values,
                 wanted: set[str]) -> None:
    """flood_alarms_active: water-level alerts active at the end of the day (now, for today)."""
    covered = _covered(conn, sql.SQL("d.kind = 'water_level'"))
    if not windows or "flood_alarms_active" not in wanted:
        return
    query = sql.SQL(
        "WITH {windows} "
        "SELECT w.day, a.unit_id, count(*) "
        "FROM w JOIN alerts a ON a.kind = 'water_level' AND a.status <> 'false_alarm' "
        "  AND a.opened_at < w.w_end AND (a.resolved_at IS NULL OR a.resolved_at >= w.w_end) "
        "GROUP BY 1, 2"
    ).format(windows=WINDOWS)
    rows = conn.execute(query, window_params(windows)).fetchall()
    table = _fill([w.day for w in windows], _sum_by_unit(rows), covered)
    for day, by in sorted(table.items()):
        for unit_id, count in by.items():
            out.add("flood_alarms_active", day, unit_id, count)


def online_values(conn: psycopg.Connection, windows: Sequence[Window], source: HourlySource,
                  out: Values, wanted: set[str]) -> None:
    """devices_online_pct: enabled devices heard from within 3 expected intervals of the end."""
    if not windows or "devices_online_pct" not in wanted:
        return
    (longest,) = conn.execute(
        "SELECT coalesce(max(expected_interval_s), 60) FROM devices WHERE enabled"
    ).fetchone()
    lookback = dt.timedelta(seconds=min(ONLINE_INTERVALS * longest, 2 * 86400)) + dt.timedelta(
        hours=1)
    query = sql.SQL(
        "WITH {windows}, hourly AS ({hourly}), "
        "seen AS ("
        "  SELECT w.day, h.device_id, max(h.last_time) AS seen "
        "  FROM w JOIN hourly h ON h.bucket >= w.w_end - %(lookback)s AND h.bucket < w.w_end "
        "    AND h.last_time <= w.w_end "
        "  GROUP BY 1, 2) "
        "SELECT w.day, d.unit_id, count(*), "
        "  count(*) FILTER (WHERE greatest(s.seen, c.seen) "
        "    > w.w_end - make_interval(secs => %(intervals)s * d.expected_interval_s)) "
        "FROM w JOIN devices d ON d.enabled AND d.created_at <= w.w_end "
        "LEFT JOIN seen s ON s.day = w.day AND s.device_id = d.device_id "
        "LEFT JOIN LATERAL ("
        "  SELECT max(ci.last_update) AS seen FROM camera_incidents ci "
        "  WHERE d.family = 'camera' AND ci.device_id = d.device_id "
        "    AND ci.last_update <= w.w_end AND ci.last_update > w.w_end - %(lookback)s) c ON true "
        "GROUP BY 1, 2"
    ).format(windows=WINDOWS, hourly=hourly_source(source, metrics=None))
    params = {**window_params(windows), "lookback": lookback, "intervals": ONLINE_INTERVALS,
              "h_from": hour_floor(min(w.end for w in windows) - lookback),
              "h_to": hour_ceil(max(w.end for w in windows))}
    totals: dict[dt.date, dict[str, list[float]]] = defaultdict(dict)
    for day, unit_id, total, online in conn.execute(query, params):
        by = totals[day]
        for key in ({unit_id, PROVINCE} if unit_id is not None else {PROVINCE}):
            acc = by.setdefault(key, [0.0, 0.0])
            acc[0] += online
            acc[1] += total
    for day, by in sorted(totals.items()):
        for unit_id, (online, total) in by.items():
            if total:
                out.add("devices_online_pct", day, unit_id, 100 * online / total, online, total)


def quality_values(conn: psycopg.Connection, windows: Sequence[Window], source: HourlySource,
                   out: Values, wanted: set[str]) -> None:
    """Data quality ("đúng, đủ, sạch, sống") per unit and family, from the hourly source, the
    device registry and the dead letters (by index); the arithmetic is kpi.quality's."""
    if not windows:
        return
    query = sql.SQL(
        "WITH {windows}, hourly AS ({hourly}), "
        "marked AS ("
        "  SELECT h.bucket, h.device_id, h.n, "
        "    (h.metric = ANY(%(stuck_metrics)s) AND h.n >= %(stuck_n)s AND h.lo = h.hi "
        "     AND lag(h.n >= %(stuck_n)s AND h.lo = h.hi, 1) OVER m "
        "     AND lag(h.n >= %(stuck_n)s AND h.lo = h.hi, 2) OVER m "
        "     AND lag(h.lo, 1) OVER m = h.lo AND lag(h.lo, 2) OVER m = h.lo "
        "     AND lag(h.bucket, 2) OVER m = h.bucket - interval '2 hours') AS stuck, "
        "    h.metric "
        "  FROM hourly h WINDOW m AS (PARTITION BY h.device_id, h.metric ORDER BY h.bucket)), "
        "per_hour AS ("
        "  SELECT w.day, x.device_id, x.bucket, max(x.n) AS msgs, sum(x.n) AS readings, "
        "    coalesce(sum(x.n) FILTER (WHERE x.stuck), 0) AS stuck "
        "  FROM w JOIN marked x ON x.bucket >= w.w_start AND x.bucket < w.w_end "
        "  GROUP BY 1, 2, 3), "
        "per_day AS ("
        "  SELECT day, device_id, sum(msgs) AS received, count(*) AS hours, "
        "    sum(readings) AS readings, sum(stuck) AS stuck FROM per_hour GROUP BY 1, 2), "
        "recent AS ("
        "  SELECT DISTINCT w.day, x.device_id FROM w JOIN marked x "
        "  ON x.bucket >= w.w_end - interval '24 hours' AND x.bucket < w.w_end), "
        "dead AS ("
        "  SELECT w.day, dl.device_id, count(*) AS n FROM w JOIN dead_letters dl "
        "  ON dl.received_at >= w.w_start AND dl.received_at < w.w_end "
        "  WHERE dl.device_id IS NOT NULL GROUP BY 1, 2) "
        "SELECT w.day, d.family, d.unit_id, d.expected_interval_s, "
        "  extract(epoch FROM w.w_end - greatest(w.w_start, d.created_at))::float8, "
        "  coalesce(p.received, 0)::float8, coalesce(p.hours, 0)::int, "
        "  coalesce(p.readings, 0)::float8, coalesce(p.stuck, 0)::float8, "
        "  coalesce(dl.n, 0)::int, "
        "  (r.device_id IS NULL AND d.created_at <= w.w_end - interval '24 hours') "
        "FROM w JOIN devices d ON d.enabled AND d.created_at < w.w_end "
        "  AND d.family = ANY(%(families)s) "
        "LEFT JOIN per_day p ON p.day = w.day AND p.device_id = d.device_id "
        "LEFT JOIN recent r ON r.day = w.day AND r.device_id = d.device_id "
        "LEFT JOIN dead dl ON dl.day = w.day AND dl.device_id = d.device_id"
    ).format(windows=WINDOWS, hourly=hourly_source(source, metrics=None))
    first = min(min(w.start for w in windows), min(w.end for w in windows)
                - dt.timedelta(hours=24))
    params = {**window_params(windows), "stuck_metrics": list(quality.STUCK_METRICS),
              "stuck_n": quality.STUCK_MIN_READINGS, "families": list(quality.FAMILIES),
              "h_from": hour_floor(first) - dt.timedelta(hours=2),
              "h_to": hour_ceil(max(w.end for w in windows))}
    rows = [quality.DeviceDay(*row) for row in conn.execute(query, params)]
    for figure in quality.figures(rows):
        if figure.kpi_id in wanted:
            out.add(figure.kpi_id, figure.day, figure.unit, figure.value, figure.numerator,
                    figure.denominator, breakdown=figure.family)

