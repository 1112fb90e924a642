"""The local days the telemetry KPIs are computed for, and the hourly rows they read.

A day is a `Window` in UTC (today's cut at now). Every computation reads an *hourly source*:
the `reading_rollups` hours (what `ioc kpi refresh` uses), or the same hours aggregated from
raw `readings` on the fly (what the benchmark's baseline and the equivalence test use); the
KPI arithmetic on top (kpi/telemetry_values.py) is the same for both, so the two give
identical values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from psycopg import sql

HourlySource = Literal["rollups", "readings"]


@dataclass(frozen=True, slots=True)
class Window:
    """One local day: [start, end) in UTC, end cut at `now` for today."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime

    @property
    def complete(self) -> bool:
        return self.end - self.start >= dt.timedelta(days=1)


def day_windows(first: dt.date, last: dt.date, now: dt.datetime, zone: ZoneInfo) -> list[Window]:
    """The local days first..last (inclusive) as UTC windows; a day after `now` is left out."""
    out = []
    day = first
    while day <= last:
        start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        if start >= now:
            break
        out.append(Window(day, start, min(end, now)))
        day += dt.timedelta(days=1)
    return out


def air_window(w: Window) -> Window:
    """The 24 hours the day's AQI is computed over: the day, or the last 24 hours for today."""
    if w.complete:
        return w
    hour = w.end.replace(minute=0, second=0, microsecond=0)
    return Window(w.day, hour - dt.timedelta(hours=23), w.end)



# -- the hourly source ----------------------------------------------------------------------------
def hourly_source(source: HourlySource, *, metrics: Sequence[str] | None) -> sql.Composable:
    """Hourly (bucket, device_id, metric, n, total, lo, hi, last_time) rows, h_from..h_to."""
    metric_filter = sql.SQL(" AND metric = ANY(%(metrics)s)") if metrics else sql.SQL("")
    if source == "rollups":
        return sql.SQL(
            "SELECT bucket, device_id, metric, n, sum AS total, min AS lo, max AS hi, last_time "
            "FROM reading_rollups "
            "WHERE width = 'hour' AND bucket >= %(h_from)s AND bucket < %(h_to)s{}"
        ).format(metric_filter)
    if source == "readings":
        return sql.SQL(
            "SELECT date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01') AS bucket, device_id, "
            "metric, count(*) AS n, sum(value) AS total, min(value) AS lo, max(value) AS hi, "
            "max(time) AS last_time FROM readings "
            "WHERE value IS NOT NULL AND time >= %(h_from)s AND time < %(h_to)s{} "
            "GROUP BY 1, 2, 3"
        ).format(metric_filter)
    raise ValueError(f"unknown hourly source {source!r}")


def window_params(windows: Sequence[Window]) -> dict:
    return {
        "days": [w.day for w in windows],
        "w_starts": [w.start for w in windows],
        "w_ends": [w.end for w in windows],
    }


WINDOWS = sql.SQL(
    "w (day, w_start, w_end) AS (SELECT * FROM unnest(%(days)s::date[], "
    "%(w_starts)s::timestamptz[], %(w_ends)s::timestamptz[]))"
)


def hour_floor(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def hour_ceil(t: dt.datetime) -> dt.datetime:
    floor = hour_floor(t)
    return floor if floor == t else floor + dt.timedelta(hours=1)
