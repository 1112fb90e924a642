"""The `ioc kpi import`, `seed`, `refresh` and `targets` commands."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ioc.commands import (
    AddCommand,
    actor_of,
    add_actor_option,
    database,
    positive_int_days,
    settings_of,
)
from ioc.config import ConfigError, Settings
from kpi.catalogue import DEFAULT_SEED, CatalogueError, Target, Text, load_catalogue
from kpi.importer import ImportReport, import_csv
from kpi.targets import merge
from kpi.telemetry import refresh_kpis


def _connect(settings: Settings):
    return database(settings, "ioc-kpi", "`ioc demo` starts an embedded database")


def _catalogue(path: Path | None):
    try:
        return load_catalogue(path)
    except CatalogueError as err:
        raise ConfigError(f"KPI catalogue: {err}") from err


def _print_report(report: ImportReport, command: str) -> int:
    if report.ok:
        print(report.summary())
        return 0
    print(f"{command}: {report.summary()}", file=sys.stderr)
    for message in report.messages():
        print(f"  - {message}", file=sys.stderr)
    return 1


def import_file(settings: Settings, path: Path, *, catalogue: Path | None = None) -> int:
    """Check FILE and store its values: 0 stored, 1 refused (every problem printed)."""
    cat = _catalogue(catalogue)
    try:
        data = path.read_bytes()
    except OSError as err:
        print(f"ioc kpi import: cannot read {path}: {err.strerror}", file=sys.stderr)
        return 1
    with _connect(settings) as conn:
        report = import_csv(conn, data, source=f"file:{path.name}", actor="cli", catalogue=cat)
    return _print_report(report, "ioc kpi import")


def seed(settings: Settings, *, catalogue: Path | None = None, history: int = 0) -> int:
    """Store the demo province's reported figures (idempotent: stored values are replaced)
    and, with `history`, that many days of demo telemetry KPIs before today."""
    from kpi.history import seed_history

    cat = _catalogue(catalogue)
    with _connect(settings) as conn:
        report = import_csv(conn, DEFAULT_SEED.read_bytes(), source=f"seed:{DEFAULT_SEED.name}",
                            actor="seed", catalogue=cat)
        if report.ok and history:
            today = dt.datetime.now(cat.zone).date()
            with conn.transaction():
                stored = seed_history(conn, cat, days=history, today=today)
            print(f"{stored} demo value(s) of the {history} days before today stored "
                  "(source demo-history)")
    return _print_report(report, "ioc kpi seed")


def refresh(settings: Settings, *, days: int, catalogue: Path | None = None) -> int:
    """Recompute the telemetry KPIs of the last DAYS local days from the hourly rollups."""
    cat = _catalogue(catalogue)
    with _connect(settings) as conn:
        report = refresh_kpis(conn, days=days, catalogue=cat)
    print(f"telemetry KPIs: {report.values} value(s) for {report.first_day} .. {report.last_day} "
          f"in {report.elapsed_ms:.0f} ms")
    return 0


# -- `ioc kpi targets list|set|remove` ------------------------------------------------------------
def _day(text: str) -> dt.date:
    """`2026` (1 January or, for --due, 31 December is added by the caller) or YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def targets_list(settings: Settings, *, kpi_id: str | None, catalogue: Path | None) -> int:
    """Every KPI's targets per period, marking those stored in the database."""
    from kpi.targets import stored_targets

    cat = _catalogue(catalogue)
    with _connect(settings) as conn:
        stored = stored_targets(conn)
    merged = merge(cat, stored)
    for kpi in merged.kpis:
        if kpi_id and kpi.id != kpi_id:
            continue
        if not kpi.targets:
            print(f"{kpi.id}: no target (shown for context)")
        own = {t.start for t in stored.get(kpi.id, ())}
        for t in sorted(kpi.targets, key=lambda t: t.start):
            where = "database" if t.start in own else "catalogue"
            sign = ">=" if kpi.higher_is_better else "<="
            print(f"{kpi.id}: {t.label()} {sign} {t.value:g} (due {t.due.isoformat()}, "
                  f"{t.basis}, {where}){'  ' + t.document if t.document else ''}")
    return 0


def targets_set(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    from kpi.targets import TargetError, set_target

    cat = _catalogue(args.catalogue)
    note = Text(vi=args.note, en=args.note_en or "") if args.note else None
    try:
        target = Target(value=args.value, start=args.start, due=args.due, basis=args.basis,
                        document=args.document, note=note)
    except ValueError as err:
        print(f"ioc kpi targets set: {err}", file=sys.stderr)
        return 2
    with _connect(settings) as conn:
        try:
            set_target(conn, cat, args.kpi, target, actor=actor)
        except TargetError as err:
            print(f"ioc kpi targets set: {err}", file=sys.stderr)
            return 1
    print(f"{args.kpi}: target {target.label()} = {target.value:g} stored")
    return 0


def targets_remove(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    from kpi.targets import remove_target

    with _connect(settings) as conn:
        removed = remove_target(conn, args.kpi, args.start, actor=actor)
    if not removed:
        print(f"ioc kpi targets remove: no stored target of {args.kpi} starting "
              f"{args.start.isoformat()}", file=sys.stderr)
        return 1
    print(f"{args.kpi}: stored target from {args.start.isoformat()} removed")
    return 0


def cmd_kpi_import(args: argparse.Namespace) -> int:
    return import_file(settings_of(args), args.file, catalogue=args.catalogue)


def cmd_kpi_seed(args: argparse.Namespace) -> int:
    return seed(settings_of(args), catalogue=args.catalogue, history=args.history)


def cmd_kpi_refresh(args: argparse.Namespace) -> int:
    return refresh(settings_of(args), days=args.days, catalogue=args.catalogue)


CATALOGUE_HELP = "KPI catalogue YAML (default: the demo province's, kpi/data)"


def register(add: AddCommand) -> None:
    """`ioc kpi import|seed|refresh|targets`."""
    p = add("kpi", None, "Leadership KPIs: import reported figures, seed the demo, refresh.")
    k_sub = p.add_subparsers(dest="kpi_command", metavar="TASK", required=True)
    ki = k_sub.add_parser(
        "import", help="Check a CSV of reported figures and store it (all rows or none)."
    )
    ki.add_argument("file", type=Path, metavar="FILE", help="CSV file; columns in docs/kpi.md")
    ki.add_argument("--catalogue", type=Path, metavar="FILE", help=CATALOGUE_HELP)
    ki.set_defaults(func=cmd_kpi_import)
    ks = k_sub.add_parser("seed", help="Store the demo province's reported figures and targets.")
    ks.add_argument("--catalogue", type=Path, metavar="FILE", help=CATALOGUE_HELP)
    ks.add_argument("--history", type=int, default=0, metavar="DAYS",
                    help="also store DAYS days of demo telemetry KPIs before today, marked "
                         "demo-history, where no real value exists (ioc demo: 365)")
    ks.set_defaults(func=cmd_kpi_seed)
    kr = k_sub.add_parser(
        "refresh", help="Recompute the telemetry KPIs of the last days from the hourly rollups."
    )
    kr.add_argument("--days", type=positive_int_days, default=2, metavar="N",
                    help="local days to recompute, today included (default 2)")
    kr.add_argument("--catalogue", type=Path, metavar="FILE", help=CATALOGUE_HELP)
    kr.set_defaults(func=cmd_kpi_refresh)
    add_targets_parser(k_sub, CATALOGUE_HELP)


def _run(func):
    """A parser's `func` for a function of (settings, args, actor)."""
    return lambda args: func(settings_of(args), args, actor_of(args))


def add_targets_parser(k_sub, catalogue_help: str) -> None:
    """`ioc kpi targets list|set|remove`."""
    actor_option, run = add_actor_option, _run
    p = k_sub.add_parser(
        "targets", help="Targets per plan period (e.g. 2026-2030), kept in the database.",
        description="List, set or remove a KPI's target for one plan period. A stored target "
                    "replaces the catalogue's for the same period start; every change is "
                    "audited.")
    t_sub = p.add_subparsers(dest="targets_command", metavar="ACTION", required=True)
    tl = t_sub.add_parser("list", help="Every target, from the catalogue and the database.")
    tl.add_argument("kpi", nargs="?", metavar="KPI", help="only this KPI id")
    tl.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    tl.set_defaults(func=run(lambda s, a, _actor: targets_list(s, kpi_id=a.kpi,
                                                               catalogue=a.catalogue)))
    ts = t_sub.add_parser("set", help="Store a KPI's target for a period.")
    ts.add_argument("kpi", metavar="KPI", help="KPI id (see `ioc kpi targets list`)")
    ts.add_argument("--value", type=float, required=True, help="the value to reach")
    ts.add_argument("--start", type=_day, required=True, metavar="YYYY-MM-DD",
                    help="first day of the period, e.g. 2026-01-01")
    ts.add_argument("--due", type=_day, required=True, metavar="YYYY-MM-DD",
                    help="last day of the period, when it is due, e.g. 2030-12-31")
    ts.add_argument("--basis", choices=("plan", "national", "demo"), required=True,
                    help="where the target comes from")
    ts.add_argument("--document", required=True,
                    help="the document that sets it, e.g. 'Nghị quyết 12/NQ-HĐND, 2026'")
    ts.add_argument("--note", help="a note in Vietnamese")
    ts.add_argument("--note-en", help="the note in English")
    ts.add_argument("--catalogue", type=Path, metavar="FILE", help=catalogue_help)
    actor_option(ts)
    ts.set_defaults(func=run(targets_set))
    tr = t_sub.add_parser("remove", help="Remove a stored target (the catalogue's applies).")
    tr.add_argument("kpi", metavar="KPI")
    tr.add_argument("--start", type=_day, required=True, metavar="YYYY-MM-DD")
    actor_option(tr)
    tr.set_defaults(func=run(targets_remove))
