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
    """Settings; a service URL left unset is the running demo's (found in IOC_STATE_DIR)."""
    from ioc.running import with_running_services

    return with_running_services(load_settings(config_file=args.config))


# -- subcommands -----------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from ioc.demo import run_demo

    return run_demo(load_settings(config_file=args.config), scenario=args.scenario,
                    speed=args.speed, port=args.port, fresh=args.fresh)


def cmd_services(args: argparse.Namespace) -> int:
    from ioc.demo import run_services

    return run_services(load_settings(config_file=args.config))


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from ioc.db.migrate import migrate, runtime_role

    settings = _settings(args)
    db = settings.database
    if not db.url and not db.owner_url:
        raise ConfigError("IOC_DATABASE_URL: not set (`ioc demo` starts an embedded database)")
    if settings.env == "production" and not db.owner_url:
        raise ConfigError(
            "IOC_DATABASE_OWNER_URL: not set; production migrates as the owner of the schema "
            "and runs the processes as the runtime role of IOC_DATABASE_URL (docs/security.md)"
        )
    report = migrate(db)
    applied = ", ".join(report.applied) or "none"
    ts = f"TimescaleDB {report.timescale}" if report.timescale else "plain PostgreSQL"
    role = runtime_role(db)
    grants = f"; runtime role {role} granted" if role else ""
    print(f"migrations applied: {applied}; already applied: {report.already}; {ts}{grants}")
    for change in report.policy_changes:
        print(f"TimescaleDB policy changed: {change}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    from ioc.db.status import print_status

    settings = _settings(args)
    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (`ioc demo` starts an embedded database)")
    return print_status(settings)


def cmd_maintain(args: argparse.Namespace) -> int:
    from ioc.maintain import run_maintain

    return run_maintain(_settings(args), once=args.once, metrics_port=args.metrics_port)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.worker import list_sessions, retire, run_worker

    if args.action == "sessions":
        return list_sessions(_settings(args))
    if args.retire:
        return retire(_settings(args), args.retire, timeout=args.retire_timeout)
    return run_worker(_settings(args), name=args.name, leave_on_stop=args.leave_on_stop)


def cmd_alerts(args: argparse.Namespace) -> int:
    from alerts.worker import run_worker

    return run_worker(_settings(args), name=getattr(args, "name", None))


# -- alert rules in the alert_rules table (alerts.rules.store) --------------------------------
def _rules_conn(settings: Settings):
    from ioc.db import connect

    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (the alert_rules table is in the database)")
    return connect(settings.database, application_name="ioc-cli")


def cmd_alerts_rules_list(args: argparse.Namespace) -> int:
    from alerts.rules.store import list_rules

    settings = _settings(args)
    with _rules_conn(settings) as conn:
        listing, problems = list_rules(conn, settings.alerts.rules_file)
    print(f"{'id':<28} {'type':<16} {'state':<9} {'source':<11} changed by")
    for item in listing:
        state = "enabled" if item.rule.enabled else "disabled"
        print(f"{item.rule.id:<28} {item.rule.type:<16} {state:<9} {item.source:<11} "
              f"{item.updated_by or '-'}")
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0


def cmd_alerts_rules_show(args: argparse.Namespace) -> int:
    import yaml

    from alerts.rules.store import list_rules

    settings = _settings(args)
    with _rules_conn(settings) as conn:
        listing, _problems = list_rules(conn, settings.alerts.rules_file)
    item = next((i for i in listing if i.rule.id == args.rule_id), None)
    if item is None:
        print(f"ioc alerts rules show: no rule {args.rule_id!r} (see `ioc alerts rules list`)",
              file=sys.stderr)
        return 1
    definition = {"id": item.rule.id, "type": item.rule.type,
                  **item.rule.model_dump(mode="json", exclude_defaults=True)}
    changed = f", changed by {item.updated_by}" if item.updated_by else ""
    print(f"# source: {item.source}{changed}")
    print(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), end="")
    return 0


def _read_rule_file(path: str) -> list[dict]:
    """The rule mappings in a YAML or JSON file: one rule, or `rules:` with several."""
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: neither YAML nor JSON ({err})") from None
    if isinstance(data, dict) and set(data) == {"rules"} and isinstance(data["rules"], list):
        data = data["rules"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        raise UsageError(f"{path}: expected one rule (a mapping with id and type) or `rules:`")
    return items


def cmd_alerts_rules_set(args: argparse.Namespace) -> int:
    from alerts.rules import RulesError
    from alerts.rules.store import save_rule

    settings = _settings(args)
    definitions = _read_rule_file(args.file)
    with _rules_conn(settings) as conn:
        try:
            with conn.transaction():  # every rule of the file, or none
                saved = [save_rule(conn, d, _actor(args)) for d in definitions]
        except RulesError as err:
            print(f"ioc alerts rules set: {args.file}: {err}", file=sys.stderr)
            return 1
    for rule in saved:
        state = "enabled" if rule.enabled else "disabled"
        print(f"rule {rule.id} ({rule.type}) stored, {state}")
    return 0


def _rules_enable(args: argparse.Namespace, enabled: bool) -> int:
    from alerts.rules import RulesError, load_rules
    from alerts.rules.store import set_rule_enabled

    settings = _settings(args)
    with _rules_conn(settings) as conn:
        try:
            set_rule_enabled(conn, args.rule_id, enabled, _actor(args),
                             base=load_rules(settings.alerts.rules_file))
        except RulesError as err:
            print(f"ioc alerts rules {args.rules_command}: {err}", file=sys.stderr)
            return 1
    print(f"rule {args.rule_id} {'enabled' if enabled else 'disabled'}")
    return 0


def cmd_alerts_rules_enable(args: argparse.Namespace) -> int:
    return _rules_enable(args, True)


def cmd_alerts_rules_disable(args: argparse.Namespace) -> int:
    return _rules_enable(args, False)


def cmd_alerts_rules_delete(args: argparse.Namespace) -> int:
    from alerts.rules.store import delete_rule

    settings = _settings(args)
    with _rules_conn(settings) as conn:
        deleted = delete_rule(conn, args.rule_id, _actor(args))
    if not deleted:
        print(f"ioc alerts rules delete: no rule {args.rule_id!r} in the alert_rules table "
              "(a rule of the rules file cannot be deleted here: disable it)", file=sys.stderr)
        return 1
    print(f"rule {args.rule_id} deleted from the alert_rules table")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from dashboards.server import run_server

    return run_server(_settings(args), host=args.host, port=args.port)


def cmd_sim(args: argparse.Namespace) -> int:
    from sensors_sim.cli import run_sim

    return run_sim(_settings(args), args)


def cmd_layers_import(args: argparse.Namespace) -> int:
    from layers.cli import import_layer

    return import_layer(_settings(args), args, actor=_actor(args))


def cmd_layers_seed(args: argparse.Namespace) -> int:
    from layers.cli import seed_layers

    return seed_layers(_settings(args), actor=_cli_actor())


def cmd_units_migrate(args: argparse.Namespace) -> int:
    from layers.migrate_units import migrate_units

    return migrate_units(_settings(args), actor=_actor(args), dry_run=args.dry_run)


def cmd_kpi_import(args: argparse.Namespace) -> int:
    from kpi.cli import import_file

    return import_file(_settings(args), args.file, catalogue=args.catalogue)


def cmd_kpi_seed(args: argparse.Namespace) -> int:
    from kpi.cli import seed

    return seed(_settings(args), catalogue=args.catalogue, history=args.history)


def cmd_kpi_refresh(args: argparse.Namespace) -> int:
    from kpi.cli import refresh

    return refresh(_settings(args), days=args.days, catalogue=args.catalogue)


def cmd_devices(args: argparse.Namespace) -> int:
    from ioc.devices.cli import run

    return run(_settings(args), args, _actor(args))


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from evidence.cli import verify_command

    return verify_command(_settings(args), args)


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    data = settings.model_dump(mode="json", by_alias=True)
    for section in ("database", "mqtt", "redis"):
        if data[section].get("url"):
            data[section]["url"] = _redact(data[section]["url"])
    if data["database"].get("owner_url"):
        data["database"]["owner_url"] = _redact(data["database"]["owner_url"])
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


def _actor(args: argparse.Namespace) -> str:
    """Who an audited change is recorded as: `cli:<--actor>`, by default `cli:<OS user>`."""
    name = (getattr(args, "actor", None) or "").strip()
    return f"cli:{name}" if name else _cli_actor()


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


def cmd_users_unlock(args: argparse.Namespace) -> int:
    from ioc.security import users

    def change(conn, _s):
        user, cleared = users.unlock(conn, args.username, actor=_cli_actor())
        print(f"user {user.username}: {cleared} failed log-in attempts forgotten")
        return user

    return _user_change(args, change)


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
    p.add_argument("--fresh", action="store_true",
                   help="start from empty embedded servers (a new database, broker and Redis in "
                        "IOC_STATE_DIR); a scenario other than the last one does this by itself")

    add("services", cmd_services, "Start only the embedded database, broker and Redis; print URLs.")

    p = add("db", None, "Database tasks.")
    db_sub = p.add_subparsers(dest="db_command", metavar="TASK", required=True)
    m = db_sub.add_parser("migrate", help="Apply pending migrations (idempotent).")
    m.set_defaults(func=cmd_db_migrate)
    db_sub.add_parser(
        "status", help="Storage mode, retention settings and the maintenance jobs' last runs "
        "(exit 1 when a job's last run failed)."
    ).set_defaults(func=cmd_db_status)

    p = add("maintain", cmd_maintain, "Run the database maintenance: rollups and KPIs every "
            "minute, retention every hour, TimescaleDB jobs watched.")
    p.add_argument("--once", action="store_true", help="run every job once and exit "
                   "(exit 1 when one failed)")
    p.add_argument("--metrics-port", type=_port, default=None,
                   help="serve Prometheus metrics of the jobs on this port")

    p = add("ingest", cmd_ingest, "Run an ingest worker (MQTT to database and Redis).")
    p.add_argument("--name", default=None, help="worker name, stable across restarts so the broker session is found again (default: host name; give each worker on one host its own)")
    p.add_argument("action", nargs="?", choices=("run", "sessions"), default="run", help="run (default): run a worker; sessions: list the ingest sessions the broker holds, and what each has queued")
    p.add_argument("--retire", metavar="NAME", default=None, help="hand worker NAME's share to the other workers: store what its broker session still holds, then delete the session (NAME must be stopped)")
    p.add_argument("--retire-timeout", type=float, default=600.0, help="seconds --retire may take to store NAME's queue (default 600)")
    p.add_argument("--leave-on-stop", action="store_true", help="on SIGTERM, hand this worker's share to the others and delete its broker session (scaling down for good)")

    _add_alerts_parsers(add)

    p = add("web", cmd_web, "Run the web dashboards and HTTP API (gunicorn, as in production).")
    p.add_argument("--host", default=None, help="bind address (default from IOC_WEB_HOST)")
    p.add_argument("--port", type=_port, default=None, help="port (default from IOC_WEB_PORT)")

    p = add("sim", cmd_sim, "Run the device simulator.")
    from sensors_sim.cli import add_arguments

    add_arguments(p, _positive_float)

    p = add("layers", None, "Map layers.")
    l_sub = p.add_subparsers(dest="layers_command", metavar="TASK", required=True)
    li = l_sub.add_parser("import", help="Load a GeoJSON, GeoPackage or Shapefile layer.")
    li.add_argument("file", type=Path, metavar="FILE")
    li.add_argument("--name", default=None,
                    help="layer name, e.g. units or flood_zones (default: from the file name)")
    li.add_argument(
        "--kind", default="units",
        choices=["units", "zones", "points", "poi", "lines", "rivers"],
        help="what the features are (sets the geometry type required)",
    )
    _actor_option(li)
    li.set_defaults(func=cmd_layers_import)
    l_sub.add_parser(
        "seed", help="Store the demo province's layers if they are not there yet."
    ).set_defaults(func=cmd_layers_seed)

    p = add("units", None, "Administrative units (since 1 July 2025: communes and wards).")
    u_sub = p.add_subparsers(dest="units_command", metavar="TASK", required=True)
    um = u_sub.add_parser(
        "migrate",
        help="Move area keys of devices and alerts from former districts to the stored units "
        "(audited; running it again changes nothing).",
    )
    um.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    _actor_option(um)
    um.set_defaults(func=cmd_units_migrate)

    p = add("kpi", None, "Leadership KPIs: import reported figures, seed the demo, refresh.")
    k_sub = p.add_subparsers(dest="kpi_command", metavar="TASK", required=True)
    catalogue_help = "KPI catalogue YAML (default: the demo province's, kpi/data)"
    ki = k_sub.add_parser(
        "import", help="Check a CSV of reported figures and store it (all rows or none)."
    )
    ki.add_argument("file", type=Path, metavar="FILE", help="CSV file; columns in docs/kpi.md")
    ki.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    ki.set_defaults(func=cmd_kpi_import)
    ks = k_sub.add_parser("seed", help="Store the demo province's reported figures and targets.")
    ks.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    ks.add_argument("--history", type=int, default=0, metavar="DAYS",
                    help="also store DAYS days of demo telemetry KPIs before today, marked "
                         "demo-history, where no real value exists (ioc demo: 365)")
    ks.set_defaults(func=cmd_kpi_seed)
    kr = k_sub.add_parser(
        "refresh", help="Recompute the telemetry KPIs of the last days from the hourly rollups."
    )
    kr.add_argument("--days", type=_positive_int_days, default=2, metavar="N",
                    help="local days to recompute, today included (default 2)")
    kr.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    kr.set_defaults(func=cmd_kpi_refresh)
    from kpi.cli import add_targets_parser

    add_targets_parser(k_sub, catalogue_help, _actor_option,
                       lambda f: lambda args: f(_settings(args), args, _actor(args)))

    p = add("config", None, "Settings.")
    c_sub = p.add_subparsers(dest="config_command", metavar="TASK", required=True)
    c_sub.add_parser("show", help="Print the effective settings (secrets hidden).").set_defaults(
        func=cmd_config_show
    )
    _add_security_parsers(add)
    _add_evidence_parsers(add)
    _add_devices_parsers(add)
    _add_police_parsers(add)
    return parser


def _actor_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--actor", metavar="NAME", default=None,
                   help="who makes the change, recorded in the audit log as cli:NAME "
                        "(default: your OS user name)")


def _add_alerts_parsers(add: Callable) -> None:
    p = add("alerts", cmd_alerts,
            "Run the alerts worker; `ioc alerts rules ...` edits the admin's alert rules.")
    p.usage = "%(prog)s [-h] [--name NAME] [rules ACTION ...]"
    p.add_argument("--name", default=None,
                   help="worker name, stable across restarts so the worker takes back its own "
                   "unacknowledged stream entries at once (default: host name and process id; "
                   "give each worker its own)")
    # Optional: `ioc alerts` alone still runs the worker, as it always has.
    a_sub = p.add_subparsers(dest="alerts_command", metavar="TASK")
    rules = a_sub.add_parser(
        "rules", help="Alert rules in the database (override or extend the rules file).",
        description="Alert rules stored in the alert_rules table: they override the rules "
        "file's rule of the same id, or add to it. Every change is validated like the rules "
        "file and written to the audit log. Running workers pick changes up within "
        "alerts.reload_s (30 s).",
    )
    r_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)

    r = r_sub.add_parser("list", help="List the effective rules and where each comes from.",
                         description="List the effective rules: id, type, enabled or not, "
                         "source (file, table, or table+file: a row overriding a file rule) and "
                         "who last changed a row.")
    r.set_defaults(func=cmd_alerts_rules_list)

    r = r_sub.add_parser("show", help="Print one effective rule as YAML (usable with `set`).")
    r.add_argument("rule_id", metavar="ID")
    r.set_defaults(func=cmd_alerts_rules_show)

    r = r_sub.add_parser(
        "set", help="Validate a rule from a YAML or JSON file and store it.",
        description="Validate FILE with the rules file's models and store it in the "
        "alert_rules table (replacing a stored rule of the same id). FILE holds one rule "
        "(a mapping with id and type, as one entry of the rules file), or `rules:` with "
        "several (stored all or none); `-` reads standard input. A rule with enabled: false "
        "is stored switched off. Exit 0 stored, 1 refused (the reason names rule and key).",
    )
    r.add_argument("file", metavar="FILE")
    _actor_option(r)
    r.set_defaults(func=cmd_alerts_rules_set)

    for action, func, text in (
        ("enable", cmd_alerts_rules_enable, "Switch a rule on."),
        ("disable", cmd_alerts_rules_disable,
         "Switch a rule off (a rule of the file gets a table row that overrides it)."),
        ("delete", cmd_alerts_rules_delete,
         "Delete a table row: a rule of the file comes back as the file has it."),
    ):
        r = r_sub.add_parser(action, help=text, description=text)
        r.add_argument("rule_id", metavar="ID")
        _actor_option(r)
        r.set_defaults(func=func)


def _add_security_parsers(add: Callable) -> None:
    from ioc.security.roles import ROLES
    from ioc.security.tokens import SCOPES

    def password_options(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")
        g.add_argument("--generate", action="store_true",
                       help="generate a random password and print it once")

    p = add("users", None, "People who may log in: add, list, disable, enable, unlock, set-role.")
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
    uu = u_sub.add_parser("unlock", help="Let a locked-out user log in again: enable them and "
                          "forget their failed log-in attempts.")
    uu.add_argument("username", metavar="NAME")
    uu.set_defaults(func=cmd_users_unlock)
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
    from evidence.cli import add_arguments, add_subcommands

    p = add("evidence", None, "Camera evidence bundles exported from the police page.")
    e_sub = p.add_subparsers(dest="evidence_command", metavar="TASK", required=True)
    ev = e_sub.add_parser(
        "verify",
        help="Check that an evidence bundle is exactly as exported and signed by this IOC.",
        description="Check every file's SHA-256 and size against the manifest, look for added "
        "or removed files, check the manifest against manifest.sha256 and its Ed25519 "
        "signature against the trusted public key (--public-key, or the deployment's). "
        "Exit 0: unchanged and signed by the trusted key; 1: tampered; 2: usage; "
        "3: unchanged but origin not proven (unsigned or unknown key; 0 with --allow-unsigned).",
    )
    add_arguments(ev)
    ev.set_defaults(func=cmd_evidence_verify)
    audit = add("audit", None, "The tamper-evident records: audit log and evidence exports.")
    add_subcommands(e_sub, audit, _settings)


def _add_devices_parsers(add: Callable) -> None:
    from ioc.devices.cli import add_parsers

    add_parsers(add, cmd_devices, _actor_option)


def cmd_police(args: argparse.Namespace) -> int:
    from police.cli import media_command, watchlist_command

    if args.police_command == "watchlist":
        return watchlist_command(_settings(args), args, _actor(args))
    return media_command(_settings(args), args)


def _add_police_parsers(add: Callable) -> None:
    from police.cli import add_arguments

    p = add("police", cmd_police, "Police work: plate watchlists, media from Frigate.")
    add_arguments(p.add_subparsers(dest="police_command", metavar="TASK", required=True),
                  _actor_option)


# -- errors from the services, as one line each ------------------------------------------------
def _service_errors() -> tuple[type[BaseException], ...]:
    """The exceptions `main` reports as one line (imported only when something went wrong)."""
    import psycopg
    import redis

    from ioc.db.migrate import MigrationError
    from ioc.services.process import ServiceError

    return (psycopg.OperationalError, MigrationError, ServiceError,
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError)


def _one_line(err: BaseException) -> str:
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or repr(err)


def _db_address(url: str | None) -> str:
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url or "")
    except Exception:  # an unparsable URL: the error itself says more
        return "?"
    host = info.get("host") or info.get("hostaddr") or "localhost"
    return f"{host}:{info.get('port') or 5432}"


def _url_address(url: str | None, default_port: int) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url or "")
        return f"{parts.hostname or 'localhost'}:{parts.port or default_port}"
    except ValueError:
        return "?"


def service_error_message(err: BaseException, settings: Settings | None) -> str:
    """One line for an unreachable service or a failed migration, naming the setting (pure)."""
    import psycopg
    import redis

    from ioc.db.migrate import MigrationError
    from ioc.services.process import ServiceError

    detail = _one_line(err)
    if isinstance(err, psycopg.OperationalError):
        where = _db_address(settings.database.url if settings else None)
        state = getattr(err, "sqlstate", None)
        if state is None or state.startswith(("08", "28", "57P")):
            return f"ioc: cannot reach the database at {where} (IOC_DATABASE_URL): {detail}"
        return f"ioc: database error at {where} (IOC_DATABASE_URL): {detail}"
    if isinstance(err, MigrationError):
        return f"ioc: database migration failed: {detail}"
    if isinstance(err, ServiceError):
        return f"ioc: an embedded service could not be started: {detail}"
    if isinstance(err, redis.exceptions.RedisError):
        where = _url_address(settings.redis.url if settings else None, 6379)
        return f"ioc: cannot reach Redis at {where} (IOC_REDIS_URL): {detail}"
    if isinstance(err, ConnectionError) and detail.startswith("MQTT"):
        where = _url_address(settings.mqtt.url if settings else None, 1883)
        return f"ioc: cannot reach the MQTT broker at {where} (IOC_MQTT_URL): {detail}"
    return f"ioc: connection failed: {detail}"


# Long-running processes: they must connect as the runtime role (docs/security.md).
RUNTIME_COMMANDS = frozenset({"ingest", "alerts", "web", "sim", "maintain"})


def check_runtime_role(settings: Settings) -> None:
    """Production refuses a process that would connect as a superuser or the tables' owner;
    elsewhere it is a warning. Skipped when the database cannot be reached yet (the process
    reports or waits for that itself)."""
    import psycopg

    from ioc.db import connect
    from ioc.db.privileges import owner_powers

    if not settings.database.url:
        return
    try:
        with connect(settings.database, application_name="ioc-role-check") as conn:
            reason = owner_powers(conn, settings.database.schema_name)
    except psycopg.OperationalError as err:
        log.debug("runtime role not checked: %s", err)
        return
    if reason is None:
        return
    message = (f"IOC_DATABASE_URL: {reason}; the processes must connect as the runtime role, "
               "which owns nothing (docs/security.md, \"Database roles\")")
    if settings.env == "production":
        raise ConfigError(message)
    log.warning("%s; append-only is not enforced against this process", message)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = None
    try:
        settings = load_settings(config_file=args.config)
        setup_logging(settings)
        if args.command in RUNTIME_COMMANDS:
            check_runtime_role(settings)
        return args.func(args) or 0
    except ConfigError as err:
        print(f"ioc: configuration error: {err}", file=sys.stderr)
        return 2
    except UsageError as err:
        print(f"ioc {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except _service_errors() as err:
        log.debug("%s", err, exc_info=True)
        print(service_error_message(err, settings), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
