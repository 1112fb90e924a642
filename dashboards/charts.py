"""Small dark plotly charts for the side panel and the wall (pure: data in, Figure out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboards import classify
from dashboards.i18n import t
from dashboards.map_figure import MapDevice
from dashboards.ops_queries import SUMMED_METRICS, HourPoint
from ioc.live import LatestValue

TEXT = "#e6edf3"
MUTED = "#8da2b5"
GRID = "#223142"
LINE = "#4aa8ff"

UNITS = {
    "pm25": "µg/m³",
    "pm10": "µg/m³",
    "temperature": "°C",
    "rain_mm": "mm",
    "water_level_m": "m",
    "soil_moisture_pct": "%",
    "people_count": "",
    "occupancy": "",
    "checkins": "",
}


def _layout(fig: go.Figure, height: int, font_size: int) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 48, "r": 12, "t": 8, "b": 32},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={
            "color": TEXT,
            "size": font_size,
            "family": "Noto Sans, DejaVu Sans, Arial, sans-serif",
        },
        showlegend=False,
        xaxis={"gridcolor": GRID, "linecolor": GRID, "tickformat": "%H:%M", "fixedrange": True},
        yaxis={"gridcolor": GRID, "linecolor": GRID, "zeroline": False, "fixedrange": True},
        hovermode="x unified",
        hoverlabel={"bgcolor": "#131c26"},
    )
    return fig


def day_chart(
    device: MapDevice,
    metric: str,
    points: Sequence[HourPoint],
    latest: LatestValue | None,
    lang: str = "vi",
    tz: str = "Asia/Ho_Chi_Minh",
    height: int = 220,
    font_size: int = 13,
) -> go.Figure:
    """24 hours of one metric: hourly rollups, plus the newest value from Redis.

    Totals (rain, check-ins) are bars per hour; levels are the hourly mean with its min-max
    band. A water-level station gets its alarm levels I/II/III, a tourist site its capacity.
    """
    zone = ZoneInfo(tz)
    x = [p.bucket.astimezone(zone) for p in points]
    fig = go.Figure()
    if metric in SUMMED_METRICS:
        fig.add_trace(
            go.Bar(
                x=x,
                y=[p.total for p in points],
                marker_color=LINE,
                name=metric,
                hovertemplate="%{y:.1f}<extra></extra>",
            )
        )
    else:
        if points:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[p.maximum for p in points],
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[p.minimum for p in points],
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor="rgba(74,168,255,0.18)",
                    hoverinfo="skip",
                )
            )
        xs, ys = list(x), [p.mean for p in points]
        if latest is not None and isinstance(latest.value, int | float):
            xs.append(dt.datetime.fromtimestamp(latest.time, zone))
            ys.append(float(latest.value))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                line={"color": LINE, "width": 3},
                marker={"size": 5},
                name=metric,
                hovertemplate="%{y:.2f}<extra></extra>",
            )
        )
    if device.alarm_levels is not None and metric == "water_level_m":
        levels = device.alarm_levels
        for i, (name, value) in enumerate(
            (("I", levels.level_1), ("II", levels.level_2), ("III", levels.level_3)), start=1
        ):
            fig.add_hline(
                y=value,
                line={"color": classify.WATER_COLOURS[i], "width": 2, "dash": "dash"},
                annotation_text=f"{t('chart.alarm', lang)} {name}",
                annotation_font_color=classify.WATER_COLOURS[i],
                annotation_position="top left",
            )
    if device.capacity and metric == "occupancy":
        fig.add_hline(
            y=device.capacity,
            line={"color": "#ff2d2d", "width": 2, "dash": "dash"},
            annotation_text=t("chart.capacity", lang),
            annotation_font_color="#ff8080",
            annotation_position="top left",
        )
    if not points and latest is None:
        fig.add_annotation(
            text=t("chart.no_data", lang),
            showarrow=False,
            font={"color": MUTED, "size": font_size + 2},
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    fig.update_yaxes(title={"text": UNITS.get(metric, ""), "font": {"color": MUTED}})
    # ticks and hover numbers as the reader writes them: 84,20 in Vietnamese, 84.20 in English
    fig.update_layout(separators=",." if lang == "vi" else ".,")
    return _layout(fig, height, font_size)
