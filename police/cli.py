"""`ioc police watchlist add|remove|list` and `ioc police media fetch`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable

from ioc.commands import AddCommand, actor_of, add_actor_option, settings_of
from ioc.config import Settings
from ioc.config.loader import ConfigError

log = logging.getLogger(__name__)


def cmd_police(args: argparse.Namespace) -> int:
    if args.police_command == "watchlist":
        return watchlist_command(settings_of(args), args, actor_of(args))
    return media_command(settings_of(args), args)


def register(add: AddCommand) -> None:
    """`ioc police watchlist ...` and `ioc police media fetch`."""
    p = add("police", cmd_police, "Police work: plate watchlists, media from Frigate.")
    add_arguments(p.add_subparsers(dest="police_command", metavar="TASK", required=True),
                  add_actor_option)


def add_arguments(sub, actor_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `ioc police` subcommands on `sub` (an argparse subparsers object)."""
    w = sub.add_parser("watchlist", help="Plates the police are looking for (audited).")
    w_sub = w.add_subparsers(dest="watch_command", metavar="ACTION", required=True)
    wa = w_sub.add_parser("add", help="Put a plate on the watchlist (its sightings of the last "
                                      "30 days become queue hits).")
    wa.add_argument("plate", help="the plate in any spelling: 24A-686.68, 24A68668")
    wa.add_argument("--reason", required=True, help="why the plate is wanted (required)")
    wa.add_argument("--expires-days", type=int, metavar="N", default=None,
                    help="the entry ends after N days (default: never)")
    actor_option(wa)
    wr = w_sub.add_parser("remove", help="Take a plate off the watchlist.")
    wr.add_argument("plate")
    actor_option(wr)
    wl = w_sub.add_parser("list", help="The watchlist (newest first).")
    wl.add_argument("--all", action="store_true", help="removed entries too")
    wl.add_argument("--json", action="store_true", help="one JSON document")
    m = sub.add_parser("media", help="Snapshots and clips from Frigate's HTTP API.")
    m_sub = m.add_subparsers(dest="media_command", metavar="ACTION", required=True)
    mf = m_sub.add_parser(
        "fetch", help="Fetch the snapshots and clips of ended Frigate incidents in the police "
        "queue from police.frigate_url (IOC_POLICE_FRIGATE_URL) and store them by SHA-256.")
    mf.add_argument("--follow", action="store_true", help="keep fetching (Ctrl-C stops)")
    mf.add_argument("--interval", type=float, default=15.0, metavar="S",
                    help="seconds between rounds with --follow (default 15)")
    mf.add_argument("--limit", type=int, default=50, metavar="N",
                    help="incidents per round (default 50)")


def _entry_json(e) -> dict:
    return {"id": e.id, "plate": e.plate, "plate_key": e.plate_key, "reason": e.reason,
            "added_by": e.added_by, "added_at": e.added_at.isoformat(),
            "expires_at": e.expires_at.isoformat() if e.expires_at else None,
            "removed_by": e.removed_by,
            "removed_at": e.removed_at.isoformat() if e.removed_at else None}


def watchlist_command(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    from ioc.db import connect
    from police import watchlist
    from police.rules import load_rules

    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (the watchlist lives in the database)")
    rules = load_rules(settings.police.queue_rules_file)
    with connect(settings.database) as conn:
        try:
            if args.watch_command == "list":
                entries = watchlist.list_entries(conn, include_removed=args.all)
                if args.json:
                    print(json.dumps([_entry_json(e) for e in entries], ensure_ascii=False,
                                     indent=2))
                else:
                    for e in entries:
                        until = f" until {e.expires_at:%Y-%m-%d %H:%M}Z" if e.expires_at else ""
                        gone = f" [removed by {e.removed_by}]" if e.removed_at else ""
                        print(f"{e.plate}\t{e.reason}\t{e.added_by} {e.added_at:%Y-%m-%d %H:%M}Z"
                              f"{until}{gone}")
                return 0
            with conn.transaction():
                if args.watch_command == "add":
                    if args.expires_days is not None and args.expires_days < 1:
                        raise watchlist.WatchlistError("--expires-days: at least 1")
                    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)
                               if args.expires_days else None)
                    e = watchlist.add(conn, args.plate, args.reason, actor=actor, rules=rules,
                                      expires_at=expires)
                    print(f"added {e.plate} (key {e.plate_key})")
                else:
                    e = watchlist.remove(conn, args.plate, actor=actor, rules=rules)
                    print(f"removed {e.plate} (key {e.plate_key})")
        except watchlist.WatchlistError as err:
            print(f"ioc police watchlist {args.watch_command}: {err}", file=sys.stderr)
            return 2
    return 0


def media_command(settings: Settings, args: argparse.Namespace) -> int:
    from ioc.db import connect
    from police.frigate_media import FrigateClient, fetch_pending

    if not settings.police.frigate_url:
        raise ConfigError("IOC_POLICE_FRIGATE_URL: not set (where is Frigate's HTTP API?)")
    client = FrigateClient(settings.police.frigate_url, settings.police.frigate_timeout_s)
    missing: set[tuple[str, str]] = set()  # what Frigate said it does not have
    with connect(settings.database) as conn:
        while True:
            report = fetch_pending(conn, client, args.limit, missing)
            print(f"stored {report.stored}, not in Frigate {report.missing}, "
                  f"failed {report.failed}", flush=True)
            if not args.follow:
                return 0 if report.failed == 0 else 1
            time.sleep(max(1.0, args.interval))
