"""Pure security decisions: passwords, the role table, the callback check, rate limits,
session expiry, CSRF tokens, redirects after log-in, token and filter parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards.access import (
    ACT_ROLES,
    VIEW_ROLES,
    check_callback,
    is_action,
    may_act,
    may_view,
    page_of,
    page_of_module,
)
from dashboards.auth import safe_next
from ioc.config import ConfigError, load_settings
from ioc.config.models import SecuritySettings
from ioc.security import passwords, ratelimit, sessions, tokens
from ioc.security.audit import FilterError, parse_filters
from ioc.security.roles import ROLES, check_role

# -- passwords -----------------------------------------------------------------------------------


def test_password_hash_is_argon2id_and_verifies():
    h = passwords.hash_password("correct horse 42")
    assert h.startswith("$argon2id$") and "correct" not in h
    assert passwords.verify_password(h, "correct horse 42").ok
    assert not passwords.verify_password(h, "correct horse 43").ok
    assert passwords.hash_password("correct horse 42") != h  # salted


def test_unknown_user_and_garbage_hash_never_verify():
    assert not passwords.verify_password(None, "anything").ok
    assert not passwords.verify_password("not-a-hash", "anything").ok
    assert not passwords.verify_password(passwords.hash_password("x" * 10), "x" * 5000).ok


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1", "at least 10"),
        (" leading-space-1", "space"),
        ("has-alice-in-it", "username"),
        ("aaaaaaaaaaaa", "too simple"),
        ("x" * 2000, "at most"),
        ("Perfectly-fine-9", None),
    ],
)
def test_password_policy(password, problem):
    found = passwords.password_problem(password, min_length=10, username="alice")
    assert (found is None) if problem is None else (problem in found)


def test_generated_passwords_pass_the_policy_and_differ():
    generated = {passwords.generate_password() for _ in range(50)}
    assert len(generated) == 50
    assert all(passwords.password_problem(p, min_length=12) is None for p in generated)


# -- roles and the access table ---------------------------------------------------------------


def test_roles_match_the_issue():
    assert ROLES == ("operator", "police", "leadership", "admin")
    with pytest.raises(ValueError, match="unknown role"):
        check_role("root")


@pytest.mark.parametrize(
    ("cid", "page", "action"),
    [
        ("feed-ack-button", "feed", False),
        ("feed-act-ack", "feed", True),
        ("admin-act-user-save", "admin", True),
        ("status", "status", False),
        ({"type": "police-act-verify", "index": 3}, "police", True),
        ({"type": "ops-marker", "index": 1}, "ops", False),
        ({"index": 1}, "", False),
        ("_pages_location", "_pages", False),
        ("", "", False),
        (None, "", False),
    ],
)
def test_page_of_and_is_action(cid, page, action):
    assert page_of(cid) == page
    assert is_action(cid) is action


def test_page_of_module():
    assert page_of_module("pages.admin_users") == "admin"
    assert page_of_module("dashboards.pages.status") == "status"
    assert page_of_module("pages.operations_map", "ops") == "ops"


# What the issue asks for, written out by hand (not derived from the table under test).
EXPECTED_VIEW = {
    "operator": {"status", "ops", "feed", "devices", "wall", "kpi"},
    "police": {"status", "police"},
    "leadership": {"status", "ops", "feed", "devices", "wall", "kpi"},
    "admin": {"status", "ops", "feed", "devices", "wall", "kpi", "police", "admin"},
}
EXPECTED_ACT = {
    "operator": {"feed", "ops"},
    "police": {"police"},
    "leadership": {"kpi"},  # the KPI targets of a plan period (issue 21)
    "admin": {"feed", "ops", "police", "kpi", "admin", "devices"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_table(role):
    pages = set(VIEW_ROLES) | set(ACT_ROLES) | {"unknown"}
    assert {p for p in pages if may_view(role, p)} == EXPECTED_VIEW[role]
    assert {p for p in pages if may_act(role, p)} == EXPECTED_ACT[role]


def test_anonymous_sees_only_public_prefixes():
    assert not any(may_view(None, p) for p in VIEW_ROLES)
    assert may_view(None, "login") and may_view(None, "_pages") and may_view(None, "app")
    assert not any(may_act(None, p) for p in ACT_ROLES)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_check_callback_every_id_counts(role):
    # read-only callback of the feed page, with an input from the app shell
    ok = check_callback(role, ["feed-table", "app-url"]).allowed
    assert ok == (role in {"operator", "leadership", "admin"})
    # one foreign id is enough to refuse
    assert not check_callback(role, ["status-body", "admin-users-table"]).allowed or role == "admin"
    # an action needs may_act on the action's page, not only may_view
    acting = check_callback(role, ["feed-message", "feed-act-ack"]).allowed
    assert acting == (role in {"operator", "admin"})
    # pattern-matching ids are checked by their type
    police = check_callback(role, [{"type": "police-act-verify", "index": "ALL"}]).allowed
    assert police == (role in {"police", "admin"})


def test_check_callback_refuses_ids_without_a_page_and_unknown_pages():
    for ids in ([], [{"index": 1}], ["nopage-x"], ["status-body", ""]):
        assert not check_callback("admin", ids).allowed
    assert check_callback(None, ["_pages_content", "_pages_location"]).allowed


# -- rate limits, sessions, CSRF ----------------------------------------------------------------


def test_rate_limit_decision():
    s = SecuritySettings(login_max_failures_per_user=3, login_max_failures_per_ip=10)
    assert ratelimit.decide(ratelimit.Failures(2, 9), s).allowed
    assert ratelimit.decide(ratelimit.Failures(3, 0), s) == ratelimit.Decision(False, "user")
    assert ratelimit.decide(ratelimit.Failures(0, 10), s) == ratelimit.Decision(False, "ip")


def test_session_state_idle_and_absolute():
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    idle = dt.timedelta(minutes=30)
    expires = t0 + dt.timedelta(hours=12)
    assert sessions.session_state(t0 + dt.timedelta(minutes=29), t0, expires, idle) == "live"
    assert sessions.session_state(t0 + dt.timedelta(minutes=30), t0, expires, idle) == "idle"
    late = t0 + dt.timedelta(hours=12)
    assert sessions.session_state(late, late, expires, idle) == "expired"


def test_csrf_tokens_are_bound_to_the_session_and_the_key():
    a = sessions.csrf_token(b"k1", "session-a")
    assert a == sessions.csrf_token(b"k1", "session-a")
    assert a != sessions.csrf_token(b"k1", "session-b")
    assert a != sessions.csrf_token(b"k2", "session-a")
    anon = sessions.anonymous_csrf_token(b"k1")
    assert sessions.anonymous_csrf_valid(b"k1", anon)
    assert not sessions.anonymous_csrf_valid(b"k2", anon)
    nonce, _sig = anon.split(".")
    for bad in (None, "", nonce, f"{nonce}.{'0' * 32}", "a.b.c", anon + "x"):
        assert not sessions.anonymous_csrf_valid(b"k1", bad)


def test_session_settings_are_checked():
    with pytest.raises(ValueError, match="session_idle_minutes"):
        SecuritySettings(session_idle_minutes=600, session_absolute_hours=1)
    s = load_settings(
        {"IOC_SECURITY_COOKIE_SECURE": "true", "IOC_SECURITY_SESSION_IDLE_MINUTES": "5"}
    )
    assert s.security.cookie_secure is True and s.security.session_idle_minutes == 5
    with pytest.raises(ConfigError, match="IOC_SECURITY_NOPE"):
        load_settings({"IOC_SECURITY_NOPE": "1"})


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/feed?x=1", "/feed?x=1"),
        ("/", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("feed", "/"),
        ("/login", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_safe_next_only_allows_local_paths(target, expected):
    assert safe_next(target) == expected


# -- tokens and audit filters -------------------------------------------------------------------


def test_token_scopes_are_checked():
    assert tokens.check_scopes(["alerts:read", "alerts:read", "kpi:read"]) == [
        "alerts:read", "kpi:read"]
    with pytest.raises(tokens.TokenError, match="at least one"):
        tokens.check_scopes([])
    with pytest.raises(tokens.TokenError, match="unknown scope"):
        tokens.check_scopes(["everything"])


def test_audit_filters_parse_dates_in_the_display_zone():
    f = parse_filters(" alice ", "login.", "", "2025-03-01", "2025-03-02", "Asia/Ho_Chi_Minh")
    assert f.actor == "alice" and f.action == "login." and f.text is None
    assert f.since == dt.datetime(2025, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert f.until - f.since == dt.timedelta(days=2)
    with pytest.raises(FilterError):
        parse_filters(None, None, None, "1' OR '1'='1", None, "UTC")
    assert parse_filters(123, ["x"], None, None, None, "UTC").actor is None


def test_pattern_matching_ids_take_their_page_from_type():
    from dashboards.access import is_action, page_of

    as_text = '{"index":["ALL"],"type":"police-x"}'  # how Dash's callback map stores it
    assert page_of(as_text) == "police"
    assert page_of({"type": "feed-act-ack", "index": 3}) == "feed"
    assert is_action('{"index":1,"type":"feed-act-ack"}')
    assert not is_action('{"index":1,"type":"feed-list"}')
