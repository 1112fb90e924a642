"""Users, sessions, tokens, rate limits and the audit log against the real database; the
`ioc users` and `ioc tokens` commands."""

from __future__ import annotations

import ast
import io
import re
import threading
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from ioc.cli import main
from ioc.config.models import SecuritySettings
from ioc.db import connect
from ioc.security import audit, sessions, tokens, users
from ioc.security.demo_users import ensure_demo_users, read_credentials

pytestmark = pytest.mark.integration

SEC = SecuritySettings()
PW = "Good-password-42"


def _add(conn, name="alice", role="operator", **kw):
    return users.add_user(conn, name, PW, role, actor="test", settings=SEC, **kw)


def test_add_user_stores_only_a_hash_and_audits(db_conn):
    user = _add(db_conn, "Alice", display_name="Alice Nguyễn")
    assert user.username == "alice" and user.role == "operator" and not user.disabled
    stored = db_conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PW not in stored
    entry = audit.search(db_conn, action="user.create")[0]
    assert (entry.actor, entry.target, entry.details) == ("test", "alice", {"role": "operator"})
    with pytest.raises(users.UserError, match="already exists"):
        _add(db_conn, "alice")
    with pytest.raises(users.UserError, match="username"):
        _add(db_conn, "Bad Name!")
    with pytest.raises(users.UserError, match="unknown role"):
        _add(db_conn, "bob", role="root")
    with pytest.raises(users.UserError, match="password must be at least"):
        users.add_user(db_conn, "bob", "short", "operator", actor="t", settings=SEC)


def test_authenticate_counts_failures_and_limits(db_conn):
    _add(db_conn)
    s = SecuritySettings(login_max_failures_per_user=3, login_max_failures_per_ip=100)
    ok = users.authenticate(db_conn, "ALICE", PW, ip="10.0.0.1", settings=s)
    assert ok.outcome == "ok" and ok.user.username == "alice"
    for _ in range(3):
        assert users.authenticate(db_conn, "alice", "wrong", ip="10.0.0.1",
                                  settings=s).outcome == "bad_credentials"
    # the right password no longer helps until the window has passed
    assert users.authenticate(db_conn, "alice", PW, ip="10.0.0.1", settings=s).outcome == "limited"
    actions = [e.action for e in audit.search(db_conn, action="login.")]
    assert actions.count("login.failure") == 3 and actions[0] == "login.limited"
    # an unknown user is refused the same way and counted too
    assert users.authenticate(db_conn, "nobody", PW, ip="10.0.0.2",
                              settings=s).outcome == "bad_credentials"


def test_rate_limit_per_address_covers_many_usernames(db_conn):
    _add(db_conn)
    s = SecuritySettings(login_max_failures_per_user=100, login_max_failures_per_ip=4)
    for i in range(4):
        users.authenticate(db_conn, f"guess{i}", "x", ip="10.9.9.9", settings=s)
    assert users.authenticate(db_conn, "alice", PW, ip="10.9.9.9", settings=s).outcome == "limited"
    assert users.authenticate(db_conn, "alice", PW, ip="10.9.9.8", settings=s).outcome == "ok"


def test_disabled_user_cannot_log_in_and_loses_sessions(db_conn):
    alice = _add(db_conn)
    _add(db_conn, "root1", role="admin")
    raw = sessions.new_session(db_conn, alice.id, SEC)
    assert sessions.lookup(db_conn, raw, SEC).username == "alice"
    users.set_disabled(db_conn, "alice", True, actor="root1")
    assert sessions.lookup(db_conn, raw, SEC) is None
    assert users.authenticate(db_conn, "alice", PW, ip=None, settings=SEC).outcome == "disabled"
    users.set_disabled(db_conn, "alice", False, actor="root1")
    assert users.authenticate(db_conn, "alice", PW, ip=None, settings=SEC).outcome == "ok"


def test_role_change_and_password_change_end_sessions(db_conn):
    alice = _add(db_conn)
    _add(db_conn, "root1", role="admin")
    raw = sessions.new_session(db_conn, alice.id, SEC)
    users.set_role(db_conn, "alice", "leadership", actor="root1")
    assert sessions.lookup(db_conn, raw, SEC) is None
    raw = sessions.new_session(db_conn, alice.id, SEC)
    users.set_password(db_conn, "alice", "Another-pass-77", actor="root1", settings=SEC)
    assert sessions.lookup(db_conn, raw, SEC) is None
    assert users.authenticate(db_conn, "alice", "Another-pass-77", ip=None,
                              settings=SEC).user.role == "leadership"
    entry = audit.search(db_conn, action="user.role")[0]
    assert entry.details == {"from": "operator", "to": "leadership"}


def test_the_last_admin_cannot_be_removed(db_conn):
    _add(db_conn, "root1", role="admin")
    with pytest.raises(users.UserError, match="last enabled admin"):
        users.set_role(db_conn, "root1", "operator", actor="root1")
    with pytest.raises(users.UserError, match="last enabled admin"):
        users.set_disabled(db_conn, "root1", True, actor="root1")
    _add(db_conn, "root2", role="admin")
    users.set_disabled(db_conn, "root1", True, actor="root2")


def test_sessions_end_when_idle_or_expired(db_conn):
    alice = _add(db_conn)
    raw = sessions.new_session(db_conn, alice.id, SEC, ip="10.0.0.1", user_agent="pytest")
    info = sessions.lookup(db_conn, raw, SEC)
    assert info.role == "operator" and info.id_hash == sessions.hash_id(raw)
    assert raw not in str(db_conn.execute("SELECT * FROM sessions").fetchall())
    db_conn.execute("UPDATE sessions SET last_seen_at = now() - interval '2 hours'")
    assert sessions.lookup(db_conn, raw, SEC) is None  # idle (60 min default)
    assert db_conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    raw = sessions.new_session(db_conn, alice.id, SEC)
    db_conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert sessions.lookup(db_conn, raw, SEC) is None  # absolute lifetime over
    raw = sessions.new_session(db_conn, alice.id, SEC)
    assert sessions.end(db_conn, raw) and sessions.lookup(db_conn, raw, SEC) is None
    for junk in (None, "", "x" * 500, "' OR 1=1 --"):
        assert sessions.lookup(db_conn, junk, SEC) is None


def test_tokens_scoped_expiring_revocable_hashed(db_conn):
    raw, info = tokens.create_token(db_conn, "EOC dashboard", ["alerts:read"], days=30,
                                    actor="root1")
    assert raw.startswith(f"ioc_{info.prefix}_")
    stored = db_conn.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert stored == tokens.hash_token(raw) and raw not in stored
    found = tokens.verify_token(db_conn, raw)
    assert found.allows("alerts:read") and not found.allows("alerts:write")
    assert found.actor == "token:EOC dashboard"
    assert tokens.verify_token(db_conn, raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    for junk in (None, "", "Bearer x", "ioc_' OR 1=1 --", "ioc_abcdefgh_" + "x" * 300):
        assert tokens.verify_token(db_conn, junk) is None
    db_conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    assert tokens.verify_token(db_conn, raw) is None
    raw2, info2 = tokens.create_token(db_conn, "GIS", ["layers:read"], days=1, actor="root1")
    tokens.revoke_token(db_conn, info2.prefix, actor="root1")
    assert tokens.verify_token(db_conn, raw2) is None
    names = [t.name for t in tokens.list_tokens(db_conn, include_revoked=True)]
    assert names == ["GIS", "EOC dashboard"]
    assert {e.action for e in audit.search(db_conn, action="token.")} == {"token.create",
                                                                         "token.revoke"}
    with pytest.raises(tokens.TokenError, match="lifetime"):
        tokens.create_token(db_conn, "x", ["kpi:read"], days=1000, actor="a", max_days=365)
    with pytest.raises(tokens.TokenError, match="no token"):
        tokens.revoke_token(db_conn, 99999, actor="a")


def test_audit_log_is_append_only(db_conn):
    audit.record(db_conn, "alice", "evidence.view", "incident 7", {"camera": "cam-1"}, "10.0.0.5")
    db_conn.commit()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute("UPDATE audit_log SET actor = 'mallory'")
    db_conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute("DELETE FROM audit_log")
    db_conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute("TRUNCATE audit_log")
    db_conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db_conn.execute("TRUNCATE users, audit_log CASCADE")  # not even in company
    db_conn.rollback()
    assert len(audit.search(db_conn)) == 1


def test_a_schema_with_an_audit_log_can_still_be_dropped(db_settings, pg_url):
    """Removing a whole installation (as the fixtures do after each test) is not blocked."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        schema = psycopg.sql.Identifier(db_settings.schema_name)
        conn.execute(psycopg.sql.SQL("INSERT INTO {}.audit_log (actor, action) "
                                     "VALUES ('t', 'user.create')").format(schema))
        conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(schema))
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                            (db_settings.schema_name,)).fetchone() == (0,)


def test_parallel_log_in_attempts_cannot_exceed_the_limit(db_conn, db_settings):
    _add(db_conn)
    db_conn.commit()
    limit, attempts = 3, 8
    s = SecuritySettings(login_max_failures_per_user=limit, login_max_failures_per_ip=limit)
    conns = [connect(db_settings) for _ in range(attempts)]
    barrier = threading.Barrier(attempts)
    outcomes, errors = [], []

    def attempt(conn, ip):
        try:
            barrier.wait()
            outcomes.append(users.authenticate(conn, "alice", "wrong", ip=ip,
                                               settings=s).outcome)
            conn.commit()
        except Exception as err:  # surfaced below
            errors.append(err)

    # One username from many addresses, then one username from one address.
    for ips in ([f"10.1.0.{i}" for i in range(attempts)], ["10.2.0.1"] * attempts):
        outcomes.clear()
        threads = [threading.Thread(target=attempt, args=(c, ip))
                   for c, ip in zip(conns, ips, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert sorted(outcomes) == ["bad_credentials"] * limit + ["limited"] * (attempts - limit)
        assert db_conn.execute("SELECT count(*) FROM login_attempts").fetchone() == (limit,)
        db_conn.execute("DELETE FROM login_attempts")  # not append-only: start afresh
        db_conn.commit()
    for conn in conns:
        conn.close()


def test_parallel_attempts_with_many_usernames_from_one_address(db_conn, db_settings):
    limit, attempts = 2, 6
    s = SecuritySettings(login_max_failures_per_user=100, login_max_failures_per_ip=limit)
    conns = [connect(db_settings, autocommit=True) for _ in range(attempts)]
    barrier = threading.Barrier(attempts)
    outcomes = []

    def attempt(conn, name):
        barrier.wait()
        outcomes.append(users.authenticate(conn, name, "x", ip="10.3.0.1", settings=s).outcome)

    threads = [threading.Thread(target=attempt, args=(c, f"guess{i}"))
               for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for conn in conns:
        conn.close()
    assert sorted(outcomes) == ["bad_credentials"] * limit + ["limited"] * (attempts - limit)
    assert db_conn.execute("SELECT count(*) FROM login_attempts").fetchone() == (limit,)


# -- every audit action written is one the admin page offers ----------------------------------
AUDIT_WRITERS = ("alerts", "dashboards", "evidence", "ingest", "ioc", "kpi", "layers", "police",
                 "sensors_sim")
DOTTED = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _literal_actions(path: Path) -> set[str]:
    """Action names written literally: `record(conn, actor, "x.y", ...)`, `_audit(...)`,
    an `action = "x.y"` assignment, or a parameter of an `INSERT INTO audit_log`."""
    found: set[str] = set()

    def strings(node) -> set[str]:
        return {n.value for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and DOTTED.match(n.value)}

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in ("record", "_audit") and len(node.args) >= 3:
                action = node.args[2]
                if isinstance(action, ast.Constant) and isinstance(action.value, str):
                    found.add(action.value)  # also undotted ones, such as `logout`
                found |= strings(action)
            first = node.args[0] if node.args else None
            if (isinstance(first, ast.Constant) and isinstance(first.value, str)
                    and "INSERT INTO audit_log" in first.value):
                for arg in node.args[1:]:
                    found |= strings(arg)
                found |= {m for m in re.findall(r"'([a-z_]+\.[a-z_]+)'", first.value)}
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "action" for t in node.targets):
            found |= strings(node.value)
    return found


def test_every_audit_action_written_is_listed():
    from alerts import lifecycle
    from alerts.rules import store as rule_store
    from evidence.store import AUDIT_ACTION
    from layers import store as layer_store

    root = Path(__file__).resolve().parents[2]
    written: set[str] = set()
    for package in AUDIT_WRITERS:
        for path in (root / package).rglob("*.py"):
            written |= _literal_actions(path)
    # The names built at run time.
    written |= {f"alert.{target}" for targets in lifecycle.TRANSITIONS.values()
                for target in targets}
    written |= set(AUDIT_ACTION.values()) | set(rule_store.AUDIT_ACTIONS)
    written |= {layer_store.AUDIT_IMPORT}
    assert written - set(audit.ACTIONS) == set(), "written but not offered as a filter"
    assert set(audit.ACTIONS) - written == set(), "offered as a filter but never written"
    assert {"alert.note", "kpi.import", "layer.import", "alert_rule.save"} <= written


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE audit_log; --",
    "\" OR \"\"=\"",
    "%",
    "_",
    "\\",
    "admin'--",
    "1; SELECT pg_sleep(5)",
    "' UNION SELECT password_hash FROM users --",
    "\x00",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_audit_search_treats_every_filter_as_data(db_conn, value):
    audit.record(db_conn, "alice", "login.success", "alice")
    audit.record(db_conn, "bob", "user.create", "carol", {"note": "fifty"})
    db_conn.commit()
    for field in ("actor", "action", "text"):
        try:
            found = audit.search(db_conn, **{field: value})
        except psycopg.DataError:  # a NUL byte is refused by the driver, not run
            db_conn.rollback()
            continue
        assert found == []
    assert len(audit.search(db_conn)) == 2
    assert [e.actor for e in audit.search(db_conn, action="login.")] == ["alice"]


def test_audit_search_wildcards_are_literal(db_conn):
    audit.record(db_conn, "bob", "user.create", "carol", {"note": "50% done_x"})
    audit.record(db_conn, "eve", "user.create", "dave", {"note": "500 doneyx"})
    assert [e.actor for e in audit.search(db_conn, text="50%")] == ["bob"]
    assert [e.actor for e in audit.search(db_conn, text="done_x")] == ["bob"]
    assert len(audit.search(db_conn, text="DONE")) == 2


def test_demo_users_one_per_role_and_stable(db_conn, tmp_path):
    first = ensure_demo_users(db_conn, tmp_path, SEC)
    assert sorted(c.role for c in first) == sorted(["operator", "police", "leadership", "admin"])
    assert (tmp_path / "demo-users.json").stat().st_mode & 0o777 == 0o600
    again = ensure_demo_users(db_conn, tmp_path, SEC)
    assert again == first == read_credentials(tmp_path)
    for c in first:
        assert users.authenticate(db_conn, c.username, c.password, ip=None,
                                  settings=SEC).user.role == c.role


# -- the CLI --------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(settings, monkeypatch):
    monkeypatch.setenv("IOC_ENV", "test")
    monkeypatch.setenv("IOC_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IOC_DATABASE_SCHEMA", settings.database.schema_name)
    return settings


def _run(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_users_and_tokens(cli_env, db_conn, monkeypatch, capsys):
    code, out, err = _run(monkeypatch, capsys, ["users", "add", "--role", "admin",
                                                "--password-stdin", "chief"],
                          "Strong-passw0rd-1\n")
    assert code == 0 and "chief added with role admin" in out, err
    code, out, _ = _run(monkeypatch, capsys, ["users", "add", "--role", "operator", "--generate",
                                              "op1"])
    assert code == 0 and "shown once" in out
    code, _, err = _run(monkeypatch, capsys, ["users", "add", "--role", "operator", "op2"])
    assert code == 2 and "--password-stdin" in err  # no terminal: no silent default password
    code, _, err = _run(monkeypatch, capsys, ["users", "add", "--role", "operator",
                                              "--password-stdin", "op3"], "short\n")
    assert code == 2 and "at least" in err
    assert _run(monkeypatch, capsys, ["users", "set-role", "op1", "police"])[0] == 0
    assert _run(monkeypatch, capsys, ["users", "disable", "op1"])[0] == 0
    code, out, _ = _run(monkeypatch, capsys, ["users", "list"])
    assert "chief" in out and "op1" in out and "disabled" in out and "police" in out
    code, _, err = _run(monkeypatch, capsys, ["users", "disable", "chief"])
    assert code == 2 and "last enabled admin" in err
    code, out, _ = _run(monkeypatch, capsys, ["tokens", "create", "gis", "--scope", "layers:read",
                                              "--days", "10"])
    assert code == 0
    raw = out.strip().splitlines()[-1]
    assert tokens.verify_token(db_conn, raw).scopes == {"layers:read"}
    db_conn.commit()
    assert _run(monkeypatch, capsys, ["tokens", "revoke", raw.split("_")[1]])[0] == 0
    assert tokens.verify_token(db_conn, raw) is None
    code, out, _ = _run(monkeypatch, capsys, ["tokens", "list", "--all"])
    assert "revoked" in out
    actors = {e.actor for e in audit.search(db_conn)}
    assert all(a.startswith("cli") for a in actors)


def test_unlock_forgets_failures_and_enables_and_the_cli_does_it(cli_env, db_conn, monkeypatch,
                                                                  capsys):
    _add(db_conn)
    s = SecuritySettings(login_max_failures_per_user=3, login_max_failures_per_ip=100)
    for _ in range(3):
        users.authenticate(db_conn, "alice", "wrong", ip="10.0.0.1", settings=s)
    assert users.authenticate(db_conn, "alice", PW, ip="10.0.0.1", settings=s).outcome == "limited"
    assert users.locked_out(db_conn, s) == {"alice"}
    user, cleared = users.unlock(db_conn, "alice", actor="admin")
    assert cleared == 3 and not user.disabled and users.locked_out(db_conn, s) == set()
    assert users.authenticate(db_conn, "alice", PW, ip="10.0.0.1", settings=s).outcome == "ok"
    entry = audit.search(db_conn, action="user.unlock")[0]
    assert entry.details == {"was_disabled": False, "failures_cleared": 3}
    # locked out AND disabled; the command line unlocks both
    for _ in range(3):
        users.authenticate(db_conn, "alice", "wrong", ip="10.0.0.9", settings=s)
    users.set_disabled(db_conn, "alice", True, actor="admin")
    db_conn.commit()
    code, out, err = _run(monkeypatch, capsys, ["users", "unlock", "alice"])
    assert code == 0 and "3 failed log-in attempts forgotten" in out and "active" in out, err
    assert users.authenticate(db_conn, "alice", PW, ip="10.0.0.9", settings=s).outcome == "ok"
    code, _, err = _run(monkeypatch, capsys, ["users", "unlock", "nobody"])
    assert code == 2 and "nobody" in err
