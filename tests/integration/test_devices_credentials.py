"""Device MQTT passwords made by `ioc devices credentials`, checked by a real Mosquitto running
the production configuration and ACL: created, rotated (the old password stops working),
revoked, and revoked on retirement, all without restarting the broker."""

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

from ioc.cli import main
from ioc.config import MqttSettings, settings_env
from ioc.devices.credentials import check_password, hash_password, set_line
from ioc.mqtt import MqttClient
from ioc.security import audit
from ioc.services.mqtt_broker import mosquitto_binary
from ioc.services.process import free_port

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
DATA = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data"
INGEST = ("ioc-ingest", "ingest-secret")


@pytest.fixture
def broker(tmp_path):
    """The production mosquitto.conf and ACL, this machine's paths; (port, passwd, pid file)."""
    binary, passwd_tool = mosquitto_binary(), shutil.which("mosquitto_passwd")
    if binary is None or passwd_tool is None:
        pytest.skip("Mosquitto is not installed (apt-get install mosquitto)")
    passwd = tmp_path / "passwd"
    subprocess.run([passwd_tool, "-b", "-c", str(passwd), *INGEST], check=True,
                   capture_output=True, timeout=20)
    port = free_port()
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
        conf.append(f"user {getpass.getuser()}")
    (tmp_path / "mosquitto.conf").write_text("\n".join(conf) + "\n")
    proc = subprocess.Popen([str(binary), "-c", str(tmp_path / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port, passwd, pid_file
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def cli(settings, broker, monkeypatch):
    _port, passwd, pid_file = broker
    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("IOC_DEVICES_MQTT_PASSWORD_FILE", str(passwd))
    monkeypatch.setenv("IOC_DEVICES_MQTT_BROKER_PID_FILE", str(pid_file))
    assert main(["devices", "import", str(DATA / "example.yaml")]) == 0
    return broker


def _client(port: int, user: str, password: str) -> MqttClient:
    return MqttClient(MqttSettings(url=f"mqtt://{user}:{password}@127.0.0.1:{port}",
                                   client_id_prefix="cred"), user)


def _connects(port: int, user: str, password: str, timeout: float = 3) -> bool:
    try:
        _client(port, user, password).connect(timeout=timeout).close()
        return True
    except ConnectionError:
        return False


def _until(predicate, timeout: float = 20.0) -> bool:
    """The broker reloads on SIGHUP asynchronously: retry for a while."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _password(out: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.startswith("MQTT password:"))


def test_create_rotate_revoke_at_the_real_broker(cli, db_conn, capsys):
    port, passwd, _pid = cli
    device = "aq-lao-cai-01"
    capsys.readouterr()
    assert main(["devices", "credentials", "create", device, "--actor", "an"]) == 0
    first = _password(capsys.readouterr().out)
    assert len(first) >= 30
    # Hashed in Mosquitto's own format; the service account's line is kept as it was.
    lines = passwd.read_text().splitlines()
    assert lines[0].startswith("ioc-ingest:$7$")
    assert check_password(first, lines[1].split(":", 1)[1])
    assert first not in passwd.read_text()
    assert _until(lambda: _connects(port, device, first))

    # The device publishes under its own id and the ingest account receives it (ACL).
    got: queue.Queue = queue.Queue()
    ingest = _client(port, *INGEST).connect()
    dev = _client(port, device, first).connect()
    try:
        ingest.subscribe("$share/ioc-ingest/ioc/v1/#", lambda m: got.put(m.topic))
        time.sleep(0.5)
        dev.publish("ioc/v1/environment/gate-fansipan-01", b"{}").wait_for_publish(5)
        dev.publish(f"ioc/v1/environment/{device}", b"{}").wait_for_publish(5)
        assert got.get(timeout=10) == f"ioc/v1/environment/{device}"
    finally:
        dev.close()
        ingest.close()

    assert main(["devices", "credentials", "create", device]) == 1  # one at a time: rotate
    assert main(["devices", "credentials", "rotate", device, "--actor", "an"]) == 0
    second = _password(capsys.readouterr().out)
    assert second != first
    assert _until(lambda: not _connects(port, device, first)), "the old password still works"
    assert _connects(port, device, second)
    assert _connects(port, *INGEST)  # the service keeps working across the reload

    assert main(["devices", "credentials", "revoke", device, "--actor", "an"]) == 0
    assert _until(lambda: not _connects(port, device, second))
    assert device not in passwd.read_text()
    actions = [e.action for e in audit.search(db_conn, action="device.")]
    assert actions == ["device.credential_revoke", "device.credential_rotate",
                       "device.credential_create", "device.import"]
    state = db_conn.execute("SELECT state, version FROM device_credentials WHERE device_id = %s",
                            (device,)).fetchone()
    assert state == ("revoked", 3)


def test_retiring_a_device_revokes_its_password(cli, capsys):
    port, _passwd, _pid = cli
    assert main(["devices", "credentials", "create", "gate-fansipan-01"]) == 0
    password = _password(capsys.readouterr().out)
    assert _until(lambda: _connects(port, "gate-fansipan-01", password))
    assert main(["devices", "retire", "gate-fansipan-01", "--reason", "gỡ bỏ"]) == 0
    assert "MQTT password revoked" in capsys.readouterr().out
    assert _until(lambda: not _connects(port, "gate-fansipan-01", password))
    assert main(["devices", "credentials", "create", "gate-fansipan-01"]) == 1


def test_hash_matches_mosquitto_passwd(tmp_path):
    """Our $7$ line and mosquitto_passwd's agree on the same salt (pure, no broker)."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    path = tmp_path / "p"
    subprocess.run([tool, "-b", "-c", str(path), "dev-1", "s3cret"], check=True, timeout=20)
    theirs = path.read_text().strip().split(":", 1)[1]
    _, _, iterations, salt, _ = theirs.split("$")
    import base64

    ours = hash_password("s3cret", iterations=int(iterations), salt=base64.b64decode(salt))
    assert ours == theirs
    assert check_password("s3cret", theirs) and not check_password("other", theirs)
    assert set_line("a:x\n# note\nb:y\n", "a", None) == "# note\nb:y\n"
