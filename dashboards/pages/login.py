"""Log-in page: a plain HTML form posted to /auth/login (works without any callback)."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboards import auth
from dashboards.context import context
from dashboards.i18n import pick_language, t
from ioc.security.demo_users import read_credentials

dash.register_page(__name__, path="/login", name="Login", title="IOC Lào Cai", access="login")

MESSAGES = {
    "bad_credentials": ("auth.bad_credentials", "banner-error"),
    "limited": ("auth.limited", "banner-error"),
    "csrf": ("auth.csrf", "banner-error"),
    "unavailable": ("auth.unavailable", "banner-error"),
    "ended": ("auth.ended", "banner-info"),
    "logged_out": ("auth.logged_out", "banner-info"),
}


def _field(label: str, name: str, kind: str, field_id: str, autocomplete: str) -> html.Label:
    return html.Label(
        [
            html.Span(label, className="login-label"),
            dcc.Input(id=field_id, name=name, type=kind, required=True,
                      autoComplete=autocomplete, className="login-input", debounce=True),
        ],
        className="login-field",
    )


def demo_panel(lang: str) -> html.Div | None:
    """Demo mode only: the generated accounts, clearly labelled as such."""
    settings = context().settings
    if settings.env != "demo":
        return None
    creds = read_credentials(settings.state_dir)
    if not creds:
        return None
    rows = [
        html.Tr([html.Td(t(f"role.{c.role}", lang)), html.Td(html.Code(c.username)),
                 html.Td(html.Code(c.password))])
        for c in creds
    ]
    return html.Div(
        [html.Div(t("auth.demo_title", lang), className="login-demo-title"),
         html.Table(html.Tbody(rows), className="login-demo-table")],
        id="login-demo",
        className="login-demo",
    )


def layout(lang: str | None = None, next: str | None = None, error: str | None = None,
           **_query) -> html.Div:
    lang = pick_language(lang, context().settings.web.language)
    user = auth.current_user()
    message = MESSAGES.get(error or "")
    children: list = [
        html.H1(t("app.title", lang), className="login-title"),
        html.Div(t("province", lang), className="subtitle"),
    ]
    if message:
        children.append(html.Div(t(message[0], lang), id="login-message",
                                 className=f"banner {message[1]}"))
    if user is not None:
        children += [
            html.P(t("auth.already", lang, name=user.username), id="login-already"),
            dcc.Link(t("auth.continue", lang), href=auth.safe_next(next), id="login-continue"),
        ]
    else:
        children.append(
            html.Form(
                [
                    _field(t("auth.username", lang), "username", "text", "login-username",
                           "username"),
                    _field(t("auth.password", lang), "password", "password", "login-password",
                           "current-password"),
                    dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=auth.csrf_token(),
                               id="login-csrf"),
                    dcc.Input(type="hidden", name="next", value=auth.safe_next(next),
                               id="login-next"),
                    dcc.Input(type="hidden", name="lang", value=lang, id="login-lang"),
                    html.Button(t("auth.login", lang), type="submit", id="login-submit",
                                className="login-submit"),
                ],
                method="POST",
                action="/auth/login",
                id="login-form",
                className="login-form",
            )
        )
        panel = demo_panel(lang)
        if panel is not None:
            children.append(panel)
    other = "en" if lang == "vi" else "vi"
    children.append(dcc.Link(t("lang.switch", lang), href=f"/login?lang={other}",
                             className="lang-switch", id="login-lang-switch"))
    return html.Div(html.Div(children, className="login-box"), className="page page-login")
