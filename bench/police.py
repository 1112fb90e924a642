"""Police page benchmark: the first paint of /police with 30 days of 2,000 cameras' detections.

    python bench/police.py               # default: scale 0.1 (200 cameras, ~2.9 M detections)
    python bench/police.py --scale 1     # the bar's case: 2,000 cameras, ~28.8 M detections

What it does, in its own embedded PostgreSQL under a temporary directory (or the database of
IOC_BENCH_DATABASE_URL, in a schema of its own that is dropped afterwards):

1. registers 2,000*scale cameras over 99 communes and generates `--days` days of their
   detections, `--per-hour` per camera and hour, with `generate_series` inside PostgreSQL, one
   day per statement: 97 % ordinary people and vehicles (about half of the cars with a plate),
   3 % incidents (traffic violations, fights, smoke, fire, accidents, intrusions);
2. fills the police queue as the ingest worker does: each incident's priority comes from the
   built-in queue rules (police/queue_rules.yaml); decisions for 80 % of the queue older
   than a day; 50 plates on the watchlist, one of them seen today;
3. runs the page's first paint (`dashboards.police_queries`: filter options, the queue's first
   page with its count, the watchlist banner, the detection count) `--repeats` times;
4. in the same run, the page's first paint before the queue (incidents of the last 7 days,
   unreviewed first then newest first, 200 rows; incident types seen in 90 days) as the
   baseline.

The last line printed is one JSON object: p95_ms (first paint), baseline_p95_ms, ratio, rows
(detections generated), queued, the scale and the timings of each phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve().parent)
# This file is called police.py: keep the bench directory off the path so `import police` finds
# the package, not this script (the other bench scripts are imported as `bench.<name>`).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.kpi import log, start_database  # noqa: E402
from ioc.config import DatabaseSettings  # noqa: E402

FULL_CAMERAS = 2000
UNITS = 99
# incident types among the 3 % of detections that are incidents, and their shares
INCIDENTS = (("traffic_violation", 0.55), ("fight", 0.12), ("smoke", 0.08), ("fire", 0.03),
             ("accident", 0.1), ("intrusion", 0.12))


def tune(conn: psycopg.Connection) -> None:
    for stmt in ("SET maintenance_work_mem = '512MB'", "SET work_mem = '64MB'",
                 "SET max_parallel_workers_per_gather = 1", "SET synchronous_commit = off"):
        conn.execute(stmt)


def make_cameras(conn, cameras: int) -> None:
    conn.execute(
        "INSERT INTO devices (device_id, family, kind, name, lon, lat, unit_id) "
        "SELECT 'cam-' || lpad(i::text, 5, '0'), 'camera', 'camera', 'Camera ' || i, "
        "103.5 + random(), 21.8 + random(), 'xa-' || lpad((i %% %s)::text, 2, '0') "
        "FROM generate_series(1, %s) i",
        (UNITS, cameras),
    )


def _kind_case() -> sql.Composable:
    """The incident type of a detection from its random draw r2 (shares of INCIDENTS)."""
    parts, edge = [], 0.0
    for kind, share in INCIDENTS:
        edge += share
        parts.append(sql.SQL("WHEN r2 < {} THEN {}").format(sql.Literal(round(edge, 4)),
                                                              sql.Literal(kind)))
    return sql.SQL("CASE ") + sql.SQL(" ").join(parts) + sql.SQL(" ELSE 'intrusion' END")


def generate_day(conn, cameras: int, day: dt.datetime, per_hour: int) -> int:
    query = sql.SQL("""
        INSERT INTO camera_incidents (source, event_id, device_id, label, phase, first_seen,
            started_at, last_update, ended_at, confidence, top_confidence, zones, plate,
            plate_confidence, data)
        SELECT CASE WHEN incident THEN 'ioc' ELSE 'frigate' END,
               %(stamp)s || '-' || c || '-' || n,
               'cam-' || lpad(c::text, 5, '0'),
               CASE WHEN incident THEN CASE kind WHEN 'fire' THEN 'fire' WHEN 'smoke' THEN 'smoke'
                    WHEN 'fight' THEN 'person' WHEN 'intrusion' THEN 'person' ELSE 'car' END
                    ELSE label END,
               'end', ts, ts, ts + interval '20 seconds', ts + interval '20 seconds',
               0.8, 0.8 + r2 / 10, ARRAY['zone_a'],
               CASE WHEN (label = 'car' OR kind = 'traffic_violation') AND r2 < 0.5
                    THEN '24' || chr(65 + (c %% 20)) || '-' || lpad((n %% 1000)::text, 3, '0')
                         || '.' || lpad((c %% 100)::text, 2, '0') END,
               0.9,
               CASE WHEN incident THEN jsonb_build_object('type', kind) ELSE '{{}}'::jsonb END
        FROM (
            SELECT c, n, %(day)s::timestamptz + random() * interval '1 day' AS ts,
                   random() < 0.03 AS incident, r2, {kind} AS kind,
                   (ARRAY['person', 'person', 'car', 'motorcycle', 'motorcycle'])
                       [1 + floor(random() * 5)::int] AS label
            FROM generate_series(1, %(cameras)s) c, generate_series(1, %(per_day)s) n,
                 LATERAL (SELECT random() + 0 * c * n AS r2) r
        ) g
    """).format(kind=_kind_case())
    cur = conn.execute(query, {"stamp": day.strftime("%Y%m%d"), "day": day, "cameras": cameras,
                               "per_day": per_hour * 24})
    return cur.rowcount


def fill_queue(conn, now: dt.datetime) -> int:
    """The queue the ingest worker would have written: rule priorities of the built-in rules
    that hold for any camera and zone (the bench's cameras have no closed zones)."""
    from police.rules import load_rules

    rules = load_rules()
    priority: dict[str, int] = {}
    for r in rules.rules:
        if not r.cameras and not r.zones:
            priority[r.type] = max(priority.get(r.type, 0), r.priority)
    values = sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(k), sql.Literal(v))
                                for k, v in priority.items())
    cur = conn.execute(sql.SQL(
        "INSERT INTO police_queue (source, event_id, device_id, first_seen, priority, rule) "
        "SELECT c.source, c.event_id, c.device_id, c.first_seen, p.priority, p.kind "
        "FROM camera_incidents c JOIN (VALUES {}) p(kind, priority) "
        "ON p.kind = c.data->>'type' WHERE c.source = 'ioc'").format(values))
    queued = cur.rowcount
    # most of what is older than a day has been decided
    conn.execute(
        "INSERT INTO incident_reviews (source, event_id, decision, reason, actor, at) "
        "SELECT source, event_id, CASE WHEN random() < 0.5 THEN 'verified' ELSE 'dismissed' END, "
        "'bench', 'police-bench', first_seen + interval '1 hour' FROM police_queue "
        "WHERE first_seen < %s AND random() < 0.8", (now - dt.timedelta(days=1),))
    return queued


def add_watchlist(conn, now: dt.datetime) -> None:
    from police import watchlist
    from police.rules import load_rules

    rules = load_rules()
    (plate,) = conn.execute(
        "SELECT plate FROM camera_incidents WHERE plate IS NOT NULL AND first_seen >= %s "
        "LIMIT 1", (now - dt.timedelta(hours=6),)).fetchone()
    watchlist.add(conn, plate, "bench: seen today", actor="police-bench", rules=rules)
    for i in range(49):
        watchlist.add(conn, f"99Z-{i:03d}.00", "bench", actor="police-bench", rules=rules)


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(round(0.95 * len(ordered))) - 1))]


PARTS: dict[str, list[float]] = {}


def first_paint(conn) -> Callable[[], object]:
    """What /police runs before its first paint (as police, default filters)."""
    from dashboards import police_queries as q

    flt = q.QueueFilter.of()
    parts = {
        "filter_options": lambda: q.load_filter_options(conn),
        "queue_page": lambda: q.load_queue_page(conn, flt, "police"),
        "watch_banner": lambda: q.load_watch_hits(conn, "police"),
        "detection_count": lambda: q.count_detections(conn, flt),
    }

    def run():
        for name, fn in parts.items():
            PARTS.setdefault(name, []).append(timed(fn))

    return run


def old_first_paint(conn) -> Callable[[], object]:
    """The page before the queue: every incident of 7 days, unreviewed first, 200 rows, and
    the incident types seen in 90 days (what its filter offered)."""
    from dashboards import police_queries as q
    from evidence import store

    flt = q.QueueFilter.of()

    def run():
        conn.execute(sql.SQL(
            "SELECT DISTINCT {} FROM camera_incidents c WHERE c.last_update >= "
            "now() - interval '90 days' ORDER BY 1 LIMIT 100").format(store.INCIDENT_TYPE)
        ).fetchall()
        return q.load_queue(conn, flt, "police", limit=200)

    return run


def explain(conn) -> None:
    """The plans of the queue's statements (what `load_queue_page` runs)."""
    from dashboards import police_queries as q

    seen: list[tuple] = []
    real_execute = conn.execute

    def spy(query, params=None, **kw):
        seen.append((query, params))
        return real_execute(query, params, **kw)

    conn.execute = spy
    try:
        q.load_queue_page(conn, q.QueueFilter.of(), "police")
        q.count_detections(conn, q.QueueFilter.of())
    finally:
        conn.execute = real_execute
    for query, params in seen:
        plan = real_execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + (
            query if isinstance(query, sql.Composable) else sql.SQL(query)), params).fetchall()
        log("\n".join(r[0] for r in plan))


def run_times(fn: Callable[[], object], repeats: int, label: str) -> list[float]:
    fn()  # warm-up
    samples = [timed(fn) for _ in range(repeats)]
    log(f"  {label}: p50 {statistics.median(samples):.1f} ms, p95 {p95(samples):.1f} ms")
    return samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.1,
                    help="fraction of the full 2,000 cameras (default 0.1; 1 = the bar's case)")
    ap.add_argument("--days", type=int, default=30, help="days of detections (default 30)")
    ap.add_argument("--per-hour", type=int, default=20,
                    help="detections per camera and hour (default 20)")
    ap.add_argument("--repeats", type=int, default=40, help="runs of the first paint")
    ap.add_argument("--baseline-repeats", type=int, default=5, help="runs of the old one")
    ap.add_argument("--keep", action="store_true", help="keep the database directory")
    ap.add_argument("--explain", action="store_true", help="print the queue's query plans")
    args = ap.parse_args(argv)
    if not 0 < args.scale <= 5 or args.days < 1 or args.per_hour < 1:
        ap.error("--scale must be in (0, 5], --days and --per-hour at least 1")

    from ioc.db.connect import connect
    from ioc.db.migrate import migrate

    cameras = max(10, round(FULL_CAMERAS * args.scale))
    state = Path(tempfile.mkdtemp(prefix="ioc-bench-police-"))
    url, server = start_database(state)
    db = DatabaseSettings(url=url, schema=f"bench_police_{uuid.uuid4().hex[:8]}")
    result: dict = {"scale": args.scale, "cameras": cameras, "days": args.days,
                    "per_hour": args.per_hour, "cpus": os.cpu_count()}
    full = FULL_CAMERAS * args.days * 24 * args.per_hour
    log(f"police bench: {cameras} cameras x {args.days} days x {args.per_hour}/h "
        f"(scale {args.scale:g}; full scale is {full:,} detections)")
    try:
        migrate(db, timescale_enabled=False)
        with connect(db, application_name="bench-police") as conn:
            tune(conn)
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            make_cameras(conn, cameras)
            conn.commit()
            log("generating detections (generate_series in PostgreSQL) ...")
            began = time.perf_counter()
            rows = 0
            first_day = (now - dt.timedelta(days=args.days)).replace(hour=0, minute=0, second=0)
            for d in range(args.days + 1):  # and today, up to now
                day = first_day + dt.timedelta(days=d)
                rows += generate_day(conn, cameras, day, args.per_hour)
                conn.commit()
            # today's detections must not lie in the future
            conn.execute("DELETE FROM camera_incidents WHERE first_seen > %s", (now,))
            result["rows"] = rows
            result["generate_s"] = round(time.perf_counter() - began, 1)
            log(f"  {rows:,} detections in {result['generate_s']} s")
            result["queued"] = fill_queue(conn, now)
            add_watchlist(conn, now)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE camera_incidents")
            conn.execute("VACUUM ANALYZE police_queue")
            conn.execute("VACUUM ANALYZE incident_reviews")
            log(f"  {result['queued']:,} incidents in the police queue")
            if args.explain:
                explain(conn)
            log(f"first paint x {args.repeats} ...")
            page = run_times(first_paint(conn), args.repeats, "first paint (queue)")
            log(f"baseline: the page before the queue x {args.baseline_repeats} ...")
            old = run_times(old_first_paint(conn), args.baseline_repeats, "baseline")
        result.update({
            "p50_ms": round(statistics.median(page), 2),
            "p95_ms": round(p95(page), 2),
            "baseline_p95_ms": round(p95(old), 1),
            "ratio": round(p95(old) / max(p95(page), 1e-3), 1),
            "parts_p95_ms": {k: round(p95(v), 2) for k, v in PARTS.items()},
            "bar_ms": 300,
            "full_scale_command": "python bench/police.py --scale 1",
        })
    finally:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(db.schema_name)))
        except Exception as err:  # the figures matter more than the clean-up
            print(f"could not drop the bench schema: {err}", file=sys.stderr)
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
    log(f"first paint p95 {result['p95_ms']} ms (bar: 300 ms); baseline p95 "
        f"{result['baseline_p95_ms']} ms; ratio {result['ratio']}x")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
