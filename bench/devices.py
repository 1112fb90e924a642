"""Device registry benchmark: `ioc devices import` of 10,000 devices against row-by-row inserts.

    python bench/devices.py                 # 10,000 devices
    python bench/devices.py --devices 50000

In its own embedded PostgreSQL under a temporary directory (or the database of
IOC_BENCH_DATABASE_URL, in schemas of its own that are dropped afterwards):

1. writes a registry CSV of `--devices` devices (a fifth of them water-level stations with
   alarm levels, the rest rain gauges, air-quality stations, cameras, visitor counters);
2. parses and checks it (`ioc.devices.formats.parse_registry`, as `ioc devices import` does);
3. imports it into an empty registry with the real code (`ioc.devices.store.import_entries`:
   COPY into a staging table, one upsert, one alarm-level history insert), then again
   unchanged, then with a tenth of the devices changed (names, and levels of stations);
4. as the baseline, in the same run, stores the same entries one INSERT ... ON CONFLICT per
   device (and one history insert per station), in one transaction, into a second schema.

The last line printed is one JSON object: devices, parse_s, import_s, total_s (parse + import),
reimport_unchanged_s, reimport_changed_s, baseline_row_by_row_s and ratio (baseline / import).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from ioc.config import DatabaseSettings  # noqa: E402
from ioc.db import connect  # noqa: E402
from ioc.db.migrate import migrate  # noqa: E402
from ioc.devices.formats import CSV_COLUMNS, parse_registry  # noqa: E402
from ioc.devices.store import import_entries  # noqa: E402

UNITS = ("02647", "02683", "03006", "02947", "02989", "04252", "02905", "02926", "04279")


def log(message: str) -> None:
    print(message, flush=True)


def registry_csv(n: int, *, changed_every: int = 0) -> str:
    """A registry CSV of `n` devices; with changed_every=k every k-th device differs."""
    rows = [",".join(CSV_COLUMNS)]
    col = {c: i for i, c in enumerate(CSV_COLUMNS)}
    for i in range(n):
        cells = [""] * len(CSV_COLUMNS)
        change = changed_every and i % changed_every == 0
        kind = ("water_level", "rain_gauge", "air_quality", "camera", "visitor_counter")[i % 5]
        cells[col["id"]] = f"{kind[:2]}-{i:06d}"
        cells[col["name"]] = f"Thiết bị {i}" + (" (mới)" if change else "")
        cells[col["kind"]] = kind
        cells[col["unit"]] = UNITS[i % len(UNITS)]
        cells[col["lon"]] = f"{103.5 + (i % 1000) / 1000:.4f}"
        cells[col["lat"]] = f"{21.5 + (i // 1000 % 100) / 100:.4f}"
        if kind == "water_level":
            base = 50 + i % 40 + (0.5 if change else 0)
            cells[col["river"]] = "sông Hồng"
            cells[col["datum"]] = "cao độ quốc gia"
            cells[col["alarm_level_1"]] = f"{base:.1f}"
            cells[col["alarm_level_2"]] = f"{base + 1.5:.1f}"
            cells[col["alarm_level_3"]] = f"{base + 3:.1f}"
        elif kind == "camera":
            cells[col["zones"]] = "road;entrance"
        elif kind == "visitor_counter":
            cells[col["capacity"]] = str(1000 + i % 5000)
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def row_by_row(conn: psycopg.Connection, entries) -> None:
    """The baseline: one statement per device (and per station's levels), one transaction."""
    with conn.transaction():
        for e in entries:
            loc = e.location
            conn.execute(
                "INSERT INTO devices AS d (device_id, family, kind, name, lon, lat, unit_id, "
                "metadata, expected_interval_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (device_id) DO UPDATE SET name = EXCLUDED.name, "
                "metadata = EXCLUDED.metadata, updated_at = now()",
                (e.id, e.device_family, e.kind, e.name, loc.lon if loc else None,
                 loc.lat if loc else None, e.unit, Jsonb(e.metadata), e.interval_s))
            levels = e.alarm_levels
            if levels is not None:
                conn.execute(
                    "INSERT INTO device_alarm_levels (device_id, version, level_1, level_2, "
                    "level_3, changed_by) VALUES (%s, 1, %s, %s, %s, 'bench') "
                    "ON CONFLICT DO NOTHING", (e.id, *levels.as_tuple()))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    args = parser.parse_args(argv)
    state = Path(tempfile.mkdtemp(prefix="ioc-bench-devices-"))
    server = None
    url = os.environ.get("IOC_BENCH_DATABASE_URL")
    if not url:
        from ioc.services.postgres import EmbeddedPostgres

        server = EmbeddedPostgres(state)
        url = server.start()
    schemas = [f"bench_dev_{uuid.uuid4().hex[:8]}", f"bench_row_{uuid.uuid4().hex[:8]}"]
    try:
        dbs = [DatabaseSettings(url=url, schema=s) for s in schemas]
        for db in dbs:
            migrate(db, timescale_enabled=False)
        text = registry_csv(args.devices).encode()
        log(f"registry CSV: {args.devices} devices, {len(text) / 1e6:.1f} MB")
        parsed, parse_s = timed(lambda: parse_registry(text, "csv"))
        assert parsed.ok, parsed.messages()[:5]
        entries = [e for _, e in parsed.entries]
        log(f"parsed and checked in {parse_s:.2f} s")
        with connect(dbs[0]) as conn:
            result, import_s = timed(lambda: import_entries(conn, entries, actor="bench",
                                                            source="bench"))
            assert len(result.created) == args.devices
            log(f"imported in {import_s:.2f} s: {result.summary()}")
            again, unchanged_s = timed(lambda: import_entries(conn, entries, actor="bench",
                                                              source="bench"))
            assert again.unchanged == args.devices
            log(f"re-imported unchanged in {unchanged_s:.2f} s")
            changed = [e for _, e in parse_registry(
                registry_csv(args.devices, changed_every=10).encode(), "csv").entries]
            third, changed_s = timed(lambda: import_entries(conn, changed, actor="bench",
                                                            source="bench"))
            log(f"re-imported with changes in {changed_s:.2f} s: {third.summary()}")
        with connect(dbs[1]) as conn:
            _, baseline_s = timed(lambda: row_by_row(conn, entries))
            stored = conn.execute("SELECT count(*) FROM devices").fetchone()[0]
            assert stored == args.devices
        log(f"baseline, row by row: {baseline_s:.2f} s")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for s in schemas:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(s)))
        if server is not None:
            server.stop()
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps({
        "devices": args.devices, "parse_s": round(parse_s, 3), "import_s": round(import_s, 3),
        "total_s": round(parse_s + import_s, 3), "reimport_unchanged_s": round(unchanged_s, 3),
        "reimport_changed_s": round(changed_s, 3), "levels_changed": len(third.levels_changed),
        "baseline_row_by_row_s": round(baseline_s, 3),
        "ratio": round(baseline_s / import_s, 1),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
