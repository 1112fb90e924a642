"""The device registry: every registered device with its state (online, silent, never
connected, retired), search and filters, a device's last readings, alarm-level history and
MQTT credential; administrators edit, retire, restore and manage passwords here.

Ids start with `devices-` (the devices page's access: operators and leadership view);
state-changing buttons are `devices-act-*`, which the server lets only admins run
(dashboards/access.py). The work is done by dashboards.registry_queries and ioc.devices.
"""

from __future__ import annotations

import json
import logging
import numbers
import time

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboards import auth
from dashboards import registry_queries as rq
from dashboards.access import may_act
from dashboards.alert_texts import dropdown_labels
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.kpi_view import fmt_number
from dashboards.page_parts import fmt_age, fmt_time, page_header
from ioc.devices.model import FAMILIES
from ioc.devices.store import get_device, level_history

log = logging.getLogger(__name__)

dash.register_page(
    __name__, path="/devices/registry", name="Registry",
    title="IOC Lào Cai – Danh mục thiết bị", access="devices",
    nav_order=31, nav_label_key="nav.devices_registry",
)

TABLE_MAX = 500  # rows drawn at once; the filters narrow a large registry down


ACTIONS = {"devices-act-save": "save", "devices-act-retire": "retire",
           "devices-act-restore": "restore", "devices-act-create": "create",
           "devices-act-rotate": "rotate", "devices-act-revoke": "revoke"}
FORM_FIELDS = ("name", "unit", "lon", "lat", "interval", "metadata", "level_1", "level_2",
               "level_3")


def _state_pill(state: str, lang: str) -> html.Span:
    return html.Span(t(f"devices.reg.state.{state}", lang), className=f"reg-state reg-{state}")


def _kind(kind: str, lang: str) -> str:
    label = t(f"kind.{kind}", lang)
    return kind if label == f"kind.{kind}" else label


def render_table(rows: list[rq.RegistryRow], total: int, now: float, lang: str,
                 selected: str | None) -> list:
    head = html.Tr([html.Th(t(f"devices.reg.col.{c}", lang)) for c in
                    ("name", "id", "kind", "unit", "state", "last_seen", "mqtt")])
    body = [
        html.Tr([
            html.Td(r.device.name),
            html.Td(r.device.device_id, className="muted"),
            html.Td(_kind(r.device.kind, lang)),
            html.Td(r.device.unit or "–"),
            html.Td(_state_pill(r.state, lang)),
            html.Td(fmt_age(now - r.last_seen, lang) if r.last_seen else "–", className="num"),
            html.Td(t(f"devices.reg.cred.{r.device.credential or 'none'}", lang)),
        ], id={"type": "devices-reg-row", "index": r.device.device_id}, n_clicks=0,
            className="reg-row" + (" selected" if r.device.device_id == selected else ""))
        for r in rows[:TABLE_MAX]
    ]
    return [
        html.Div(t("devices.reg.shown", lang, n=min(len(rows), TABLE_MAX), total=total),
                 className="muted reg-count", id="devices-reg-count"),
        html.Table([html.Thead(head), html.Tbody(body)], className="data-table reg-table",
                   id="devices-reg-table"),
    ]


def render_tiles(counts: dict[str, int], lang: str) -> list:
    return [
        html.Div([html.Div(str(counts[s]), className="tile-value", id=f"devices-reg-n-{s}"),
                  html.Div(t(f"devices.reg.state.{s}", lang), className="tile-label")],
                 className=f"tile reg-tile-{s}")
        for s in rq.STATES
    ]


def _number(value, lang: str) -> str:
    """A reading or level as the page's language writes it (84,2 in Vietnamese)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    value = float(value)  # also a Decimal from a numeric column
    return fmt_number(value, 0 if value.is_integer() else 2, lang)


def _levels_text(one, two, three, lang: str) -> str:
    return " / ".join(_number(v, lang) for v in (one, two, three))


def render_detail(row: rq.RegistryRow | None, history, readings, lang: str, tz: str) -> list:
    if row is None:
        return [html.P(t("devices.reg.pick", lang), className="hint")]
    d = row.device
    items = [
        html.H2(d.name, className="panel-title"),
        html.Div([html.Code(d.device_id), " · ", _kind(d.kind, lang), " · ",
                  t(f"family.{d.family}", lang)], className="muted"),
        html.Div([_state_pill(row.state, lang), " ",
                  html.Span(fmt_age(time.time() - row.last_seen, lang)
                            if row.last_seen else "")], className="device-state"),
    ]
    facts = [
        (t("devices.reg.col.unit", lang), d.unit or "–"),
        (t("devices.reg.location", lang),
         f"{fmt_number(d.lat, 4, lang)}; {fmt_number(d.lon, 4, lang)}"
         if d.lat is not None and d.lon is not None else "–"),
        (t("devices.reg.interval", lang), str(d.expected_interval_s)),
        (t("devices.reg.col.mqtt", lang),
         t(f"devices.reg.cred.{d.credential or 'none'}", lang)
         + (f" · {fmt_time(d.credential_changed_at, tz)}" if d.credential_changed_at else "")),
    ]
    levels = d.metadata.get("alarm_levels")
    if levels:
        facts.append((t("devices.reg.levels", lang),
                      _levels_text(levels['I'], levels['II'], levels['III'], lang)
                      + (f" ({d.metadata['datum']})" if d.metadata.get("datum") else "")))
    items.append(html.Table([html.Tr([html.Td(k, className="muted"), html.Td(v)])
                             for k, v in facts], className="values-table", id="devices-reg-facts"))
    if d.retired:
        items.append(html.P(t("devices.reg.retired_by", lang, at=fmt_time(d.retired_at, tz),
                              by=d.retired_by, why=d.retire_reason), className="state-bad-text"))
    items.append(html.H3(t("devices.reg.readings", lang), className="section-title"))
    if readings:
        items.append(html.Table([
            html.Tr([html.Td(metric), html.Td(_number(value, lang), className="num"),
                     html.Td(unit or ""), html.Td(fmt_time(at, tz), className="muted")])
            for metric, value, unit, at in readings], className="values-table",
            id="devices-reg-readings"))
    else:
        items.append(html.P(t("devices.reg.no_readings", lang), className="muted"))
    if history:
        items.append(html.H3(t("devices.reg.levels_history", lang), className="section-title"))
        items.append(html.Table(
            [html.Tr([html.Th(t("devices.reg.version", lang)), html.Th("I / II / III"),
                      html.Th(t("devices.reg.by", lang)), html.Th(t("devices.reg.at", lang)),
                      html.Th(t("devices.reg.why", lang))])]
            + [html.Tr([html.Td(f"v{v.version}"),
                        html.Td(_levels_text(v.levels.I, v.levels.II, v.levels.III, lang)),
                        html.Td(v.changed_by), html.Td(fmt_time(v.changed_at, tz)),
                        html.Td(v.reason or "")]) for v in history],
            className="admin-table", id="devices-reg-history"))
    return items


def _form(lang: str, can_act: bool) -> html.Div:
    def field(name: str, placeholder: str, **kw) -> dcc.Input:
        return dcc.Input(id=f"devices-form-{name}", placeholder=placeholder,
                         className="admin-input", debounce=True, **kw)

    def button(key: str, bid: str, tone: str = "") -> html.Button:
        return html.Button(t(key, lang), id=bid, className=f"admin-button {tone}".strip())

    parts = [
        html.H3(t("devices.reg.edit", lang), className="section-title"),
        field("name", t("devices.reg.col.name", lang)),
        html.Div([field("unit", t("devices.reg.col.unit", lang)),
                  field("interval", t("devices.reg.interval", lang), inputMode="decimal")],
                 className="reg-pair"),
        html.Div([field("lon", "lon", inputMode="decimal"), field("lat", "lat", inputMode="decimal")],
                 className="reg-pair"),
        html.Label(t("devices.reg.levels", lang), className="muted"),
        html.Div([field("level_1", "I", inputMode="decimal"), field("level_2", "II", inputMode="decimal"),
                  field("level_3", "III", inputMode="decimal")], className="reg-triple"),
        html.Label(t("devices.reg.metadata", lang), className="muted"),
        dcc.Textarea(id="devices-form-metadata", className="admin-input reg-json"),
        dcc.Input(id="devices-form-reason", placeholder=t("devices.reg.reason", lang),
                  className="admin-input"),
    ]
    if can_act:
        parts.append(html.Div([
            button("devices.reg.save", "devices-act-save"),
            button("devices.reg.retire", "devices-act-retire", "danger"),
            button("devices.reg.restore", "devices-act-restore"),
        ], className="admin-row"))
        parts.append(html.Div([
            button("devices.reg.cred_create", "devices-act-create"),
            button("devices.reg.cred_rotate", "devices-act-rotate"),
            button("devices.reg.cred_revoke", "devices-act-revoke", "danger"),
        ], className="admin-row"))
    else:
        parts.append(html.P(t("devices.reg.read_only", lang), className="muted"))
    return html.Div(parts, id="devices-reg-form", className="reg-form hidden")


def layout(lang: str | None = None, device: str | None = None, **_query) -> html.Div:
    c = context()
    lang = pick_language(lang, c.settings.web.language)
    can_act = may_act(auth.current_role(), "devices")
    dropdown = {"multi": True, "clearable": True, "className": "filter",
                "labels": dropdown_labels(lang)}
    return html.Div(
        [
            page_header("devices-reg", "devices.reg.title", lang, "/devices/registry"),
            html.Div([
                dcc.Input(id="devices-reg-search", placeholder=t("devices.reg.search", lang),
                          className="admin-input filter reg-search", debounce=0.3, type="search"),
                dcc.Dropdown(id="devices-reg-family", placeholder=t("feed.all_families", lang),
                             options=[{"label": t(f"family.{f}", lang), "value": f}
                                      for f in FAMILIES], **dropdown),
                dcc.Dropdown(id="devices-reg-unit", placeholder=t("devices.reg.all_units", lang),
                             options=[], **dropdown),
                dcc.Dropdown(id="devices-reg-state", placeholder=t("devices.reg.all_states", lang),
                             options=[{"label": t(f"devices.reg.state.{s}", lang), "value": s}
                                      for s in rq.STATES], **dropdown),
            ], className="feed-filters"),
            html.Div(id="devices-reg-tiles", className="tile-row"),
            html.Div([
                html.Div(id="devices-reg-list", className="reg-list"),
                html.Aside([
                    html.Div(id="devices-reg-message", className="admin-message"),
                    html.Div(id="devices-reg-detail"),
                    _form(lang, can_act),
                ], className="ops-side-panel reg-side"),
            ], className="reg-body"),
            dcc.Store(id="devices-reg-lang", data=lang),
            dcc.Store(id="devices-reg-selected", data=device),
            dcc.Store(id="devices-reg-version", data=0),
            dcc.Interval(id="devices-reg-tick", interval=max(c.settings.web.refresh_ms, 5000)),
        ],
        className="page page-devices-registry",
    )


def _load(conn):
    c = context()
    now = time.time()
    return rq.load_rows(conn, c.live.last_seen(), now), now


@callback(
    Output("devices-reg-list", "children"),
    Output("devices-reg-tiles", "children"),
    Output("devices-reg-unit", "options"),
    Output("devices-reg-clock", "children"),
    Input("devices-reg-tick", "n_intervals"),
    Input("devices-reg-search", "value"),
    Input("devices-reg-family", "value"),
    Input("devices-reg-unit", "value"),
    Input("devices-reg-state", "value"),
    Input("devices-reg-version", "data"),
    Input("devices-reg-selected", "data"),
    State("devices-reg-lang", "data"),
)
def refresh(_n, search, family, unit, state, _version, selected, lang):
    lang = pick_language(lang)
    c = context()
    tz = c.settings.web.timezone
    try:
        with c.pool.connection() as conn:
            rows, now = _load(conn)
    except Exception:
        log.warning("device registry unavailable", exc_info=True)
        return ([html.Div(t("db_unavailable", lang), className="banner banner-error")],
                no_update, no_update, no_update)
    shown = rq.filter_rows(rows, text=search, families=family, units=unit, states=state)
    units = sorted({r.device.unit for r in rows if r.device.unit})
    return (render_table(shown, len(rows), now, lang, selected),
            render_tiles(rq.state_counts(shown), lang),
            [{"label": u, "value": u} for u in units], fmt_time(now, tz))


@callback(
    Output("devices-reg-selected", "data"),
    Input({"type": "devices-reg-row", "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def select(clicks):
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or ()):
        raise dash.exceptions.PreventUpdate
    value = next((i["value"] for i in ctx.inputs_list[0]
                  if i["id"] == trigger), None)
    if not value:
        raise dash.exceptions.PreventUpdate
    return trigger["index"]


@callback(
    Output("devices-reg-detail", "children"),
    Output("devices-reg-form", "className"),
    *(Output(f"devices-form-{f}", "value") for f in FORM_FIELDS),
    Output("devices-form-reason", "value"),
    Input("devices-reg-selected", "data"),
    Input("devices-reg-version", "data"),
    State("devices-reg-lang", "data"),
)
def detail(device_id, _version, lang):
    lang = pick_language(lang)
    c = context()
    blank = (None,) * len(FORM_FIELDS)
    if not device_id:
        return render_detail(None, [], [], lang, c.settings.web.timezone), "reg-form hidden", \
            *blank, None
    from dashboards.registry_queries import last_readings

    with c.pool.connection() as conn:
        device = get_device(conn, device_id)
        if device is None:
            return render_detail(None, [], [], lang, c.settings.web.timezone), \
                "reg-form hidden", *blank, None
        history = level_history(conn, device_id)
        readings = last_readings(conn, device_id)
    seen = c.live.last_seen().get(device_id)
    row = rq.RegistryRow(device, rq.device_state(device, seen, time.time()), seen)
    levels = device.metadata.get("alarm_levels") or {}
    metadata = {k: v for k, v in device.metadata.items()
                if k not in ("alarm_levels", "alarm_levels_version")}
    values = (device.name, device.unit, device.lon, device.lat, device.expected_interval_s,
              json.dumps(metadata, ensure_ascii=False, indent=1), levels.get("I"),
              levels.get("II"), levels.get("III"))
    return (render_detail(row, history, readings, lang, c.settings.web.timezone), "reg-form",
            *values, None)


@callback(
    Output("devices-reg-message", "children"),
    Output("devices-reg-message", "className"),
    Output("devices-reg-version", "data"),
    *(Input(bid, "n_clicks") for bid in ACTIONS),
    State("devices-reg-selected", "data"),
    *(State(f"devices-form-{f}", "value") for f in FORM_FIELDS),
    State("devices-form-reason", "value"),
    State("devices-reg-version", "data"),
    State("devices-reg-lang", "data"),
    prevent_initial_call=True,
)
def act(*args):
    n = len(ACTIONS)
    device_id = args[n]
    form = dict(zip(FORM_FIELDS, args[n + 1:n + 1 + len(FORM_FIELDS)], strict=True))
    form["reason"], version, lang = args[n + 1 + len(FORM_FIELDS):]
    lang = pick_language(lang)
    action = ACTIONS.get(ctx.triggered_id) if isinstance(ctx.triggered_id, str) else None
    if action is None or not ctx.triggered[0].get("value"):
        raise dash.exceptions.PreventUpdate
    c = context()
    with c.pool.connection() as conn:
        outcome = rq.apply_action(conn, action, device_id, form, actor=auth.current_actor(),
                                  devices_settings=c.settings.devices)
    message: list = [t(f"devices.reg.msg.{outcome.key}", lang, detail=outcome.detail)]
    if outcome.password:
        message = [html.Div(message), html.Div(t("devices.reg.password_once", lang)),
                   html.Code(outcome.password, id="devices-reg-password",
                             className="reg-password")]
    css = "admin-message " + ("ok" if outcome.ok else "error")
    # Only a change reloads the form: after a refusal the admin's input stays to be fixed.
    return message, css, (version or 0) + 1 if outcome.ok else no_update
