"""The alert workers' consumer group on the live event stream.

Workers of one group (`alerts.consumer_group`) split the stream: each entry goes to one of
them, and stays pending until that worker acknowledges it after its changes are committed.
Entries of a worker that died are claimed by another after `claim_idle_ms`.

The Redis client comes from ioc.live.LiveState (the one owner of the connection settings);
this module only adds the consumer-group commands the stream needs.
"""

from __future__ import annotations

import logging

import redis

from ioc.events import LiveEvent
from ioc.live import LiveState, decode_entries

log = logging.getLogger(__name__)

# (entry id, the typed event; None when the entry was trimmed while pending or cannot be
# decoded: acknowledged like the others)
Entry = tuple[str, LiveEvent | None]
_decode = decode_entries


class EventStream:
    def __init__(self, live: LiveState, group: str, consumer: str,
                 claim_idle_ms: int = 60_000) -> None:
        self.r: redis.Redis = live.r
        self.key = live.events_key
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self._own_pending_done = False

    def ensure_group(self) -> None:
        """Create the group at the stream's end (only new events) unless it exists."""
        try:
            self.r.xgroup_create(self.key, self.group, id="$", mkstream=True)
            log.info("created consumer group %s on %s", self.group, self.key)
        except redis.exceptions.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    def read(self, *, count: int = 100, block_ms: int = 200) -> list[Entry]:
        """This consumer's own unacknowledged entries first (after a restart), then new ones.

        When the group is gone (Redis restarted without persistence) it is created again.
        """
        try:
            return self._read(count, block_ms)
        except redis.exceptions.ResponseError as err:
            if "NOGROUP" not in str(err):
                raise
            log.warning("consumer group %s is gone (Redis restarted?); creating it again",
                        self.group)
            self.ensure_group()
            return []

    def _read(self, count: int, block_ms: int) -> list[Entry]:
        if not self._own_pending_done:
            reply = self.r.xreadgroup(self.group, self.consumer, {self.key: "0"}, count=count)
            entries = _decode(reply[0][1]) if reply else []
            if entries:
                return entries
            self._own_pending_done = True
        reply = self.r.xreadgroup(self.group, self.consumer, {self.key: ">"}, count=count,
                                  block=max(1, block_ms))
        return _decode(reply[0][1]) if reply else []

    def ack(self, ids: list[str]) -> None:
        if ids:
            self.r.xack(self.key, self.group, *ids)

    def claim_stale(self, count: int = 100) -> list[Entry]:
        """Entries another consumer took but did not acknowledge for `claim_idle_ms`."""
        try:
            reply = self._autoclaim(count)
        except redis.exceptions.ResponseError as err:
            if "NOGROUP" not in str(err):
                raise
            return []
        return _decode(reply[1]) if reply and len(reply) > 1 else []

    def _autoclaim(self, count: int):
        return self.r.xautoclaim(self.key, self.group, self.consumer, self.claim_idle_ms,
                                  start_id="0-0", count=count)

    def reset(self) -> None:
        """After a reconnect: read this consumer's pending entries again first."""
        self._own_pending_done = False
