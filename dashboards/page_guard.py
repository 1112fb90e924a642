"""Pages that refuse roles that may not view them, and the navigation bar's pages per role
(the rules are dashboards/access.py's; who is asking is dashboards/auth.py's)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

import dash
from dash import html
from flask import has_request_context, request

from dashboards import i18n
from dashboards.access import may_view, page_of_module
from dashboards.auth import current_role, current_user, safe_next


def forbidden_layout(lang: str | None = None) -> html.Div:
    """What a page shows instead of itself when the user may not see it."""
    user = current_user()
    lang = i18n.pick_language(lang)
    if user is None:
        here = request.headers.get("Referer", "") if has_request_context() else ""
        next_path = safe_next(urlsplit(here).path or "/") if here else "/"
        return html.Div(
            [
                html.P(i18n.t("auth.login_required", lang)),
                html.A(i18n.t("auth.login", lang), href="/login?next=" + quote(next_path),
                       id="app-login-link", className="button"),
            ],
            id="app-login-required",
            className="page banner",
        )
    role = i18n.t(f"role.{user.role}", lang)
    return html.Div(
        i18n.t("auth.forbidden", lang, role=role), id="app-forbidden", className="page banner"
    )


def _guard_layout(layout, page: str) -> Callable:
    def guarded(*args, **kwargs):
        if not may_view(current_role(), page):
            return forbidden_layout(kwargs.get("lang"))
        return layout(*args, **kwargs) if callable(layout) else layout

    guarded.ioc_access_page = page
    return guarded


def guard_page_layouts(registry: dict | None = None) -> None:
    """Wrap every registered page's layout so it refuses roles that may not view it."""
    registry = dash.page_registry if registry is None else registry
    for module, page in registry.items():
        layout = page.get("layout")
        if getattr(layout, "ioc_access_page", None):
            continue
        if module.rsplit(".", 1)[-1] == "not_found_404":
            continue
        page["layout"] = _guard_layout(layout, page_of_module(module, page.get("access")))


def nav_pages(role: str | None, registry: dict | None = None) -> list[dict]:
    """Pages for the navigation bar: those declaring `nav_order` that `role` may view."""
    registry = dash.page_registry if registry is None else registry
    out = []
    for module, page in registry.items():
        if page.get("nav_order") is None:
            continue
        access = page_of_module(module, page.get("access"))
        if may_view(role, access):
            out.append(page)
    return sorted(out, key=lambda p: (p["nav_order"], p.get("relative_path", "")))
