"""Which ingest worker stores which message: member lists that ride in the MQTT stream (pure).

Every worker keeps its own durable, non-shared MQTT session subscribed to all ingest topics,
so every worker's session holds a copy of every message (Mosquitto restores plain
subscriptions of offline sessions after a restart; it does not restore `$share/...` ones).
A worker stores only the messages it owns and acknowledges the rest at once.

Ownership is rendezvous hashing of the topic over the member list in force at that point of
the stream. The member list changes only through a control message published on
`CONTROL_TOPIC`, which lands in every session at the same place in the same order, so every
worker computes the same owner for every message, however far behind it is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

CONTROL_TOPIC = "ioc/v1/ctl/ingest/members"  # relative to the topic prefix
CONTROL_VERSION = 1


class ControlError(ValueError):
    """A control message that is not a member list."""


@dataclass(frozen=True, slots=True)
class View:
    """The member list from one control message on: `epoch` counts the changes."""

    epoch: int
    members: tuple[str, ...]
    change: str = ""

    def encode(self) -> bytes:
        return json.dumps({"v": CONTROL_VERSION, "epoch": self.epoch,
                           "members": list(self.members), "change": self.change}).encode()

    @classmethod
    def decode(cls, payload: bytes) -> View:
        try:
            data = json.loads(payload)
        except ValueError as err:
            raise ControlError(f"not JSON: {err}") from err
        if not isinstance(data, dict) or data.get("v") != CONTROL_VERSION:
            raise ControlError(f"unknown control message version {data!r:.80}")
        epoch, members = data.get("epoch"), data.get("members")
        if not isinstance(epoch, int) or not isinstance(members, list) or not all(
                isinstance(m, str) and m for m in members):
            raise ControlError("epoch must be an integer and members a list of names")
        return cls(epoch, tuple(sorted(set(members))), str(data.get("change", ""))[:200])


EMPTY = View(0, ())


def _weight(member: str, topic: str) -> bytes:
    return hashlib.blake2b(f"{member}\x00{topic}".encode(), digest_size=8).digest()


def owner(topic: str, members: tuple[str, ...]) -> str | None:
    """The member that stores messages on `topic` (highest random weight); None if no members.

    Rendezvous hashing: removing a member moves only that member's topics, adding one moves
    about 1/N of the topics to it.
    """
    if not members:
        return None
    return max(members, key=lambda m: _weight(m, topic))


class Ownership:
    """`mine(topic)` for one worker under its current view, cached per topic."""

    CACHE_LIMIT = 200_000

    def __init__(self, name: str, view: View) -> None:
        self.name = name
        self._cache: dict[str, bool] = {}
        self.view = view

    @property
    def view(self) -> View:
        return self._view

    @view.setter
    def view(self, view: View) -> None:
        self._view = view
        self._cache = {}

    @property
    def member(self) -> bool:
        return self.name in self._view.members

    def mine(self, topic: str) -> bool:
        """True if this worker stores `topic`'s messages. With no members at all (before the
        first worker ever joined) every worker stores everything: copies are harmless (the
        writes are idempotent), gaps are not."""
        known = self._cache.get(topic)
        if known is not None:
            return known
        members = self._view.members
        result = not members or owner(topic, members) == self.name
        if len(self._cache) >= self.CACHE_LIMIT:
            self._cache = {}
        self._cache[topic] = result
        return result


def joined(view: View, name: str) -> tuple[str, ...]:
    return tuple(sorted({*view.members, name}))


def left(view: View, name: str) -> tuple[str, ...]:
    return tuple(m for m in view.members if m != name)
