"""Embedded MQTT broker: Mosquitto when installed, else rumqttd from the iotcore wheel.

Mosquitto gives everything the pipeline needs (MQTT 5, shared subscriptions, persistent
sessions that survive a broker restart). rumqttd needs no system package but keeps sessions in
memory only, so a broker restart loses queued messages; we say so at start-up. See
docs/broker-choice.md for the measurements behind this.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ioc.mqtt import broker_accepts
from ioc.services.process import ServerProcess, ServiceError, free_port, stored_secret

log = logging.getLogger(__name__)

USERNAME = "ioc"


def mosquitto_binary() -> Path | None:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def _rumqttd_available() -> bool:
    try:
        import iotcore  # noqa: F401
    except ImportError:
        return False
    return True


class EmbeddedBroker(ServerProcess):
    """An MQTT broker under `state_dir/mqtt` on a free loopback port."""

    name = "MQTT broker"

    def __init__(self, state_dir: Path, port: int | None = None, backend: str | None = None) -> None:
        self.root = state_dir.resolve() / "mqtt"
        super().__init__(self.root / "broker.log")
        self.port = port or free_port()
        self.password = stored_secret(self.root / "password")
        self.backend = self._choose(backend or os.environ.get("IOC_DEMO_BROKER", "auto"))
        self.name = f"MQTT broker ({self.backend})"

    @staticmethod
    def _choose(backend: str) -> str:
        if backend not in ("auto", "mosquitto", "rumqttd"):
            raise ServiceError(f"IOC_DEMO_BROKER: unknown broker {backend!r} (auto, mosquitto, rumqttd)")
        if backend in ("auto", "mosquitto") and mosquitto_binary():
            return "mosquitto"
        if backend == "mosquitto":
            raise ServiceError("IOC_DEMO_BROKER=mosquitto but no mosquitto binary is installed")
        if _rumqttd_available():
            return "rumqttd"
        raise ServiceError("no MQTT broker: install mosquitto (apt-get install mosquitto) or iotcore")

    @property
    def persistent_across_restart(self) -> bool:
        return self.backend == "mosquitto"

    @property
    def url(self) -> str:
        if self.backend == "rumqttd":
            return f"mqtt://127.0.0.1:{self.port}"  # rumqttd here runs without authentication
        return f"mqtt://{USERNAME}:{self.password}@127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.backend == "mosquitto":
            self._spawn([str(mosquitto_binary()), "-c", str(self._mosquitto_config())])
        else:
            log.warning(
                "embedded broker is rumqttd (mosquitto not installed): MQTT 5 and shared "
                "subscriptions work, but sessions live in memory (a broker restart loses queued "
                "messages), session expiry is ignored, redeliveries carry no DUP flag, and old "
                "messages are dropped when its in-memory log is full; install mosquitto "
                "(apt-get install mosquitto) or set IOC_MQTT_URL"
            )
            self._spawn(
                [sys.executable, "-m", "iotcore", "--config", str(self._rumqttd_config()),
                 "--log-level", "CRITICAL"]
            )
        self._wait_ready(self._accepts, timeout)
        log.info("embedded %s listening on 127.0.0.1:%d", self.name, self.port)
        return self.url

    def _mosquitto_config(self) -> Path:
        passwd = self.root / "passwd"
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        passwd.unlink(missing_ok=True)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        try:
            subprocess.run(
                [tool, "-b", "-c", str(passwd), USERNAME, self.password],
                check=True, capture_output=True, text=True, timeout=20,
            )
        except (OSError, subprocess.CalledProcessError) as err:
            raise ServiceError(f"could not write the broker password file: {err}") from err
        passwd.chmod(0o600)
        conf = self.root / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            "persistence true",
            f"persistence_location {data}/",
            # Sessions, their plain subscriptions and queues are saved on a clean stop and
            # every second: a broker SIGKILL loses at most the last second (docs/ingest.md).
            "autosave_interval 1",
            "persistent_client_expiration 7d",
            # Each ingest worker's session queues ALL ingest traffic while it is away.
            "max_queued_messages 2000000",
            "max_queued_bytes 0",
            "max_inflight_messages 10000",  # un-acked QoS 1 per client; MQTT 5 clients lower it
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages false",
        ]
        if os.name == "posix" and os.geteuid() == 0:
            lines.append(f"user {getpass.getuser()}")  # stay who we are: files are ours
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def _rumqttd_config(self) -> Path:
        conf = self.root / "rumqttd.toml"
        conf.write_text(
            "id = 0\n\n[router]\nid = 0\nmax_connections = 1000\n"
            "max_outgoing_packet_count = 200\nmax_segment_size = 104857600\n"
            "max_segment_count = 10\n\n[v5.1]\nname = \"v5-1\"\n"
            f"listen = \"127.0.0.1:{self.port}\"\nnext_connection_delay_ms = 1\n"
            "    [v5.1.connections]\n    connection_timeout_ms = 60000\n"
            "    max_payload_size = 1048576\n    max_inflight_count = 100\n"
        )
        return conf

    def _accepts(self) -> bool:
        if self.backend == "mosquitto":
            return broker_accepts("127.0.0.1", self.port, USERNAME, self.password)
        return broker_accepts("127.0.0.1", self.port)
