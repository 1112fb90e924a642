"""What every package's `ioc` subcommands share: registration, settings, the actor, errors.

Each package owns its subcommands in its own `cli.py` with a `register(add)` function;
`ioc/cli.py` (the composition root) builds the parser by calling them in turn. A package's
`cli.py` imports this module, never `ioc.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Protocol

from ioc.config import ConfigError, Settings, load_settings


class UsageError(Exception):
    """A wrong argument: the message says which and why (`ioc` prints it, exit 2)."""


class AddCommand(Protocol):
    """`add(name, func, help)`: a new `ioc NAME` subcommand running `func(args)` (None: its
    own subcommands set `func`), with `help` as its help and description."""

    def __call__(self, name: str, func: Callable[[argparse.Namespace], int] | None,
                 help_text: str) -> argparse.ArgumentParser: ...


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings; a service URL left unset is the running demo's (found in IOC_STATE_DIR)."""
    from ioc.running import with_running_services

    return with_running_services(load_settings(config_file=args.config))


def database(settings: Settings, application_name: str, why: str):
    """A connection to the database; a clear error naming IOC_DATABASE_URL when it is unset.
    `why` says what is in the database ("users live in the database")."""
    from ioc.db import connect

    if not settings.database.url:
        raise ConfigError(f"IOC_DATABASE_URL: not set ({why})")
    return connect(settings.database, application_name=application_name)


# -- who makes an audited change ----------------------------------------------------------------
def cli_actor() -> str:
    """`cli:<OS user>` (or `cli` in a bare container without a user name)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a bare container
        return "cli"


def actor_of(args: argparse.Namespace) -> str:
    """Who an audited change is recorded as: `cli:<--actor>`, by default `cli:<OS user>`."""
    name = (getattr(args, "actor", None) or "").strip()
    return f"cli:{name}" if name else cli_actor()


def add_actor_option(p: argparse.ArgumentParser) -> None:
    """The `--actor NAME` option of a subcommand that makes an audited change."""
    p.add_argument("--actor", metavar="NAME", default=None,
                   help="who makes the change, recorded in the audit log as cli:NAME "
                        "(default: your OS user name)")


# -- argument types ------------------------------------------------------------------------------
def _positive(text: str, kind: type[int] | type[float], what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def positive_float(text: str) -> float:
    return _positive(text, float, "a number")


def positive_int(text: str) -> int:
    return _positive(text, int, "a whole number")


def positive_int_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3660:
        raise argparse.ArgumentTypeError(f"expected a number of days 1-3660, got {text!r}")
    return int(text)


def port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


