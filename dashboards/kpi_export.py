"""The leadership KPI page's CSV export: every stored value of the last days (reported
figures: every period) with its own period's target, goal and status."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

import psycopg

from dashboards.i18n import t
from dashboards.kpi_queries import unit_names
from dashboards.kpi_view import unit_of, when_of
from kpi.areas import PROVINCE_AREA, Area
from kpi.catalogue import Catalogue, goal_at, status_for_goal
from kpi.queries import values_since

EXPORT_COLUMNS = ("kpi_id", "kpi", "group", "unit_id", "unit_name", "breakdown", "period",
                  "period_start", "value", "unit", "numerator", "denominator", "target", "due",
                  "goal", "status", "higher_is_better", "source", "note")


def export_csv(conn: psycopg.Connection, catalogue: Catalogue, days: int, today: dt.date,
               lang: str, units: Mapping[str, Any] | None = None,
               area: Area = PROVINCE_AREA) -> str:
    """Every value of the last `days` days (reported figures: every period) as CSV text.

    For one unit or a group: the rows of its units only (province-wide figures left out).
    UTF-8 with a byte-order mark so that spreadsheet programs read the diacritics right.
    """
    since = today - dt.timedelta(days=days - 1)
    names = unit_names(units, lang)
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    kpis = {k.id: k for k in catalogue.kpis}
    fixed = {k.id: (k.name.get(lang), k.group, unit_of(k, lang),
                    "true" if k.higher_is_better else "false") for k in catalogue.kpis}
    province = t("kpi.province_total", lang)
    # With 99 units the same KPI and day repeat ~100 times: work out each goal once.
    goals: dict[tuple[str, str, dt.date], tuple[str, float | None, str, str, str]] = {}
    rows = []
    for v in values_since(conn, list(kpis), since,
                          unit_ids=None if area.is_province else area.unit_ids):
        kpi = kpis[v.kpi_id]
        name, group, unit, higher = fixed[v.kpi_id]
        key = (v.kpi_id, v.period, v.period_start)
        known = goals.get(key)
        if known is None:  # the target and goal of the figure's own period
            when = when_of(v)
            own = kpi.target_for(v.period_start, when)
            goal = goal_at(kpi, when, v.period_start)
            known = goals[key] = (_plain(goal), goal, v.period_start.isoformat(),
                                  _plain(own.value) if own else "",
                                  own.due.isoformat() if own else "")
        goal_text, goal, start, target, due = known
        rows.append([
            v.kpi_id, name, group, v.unit_id,
            names.get(v.unit_id, "") if v.unit_id else province,
            v.breakdown, v.period, start, _plain(v.value), unit,
            _plain(v.numerator), _plain(v.denominator), target, due,
            goal_text,
            "" if v.breakdown else "none" if v.value is None else status_for_goal(kpi, v.value, goal),
            higher, v.source, v.note or "",
        ])
    writer.writerows(rows)
    return buf.getvalue()


def _plain(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:.6g}" if x != int(x) else str(int(x))
