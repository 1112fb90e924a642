"""Alerts benchmark: reading-to-alert latency at 5,000 readings/s, and a storm of camera events.

    python bench/alerts.py                          # the bar's case (about 3 minutes)
    python bench/alerts.py --direct                 # the alert workers alone (no MQTT/ingest)
    python bench/alerts.py --rate 2000 --latency-s 20 --storm-events 2000

Starts embedded PostgreSQL, MQTT broker and Redis (unless IOC_BENCH_DATABASE_URL,
IOC_BENCH_MQTT_URL, IOC_BENCH_REDIS_URL are set), one ingest worker and --alert-workers alert
workers as `python -m ioc ...` processes, and the devices as publisher processes speaking MQTT
over a raw socket (bench/ingest.py's publisher). The alert workers use their own rules file:
a PM2.5 threshold and the camera-incident rule, with the built-in storm control.

1. latency: air-quality stations send five metrics per message (--rate readings/s in total).
   Now and then a station's PM2.5 jumps above the threshold and falls back in its next
   message, so alerts keep opening and resolving. The payload time of the reading that
   crossed the threshold (the publish time) is compared with the time the alert's "opened"
   event was written (the database clock, same machine): p50/p95/p99. The figure is split
   at the moment the reading's event reached the Redis stream (its entry id): ingest_p95_ms
   (publish to stream: MQTT, ingest batch, commit, live feed) and alerts_p95_ms (stream to
   the alert written).
2. storm: --storm-events camera incidents (intrusion, crowd, smoke) from --cameras cameras in
   nine units within --storm-s seconds, i.e. inside one 5-minute storm window. Counted
   afterwards: the top-level alerts an operator sees (storm_open_alerts), the alerts grouped
   under them, and the incidents counted on the alerts.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve().parent)
# This file is called alerts.py: keep the bench directory off the path so `import alerts`
# finds the package, not this script.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from psycopg.types.json import Jsonb  # noqa: E402

from ioc.config import MqttSettings, settings_env  # noqa: E402

UNITS = ["lao_cai_city", "sa_pa", "bat_xat", "muong_khuong", "si_ma_cai", "bac_ha",
             "bao_thang", "bao_yen", "van_ban"]
STORM_LABELS = ("intrusion", "crowd", "smoke")
THRESHOLD = 500
RULES_YAML = f"""
version: 1
storm: {{window_s: 300, min_alerts: 5}}
disaster_levels: {{enabled: false}}
rules:
  - id: bench_pm25
    type: threshold
    metric: pm25
    select: {{families: [environment]}}
    levels: [{{value: {THRESHOLD}, severity: severe}}]
    title: "{{name}}: PM2.5 {{value:.0f}}"
  - id: camera_incidents
    type: camera_incident
    labels: {{intrusion: moderate, crowd: moderate, smoke: severe}}
    min_confidence: 0.5
    quiet_s: 900
"""


def _bench_ingest():
    """bench/ingest.py, loaded by path (its name would shadow the ingest package)."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(HERE) / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- publishers (own processes) -----------------------------------------------------------------
def readings_publisher(mqtt_url: str, prefix: str, devices: list[str], messages: int,
                       rate: float, breach_p: float, seed: int, ready, go) -> None:
    """`messages` messages of five metrics each at `rate` messages/s; with probability
    `breach_p` a station's PM2.5 crosses the threshold, and falls back in its next message."""
    bi = _bench_ingest()
    url = MqttSettings(url=mqtt_url).parsed_url()
    pub = bi.RawPublisher(url, f"bench-aq-{uuid.uuid4().hex[:8]}")
    topics = [f"{prefix}ioc/v1/environment/{d}".encode() for d in devices]
    rnd = random.Random(seed)
    breached = [False] * len(devices)
    last_t = [0.0] * len(devices)
    ready.set()
    go.wait()
    began = time.monotonic()
    chunk = max(1, int(rate / 200))
    i = 0
    while i < messages:
        due = began + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        packets = []
        now = time.time()
        for _ in range(min(chunk, messages - i)):
            k = i % len(devices)
            t = round(now, 3)
            if t <= last_t[k]:
                t = round(last_t[k] + 0.001, 3)
            last_t[k] = t
            if breached[k]:
                pm25, breached[k] = rnd.randint(10, 80), False
            elif rnd.random() < breach_p:
                pm25, breached[k] = THRESHOLD + rnd.randint(10, 300), True
            else:
                pm25 = rnd.randint(10, 80)
            payload = (b'{"time":%.3f,"metrics":{"pm25":%d,"pm10":%d,"no2":%d,"so2":%d,'
                       b'"o3":%d}}' % (t, pm25, pm25 + 20, rnd.randint(5, 60),
                                       rnd.randint(2, 20), rnd.randint(20, 120)))
            packets.append(bi._publish_packet(topics[k], pub.next_mid(), payload))
            i += 1
        pub.send(packets)
    pub.drain()


def storm_publisher(mqtt_url: str, prefix: str, cameras: list[str], events: int,
                    seconds: float, seed: int, ready, go) -> None:
    bi = _bench_ingest()
    url = MqttSettings(url=mqtt_url).parsed_url()
    pub = bi.RawPublisher(url, f"bench-cam-{uuid.uuid4().hex[:8]}")
    rnd = random.Random(seed)
    ready.set()
    go.wait()
    began = time.monotonic()
    rate = events / seconds
    for i in range(events):
        delay = began + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        camera = cameras[rnd.randrange(len(cameras))]
        event = {"time": round(time.time(), 3),
                 "event": {"id": uuid.uuid4().hex, "type": rnd.choice(STORM_LABELS),
                           "phase": "new", "confidence": round(rnd.uniform(0.6, 0.99), 2)}}
        topic = f"{prefix}ioc/v1/camera/{camera}".encode()
        pub.send([bi._publish_packet(topic, pub.next_mid(), json.dumps(event).encode())])
    pub.drain()


def start_processes(target, shares: list[tuple]) -> list[mp.Process]:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs, readies = [], []
    for args in shares:
        ready = ctx.Event()
        p = ctx.Process(target=target, args=(*args, ready, go), daemon=True)
        p.start()
        procs.append(p)
        readies.append(ready)
    for ready in readies:
        ready.wait(60)
    go.set()
    return procs


# -- set-up ---------------------------------------------------------------------------------------
def prepare(settings, stations: list[str], cameras: list[str]) -> None:
    from ioc.db.connect import connect
    from ioc.db.migrate import migrate

    migrate(settings.database, timescale_enabled=False)
    with connect(settings.database) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO devices (device_id, family, kind, name, unit_id, metadata, "
                "expected_interval_s) VALUES (%s, %s, %s, %s, %s, %s, 60)",
                [(d, "environment", "air_quality", f"Trạm {d}", UNITS[i % 9], Jsonb({}))
                 for i, d in enumerate(stations)]
                + [(c, "camera", "camera", f"Camera {c}", UNITS[i % 9], Jsonb({}))
                   for i, c in enumerate(cameras)])
        conn.commit()


def start_alert_worker(settings, n: int, rules_file: Path, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, **settings_env(settings), "IOC_ALERTS_RULES_FILE": str(rules_file),
           "IOC_LOG_LEVEL": "INFO", "IOC_PROCESS_NAME": f"alerts{n}",
           "PYTHONPATH": str(ROOT)}
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "ioc", "alerts"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=ROOT)


def wait_consumers(settings, n: int, procs, timeout: float = 60) -> None:
    from ioc.live import LiveState, open_redis

    client = open_redis(settings.redis)
    key = LiveState(client, settings.redis).events_key
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("an alert worker exited; see its log")
            try:
                groups = client.xinfo_groups(key)
            except Exception:
                groups = []
            if groups and groups[0]["consumers"] >= n:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{n} alert worker(s) did not join the consumer group in time")
    finally:
        client.close()


def cpu_seconds(roles: dict[str, list[subprocess.Popen]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each role's processes and their threads."""
    import psutil

    out = {}
    for role, procs in roles.items():
        total = 0.0
        for p in procs:
            try:
                t = psutil.Process(p.pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        out[role] = total
    return out


def settle(conn, query: str, quiet_s: float = 3.0, timeout: float = 120.0):
    """Poll `query` until its result stops changing for `quiet_s`."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = conn.execute(query).fetchone()
        if value != last:
            last, since = value, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.25)
    return last


# -- phases ---------------------------------------------------------------------------------------
def stream_times(settings, since_id: str) -> dict[tuple[str, float], float]:
    """(device, reading time) -> when the reading's event reached the Redis stream (the entry
    id is the Redis server's clock in ms), for the readings that crossed the threshold."""
    from ioc.live import LiveState, open_redis

    client = open_redis(settings.redis)
    live = LiveState(client, settings.redis)
    out, last = {}, since_id
    while True:
        batch = live.read_events(last, count=1000)
        if not batch:
            break
        for entry_id, event in batch:
            last = entry_id
            if event.get("type") == "readings":
                for r in event["readings"]:
                    if r[1] == "pm25" and r[2] >= THRESHOLD:
                        out[(r[0], round(r[3], 3))] = int(entry_id.split("-")[0]) / 1000
    client.close()
    return out


def direct_readings(settings, stations: list[str], readings_per_s: float, seconds: float,
                    breach_p: float) -> None:
    """Without MQTT and ingest: `readings` events straight onto the Redis stream, as the ingest
    worker writes them after its commit, every 50 ms."""
    from ioc.live import LatestValue, LiveState, open_redis

    client = open_redis(settings.redis)
    live = LiveState(client, settings.redis)
    rnd = random.Random(1)
    breached = [False] * len(stations)
    per_tick = max(1, int(readings_per_s / 5 * 0.05))  # messages (5 readings) per 50 ms
    began = time.monotonic()
    k = ticks = 0
    while time.monotonic() - began < seconds:
        now = time.time()
        rows = []
        for _ in range(per_tick):
            i = k % len(stations)
            k += 1
            if breached[i]:
                pm25, breached[i] = rnd.randint(10, 80), False
            elif rnd.random() < breach_p:
                pm25, breached[i] = THRESHOLD + rnd.randint(10, 300), True
            else:
                pm25 = rnd.randint(10, 80)
            t = round(now, 3)
            rows += [[stations[i], "pm25", pm25, t], [stations[i], "pm10", pm25 + 20, t],
                     [stations[i], "no2", 30, t], [stations[i], "so2", 8, t],
                     [stations[i], "o3", 60, t]]
        live.record([LatestValue(*r) for r in rows],
                    [{"type": "readings", "worker": "bench", "committed_at": time.time(),
                      "count": len(rows), "readings": rows}])
        ticks += 1
        delay = began + ticks * 0.05 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    client.close()


def direct_storm(settings, cameras: list[str], events: int, seconds: float) -> None:
    from datetime import UTC, datetime

    from ioc.live import LiveState, open_redis

    client = open_redis(settings.redis)
    live = LiveState(client, settings.redis)
    rnd = random.Random(7)
    began = time.monotonic()
    per_tick = max(1, int(events / seconds * 0.05))
    sent = 0
    while sent < events:
        batch = []
        for _ in range(min(per_tick, events - sent)):
            batch.append({"type": "incident", "source": "ioc", "event_id": uuid.uuid4().hex,
                          "device_id": cameras[rnd.randrange(len(cameras))],
                          "label": rnd.choice(STORM_LABELS), "phase": "new",
                          "confidence": 0.9, "zones": [], "false_positive": False,
                          "time": datetime.now(UTC).isoformat()})
            sent += 1
        live.record((), batch)
        delay = began + sent / events * seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    client.close()


def stream_end(settings) -> str:
    from ioc.live import LiveState, open_redis

    client = open_redis(settings.redis)
    key = LiveState(client, settings.redis).events_key
    last = client.xrevrange(key, count=1)
    client.close()
    return last[0][0].decode() if last else "0-0"


def pct(values: list[float], p: float) -> float:
    return round(1000 * values[min(len(values) - 1, int(p * len(values)))], 1)


def latency_phase(settings, conn, stations, rate, seconds, publishers, breach_p,
                  direct: bool) -> dict:
    messages = int(rate / 5 * seconds)
    before = conn.execute("SELECT coalesce(max(id), 0) FROM alert_events").fetchone()[0]
    stream_from = stream_end(settings)
    began = time.time()
    if direct:
        direct_readings(settings, stations, rate, seconds, breach_p)
    else:
        shares = []
        for n in range(publishers):
            shares.append((settings.mqtt.url, settings.mqtt.topic_prefix, stations[n::publishers],
                           messages // publishers, rate / 5 / publishers, breach_p, n))
        for p in start_processes(readings_publisher, shares):
            p.join(seconds + 120)
    sent_s = time.time() - began
    settle(conn, "SELECT count(*) FROM alert_events", quiet_s=3)
    rows = conn.execute(
        "SELECT a.subject, (e.data->>'reading_time')::float8, extract(epoch FROM e.at)::float8 "
        "FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE e.id > %s "
        "AND e.action = 'opened' AND a.rule_id = 'bench_pm25' AND e.data ? 'reading_time'",
        (before,)).fetchall()
    if not rows:
        raise RuntimeError("no alert opened: see the worker logs")
    latencies = sorted(at - t for _, t, at in rows)
    committed = stream_times(settings, stream_from)
    ingest = sorted(committed[(d, round(t, 3))] - t for d, t, _ in rows
                    if (d, round(t, 3)) in committed)
    alerts_part = sorted(at - committed[(d, round(t, 3))] for d, t, at in rows
                         if (d, round(t, 3)) in committed)
    out = {"mode": "direct" if direct else "mqtt", "rate": rate,
           "offered_readings_per_s": round(messages * 5 / sent_s),
           "latency_samples": len(latencies), "p50_ms": pct(latencies, 0.50),
           "p95_ms": pct(latencies, 0.95), "p99_ms": pct(latencies, 0.99),
           "max_ms": round(1000 * latencies[-1], 1),
           "mean_ms": round(1000 * statistics.fmean(latencies), 1)}
    if not direct:
        out["readings_stored"] = conn.execute(
            "SELECT count(*) FROM readings WHERE time > to_timestamp(%s)",
            (began - 5,)).fetchone()[0]
    if ingest and not direct:
        out.update(ingest_p50_ms=pct(ingest, 0.50), ingest_p95_ms=pct(ingest, 0.95))
    if alerts_part:
        # From the reading's event reaching the stream to its alert being written.
        out.update(alerts_p50_ms=pct(alerts_part, 0.50), alerts_p95_ms=pct(alerts_part, 0.95))
    return out


def storm_phase(settings, conn, cameras, events, seconds, direct: bool) -> dict:
    began = time.time()
    if direct:
        direct_storm(settings, cameras, events, seconds)
    else:
        procs = start_processes(storm_publisher, [(settings.mqtt.url,
                                                   settings.mqtt.topic_prefix, cameras, events,
                                                   seconds, 7)])
        for p in procs:
            p.join(seconds + 120)
    settle(conn, "SELECT (SELECT count(*) FROM camera_incidents), "
                 "(SELECT coalesce(sum(count), 0) FROM alerts WHERE rule_id = 'camera_incidents')",
           quiet_s=4)
    incidents = events if direct else conn.execute(
        "SELECT count(*) FROM camera_incidents").fetchone()[0]
    top, grouped, counted, parents = conn.execute(
        "SELECT count(*) FILTER (WHERE parent_id IS NULL), "
        "count(*) FILTER (WHERE parent_id IS NOT NULL), "
        "coalesce(sum(count) FILTER (WHERE rule_id = 'camera_incidents'), 0), "
        "count(*) FILTER (WHERE rule_id = 'storm') "
        "FROM alerts WHERE kind = 'camera_incident' "
        "AND status IN ('open', 'acknowledged', 'assigned')").fetchone()
    duplicates = conn.execute(
        "SELECT count(*) FROM (SELECT rule_id, subject FROM alerts WHERE status IN "
        "('open', 'acknowledged', 'assigned') GROUP BY 1, 2 HAVING count(*) > 1) d").fetchone()[0]
    return {"storm_events": events, "storm_s": round(time.time() - began, 1),
            "storm_incidents_stored": incidents, "storm_open_alerts": top,
            "storm_parents": parents, "storm_grouped_alerts": grouped,
            "storm_incidents_counted": int(counted), "duplicate_open_alerts": duplicates}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=5000.0, help="readings per second")
    ap.add_argument("--latency-s", type=float, default=30.0)
    ap.add_argument("--stations", type=int, default=1000)
    ap.add_argument("--breach-p", type=float, default=0.01,
                    help="chance that a message's PM2.5 crosses the threshold")
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--alert-workers", type=int, default=2)
    ap.add_argument("--storm-events", type=int, default=10_000)
    ap.add_argument("--storm-s", type=float, default=60.0,
                    help="seconds the storm takes (inside one 300 s storm window)")
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--direct", action="store_true",
                    help="no MQTT and ingest: write the live events straight to Redis, to "
                    "measure the alert workers alone")
    args = ap.parse_args(argv)

    bi = _bench_ingest()
    state = Path(tempfile.mkdtemp(prefix="ioc-bench-alerts-"))
    settings, stack = bi.start_services(state)
    stations = [f"aq-{i:05d}" for i in range(args.stations)]
    cameras = [f"cam-{i:04d}" for i in range(args.cameras)]
    rules_file = state / "bench-rules.yaml"
    rules_file.write_text(RULES_YAML, encoding="utf-8")
    procs: list[subprocess.Popen] = []
    result: dict = {"alert_workers": args.alert_workers, "stations": args.stations,
                    "cpus": os.cpu_count(), "load_before": round(os.getloadavg()[0], 1)}
    try:
        prepare(settings, stations, cameras)
        ingest_procs = []
        if not args.direct:
            ingest = bi.start_worker(settings, "bench-ingest", state / "ingest.log",
                                     {"IOC_INGEST_METRICS_PORT": "0"})
            procs.append(ingest)
            ingest_procs.append(ingest)
            bi.wait_subscribed(state / "ingest.log", ingest)
        workers = [start_alert_worker(settings, n, rules_file, state / f"alerts-{n}.log")
                   for n in range(args.alert_workers)]
        procs.extend(workers)
        wait_consumers(settings, args.alert_workers, workers)
        from ioc.db.connect import connect

        conn = connect(settings.database, autocommit=True, application_name="bench")
        print(f"latency: {args.rate:.0f} readings/s for {args.latency_s:.0f} s, "
              f"{args.alert_workers} alert worker(s) ...", flush=True)
        cpu = {"ingest": ingest_procs, "alerts": workers}
        before = cpu_seconds(cpu)
        result.update(latency_phase(settings, conn, stations, args.rate, args.latency_s,
                                    args.publishers, args.breach_p, args.direct))
        result.update({f"{role}_cpu_s": round(used - before[role], 1)
                       for role, used in cpu_seconds(cpu).items()})
        print(f"  {result['latency_samples']} alerts opened: p50 {result['p50_ms']} ms, "
              f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms; ingest's share p95 "
              f"{result.get('ingest_p95_ms')} ms, the alert workers' p95 "
              f"{result.get('alerts_p95_ms')} ms", flush=True)
        print(f"storm: {args.storm_events} camera events from {args.cameras} cameras in "
              f"{args.storm_s:.0f} s ...", flush=True)
        result.update(storm_phase(settings, conn, cameras, args.storm_events, args.storm_s,
                                  args.direct))
        print(f"  operators see {result['storm_open_alerts']} alert(s) "
              f"({result['storm_grouped_alerts']} grouped under "
              f"{result['storm_parents']} storm parent(s))", flush=True)
        conn.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            bi.drop_schema(settings)
        except Exception as err:  # the figures matter more than the clean-up
            print(f"could not drop the bench schema: {err}", file=sys.stderr)
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
