"""The ingest sessions the broker holds: worker heartbeats in Redis (a typed channel), queue estimates.

Mosquitto 2 publishes no per-session figures ($SYS has only totals), so the workers tell:
every `HEARTBEAT_S` each worker writes its heartbeat (its place in the stream, unacknowledged
messages, rate) and, every `SAMPLE_EVERY_S`, a sample of its stream counter. Every session
receives every message (docs/ingest.md), so what a connected worker received since an absent
worker's last heartbeat is what the broker has queued for the absent one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

HEARTBEAT_S = 2.0
ONLINE_WITHIN_S = 10.0  # a heartbeat older than this: the worker is away
SAMPLE_EVERY_S = 10.0
SAMPLES_KEEP = 8640  # 24 h of samples per worker
VERSION = 1


@dataclass(frozen=True, slots=True)
class Heartbeat:
    name: str
    at: float  # Unix seconds
    run: str  # one id per worker process: stream counters restart with it
    stream: int  # messages received for the first time since the process started
    pending: int  # received, not yet acknowledged (redelivered if the worker dies)
    rate: float  # messages per second received over the last heartbeat interval
    epoch: int
    member: bool
    state: str = "running"  # running, leaving, stopped (its session stays and queues)
    host: str = ""
    pid: int = 0

    def encode(self) -> str:
        return json.dumps({"v": VERSION, **asdict(self)})

    @classmethod
    def decode(cls, text: str | bytes) -> Heartbeat | None:
        try:
            data = json.loads(text)
            if data.pop("v", None) != VERSION:
                return None
            return cls(**data)
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    run: str
    stream: int

    def encode(self) -> str:
        return f"{self.at:.3f} {self.run} {self.stream}"

    @classmethod
    def decode(cls, text: str | bytes) -> Sample | None:
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        parts = text.split()
        try:
            return cls(float(parts[0]), parts[1], int(parts[2]))
        except (IndexError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One ingest session as the listing and the metrics show it."""

    name: str
    member: bool
    online: bool
    last_seen: float | None  # Unix seconds of the last heartbeat
    queued: int | None  # messages the broker holds for it (None: cannot tell)
    at_least: bool  # `queued` is a lower bound
    rate: float
    state: str

    @property
    def consuming(self) -> bool:
        return self.online and (self.rate > 0 or not self.queued)


def is_online(beat: Heartbeat, now: float) -> bool:
    return beat.state != "stopped" and now - beat.at <= ONLINE_WITHIN_S


def queued_since(away: Heartbeat, witness: Heartbeat, samples: Iterable[Sample]) -> tuple[int, bool]:
    """(messages queued for `away`, is it only a lower bound), counted by a connected
    `witness` whose samples (any order) cover the time `away` was last seen (pure)."""
    best = None
    for s in samples:
        if s.run == witness.run and s.at <= away.at and (best is None or s.at > best.at):
            best = s
    if best is None:  # the witness started after `away` left: all it saw, at least
        return witness.stream + away.pending, True
    return max(0, witness.stream - best.stream) + away.pending, False


def session_rows(
    names: Iterable[str],
    members: Iterable[str],
    beats: dict[str, Heartbeat],
    samples: dict[str, list[Sample]],
    now: float,
) -> list[SessionRow]:
    """Every known session with its state and queue (pure)."""
    members = set(members)
    online = {n: b for n, b in beats.items() if is_online(b, now)}
    witness = max(online.values(), key=lambda b: b.stream, default=None)
    rows = []
    for name in sorted({*names, *members, *beats}):
        beat = beats.get(name)
        if name in online:
            rows.append(SessionRow(name, name in members, True, beat.at, beat.pending, False,
                                   beat.rate, beat.state))
            continue
        queued, at_least = None, False
        if beat is not None and witness is not None:
            queued, at_least = queued_since(beat, witness, samples.get(witness.name, ()))
        elif beat is None and witness is not None:
            queued, at_least = witness.stream, True  # never seen: since the witness started
        rows.append(SessionRow(name, name in members, False, beat.at if beat else None, queued,
                               at_least, 0.0, beat.state if beat else "unknown"))
    return rows


class SessionBoard:
    """Heartbeats and samples in Redis (keys `<prefix>ingest:sessions`, `..:samples:<name>`)."""

    def __init__(self, client, prefix: str) -> None:
        self.r = client
        self.key = f"{prefix}ingest:sessions"
        self.sample_prefix = f"{prefix}ingest:samples:"
        self._last_sample = 0.0

    def beat(self, beat: Heartbeat) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(self.key, beat.name, beat.encode())
        if beat.at - self._last_sample >= SAMPLE_EVERY_S:
            key = self.sample_prefix + beat.name
            pipe.lpush(key, Sample(beat.at, beat.run, beat.stream).encode())
            pipe.ltrim(key, 0, SAMPLES_KEEP - 1)
            self._last_sample = beat.at
        pipe.execute()

    def heartbeats(self) -> dict[str, Heartbeat]:
        out = {}
        for name, raw in self.r.hgetall(self.key).items():
            beat = Heartbeat.decode(raw)
            if beat is not None:
                out[name.decode() if isinstance(name, bytes) else name] = beat
        return out

    def samples(self, name: str) -> list[Sample]:
        raw = self.r.lrange(self.sample_prefix + name, 0, -1)
        return [s for s in (Sample.decode(x) for x in raw) if s is not None]

    def forget(self, name: str) -> None:
        self.r.hdel(self.key, name)
        self.r.delete(self.sample_prefix + name)

    def rows(self, names: Iterable[str], members: Iterable[str],
             now: float | None = None) -> list[SessionRow]:
        now = time.time() if now is None else now
        beats = self.heartbeats()
        online = [b for b in beats.values() if is_online(b, now)]
        witness = max(online, key=lambda b: b.stream, default=None)
        samples = {witness.name: self.samples(witness.name)} if witness else {}
        return session_rows(names, members, beats, samples, now)
