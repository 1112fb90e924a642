"""API benchmark: latency of GET /api/v1/readings for one device over 30 days.

    python bench/api.py                      # gunicorn on a loopback port, 200 requests per case
    python bench/api.py --server wsgi        # in-process through Flask's test client
    python bench/api.py --requests 500 --metrics 12

Starts its own embedded PostgreSQL and Redis under a temporary directory, removed at the end
(unless IOC_BENCH_DATABASE_URL / IOC_BENCH_REDIS_URL are set), applies the migrations, loads
30 days of one-minute readings of one air-quality station (--metrics metrics) plus five-minute
readings of --other-devices other stations, builds the hourly and daily rollups with
ioc.db.rollups.refresh_rollups, creates an API token with readings:read, and then times the
readings endpoint over a 30-day range with a keep-alive HTTP client:

- hour:      bucket=hour, one metric (720 rows from the hourly rollups)
- hour_all:  bucket=hour, every metric (first page: the default 1000 rows)
- day_local: bucket=day&tz=Asia/Ho_Chi_Minh, every metric (local days from hourly rollups)
- raw:       bucket=raw, one metric (first page: the default 1000 of 43,200 rows)
- big_page:  bucket=hour, every metric, limit=10000 (30 x 24 x metrics rows in one answer);
             reported on its own, not part of `p95_ms`: its cost is JSON encoding, and it is
             not what a client gets unless it asks for the largest page

With TimescaleDB on the server, `readings` is the hypertable production runs, and the chunks
older than the compression setting (7 days) are compressed before the requests; `storage`
says which was measured ("hypertable+compressed" or "table").

The last line printed is one JSON object: `p95_ms` is the worst p95 of the first four cases
(the requests a client makes with the default page size), and each case's p50/p95/p99 follow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from ioc.config import DatabaseSettings, RedisSettings, Settings, settings_env  # noqa: E402

DEVICE = "aq-bench-001"
METRICS = (
    "pm25",
    "pm10",
    "o3",
    "no2",
    "so2",
    "co",
    "temperature",
    "humidity",
    "wind_speed",
    "wind_dir",
    "pressure",
    "noise",
)
DAYS = 30


# -- set-up -------------------------------------------------------------------------------------
def start_services(state: Path):
    """Settings on a fresh schema, with embedded PostgreSQL/Redis where no URL is given."""
    servers = []
    db_url = os.environ.get("IOC_BENCH_DATABASE_URL")
    redis_url = os.environ.get("IOC_BENCH_REDIS_URL")
    if not db_url:
        from ioc.services.postgres import EmbeddedPostgres

        servers.append(EmbeddedPostgres(state))
        db_url = servers[-1].start()
    if not redis_url:
        from ioc.services.redis_server import EmbeddedRedis

        servers.append(EmbeddedRedis(state))
        redis_url = servers[-1].start()
    settings = Settings(
        env="test",
        state_dir=state,
        log_level="WARNING",
        database=DatabaseSettings(url=db_url, schema=f"bench_{uuid.uuid4().hex[:8]}"),
        redis=RedisSettings(url=redis_url, key_prefix=f"bench{uuid.uuid4().hex[:6]}:"),
    )
    return settings, servers


def load_data(settings: Settings, metrics: int, others: int, now: dt.datetime) -> dict:
    """Devices, readings (COPY), rollups, statistics; returns counts and load times."""
    from ioc.db import timescale
    from ioc.db.connect import connect
    from ioc.db.migrate import migrate
    from ioc.db.rollups import refresh_rollups

    migrate(settings.database)
    start = now - dt.timedelta(days=DAYS, hours=1)
    names = METRICS[:metrics]
    t0 = time.perf_counter()
    rows = 0
    with connect(settings.database) as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY devices (device_id, family, kind, name, unit_id) FROM STDIN"
            ) as cp:
                cp.write_row((DEVICE, "environment", "air_quality", "Bench station", "sa_pa"))
                for i in range(others):
                    cp.write_row(
                        (f"aq-other-{i:03d}", "environment", "air_quality", "Other", "sa_pa")
                    )
            with cur.copy("COPY readings (time, device_id, metric, value, unit) FROM STDIN") as cp:
                minutes = int((now - start).total_seconds() // 60)
                for m in range(minutes):
                    t = start + dt.timedelta(minutes=m)
                    for k, name in enumerate(names):
                        cp.write_row((t, DEVICE, name, 20.0 + (m * (k + 3)) % 37, "u"))
                rows += minutes * len(names)
                for i in range(others):
                    for m in range(0, minutes, 5):
                        t = start + dt.timedelta(minutes=m)
                        cp.write_row((t, f"aq-other-{i:03d}", "pm25", float(m % 41), "u"))
                        cp.write_row((t, f"aq-other-{i:03d}", "pm10", float(m % 53), "u"))
                        rows += 2
        conn.commit()
        loaded = time.perf_counter() - t0
        t1 = time.perf_counter()
        refresh_rollups(conn, start)
        conn.commit()
        rolled = time.perf_counter() - t1
        timescale.compress_old_chunks(conn, settings.database)
        storage = timescale.storage_kind(conn, settings.database)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE readings")
        conn.execute("VACUUM ANALYZE reading_rollups")
    return {"rows": rows, "load_s": round(loaded, 1), "rollups_s": round(rolled, 1),
            "storage": storage}


def make_token(settings: Settings) -> str:
    from ioc.db.connect import connect
    from ioc.security.tokens import create_token

    with connect(settings.database) as conn:
        raw, _ = create_token(conn, "bench", ["readings:read"], days=1, actor="bench")
        conn.commit()
    return raw


def drop_schema(settings: Settings) -> None:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(settings.database.schema_name)
            )
        )


# -- clients --------------------------------------------------------------------------------------
class GunicornClient:
    """`ioc web`'s gunicorn command on a free loopback port, and a keep-alive connection to it."""

    def __init__(self, settings: Settings, state: Path) -> None:
        from dashboards.server import gunicorn_argv
        from ioc.services.process import free_port

        self.port = free_port()
        env = {**os.environ, **settings_env(settings), "PYTHONPATH": str(ROOT)}
        self.log = open(state / "gunicorn.log", "wb")
        self.proc = subprocess.Popen(
            gunicorn_argv("127.0.0.1", self.port, workers=1, threads=4),
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.conn = self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see its log")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    return conn
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def get(self, url: str, headers: dict) -> tuple[int, bytes]:
        self.conn.request("GET", url, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class WsgiClient:
    """The same app in this process, through Flask's test client (no HTTP server)."""

    def __init__(self, settings: Settings, state: Path) -> None:
        from dashboards.app import create_app

        self.client = create_app(settings).server.test_client()

    def get(self, url: str, headers: dict) -> tuple[int, bytes]:
        resp = self.client.get(url, headers=headers)
        return resp.status_code, resp.data

    def close(self) -> None:
        from dashboards.context import context

        context().close()


# -- measuring ------------------------------------------------------------------------------------
def cases(now: dt.datetime) -> dict[str, dict]:
    base = {
        "device_id": DEVICE,
        "start": (now - dt.timedelta(days=DAYS)).isoformat(),
        "end": now.isoformat(),
    }
    return {
        "hour": {**base, "metric": "pm25", "bucket": "hour"},
        "hour_all": {**base, "bucket": "hour"},
        "day_local": {**base, "bucket": "day", "tz": "Asia/Ho_Chi_Minh"},
        "raw": {**base, "metric": "pm25"},
        "big_page": {**base, "bucket": "hour", "limit": "10000"},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure(client, token: str, query: dict, requests: int, warmup: int) -> dict:
    url = "/api/v1/readings?" + urlencode(query)
    headers = {"Authorization": f"Bearer {token}"}
    rows = 0
    for _ in range(warmup):
        status, body = client.get(url, headers)
        if status != 200:
            raise RuntimeError(f"{url}: HTTP {status}: {body[:300]!r}")
        rows = len(json.loads(body)["data"])
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        status, body = client.get(url, headers)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"{url}: HTTP {status}")
    return {
        "rows": rows,
        "bytes": len(body),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "p99_ms": round(percentile(times, 0.99), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", choices=("gunicorn", "wsgi"), default="gunicorn")
    ap.add_argument("--requests", type=int, default=200, help="timed requests per case")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument(
        "--metrics",
        type=int,
        default=len(METRICS),
        choices=range(1, 13),
        metavar="1-12",
        help="metrics of the benchmarked station",
    )
    ap.add_argument("--other-devices", type=int, default=20)
    args = ap.parse_args(argv)

    state = Path(tempfile.mkdtemp(prefix="ioc-bench-api-"))
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    settings, servers = start_services(state)
    result: dict = {
        "server": args.server,
        "days": DAYS,
        "metrics": args.metrics,
        "requests_per_case": args.requests,
        "cpus": os.cpu_count(),
    }
    client = None
    try:
        print(
            f"loading {DAYS} days of one-minute readings ({args.metrics} metrics) ...", flush=True
        )
        result.update(load_data(settings, args.metrics, args.other_devices, now))
        print(
            f"  {result['rows']} readings in {result['load_s']} s, rollups in "
            f"{result['rollups_s']} s; storage: {result['storage']}",
            flush=True,
        )
        token = make_token(settings)
        client = (GunicornClient if args.server == "gunicorn" else WsgiClient)(settings, state)
        per_case = {}
        for name, query in cases(now).items():
            per_case[name] = measure(client, token, query, args.requests, args.warmup)
            print(f"  {name:10s} {per_case[name]}", flush=True)
        default_pages = {n: c for n, c in per_case.items() if n != "big_page"}
        result["p95_ms"] = max(c["p95_ms"] for c in default_pages.values())
        result["worst_case"] = max(default_pages, key=lambda n: default_pages[n]["p95_ms"])
        result["big_page_p95_ms"] = per_case["big_page"]["p95_ms"]
        result["load_avg_1m"] = round(os.getloadavg()[0], 1)
        result["cases"] = per_case
    finally:
        if client is not None:
            client.close()
        try:
            drop_schema(settings)
        except Exception as err:  # the figures matter more than the clean-up
            print(f"could not drop the bench schema: {err}", file=sys.stderr)
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
