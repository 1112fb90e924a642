"""The web app's gate: log-in and log-out, sessions, CSRF, the callback guard, API tokens.

`install(app, settings)` puts a Flask `before_request` hook in front of every request:

- static files, /healthz, /login and Dash's app shell are public;
- /api/... needs a bearer token (except the OpenAPI document); routes then declare the
  scope they need with `require_api_scope(scope)`;
- every other request needs a live session (pages redirect to /login, the rest get 401);
- `/_dash-update-component` is checked against dashboards/access.py with the ids the
  server registered for the callback (every output, input and state);
- every state-changing request (POST, ...) made with cookies carries the CSRF token
  (header `X-CSRFToken`, which dash-renderer sends from the `_csrf_token` cookie, or the
  form field `csrf_token`).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from urllib.parse import quote, urlsplit

import dash
from flask import Response, g, has_request_context, jsonify, redirect, request

from dashboards import i18n
from dashboards.access import check_callback, may_view
from dashboards.context import context
from ioc.config import Settings
from ioc.security import audit, ratelimit, sessions, users
from ioc.security.sessions import SessionInfo
from ioc.security.tokens import SCOPES, TokenInfo, verify_token

log = logging.getLogger(__name__)

SESSION_COOKIE = "ioc_session"
CSRF_COOKIE = "_csrf_token"  # the cookie dash-renderer copies into the X-CSRFToken header
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"  # the same token in a plain HTML form

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset(
    {
        "/login",
        "/healthz",
        "/auth/login",
        "/auth/logout",
        "/_dash-layout",
        "/_dash-dependencies",
        "/_favicon.ico",
        "/favicon.ico",
        "/_reload-hash",
        "/evidence/public-key.pem",  # the evidence signing key's public half (police.md)
    }
)
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
CALLBACK_PATH = "/_dash-update-component"
API_PREFIX = "/api/"
API_PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})

# Dash needs inline scripts (its config and renderer start-up) and Plotly/MapLibre need
# eval and blob: workers; everything else comes from this server only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "frame-ancestors 'self'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


# -- who is asking ---------------------------------------------------------------------------
def current_user() -> SessionInfo | None:
    """The logged-in user of this request (None: anonymous, or outside a request)."""
    if not has_request_context():
        return None
    return g.get("ioc_user")


def current_role() -> str | None:
    user = current_user()
    return user.role if user else None


def current_actor() -> str:
    """How the audit log names whoever makes this request."""
    user = current_user()
    if user is not None:
        return user.username
    token = g.get("api_token") if has_request_context() else None
    return token.actor if token is not None else "anonymous"


def client_ip() -> str | None:
    """The client's address (X-Forwarded-For is honoured only via IOC_SECURITY_TRUSTED_PROXIES)."""
    return request.remote_addr if has_request_context() else None


def current_token() -> TokenInfo | None:
    return g.get("api_token") if has_request_context() else None


# -- CSRF ---------------------------------------------------------------------------------------
def _secret() -> bytes:
    return g.ioc_secret


def csrf_token() -> str:
    """The CSRF token of this request's browser, for a hidden form field."""
    raw = g.get("ioc_session_raw")
    if raw:
        return sessions.csrf_token(_secret(), raw)
    cookie = request.cookies.get(CSRF_COOKIE)
    if sessions.anonymous_csrf_valid(_secret(), cookie):
        return cookie
    if not g.get("ioc_new_anon_csrf"):
        g.ioc_new_anon_csrf = sessions.anonymous_csrf_token(_secret())
    return g.ioc_new_anon_csrf


def _csrf_ok() -> bool:
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    raw = g.get("ioc_session_raw")
    if raw:
        return hmac.compare_digest(sent, sessions.csrf_token(_secret(), raw))
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    return (
        bool(sent)
        and hmac.compare_digest(sent, cookie)
        and sessions.anonymous_csrf_valid(_secret(), cookie)
    )


# -- responses ------------------------------------------------------------------------------------
def _json_error(status: int, error: str, detail: str = "") -> Response:
    resp = jsonify(error=error, detail=detail)
    resp.status_code = status
    return resp


def _wants_html() -> bool:
    """A page load (the app's pages are all served as HTML by GET)."""
    return request.method in ("GET", "HEAD")


def safe_next(target: str | None) -> str:
    """A local path to go to after log-in; anything else (other sites, odd forms) is '/'."""
    if not target or len(target) > 2000:
        return "/"
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return "/"
    if parts.path in ("/login", "/auth/login", "/auth/logout"):
        return "/"
    return target


def _login_redirect(reason: str | None = None) -> Response:
    target = request.full_path if request.query_string else request.path
    url = "/login?next=" + quote(safe_next(target), safe="/")
    if reason:
        url += "&error=" + reason
    return redirect(url, 302)


def _set_cookie(resp: Response, name: str, value: str, *, http_only: bool, max_age=None):
    resp.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=g.ioc_cookie_secure,
        httponly=http_only,
        samesite="Lax" if name == SESSION_COOKIE else "Strict",
    )


# -- callbacks ----------------------------------------------------------------------------------
def callback_ids(spec: dict) -> list:
    """Every component id a registered callback touches: outputs, inputs and state."""
    outputs = spec.get("output")
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    elif not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    ids = [o.component_id for o in outputs if o is not None and hasattr(o, "component_id")]
    ids += [dep["id"] for dep in spec.get("inputs", [])]
    ids += [dep["id"] for dep in spec.get("state", [])]
    return ids


def _guard_callback(app: dash.Dash) -> Response | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return _json_error(400, "bad_request", "not a Dash callback request")
    spec = app.callback_map.get(body["output"])
    if spec is None:
        return _json_error(400, "bad_request", "unknown callback")
    role = current_role()
    decision = check_callback(role, callback_ids(spec))
    if decision.allowed:
        return None
    if role is None:
        return _json_error(401, "login_required", "log in first")
    log.warning("callback refused: %s (%s)", decision.reason, body["output"][:200])
    _record_denied(body["output"][:300], decision.reason)
    return _json_error(403, "forbidden", decision.reason)


def _record_denied(target: str, reason: str) -> None:
    try:
        with context().pool.connection() as conn:
            audit.record(conn, current_actor(), "access.denied", target, {"reason": reason},
                         client_ip())
    except Exception:  # the refusal stands even when it cannot be recorded
        log.exception("could not record a refused request")


def require_page(page: str, *, act: bool = False) -> Callable:
    """Decorator for a plain Flask route that belongs to `page` (e.g. an evidence download):
    the session's role must be allowed to view (or with act=True, act on) that page."""
    from dashboards.access import may_act

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            role = current_role()
            if role is None:
                return _json_error(401, "login_required", "log in first")
            allowed = may_act(role, page) if act else may_view(role, page)
            if not allowed:
                _record_denied(request.path, f"{role} may not {'act on' if act else 'view'} {page}")
                return _json_error(403, "forbidden", f"role {role} may not use this")
            return view(*args, **kwargs)

        return wrapper

    return decorate


# -- API tokens -----------------------------------------------------------------------------------
def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _unauthorized(detail: str) -> Response:
    resp = _json_error(401, "unauthorized", detail)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="ioc"'
    return resp


def _load_token() -> TokenInfo | None:
    if "api_token" in g:
        return g.api_token
    raw = _bearer()
    info = None
    if raw:
        with context().pool.connection() as conn:
            info = verify_token(conn, raw)
    g.api_token = info
    return info


def require_api_scope(scope: str) -> Callable:
    """Decorator for an /api/v1 route: needs a valid bearer token holding `scope`.

    401 without a valid token, 403 when the token lacks the scope. The scope is kept on
    the view as `ioc_api_scope`, so tests can check every route against every scope.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown API scope {scope!r}; known: {', '.join(SCOPES)}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            info = _load_token()
            if info is None:
                return _unauthorized("a valid bearer token is required")
            if not info.allows(scope):
                _record_denied(request.path, f"token lacks scope {scope}")
                return _json_error(403, "forbidden", f"the token lacks the scope {scope}")
            return view(*args, **kwargs)

        wrapper.ioc_api_scope = scope
        return wrapper

    return decorate


# -- the gate -----------------------------------------------------------------------------------
def _is_static(path: str) -> bool:
    return path.startswith(STATIC_PREFIXES)


def _before_request(app: dash.Dash, settings: Settings, secret: bytes) -> Response | None:
    g.ioc_secret = secret
    g.ioc_cookie_secure = _cookie_secure(settings)
    path = request.path
    if _is_static(path):
        return None
    g.ioc_checked = True
    if path.startswith(API_PREFIX):
        if path in API_PUBLIC_PATHS or request.method == "OPTIONS":
            return None
        if _load_token() is None:
            return _unauthorized("a valid bearer token is required")
        return None  # bearer tokens are not sent by browsers on their own: no CSRF
    raw = request.cookies.get(SESSION_COOKIE)
    g.ioc_user = None
    g.ioc_session_raw = None
    if raw:
        with context().pool.connection() as conn:
            g.ioc_user = sessions.lookup(conn, raw, settings.security)
        if g.ioc_user is None:
            g.ioc_session_ended = True
        else:
            g.ioc_session_raw = raw
    if path == "/healthz":
        return None
    if request.method not in SAFE_METHODS:
        if g.get("ioc_session_ended") and path == CALLBACK_PATH:
            return _json_error(401, "session_ended", "log in again")
        if not _csrf_ok():
            if path == "/auth/login":
                return redirect("/login?error=csrf", 303)
            return _json_error(403, "csrf", "missing or wrong CSRF token")
    if path == CALLBACK_PATH:
        return _guard_callback(app)
    if path in PUBLIC_PATHS:
        return None
    if g.ioc_user is None:
        if _wants_html():
            return _login_redirect("ended" if g.get("ioc_session_ended") else None)
        return _json_error(401, "login_required", "log in first")
    return None


def _after_request(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if g.get("ioc_cookie_secure"):
        resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if resp.mimetype == "text/html":
        resp.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not g.get("ioc_checked") or request.path.startswith(API_PREFIX):
        return resp
    resp.headers.setdefault("Cache-Control", "no-store")
    if g.get("ioc_session_ended") and not g.get("ioc_new_session"):
        resp.delete_cookie(SESSION_COOKIE, path="/")
    if g.get("ioc_new_session"):
        return resp  # the log-in response set both cookies itself
    wanted = csrf_token()
    if request.cookies.get(CSRF_COOKIE) != wanted:
        _set_cookie(resp, CSRF_COOKIE, wanted, http_only=False)
    return resp


def _cookie_secure(settings: Settings) -> bool:
    if settings.security.cookie_secure is not None:
        return settings.security.cookie_secure
    return settings.env == "production"


# -- log-in and log-out routes ----------------------------------------------------------------
def _login(settings: Settings) -> Response:
    username = (request.form.get("username") or "")[:200]
    password = (request.form.get("password") or "")[:2000]
    next_url = safe_next(request.form.get("next"))
    lang = i18n.pick_language(request.form.get("lang"), settings.web.language)
    back = "/login?next=" + quote(next_url, safe="/") + "&lang=" + lang
    if not username or not password:
        return redirect(back + "&error=bad_credentials", 303)
    ip = client_ip()
    with context().pool.connection() as conn:
        result = users.authenticate(
            conn, username, password, ip=ip, settings=settings.security
        )
        raw = None
        if result.user is not None:
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                sessions.end(conn, old)  # whatever id the browser had is dropped: a new one
            raw = sessions.new_session(
                conn,
                result.user.id,
                settings.security,
                ip=ip,
                user_agent=request.headers.get("User-Agent"),
            )
            # housekeeping, cheap and rare enough here: ended sessions, old attempts
            sessions.prune(conn, settings.security)
            ratelimit.prune(conn)
    if raw is None:
        error = "limited" if result.outcome == "limited" else "bad_credentials"
        return redirect(back + "&error=" + error, 303)
    resp = redirect(next_url, 303)
    g.ioc_new_session = True
    max_age = settings.security.session_absolute_hours * 3600
    _set_cookie(resp, SESSION_COOKIE, raw, http_only=True, max_age=max_age)
    _set_cookie(resp, CSRF_COOKIE, sessions.csrf_token(_secret(), raw), http_only=False,
                max_age=max_age)
    return resp


def _logout() -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    user = current_user()
    if raw:
        with context().pool.connection() as conn:
            sessions.end(conn, raw)
            if user is not None:
                audit.record(conn, user.username, "logout", user.username, None, client_ip())
    g.ioc_session_raw = None
    g.ioc_user = None
    resp = redirect("/login?error=logged_out", 303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# -- installation ---------------------------------------------------------------------------------
def install(app: dash.Dash, settings: Settings, secret: bytes | None = None) -> None:
    """Put the gate in front of `app`'s server; add /auth/login and /auth/logout."""
    server = app.server
    secret = secret or (settings.web.secret_key or secrets.token_urlsafe(32)).encode()
    if settings.security.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.security.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)
    if settings.env == "production" and not _cookie_secure(settings):
        log.warning("IOC_SECURITY_COOKIE_SECURE=false: session cookies also go over plain HTTP")
    server.before_request(lambda: _before_request(app, settings, secret))
    server.after_request(_after_request)
    server.add_url_rule(
        "/auth/login", "ioc_login", lambda: _login(settings), methods=["POST"]
    )
    server.add_url_rule("/auth/logout", "ioc_logout", _logout, methods=["POST"])


def api_routes(server) -> Iterable[tuple[str, str, Callable]]:
    """(rule, method, view) of every /api/ route, for tests and the docs."""
    for rule in server.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule.rule, method, server.view_functions[rule.endpoint]
