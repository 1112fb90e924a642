"""Log-in rate limiting: failures counted per username and per client address in a window.

`decide` is the pure decision; `count_failures` and `note_attempt` are its storage, and
`serialise` makes parallel attempts on one username or address take turns.
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


# Transaction-scoped advisory locks, one per username and one per address; taken in this
# order (username first) by every attempt, so two attempts never wait for each other in a
# cycle. Hash collisions only make unrelated attempts wait a little.
LOCK_USER = "SELECT pg_advisory_xact_lock(hashtextextended('login_attempts:user:' || %s, 0))"
LOCK_IP = "SELECT pg_advisory_xact_lock(hashtextextended('login_attempts:ip:' || %s, 0))"


def serialise(conn, username: str, ip: str | None) -> None:
    """Make attempts for this username, and from this address, take turns until commit.

    Without it, parallel attempts would all count the failures before any of them noted its
    own, and together exceed the limit. Call it first in the attempt's transaction (a
    connection in autocommit mode would release the locks at once).
    """
    conn.execute(LOCK_USER, (username,))
    if ip is not None:
        conn.execute(LOCK_IP, (ip,))


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


def clear_failures(conn, username: str) -> int:
    """Forget a username's failed attempts (an administrator unlocks it); returns how many."""
    return conn.execute(
        "DELETE FROM login_attempts WHERE username = %s AND NOT success", (username[:200],)
    ).rowcount


def prune(conn, keep_days: int = 30) -> int:
    """Drop attempts older than `keep_days` (the audit log keeps the lasting record)."""
    cur = conn.execute(
        "DELETE FROM login_attempts WHERE at < now() - make_interval(days => %s)", (keep_days,)
    )
    return cur.rowcount
