"""API tokens for other systems: scoped, expiring, revocable, stored as SHA-256 hashes.

A token looks like `ioc_<prefix>_<secret>`; the prefix is public (it names the token in
lists and logs), the whole token is shown once, when it is made. Tokens are long random
strings, so a fast hash is enough (nothing to brute-force, unlike a password).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from psycopg import sql

from ioc.security import audit

# Scope names: `<resource>:read` or `<resource>:write`. A route of /api/v1 declares the one
# it needs with dashboards.auth.require_api_scope(scope).
SCOPES: dict[str, str] = {
    "status:read": "system status and counts",
    "devices:read": "device registry and device state",
    "readings:read": "sensor readings and rollups",
    "alerts:read": "alerts and their history",
    "alerts:write": "reserved for alert actions over the API (no route uses it yet)",
    "incidents:read": "camera incidents (police)",
    "evidence:read": "camera evidence: snapshots, exports (police)",
    "kpi:read": "KPI values",
    "kpi:write": "import KPI values",
    "layers:read": "map layers",
    "layers:write": "import map layers",
    "rules:read": "alert rules",
    "rules:write": "change alert rules",
    "audit:read": "the audit log",
}

_TOKEN = re.compile(r"^ioc_([a-z0-9]{8})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        """How the audit log names this token's actions."""
        return f"token:{self.name}"


class TokenError(ValueError):
    """A token that cannot be made; the message says why."""


def check_scopes(scopes) -> list[str]:
    out = sorted(set(scopes))
    if not out:
        raise TokenError("a token needs at least one scope")
    unknown = [s for s in out if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return out


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


_COLUMNS = sql.SQL(
    "id, name, prefix, scopes, created_by, created_at, expires_at, revoked_at, last_used_at"
)


def _info(row) -> TokenInfo:
    return TokenInfo(row[0], row[1], row[2], frozenset(row[3]), *row[4:])


def create_token(
    conn,
    name: str,
    scopes,
    *,
    days: int,
    actor: str,
    max_days: int = 365,
    ip: str | None = None,
) -> tuple[str, TokenInfo]:
    """A new token; returns (the raw token, shown once, and its stored description)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise TokenError("a token needs a name of 1-100 characters (which system uses it)")
    scope_list = check_scopes(scopes)
    if not 1 <= days <= max_days:
        raise TokenError(f"lifetime must be 1-{max_days} days, got {days}")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(8))
    raw = f"ioc_{prefix}_{secrets.token_urlsafe(32)}"
    row = conn.execute(
        sql.SQL(
            "INSERT INTO api_tokens (name, prefix, token_hash, scopes, created_by, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, now() + make_interval(days => %s)) RETURNING {}"
        ).format(_COLUMNS),
        (name, prefix, hash_token(raw), scope_list, actor, days),
    ).fetchone()
    info = _info(row)
    audit.record(
        conn, actor, "token.create", f"{name} ({prefix})",
        {"scopes": scope_list, "expires_at": info.expires_at.isoformat()}, ip,
    )
    return raw, info


def verify_token(conn, raw: str | None) -> TokenInfo | None:
    """The token's description if `raw` is a valid, unexpired, unrevoked token, else None."""
    if not raw or not _TOKEN.fullmatch(raw):
        return None
    row = conn.execute(
        sql.SQL("SELECT {}, now() FROM api_tokens WHERE token_hash = %s").format(_COLUMNS),
        (hash_token(raw),),
    ).fetchone()
    if row is None:
        return None
    info, now = _info(row[:-1]), row[-1]
    if info.revoked_at is not None or info.expires_at <= now:
        return None
    if info.last_used_at is None or now - info.last_used_at > dt.timedelta(minutes=1):
        conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (info.id,))
    return info


def list_tokens(conn, *, include_revoked: bool = False) -> list[TokenInfo]:
    where = sql.SQL("" if include_revoked else "WHERE revoked_at IS NULL")
    rows = conn.execute(
        sql.SQL("SELECT {} FROM api_tokens {} ORDER BY created_at DESC, id DESC").format(
            _COLUMNS, where
        )
    ).fetchall()
    return [_info(r) for r in rows]


def revoke_token(conn, token: int | str, *, actor: str, ip: str | None = None) -> TokenInfo:
    """Revoke by id or by prefix; revoking twice is harmless."""
    column = "id" if isinstance(token, int) or str(token).isdigit() else "prefix"
    value = int(token) if column == "id" else str(token)
    row = conn.execute(
        sql.SQL(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE {} = %s "
            "RETURNING {}"
        ).format(sql.Identifier(column), _COLUMNS),
        (value,),
    ).fetchone()
    if row is None:
        raise TokenError(f"no token {token!r}")
    info = _info(row)
    audit.record(conn, actor, "token.revoke", f"{info.name} ({info.prefix})", None, ip)
    return info
