"""KPI benchmark: the leadership page's queries (p95) against the same figures from raw readings.

    python bench/kpi.py                  # default: scale 0.1 (200 sensors, 8.64 M readings)
    python bench/kpi.py --scale 1        # the bar's case: 2,000 sensors, 86.4 M readings

What it does, in its own embedded PostgreSQL under a temporary directory (or the database of
IOC_BENCH_DATABASE_URL, in a schema of its own that is dropped afterwards):

1. generates `--days` days x 2,000*scale sensors at one reading per `--interval-s` (one sensor
   = one device+metric series: PM2.5 and PM10 of air-quality stations, visitor counters,
   water levels, temperatures), with `generate_series` inside PostgreSQL, one day per
   statement; plus camera incidents and alerts;
2. builds the hourly and daily rollups with the real code (`ioc.db.rollups.refresh_rollups`)
   and the telemetry KPIs with `ioc kpi refresh`'s code (`refresh_kpis`), and adds a year of
   earlier daily KPI values so that the 365-day trend has 365 points;
3. runs the page's queries (`dashboards.kpi_queries`: first paint = tiles, unit table and
   map; trends over 30/90/365 days), for the province, one unit and the larger former
   province's units (area filter), `--repeats` times each: `p95_ms`. The CSV export (a
   download on request, not part of loading the page) is timed the same way, on its own:
   `export_p95_ms`;
4. in the same run, computes the same figures from raw readings (`compute_telemetry` with the
   hourly source aggregated from `readings` instead of read from `reading_rollups`) as the
   baseline, and from the rollups (what the refresh does) as a middle line.

With TimescaleDB on the server, `readings` is the hypertable production runs: chunks older
than the compression setting (7 days) are compressed before the queries run; `storage` in the
JSON says which was measured ("hypertable+compressed" or "table").

Late data: one air-quality station's last three days are taken out and then stored again in
one ingest write (the code of `ingest.store`, which marks their hours dirty), and one round of
`ioc maintain`'s rollup job (dirty hours, their days, the KPIs of those days) is timed:
`late_data_refresh_ms`.

The last line printed is one JSON object: p95_ms (page), export_p95_ms, baseline_p95_ms (raw), ratio,
late_data_refresh_ms, storage, rows (readings generated), the scale, the timings of each phase.
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
# This file is called kpi.py: keep the bench directory off the path so `import kpi` finds
# the package, not this script (the other bench scripts are imported as `bench.<name>`).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p != str(ROOT)]  # also before PYTHONPATH

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from ioc.config import DatabaseSettings  # noqa: E402
from layers.catalog import demo_layers  # noqa: E402

FULL_SENSORS = 2000
# the demo province's 99 communes and wards (official codes)
UNITS = tuple(sorted(f["id"] for f in demo_layers()["units"]["features"]))
# share of the sensors (series) per kind; air-quality stations have two series each
MIX = (("air_quality", "environment", ("pm25", "pm10"), 0.4),
       ("visitor_counter", "tourism", ("entries",), 0.2),
       ("water_level", "disaster", ("water_level_m",), 0.2),
       ("weather", "environment", ("temperature",), 0.2))
VALUE = {
    "pm25": "12 + 25 * (1 + sin(extract(epoch FROM ts) / 13751.0 + s.k)) * (0.8 + 0.4 * random())",
    "pm10": "20 + 40 * (1 + sin(extract(epoch FROM ts) / 13751.0 + s.k)) * (0.8 + 0.4 * random())",
    "entries": "floor(random() * 6)",
    "water_level_m": "80 + 2 * sin(extract(epoch FROM ts) / 86400.0 + s.k) + random() * 0.1",
    "temperature": "18 + 6 * sin(extract(epoch FROM ts) / 13751.0) + random()",
}


def log(message: str) -> None:
    print(message, flush=True)


# -- set-up ---------------------------------------------------------------------------------------
def start_database(state: Path) -> tuple[str, object | None]:
    url = os.environ.get("IOC_BENCH_DATABASE_URL")
    if url:
        return url, None
    from ioc.services.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(state)
    server.start()
    return server.url, server


def tune(conn: psycopg.Connection) -> None:
    """Session settings for bulk work on a 2-core machine."""
    for stmt in ("SET maintenance_work_mem = '1GB'", "SET work_mem = '256MB'",
                 "SET max_parallel_workers_per_gather = 1",
                 "SET max_parallel_maintenance_workers = 1", "SET synchronous_commit = off"):
        conn.execute(stmt)


def make_devices(conn: psycopg.Connection, sensors: int) -> dict[str, int]:
    """Devices and their series (bench_series) for `sensors` series; returns counts per kind."""
    conn.execute("CREATE TEMP TABLE bench_series (device_id text, metric text, k float8)")
    counts: dict[str, int] = {}
    rows, series = [], []
    for kind, family, metrics, share in MIX:
        n = max(1, round(sensors * share / len(metrics)))
        counts[kind] = n
        for i in range(n):
            device = f"{kind[:3]}-{i:05d}"
            rows.append((device, family, kind, device, UNITS[i % len(UNITS)], 60))
            for m in metrics:
                series.append((device, m, (i % 97) / 10))
    cameras = max(1, sensors // 20)
    counts["camera"] = cameras
    for i in range(cameras):
        rows.append((f"cam-{i:05d}", "camera", "camera", f"cam-{i:05d}",
                     UNITS[i % len(UNITS)], 60))
    with conn.cursor() as cur:
        with cur.copy("COPY devices (device_id, family, kind, name, unit_id, expected_interval_s)"
                      " FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        with cur.copy("COPY bench_series (device_id, metric, k) FROM STDIN") as cp:
            for r in series:
                cp.write_row(r)
    conn.execute("UPDATE devices SET created_at = now() - interval '3 years'")
    counts["series"] = len(series)
    return counts


def generate_readings(conn: psycopg.Connection, start: dt.datetime, days: int,
                      interval_s: int, *, bulk: bool = True) -> int:
    """Readings for every series, one day per INSERT ... SELECT generate_series (in PostgreSQL).

    bulk (plain table only): unlogged and without indexes while loading, indexed afterwards.
    """
    if bulk:
        conn.execute("ALTER TABLE readings SET UNLOGGED")  # the bench needs no crash safety
        conn.execute("ALTER TABLE readings DROP CONSTRAINT readings_pkey")
        conn.execute("DROP INDEX readings_time")
    value = sql.SQL("CASE s.metric {} END").format(sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(m), sql.SQL(expr))  # constant SQL
        for m, expr in VALUE.items()))
    insert = sql.SQL(
        "INSERT INTO readings (time, device_id, metric, value, received_at) "
        "SELECT ts, s.device_id, s.metric, {value}, ts "
        "FROM generate_series(%(from)s::timestamptz, %(to)s::timestamptz - %(step)s, %(step)s) ts "
        "CROSS JOIN bench_series s"
    ).format(value=value)
    total = 0
    step = dt.timedelta(seconds=interval_s)
    for d in range(days):
        began = time.perf_counter()
        cur = conn.execute(insert, {"from": start + dt.timedelta(days=d),
                                    "to": start + dt.timedelta(days=d + 1), "step": step})
        total += cur.rowcount
        conn.commit()
        log(f"  day {d + 1}/{days}: {cur.rowcount:,} readings in "
            f"{time.perf_counter() - began:.1f} s")
    return total


def late_data_refresh(conn: psycopg.Connection, settings, now: dt.datetime) -> dict:
    """One station's last three days stored again at once (ingest's write), then one round of
    `ioc maintain`'s rollup job, timed."""
    from ingest.batch import WritePlan
    from ingest.records import Reading
    from ingest.store import prepare, write_plan
    from ioc.maintain import Maintainer

    (device,) = conn.execute(
        "SELECT device_id FROM devices WHERE kind = 'air_quality' ORDER BY device_id LIMIT 1"
    ).fetchone()
    since = now - dt.timedelta(days=3)
    rows = conn.execute(
        "SELECT device_id, metric, time, value FROM readings "
        "WHERE device_id = %s AND time >= %s", (device, since)).fetchall()
    # the outage: those readings were never stored (rollups keep the old figures until the
    # refresh; the DELETE marks nothing)
    conn.execute("SELECT set_config('ioc.rollups_untracked', 'on', true)")
    conn.execute("DELETE FROM readings WHERE device_id = %s AND time >= %s", (device, since))
    conn.commit()
    maintainer = Maintainer(settings)
    maintainer.refresh(conn, now=now)  # nothing dirty yet: the round before the upload
    conn.commit()
    prepare(conn)
    began = time.perf_counter()
    with conn.transaction():
        stored = write_plan(conn, WritePlan(
            entries=[], readings=[Reading(d, m, t, v) for d, m, t, v in rows])).readings
    conn.commit()
    write_ms = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    refreshed, values = maintainer.refresh(conn, now=now)
    conn.commit()
    refresh_ms = (time.perf_counter() - began) * 1000
    return {"late_data_readings": stored, "late_data_write_ms": round(write_ms, 1),
            "late_data_refresh_ms": round(refresh_ms, 1),
            "late_data_hours": refreshed.keys, "late_data_kpi_values": values}


def index_readings(conn: psycopg.Connection) -> None:
    conn.execute("ALTER TABLE readings ADD PRIMARY KEY (device_id, metric, time)")
    conn.execute("CREATE INDEX readings_time ON readings (time DESC)")
    conn.commit()
    conn.execute("ANALYZE readings")
    conn.commit()


def generate_events(conn: psycopg.Connection, start: dt.datetime, now: dt.datetime) -> None:
    """About 20 incidents a day per camera (two in three verified), 85 alerts a day."""
    params = {"start": start, "now": now}
    conn.execute(
        "INSERT INTO camera_incidents (source, event_id, device_id, label, phase, first_seen, "
        "started_at, last_update, false_positive) "
        "SELECT 'ioc', d.device_id || '-' || n, d.device_id, 'crowd', 'end', ts, ts, "
        "ts + interval '2 minutes', n %% 10 = 0 "
        "FROM devices d CROSS JOIN LATERAL (SELECT n, %(start)s::timestamptz "
        "  + (n * 72 + length(d.device_id)) * interval '1 minute' AS ts "
        "  FROM generate_series(0, 20 * (extract(epoch FROM %(now)s - %(start)s) / 86400)::int) n"
        ") s WHERE d.family = 'camera' AND ts < %(now)s",
        params,
    )
    conn.execute(
        "INSERT INTO incident_reviews (source, event_id, decision, reason, actor, at) "
        "SELECT source, event_id, 'verified', 'bench', 'bench', started_at + interval '30 min' "
        "FROM camera_incidents WHERE length(event_id) % 3 <> 0 AND NOT false_positive"
    )
    _alerts(conn, params)
    conn.commit()


def _alerts(conn: psycopg.Connection, params: dict) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO alerts (rule_id, subject, kind, severity, title, unit_id, status, "
            "opened_at, acknowledged_at, resolved_at) "
            "SELECT CASE WHEN n % 7 = 0 THEN 'water_level_alarm' ELSE 'device_silent' END, "
            "  'b' || n, CASE WHEN n % 7 = 0 THEN 'water_level' ELSE 'device_silent' END, "
            "  'minor', 't', ({units})[1 + n % {n_units}], 'resolved', ts, "
            "  ts + (1 + n % 11) * interval '1 minute', ts + interval '2 hours' "
            "FROM (SELECT n, {start} + n * interval '17 minutes' AS ts "
            "      FROM generate_series(0, (extract(epoch FROM {now} - {start}) / 1020)::int) n) a "
            "WHERE ts < {now} - interval '2 hours'"
        ).format(
            units=sql.SQL("ARRAY[{}]").format(
                sql.SQL(", ").join(sql.Literal(d) for d in UNITS)),
            n_units=sql.Literal(len(UNITS)),
            start=sql.Literal(params["start"]), now=sql.Literal(params["now"]),
        )
    )


def add_history(conn: psycopg.Connection, first_day: dt.date, history_days: int) -> int:
    """Earlier daily KPI values (copies of the first computed day) back to `history_days`."""
    cur = conn.execute(
        "INSERT INTO kpi_values (kpi_id, unit_id, breakdown, period, period_start, value, "
        "numerator, denominator, source) "
        "SELECT v.kpi_id, v.unit_id, v.breakdown, 'day', %(first)s::date - g, "
        "       v.value * (0.9 + 0.2 * random()), v.numerator, v.denominator, 'bench-history' "
        "FROM kpi_values v CROSS JOIN generate_series(1, %(n)s) g "
        "WHERE v.period = 'day' AND v.period_start = %(first)s",
        {"first": first_day, "n": history_days},
    )
    conn.commit()
    return cur.rowcount


# -- measuring ------------------------------------------------------------------------------------
def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(round(0.95 * len(ordered))) - 1))]


def page_areas() -> dict[str, object]:
    """The areas the page is timed for: the province, one unit, the largest named group."""
    from dashboards.kpi_queries import unit_groups
    from kpi.areas import PROVINCE_AREA, parse_area

    groups = unit_groups()
    areas: dict[str, object] = {"": PROVINCE_AREA, "_unit": parse_area(UNITS[0], UNITS)}
    if groups:
        biggest = max(groups, key=lambda g: len(g.unit_ids))
        areas["_group"] = parse_area(f"g:{biggest.id}", UNITS, groups)
    return areas


def page_operations(conn, catalogue, today: dt.date) -> dict[str, Callable[[], object]]:
    """What the leadership page asks the database on load and on its controls, as the page's
    own functions do it: first paint and the trends, for the province, one unit and a group."""
    from dashboards.kpi_queries import DEFAULT_TRENDS, load_page, load_trends

    trend_kpis = [catalogue.get(k) for k in DEFAULT_TRENDS]
    ops: dict[str, Callable[[], object]] = {}
    for suffix, area in page_areas().items():
        ops[f"first_paint{suffix}"] = lambda a=area: load_page(conn, catalogue, area=a)
        for days in (30, 90, 365):
            ops[f"trends_{days}d{suffix}"] = lambda d=days, a=area: load_trends(
                conn, trend_kpis, d, today, area=a)
    return ops


def export_operations(conn, catalogue, today: dt.date) -> dict[str, Callable[[], object]]:
    """The CSV download (a button, not part of the page's load): timed on its own."""
    from dashboards.kpi_export import export_csv

    return {f"csv_30d{suffix}": lambda a=area: export_csv(conn, catalogue, 30, today, "vi",
                                                           area=a)
            for suffix, area in page_areas().items()}


def computed_operations(conn, catalogue, now: dt.datetime, data_days: int,
                        source: str) -> dict[str, Callable[[], object]]:
    """The same figures computed on the fly from an hourly source (raw readings or rollups)."""
    from dashboards.kpi_queries import DEFAULT_TRENDS
    from kpi.hourly import day_windows
    from kpi.telemetry import compute_telemetry

    zone = catalogue.zone
    today = now.astimezone(zone).date()

    def windows(days: int):
        days = min(days, data_days)  # there is no older raw data to read
        return day_windows(today - dt.timedelta(days=days - 1), today, now, zone)

    telemetry = [k.id for k in catalogue.telemetry()]
    return {
        "first_paint": lambda: compute_telemetry(conn, windows(1), source=source, kpis=telemetry),
        "trends_30d": lambda: compute_telemetry(conn, windows(30), source=source,
                                                kpis=DEFAULT_TRENDS),
        "trends_90d": lambda: compute_telemetry(conn, windows(90), source=source,
                                                kpis=DEFAULT_TRENDS),
        "trends_365d": lambda: compute_telemetry(conn, windows(365), source=source,
                                                 kpis=DEFAULT_TRENDS),
        "csv_30d": lambda: compute_telemetry(conn, windows(30), source=source, kpis=telemetry),
    }


def run_operations(ops: dict[str, Callable[[], object]], repeats: int, label: str,
                   warm_up: bool = True) -> tuple[list[float], dict[str, dict[str, float]]]:
    if warm_up:
        for fn in ops.values():  # one warm-up each: plans cached, pages in memory
            fn()
    samples: list[float] = []
    per: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, fn in ops.items():
            ms = timed(fn)
            per[name].append(ms)
            samples.append(ms)
    summary = {name: {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(p95(v), 2)}
               for name, v in per.items()}
    log(f"  {label}: p95 {p95(samples):.1f} ms over {len(samples)} runs; "
        + ", ".join(f"{n} {s['p95_ms']:.1f}" for n, s in summary.items()))
    return samples, summary


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.1,
                    help="fraction of the full 2,000 sensors (default 0.1; 1 = the bar's case)")
    ap.add_argument("--days", type=int, default=30, help="days of readings (default 30)")
    ap.add_argument("--interval-s", type=int, default=60, help="seconds between readings")
    ap.add_argument("--repeats", type=int, default=40, help="runs of each page query")
    ap.add_argument("--baseline-repeats", type=int, default=2,
                    help="runs of each query over raw readings and over the rollups")
    ap.add_argument("--history-days", type=int, default=365,
                    help="days of daily KPI values the 365-day trend can show")
    ap.add_argument("--keep", action="store_true", help="keep the database directory")
    args = ap.parse_args(argv)
    if not 0 < args.scale <= 10 or args.days < 1 or args.interval_s < 1:
        ap.error("--scale must be in (0, 10], --days and --interval-s at least 1")

    from ioc.config import Settings
    from ioc.db import timescale
    from ioc.db.connect import connect
    from ioc.db.migrate import migrate
    from ioc.db.rollups import refresh_rollups
    from kpi.catalogue import DEFAULT_SEED, load_catalogue
    from kpi.importer import import_csv
    from kpi.telemetry import refresh_kpis

    sensors = max(10, round(FULL_SENSORS * args.scale))
    state = Path(tempfile.mkdtemp(prefix="ioc-bench-kpi-"))
    url, server = start_database(state)
    db = DatabaseSettings(url=url, schema=f"bench_kpi_{uuid.uuid4().hex[:8]}")
    result: dict = {"scale": args.scale, "sensors": sensors, "days": args.days,
                    "interval_s": args.interval_s, "cpus": os.cpu_count()}
    full_rows = FULL_SENSORS * args.days * 86400 // args.interval_s
    log(f"KPI bench: {sensors} sensors x {args.days} days at {args.interval_s} s "
        f"(scale {args.scale:g}; full scale is {full_rows:,} readings)")
    try:
        report_ts = migrate(db).timescale
        catalogue = load_catalogue()
        with connect(db, application_name="bench-kpi") as conn:
            tune(conn)
            now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
            start = now - dt.timedelta(days=args.days)
            result["devices"] = make_devices(conn, sensors)
            conn.commit()
            log("generating readings (generate_series in PostgreSQL) ...")
            began = time.perf_counter()
            result["rows"] = generate_readings(conn, start, args.days, args.interval_s,
                                               bulk=report_ts is None)
            result["generate_s"] = round(time.perf_counter() - began, 1)
            if report_ts is None:
                log(f"indexing {result['rows']:,} readings ...")
                result["index_s"] = round(timed(lambda: index_readings(conn)) / 1000, 1)
            else:
                log(f"compressing chunks older than {db.compress_after_days} days ...")
                result["compress_s"] = round(timed(
                    lambda: (timescale.compress_old_chunks(conn, db), conn.commit())) / 1000, 1)
                conn.execute("ANALYZE readings")
                conn.commit()
            result["storage"] = timescale.storage_kind(conn, db)
            log(f"storage: {result['storage']}")
            generate_events(conn, start, now)
            log("rollups (ioc.db.rollups.refresh_rollups) ...")
            result["rollups_s"] = round(
                timed(lambda: (refresh_rollups(conn, start), conn.commit())) / 1000, 1)
            conn.execute("ANALYZE")
            conn.commit()
            log("telemetry KPIs (refresh_kpis, the code of `ioc kpi refresh`) ...")
            report = None

            def refresh() -> None:
                nonlocal report
                report = refresh_kpis(conn, days=args.days, now=now, catalogue=catalogue)
                conn.commit()

            result["refresh_s"] = round(timed(refresh) / 1000, 1)
            result["refresh_today_ms"] = round(timed(
                lambda: (refresh_kpis(conn, days=1, now=now, catalogue=catalogue),
                         conn.commit())), 1)
            import_csv(conn, DEFAULT_SEED.read_bytes(), source="seed:bench", catalogue=catalogue)
            conn.commit()
            result["kpi_history_rows"] = add_history(
                conn, report.first_day, max(0, args.history_days - args.days))
            conn.execute("ANALYZE")
            conn.commit()
            log("late data: one station's three days at once, then one maintenance round ...")
            result.update(late_data_refresh(conn, Settings(database=db), now))
            log(f"  {result['late_data_readings']:,} readings, {result['late_data_hours']} "
                f"hour(s) refreshed in {result['late_data_refresh_ms']} ms")
            conn.autocommit = True
            today = now.astimezone(catalogue.zone).date()
            log(f"page queries x {args.repeats} ...")
            page, page_per = run_operations(page_operations(conn, catalogue, today),
                                            args.repeats, "page (kpi_values)")
            log(f"CSV export (on request, not in the page's p95) x {args.repeats} ...")
            export, export_per = run_operations(export_operations(conn, catalogue, today),
                                                args.repeats, "export")
            log(f"the same figures from the rollups x {args.baseline_repeats} ...")
            rollup, rollup_per = run_operations(
                computed_operations(conn, catalogue, now, args.days, "rollups"),
                args.baseline_repeats, "rollups")
            log(f"baseline: the same figures from raw readings x {args.baseline_repeats} ...")
            raw, raw_per = run_operations(
                computed_operations(conn, catalogue, now, args.days, "readings"),
                args.baseline_repeats, "raw readings", warm_up=False)
        result.update({
            "p50_ms": round(statistics.median(page), 2),
            "p95_ms": round(p95(page), 2),
            "rollup_p95_ms": round(p95(rollup), 1),
            "baseline_p95_ms": round(p95(raw), 1),
            "ratio": round(p95(raw) / max(p95(page), 1e-3), 1),
            "ratio_rollups": round(p95(raw) / max(p95(rollup), 1e-3), 1),
            "export_p95_ms": round(p95(export), 2),
            "page": page_per, "export": export_per, "rollups": rollup_per, "baseline": raw_per,
            "bar_ms": 100,
            "full_scale_command": "python bench/kpi.py --scale 1",
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
    log(f"page p95 {result['p95_ms']} ms (bar: 100 ms); raw baseline p95 "
        f"{result['baseline_p95_ms']} ms; ratio {result['ratio']}x; late data refresh "
        f"{result['late_data_refresh_ms']} ms; storage {result['storage']}. Full scale: "
        f"python bench/kpi.py --scale 1")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
