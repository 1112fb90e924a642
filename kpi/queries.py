"""Reads of kpi_values for the leadership page, its exports and the API (index lookups only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
from psycopg import sql

from kpi.areas import Sums, combine
from kpi.catalogue import Catalogue, Kpi, period_end
from kpi.store import PROVINCE


class StoredValue(NamedTuple):
    """One row of kpi_values (a named tuple: thousands are read per export, cheaply)."""

    kpi_id: str
    unit_id: str
    breakdown: str
    period: str
    period_start: dt.date
    value: float
    numerator: float | None
    denominator: float | None
    note: str | None
    source: str
    updated_at: dt.datetime

    @property
    def period_end(self) -> dt.date:
        return period_end(self.period, self.period_start)


@dataclass(frozen=True, slots=True)
class Latest:
    """A KPI's newest value and the one before it (same period kind), for a tile."""

    current: StoredValue
    previous: StoredValue | None


_NAMES = ("kpi_id", "unit_id", "breakdown", "period", "period_start", "value", "numerator",
          "denominator", "note", "source", "updated_at")
_COLUMNS = sql.SQL(", ").join(sql.Identifier(n) for n in _NAMES)
_V_COLUMNS = sql.SQL(", ").join(sql.Identifier("v", n) for n in _NAMES)


def _values(cur: psycopg.Cursor) -> list[StoredValue]:
    # psycopg's class_row (keywords per row) and frozen dataclasses cost several times more
    return [StoredValue._make(row) for row in cur.fetchall()]


def latest_values(conn: psycopg.Connection, catalogue: Catalogue, *,
                  unit_id: str = PROVINCE,
                  kpis: Sequence[Kpi] | None = None) -> dict[str, Latest]:
    """Per KPI: the newest value (the period ending last) and the previous one of its kind."""
    pairs = [(k.id, p) for k in (catalogue.kpis if kpis is None else kpis) for p in k.periods]
    rows = conn.execute(
        sql.SQL(
            "SELECT {v_columns} "
            "FROM unnest(%(kpis)s::text[], %(periods)s::text[]) AS k(kpi_id, period) "
            "CROSS JOIN LATERAL ("
            "  SELECT {columns} FROM kpi_values"
            "  WHERE kpi_id = k.kpi_id AND unit_id = %(unit_id)s AND breakdown = ''"
            "    AND period = k.period"
            "  ORDER BY period_start DESC LIMIT 2) v"
        ).format(v_columns=_V_COLUMNS, columns=_COLUMNS),
        {"kpis": [p[0] for p in pairs], "periods": [p[1] for p in pairs], "unit_id": unit_id},
        binary=True,
    ).fetchall()
    by_kind: dict[tuple[str, str], list[StoredValue]] = {}
    for row in rows:
        value = StoredValue(*row)
        by_kind.setdefault((value.kpi_id, value.period), []).append(value)
    out: dict[str, Latest] = {}
    for (kpi_id, _period), values in by_kind.items():
        values.sort(key=lambda v: v.period_start, reverse=True)
        best = out.get(kpi_id)
        if best is None or values[0].period_end > best.current.period_end:
            out[kpi_id] = Latest(values[0], values[1] if len(values) > 1 else None)
    return out


def unit_values(conn: psycopg.Connection, catalogue: Catalogue,
                    day: dt.date | None) -> dict[str, dict[str, StoredValue]]:
    """{kpi_id: {unit_id: value}} for the unit KPIs: telemetry of `day`, reported latest."""
    daily = [k.id for k in catalogue.kpis if k.units and k.periods == ("day",)]
    other = [k.id for k in catalogue.kpis if k.units and k.periods != ("day",)]
    out: dict[str, dict[str, StoredValue]] = {}
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT {columns} FROM kpi_values WHERE period = 'day' "
                "AND period_start = %(day)s AND breakdown = '' AND unit_id <> '' "
                "AND kpi_id = ANY(%(daily)s) "
                "UNION ALL "
                "(SELECT DISTINCT ON (kpi_id, unit_id) {columns} FROM kpi_values "
                " WHERE kpi_id = ANY(%(other)s) AND unit_id <> '' AND breakdown = '' "
                " ORDER BY kpi_id, unit_id, period_start DESC)"
            ).format(columns=_COLUMNS),
            {"day": day, "daily": daily if day is not None else [], "other": other},
            binary=True,
        )
        for v in _values(cur):
            out.setdefault(v.kpi_id, {})[v.unit_id] = v
    return out


def series(conn: psycopg.Connection, kpi: Kpi, *, since: dt.date | None,
           unit_id: str = PROVINCE, breakdown: str = "") -> list[StoredValue]:
    """A KPI's values in time order; daily KPIs from `since`, reported ones all of them."""
    since = since if kpi.periods == ("day",) else None
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT {} FROM kpi_values WHERE kpi_id = %(kpi)s AND unit_id = %(unit_id)s "
                "AND breakdown = %(breakdown)s AND period = ANY(%(periods)s) "
                "AND (%(since)s::date IS NULL OR period_start >= %(since)s::date) "
                "ORDER BY period_start"
            ).format(_COLUMNS),
            {"kpi": kpi.id, "unit_id": unit_id, "breakdown": breakdown,
             "periods": list(kpi.periods), "since": since},
            binary=True,
        )
        return _values(cur)


def breakdown_values(conn: psycopg.Connection, kpi: Kpi, *,
                     unit_id: str = PROVINCE) -> list[StoredValue]:
    """The parts of the KPI's newest broken-down period, in catalogue order."""
    return all_breakdowns(conn, [kpi], unit_id=unit_id).get(kpi.id, [])


def all_breakdowns(conn: psycopg.Connection, kpis: Sequence[Kpi], *,
                   unit_id: str = PROVINCE) -> dict[str, list[StoredValue]]:
    """{kpi_id: the parts of its newest broken-down period} for the KPIs with breakdowns."""
    kpis = [k for k in kpis if k.breakdowns]
    if not kpis:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT DISTINCT ON (kpi_id, breakdown) {} FROM kpi_values "
                "WHERE kpi_id = ANY(%s) AND unit_id = %s AND breakdown <> '' "
                "ORDER BY kpi_id, breakdown, period_start DESC"
            ).format(_COLUMNS),
            ([k.id for k in kpis], unit_id), binary=True,
        )
        found = {(v.kpi_id, v.breakdown): v for v in _values(cur)}
    return {
        k.id: [found[(k.id, b.id)] for b in k.breakdowns if (k.id, b.id) in found] for k in kpis
    }


def values_since(conn: psycopg.Connection, kpi_ids: Sequence[str],
                 since: dt.date | None, *,
                 unit_ids: Sequence[str] | None = None) -> list[StoredValue]:
    """Every stored value of the KPIs (daily ones from `since`), for the CSV export.

    Two index range scans (daily values by day, the few reported ones by period) rather than
    one query with an OR that would read the whole table. unit_ids: only those units' values.
    """
    units = (sql.SQL("") if unit_ids is None
             else sql.SQL(" AND unit_id = ANY(%(units)s)"))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT {c} FROM kpi_values WHERE period = 'day' AND period_start >= %(since)s "
                "AND kpi_id = ANY(%(kpis)s){u} "
                "UNION ALL "
                "SELECT {c} FROM kpi_values WHERE period IN ('week', 'month', 'quarter', 'year') "
                "AND kpi_id = ANY(%(kpis)s){u} "
                "ORDER BY kpi_id, unit_id, breakdown, period, period_start"
            ).format(c=_COLUMNS, u=units),
            {"kpis": list(kpi_ids), "since": since or dt.date(1, 1, 1),
             "units": list(unit_ids or ())},
            binary=True,  # parsing timestamps from text costs more than the query
        )
        return _values(cur)


@dataclass(frozen=True)
class Freshness:
    telemetry_at: dt.datetime | None  # when `ioc kpi refresh` last wrote
    import_at: dt.datetime | None  # the last import of reported figures
    import_source: str | None


def page_meta(conn: psycopg.Connection) -> tuple[dt.date | None, Freshness]:
    """The newest day with telemetry values, and the freshness of both kinds, in one query."""
    row = conn.execute(
        "WITH d AS (SELECT period_start FROM kpi_values WHERE period = 'day' "
        "           ORDER BY period_start DESC LIMIT 1) "
        "SELECT (SELECT period_start FROM d), "
        "       (SELECT max(updated_at) FROM kpi_values "
        "        WHERE period = 'day' AND period_start = (SELECT period_start FROM d)), "
        "       r.updated_at, r.source "
        "FROM (SELECT 1) one LEFT JOIN LATERAL ("
        "  SELECT updated_at, source FROM kpi_values "
        "  WHERE period IN ('week', 'month', 'quarter', 'year') "
        "  ORDER BY updated_at DESC LIMIT 1) r ON true",
        binary=True,
    ).fetchone()
    return row[0], Freshness(row[1], row[2], row[3])


def freshness(conn: psycopg.Connection) -> Freshness:
    """When the telemetry KPIs were last computed and the reported figures last imported."""
    return page_meta(conn)[1]


# -- areas: one unit or a group of units ----------------------------------------------------------
class AreaSums(NamedTuple):
    """The units' figures of one KPI, breakdown and period, summed in the database."""

    kpi_id: str
    breakdown: str
    period: str
    period_start: dt.date
    sums: Sums
    updated_at: dt.datetime

    @property
    def period_end(self) -> dt.date:
        return period_end(self.period, self.period_start)


def area_sums(conn: psycopg.Connection, kpi_ids: Sequence[str], unit_ids: Sequence[str], *,
              since: dt.date | None, breakdowns: Sequence[str] = ("",)) -> list[AreaSums]:
    """Per KPI, breakdown and period: the sums of the units' values, numerators, denominators.

    Daily values from `since` (None: all), reported ones all of them, for the `breakdowns`
    given ('' = the whole). Every column of the primary key is bounded (= ANY, a range on the
    day), so a group of 50 units reads only the days asked for, whatever history is stored,
    and the sums are made in the database, not in Python.
    """
    if not kpi_ids or not unit_ids:
        return []
    with conn.cursor() as cur:
        cur.execute(
            "SELECT kpi_id, breakdown, period, period_start, count(*)::int, sum(value), "
            "  sum(numerator), sum(denominator), "
            "  count(*) FILTER (WHERE numerator IS NOT NULL AND denominator IS NOT NULL)::int, "
            "  max(updated_at) "
            "FROM ("
            "  SELECT * FROM kpi_values WHERE kpi_id = ANY(%(kpis)s) AND unit_id = ANY(%(units)s)"
            "    AND breakdown = ANY(%(parts)s) AND period = 'day' AND period_start >= %(since)s"
            "  UNION ALL"
            "  SELECT * FROM kpi_values WHERE kpi_id = ANY(%(kpis)s) AND unit_id = ANY(%(units)s)"
            "    AND breakdown = ANY(%(parts)s) AND period = ANY(%(reported)s)"
            ") v GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
            {"kpis": list(kpi_ids), "units": list(unit_ids), "parts": list(breakdowns),
             "since": since or dt.date(1, 1, 1),
             "reported": ["week", "month", "quarter", "year"]},
            binary=True,
        )
        return [AreaSums(k, b, p, s, Sums(n, v, num, den, wc), u)
                for k, b, p, s, n, v, num, den, wc, u in cur.fetchall()]


def combined_value(row: AreaSums, unit_label: str) -> tuple[StoredValue | None, str]:
    """A group's figure as a StoredValue (unit_id `unit_label`), or None and the reason."""
    c = combine(row.kpi_id, row.sums)
    if c.value is None:
        return None, c.reason
    return StoredValue(row.kpi_id, unit_label, row.breakdown, row.period, row.period_start,
                       c.value, c.numerator, c.denominator, None, "area", row.updated_at), ""
