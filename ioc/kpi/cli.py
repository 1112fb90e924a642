"""The `ioc kpi import`, `ioc kpi seed` and `ioc kpi refresh` commands."""

from __future__ import annotations

import sys
from pathlib import Path

from ioc.config import ConfigError, Settings
from ioc.kpi.catalogue import DEFAULT_SEED, CatalogueError, load_catalogue
from ioc.kpi.importer import ImportReport, import_csv
from ioc.kpi.telemetry import refresh_kpis


def _connect(settings: Settings):
    from ioc.db.connect import connect

    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (`ioc demo` starts an embedded database)")
    return connect(settings.database, application_name="ioc-kpi")


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


def seed(settings: Settings, *, catalogue: Path | None = None) -> int:
    """Store the demo province's reported figures (idempotent: stored values are replaced)."""
    cat = _catalogue(catalogue)
    with _connect(settings) as conn:
        report = import_csv(conn, DEFAULT_SEED.read_bytes(), source=f"seed:{DEFAULT_SEED.name}",
                            actor="seed", catalogue=cat)
    return _print_report(report, "ioc kpi seed")


def refresh(settings: Settings, *, days: int, catalogue: Path | None = None) -> int:
    """Recompute the telemetry KPIs of the last DAYS local days from the hourly rollups."""
    cat = _catalogue(catalogue)
    with _connect(settings) as conn:
        report = refresh_kpis(conn, days=days, catalogue=cat)
    print(f"telemetry KPIs: {report.values} value(s) for {report.first_day} .. {report.last_day} "
          f"in {report.elapsed_ms:.0f} ms")
    return 0
