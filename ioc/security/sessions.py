"""Server-side web sessions: a random id in the browser's cookie, its hash in the database.

A log-in always creates a new session (an id planted before log-in is worth nothing, so
there is no session fixation); log-out deletes it. A session ends after
`session_idle_minutes` without a request or `session_absolute_hours` after log-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ioc.config.models import SecuritySettings

# last_seen_at is written at most this often per session (a page polls every few seconds).
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class SessionInfo:
    id_hash: str
    user_id: int
    username: str
    display_name: str
    role: str
    created_at: dt.datetime
    expires_at: dt.datetime


def hash_id(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_session(
    conn,
    user_id: int,
    settings: SecuritySettings,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Store a new session for `user_id`; returns the raw id for the cookie (not stored)."""
    raw = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, expires_at, ip, user_agent) "
        "VALUES (%s, %s, now() + make_interval(hours => %s), %s, %s)",
        (hash_id(raw), user_id, settings.session_absolute_hours, ip, (user_agent or "")[:300]),
    )
    return raw


def session_state(
    now: dt.datetime,
    last_seen_at: dt.datetime,
    expires_at: dt.datetime,
    idle: dt.timedelta,
) -> str:
    """'live', 'idle' (unused too long) or 'expired' (absolute lifetime over). Pure."""
    if now >= expires_at:
        return "expired"
    if now - last_seen_at >= idle:
        return "idle"
    return "live"


def lookup(conn, raw: str | None, settings: SecuritySettings) -> SessionInfo | None:
    """The live session for a cookie value (touching it), or None; ended ones are deleted."""
    if not raw or len(raw) > 200:
        return None
    id_hash = hash_id(raw)
    row = conn.execute(
        """
        SELECT s.id_hash, u.id, u.username, u.display_name, u.role, s.created_at, s.expires_at,
               s.last_seen_at, u.disabled, now()
          FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = %s
        """,
        (id_hash,),
    ).fetchone()
    if row is None:
        return None
    *info, last_seen_at, disabled, now = row
    state = session_state(
        now, last_seen_at, info[6], dt.timedelta(minutes=settings.session_idle_minutes)
    )
    if disabled or state != "live":
        conn.execute("DELETE FROM sessions WHERE id_hash = %s", (id_hash,))
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        conn.execute("UPDATE sessions SET last_seen_at = now() WHERE id_hash = %s", (id_hash,))
    return SessionInfo(*info)


def end(conn, raw: str | None) -> bool:
    if not raw:
        return False
    cur = conn.execute("DELETE FROM sessions WHERE id_hash = %s", (hash_id(raw),))
    return cur.rowcount > 0


def prune(conn, settings: SecuritySettings) -> int:
    """Delete ended sessions (expired or idle)."""
    return conn.execute(
        "DELETE FROM sessions WHERE expires_at <= now() "
        "OR last_seen_at <= now() - make_interval(mins => %s)",
        (settings.session_idle_minutes,),
    ).rowcount


def csrf_token(secret: bytes, raw_session: str) -> str:
    """The CSRF token of a session: an HMAC of its id, so it cannot be guessed or reused."""
    return hmac.new(secret, b"csrf:" + raw_session.encode(), hashlib.sha256).hexdigest()


def anonymous_csrf_token(secret: bytes) -> str:
    """A CSRF token for a browser without a session (the log-in form): nonce + signature."""
    nonce = secrets.token_hex(16)
    sig = hmac.new(secret, b"anon:" + nonce.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{nonce}.{sig}"


def anonymous_csrf_valid(secret: bytes, token: str | None) -> bool:
    if not token or token.count(".") != 1 or len(token) > 100:
        return False
    nonce, sig = token.split(".")
    good = hmac.new(secret, b"anon:" + nonce.encode(), hashlib.sha256).hexdigest()[:32]
    return hmac.compare_digest(sig, good)
