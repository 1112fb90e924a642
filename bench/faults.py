"""Fault benchmark: is every reading the broker PUBACKed stored exactly once, whatever breaks?

    python bench/faults.py                  # about 4-6 minutes
    python bench/faults.py --per-fault 5000 --rate 500

Starts embedded PostgreSQL, Mosquitto and Redis, runs 2 ingest workers as `python -m ioc
ingest` processes, and publishes numbered readings (QoS 1, one publisher) while it injects,
one after the other:

1. worker_sigkill: one worker is SIGKILLed mid-stream and restarted 2 s later;
2. broker_sigterm_workers_away: both workers stopped, the broker restarted (SIGTERM), the
   readings published, then the workers started again;
3. broker_sigterm_workers_connected: the broker restarted (SIGTERM, 2 s down) mid-stream;
4. broker_sigkill_workers_away: like 2, with SIGKILL after the broker's next autosave;
5. broker_sigkill_workers_connected: the broker SIGKILLed mid-stream, restarted 2 s later;
6. database_stop_20s: PostgreSQL stopped for 20 s mid-stream;
7. autosave_window (a measurement, not a fault we survive): workers away, a burst published
   and the broker SIGKILLed right after the last PUBACK, before its next autosave.

Per fault: published, acknowledged (PUBACK received by the publisher), stored (distinct
readings of the fault in `readings`), lost (acknowledged but not stored), duplicated (rows
beyond one per reading). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import drop_schema, prepare_schema, start_worker  # noqa: E402
from ioc.config import DatabaseSettings, MqttSettings, RedisSettings, Settings  # noqa: E402
from ioc.mqtt import MqttClient  # noqa: E402

DEVICES = [f"fault-{i:03d}" for i in range(50)]
WORKERS = ("fa", "fb")


class Bench:
    def __init__(self, args) -> None:
        from ioc.services.mqtt_broker import EmbeddedBroker
        from ioc.services.postgres import EmbeddedPostgres
        from ioc.services.stack import EmbeddedStack

        self.args = args
        self.state = Path(tempfile.mkdtemp(prefix="ioc-faults-"))
        tag = uuid.uuid4().hex[:6]
        base = Settings(
            env="test", state_dir=self.state, log_level="WARNING",
            database=DatabaseSettings(schema=f"faults_{tag}"),
            mqtt=MqttSettings(topic_prefix=f"f{tag}/", client_id_prefix=f"f{tag}"),
            redis=RedisSettings(key_prefix=f"faults{tag}:"),
        )
        self.stack = EmbeddedStack(self.state)
        self.settings = self.stack.start_missing(base)
        self.broker = next(s for s in self.stack.servers if isinstance(s, EmbeddedBroker))
        self.pg = next(s for s in self.stack.servers if isinstance(s, EmbeddedPostgres))
        self.t0 = int(time.time()) - 86400  # reading i has time t0 + i ms: unique, exact
        self.next_number = 0
        self.workers: dict[str, subprocess.Popen] = {}
        self.env = {"IOC_INGEST_FLUSH_INTERVAL_MS": "100", "IOC_INGEST_BATCH_SIZE": "500"}
        self.pub: MqttClient | None = None
        self._db_stopped = 0.0

    # -- processes ----------------------------------------------------------------------------
    def start_worker(self, name: str) -> None:
        log = self.state / f"worker-{name}.log"
        before = log.read_text(errors="replace").count("started") if log.exists() else 0
        proc = start_worker(self.settings, name, log, self.env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if log.exists() and log.read_text(errors="replace").count(
                    f"ingest worker {name} started") > before:
                self.workers[name] = proc
                return
            if proc.poll() is not None:
                raise RuntimeError(f"worker {name} exited with {proc.returncode}; see {log}")
            time.sleep(0.1)
        raise RuntimeError(f"worker {name} did not start; see {log}")

    def stop_worker(self, name: str, sig=signal.SIGTERM) -> None:
        proc = self.workers.pop(name)
        proc.send_signal(sig)
        proc.wait(60)

    def autosaved_after(self, moment: float, timeout: float = 30) -> float:
        """Wait for the broker's autosave after `moment`; returns how long it took."""
        db = self.broker.root / "data" / "mosquitto.db"
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if db.exists() and db.stat().st_mtime > moment:
                return time.monotonic() - began
            time.sleep(0.05)
        raise RuntimeError("the broker did not autosave")

    def autosave_periods(self, seconds: float = 10.0) -> list[float]:
        """Seconds between the broker's consecutive persistence writes, watched for `seconds`."""
        db = self.broker.root / "data" / "mosquitto.db"
        seen, last = [], None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            mtime = db.stat().st_mtime if db.exists() else None
            if mtime != last:
                seen.append(time.monotonic())
                last = mtime
            time.sleep(0.01)
        return [round(b - a, 2) for a, b in zip(seen[1:], seen[2:], strict=False)]

    def restart_broker(self, sig: int, down_s: float = 0.0) -> None:
        self.broker.stop(sig=sig)
        time.sleep(down_s)
        self.broker.start()
        if self.pub is not None and down_s == 0.0:  # between phases: publish once reconnected
            self.pub.wait_connected(60.0)

    # -- publishing ---------------------------------------------------------------------------
    def publisher(self) -> MqttClient:
        if self.pub is None:
            self.pub = MqttClient(self.settings.mqtt, f"faults-pub-{uuid.uuid4().hex[:6]}")
            self.pub.connect(30)
        return self.pub

    def publish(self, count: int, rate: float, during=None, at_fraction: float = 0.3):
        """Publish `count` numbered readings at `rate`/s (0: flat out); `during()` runs once
        `at_fraction` of them is out. Returns (first number, infos)."""
        pub = self.publisher()
        first = self.next_number
        self.next_number += count
        infos = []
        began = time.monotonic()
        fired = during is None
        for k in range(count):
            if rate:
                delay = began + k / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if not fired and k >= count * at_fraction:
                fired = True
                during()
            i = first + k
            payload = b'{"time":%d.%03d,"metrics":{"pm25":%d}}' % (
                self.t0 + i // 1000, i % 1000, i % 500)
            topic = f"ioc/v1/environment/{DEVICES[i % len(DEVICES)]}"
            info = pub.publish(topic, payload, qos=1)
            deadline = time.monotonic() + 60
            while info.rc != 0 and time.monotonic() < deadline:
                # refused at once (not connected): a device tries again once it is connected
                pub.wait_connected(5.0)
                info = pub.publish(topic, payload, qos=1)
            infos.append(info)
        return first, infos

    @staticmethod
    def acknowledged(infos, timeout: float = 90.0) -> list[bool]:
        deadline = time.monotonic() + timeout
        for info in infos:
            try:
                info.wait_for_publish(max(0.01, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass
        flags = []
        for info in infos:
            try:
                flags.append(info.is_published())
            except RuntimeError:  # publishing failed: never acknowledged
                flags.append(False)
        return flags

    # -- counting -----------------------------------------------------------------------------
    def stored(self, conn, first: int, count: int) -> tuple[set[int], int]:
        """(numbers stored, rows) of readings first..first+count."""
        lo, hi = self.t0 + first / 1000, self.t0 + (first + count) / 1000
        rows = conn.execute(
            "SELECT round((extract(epoch FROM time) - %s) * 1000)::bigint FROM readings "
            "WHERE time >= to_timestamp(%s) AND time < to_timestamp(%s)",
            (self.t0, lo - 0.0005, hi - 0.0005)).fetchall()
        return {r[0] for r in rows}, len(rows)

    def settle(self, conn, first: int, acked: set[int], timeout: float = 120.0):
        """Wait until every acknowledged reading is stored, or nothing changes for 20 s."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            numbers, rows = self.stored(conn, first, self.next_number - first)
            if acked <= numbers:
                time.sleep(1.0)  # anything extra would land now
                return self.stored(conn, first, self.next_number - first)
            if len(numbers) != last:
                last, since = len(numbers), time.monotonic()
            elif time.monotonic() - since > 20:
                break
            time.sleep(0.25)
        return self.stored(conn, first, self.next_number - first)

    def fault(self, conn, name: str, first: int, infos, **extra) -> dict:
        acked_flags = self.acknowledged(infos)
        acked = {first + k for k, ok in enumerate(acked_flags) if ok}
        numbers, rows = self.settle(conn, first, acked)
        result = {"fault": name, "published": len(infos), "acknowledged": len(acked),
                  "stored": len(numbers), "lost": len(acked - numbers),
                  "duplicated": rows - len(numbers), **extra}
        print(f"  {json.dumps(result)}", flush=True)
        return result

    # -- the timeline -------------------------------------------------------------------------
    def run(self) -> dict:
        from ioc.db.connect import connect

        a = self.args
        n, rate = a.per_fault, a.rate
        prepare_schema(self.settings, DEVICES)
        conn = connect(self.settings.database, autocommit=True, application_name="faults")
        results = []
        for w in WORKERS:
            self.start_worker(w)

        print("worker SIGKILL ...", flush=True)

        def kill_worker():
            self.stop_worker("fa", signal.SIGKILL)
            time.sleep(2.0)
            self.start_worker("fa")
        first, infos = self.publish(n, rate, kill_worker)
        results.append(self.fault(conn, "worker_sigkill", first, infos))

        for sig, label in ((signal.SIGTERM, "sigterm"), (signal.SIGKILL, "sigkill")):
            print(f"broker {label.upper()} with the workers away ...", flush=True)
            for w in WORKERS:
                self.stop_worker(w)
            self.autosaved_after(time.time())
            self.restart_broker(sig)
            first, infos = self.publish(n, rate)
            self.acknowledged(infos)
            if sig == signal.SIGKILL:  # killed with the readings queued, after an autosave
                self.autosaved_after(time.time())
                self.restart_broker(sig)
            for w in WORKERS:
                self.start_worker(w)
            results.append(self.fault(conn, f"broker_{label}_workers_away", first, infos))

            print(f"broker {label.upper()} with the workers connected ...", flush=True)
            conn.execute("SELECT 1")
            first, infos = self.publish(n, rate, lambda s=sig: self.restart_broker(s, 2.0))
            results.append(self.fault(conn, f"broker_{label}_workers_connected", first, infos))

        print("database stopped 20 s ...", flush=True)
        conn.close()

        def stop_db():
            self.pg.stop()
            self._db_stopped = time.monotonic()
        first, infos = self.publish(n, rate, stop_db, at_fraction=0.1)
        wait = 20.0 - (time.monotonic() - self._db_stopped)
        if wait > 0:
            time.sleep(wait)
        self.pg.start()
        conn = connect(self.settings.database, autocommit=True, application_name="faults")
        results.append(self.fault(conn, "database_stop_20s", first, infos,
                                  stopped_s=round(time.monotonic() - self._db_stopped, 1)))

        print("autosave window: SIGKILL right after a burst, workers away ...", flush=True)
        for w in WORKERS:
            self.stop_worker(w)
        periods = self.autosave_periods()
        self.autosaved_after(time.time())
        saved = time.monotonic()
        first, infos = self.publish(a.window_burst, 0)
        self.acknowledged(infos)
        killed_after = time.monotonic() - saved
        self.broker.stop(sig=signal.SIGKILL)
        self.broker.start()
        for w in WORKERS:
            self.start_worker(w)
        window = self.fault(conn, "autosave_window", first, infos,
                            killed_s_after_an_autosave=round(killed_after, 2))
        for w in list(self.workers):
            self.stop_worker(w)
        conn.close()
        faults = results
        return {
            "per_fault": n, "rate": rate, "workers": len(WORKERS),
            "autosave_interval_s": 1,
            "autosave_periods_s": periods,
            "faults": faults,
            "lost_total": sum(r["lost"] for r in faults),
            "duplicated_total": sum(r["duplicated"] for r in faults),
            "autosave_window": window,
        }

    def close(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.kill()
        if self.pub is not None:
            self.pub.close()
        try:
            if not self.pg.running:
                self.pg.start()
            drop_schema(self.settings)
        except Exception as err:  # the figures matter more than the clean-up
            print(f"could not drop the bench schema: {err}", file=sys.stderr)
        self.stack.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-fault", type=int, default=3000, help="readings published per fault")
    ap.add_argument("--rate", type=float, default=500.0, help="readings per second")
    ap.add_argument("--window-burst", type=int, default=5000,
                    help="readings published flat out just before the unsaved SIGKILL")
    args = ap.parse_args(argv)
    os.environ.setdefault("IOC_LOG_LEVEL", "WARNING")
    bench = Bench(args)
    try:
        result = bench.run()
    finally:
        bench.close()
    print(json.dumps(result), flush=True)
    return 0 if result["lost_total"] == 0 and result["duplicated_total"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
