"""Running ingest workers from the command line: `ioc ingest` (until a signal), `ioc ingest
--retire NAME` and `ioc ingest sessions`; an `IngestWorker` does the work."""

from __future__ import annotations

import logging
import os
import socket
import time

from ingest.members_store import current
from ingest.worker import IngestWorker
from ioc.config import Settings
from ioc.db.connect import connect
from ioc.ingest_sessions import ONLINE_WITHIN_S, SessionBoard
from ioc.live import open_redis
from ioc.worker import stop_on_signals

log = logging.getLogger(__name__)


def default_name() -> str:
    """The worker name when none is given: the host name, stable across restarts."""
    return socket.gethostname().split(".")[0] or f"pid{os.getpid()}"


def _check_urls(settings: Settings) -> bool:
    for what, url in (("IOC_DATABASE_URL", settings.database.url),
                      ("IOC_MQTT_URL", settings.mqtt.url), ("IOC_REDIS_URL", settings.redis.url)):
        if not url:
            log.error("%s is not set: the ingest worker needs the database, broker and Redis", what)
            return False
    return True


def run_worker(settings: Settings, name: str | None = None, *, leave_on_stop: bool = False) -> int:
    """Run an ingest worker until SIGTERM or SIGINT; returns the exit code.

    `leave_on_stop`: on SIGTERM/SIGINT hand our share to the other members and delete our
    broker session (scaling down for good); otherwise the session stays and queues our
    share until a worker with this name comes back.
    """
    if not _check_urls(settings):
        return 2
    if name is None:
        name = default_name()
        log.info("no --name given: using %r (give each worker on a host its own name)", name)
    stop = stop_on_signals()
    worker = IngestWorker(settings, name)
    try:
        worker.start(stop=stop)
    except Exception as err:
        log.error("ingest worker could not start: %s", err)
        worker.stop(timeout=2.0)
        return 1
    left = False
    try:
        healthy = worker.run_until(stop)
        if healthy and leave_on_stop:
            left = worker.leave()
    finally:
        worker.stop(end_session=left)
    if leave_on_stop and healthy:
        log.info("%s %s", name, "left the members; its broker session is deleted" if left
                 else "could not finish leaving; its session is kept (run --retire later)")
    return 0 if healthy and (left or not leave_on_stop) else 1


def retire(settings: Settings, name: str, *, timeout: float = 600.0, force: bool = False) -> int:
    """`ioc ingest --retire NAME`: hand NAME's share to the other members and delete its
    broker session, storing first what its session still holds. NAME must not be running."""
    if not _check_urls(settings):
        return 2
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"metrics_port": 0})})
    redis = open_redis(settings.redis)
    try:
        beat = SessionBoard(redis, settings.redis.key_prefix).heartbeats().get(name)
    except Exception as err:
        log.warning("cannot read heartbeats from Redis (%s): assuming %s is not running", err, name)
        beat = None
    finally:
        redis.close()
    if beat is not None and time.time() - beat.at <= ONLINE_WITHIN_S and not force:
        print(f"ingest worker {name!r} is running (heartbeat {time.time() - beat.at:.0f} s ago "
              f"from {beat.host} pid {beat.pid}): stop it first, or run it with --leave-on-stop "
              f"and stop it")
        return 1
    worker = IngestWorker(settings, name)
    try:
        worker.start(join=False)
    except Exception as err:
        print(f"could not resume {name!r}'s session: {err}")
        worker.stop(timeout=2.0)
        return 1
    left = False
    try:
        left = worker.leave(timeout, actor=f"cli:retire:{default_name()}")
    finally:
        worker.stop(end_session=left)
    if left:
        print(f"retired {name!r}: its share goes to the other members; {worker.stored_readings} "
              f"readings it still held were stored; its broker session is deleted")
        return 0
    print(f"{name!r} did not finish within {timeout:.0f} s; its session is kept: run again")
    return 1


def list_sessions(settings: Settings) -> int:
    """`ioc ingest sessions`: every ingest session, online or away, and what it has queued."""
    from ingest.members_store import known_workers

    if not _check_urls(settings):
        return 2
    with connect(settings.database, application_name="ioc-cli") as conn:
        members = current(conn)
        names = known_workers(conn)
    redis = open_redis(settings.redis)
    try:
        rows = SessionBoard(redis, settings.redis.key_prefix).rows(names, members.members)
    finally:
        redis.close()
    print(f"members (epoch {members.epoch}): {', '.join(members.members) or 'none'}")
    print(f"{'session':<24} {'member':<7} {'state':<9} {'last seen':>10} {'queued':>12} "
          f"{'msgs/s':>8}")
    now = time.time()
    for r in rows:
        seen = f"{now - r.last_seen:.0f} s ago" if r.last_seen else "never"
        queued = "?" if r.queued is None else (f">={r.queued}" if r.at_least else str(r.queued))
        state = ("online" if r.online else "AWAY") if r.consuming or not r.online else "STALLED"
        if not r.online and r.queued:
            state = "QUEUEING"
        print(f"{r.name:<24} {'yes' if r.member else 'no':<7} {state:<9} {seen:>10} "
              f"{queued:>12} {r.rate:>8.0f}")
    return 0
