"""The `ioc` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ioc.config import ConfigError, Settings, load_settings
from ioc.logs import setup_logging

log = logging.getLogger("ioc")


class UsageError(Exception):
    """A wrong argument: the message says which and why."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_file=args.config)


# -- subcommands -----------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from ioc.demo import run_demo

    return run_demo(_settings(args), scenario=args.scenario, speed=args.speed, port=args.port)


def cmd_services(args: argparse.Namespace) -> int:
    from ioc.demo import run_services

    return run_services(_settings(args))


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from ioc.db.migrate import migrate

    settings = _settings(args)
    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (`ioc demo` starts an embedded database)")
    report = migrate(settings.database)
    applied = ", ".join(report.applied) or "none"
    ts = f"TimescaleDB {report.timescale}" if report.timescale else "plain PostgreSQL"
    print(f"migrations applied: {applied}; already applied: {report.already}; {ts}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.worker import run_worker

    return run_worker(_settings(args), name=args.name)


def cmd_alerts(args: argparse.Namespace) -> int:
    from alerts.worker import run_worker

    return run_worker(_settings(args))


def cmd_web(args: argparse.Namespace) -> int:
    from dashboards.server import run_server

    return run_server(_settings(args), host=args.host, port=args.port)


def cmd_sim(args: argparse.Namespace) -> int:
    from sensors_sim.cli import run_sim

    return run_sim(_settings(args), args)


def cmd_layers_import(args: argparse.Namespace) -> int:
    from layers.cli import import_layer

    return import_layer(_settings(args), args)


def cmd_layers_seed(args: argparse.Namespace) -> int:
    from layers.cli import seed_layers

    return seed_layers(_settings(args))


def cmd_kpi_import(args: argparse.Namespace) -> int:
    from ioc.kpi.cli import import_file

    return import_file(_settings(args), args.file, catalogue=args.catalogue)


def cmd_kpi_seed(args: argparse.Namespace) -> int:
    from ioc.kpi.cli import seed

    return seed(_settings(args), catalogue=args.catalogue)


def cmd_kpi_refresh(args: argparse.Namespace) -> int:
    from ioc.kpi.cli import refresh

    return refresh(_settings(args), days=args.days, catalogue=args.catalogue)


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from ioc.evidence.cli import verify_command

    return verify_command(_settings(args), args)


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    data = settings.model_dump(mode="json", by_alias=True)
    for section in ("database", "mqtt", "redis"):
        if data[section].get("url"):
            data[section]["url"] = _redact(data[section]["url"])
    if data["web"].get("secret_key"):
        data["web"]["secret_key"] = "***"
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# -- users and tokens (ioc.security) ---------------------------------------------------------
def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a bare container
        return "cli"


def _security_conn(settings: Settings):
    from ioc.db import connect

    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (users live in the database)")
    return connect(settings.database, application_name="ioc-cli")


def _read_password(args: argparse.Namespace, settings: Settings, username: str) -> tuple[str, bool]:
    """(password, generated) from --password-stdin, --generate, or a prompt asked twice."""
    from ioc.security.passwords import generate_password, password_problem

    if args.generate:
        return generate_password(), True
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {username}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        raise UsageError("no terminal to ask for the password: use --password-stdin or --generate")
    problem = password_problem(
        password, min_length=settings.security.password_min_length, username=username
    )
    if problem:
        raise UsageError(f"password {problem}")
    return password, False


def cmd_users_add(args: argparse.Namespace) -> int:
    from ioc.security import users

    settings = _settings(args)
    try:
        name = users.check_username(args.username)
    except users.UserError as err:
        raise UsageError(str(err)) from None
    password, generated = _read_password(args, settings, name)
    with _security_conn(settings) as conn:
        try:
            user = users.add_user(
                conn, name, password, args.role, actor=_cli_actor(),
                settings=settings.security, display_name=args.display_name or "",
            )
        except users.UserError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    print(f"user {user.username} added with role {user.role}")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from ioc.security import users

    with _security_conn(_settings(args)) as conn:
        rows = users.list_users(conn)
    print(f"{'username':<24} {'role':<11} {'status':<9} {'last log-in':<17} name")
    for u in rows:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-"
        status = "disabled" if u.disabled else "active"
        print(f"{u.username:<24} {u.role:<11} {status:<9} {last:<17} {u.display_name}")
    return 0


def _user_change(args: argparse.Namespace, change: Callable) -> int:
    from ioc.security import users

    settings = _settings(args)
    with _security_conn(settings) as conn:
        try:
            user = change(conn, settings)
        except users.UserError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    status = "disabled" if user.disabled else "active"
    print(f"user {user.username}: role {user.role}, {status}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from ioc.security import users

    return _user_change(
        args, lambda conn, _s: users.set_disabled(conn, args.username, True, actor=_cli_actor())
    )


def cmd_users_enable(args: argparse.Namespace) -> int:
    from ioc.security import users

    return _user_change(
        args, lambda conn, _s: users.set_disabled(conn, args.username, False, actor=_cli_actor())
    )


def cmd_users_set_role(args: argparse.Namespace) -> int:
    from ioc.security import users

    return _user_change(
        args, lambda conn, _s: users.set_role(conn, args.username, args.role, actor=_cli_actor())
    )


def cmd_users_set_password(args: argparse.Namespace) -> int:
    from ioc.security import users

    settings = _settings(args)
    password, generated = _read_password(args, settings, args.username.lower())
    code = _user_change(
        args,
        lambda conn, s: users.set_password(
            conn, args.username, password, actor=_cli_actor(), settings=s.security
        ),
    )
    if generated:
        print(f"password (shown once): {password}")
    return code


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from ioc.security import tokens

    settings = _settings(args)
    with _security_conn(settings) as conn:
        try:
            raw, info = tokens.create_token(
                conn, args.name, args.scope, days=args.days, actor=_cli_actor(),
                max_days=settings.security.token_max_days,
            )
        except tokens.TokenError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    scopes = ", ".join(sorted(info.scopes))
    print(f"token {info.id} ({info.prefix}) for {info.name}, scopes {scopes}, "
          f"expires {info.expires_at:%Y-%m-%d}")
    print("the token (shown once; send it as 'Authorization: Bearer <token>'):")
    print(raw)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from ioc.security import tokens

    with _security_conn(_settings(args)) as conn:
        rows = tokens.list_tokens(conn, include_revoked=args.all)
    print(f"{'id':>4} {'prefix':<9} {'expires':<11} {'state':<8} {'name':<24} scopes")
    for k in rows:
        state = "revoked" if k.revoked_at else "active"
        print(f"{k.id:>4} {k.prefix:<9} {k.expires_at:%Y-%m-%d}  {state:<8} {k.name:<24} "
              f"{','.join(sorted(k.scopes))}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from ioc.security import tokens

    with _security_conn(_settings(args)) as conn:
        try:
            info = tokens.revoke_token(conn, args.token, actor=_cli_actor())
        except tokens.TokenError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    print(f"token {info.id} ({info.prefix}, {info.name}) revoked")
    return 0


# -- parser -----------------------------------------------------------------------------------
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _positive_int_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3660:
        raise argparse.ArgumentTypeError(f"expected a number of days 1-3660, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ioc",
        description="ioc - Intelligent Operations Centre for Vietnamese provinces.",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE",
        help="TOML settings file (or IOC_CONFIG_FILE); environment variables override it",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    from sensors_sim.scenarios import SCENARIOS

    p = add("demo", cmd_demo, "Start the whole IOC with embedded services and simulated devices.")
    p.add_argument("--scenario", default="normal", choices=sorted(SCENARIOS), help="simulator scenario")
    p.add_argument("--speed", type=_positive_float, default=1.0, help="simulated seconds per second")
    p.add_argument("--port", type=_port, default=None, help="web port (default 8050, or a free one)")

    add("services", cmd_services, "Start only the embedded database, broker and Redis; print URLs.")

    p = add("db", None, "Database tasks.")
    db_sub = p.add_subparsers(dest="db_command", metavar="TASK", required=True)
    m = db_sub.add_parser("migrate", help="Apply pending migrations (idempotent).")
    m.set_defaults(func=cmd_db_migrate)

    p = add("ingest", cmd_ingest, "Run an ingest worker (MQTT to database and Redis).")
    p.add_argument("--name", default=None, help="worker name, stable across restarts so the broker session is found again (default: host name; give each worker on one host its own)")

    add("alerts", cmd_alerts, "Run the alerts worker.")

    p = add("web", cmd_web, "Run the web dashboards and HTTP API (development server).")
    p.add_argument("--host", default=None, help="bind address (default from IOC_WEB_HOST)")
    p.add_argument("--port", type=_port, default=None, help="port (default from IOC_WEB_PORT)")

    p = add("sim", cmd_sim, "Run the device simulator.")
    from sensors_sim.cli import add_arguments

    add_arguments(p, _positive_float)

    p = add("layers", None, "Map layers.")
    l_sub = p.add_subparsers(dest="layers_command", metavar="TASK", required=True)
    li = l_sub.add_parser("import", help="Load a GeoJSON, GeoPackage or Shapefile layer.")
    li.add_argument("file", type=Path, metavar="FILE")
    li.add_argument("--name", required=True, help="layer name, e.g. districts or flood_zones")
    li.add_argument(
        "--kind", default="districts",
        choices=["districts", "zones", "points", "poi", "lines", "rivers"],
        help="what the features are (sets the geometry type required)",
    )
    li.set_defaults(func=cmd_layers_import)
    l_sub.add_parser(
        "seed", help="Store the demo province's layers if they are not there yet."
    ).set_defaults(func=cmd_layers_seed)

    p = add("kpi", None, "Leadership KPIs: import reported figures, seed the demo, refresh.")
    k_sub = p.add_subparsers(dest="kpi_command", metavar="TASK", required=True)
    catalogue_help = "KPI catalogue YAML (default: the demo province's, ioc/kpi/data)"
    ki = k_sub.add_parser(
        "import", help="Check a CSV of reported figures and store it (all rows or none)."
    )
    ki.add_argument("file", type=Path, metavar="FILE", help="CSV file; columns in docs/kpi.md")
    ki.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    ki.set_defaults(func=cmd_kpi_import)
    ks = k_sub.add_parser("seed", help="Store the demo province's reported figures and targets.")
    ks.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    ks.set_defaults(func=cmd_kpi_seed)
    kr = k_sub.add_parser(
        "refresh", help="Recompute the telemetry KPIs of the last days from the hourly rollups."
    )
    kr.add_argument("--days", type=_positive_int_days, default=2, metavar="N",
                    help="local days to recompute, today included (default 2)")
    kr.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    kr.set_defaults(func=cmd_kpi_refresh)

    p = add("config", None, "Settings.")
    c_sub = p.add_subparsers(dest="config_command", metavar="TASK", required=True)
    c_sub.add_parser("show", help="Print the effective settings (secrets hidden).").set_defaults(
        func=cmd_config_show
    )
    _add_security_parsers(add)
    _add_evidence_parsers(add)
    return parser


def _add_security_parsers(add: Callable) -> None:
    from ioc.security.roles import ROLES
    from ioc.security.tokens import SCOPES

    def password_options(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")
        g.add_argument("--generate", action="store_true",
                       help="generate a random password and print it once")

    p = add("users", None, "People who may log in: add, list, disable, enable, set-role.")
    u_sub = p.add_subparsers(dest="users_command", metavar="TASK", required=True)
    ua = u_sub.add_parser(
        "add", help="Add a user (the password is prompted for, unless --password-stdin).",
        description="Add a user. The first admin of an installation is made this way.",
    )
    ua.add_argument("username", metavar="NAME")
    ua.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    ua.add_argument("--display-name", default="", help="full name shown in the app")
    password_options(ua)
    ua.set_defaults(func=cmd_users_add)
    u_sub.add_parser("list", help="List users.").set_defaults(func=cmd_users_list)
    ud = u_sub.add_parser("disable", help="Disable a user and end their sessions.")
    ud.add_argument("username", metavar="NAME")
    ud.set_defaults(func=cmd_users_disable)
    ue = u_sub.add_parser("enable", help="Enable a disabled user.")
    ue.add_argument("username", metavar="NAME")
    ue.set_defaults(func=cmd_users_enable)
    ur = u_sub.add_parser("set-role", help="Change a user's role (ends their sessions).")
    ur.add_argument("username", metavar="NAME")
    ur.add_argument("role", choices=ROLES)
    ur.set_defaults(func=cmd_users_set_role)
    up = u_sub.add_parser("set-password", help="Set a new password (ends their sessions).")
    up.add_argument("username", metavar="NAME")
    password_options(up)
    up.set_defaults(func=cmd_users_set_password)

    p = add("tokens", None, "API tokens for other systems: create, list, revoke.")
    t_sub = p.add_subparsers(dest="tokens_command", metavar="TASK", required=True)
    tc = t_sub.add_parser("create", help="Create a token (printed once).")
    tc.add_argument("name", metavar="NAME", help="which system uses it")
    tc.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES),
                    help="what it may do (repeat for several)")
    tc.add_argument("--days", type=int, default=90, help="lifetime in days (default 90)")
    tc.set_defaults(func=cmd_tokens_create)
    tl = t_sub.add_parser("list", help="List tokens (active only, unless --all).")
    tl.add_argument("--all", action="store_true", help="include revoked tokens")
    tl.set_defaults(func=cmd_tokens_list)
    tr = t_sub.add_parser("revoke", help="Revoke a token by id or prefix.")
    tr.add_argument("token", metavar="ID_OR_PREFIX")
    tr.set_defaults(func=cmd_tokens_revoke)


def _add_evidence_parsers(add: Callable) -> None:
    from ioc.evidence.cli import add_arguments

    p = add("evidence", None, "Camera evidence bundles exported from the police page.")
    e_sub = p.add_subparsers(dest="evidence_command", metavar="TASK", required=True)
    ev = e_sub.add_parser(
        "verify",
        help="Check that an evidence bundle is exactly as exported (exit 1 when not).",
        description="Check every file's SHA-256 and size against the manifest, look for added "
        "or removed files, check the manifest against manifest.sha256 and, when "
        "IOC_EVIDENCE_HMAC_KEY is set, its HMAC. Exit 0: unchanged; 1: tampered; 2: usage.",
    )
    add_arguments(ev)
    ev.set_defaults(func=cmd_evidence_verify)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        setup_logging(load_settings(config_file=args.config))
        return args.func(args) or 0
    except ConfigError as err:
        print(f"ioc: configuration error: {err}", file=sys.stderr)
        return 2
    except UsageError as err:
        print(f"ioc {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
