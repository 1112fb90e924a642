"""`ioc web`: the web dashboards and the HTTP API (gunicorn, as in production)."""

from __future__ import annotations

import argparse

from ioc.commands import AddCommand, port, settings_of


def cmd_web(args: argparse.Namespace) -> int:
    from dashboards.server import run_server

    return run_server(settings_of(args), host=args.host, port=args.port)


def register(add: AddCommand) -> None:
    """`ioc web`."""
    p = add("web", cmd_web, "Run the web dashboards and HTTP API (gunicorn, as in production).")
    p.add_argument("--host", default=None, help="bind address (default from IOC_WEB_HOST)")
    p.add_argument("--port", type=port, default=None, help="port (default from IOC_WEB_PORT)")
