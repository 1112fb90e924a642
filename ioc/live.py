"""The one owner of Redis: latest values, last-seen times and the live event stream."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from ioc import events as ev
from ioc.config import RedisSettings

log = logging.getLogger(__name__)


def open_redis(settings: RedisSettings) -> redis.Redis:
    if not settings.url:
        raise ValueError("redis.url is not set (start the embedded Redis first)")
    return redis.Redis.from_url(
        settings.url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30
    )


@dataclass(frozen=True)
class LatestValue:
    device_id: str
    metric: str
    value: float | str | None
    time: float  # Unix seconds


class LiveState:
    """Redis keys, all under the configured prefix.

    - ``latest:<device_id>`` hash, metric -> JSON ``{"v": value, "t": unix_seconds}``
    - ``last_seen`` sorted set, device_id -> unix seconds of its newest message
    - ``events`` stream of live events (readings batches, alerts, incidents) for the
      alerts worker and the dashboards; capped at about ``stream_maxlen`` entries.
    - ``stored:<bucket>`` readings stored in each 10-second bucket (by commit time, from the
      ``readings`` events), kept two hours: the status page's rates without scanning readings.
    """

    COUNT_BUCKET_S = 10
    COUNT_KEEP_S = 7200

    def __init__(self, client: redis.Redis, settings: RedisSettings) -> None:
        self.r = client
        self.prefix = settings.key_prefix
        self.stream_maxlen = settings.stream_maxlen

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def events_key(self) -> str:
        return self.key("events")

    # -- writes -------------------------------------------------------------------------------
    def record(
        self,
        latest: Iterable[LatestValue],
        events: Iterable[ev.LiveEvent | Mapping[str, Any]] = (),
    ) -> None:
        """Store newest values and last-seen times, and append events, in one round trip.

        A value only replaces the stored one when it is not older (messages can arrive late).
        """
        newest: dict[tuple[str, str], LatestValue] = {}
        seen: dict[str, float] = {}
        for item in latest:
            k = (item.device_id, item.metric)
            if k not in newest or newest[k].time <= item.time:
                newest[k] = item
            if seen.get(item.device_id, 0) < item.time:
                seen[item.device_id] = item.time
        pipe = self.r.pipeline(transaction=False)
        for (device_id, metric), item in newest.items():
            pipe.eval(
                _SET_IF_NEWER,
                1,
                self.key("latest", device_id),
                metric,
                json.dumps({"v": item.value, "t": item.time}),
                item.time,
            )
        if seen:
            pipe.zadd(self.key("last_seen"), seen, gt=True)
        events = list(events)
        stored = sum(_stored_count(e) for e in events)
        if stored:
            bucket = self.key("stored", str(int(time.time()) // self.COUNT_BUCKET_S))
            pipe.incrby(bucket, stored)
            pipe.expire(bucket, self.COUNT_KEEP_S)
        for event in events:
            pipe.xadd(
                self.events_key,
                {"data": ev.dumps(event)},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
        pipe.execute()

    def publish_event(self, event: ev.LiveEvent | Mapping[str, Any]) -> str:
        return self.r.xadd(
            self.events_key,
            {"data": ev.dumps(event)},
            maxlen=self.stream_maxlen,
            approximate=True,
        ).decode()

    # -- reads --------------------------------------------------------------------------------
    def latest(self, device_id: str) -> dict[str, LatestValue]:
        out = {}
        for metric, raw in self.r.hgetall(self.key("latest", device_id)).items():
            item = json.loads(raw)
            name = metric.decode()
            out[name] = LatestValue(device_id, name, item["v"], item["t"])
        return out

    def latest_many(self, device_ids: Iterable[str]) -> dict[str, dict[str, LatestValue]]:
        ids = list(device_ids)
        pipe = self.r.pipeline(transaction=False)
        for device_id in ids:
            pipe.hgetall(self.key("latest", device_id))
        out: dict[str, dict[str, LatestValue]] = {}
        for device_id, raw in zip(ids, pipe.execute(), strict=True):
            values = {}
            for metric, blob in raw.items():
                item = json.loads(blob)
                values[metric.decode()] = LatestValue(device_id, metric.decode(), item["v"], item["t"])
            out[device_id] = values
        return out

    def stored_counts(self, now: float | None = None) -> tuple[int, int]:
        """Readings stored in the last minute and the last hour (10-second buckets, so the
        minute is the current bucket and the five before it)."""
        now = time.time() if now is None else now
        current = int(now) // self.COUNT_BUCKET_S
        per_hour = 3600 // self.COUNT_BUCKET_S
        keys = [self.key("stored", str(current - i)) for i in range(per_hour)]
        values = [int(v) if v is not None else 0 for v in self.r.mget(keys)]
        return sum(values[: 60 // self.COUNT_BUCKET_S]), sum(values)

    def last_seen(self) -> dict[str, float]:
        return {k.decode(): v for k, v in self.r.zrange(self.key("last_seen"), 0, -1, withscores=True)}

    def read_events(
        self, last_id: str = "$", *, count: int = 1000, block_ms: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events after `last_id` ("$" = only new ones, "0" = from the start), as their wire
        objects (for tools and tests; processes use `follow_events`)."""
        reply = self.r.xread({self.events_key: last_id}, count=count, block=block_ms)
        out = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                out.append((entry_id.decode(), json.loads(fields[b"data"])))
        return out

    def follow_events(
        self, last_id: str = "$", *, count: int = 1000, block_ms: int | None = None
    ) -> list[tuple[str, ev.LiveEvent | None]]:
        """Events after `last_id`, decoded (`ioc.events`); None for an entry this code cannot
        read (malformed, unknown type or newer version: logged), so the caller's cursor still
        moves past it."""
        reply = self.r.xread({self.events_key: last_id}, count=count, block=block_ms)
        out = []
        for _stream, entries in reply or []:
            out.extend(decode_entries(entries))
        return out


def decode_entries(entries) -> list[tuple[str, ev.LiveEvent | None]]:
    """(entry id, typed event or None) for raw stream entries (XREAD, XREADGROUP, XAUTOCLAIM).

    None stands for an entry that is gone (trimmed while pending) or that this code cannot
    decode; the caller acknowledges or skips it like any other."""
    out: list[tuple[str, ev.LiveEvent | None]] = []
    for entry_id, fields in entries or ():
        event_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        if fields is None:
            out.append((event_id, None))
            continue
        try:
            out.append((event_id, ev.loads(fields[b"data"])))
        except (KeyError, ev.EventError) as err:
            log.warning("live event %s skipped: %s", event_id, err)
            out.append((event_id, None))
    return out


def _stored_count(event: ev.LiveEvent | Mapping[str, Any]) -> int:
    """Readings an event announces as stored (for the per-bucket counts)."""
    if isinstance(event, ev.Readings):
        return event.count
    if isinstance(event, Mapping) and event.get("type") == "readings":
        return int(event.get("count", 0))
    return 0


# Replace a hash field only when the new time is not older than the stored one.
_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local t = cjson.decode(cur)['t']
  if t and tonumber(t) > tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
