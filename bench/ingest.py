"""Ingest benchmark: sustained msgs/s, publish-to-commit latency, worker RSS, naive baseline.

    python bench/ingest.py                 # the bar's case (about 3-6 minutes)
    python bench/ingest.py --workers 1 --messages 100000

Starts embedded PostgreSQL, Mosquitto and Redis (unless IOC_BENCH_DATABASE_URL,
IOC_BENCH_MQTT_URL, IOC_BENCH_REDIS_URL are set), runs 1 or 2 ingest workers as
`python -m ioc ingest` processes, and simulated devices as several publisher processes that
speak MQTT 5 over a raw socket (cheap, so the CPU goes to the system under test). Phases:

1. throughput: the publishers send --messages as fast as the broker takes them; the stored
   rate is measured between 10 % and 90 % of the rows landing in `readings`;
2. latency: --rate msg/s for --latency-s seconds; each payload carries its publish time, and
   the worker's `readings` events on the Redis stream carry the commit time;
3. baseline: one naive consumer that parses, INSERTs and commits each message on its own.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from ioc.config import (  # noqa: E402
    DatabaseSettings,
    MqttSettings,
    RedisSettings,
    Settings,
    settings_env,
)

FAMILY = "environment"


# -- a minimal MQTT 5 QoS 1 publisher (the devices) -------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_str(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02 | (0x80 if username else 0) | (0x40 if password else 0)
    body = _mqtt_str("MQTT") + bytes([5, flags]) + struct.pack("!H", 60) + b"\x00"
    body += _mqtt_str(client_id)
    if username:
        body += _mqtt_str(username)
    if password:
        body += _mqtt_str(password)
    return b"\x10" + _varint(len(body)) + body


def _publish_packet(topic: bytes, mid: int, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + b"\x00" + payload
    return b"\x32" + _varint(len(body)) + body


class RawPublisher:
    """QoS 1 publishes with a window of unacknowledged messages; counts PUBACKs."""

    def __init__(self, url, client_id: str, window: int = 400) -> None:
        self.sock = socket.create_connection((url.host, url.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(_connect_packet(client_id, url.username, url.password))
        head = self.sock.recv(4096)
        if not head or head[0] != 0x20 or head[3] != 0:
            raise ConnectionError(f"broker refused the publisher: {head!r}")
        self.window = window
        self.mid = 0
        self.sent = 0
        self.acked = 0
        self._rx = bytearray()
        self.blocked_s = 0.0  # time spent waiting for PUBACKs with the window full
        self.max_behind_s = 0.0  # the furthest a paced publisher fell behind its schedule

    def _read_acks(self, block: bool) -> None:
        self.sock.setblocking(block)
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        finally:
            self.sock.setblocking(True)
        if not data:
            raise ConnectionError("broker closed the connection")
        rx = self._rx
        rx += data
        i = 0
        while i + 2 <= len(rx):
            length = rx[i + 1]  # PUBACKs are short: one length byte
            if i + 2 + length > len(rx):
                break
            if rx[i] == 0x40:
                self.acked += 1
            i += 2 + length
        del rx[:i]

    def send(self, packets: list[bytes]) -> None:
        if self.sent - self.acked + len(packets) > self.window:
            t = time.monotonic()
            while self.sent - self.acked + len(packets) > self.window:
                self._read_acks(block=True)
            self.blocked_s += time.monotonic() - t
        self.sock.sendall(b"".join(packets))
        self.sent += len(packets)
        self._read_acks(block=False)

    def next_mid(self) -> int:
        self.mid = self.mid % 65535 + 1
        return self.mid

    def drain(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            self._read_acks(block=True)
        self.sock.close()


def publisher_main(mqtt_url: str, prefix: str, devices: list[str], count: int, rate: float,
                   seq_base: int, ready, go, report=None) -> None:
    """One publisher process: `count` messages over its `devices`, at `rate`/s (0: flat out)."""
    url = MqttSettings(url=mqtt_url).parsed_url()
    pub = RawPublisher(url, f"bench-pub-{uuid.uuid4().hex[:8]}")
    topics = [f"{prefix}ioc/v1/{FAMILY}/{d}".encode() for d in devices]
    last_t = [0.0] * len(devices)
    ready.set()
    go.wait()
    began = time.monotonic()
    first_send = time.time()
    chunk = 50 if rate == 0 else max(1, int(rate / 200))  # paced: a burst every ~5 ms
    i = 0
    while i < count:
        if rate:
            due = began + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                pub.max_behind_s = max(pub.max_behind_s, -delay)
        packets = []
        now = time.time()
        for _ in range(min(chunk, count - i)):
            k = (seq_base + i) % len(devices)
            t = round(now, 3)
            if t <= last_t[k]:
                t = round(last_t[k] + 0.001, 3)
            last_t[k] = t
            payload = b'{"time":%.3f,"metrics":{"pm25":%d}}' % (t, (seq_base + i) % 997)
            packets.append(_publish_packet(topics[k], pub.next_mid(), payload))
            i += 1
        pub.send(packets)
    last_send = time.time()
    pub.drain()
    if report is not None:  # what this publisher really offered, and why it was late
        report.put({"first": first_send, "last": last_send, "count": count,
                    "blocked_s": pub.blocked_s, "max_behind_s": pub.max_behind_s})


def run_publishers(settings: Settings, prefix: str, devices: list[str], total: int,
                   processes: int, rate: float, report=None) -> list[mp.Process]:
    """Start publishers (each its own share of the devices); they begin together. Each puts
    what it really offered on `report` (a multiprocessing queue) when given."""
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs, readies = [], []
    for n in range(processes):
        mine = devices[n::processes]
        share = total // processes + (1 if n < total % processes else 0)
        ready = ctx.Event()
        p = ctx.Process(target=publisher_main, args=(
            settings.mqtt.url, prefix, mine, share, rate / processes, n * 10_000_000, ready, go,
            report,
        ), daemon=True)
        p.start()
        procs.append(p)
        readies.append(ready)
    for ready in readies:
        ready.wait(60)
    go.set()
    return procs


# -- services, schema, workers ----------------------------------------------------------------
def start_services(state: Path):
    """Settings pointing at IOC_BENCH_*_URL servers, or at embedded ones we start."""
    from ioc.services.stack import EmbeddedStack

    base = Settings(
        env="test", state_dir=state, log_level="WARNING",
        database=DatabaseSettings(url=os.environ.get("IOC_BENCH_DATABASE_URL"),
                                  schema=f"bench_{uuid.uuid4().hex[:8]}"),
        mqtt=MqttSettings(url=os.environ.get("IOC_BENCH_MQTT_URL"),
                          topic_prefix=f"b{uuid.uuid4().hex[:6]}/",
                          client_id_prefix=f"b{uuid.uuid4().hex[:6]}",
                          shared_group=f"bench{uuid.uuid4().hex[:6]}"),
        redis=RedisSettings(url=os.environ.get("IOC_BENCH_REDIS_URL"),
                            key_prefix=f"bench{uuid.uuid4().hex[:6]}:"),
    )
    stack = EmbeddedStack(state)
    return stack.start_missing(base), stack


def prepare_schema(settings: Settings, devices: list[str]) -> None:
    from ioc.db.connect import connect
    from ioc.db.migrate import migrate

    migrate(settings.database, timescale_enabled=False)
    with connect(settings.database) as conn:
        with conn.cursor().copy("COPY devices (device_id, family, kind, name) FROM STDIN") as cp:
            for d in devices:
                cp.write_row((d, FAMILY, "bench", d))
        conn.commit()


def drop_schema(settings: Settings) -> None:
    # the runtime role owns nothing (getattr: the bench also runs against older trees)
    url = getattr(settings.database, "owner_url", None) or settings.database.url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(settings.database.schema_name)))


def _cli_works() -> bool:
    probe = subprocess.run([sys.executable, "-m", "ioc", "ingest", "--help"],
                           capture_output=True, timeout=60, cwd=ROOT)
    return probe.returncode == 0


_DIRECT = (
    "import sys; from ioc.config import load_settings; from ioc.logs import setup_logging; "
    "from ingest.run import run_worker; s = load_settings(); setup_logging(s); "
    "sys.exit(run_worker(s, name=sys.argv[1]))"
)


def start_worker(settings: Settings, name: str, log_path: Path, extra_env: dict) -> subprocess.Popen:
    env = {**os.environ, **settings_env(settings), "IOC_INGEST_METRICS_PORT": "0",
           "IOC_LOG_LEVEL": "INFO", **extra_env}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "ioc", "ingest", "--name", name]
    if not _cli_works():
        argv = [sys.executable, "-c", _DIRECT, name]
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def wait_subscribed(log_path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait for the worker's "subscribed" log line (its session then exists at the broker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.exists() and "subscribed" in log_path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}; see {log_path}")
        time.sleep(0.1)
    raise RuntimeError(f"worker did not subscribe within {timeout:.0f} s; see {log_path}")


class RssSampler(threading.Thread):
    """Peak resident memory of the given processes, sampled every 0.2 s."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.procs = [psutil.Process(p) for p in pids]
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for p in self.procs:
                try:
                    self.peak = max(self.peak, p.memory_info().rss)
                except psutil.Error:
                    pass


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _broker_pids(stack) -> list[int]:
    """The embedded broker's pid (none when IOC_BENCH_MQTT_URL points elsewhere)."""
    from ioc.services.mqtt_broker import EmbeddedBroker

    return [s.proc.pid for s in stack.servers if isinstance(s, EmbeddedBroker) and s.proc]


def count_readings(conn) -> int:
    return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def wait_rows(conn, target: int, timeout: float, marks=()) -> dict[float, float]:
    """Poll until `target` rows; returns the time each fraction in `marks` was reached."""
    reached: dict[float, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = count_readings(conn)
        now = time.monotonic()
        for m in marks:
            if m not in reached and n >= m * target:
                reached[m] = now
        if n >= target:
            break
        time.sleep(0.1)
    return reached


# -- phases ---------------------------------------------------------------------------------
def throughput_phase(settings, conn, devices, total, publishers) -> dict:
    before = count_readings(conn)
    started = time.monotonic()
    procs = run_publishers(settings, settings.mqtt.topic_prefix, devices, total, publishers, 0)
    marks = wait_rows_offset(conn, before, total, timeout=600, marks=(0.1, 0.5, 0.9, 1.0))
    for p in procs:
        p.join(30)
    if 0.9 not in marks or 0.1 not in marks:
        raise RuntimeError(f"only {count_readings(conn) - before} of {total} readings stored")
    sustained = 0.8 * total / (marks[0.9] - marks[0.1])
    overall = total / (marks.get(1.0, time.monotonic()) - started)
    return {"msgs_per_s": round(sustained), "overall_msgs_per_s": round(overall)}


def wait_rows_offset(conn, base: int, target: int, timeout: float, marks) -> dict[float, float]:
    reached: dict[float, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = count_readings(conn) - base
        now = time.monotonic()
        for m in marks:
            if m not in reached and n >= m * target:
                reached[m] = now
        if n >= target:
            break
        time.sleep(0.05)
    return reached


def latency_phase(settings, conn, devices, rate, seconds, publishers) -> dict:
    from ioc.live import LiveState, open_redis

    client = open_redis(settings.redis)
    live = LiveState(client, settings.redis)
    last_id = (client.xrevrange(live.events_key, count=1) or [(b"0-0", None)])[0][0].decode()
    before = count_readings(conn)
    total = int(rate * seconds)
    begin = time.time()
    report = mp.get_context("spawn").Queue()
    procs = run_publishers(settings, settings.mqtt.topic_prefix, devices, total, publishers, rate,
                           report)
    wait_rows_offset(conn, before, total, timeout=seconds + 120, marks=(1.0,))
    stored_at = time.time()
    for p in procs:
        p.join(30)
    sent = [report.get(timeout=30) for _ in procs]
    first, last = min(r["first"] for r in sent), max(r["last"] for r in sent)
    latencies = []
    while True:
        batch = live.read_events(last_id, count=1000)
        if not batch:
            break
        for entry_id, event in batch:
            last_id = entry_id
            if event.get("type") == "readings":
                at = event["committed_at"]
                # only this phase's messages (the throughput phase's may still be announced)
                latencies.extend(at - r[3] for r in event["readings"] if r[3] >= begin - 0.5)
    client.close()
    latencies.sort()
    if not latencies:
        raise RuntimeError("no readings events on the Redis stream")

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    # Offered: the publishers' own first-to-last send (process start-up and the wait for the
    # last rows are not publishing). Blocked: time they waited for PUBACKs with a full window.
    return {"rate": rate, "latency_samples": len(latencies), "p50_ms": pct(0.50),
            "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "offered_msgs_per_s": round(total / max(1e-3, last - first)),
            "publishers_blocked_s": round(max(r["blocked_s"] for r in sent), 2),
            "publishers_max_behind_s": round(max(r["max_behind_s"] for r in sent), 2),
            "last_stored_after_last_publish_s": round(stored_at - last, 2)}


def baseline_main(settings_json: str, count: int, done) -> None:
    """The naive consumer: parse, INSERT, COMMIT, one message at a time."""
    import paho.mqtt.client as paho

    from ingest.formats import parse
    from ioc.db.connect import connect
    from ioc.mqtt import MqttClient

    settings = Settings.model_validate_json(settings_json)
    conn = connect(settings.database, application_name="bench-baseline")
    got = [0]

    def on_message(message: paho.MQTTMessage) -> None:
        topic = message.topic[len(settings.mqtt.topic_prefix):]
        parsed = parse(topic, message.payload)
        for r in parsed.records:
            conn.execute(
                "INSERT INTO readings (time, device_id, metric, value, unit) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (r.time, r.device_id, r.metric, r.value, r.unit))
        conn.commit()
        got[0] += 1
        if got[0] >= count:
            done.set()

    client = MqttClient(settings.mqtt, "bench-baseline")
    client.subscribe("ioc/v1/#", on_message)
    client.connect()
    done.wait(600)
    client.close()


def baseline_phase(settings, conn, devices, total, publishers) -> dict:
    base = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(
        update={"topic_prefix": f"base{uuid.uuid4().hex[:6]}/"})})
    ctx = mp.get_context("spawn")
    done = ctx.Event()
    consumer = ctx.Process(target=baseline_main, args=(base.model_dump_json(by_alias=True),
                                                       total, done), daemon=True)
    consumer.start()
    time.sleep(3.0)  # let it subscribe
    before = count_readings(conn)
    procs = run_publishers(base, base.mqtt.topic_prefix, devices, total, publishers, 0)
    marks = wait_rows_offset(conn, before, total, timeout=300, marks=(0.1, 0.9))
    for p in procs:
        p.join(30)
    consumer.join(10)
    if consumer.is_alive():
        consumer.terminate()
    if 0.9 not in marks:
        raise RuntimeError("the baseline consumer did not finish")
    return {"baseline_msgs_per_s": round(0.8 * total / (marks[0.9] - marks[0.1]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, choices=(1, 2))
    ap.add_argument("--messages", type=int, default=200_000, help="throughput phase messages")
    ap.add_argument("--publishers", type=int, default=3, help="publisher processes")
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=5000.0, help="latency phase msg/s")
    ap.add_argument("--latency-s", type=float, default=20.0)
    ap.add_argument("--baseline-messages", type=int, default=4000, help="0: no baseline phase")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--flush-interval-ms", type=int, default=None)
    args = ap.parse_args(argv)

    state = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    settings, stack = start_services(state)
    devices = [f"bench-{i:05d}" for i in range(args.devices)]
    extra = {}
    if args.batch_size:
        extra["IOC_INGEST_BATCH_SIZE"] = str(args.batch_size)
    if args.flush_interval_ms:
        extra["IOC_INGEST_FLUSH_INTERVAL_MS"] = str(args.flush_interval_ms)
    workers: list[subprocess.Popen] = []
    result: dict = {"workers": args.workers, "publishers": args.publishers,
                    "devices": args.devices, "messages": args.messages, "cpus": os.cpu_count()}
    try:
        prepare_schema(settings, devices)
        from ioc.db.connect import connect

        conn = connect(settings.database, autocommit=True, application_name="bench")
        for n in range(args.workers):
            workers.append(start_worker(settings, f"bench-{n}", state / f"worker-{n}.log", extra))
        for n, w in enumerate(workers):
            wait_subscribed(state / f"worker-{n}.log", w)
        sampler = RssSampler([w.pid for w in workers])
        sampler.start()
        print(f"throughput: {args.messages} messages, {args.publishers} publishers, "
              f"{args.workers} worker(s) ...", flush=True)
        cpu_before = _cpu_seconds([w.pid for w in workers]), _cpu_seconds(_broker_pids(stack))
        result.update(throughput_phase(settings, conn, devices, args.messages, args.publishers))
        cpu_after = _cpu_seconds([w.pid for w in workers]), _cpu_seconds(_broker_pids(stack))
        # CPU per message stored: steadier than msgs/s on a shared machine
        result["worker_cpu_us_per_msg"] = round(
            (cpu_after[0] - cpu_before[0]) / args.messages * 1e6, 1)
        result["broker_cpu_us_per_msg"] = round(
            (cpu_after[1] - cpu_before[1]) / args.messages * 1e6, 1)
        print(f"  sustained {result['msgs_per_s']} msgs/s; CPU per message: workers "
              f"{result['worker_cpu_us_per_msg']} us, broker {result['broker_cpu_us_per_msg']} us",
              flush=True)
        print(f"latency: {args.rate:.0f} msg/s for {args.latency_s:.0f} s ...", flush=True)
        cpu_before = _cpu_seconds([w.pid for w in workers]), _cpu_seconds(_broker_pids(stack))
        started = time.monotonic()
        result.update(latency_phase(settings, conn, devices, args.rate, args.latency_s,
                                    min(2, args.publishers)))
        wall = time.monotonic() - started
        cpu_after = _cpu_seconds([w.pid for w in workers]), _cpu_seconds(_broker_pids(stack))
        # share of one core used during the latency phase (workers summed)
        result["latency_worker_cpu"] = round((cpu_after[0] - cpu_before[0]) / wall, 2)
        result["latency_broker_cpu"] = round((cpu_after[1] - cpu_before[1]) / wall, 2)
        print(f"  p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms;"
              f" offered {result['offered_msgs_per_s']} msg/s, publishers blocked "
              f"{result['publishers_blocked_s']} s", flush=True)
        sampler.stop.set()
        result["peak_rss_mb"] = round(sampler.peak / 2**20, 1)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(30)
        if args.baseline_messages:
            print(f"baseline: {args.baseline_messages} messages, INSERT + COMMIT each ...",
                  flush=True)
            result.update(baseline_phase(settings, conn, devices, args.baseline_messages, 1))
            result["ratio"] = round(result["msgs_per_s"] / max(1, result["baseline_msgs_per_s"]),
                                    1)
        conn.close()
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        try:
            drop_schema(settings)
        except Exception as err:  # the figures matter more than the clean-up
            print(f"could not drop the bench schema: {err}", file=sys.stderr)
        stack.stop()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
