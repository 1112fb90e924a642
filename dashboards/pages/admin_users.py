"""Admin: users (add, change role, disable/enable, new password) and the API tokens in use.

Every change goes through ioc.security.users, which writes the audit entry in the same
transaction. Ids are `admin-...`; the state-changing ones `admin-act-...` (admin only).
"""

from __future__ import annotations

import logging
from typing import NamedTuple
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards import auth
from dashboards.alert_texts import dropdown_labels
from dashboards.context import context
from dashboards.i18n import pick_language, t
from ioc.security import tokens, users
from ioc.security.passwords import generate_password
from ioc.security.roles import ROLES

log = logging.getLogger(__name__)

dash.register_page(
    __name__, path="/admin/users", name="Users", title="IOC — users",
    nav_order=90, nav_label_key="nav.admin_users",
)


class Outcome(NamedTuple):
    ok: bool
    message: str


def _when(value) -> str:
    """A time on the admin pages in the centre's time zone (stored in UTC), like every page."""
    if not value:
        return "—"
    zone = ZoneInfo(context().settings.web.timezone)
    return value.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def _status(u: users.User, locked: set[str], lang: str) -> str:
    if u.disabled:
        return t("admin.users.disabled", lang)
    if u.username in locked:
        return t("admin.users.locked_out", lang)
    return t("admin.users.active", lang)


def users_table(rows: list[users.User], lang: str, locked: set[str] | None = None) -> html.Table:
    head = html.Tr([html.Th(t("auth.username", lang)), html.Th(t("admin.users.display_name", lang)),
                    html.Th(t("admin.users.role", lang)), html.Th(t("admin.users.status", lang)),
                    html.Th(t("admin.users.last_login", lang))])
    body = [
        html.Tr([
            html.Td(u.username), html.Td(u.display_name), html.Td(t(f"role.{u.role}", lang)),
            html.Td(_status(u, locked or set(), lang)),
            html.Td(_when(u.last_login_at)),
        ])
        for u in rows
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="admin-table")


def tokens_table(rows: list[tokens.TokenInfo], lang: str):
    if not rows:
        return html.P(t("admin.tokens.none", lang))
    head = html.Tr([html.Th("id"), html.Th("name"), html.Th("prefix"),
                    html.Th(t("admin.tokens.scopes", lang)),
                    html.Th(t("admin.tokens.expires", lang))])
    body = [
        html.Tr([html.Td(str(k.id)), html.Td(k.name), html.Td(html.Code(k.prefix)),
                 html.Td(", ".join(sorted(k.scopes))), html.Td(_when(k.expires_at))])
        for k in rows
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="admin-table")


def apply_action(conn, action: str, form: dict, *, actor: str, ip: str | None,
                 lang: str) -> Outcome:
    """Carry out one admin action on users; the caller commits. Never raises UserError."""
    settings = context().settings.security
    try:
        if action == "admin-act-add":
            password = form.get("password") or ""
            generated = not password
            if generated:
                password = generate_password()
            user = users.add_user(
                conn, form.get("username") or "", password, form.get("role") or "",
                actor=actor, settings=settings, display_name=form.get("display_name") or "",
                ip=ip,
            )
            if generated:
                return Outcome(True, t("admin.users.generated", lang, name=user.username,
                                       password=password))
            return Outcome(True, t("admin.users.created", lang, name=user.username))
        target = form.get("user")
        if not target:
            return Outcome(False, t("admin.users.pick", lang))
        if action == "admin-act-set-role":
            if not form.get("role"):
                return Outcome(False, t("admin.users.pick", lang))
            users.set_role(conn, target, form["role"], actor=actor, ip=ip)
        elif action == "admin-act-disable":
            users.set_disabled(conn, target, True, actor=actor, ip=ip)
        elif action == "admin-act-enable":
            # "Mở khoá": enabled again AND the failed log-ins that locked them out forgotten
            user, _cleared = users.unlock(conn, target, actor=actor, ip=ip)
            return Outcome(True, t("admin.users.unlocked", lang, name=user.username))
        elif action == "admin-act-reset-password":
            password = generate_password()
            users.set_password(conn, target, password, actor=actor, settings=settings, ip=ip)
            return Outcome(True, t("admin.users.generated", lang, name=target, password=password))
        else:
            return Outcome(False, f"unknown action {action}")
        return Outcome(True, t("admin.users.done", lang))
    except users.UserError as err:
        return Outcome(False, str(err))


def _role_options(lang: str) -> list[dict]:
    return [{"label": t(f"role.{r}", lang), "value": r} for r in ROLES]


def _user_options(rows: list[users.User]) -> list[dict]:
    return [{"label": u.username, "value": u.username} for u in rows]


def layout(lang: str | None = None, **_query) -> html.Div:
    lang = pick_language(lang, context().settings.web.language)
    with context().pool.connection() as conn:
        rows = users.list_users(conn)
        locked = users.locked_out(conn, context().settings.security)
        token_rows = tokens.list_tokens(conn)
    def button(key: str, bid: str) -> html.Button:
        return html.Button(t(key, lang), id=bid, className="admin-button")

    return html.Div(
        [
            html.H1(t("admin.users.title", lang)),
            html.Div(id="admin-users-message", className="admin-message"),
            html.Div(
                [
                    html.H2(t("admin.users.add", lang), className="section-title"),
                    html.Div(
                        [
                            dcc.Input(id="admin-act-add-username",
                                      placeholder=t("auth.username", lang),
                                      className="admin-input", autoComplete="off"),
                            dcc.Input(id="admin-act-add-name",
                                      placeholder=t("admin.users.display_name", lang),
                                      className="admin-input"),
                            dcc.Dropdown(id="admin-act-add-role", options=_role_options(lang),
                                         placeholder=t("admin.users.role", lang),
                                         className="admin-dropdown"),
                            dcc.Input(id="admin-act-add-password", type="password",
                                      placeholder=t("admin.users.password_hint", lang),
                                      className="admin-input", autoComplete="new-password"),
                            button("admin.users.create", "admin-act-add"),
                        ],
                        className="admin-row",
                    ),
                ],
                className="admin-section",
            ),
            html.Div(
                [
                    html.H2(t("admin.users.change", lang), className="section-title"),
                    html.Div(
                        [
                            dcc.Dropdown(id="admin-act-user", options=_user_options(rows),
                                         placeholder=t("auth.username", lang),
                                         labels=dropdown_labels(lang),
                                         className="admin-dropdown"),
                            dcc.Dropdown(id="admin-act-role", options=_role_options(lang),
                                         placeholder=t("admin.users.role", lang),
                                         className="admin-dropdown"),
                            button("admin.users.set_role", "admin-act-set-role"),
                            button("admin.users.disable", "admin-act-disable"),
                            button("admin.users.enable", "admin-act-enable"),
                            button("admin.users.reset", "admin-act-reset-password"),
                        ],
                        className="admin-row",
                    ),
                ],
                className="admin-section",
            ),
            html.Div(users_table(rows, lang, locked), id="admin-users-table"),
            html.H2(t("admin.tokens.title", lang), className="section-title"),
            html.P(t("admin.tokens.hint", lang)),
            html.Div(tokens_table(token_rows, lang), id="admin-tokens-table"),
            dcc.Store(id="admin-users-lang", data=lang),
        ],
        className="page page-admin",
    )


@callback(
    Output("admin-users-message", "children"),
    Output("admin-users-message", "className"),
    Output("admin-users-table", "children"),
    Output("admin-act-user", "options"),
    Input("admin-act-add", "n_clicks"),
    Input("admin-act-set-role", "n_clicks"),
    Input("admin-act-disable", "n_clicks"),
    Input("admin-act-enable", "n_clicks"),
    Input("admin-act-reset-password", "n_clicks"),
    State("admin-act-add-username", "value"),
    State("admin-act-add-name", "value"),
    State("admin-act-add-role", "value"),
    State("admin-act-add-password", "value"),
    State("admin-act-user", "value"),
    State("admin-act-role", "value"),
    State("admin-users-lang", "data"),
    prevent_initial_call=True,
)
def act(_a, _b, _c, _d, _e, username, display_name, add_role, password, user, role, lang):
    lang = pick_language(lang)
    action = ctx.triggered_id
    if not isinstance(action, str):
        raise dash.exceptions.PreventUpdate
    form = {
        "username": username, "display_name": display_name, "password": password,
        "user": user,
        "role": add_role if action == "admin-act-add" else role,
    }
    with context().pool.connection() as conn:
        outcome = apply_action(conn, action, form, actor=auth.current_actor(),
                               ip=auth.client_ip(), lang=lang)
        if not outcome.ok:
            conn.rollback()
        else:
            conn.commit()
        rows = users.list_users(conn)
        locked = users.locked_out(conn, context().settings.security)
    css = "admin-message " + ("ok" if outcome.ok else "error")
    return outcome.message, css, users_table(rows, lang, locked), _user_options(rows)
