"""The production broker's topic ACL (deploy/mosquitto/acl) in a real Mosquitto: a device
publishes only under its own id, the ingest account reads, nobody anonymous gets in."""

from __future__ import annotations

import getpass
import os
import queue
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ioc.config import MqttSettings
from ioc.mqtt import MqttClient
from ioc.services.mqtt_broker import mosquitto_binary
from ioc.services.process import free_port

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
ACCOUNTS = {"ioc-ingest": "ingest-secret", "aq-001": "device-one", "aq-002": "device-two"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    binary, passwd_tool = mosquitto_binary(), shutil.which("mosquitto_passwd")
    if binary is None or passwd_tool is None:
        pytest.skip("Mosquitto is not installed (apt-get install mosquitto)")
    root = tmp_path_factory.mktemp("acl-broker")
    passwd = root / "passwd"
    for i, (user, password) in enumerate(ACCOUNTS.items()):
        flags = ["-b", "-c"] if i == 0 else ["-b"]
        subprocess.run([passwd_tool, *flags, str(passwd), user, password], check=True,
                       capture_output=True, timeout=20)
    port = free_port()
    # The production file with this machine's paths: same ACL, same authentication rules.
    conf = []
    for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "password_file":
            line = f"password_file {passwd}"
        elif key == "acl_file":
            line = f"acl_file {DEPLOY / 'acl'}"
        elif key in ("persistence", "persistence_location", "autosave_interval"):
            continue
        conf.append(line)
    if os.geteuid() == 0:
        conf.append(f"user {getpass.getuser()}")  # as root it would drop to `mosquitto`
    (root / "mosquitto.conf").write_text("\n".join(conf) + "\n")
    proc = subprocess.Popen([str(binary), "-c", str(root / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(10)


def _settings(port: int, user: str | None) -> MqttSettings:
    auth = f"{user}:{ACCOUNTS[user]}@" if user else ""
    return MqttSettings(url=f"mqtt://{auth}127.0.0.1:{port}", client_id_prefix="acl")


def test_a_device_publishes_only_under_its_own_id(broker):
    got: queue.Queue = queue.Queue()
    ingest = MqttClient(_settings(broker, "ioc-ingest"), "ingest").connect()
    device = MqttClient(_settings(broker, "aq-002"), "aq-002").connect()
    try:
        ingest.subscribe("$share/ioc-ingest/ioc/v1/#", lambda m: got.put((m.topic, m.payload)))
        time.sleep(0.5)
        device.publish("ioc/v1/environment/aq-001", b"forged").wait_for_publish(5)
        device.publish("ioc/v1/cap", b"<alert/>").wait_for_publish(5)
        device.publish("ioc/v1/environment/aq-002", b"own").wait_for_publish(5)
        device.publish("ioc/v1/senml/aq-002", b"[]").wait_for_publish(5)
        received = [got.get(timeout=10), got.get(timeout=10)]
        time.sleep(0.5)
        assert received == [("ioc/v1/environment/aq-002", b"own"), ("ioc/v1/senml/aq-002", b"[]")]
        assert got.empty()
    finally:
        device.close()
        ingest.close()


def test_anonymous_and_wrong_password_are_refused(broker):
    with pytest.raises(ConnectionError):
        MqttClient(_settings(broker, None), "anon").connect(timeout=3)
    bad = MqttSettings(url=f"mqtt://aq-001:wrong@127.0.0.1:{broker}", client_id_prefix="acl")
    with pytest.raises(ConnectionError):
        MqttClient(bad, "bad").connect(timeout=3)


def test_only_the_ingest_account_announces_the_ingest_member_list(broker):
    got: queue.Queue = queue.Queue()
    ingest = MqttClient(_settings(broker, "ioc-ingest"), "ingest").connect()
    device = MqttClient(_settings(broker, "aq-001"), "aq-001").connect()
    try:
        ingest.subscribe("ioc/v1/ctl/#", lambda m: got.put((m.topic, m.payload)))
        time.sleep(0.5)
        device.publish("ioc/v1/ctl/ingest/members", b"forged").wait_for_publish(5)
        ingest.publish("ioc/v1/ctl/ingest/members", b"real").wait_for_publish(5)
        assert got.get(timeout=10) == ("ioc/v1/ctl/ingest/members", b"real")
        time.sleep(0.5)
        assert got.empty()
    finally:
        device.close()
        ingest.close()
