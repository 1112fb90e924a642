"""`ioc demo` and `ioc services`: embedded services plus the supervised IOC processes."""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from ioc import running
from ioc.config import ConfigError, Settings, settings_env
from ioc.db.migrate import migrate
from ioc.services.process import ServiceError, free_port, port_open, stored_secret
from ioc.services.stack import EmbeddedStack
from ioc.supervisor import Program, Supervisor, ioc_argv

log = logging.getLogger("ioc.demo")

DEFAULT_WEB_PORT = 8050
EMBEDDED_DATA = ("postgres", "redis", "mqtt")  # the embedded servers' data in the state dir


def _web_port(settings: Settings, requested: int | None) -> int:
    if requested:
        if port_open("127.0.0.1", requested):
            raise ConfigError(f"--port {requested}: something already listens on that port")
        return requested
    preferred = settings.web.port or DEFAULT_WEB_PORT
    return preferred if not port_open("127.0.0.1", preferred) else free_port()


def _start_services(settings: Settings) -> tuple[Settings, EmbeddedStack]:
    stack = EmbeddedStack(settings.state_dir)
    try:
        return stack.start_missing(settings), stack
    except ServiceError as err:
        raise ConfigError(f"embedded services: {err}") from err


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _start_clean(settings: Settings, scenario: str, fresh: bool) -> None:
    """With --fresh, or when the scenario differs from the last demo's in this state dir,
    remove the embedded servers' data so the demo starts with no earlier alerts or colours.
    Secrets and logs stay."""
    marker = settings.state_dir / "scenario"
    last = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
    if fresh or (last is not None and last != scenario):
        if running.read(settings.state_dir) is not None:
            raise ConfigError(f"a demo is running with {settings.state_dir}: stop it first "
                              "(or give this one another IOC_STATE_DIR)")
        why = "--fresh" if fresh else f"scenario {last} -> {scenario}"
        for name in EMBEDDED_DATA:
            path = settings.state_dir / name
            if path.exists():
                shutil.rmtree(path)
        log.info("starting clean (%s): embedded data removed", why)
    marker.write_text(scenario + "\n", encoding="utf-8")


def run_services(settings: Settings) -> int:
    """Start the embedded servers, print their URLs, wait for Ctrl-C."""
    settings, stack = _start_services(settings)
    running.record(settings)
    try:
        for var, value in settings_env(settings).items():
            if var.endswith("_URL"):
                print(f"export {var}='{value}'", flush=True)
        if settings.database.owner_url:  # for `ioc db migrate` only, never the processes
            print(f"export IOC_DATABASE_OWNER_URL='{settings.database.owner_url}'", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
    finally:
        running.forget(settings.state_dir)
        stack.stop()
    return 0


def run_demo(settings: Settings, *, scenario: str, speed: float, port: int | None,
             fresh: bool = False) -> int:
    if settings.env == "production":
        raise ConfigError("IOC_ENV=production: `ioc demo` is for demonstrations; use docker compose")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    _start_clean(settings, scenario, fresh)
    web_port = _web_port(settings, port)
    if not settings.web.secret_key:
        key = stored_secret(settings.state_dir / "web-secret-key") or secrets.token_urlsafe(32)
        settings = settings.model_copy(
            update={"web": settings.web.model_copy(update={"secret_key": key})}
        )
    if settings.evidence.signing_key_file is None:
        # Demo evidence bundles are signed, so `ioc evidence verify` can prove their origin;
        # the key pair stays in the state directory (see docs/police.md).
        settings = settings.model_copy(update={"evidence": settings.evidence.model_copy(
            update={"signing_key_file": demo_signing_key(settings.state_dir)})})
    started = time.monotonic()
    settings, stack = _start_services(settings)
    running.record(settings)
    supervisor: Supervisor | None = None
    try:
        for line in stack.describe():
            log.info("%s", line)
        report = migrate(settings.database)
        log.info(
            "database ready: %d migration(s) applied, %s",
            len(report.applied),
            f"TimescaleDB {report.timescale}" if report.timescale else "plain PostgreSQL",
        )
        demo_users = _ensure_demo_users(settings)
        env = settings_env(settings)
        env["IOC_WEB_PORT"] = str(web_port)
        env["IOC_WEB_HOST"] = "127.0.0.1"
        metrics_port = free_port()
        env["IOC_INGEST_METRICS_PORT"] = str(metrics_port)
        log.info("ingest metrics at http://127.0.0.1:%d/metrics", metrics_port)
        # One-shot set-up steps, each a process of its own like in production.
        for step in (["layers", "seed"], ["sim", "--register-only", "--scenario", scenario],
                     ["kpi", "seed", "--history", "365"]):
            subprocess.run(ioc_argv(*step), env={**_os_env(), **env}, check=True)
        programs = [
            Program("ingest", ioc_argv("ingest", "--name", "demo-1"), {"IOC_PROCESS_NAME": "ingest"}),
            Program("alerts", ioc_argv("alerts"), {"IOC_PROCESS_NAME": "alerts"}),
            Program("maintain", ioc_argv("maintain"), {"IOC_PROCESS_NAME": "maintain"}),
            Program("web", ioc_argv("web"), {"IOC_PROCESS_NAME": "web"}),
            Program(
                "sim",
                ioc_argv("sim", "--scenario", scenario, "--speed", str(speed)),
                {"IOC_PROCESS_NAME": "sim"},
                # the ingest worker's subscription must exist before the first reading
                start_delay_s=2.0,
            ),
        ]
        if settings.police.frigate_url:  # a real Frigate: fetch its pictures and clips
            programs.append(Program("police-media",
                                    ioc_argv("police", "media", "fetch", "--follow"),
                                    {"IOC_PROCESS_NAME": "police-media"}))
        supervisor = Supervisor(programs, env)
        supervisor.install_signal_handlers()
        supervisor.start_all()
        url = f"http://127.0.0.1:{web_port}/"
        if _wait_http(url + "healthz", 60):
            log.info("the IOC is up after %.1f s", time.monotonic() - started)
            _banner(url, settings, scenario, demo_users)
        else:
            log.error("the web process did not answer at %s within 60 s", url)
        supervisor.run()
    except subprocess.CalledProcessError as err:
        log.error("set-up step failed: %s", " ".join(err.cmd[2:]))
        return 1
    finally:
        running.forget(settings.state_dir)
        if supervisor is not None:
            supervisor.stop_all()
        stack.stop()
    log.info("demo stopped")
    return 0


def demo_signing_key(state_dir: Path) -> Path:
    """DEMO ONLY: the demo's evidence key pair in the state dir (made on first use), and its
    public key beside it for `ioc evidence verify --public-key`."""
    from evidence.signing import ensure_key_file

    path = state_dir / "evidence-signing-key.pem"
    key = ensure_key_file(path)
    public = state_dir / "evidence-public-key.pem"
    if not public.exists():
        public.write_text(key.public.pem(), encoding="ascii")
    return path


def _os_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _ensure_demo_users(settings: Settings) -> list:
    """DEMO ONLY: one user per role with a generated password (kept in the state dir)."""
    from ioc.db import connect
    from ioc.security.demo_users import ensure_demo_users

    with connect(settings.database, application_name="ioc-demo") as conn:
        creds = ensure_demo_users(conn, settings.state_dir, settings.security)
        conn.commit()
    return creds


def _banner(url: str, settings: Settings, scenario: str, demo_users: list = ()) -> None:
    lines = [
        "",
        "  ioc demo is running",
        f"  open {url}   (scenario: {scenario})",
        f"  state and logs: {settings.state_dir.resolve()}",
        f"  evidence bundles are signed; check one with: ioc evidence verify FILE "
        f"--public-key {settings.state_dir / 'evidence-public-key.pem'}",
        "  Ctrl-C stops everything",
        "",
    ]
    if demo_users:
        lines[-1:-1] = [
            "  DEMO log-ins (generated for this demo only; production has no default users):"
        ]
        lines[-1:-1] = [f"    {c.role:<11} {c.username:<11} {c.password}" for c in demo_users]
    print("\n".join(lines), file=sys.stderr, flush=True)


def hostname() -> str:
    return socket.gethostname()
