"""Builds the Dash app (pages under dashboards/pages), its gate and its Flask routes.

The shell is a navigation bar above Dash's page container. The bar is built per request
from `dash.page_registry`: pages that declare `nav_order` and `nav_label_key` in
`dash.register_page(...)` and that the user's role may view (dashboards/access.py).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import dash
from dash import Dash, Input, Output, dcc, html
from flask import jsonify

from dashboards import auth, db_unavailable, page_guard
from dashboards.context import context, init_context
from dashboards.i18n import pick_language, t
from ioc.config import Settings

HERE = Path(__file__).parent


def create_app(settings: Settings) -> Dash:
    init_context(settings)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title="IOC Lào Cai",
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
        # Dash's MCP endpoint would run callbacks past the gate: never on.
        enable_mcp=False,
    )
    page_guard.guard_page_layouts()
    app.layout = html.Div(
        [
            dcc.Location(id="app-url"),
            html.Nav(id="app-nav", className="app-nav"),
            dash.page_container,
        ],
        className="ioc-root",
    )
    server = app.server
    server.secret_key = settings.web.secret_key or None
    auth.install(app, settings)
    db_unavailable.install(server)
    _register_api(server)
    _register_routes(server)

    @app.callback(
        Output("app-nav", "children"),
        Input("app-url", "pathname"),
        Input("app-url", "search"),
    )
    def navigation(pathname, search):
        return render_nav(pathname or "/", search or "", settings)

    @server.get("/healthz")
    def healthz():
        try:
            ctx = context()
            with ctx.pool.connection() as conn:
                conn.execute("SELECT 1")
            ctx.live.r.ping()
        except Exception as err:  # report, don't crash: this is what a health check is for
            return jsonify(status="unavailable", error=type(err).__name__), 503
        return jsonify(status="ok")

    return app


def _register_api(server) -> None:
    """Mount the HTTP API (dashboards/api)."""
    from dashboards.api import register_api

    register_api(server)


def _register_routes(server) -> None:
    """Plain Flask routes that belong to pages. They sit behind the gate like everything else
    (a session; POST needs the CSRF token)."""
    from dashboards.base_map import register_base_map_routes
    from dashboards.evidence import register_evidence_routes
    from dashboards.kpi_report_pdf import register_kpi_report_routes
    from dashboards.live_push import register_live_routes

    register_evidence_routes(server)
    register_kpi_report_routes(server)
    register_base_map_routes(server)
    register_live_routes(server)


def render_nav(pathname: str, search: str, settings: Settings) -> list:
    """The navigation bar for the current user (empty when nobody is logged in)."""
    user = auth.current_user()
    if user is None:
        return []
    lang_values = parse_qs(search.lstrip("?")).get("lang")
    lang = pick_language(lang_values[0] if lang_values else None, settings.web.language)
    suffix = f"?lang={lang}" if lang_values else ""
    links = []
    for page in page_guard.nav_pages(user.role):
        path = page.get("relative_path") or page.get("path") or "/"
        active = path == pathname or (path != "/" and pathname.startswith(path + "/"))
        links.append(
            dcc.Link(
                t(page.get("nav_label_key") or page.get("name", ""), lang),
                href=path + suffix,
                className="nav-link active" if active else "nav-link",
                id=f"app-nav-{page['module'].rsplit('.', 1)[-1]}",
            )
        )
    demo = (
        [html.Span(t("auth.demo_badge", lang), className="nav-demo", id="app-nav-demo")]
        if settings.env == "demo"
        else []
    )
    logout = html.Form(
        [
            dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=auth.csrf_token()),
            html.Button(t("auth.logout", lang), type="submit", id="app-logout",
                        className="nav-logout"),
        ],
        method="POST",
        action="/auth/logout",
        className="nav-logout-form",
    )
    who = html.Span(
        [
            html.Span(user.display_name or user.username, id="app-nav-user"),
            html.Span(t(f"role.{user.role}", lang), className="nav-role", id="app-nav-role"),
        ],
        className="nav-user",
    )
    return [
        dcc.Link("IOC", href="/" + suffix, className="nav-brand", id="app-nav-home"),
        *demo,
        html.Div(links, className="nav-links"),
        who,
        logout,
    ]
