"""The API's SQL: keyset pages over devices, readings and rollups, incidents, KPIs (alerts are
read through the alerts read model, alerts/queries.py).

Every statement is composed with psycopg's `sql` module from fixed fragments and bound
parameters; nothing from a request is ever spliced into SQL text. Each page query asks for
one row more than the page holds, so the caller knows whether there is a next page. Plain
PostgreSQL only (no TimescaleDB functions): the same answers on both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

ORIGIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # the rollups' bucket origin (ioc.db.rollups)


class Where:
    """AND-ed conditions with their parameters, in order."""

    def __init__(self) -> None:
        self.parts: list[sql.Composable] = []
        self.params: list[Any] = []

    def add(self, fragment: str, *params: Any) -> Where:
        self.parts.append(sql.SQL(fragment))
        self.params.extend(params)
        return self

    def any(self, column: str, values: Sequence[Any] | None) -> Where:
        """`column = value` for one value, `column = ANY(values)` for several, nothing for None."""
        if not values:
            return self
        ident = sql.Identifier(*column.split("."))
        if len(values) == 1:
            self.parts.append(sql.SQL("{} = %s").format(ident))
            self.params.append(values[0])
        else:
            self.parts.append(sql.SQL("{} = ANY(%s)").format(ident))
            self.params.append(list(values))
        return self

    def clause(self) -> sql.Composable:
        if not self.parts:
            return sql.SQL("TRUE")
        return sql.SQL(" AND ").join(self.parts)


def _fetch(conn: psycopg.Connection, query: sql.Composable, params: Sequence[Any]) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


# -- devices ----------------------------------------------------------------------------------
DEVICE_COLUMNS = sql.SQL(
    "d.device_id, d.name, d.family, d.kind, d.unit_id, d.lon, d.lat, d.metadata, "
    "d.expected_interval_s, d.enabled, d.created_at, d.updated_at"
)


def devices_page(conn, where: Where, after: str | None, limit: int) -> list[dict]:
    if after is not None:
        where.add("d.device_id > %s", after)
    query = sql.SQL("SELECT {} FROM devices d WHERE {} ORDER BY d.device_id LIMIT %s").format(
        DEVICE_COLUMNS, where.clause()
    )
    return _fetch(conn, query, [*where.params, limit + 1])


def device_filters(
    *,
    device_id=None,
    family=None,
    kind=None,
    unit_id=None,
    enabled: bool | None = None,
) -> Where:
    where = Where()
    where.any("d.device_id", device_id).any("d.family", family).any("d.kind", kind)
    where.any("d.unit_id", unit_id)
    if enabled is not None:
        where.add("d.enabled = %s", enabled)
    return where


def get_device(conn, device_id: str) -> dict | None:
    query = sql.SQL("SELECT {} FROM devices d WHERE d.device_id = %s").format(DEVICE_COLUMNS)
    rows = _fetch(conn, query, [device_id])
    return rows[0] if rows else None


def device_ids_page(conn, where: Where, after: str | None, limit: int) -> list[str]:
    if after is not None:
        where.add("d.device_id > %s", after)
    query = sql.SQL("SELECT d.device_id FROM devices d WHERE {} ORDER BY d.device_id LIMIT %s")
    with conn.cursor() as cur:
        cur.execute(query.format(where.clause()), [*where.params, limit + 1])
        return [row[0] for row in cur.fetchall()]


# -- readings ---------------------------------------------------------------------------------
# Readings come back as tuples (they are the large answers): raw rows are
# (time, device_id, metric, value, value_text, unit); aggregates are
# (bucket start, device_id, metric, n, sum, min, max, last), the start a date for local days.


def _tuples(conn, query: sql.Composable, params: Sequence[Any]) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _reading_filters(device_ids: Sequence[str], metrics: Sequence[str] | None) -> Where:
    return Where().any("device_id", device_ids).any("metric", metrics)


def readings_raw(
    conn,
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    start: dt.datetime,
    end: dt.datetime,
    after: Sequence | None,
    limit: int,
) -> list[tuple]:
    """Raw readings in [start, end), ordered by (device, metric, time) as the primary key is."""
    where = _reading_filters(device_ids, metrics)
    where.add("time >= %s", start).add("time < %s", end)
    if after is not None:
        where.add("(device_id, metric, time) > (%s, %s, %s)", *after)
    query = sql.SQL(
        "SELECT time, device_id, metric, value, value_text, unit FROM readings WHERE {} "
        "ORDER BY device_id, metric, time LIMIT %s"
    ).format(where.clause())
    return _tuples(conn, query, [*where.params, limit + 1])


def readings_rollup(
    conn,
    width: str,
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    start: dt.datetime,
    end: dt.datetime,
    after: Sequence | None,
    limit: int,
) -> list[tuple]:
    """Stored hourly or (UTC) daily rollups whose bucket starts in [start, end)."""
    where = _reading_filters(device_ids, metrics)
    where.add("width = %s", width).add("bucket >= %s", start).add("bucket < %s", end)
    if after is not None:
        where.add("(device_id, metric, bucket) > (%s, %s, %s)", *after)
    query = sql.SQL(
        "SELECT bucket, device_id, metric, n, sum, min, max, last "
        "FROM reading_rollups WHERE {} ORDER BY device_id, metric, bucket LIMIT %s"
    ).format(where.clause())
    return _tuples(conn, query, [*where.params, limit + 1])


def readings_local_days(
    conn,
    midnights: Sequence[dt.datetime],
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    after: Sequence | None,
    limit: int,
) -> list[tuple]:
    """Local days summed from the hourly rollups; `midnights` are the days' bounds, in order.

    A row's first column is the day's number i (1 = the day starting at midnights[0]);
    width_bucket finds it by binary search, which works across DST changes and costs far less
    than converting every hour to local time. The last value is the one with the latest
    time: max() of [epoch, value] pairs compares them by epoch first (no sort needed).
    `after` is (device_id, metric, first instant of the next day): the keyset is pushed down
    to the hourly rows, so a later page does not aggregate what earlier pages returned.
    """
    where = _reading_filters(device_ids, metrics)
    where.add("width = 'hour'").add("bucket >= %s", midnights[0]).add("bucket < %s", midnights[-1])
    if after is not None:
        where.add("(device_id, metric, bucket) >= (%s, %s, %s)", *after)
    query = sql.SQL(
        "SELECT width_bucket(bucket, %s::timestamptz[]) AS day, device_id, metric, "
        "sum(n)::bigint, sum(sum), min(min), max(max), "
        "(max(ARRAY[extract(epoch FROM last_time)::float8, last]))[2] "
        "FROM reading_rollups WHERE {} GROUP BY device_id, metric, day "
        "ORDER BY device_id, metric, day LIMIT %s"
    ).format(where.clause())
    return _tuples(conn, query, [list(midnights), *where.params, limit + 1])


def readings_binned(
    conn,
    step: dt.timedelta,
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    start: dt.datetime,
    end: dt.datetime,
    after: Sequence | None,
    limit: int,
) -> list[tuple]:
    """Sub-hour buckets aggregated from raw readings in [start, end) (aligned to the step).

    The last value is looked up by primary key at each bucket's latest time. `after` is
    (device_id, metric, start of the next bucket), pushed down like above.
    """
    where = _reading_filters(device_ids, metrics)
    where.add("value IS NOT NULL").add("time >= %s", start).add("time < %s", end)
    if after is not None:
        where.add("(device_id, metric, time) >= (%s, %s, %s)", *after)
    query = sql.SQL(
        "SELECT g.bucket, g.device_id, g.metric, g.n, g.total, g.low, g.high, "
        "(SELECT r.value FROM readings r WHERE r.device_id = g.device_id "
        "AND r.metric = g.metric AND r.time = g.last_time) "
        "FROM (SELECT date_bin(%s, time, %s) AS bucket, device_id, metric, count(*) AS n, "
        "sum(value) AS total, min(value) AS low, max(value) AS high, max(time) AS last_time "
        "FROM readings WHERE {} GROUP BY device_id, metric, bucket "
        "ORDER BY device_id, metric, bucket LIMIT %s) g "
        "ORDER BY g.device_id, g.metric, g.bucket"
    ).format(where.clause())
    return _tuples(conn, query, [step, ORIGIN, *where.params, limit + 1])


# -- camera incidents -------------------------------------------------------------------------
def incident_filters(
    *,
    device_id=None,
    label=None,
    unit_id=None,
    source: str | None = None,
    open: bool | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    watchlist_hit: bool | None = None,
) -> Where:
    where = Where().any("c.device_id", device_id).any("c.label", label)
    if watchlist_hit is not None:
        where.add("w.id IS NOT NULL" if watchlist_hit else "w.id IS NULL")
    where.any("d.unit_id", unit_id)
    if source is not None:
        where.add("c.source = %s", source)
    if open is not None:
        where.add("c.ended_at IS NULL" if open else "c.ended_at IS NOT NULL")
    if start is not None:
        where.add("c.last_update >= %s", start)
    if end is not None:
        where.add("c.started_at < %s", end)
    return where


def incidents_page(conn, where: Where, after: Sequence | None, limit: int) -> list[dict]:
    """Most recently updated first."""
    if after is not None:
        where.add("(c.last_update, c.source, c.event_id) < (%s, %s, %s)", *after)
    query = sql.SQL(
        "SELECT c.source, c.event_id, c.device_id, d.unit_id, c.label, c.phase, c.started_at, "
        "c.last_update, c.ended_at, c.confidence, c.top_confidence, c.zones, c.plate, "
        "c.plate_confidence, c.snapshot_sha256, c.snapshot_url, c.false_positive, "
        "q.priority AS queue_priority, q.rule AS queue_rule, w.id IS NOT NULL AS watchlist_hit "
        "FROM camera_incidents c LEFT JOIN devices d ON d.device_id = c.device_id "
        "LEFT JOIN police_queue q ON q.source = c.source AND q.event_id = c.event_id "
        "LEFT JOIN police_watchlist w ON w.id = q.watchlist_id AND w.removed_at IS NULL "
        "AND (w.expires_at IS NULL OR w.expires_at > now()) WHERE {} "
        "ORDER BY c.last_update DESC, c.source DESC, c.event_id DESC LIMIT %s"
    ).format(where.clause())
    return _fetch(conn, query, [*where.params, limit + 1])


def get_snapshot(conn, sha256: str) -> dict | None:
    query = sql.SQL(
        "SELECT content, content_type, device_id, time FROM camera_snapshots WHERE sha256 = %s"
    )
    rows = _fetch(conn, query, [sha256])
    return rows[0] if rows else None


# -- KPIs -------------------------------------------------------------------------------------
def kpi_filters(
    *,
    kpi_id=None,
    unit_id=None,
    period=None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Where:
    where = Where().any("k.kpi_id", kpi_id).any("k.unit_id", unit_id).any("k.period", period)
    if start is not None:
        where.add("k.period_start >= %s", start)
    if end is not None:
        where.add("k.period_start < %s", end)
    return where


def kpi_values_page(conn, where: Where, after: Sequence | None, limit: int) -> list[dict]:
    if after is not None:
        where.add(
            "(k.kpi_id, k.unit_id, k.breakdown, k.period, k.period_start) > (%s, %s, %s, %s, %s)",
            *after,
        )
    query = sql.SQL(
        "SELECT k.kpi_id, k.unit_id, k.breakdown, k.period, k.period_start, k.value, "
        "k.numerator, k.denominator, k.note, k.source, k.updated_at FROM kpi_values k WHERE {} "
        "ORDER BY k.kpi_id, k.unit_id, k.breakdown, k.period, k.period_start LIMIT %s"
    ).format(where.clause())
    return _fetch(conn, query, [*where.params, limit + 1])


# -- layers -----------------------------------------------------------------------------------
def layer_summaries(conn) -> list[dict]:
    query = sql.SQL(
        "SELECT layer, min(kind) AS kind, count(*) AS features, bool_or(approximate) AS approximate, "
        "min(source) AS source, max(updated_at) AS updated_at "
        "FROM layer_features GROUP BY layer ORDER BY layer"
    )
    return _fetch(conn, query, [])


def layer_exists(conn, layer: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM layer_features WHERE layer = %s)", (layer,))
        return bool(cur.fetchone()[0])


# -- NGSI-LD ----------------------------------------------------------------------------------
def ngsi_devices(
    conn, kinds: Sequence[str], device_ids: Sequence[str] | None, limit: int, offset: int
) -> list[dict]:
    where = Where().any("d.kind", kinds).any("d.device_id", device_ids).add("d.enabled")
    query = sql.SQL(
        "SELECT {}, q.aqi, q.category AS aqi_category, q.computed_at AS aqi_time "
        "FROM devices d LEFT JOIN air_quality_index q "
        "ON q.device_id = d.device_id AND q.standard = 'vn_aqi' "
        "WHERE {} ORDER BY d.device_id LIMIT %s OFFSET %s"
    ).format(DEVICE_COLUMNS, where.clause())
    return _fetch(conn, query, [*where.params, limit, offset])


def ngsi_devices_count(conn, kinds: Sequence[str], device_ids: Sequence[str] | None) -> int:
    where = Where().any("d.kind", kinds).any("d.device_id", device_ids).add("d.enabled")
    query = sql.SQL("SELECT count(*) FROM devices d WHERE {}").format(where.clause())
    with conn.cursor() as cur:
        cur.execute(query, where.params)
        return int(cur.fetchone()[0])
