"""People who may log in: create, list, change role, disable, set password, authenticate.

Every change writes an audit entry in the same transaction; callers commit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from psycopg import sql

from ioc.config.models import SecuritySettings
from ioc.security import audit, ratelimit
from ioc.security.passwords import hash_password, password_problem, verify_password
from ioc.security.roles import check_role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")  # same as the CHECK on users.username


class UserError(ValueError):
    """A user change that cannot be made; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    outcome: str  # "ok", "bad_credentials", "disabled", "limited"


_COLUMNS = sql.SQL("id, username, display_name, role, disabled, created_at, last_login_at")


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME.fullmatch(name):
        raise UserError(
            f"username {username!r}: 2-64 characters, lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return name


def get_user(conn, username: str) -> User | None:
    row = conn.execute(
        sql.SQL("SELECT {} FROM users WHERE username = %s").format(_COLUMNS),
        (normalise_username(username),),
    ).fetchone()
    return User(*row) if row else None


def list_users(conn) -> list[User]:
    rows = conn.execute(
        sql.SQL("SELECT {} FROM users ORDER BY username").format(_COLUMNS)
    ).fetchall()
    return [User(*r) for r in rows]


def count_admins(conn) -> int:
    return conn.execute(
        "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled"
    ).fetchone()[0]


def add_user(
    conn,
    username: str,
    password: str,
    role: str,
    *,
    actor: str,
    settings: SecuritySettings,
    display_name: str = "",
    ip: str | None = None,
) -> User:
    name = check_username(username)
    try:
        check_role(role)
    except ValueError as err:
        raise UserError(str(err)) from None
    problem = password_problem(password, min_length=settings.password_min_length, username=name)
    if problem:
        raise UserError(f"password {problem}")
    if get_user(conn, name) is not None:
        raise UserError(f"user {name!r} already exists")
    row = conn.execute(
        sql.SQL(
            "INSERT INTO users (username, display_name, password_hash, role, password_changed_at)"
            " VALUES (%s, %s, %s, %s, now()) RETURNING {}"
        ).format(_COLUMNS),
        (name, display_name.strip()[:200], hash_password(password), role),
    ).fetchone()
    audit.record(conn, actor, "user.create", name, {"role": role}, ip)
    return User(*row)


def _require(conn, username: str) -> User:
    user = get_user(conn, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def _keeps_an_admin(conn, user: User, *, new_role: str | None = None, disable: bool = False):
    """Refuse a change that would leave no enabled admin (nobody could manage users then)."""
    losing = user.role == "admin" and not user.disabled and (
        disable or (new_role is not None and new_role != "admin")
    )
    if losing and count_admins(conn) <= 1:
        raise UserError(f"{user.username!r} is the last enabled admin; add another admin first")


def set_role(conn, username: str, role: str, *, actor: str, ip: str | None = None) -> User:
    try:
        check_role(role)
    except ValueError as err:
        raise UserError(str(err)) from None
    user = _require(conn, username)
    if user.role == role:
        return user
    _keeps_an_admin(conn, user, new_role=role)
    conn.execute(
        "UPDATE users SET role = %s, updated_at = now() WHERE id = %s", (role, user.id)
    )
    # Sessions carry no role (it is read per request), but a demotion should also end
    # whatever the person had open with the old rights.
    conn.execute("DELETE FROM sessions WHERE user_id = %s", (user.id,))
    audit.record(conn, actor, "user.role", user.username, {"from": user.role, "to": role}, ip)
    return _require(conn, username)


def set_disabled(
    conn, username: str, disabled: bool, *, actor: str, ip: str | None = None
) -> User:
    user = _require(conn, username)
    if user.disabled == disabled:
        return user
    if disabled:
        _keeps_an_admin(conn, user, disable=True)
    conn.execute(
        "UPDATE users SET disabled = %s, updated_at = now() WHERE id = %s", (disabled, user.id)
    )
    if disabled:
        conn.execute("DELETE FROM sessions WHERE user_id = %s", (user.id,))
    action = "user.disable" if disabled else "user.enable"
    audit.record(conn, actor, action, user.username, None, ip)
    return _require(conn, username)


def unlock(conn, username: str, *, actor: str, ip: str | None = None) -> tuple[User, int]:
    """Let a user log in again: enable them if disabled and forget their failed log-in
    attempts (the rate limit's lock-out). Returns the user and how many failures were
    cleared; the audit log keeps every attempt (`login.failure`)."""
    user = _require(conn, username)
    if user.disabled:
        conn.execute(
            "UPDATE users SET disabled = false, updated_at = now() WHERE id = %s", (user.id,)
        )
    cleared = ratelimit.clear_failures(conn, user.username)
    audit.record(conn, actor, "user.unlock", user.username,
                 {"was_disabled": user.disabled, "failures_cleared": cleared}, ip)
    return _require(conn, username), cleared


def locked_out(conn, settings: SecuritySettings) -> set[str]:
    """Usernames the rate limit refuses now (too many failures since their last success)."""
    return {
        u.username for u in list_users(conn)
        if not ratelimit.decide(
            ratelimit.count_failures(conn, u.username, None, settings), settings).allowed
    }


def set_password(
    conn,
    username: str,
    password: str,
    *,
    actor: str,
    settings: SecuritySettings,
    ip: str | None = None,
) -> User:
    user = _require(conn, username)
    problem = password_problem(
        password, min_length=settings.password_min_length, username=user.username
    )
    if problem:
        raise UserError(f"password {problem}")
    conn.execute(
        "UPDATE users SET password_hash = %s, password_changed_at = now(), updated_at = now() "
        "WHERE id = %s",
        (hash_password(password), user.id),
    )
    conn.execute("DELETE FROM sessions WHERE user_id = %s", (user.id,))
    audit.record(conn, actor, "user.password", user.username, None, ip)
    return user


def authenticate(
    conn, username: str, password: str, *, ip: str | None, settings: SecuritySettings
) -> LoginResult:
    """Check a log-in attempt, rate limited; records the attempt and an audit entry.

    The caller commits (also on failure: the failure must be counted). Until then, parallel
    attempts for the same username or from the same address wait (`ratelimit.serialise`),
    so they cannot all be counted before any is recorded. On a connection in autocommit
    mode the attempt runs in a transaction of its own.
    """
    if conn.autocommit:
        with conn.transaction():
            return _authenticate(conn, username, password, ip=ip, settings=settings)
    return _authenticate(conn, username, password, ip=ip, settings=settings)


def _authenticate(
    conn, username: str, password: str, *, ip: str | None, settings: SecuritySettings
) -> LoginResult:
    name = normalise_username(username)[:200]
    ratelimit.serialise(conn, name, ip)
    decision = ratelimit.decide(ratelimit.count_failures(conn, name, ip, settings), settings)
    if not decision.allowed:
        audit.record(conn, name or "?", "login.limited", name, {"by": decision.reason}, ip)
        return LoginResult(None, "limited")
    row = conn.execute(
        sql.SQL("SELECT password_hash, {} FROM users WHERE username = %s").format(_COLUMNS),
        (name,),
    ).fetchone()
    stored_hash = row[0] if row else None
    check = verify_password(stored_hash, password)
    user = User(*row[1:]) if row else None
    if not check.ok or user is None:
        ratelimit.note_attempt(conn, name, ip, False)
        audit.record(conn, name or "?", "login.failure", name, {"reason": "bad_credentials"}, ip)
        return LoginResult(None, "bad_credentials")
    if user.disabled:
        ratelimit.note_attempt(conn, name, ip, False)
        audit.record(conn, name, "login.failure", name, {"reason": "disabled"}, ip)
        return LoginResult(None, "disabled")
    if check.needs_rehash:
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(password), user.id)
        )
    conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user.id,))
    ratelimit.note_attempt(conn, name, ip, True)
    audit.record(conn, name, "login.success", name, None, ip)
    return LoginResult(user, "ok")
