"""The wall display's panels as Dash components: the rotating views (water levels, air,
tourism sites, device health), the open-alert column, the extreme strip, the map legend and
the stale badges. Built from the rows dashboards/wall_state.py decides; the page
(dashboards/pages/wall.py) places them and refreshes them.
"""

from __future__ import annotations

from dash import html

from alerts.queries import Alert, title_in
from dashboards import health_queries as hq
from dashboards import ops_queries as q
from dashboards import wall_state as w
from dashboards.alert_texts import duty_name
from dashboards.classify import SEVERITY_COLOURS
from dashboards.i18n import t
from dashboards.map_figure import LEGENDS
from dashboards.page_parts import fmt_age, fmt_int, fmt_time, severity_pill

STRIP_MAX = 6  # extreme alerts named in the strip; the rest are counted


def stale_badge(badge_id: str, lang: str) -> html.Span:
    return html.Span(t("stale", lang), id=badge_id, className="stale-badge hidden")


def map_legend(lang: str) -> list:
    groups = []
    for layer, keys in (("units", None), ("water", None), ("aqi", None)):
        entries = [(k, c) for k, c in LEGENDS[layer] if keys is None or k in keys]
        groups.append(
            html.Div(
                [html.Span(t(f"layer.{layer}", lang), className="legend-title")]
                + [
                    html.Span(
                        [
                            html.I(className="swatch", style={"background": c}),
                            t(f"legend.{layer}.{k}", lang),
                        ],
                        className="legend-item",
                    )
                    for k, c in entries
                ],
                className="legend-group",
            )
        )
    return groups


# -- the rotating views and the alert column ------------------------------------------------------
def water_panel(rows: list[w.WaterRow], lang: str) -> list:
    if not rows:
        return [html.Div(t("map.no_data", lang), className="wall-empty")]
    out = []
    for r in rows:
        a = r.device.alarm_levels
        marks = []
        if a is not None:
            lo, hi = a.level_1 - 2.0, a.level_3
            for name, value in (("I", a.level_1), ("II", a.level_2), ("III", a.level_3)):
                marks.append(
                    html.Span(
                        name,
                        className="mark",
                        style={"left": f"{100 * (value - lo) / (hi - lo):.1f}%"},
                    )
                )
        trend = ""
        if r.rate_m_per_h is not None and abs(r.rate_m_per_h) >= 0.01:
            arrow = "▲" if r.rate_m_per_h > 0 else "▼"
            trend = f"{arrow} {_decimal(abs(r.rate_m_per_h), 2, lang)} {t('wall.m_per_h', lang)}"
        out.append(
            html.Div(
                [
                    html.Div(w.short_name(r.device.name), className="row-name"),
                    html.Div(
                        [
                            html.Div(
                                className="bar-fill",
                                style={"width": f"{100 * r.fraction:.1f}%", "background": r.colour},
                            ),
                            *marks,
                        ],
                        className="bar",
                    ),
                    html.Div(
                        [
                            html.Span(
                                _decimal(r.level_m, 2, lang),
                                className="big-num",
                                style={"color": r.colour},
                            ),
                            html.Span(" m", className="unit"),
                        ],
                        className="row-value",
                    ),
                    html.Div(
                        [
                            html.Div(
                                t(f"wall.water.level_{r.alarm}", lang)
                                if r.level_m is not None
                                else "",
                                style={"color": r.colour},
                            ),
                            html.Div(
                                trend,
                                className="row-trend"
                                + (" rising" if (r.rate_m_per_h or 0) > 0 else ""),
                            ),
                        ],
                        className="row-class",
                    ),
                ],
                className=f"wall-row alarm-{r.alarm}",
                # the stripe in the row's alarm colour (ioc.palette, as on the map and legend)
                style={"boxShadow": f"inset .3em 0 0 {r.colour}"} if r.alarm else None,
            )
        )
    return out


def _decimal(value: float | None, digits: int, lang: str) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "vi" else text


def air_panel(rows: list[w.AirRow], lang: str) -> list:
    if not rows:
        return [html.Div(t("map.no_data", lang), className="wall-empty")]
    return [
        html.Div(
            [
                html.Div(w.short_name(r.device.name), className="card-name"),
                html.Div(
                    str(r.aqi) if r.aqi is not None else "–",
                    className="card-num",
                    style={"color": r.cls.colour},
                ),
                html.Div(
                    t(f"legend.aqi.{r.cls.key}", lang),
                    className="card-class",
                    style={"background": r.cls.colour},
                ),
            ],
            className="wall-card",
        )
        for r in rows
    ]


def tourism_panel(rows: list[w.SiteRow], lang: str) -> list:
    if not rows:
        return [html.Div(t("map.no_data", lang), className="wall-empty")]
    return [
        html.Div(
            [
                html.Div(r.device.name, className="card-name"),
                html.Div(
                    f"{r.ratio:.0%}" if r.ratio is not None else "–",
                    className="card-num",
                    style={"color": r.cls.colour},
                ),
                html.Div(
                    f"{fmt_int(r.occupancy, lang)} / {fmt_int(r.device.capacity, lang)}",
                    className="card-sub",
                ),
                html.Div(
                    html.Div(
                        className="bar-fill",
                        style={
                            "width": f"{min(100, 100 * (r.ratio or 0)):.0f}%",
                            "background": r.cls.colour,
                        },
                    ),
                    className="bar",
                ),
            ],
            className="wall-card",
        )
        for r in rows
    ]


def devices_panel(report: hq.HealthReport, lang: str, names: dict[str, str]) -> list:
    tiles = []
    for family in q.FAMILIES:
        items = [d for d in report.devices if d.family == family]
        if not items:
            continue
        silent = sum(d.silent for d in items)
        feed = next(f for f in report.feeds if f.feed == family)
        tiles.append(
            html.Div(
                [
                    html.Div(t(f"family.{family}", lang), className="card-name"),
                    html.Div(
                        f"{len(items) - silent - sum(d.never_seen for d in items)}/{len(items)}",
                        className="card-num",
                    ),
                    html.Div(
                        t("wall.silent_n", lang, n=silent) if silent else t("wall.all_ok", lang),
                        className="card-sub " + ("state-bad-text" if silent else "state-ok-text"),
                    ),
                    html.Div(
                        t("wall.newest", lang, age=fmt_age(feed.age_s(report.now), lang)),
                        className="card-sub " + ("state-bad-text" if feed.late(report.now) else ""),
                    ),
                ],
                className="wall-card",
            )
        )
    silent = sorted((d for d in report.devices if d.silent), key=lambda d: d.last_seen or 0)
    rows = [
        html.Li(
            [
                html.Span(d.name),
                html.Span(
                    f" · {names.get(d.unit_id or '', d.unit_id or '')} · "
                    f"{fmt_age(report.now - d.last_seen, lang)}",
                    className="muted",
                ),
            ]
        )
        for d in silent[:8]
    ]
    more = len(silent) - len(rows)
    listing = (
        [
            html.H3(t("devices.silent_list", lang), className="wall-sub"),
            html.Ul(
                rows + ([html.Li(t("wall.more", lang, n=more))] if more > 0 else []),
                className="wall-silent-list",
            ),
        ]
        if rows
        else [html.Div(t("devices.none_silent", lang), className="wall-empty ok")]
    )
    return [html.Div(tiles, className="wall-cards"), *listing]


def alerts_column(
    alerts: list[Alert], counts: dict[str, int], lang: str, tz: str, names: dict[str, str]
) -> list:
    tiles = [
        html.Div(
            [
                html.Div(fmt_int(counts.get(s, 0), lang), className="count-num"),
                html.Div(t(f"severity.{s}", lang), className="count-label"),
            ],
            className=f"count sev-{s}" + (" is-zero" if not counts.get(s) else ""),
            style={"--sev": SEVERITY_COLOURS[s]},
        )
        for s in ("extreme", "severe", "moderate", "minor")
    ]
    ranked = alerts[:6]  # already in the operators' order
    items = [
        html.Li(
            [
                severity_pill(a.severity, lang),
                html.Div(title_in(a, lang), className="wall-alert-title"),
                html.Div(
                    " · ".join(
                        x
                        for x in (names.get(a.unit_id or "", ""), fmt_time(a.opened_at, tz, False))
                        if x
                    ),
                    className="wall-alert-meta",
                ),
            ],
            className=f"wall-alert sev-{a.severity}",
            style={"--sev": SEVERITY_COLOURS[a.severity]},
        )
        for a in ranked
    ]
    return [
        html.Div(tiles, className="wall-counts"),
        html.Ul(items, className="wall-alert-list")
        if items
        else html.Div(t("ops.no_alerts", lang), className="wall-empty"),
    ]


def extreme_strip_panel(
    strip: w.ExtremeStrip, escalated: dict[int, str], lang: str, tz: str,
    names: dict[str, str], now: float,
) -> list:
    """Every extreme unacknowledged alert by name, waiting longest first, and whom it
    escalated to; beside the views, so the map stays in sight."""
    head = html.H2(t("wall.extreme_title", lang), className="wall-view-title")
    if not strip.alerts:
        return [head, html.Div(t("wall.extreme_none", lang), className="wall-empty ok")]
    shown = strip.alerts[:STRIP_MAX]
    items = []
    for a in shown:
        meta = [
            names.get(a.unit_id or "", a.unit_id or ""),
            fmt_time(a.opened_at, tz, False),
            t("wall.waiting", lang, age=fmt_age(now - a.opened_at.timestamp(), lang)),
        ]
        who = escalated.get(a.id)
        items.append(
            html.Li(
                [
                    html.Div(title_in(a, lang), className="wall-alert-title"),
                    html.Div(" · ".join(x for x in meta if x), className="wall-alert-meta"),
                    html.Div(t("wall.escalated_to", lang, who=duty_name(who, lang)),
                             className="wall-escalated") if who else None,
                ],
                className="wall-extreme-item" + (" fresh" if a.id in strip.fresh else ""),
                **{"data-alert-id": str(a.id)},
            )
        )
    more = len(strip.alerts) - len(shown)
    if more > 0:
        items.append(html.Li(t("wall.extreme_more", lang, n=more), className="muted"))
    return [head, html.Ul(items, className="wall-extreme-list", id="wall-extreme-list")]

