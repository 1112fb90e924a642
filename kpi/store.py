"""Writes KPI values into kpi_values (the one writer of that table)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

PROVINCE = ""  # kpi_values.unit_id of a province-wide value


@dataclass(frozen=True, slots=True)
class KpiValue:
    """One value of one KPI for one unit (or the province), breakdown and period."""

    kpi_id: str
    period: str
    period_start: dt.date
    value: float
    unit_id: str = PROVINCE
    breakdown: str = ""
    numerator: float | None = None
    denominator: float | None = None
    note: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, dt.date]:
        return (self.kpi_id, self.unit_id, self.breakdown, self.period, self.period_start)


_UPSERT = """
INSERT INTO kpi_values (kpi_id, unit_id, breakdown, period, period_start, value, numerator,
                        denominator, note, source, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (kpi_id, unit_id, breakdown, period, period_start) DO UPDATE
SET value = EXCLUDED.value, numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
    note = EXCLUDED.note, source = EXCLUDED.source, updated_at = now()
"""


def upsert_values(conn: psycopg.Connection, values: Iterable[KpiValue], *, source: str) -> int:
    """Insert or replace each value (a value for the same key replaces the stored one)."""
    rows = [
        (v.kpi_id, v.unit_id, v.breakdown, v.period, v.period_start, v.value, v.numerator,
         v.denominator, v.note, source)
        for v in values
    ]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(_UPSERT, rows)
    return len(rows)


def replace_days(conn: psycopg.Connection, kpi_ids: Sequence[str], days: Sequence[dt.date],
                 values: Sequence[KpiValue], *, source: str) -> int:
    """Make the daily values of `kpi_ids` on `days` exactly `values` (stale rows are deleted).

    The caller holds the transaction, so readers never see a day half-replaced.
    """
    keep = [(v.kpi_id, v.unit_id, v.breakdown, v.period_start) for v in values]
    conn.execute(
        """
        DELETE FROM kpi_values k
        WHERE k.kpi_id = ANY(%(kpis)s) AND k.period = 'day' AND k.period_start = ANY(%(days)s)
          AND (k.kpi_id, k.unit_id, k.breakdown, k.period_start) NOT IN (
              SELECT * FROM unnest(%(k)s::text[], %(d)s::text[], %(b)s::text[], %(s)s::date[]))
        """,
        {
            "kpis": list(kpi_ids),
            "days": list(days),
            "k": [k[0] for k in keep],
            "d": [k[1] for k in keep],
            "b": [k[2] for k in keep],
            "s": [k[3] for k in keep],
        },
    )
    return upsert_values(conn, values, source=source)
