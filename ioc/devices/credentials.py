"""Device MQTT passwords: made here, stored hashed in Mosquitto's password file, shown once.

The hash is the one Mosquitto 2 writes with `mosquitto_passwd`: `$7$<iterations>$<salt>$<hash>`,
PBKDF2-HMAC-SHA512 over a 12-byte salt, 64-byte key, both base64 (Mosquitto 2.0.11 reads it;
`$6$`, salted SHA-512, is its older form). The file is rewritten atomically with only the
device's line changed; lines ioc did not write (service accounts, comments) are kept. The
broker re-reads it on SIGHUP (a pid file) or a configured reload command: no restart, no
dropped sessions. The database keeps the credential's state (active/revoked) and the audit
log who changed it; the password itself is printed once and stored nowhere in plain text.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ioc.config.models import DevicesSettings
from ioc.devices.store import DeviceError, get_device
from ioc.security import audit

log = logging.getLogger(__name__)

SALT_BYTES = 12
KEY_BYTES = 64
PASSWORD_BYTES = 24  # 32 characters of URL-safe base64: typed into a device's web page


def hash_password(password: str, *, iterations: int = 101, salt: bytes | None = None) -> str:
    """The `$7$` line part Mosquitto 2 checks a password against (pure)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, KEY_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def check_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a `$7$` hash (for tests and `show`)."""
    try:
        _, kind, iterations, salt, key = hashed.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt),
                                  int(iterations), len(base64.b64decode(key)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(key))


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def set_line(text: str, user: str, hashed: str | None) -> str:
    """The password file with `user`'s line replaced (or removed when `hashed` is None)."""
    out, found = [], False
    for line in text.splitlines():
        name = line.split(":", 1)[0]
        if name == user and not line.lstrip().startswith("#"):
            if hashed is not None and not found:
                out.append(f"{user}:{hashed}")
            found = True
            continue
        out.append(line)
    if hashed is not None and not found:
        out.append(f"{user}:{hashed}")
    return "".join(f"{line}\n" for line in out)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one rename, mode 0600 (a broker never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `<file>.lock` beside the password file, for read-change-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def reload_broker(settings: DevicesSettings) -> str:
    """Make the broker re-read its password file; returns what was done (for the user)."""
    if settings.mqtt_reload_command:
        argv = shlex.split(settings.mqtt_reload_command)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise DeviceError(f"broker reload command failed ({done.returncode}): "
                              f"{(done.stderr or done.stdout).strip()[:300]}")
        return "broker reloaded (reload command)"
    if settings.mqtt_broker_pid_file:
        try:
            pid = int(settings.mqtt_broker_pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError, IndexError) as err:
            raise DeviceError(f"cannot signal the broker from {settings.mqtt_broker_pid_file}: "
                              f"{err}") from None
        return f"broker reloaded (SIGHUP to {pid})"
    return ("broker NOT reloaded: set IOC_DEVICES_MQTT_BROKER_PID_FILE or "
            "IOC_DEVICES_MQTT_RELOAD_COMMAND, or reload it by hand (docs/devices.md)")


@dataclass(frozen=True)
class CredentialChange:
    device_id: str
    action: str  # create, rotate, revoke
    password: str | None  # the plain password, for create and rotate: show it once
    reloaded: str


ACTIONS = ("create", "rotate", "revoke")


def change_credential(conn: psycopg.Connection, settings: DevicesSettings, device_id: str,
                      action: str, *, actor: str) -> CredentialChange:
    """Create, rotate or revoke a device's MQTT password; audited; the broker reloaded."""
    if action not in ACTIONS:
        raise DeviceError(f"unknown credential action {action!r}")
    path = settings.mqtt_password_file
    if path is None:
        raise DeviceError("IOC_DEVICES_MQTT_PASSWORD_FILE is not set: ioc does not know the "
                          "broker's password file")
    with conn.transaction():
        device = get_device(conn, device_id)
        if device is None:
            raise DeviceError(f"no device {device_id!r}")
        conn.execute("SELECT 1 FROM devices WHERE device_id = %s FOR UPDATE", (device_id,))
        state = device.credential
        if action == "create" and state == "active":
            raise DeviceError(f"{device_id} already has a password: rotate it")
        if action == "rotate" and state != "active":
            raise DeviceError(f"{device_id} has no active password: create one")
        if action == "revoke" and state != "active":
            raise DeviceError(f"{device_id} has no active password to revoke")
        if action != "revoke" and device.retired:
            raise DeviceError(f"{device_id} is retired: restore it first")
        password = new_password() if action != "revoke" else None
        conn.execute(
            "INSERT INTO device_credentials (device_id, state, changed_by) VALUES (%s, %s, %s) "
            "ON CONFLICT (device_id) DO UPDATE SET state = EXCLUDED.state, "
            "version = device_credentials.version + 1, changed_at = now(), "
            "changed_by = EXCLUDED.changed_by",
            (device_id, "revoked" if action == "revoke" else "active", actor))
        audit.record(conn, actor, {"create": "device.credential_create",
                                   "rotate": "device.credential_rotate",
                                   "revoke": "device.credential_revoke"}[action], device_id, {})
        hashed = hash_password(password, iterations=settings.mqtt_hash_iterations) \
            if password else None
        with _file_lock(path):  # the CLI and the web app may change it at the same moment
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            write_atomically(path, set_line(text, device_id, hashed))
    # Committed: now the broker may see the new file.
    try:
        reloaded = reload_broker(settings)
    except DeviceError as err:
        reloaded = f"password file written, but {err}"
    log.info("device %s credential %s by %s: %s", device_id, action, actor, reloaded)
    return CredentialChange(device_id, action, password, reloaded)


def revoke_on_retire(conn: psycopg.Connection, settings: DevicesSettings, device_id: str, *,
                     actor: str) -> CredentialChange | None:
    """A retired device keeps no way into the broker (when ioc manages its password)."""
    device = get_device(conn, device_id)
    if device is None or device.credential != "active" or settings.mqtt_password_file is None:
        return None
    return change_credential(conn, settings, device_id, "revoke", actor=actor)
