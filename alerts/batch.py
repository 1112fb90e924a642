"""A batch of live events folded into what the rules want written (pure: no I/O).

The engine hands `fold_readings` a batch's readings with the caches it keeps (the level of
each active alert, since when each pending condition holds, the newest reading time per
device and metric); `fold_incident` does the same for a camera incident. What comes back,
a `BatchPlan`, says which alerts to open or count an occurrence on, which to resolve and which
pending conditions to set or clear; the engine writes it in one transaction. `level_draft`
and `camera_draft` turn the occurrences of one (rule, subject) into the AlertDraft stored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts.decisions import (
    Device,
    Incident,
    LevelBinding,
    SubjectState,
    builtin_title,
    camera_occurrence,
    camera_subject,
    decide,
    render_title,
    titles_of,
    worst,
)
from alerts.rules import CameraRule
from alerts.store import AlertDraft
from ioc.alert_titles import label
from ioc.events import Cap

Key = tuple[str, str]  # (rule_id, subject)
SEEN_INCIDENTS_MAX = 50_000


@dataclass
class Occurrences:
    """Occurrences of one (rule, subject) within a batch, folded into one draft."""

    binding: LevelBinding | None
    level: int = 0
    severity: str = "info"
    value: float | None = None
    peak: float | None = None
    first_time: float | None = None
    since: float | None = None
    count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, value: float | None, t: float | None, *, level: int = 0,
            severity: str | None = None, lower_is_worse: bool = False) -> None:
        self.count += 1
        self.level = level
        if severity is not None:
            self.severity = severity
        if value is not None:
            self.value = value
            if self.peak is None or (value < self.peak if lower_is_worse else value > self.peak):
                self.peak = value
        if self.first_time is None:
            self.first_time = t


@dataclass
class BatchPlan:
    """What one batch of events asks to write (the engine applies it in one transaction)."""

    drafts: dict[Key, Occurrences] = field(default_factory=dict)
    resolves: dict[Key, tuple[float | None, float | None]] = field(default_factory=dict)
    pending_set: dict[Key, tuple[float, int, float]] = field(default_factory=dict)
    pending_clear: set[Key] = field(default_factory=set)
    level_now: dict[Key, int] = field(default_factory=dict)  # the batch's last word per key
    pending_now: dict[Key, float | None] = field(default_factory=dict)
    caps: list[Cap] = field(default_factory=list)
    readings: int = 0

    @property
    def empty(self) -> bool:
        return not (self.drafts or self.resolves or self.pending_set or self.pending_clear
                    or self.caps)


def fold_readings(plan: BatchPlan, readings: Iterable, by_metric: Mapping[str, Mapping],
                  active: Mapping[Key, int], pending: Mapping[Key, float],
                  last_t: dict[tuple[str, str], float]) -> None:
    """Fold `(device_id, metric, value, unix_time)` readings into `plan`.

    `by_metric` indexes the level rules (metric -> device -> bindings); `active` and `pending`
    are the engine's caches (not changed here); `last_t` (device, metric) -> newest time is
    updated, so an older value arriving late is ignored.
    """
    level_now, pending_now = plan.level_now, plan.pending_now
    for item in readings:
        plan.readings += 1
        try:
            device_id, metric, value, t = item
        except (TypeError, ValueError):
            continue
        per_device = by_metric.get(metric)
        if per_device is None:
            continue
        bindings = per_device.get(device_id)
        if not bindings or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        last = last_t.get((device_id, metric))
        if last is not None and t < last:
            continue  # an older value arriving late says nothing new
        last_t[(device_id, metric)] = t
        for b in bindings:
            key = (b.rule.id, device_id)
            state = SubjectState(
                level_now.get(key, active.get(key, 0)),
                pending_now[key] if key in pending_now else pending.get(key))
            _apply_decision(plan, key, b, state, float(value), t)


def _apply_decision(plan: BatchPlan, key: Key, b: LevelBinding, state: SubjectState,
                    value: float, t: float) -> None:
    d = decide(b, state, value, t)
    if d.action == "open":
        occ = plan.drafts.get(key)
        if occ is None:
            occ = plan.drafts[key] = Occurrences(b)
        occ.add(value, t, level=d.level, severity=b.severities[d.level - 1],
                lower_is_worse=not b.above)
        occ.since = d.since if d.since is not None else occ.since
        plan.level_now[key] = d.level
        plan.resolves.pop(key, None)
        if state.pending_since is not None:
            _clear(plan, key)
    elif d.action == "pending":
        plan.pending_now[key] = d.since
        plan.pending_set[key] = (d.since, d.level, value)
        plan.pending_clear.discard(key)
    elif d.action == "clear_pending":
        _clear(plan, key)
    elif d.action == "resolve":
        plan.level_now[key] = 0
        plan.resolves[key] = (value, t)


def _clear(plan: BatchPlan, key: Key) -> None:
    plan.pending_now[key] = None
    plan.pending_clear.add(key)
    plan.pending_set.pop(key, None)


class SeenIncidents:
    """The (rule, source:event_id) pairs already counted, the most recent `limit` of them."""

    def __init__(self, limit: int = SEEN_INCIDENTS_MAX) -> None:
        self.limit = limit
        self._seen: OrderedDict[Key, None] = OrderedDict()

    def check_and_add(self, key: Key) -> bool:
        """True when `key` was seen before; remembers it either way."""
        seen = key in self._seen
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return seen


def fold_incident(plan: BatchPlan, incident: Incident, device: Device, rules: Iterable[CameraRule],
                  seen: SeenIncidents, *, source: str, snapshot_sha256: str | None = None,
                  snapshot_url: str | None = None) -> None:
    """Fold one camera incident message into `plan` for every camera rule that selects its
    device (one alert per camera and label, an occurrence per new incident)."""
    for rule in rules:
        if not rule.select.matches(family=device.family, kind=device.kind,
                                   device_id=device.device_id, unit_id=device.unit_id):
            continue
        was_seen = seen.check_and_add((rule.id, f"{source}:{incident.event_id}"))
        severity = camera_occurrence(rule, incident, was_seen)
        if severity is None:
            continue
        key = (rule.id, camera_subject(incident))
        occ = plan.drafts.get(key)
        if occ is None:
            occ = plan.drafts[key] = Occurrences(None)
            occ.extra = {"rule": rule, "device": device, "label": incident.label}
        occ.add(incident.confidence, incident.time, level=1,
                severity=worst([occ.severity, severity]) if occ.count else severity)
        occ.extra.update(last_event_id=incident.event_id, zones=list(incident.zones),
                         plate=incident.plate, snapshot_sha256=snapshot_sha256,
                         snapshot_url=snapshot_url)


# -- drafts ------------------------------------------------------------------------------------
def level_draft(key: Key, occ: Occurrences, unit_name: str) -> AlertDraft:
    """The draft of a level rule's (threshold, water level, capacity) occurrences."""
    rule_id, subject = key
    b = occ.binding
    assert b is not None
    rule, device = b.rule, b.device
    value = occ.value
    fields = dict(name=device.name, device_id=device.device_id, unit_id=device.unit_id,
                  unit_name=unit_name, value=value, level=occ.level,
                  level_name=b.level_names[occ.level - 1], metric=rule.metric, count=occ.count,
                  capacity=b.reference,
                  ratio=(value / b.reference) if b.reference and value is not None else None)
    default = (builtin_title("level", name=device.name, metric=rule.metric, value=value)
               if value is not None else builtin_title("device", name=device.name))
    details = {"level": occ.level, "metric": rule.metric,
               "threshold": b.thresholds[occ.level - 1], "reading_time": occ.first_time,
               # the levels that applied, as they were when the alert opened/escalated
               "thresholds": dict(zip(b.level_names, b.thresholds, strict=True))}
    if device.meta("alarm_levels_version") is not None:
        details["alarm_levels_version"] = device.meta("alarm_levels_version")
    if occ.since is not None:
        details["since"] = occ.since
    return AlertDraft(
        rule_id=rule_id, subject=subject, kind=rule.alert_kind, severity=occ.severity,
        title=render_title(titles_of(rule), default, **fields), family=device.family,
        unit_id=device.unit_id, device_id=device.device_id, value=value,
        details=details, public=rule.public, occurrences=occ.count, peak=occ.peak,
        lower_is_worse=not b.above, level=occ.level)


def camera_draft(key: Key, occ: Occurrences, unit_name: str) -> AlertDraft:
    """The draft of a camera rule's incidents of one label on one camera."""
    rule_id, subject = key
    rule, device, label_id = occ.extra["rule"], occ.extra["device"], occ.extra["label"]
    label_vi = label("camera_label", label_id)
    details = {k: v for k, v in occ.extra.items() if k not in ("rule", "device")}
    details.update(level=1, label=label_id, reading_time=occ.first_time)
    return AlertDraft(
        rule_id=rule_id, subject=subject, kind=rule.alert_kind, severity=occ.severity,
        title=render_title(titles_of(rule), builtin_title("camera", name=device.name,
                                                          label=label_id),
                           name=device.name, device_id=device.device_id, unit_id=device.unit_id,
                           unit_name=unit_name, label=label_vi, count=occ.count,
                           value=occ.value),
        family=device.family, unit_id=device.unit_id, device_id=device.device_id,
        value=occ.value, details=details, public=rule.public, occurrences=occ.count,
        peak=occ.peak, level=1)


def draft(key: Key, occ: Occurrences, unit_name_of: Callable[[str | None], str]) -> AlertDraft:
    """The draft of a batch's occurrences of one (rule, subject), level or camera."""
    if occ.binding is not None:
        return level_draft(key, occ, unit_name_of(occ.binding.device.unit_id))
    return camera_draft(key, occ, unit_name_of(occ.extra["device"].unit_id))


@dataclass
class BatchResult:
    opened: list[int] = field(default_factory=list)
    updated: int = 0
    resolved: int = 0
    readings: int = 0
