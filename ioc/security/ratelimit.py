"""Log-in rate limiting: failures counted per username and per client address in a window.

`decide` is the pure decision; `count_failures` and `note_attempt` are its storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.config.models import SecuritySettings


@dataclass(frozen=True)
class Failures:
    by_user: int
    by_ip: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None  # "user" or "ip" when refused


def decide(failures: Failures, settings: SecuritySettings) -> Decision:
    """Refuse a log-in attempt once either counter has reached its limit."""
    if failures.by_user >= settings.login_max_failures_per_user:
        return Decision(False, "user")
    if failures.by_ip >= settings.login_max_failures_per_ip:
        return Decision(False, "ip")
    return Decision(True)


def count_failures(conn, username: str, ip: str | None, settings: SecuritySettings) -> Failures:
    """Failures since the last success of this username (and from this address) in the window."""
    row = conn.execute(
        """
        SELECT
          (SELECT count(*) FROM login_attempts
            WHERE username = %(u)s AND NOT success
              AND at > now() - make_interval(mins => %(w)s)
              AND id > coalesce((SELECT max(id) FROM login_attempts
                                  WHERE username = %(u)s AND success), 0)),
          (SELECT count(*) FROM login_attempts
            WHERE ip = %(ip)s AND NOT success AND at > now() - make_interval(mins => %(w)s))
        """,
        {"u": username, "ip": ip, "w": settings.login_window_minutes},
    ).fetchone()
    return Failures(row[0], row[1] if ip is not None else 0)


def note_attempt(conn, username: str, ip: str | None, success: bool) -> None:
    conn.execute(
        "INSERT INTO login_attempts (username, ip, success) VALUES (%s, %s, %s)",
        (username[:200], ip, success),
    )


def prune(conn, keep_days: int = 30) -> int:
    """Drop attempts older than `keep_days` (the audit log keeps the lasting record)."""
    cur = conn.execute(
        "DELETE FROM login_attempts WHERE at < now() - make_interval(days => %s)", (keep_days,)
    )
    return cur.rowcount
