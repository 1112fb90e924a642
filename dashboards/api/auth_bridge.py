"""The API's one door to authentication: bearer tokens with scopes, checked per route.

Tokens belong to the security module (`ioc.security.tokens`: scoped, expiring, revocable,
stored hashed) and the web gate (`dashboards.auth`: `require_api_scope`, and the
`before_request` guard that refuses /api/ requests without a valid token).

Routes say what they need with `require_scope(scope)`; the NGSI-LD routes, whose scope depends
on the entity type asked for, use `require_token()` and then `check_scope(scope)`.
`current_caller()` tells a view who is asking (camera alerts are shown to police tokens only).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from dashboards import auth
from dashboards.api.problems import FORBIDDEN, UNAUTHORIZED, ApiProblem

log = logging.getLogger(__name__)

# The scopes the API's routes need (names from ioc.security.tokens.SCOPES).
DEVICES_READ = "devices:read"
READINGS_READ = "readings:read"
ALERTS_READ = "alerts:read"
INCIDENTS_READ = "incidents:read"  # police
EVIDENCE_READ = "evidence:read"  # police: snapshots
KPI_READ = "kpi:read"
KPI_WRITE = "kpi:write"
LAYERS_READ = "layers:read"
API_SCOPES = (
    DEVICES_READ,
    READINGS_READ,
    ALERTS_READ,
    INCIDENTS_READ,
    EVIDENCE_READ,
    KPI_READ,
    KPI_WRITE,
    LAYERS_READ,
)
REALM = "ioc"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's name and its scopes."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        """How the audit log names this caller (the security module's convention)."""
        return f"token:{self.name}"


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(
        401,
        "Unauthorized",
        detail,
        UNAUTHORIZED,
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
    )


def require_scope(scope: str):
    """Decorator: the view runs only for a valid bearer token that holds `scope`."""
    return auth.require_api_scope(scope)


def require_token():
    """Decorator: any valid bearer token (the view then checks the scope its data needs)."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            current_caller()
            return view(*args, **kwargs)

        return guarded

    return decorate


def current_caller() -> Caller:
    """The caller of this request; 401 when there is no valid token."""
    token = auth.current_token()
    if token is None:
        raise _unauthorized("a valid bearer token is required")
    return Caller(str(token.name), frozenset(token.scopes))


def _record_denied(caller: Caller, scope: str) -> None:
    """The audit log's `access.denied`, as the web gate writes it for the other routes."""
    from flask import request

    try:
        from dashboards.api.db import connection
        from ioc.security import audit

        with connection() as conn:
            audit.record(
                conn,
                caller.actor,
                "access.denied",
                request.path[:300],
                {"reason": f"token lacks scope {scope}"},
                request.remote_addr,
            )
    except Exception:  # the refusal stands even when it cannot be recorded
        log.exception("could not record a refused API request")


def check_scope(scope: str) -> None:
    """403 unless this request's token holds `scope`."""
    caller = current_caller()
    if not caller.allows(scope):
        _record_denied(caller, scope)
        raise ApiProblem(
            403,
            "Forbidden",
            f"the token lacks the scope {scope}",
            FORBIDDEN,
            headers={
                "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
                f'scope="{scope}"'
            },
        )
