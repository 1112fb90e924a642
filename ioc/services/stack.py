"""Starts an embedded server for each of database, broker and Redis that has no URL set."""

from __future__ import annotations

import logging
from pathlib import Path

from ioc.config import Settings
from ioc.services.mqtt_broker import EmbeddedBroker
from ioc.services.postgres import EmbeddedPostgres
from ioc.services.process import ServerProcess
from ioc.services.redis_server import EmbeddedRedis

log = logging.getLogger(__name__)


class EmbeddedStack:
    """The embedded servers one process started; `stop()` stops them in reverse order."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.servers: list[ServerProcess] = []

    def start_missing(self, settings: Settings) -> Settings:
        """Settings with every unset service URL pointing at a freshly started embedded server."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        db, mqtt, rds = settings.database, settings.mqtt, settings.redis
        try:
            if not db.url:
                pg = EmbeddedPostgres(self.state_dir)
                self.servers.append(pg)
                owner_url = pg.start()
                # Processes connect as the runtime role; only migrate uses the owner.
                db = db.model_copy(update={"url": pg.runtime_url, "owner_url": owner_url})
            if not mqtt.url:
                broker = EmbeddedBroker(self.state_dir)
                self.servers.append(broker)
                mqtt = mqtt.model_copy(update={"url": broker.start()})
            if not rds.url:
                redis_server = EmbeddedRedis(self.state_dir)
                self.servers.append(redis_server)
                rds = rds.model_copy(update={"url": redis_server.start()})
        except Exception:
            self.stop()
            raise
        return settings.model_copy(update={"database": db, "mqtt": mqtt, "redis": rds})

    def describe(self) -> list[str]:
        return [f"{s.name}: embedded, log {s.log_path}" for s in self.servers]

    def stop(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop()
                log.info("stopped embedded %s", server.name)
            except Exception:  # keep stopping the others
                log.exception("could not stop embedded %s", server.name)
        self.servers.clear()
