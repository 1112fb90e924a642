"""The web app when the database restarts or is away: reads retried once, failures said plainly.

- The pool checks each connection before handing it out (ioc.db.open_pool), so a connection
  that died with a database restart is replaced before a request uses it.
- A GET or HEAD request (idempotent) whose database connection broke anyway is dispatched
  once more, gate included, on a fresh connection.
- Any request that still fails because the database is unreachable gets a 503 that says so
  — never an HTTP 500: the log-in form goes back to the log-in page with a message, a Dash
  callback (how every button of the app talks to the server) gets a JSON body saying its
  change was not saved, a page gets a short page. The API has its own problem+json 503
  (dashboards/api/db.py).
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, redirect, request
from markupsafe import escape

from dashboards import i18n
from ioc.db.connect import is_connection_lost, is_database_unavailable

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD"})
LOGIN_PATH = "/auth/login"
API_PREFIX = "/api/"


def _language() -> str:
    return i18n.pick_language(request.args.get("lang") or request.form.get("lang"))


def unavailable_response(err: BaseException):
    """What the user sees when the database failed their request (a 503 or a redirect)."""
    log.warning("database unavailable for %s %s: %s", request.method, request.path, err)
    lang = _language()
    if request.path == LOGIN_PATH:
        return redirect(f"/login?error=unavailable&lang={lang}", 303)
    text = i18n.t("db.unavailable", lang)
    if request.path.startswith(API_PREFIX) or not request.accept_mimetypes.accept_html:
        resp = jsonify(error="database_unavailable", detail=text)
    else:
        resp = f'<!doctype html><html lang="{lang}"><meta charset="utf-8">' \
               f"<title>IOC</title><p>{escape(text)}</p></html>"
    return resp, 503, {"Retry-After": "5", "Cache-Control": "no-store"}


def install(server: Flask) -> None:
    """Retry idempotent requests once on a lost connection; answer 503, not 500, after that."""
    original = server.handle_user_exception

    def handle_user_exception(err: Exception):
        if (
            request.method in SAFE_METHODS
            and not g.get("ioc_db_retried")
            and is_connection_lost(err)
        ):
            g.ioc_db_retried = True
            log.warning("database connection lost during %s %s (%s); trying once more",
                        request.method, request.path, err)
            try:
                rv = server.preprocess_request()
                return rv if rv is not None else server.dispatch_request()
            except Exception as again:
                return handle_user_exception(again)
        if is_database_unavailable(err) and not (
            request.path.startswith(API_PREFIX) and _has_handler(server, err)
        ):
            return unavailable_response(err)
        return original(err)

    server.handle_user_exception = handle_user_exception


def _has_handler(server: Flask, err: Exception) -> bool:
    """The API registers its own handlers (problem+json); let them answer."""
    return server._find_error_handler(err, request.blueprints) is not None
