"""The leadership KPI page's plotly figures: the units coloured by a KPI's status on the
map, and a KPI over time with each plan period's goal line (pure, tested without a browser)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboards.i18n import t
from dashboards.kpi_queries import unit_names
from dashboards.kpi_view import fmt_date, judge, with_unit
from kpi.catalogue import Kpi, goal_on_path
from kpi.history import SOURCE as HISTORY_SOURCE
from kpi.queries import StoredValue

STATUS_COLOURS = {"good": "#3ddc97", "warn": "#ffb020", "bad": "#ff4d4f", "info": "#4aa8ff",
                  "none": "#5b6b7b"}
STATUS_ORDER = ("none", "info", "good", "warn", "bad")


def map_figure(kpi: Kpi, values: Mapping[str, StoredValue], units: Mapping[str, Any],
               lang: str, height: int = 460, base: Any = None) -> go.Figure:
    """Units coloured by the KPI's status against its target (dark, offline map; `base`: the
    base map, dashboards.base_map.map_base()). Opaque fills in the legend's colours."""
    from dashboards.map_style import fit_view, map_style

    ids, z, text = [], [], []
    names = unit_names(units, lang)
    for f in units.get("features", []):
        unit_id = str(f["properties"]["id"])
        v = values.get(unit_id)
        status = judge(kpi, v) if v else "none"
        ids.append(unit_id)
        z.append(STATUS_ORDER.index(status))
        lines = [f"<b>{names.get(unit_id, unit_id)}</b>",
                 f"{kpi.name.get(lang)}: {with_unit(kpi, v.value if v else None, lang)}",
                 t(f"kpi.status.{status}", lang)]
        if f["properties"].get("approximate"):
            lines.append(t("kpi.approximate_boundary", lang))
        text.append("<br>".join(lines))
    n = len(STATUS_ORDER) - 1
    scale = []
    for i, status in enumerate(STATUS_ORDER):
        colour = STATUS_COLOURS[status]
        scale += [[i / n - (0.5 / n if i else 0), colour], [min(1, i / n + 0.5 / n), colour]]
    scale[0][0], scale[-1][0] = 0, 1
    bbox = _bbox(units)
    centre, zoom = fit_view(bbox, 640, height) if bbox else ({"lon": 104.1, "lat": 22.35}, 7.6)
    fig = go.Figure(go.Choroplethmap(
        geojson=dict(units), featureidkey="properties.id", locations=ids, z=z,
        zmin=0, zmax=n, colorscale=scale, showscale=False, marker={"opacity": 1,
                                                                   "line": {"width": 1.5,
                                                                            "color": "#e6edf3"}},
        text=text, hovertemplate="%{text}<extra></extra>", name="units",
    ))
    fig.update_layout(
        map={"style": map_style(base), "center": centre, "zoom": zoom},
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=height,
        paper_bgcolor="rgba(0,0,0,0)", font={"color": "#e6edf3", "size": 16},
        hoverlabel={"bgcolor": "#131c26", "font": {"size": 16}},
    )
    return fig


def _bbox(collection: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    xs, ys = [], []

    def walk(coords):
        if coords and isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for f in collection.get("features", []):
        walk((f.get("geometry") or {}).get("coordinates", []))
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def trend_figure(kpi: Kpi, points: Sequence[StoredValue], lang: str, days: int,
                 today: dt.date, height: int = 280) -> go.Figure:
    """A KPI over time (daily: the last `days` days; reported: every period) with its goal."""
    daily = kpi.periods == ("day",)
    x = [p.period_start if daily else p.period_end for p in points]
    y = [p.value for p in points]
    fig = go.Figure()
    colours = [STATUS_COLOURS[judge(kpi, p)] for p in points]
    fig.add_trace(go.Scatter(
        x=x, y=y, mode="lines+markers", name=kpi.name.get(lang),
        line={"color": "#4aa8ff", "width": 3}, marker={"size": 7 if daily else 12,
                                                       "color": colours},
        hovertemplate="%{x|%d/%m/%Y}: %{y:,." + str(kpi.decimals) + "f}<extra></extra>",
    ))
    start = today - dt.timedelta(days=days - 1) if daily else (min(x) if x else today)
    end = today if daily else max([*x, today])
    for target in kpi.targets:  # each period's goal line over its own period only
        lo, hi = max(start, target.start), min(end, target.due)
        if lo > hi:
            continue
        gx, gy = [lo, hi], [goal_on_path(target, lo), goal_on_path(target, hi)]
        fig.add_trace(go.Scatter(
            x=gx, y=gy, mode="lines", name=f"{t('kpi.target', lang)} {target.label()}",
            line={"color": "#ffb020", "width": 2, "dash": "dash"}, hoverinfo="skip",
        ))
    demo = [p for p in points if p.source == HISTORY_SOURCE]
    if demo:  # the seeded past of the demo: said so on the chart, and its points drawn hollow
        last_demo = max(p.period_start if daily else p.period_end for p in demo)
        fig.data[0].marker.symbol = ["circle-open" if p.source == HISTORY_SOURCE else "circle"
                                     for p in points]
        fig.add_annotation(
            x=0, y=1.0, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
            showarrow=False, font={"size": 13, "color": "#9fb0c2"},
            text=t("kpi.demo_history", lang, day=fmt_date(last_demo)))
    xaxis: dict[str, Any] = {"gridcolor": "#223142", "linecolor": "#223142", "fixedrange": True,
                             "tickformat": "%d/%m" if daily and days <= 90 else "%m/%Y"}
    if daily:
        xaxis["range"] = [today - dt.timedelta(days=days - 1), today + dt.timedelta(days=1)]
    fig.update_layout(
        height=height, margin={"l": 56, "r": 16, "t": 28 if demo else 8, "b": 36},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"color": "#e6edf3", "size": 15,
              "family": "Noto Sans, DejaVu Sans, Arial, sans-serif"},
        showlegend=False, xaxis=xaxis,
        yaxis={"gridcolor": "#223142", "zeroline": False, "fixedrange": True,
               "rangemode": "tozero"},
        hoverlabel={"bgcolor": "#131c26"},
    )
    return fig

