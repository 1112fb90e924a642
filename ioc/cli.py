"""The `ioc` command: one entry point, a subcommand per job (the composition root).

Every package registers its own subcommands (`register(add)` in its `cli.py`); this module
calls them in the order of `--help`, owns the core's own subcommands (demo, services, db,
maintain, config) and turns service errors into one line. With `ioc.demo` (the demo's
signing key) and `ioc.maintain` (the KPI refresh) it is the only part of the core that imports
a package above it, each such import named in the import contracts of pyproject.toml.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ioc.commands import UsageError, port, positive_float, settings_of
from ioc.config import ConfigError, Settings, load_settings
from ioc.logs import setup_logging

log = logging.getLogger("ioc")

__all__ = ["UsageError", "build_parser", "check_runtime_role", "main", "service_error_message"]


def registrars() -> list[Callable]:
    """Each package's `register(add)`, in the order `ioc --help` lists them."""
    from alerts.cli import register as alerts
    from dashboards.cli import register as web
    from evidence.cli import register as evidence
    from ingest.cli import register as ingest
    from ioc.devices.cli import register as devices
    from ioc.security.cli import register as security
    from kpi.cli import register as kpi
    from layers.cli import register as layers
    from police.cli import register as police
    from sensors_sim.cli import register as sim

    return [ingest, alerts, web, sim, layers, kpi, _register_config, security, evidence,
            devices, police]


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

    settings = settings_of(args)
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

    settings = settings_of(args)
    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (`ioc demo` starts an embedded database)")
    return print_status(settings)


def cmd_maintain(args: argparse.Namespace) -> int:
    from ioc.maintain import run_maintain

    return run_maintain(settings_of(args), once=args.once, metrics_port=args.metrics_port)


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = settings_of(args)
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

    def add(name: str, func: Callable | None, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    _register_core(add)
    for register in registrars():
        register(add)
    return parser


def _register_core(add: Callable) -> None:
    """The core's own subcommands: demo, services, db, maintain."""
    from sensors_sim.scenarios import SCENARIOS

    p = add("demo", cmd_demo, "Start the whole IOC with embedded services and simulated devices.")
    p.add_argument("--scenario", default="normal", choices=sorted(SCENARIOS), help="simulator scenario")
    p.add_argument("--speed", type=positive_float, default=1.0, help="simulated seconds per second")
    p.add_argument("--port", type=port, default=None, help="web port (default 8050, or a free one)")
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
    p.add_argument("--metrics-port", type=port, default=None,
                   help="serve Prometheus metrics of the jobs on this port")


def _register_config(add: Callable) -> None:
    p = add("config", None, "Settings.")
    c_sub = p.add_subparsers(dest="config_command", metavar="TASK", required=True)
    c_sub.add_parser("show", help="Print the effective settings (secrets hidden).").set_defaults(
        func=cmd_config_show
    )


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
