"""The running demo's service URLs, kept in IOC_STATE_DIR, so that every `ioc` command run
beside `ioc demo` (or `ioc services`) finds its database, broker and Redis without a
hand-built URL.

`ioc demo` writes `<state dir>/running.json` (mode 0600: the URLs carry the embedded
servers' generated passwords) once its servers are up and removes it when it stops; a file
whose process is gone is ignored. A URL set in the environment or the config file always wins.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ioc.config import Settings

log = logging.getLogger(__name__)

FILE = "running.json"


def record(settings: Settings, pid: int | None = None) -> Path:
    """Write the URLs of `settings` for the other commands (called by the demo)."""
    path = settings.state_dir / FILE
    data = {
        "pid": pid or os.getpid(),
        "database_url": settings.database.url,
        "mqtt_url": settings.mqtt.url,
        "redis_url": settings.redis.url,
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    tmp.replace(path)
    return path


def forget(state_dir: Path) -> None:
    (state_dir / FILE).unlink(missing_ok=True)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(state_dir: Path) -> dict | None:
    """The running demo's record, or None (no file, unreadable, or its process is gone)."""
    try:
        data = json.loads((state_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not _alive(data.get("pid")):
        return None
    return data


def with_running_services(settings: Settings) -> Settings:
    """`settings` with each unset service URL taken from the demo running in its state dir."""
    if settings.database.url and settings.mqtt.url and settings.redis.url:
        return settings
    found = read(settings.state_dir)
    if found is None:
        return settings
    update = {}
    for section, key in (("database", "database_url"), ("mqtt", "mqtt_url"),
                         ("redis", "redis_url")):
        current = getattr(settings, section)
        if not current.url and found.get(key):
            update[section] = current.model_copy(update={"url": found[key]})
    if update:
        log.debug("using the services of the demo running in %s", settings.state_dir)
    return settings.model_copy(update=update)
