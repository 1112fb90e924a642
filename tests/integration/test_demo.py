"""`ioc demo` end to end, as a new user runs it: HTTP 200, readings arriving, `ioc maintain`
beside them, and a clean stop that leaves no process behind.

The demo's state lives in a folder of its own (tempfile.mkdtemp), not in pytest's shared
/tmp/pytest-of-<user>: several pytest sessions run at once on a CI machine, and a path that
another session can also produce or clean up made the "no process left" check and the
embedded servers' files depend on who else was running. Every wait is for a condition, with
deadlines generous enough for a loaded machine (how fast the demo starts is measured by
bench/, not asserted here)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from ioc.services.process import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _readings(url: str) -> int:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def _maintained(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return conn.execute(
            "SELECT EXISTS (SELECT 1 FROM maintenance_jobs WHERE job = 'rollups' AND last_ok) "
            "AND EXISTS (SELECT 1 FROM rollup_dirty UNION ALL SELECT 1 FROM reading_rollups)"
        ).fetchone()[0]


START_S = 240  # first start: initdb, migrations, seeds, five processes; slow under load


@pytest.fixture
def own_dir():
    path = Path(tempfile.mkdtemp(prefix="ioc-demo-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait(condition, timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def test_demo_comes_up_and_keeps_storing(own_dir: Path):
    tmp_path = own_dir
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_STATE_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        ok = False
        while time.monotonic() - started < START_S and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    ok = resp.status == 200
            except OSError:
                pass
            if ok:
                break
            time.sleep(0.5)
        assert ok, f"no HTTP 200 within {START_S} s:\n" + "".join(log[-40:])
        match = next(
            m for line in log
            if (m := re.search(r"embedded PostgreSQL listening on 127.0.0.1:(\d+)", line))
        )
        password = (tmp_path / "state/postgres/password").read_text().strip()
        db_url = f"postgresql://ioc:{password}@127.0.0.1:{match[1]}/ioc"
        first = _readings(db_url)
        assert _wait(lambda: _readings(db_url) > first, 120), \
            "readings stopped arriving:\n" + "".join(log[-40:])
        second = _readings(db_url)
        assert _wait(lambda: _readings(db_url) > second, 120), \
            "readings stopped arriving:\n" + "".join(log[-40:])
        assert _wait(lambda: any("ioc demo is running" in line for line in log), 60)
        # `ioc maintain` runs beside them: its first round is recorded, ingest marks hours
        assert _wait(lambda: _maintained(db_url), 180), \
            "ioc maintain recorded no round:\n" + "".join(log[-40:])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        reader.join(5)
    assert proc.returncode == 0, "".join(log[-40:])
    assert any("demo stopped" in line for line in log)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "processes left running: " + leftovers.stdout
