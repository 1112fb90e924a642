"""Which camera incidents enter the police queue, and how urgent they are (pure).

The rules are data (`queue_rules.yaml` beside this module, or `police.queue_rules_file`):
per incident type, optionally per camera and zone, a priority. `decide()` is the one place
that says whether a detection needs a police decision; the ingest worker feeds it every
incident it stores, and the watchlist CLI feeds it the incidents of a plate it adds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_RULES = Path(__file__).with_name("queue_rules.yaml")
WATCHLIST_RULE = "watchlist"


class RulesError(Exception):
    """The queue rules file cannot be used (the message names the file and the place)."""


class QueueRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(min_length=1, max_length=64, description="Incident type it applies to.")
    priority: int = Field(ge=1, le=999, description="Higher is shown first.")
    cameras: tuple[str, ...] = Field((), description="Device ids; empty: every camera.")
    zones: tuple[str, ...] = Field((), description="Zones; empty: anywhere in view.")
    min_confidence: float = Field(0.0, ge=0, le=1, description="Lowest top score queued.")

    def matches(self, det: Detection) -> bool:
        if det.type != self.type:
            return False
        if self.cameras and det.device_id not in self.cameras:
            return False
        if self.zones and not set(self.zones) & set(det.zones):
            return False
        score = det.confidence if det.confidence is not None else 1.0
        return score >= self.min_confidence


class QueueRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlist_priority: int = Field(100, ge=1, le=1000,
                                    description="Priority of a plate on a watchlist.")
    rules: tuple[QueueRule, ...] = Field(description="What enters the queue.")


@dataclass(frozen=True)
class Detection:
    """What the decision needs to know about one incident."""

    device_id: str
    type: str
    zones: tuple[str, ...] = ()
    confidence: float | None = None  # the top score
    plate_key: str | None = None
    false_positive: bool = False


@dataclass(frozen=True)
class QueueDecision:
    priority: int
    rule: str  # the incident type of the matching rule, or "watchlist"
    watchlist_id: int | None = None


def incident_type(label: str, data: Mapping[str, Any] | None) -> str:
    """Our JSON's `type`; else Frigate's sub_label (a fight is a `person` whose sub_label is
    ["fight", score]); else the label. Same as evidence.store.INCIDENT_TYPE in SQL."""
    data = data or {}
    kind = data.get("type")
    if isinstance(kind, str) and kind:
        return kind
    sub = data.get("sub_label")
    if isinstance(sub, list | tuple) and sub and isinstance(sub[0], str) and sub[0]:
        return sub[0]
    if isinstance(sub, str) and sub:
        return sub
    return label


def decide(det: Detection, rules: QueueRules,
           watch: Mapping[str, int] | None = None) -> QueueDecision | None:
    """Whether `det` enters the police queue, and with which priority (None: it does not).

    `watch` maps the plate keys of live watchlist entries to their ids. A false positive
    never enters; a watchlist hit always does, above every rule unless a rule is higher.
    """
    if det.false_positive:
        return None
    best: QueueDecision | None = None
    if det.plate_key and watch and det.plate_key in watch:
        best = QueueDecision(rules.watchlist_priority, WATCHLIST_RULE, watch[det.plate_key])
    for rule in rules.rules:
        if rule.matches(det) and (best is None or rule.priority > best.priority):
            best = QueueDecision(rule.priority, rule.type,
                                 best.watchlist_id if best is not None else None)
    return best


def parse_rules(data: object, source: str) -> QueueRules:
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with `rules:` at the top")
    try:
        return QueueRules.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulesError(f"{source}: {where}: {first['msg']}") from None


@lru_cache(maxsize=8)
def load_rules(path: Path | None = None) -> QueueRules:
    """The queue rules at `path` (default: the built-in queue_rules.yaml); read once."""
    path = Path(path) if path else DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RulesError(f"{path}: cannot read the queue rules ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RulesError(f"{path}: not valid YAML ({err})") from None
    return parse_rules(data, str(path))


def queued_types(rules: QueueRules) -> Sequence[str]:
    return sorted({r.type for r in rules.rules})
