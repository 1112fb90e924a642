"""`ioc ingest`: run an ingest worker, list the broker's ingest sessions, retire a worker."""

from __future__ import annotations

import argparse

from ioc.commands import AddCommand, settings_of


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.run import list_sessions, retire, run_worker

    if args.action == "sessions":
        return list_sessions(settings_of(args))
    if args.retire:
        return retire(settings_of(args), args.retire, timeout=args.retire_timeout)
    return run_worker(settings_of(args), name=args.name, leave_on_stop=args.leave_on_stop)


def register(add: AddCommand) -> None:
    """`ioc ingest [run|sessions]`."""
    p = add("ingest", cmd_ingest, "Run an ingest worker (MQTT to database and Redis).")
    p.add_argument("--name", default=None, help="worker name, stable across restarts so the broker session is found again (default: host name; give each worker on one host its own)")
    p.add_argument("action", nargs="?", choices=("run", "sessions"), default="run", help="run (default): run a worker; sessions: list the ingest sessions the broker holds, and what each has queued")
    p.add_argument("--retire", metavar="NAME", default=None, help="hand worker NAME's share to the other workers: store what its broker session still holds, then delete the session (NAME must be stopped)")
    p.add_argument("--retire-timeout", type=float, default=600.0, help="seconds --retire may take to store NAME's queue (default 600)")
    p.add_argument("--leave-on-stop", action="store_true", help="on SIGTERM, hand this worker's share to the others and delete its broker session (scaling down for good)")
