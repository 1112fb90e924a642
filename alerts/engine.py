"""Applies the rules: live events in (readings, incidents, CAP), alert rows out.

Two entry points, both thin loops around the pure decisions of `alerts.decisions`:

- `handle_events(events)`: a batch of live events from the Redis stream. Level rules
  (threshold, water level, capacity) see every reading; camera rules every incident; CAP
  rules every CAP message. All changes of a batch are written in one transaction.
- `tick(now)`: the time-based work. Every tick: level alerts whose latest value has cleared
  (another worker may have seen the clearing reading), conditions that held for `for_s`,
  silent devices, escalation, quiet cameras, expired CAP warnings, finished storms. Each rain
  and air-quality rule every `every_s`; disaster levels every `disaster_levels.every_s`.

The database is the truth (one open alert per rule and subject, enforced by a unique index);
the engine's caches (active alerts, pending conditions) only save queries and are refreshed
every tick. Time-based tasks take a transaction-level advisory lock, so when several workers
run only one does a given task at a time.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from alerts import lifecycle, storm
from alerts.cap_in import cap_actions
from alerts.decisions import (
    Device,
    Incident,
    LevelBinding,
    SubjectState,
    aqi_alert_category,
    bind,
    camera_occurrence,
    camera_subject,
    decide,
    escalation_due,
    rain_alert_level,
    rain_trigger,
    render_title,
    silent_for,
    worst,
)
from alerts.rules import (
    AirQualityRule,
    CameraRule,
    CapRule,
    DisasterLevelRule,
    RainRule,
    RuleSet,
    SilenceRule,
)
from alerts.store import ACTIVE, AlertDraft, active_alerts, open_or_update, resolve
from ioc import aqi as aqi_mod
from ioc import disaster_levels as dl
from ioc.live import LiveState

log = logging.getLogger(__name__)

LEVEL_TYPES = ("threshold", "water_level", "capacity")
CAMERA_LABELS_VI = {
    "fire": "cháy", "smoke": "khói", "fight": "ẩu đả", "accident": "tai nạn",
    "wanted_plate": "phát hiện biển số bị truy tìm", "crowd": "tụ tập đông người",
    "intrusion": "xâm nhập", "traffic_violation": "vi phạm giao thông", "other": "sự việc khác",
}
_SEEN_INCIDENTS_MAX = 50_000
_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def load_devices(conn: psycopg.Connection) -> list[Device]:
    """Every enabled device of the registry."""
    return [
        Device(device_id, family, kind, name, district, lon, lat, interval, metadata or {})
        for device_id, family, kind, name, district, lon, lat, interval, metadata in conn.execute(
            "SELECT device_id, family, kind, name, district, lon, lat, expected_interval_s, "
            "metadata FROM devices WHERE enabled ORDER BY device_id")
    ]


def load_district_names(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute(
        "SELECT feature_id, COALESCE(name, feature_id) FROM layer_features "
        "WHERE layer = 'districts'"))


@dataclass
class _Occurrences:
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
class BatchResult:
    opened: list[int] = field(default_factory=list)
    updated: int = 0
    resolved: int = 0
    readings: int = 0


class Engine:
    """The rules applied to one database and live state (see the module docstring)."""

    def __init__(self, conn: psycopg.Connection, live: LiveState, ruleset: RuleSet,
                 devices: Iterable[Device], *, district_names: Mapping[str, str] | None = None,
                 on_hazard: Callable[[dict], None] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.conn = conn
        self.live = live
        self.on_hazard = on_hazard
        self.on_change = on_change or (lambda: None)
        self.active: dict[tuple[str, str], int] = {}  # (rule, subject) -> level
        self.pending: dict[tuple[str, str], float] = {}  # (rule, subject) -> since
        self._last_t: dict[tuple[str, str], float] = {}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._due: dict[str, float] = {}
        self.set_rules(ruleset, devices, district_names)
        self.refresh_state()

    # -- set-up ---------------------------------------------------------------------------
    def set_rules(self, ruleset: RuleSet, devices: Iterable[Device],
                  district_names: Mapping[str, str] | None = None) -> None:
        """Index the rules by metric and device, so a reading finds its rules in O(1)."""
        self.ruleset = ruleset
        self.devices = {d.device_id: d for d in devices}
        self.district_names = dict(district_names or {})
        by_metric: dict[str, dict[str, list[LevelBinding]]] = defaultdict(lambda: defaultdict(list))
        self.bindings: dict[tuple[str, str], LevelBinding] = {}
        for rule in ruleset.of_type(*LEVEL_TYPES):
            for device in self.devices.values():
                b = bind(rule, device)
                if b is not None:
                    by_metric[rule.metric][device.device_id].append(b)
                    self.bindings[(rule.id, device.device_id)] = b
        self.by_metric = {m: dict(d) for m, d in by_metric.items()}
        self.camera_rules: list[CameraRule] = ruleset.of_type("camera_incident")
        self.cap_rules: list[CapRule] = ruleset.of_type("cap")

    def refresh_state(self) -> None:
        """Reload the caches from the database (the truth)."""
        self.active = {key: level for key, (_id, _sev, level) in active_alerts(self.conn).items()}
        self.pending = {
            (rule_id, subject): since.timestamp()
            for rule_id, subject, since in self.conn.execute(
                "SELECT rule_id, subject, since FROM alert_pending")
        }

    def _district_name(self, district: str | None) -> str:
        if not district:
            return "toàn tỉnh"
        return self.district_names.get(district, district)

    # -- the stream path ---------------------------------------------------------------------
    def handle_events(self, events: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Apply a batch of live events; returns what changed."""
        drafts: dict[tuple[str, str], _Occurrences] = {}
        resolves: dict[tuple[str, str], tuple[float | None, float | None]] = {}
        pending_set: dict[tuple[str, str], tuple[float, int, float]] = {}
        pending_clear: set[tuple[str, str]] = set()
        level_now: dict[tuple[str, str], int] = {}
        pending_now: dict[tuple[str, str], float | None] = {}
        caps: list[Mapping[str, Any]] = []
        n_readings = 0
        by_metric = self.by_metric
        for event in events:
            etype = event.get("type")
            if etype == "readings":
                for item in event.get("readings") or ():
                    n_readings += 1
                    try:
                        device_id, metric, value, t = item
                    except (TypeError, ValueError):
                        continue
                    per_device = by_metric.get(metric)
                    if per_device is None:
                        continue
                    bindings = per_device.get(device_id)
                    if not bindings or isinstance(value, bool) or not isinstance(
                            value, int | float):
                        continue
                    last = self._last_t.get((device_id, metric))
                    if last is not None and t < last:
                        continue  # an older value arriving late says nothing new
                    self._last_t[(device_id, metric)] = t
                    for b in bindings:
                        key = (b.rule.id, device_id)
                        state = SubjectState(
                            level_now.get(key, self.active.get(key, 0)),
                            pending_now[key] if key in pending_now else self.pending.get(key))
                        d = decide(b, state, float(value), t)
                        if d.action == "open":
                            occ = drafts.get(key)
                            if occ is None:
                                occ = drafts[key] = _Occurrences(b)
                            occ.add(float(value), t, level=d.level,
                                    severity=b.severities[d.level - 1],
                                    lower_is_worse=not b.above)
                            occ.since = d.since if d.since is not None else occ.since
                            level_now[key] = d.level
                            resolves.pop(key, None)
                            if state.pending_since is not None:
                                pending_now[key] = None
                                pending_clear.add(key)
                                pending_set.pop(key, None)
                        elif d.action == "pending":
                            pending_now[key] = d.since
                            pending_set[key] = (d.since, d.level, float(value))
                            pending_clear.discard(key)
                        elif d.action == "clear_pending":
                            pending_now[key] = None
                            pending_clear.add(key)
                            pending_set.pop(key, None)
                        elif d.action == "resolve":
                            level_now[key] = 0
                            resolves[key] = (float(value), t)
            elif etype == "incident":
                self._incident(event, drafts)
            elif etype == "cap":
                caps.append(event)
        result = BatchResult(readings=n_readings)
        if not (drafts or resolves or pending_set or pending_clear or caps):
            return result
        for attempt in range(3):
            try:
                self._apply(drafts, resolves, pending_set, pending_clear, caps, result,
                            level_now)
                break
            except _RETRYABLE:
                if attempt == 2:
                    raise
                result = BatchResult(readings=n_readings)
                time.sleep(0.05 * (attempt + 1))
        if result.opened or result.updated or result.resolved:
            self.on_change()
        return result

    def _incident(self, event: Mapping[str, Any], drafts: dict) -> None:
        device = self.devices.get(event.get("device_id", ""))
        if device is None or not self.camera_rules:
            return
        when = event.get("time")
        t = datetime.fromisoformat(when).timestamp() if when else time.time()
        inc = Incident(device.device_id, str(event.get("label", "")), str(event.get("phase", "")),
                       str(event.get("event_id", "")), event.get("confidence"),
                       bool(event.get("false_positive")), t, tuple(event.get("zones") or ()),
                       event.get("plate"))
        for rule in self.camera_rules:
            if not rule.select.matches(family=device.family, kind=device.kind,
                                       device_id=device.device_id, district=device.district):
                continue
            seen_key = (rule.id, f"{event.get('source')}:{inc.event_id}")
            seen = seen_key in self._seen
            self._seen[seen_key] = None
            self._seen.move_to_end(seen_key)
            while len(self._seen) > _SEEN_INCIDENTS_MAX:
                self._seen.popitem(last=False)
            severity = camera_occurrence(rule, inc, seen)
            if severity is None:
                continue
            key = (rule.id, camera_subject(inc))
            occ = drafts.get(key)
            if occ is None:
                occ = drafts[key] = _Occurrences(None)
                occ.extra = {"rule": rule, "device": device, "label": inc.label}
            occ.add(inc.confidence, t, level=1, severity=worst([occ.severity, severity])
                    if occ.count else severity)
            occ.extra.update(last_event_id=inc.event_id, zones=list(inc.zones), plate=inc.plate,
                             snapshot_sha256=event.get("snapshot_sha256"),
                             snapshot_url=event.get("snapshot_url"))

    def _draft(self, key: tuple[str, str], occ: _Occurrences) -> AlertDraft:
        rule_id, subject = key
        if occ.binding is not None:
            b = occ.binding
            rule, device = b.rule, b.device
            value = occ.value
            fields = dict(name=device.name, device_id=device.device_id, district=device.district,
                          district_name=self._district_name(device.district), value=value,
                          level=occ.level, level_name=b.level_names[occ.level - 1],
                          metric=rule.metric, count=occ.count, capacity=b.reference,
                          ratio=(value / b.reference) if b.reference and value is not None
                          else None)
            default = f"{device.name}: {rule.metric} {value:g}" if value is not None \
                else device.name
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
                title=render_title(rule.title, default, **fields), family=device.family,
                district=device.district, device_id=device.device_id, value=value,
                details=details, public=rule.public, occurrences=occ.count, peak=occ.peak,
                lower_is_worse=not b.above, level=occ.level)
        rule, device, label = occ.extra["rule"], occ.extra["device"], occ.extra["label"]
        label_vi = CAMERA_LABELS_VI.get(label, label)
        details = {k: v for k, v in occ.extra.items() if k not in ("rule", "device")}
        details.update(level=1, label=label, reading_time=occ.first_time)
        return AlertDraft(
            rule_id=rule_id, subject=subject, kind=rule.alert_kind, severity=occ.severity,
            title=render_title(rule.title, f"{device.name}: {label_vi}", name=device.name,
                               device_id=device.device_id, district=device.district,
                               district_name=self._district_name(device.district),
                               label=label_vi, count=occ.count, value=occ.value),
            family=device.family, district=device.district, device_id=device.device_id,
            value=occ.value, details=details, public=rule.public, occurrences=occ.count,
            peak=occ.peak, level=1)

    def _apply(self, drafts, resolves, pending_set, pending_clear, caps,
               result: BatchResult, level_now: dict[tuple[str, str], int]) -> None:
        conn = self.conn
        opened_rows = []
        new_pending: dict[tuple[str, str], float] = {}
        with conn.transaction():
            for key in sorted(pending_set):
                since, level, value = pending_set[key]
                row = conn.execute(
                    "INSERT INTO alert_pending (rule_id, subject, since, level, last_value) "
                    "VALUES (%s, %s, to_timestamp(%s), %s, %s) ON CONFLICT (rule_id, subject) "
                    "DO UPDATE SET level = EXCLUDED.level, last_value = EXCLUDED.last_value, "
                    "updated_at = now() RETURNING extract(epoch FROM since)",
                    (*key, since, level, value)).fetchone()
                new_pending[key] = float(row[0])
            for key in sorted(pending_clear):
                conn.execute("DELETE FROM alert_pending WHERE rule_id = %s AND subject = %s", key)
            for key in sorted(drafts):
                draft = self._draft(key, drafts[key])
                change = open_or_update(conn, draft)
                if change.opened:
                    result.opened.append(change.alert_id)
                    opened_rows.append((change.alert_id, draft.kind, draft.district,
                                        draft.family))
                else:
                    result.updated += 1
            for key in sorted(resolves):
                value, t = resolves[key]
                if resolve(conn, *key, note="điều kiện cảnh báo đã hết",
                           data={"value": value, "reading_time": t}) is not None:
                    result.resolved += 1
            for event in caps:
                self._cap(event, result, opened_rows)
            storm.group_new_alerts(conn, self.ruleset.storm, opened_rows, self.district_names)
        # Only after the commit: the caches follow the database.
        for key in pending_clear:
            self.pending.pop(key, None)
        self.pending.update(new_pending)
        for key, occ in drafts.items():
            self.active[key] = occ.level
        for key, level in level_now.items():  # the last reading of the batch decides
            if level > 0:
                self.active[key] = level
            else:
                self.active.pop(key, None)

    # -- CAP ----------------------------------------------------------------------------------
    def _cap(self, event: Mapping[str, Any], result: BatchResult, opened_rows: list) -> None:
        for rule in self.cap_rules:
            try:
                actions = cap_actions(rule, event)
            except (KeyError, ValueError, TypeError) as err:
                log.warning("CAP event not understood (%s): %.200r", err, event)
                continue
            for action in actions:
                self._cap_action(rule, action, result, opened_rows)

    def _cap_chain(self, rule: CapRule, keys: list[str]) -> tuple[str, list[str]] | None:
        row = self.conn.execute(
            "SELECT subject, details->'cap_keys' FROM alerts WHERE rule_id = %s "
            "AND status = ANY(%s) AND (details->'cap_keys') ?| %s ORDER BY id LIMIT 1",
            (rule.id, list(ACTIVE), keys)).fetchone()
        return (row[0], list(row[1] or [])) if row else None

    def _cap_action(self, rule: CapRule, action, result: BatchResult, opened_rows: list) -> None:
        if action.action == "cancel":
            chain = self._cap_chain(rule, list(action.refs) or [action.key])
            if chain is None:
                log.info("CAP Cancel %s refers to no active warning", action.key)
                return
            if resolve(self.conn, rule.id, chain[0], actor="cap",
                       note=f"CAP Cancel {action.key}",
                       data={"cap_key": action.key}) is not None:
                result.resolved += 1
                self.active.pop((rule.id, chain[0]), None)
            return
        subject, keys = action.key, [action.key]
        if action.action == "update" and action.refs:
            chain = self._cap_chain(rule, list(action.refs))
            if chain is not None:
                subject, keys = chain[0], [*chain[1], action.key]
            else:
                keys = [action.key, *action.refs]
        draft = AlertDraft(
            rule_id=rule.id, subject=subject, kind=rule.alert_kind, severity=action.severity,
            title=render_title(rule.title, action.title, headline=action.title,
                               event=action.details.get("cap_event"),
                               sender=action.details.get("sender"),
                               district=action.district,
                               district_name=self._district_name(action.district)),
            district=action.district, details={**action.details, "cap_keys": keys, "level": 1},
            public=rule.public)
        change = open_or_update(self.conn, draft, actor="cap")
        self.active[(rule.id, subject)] = 1
        if change.opened:
            result.opened.append(change.alert_id)
            opened_rows.append((change.alert_id, draft.kind, draft.district, None))
        else:
            result.updated += 1

    # -- time-based work ----------------------------------------------------------------------
    def tick(self, now: float | None = None, *, fast: bool = True,
             slow: bool = True) -> BatchResult:
        """Run what is due; returns what changed.

        fast: the per-tick work (cleared levels, durations, silence, escalation, expiry);
        slow: the scheduled queries over stored readings (rain, air quality, disaster levels).
        The worker runs them in separate threads (each with its own Engine and connection),
        so a slow query never delays alerts from the stream.
        """
        now = time.time() if now is None else now
        result = BatchResult()
        if fast:
            self.refresh_state()
            self._locked("levels", lambda: self._tick_levels(now, result))
            self._locked("silence", lambda: self._tick_silence(now, result))
            self._locked("escalation", lambda: self._tick_escalation(now, result))
            self._locked("expiry", lambda: self._tick_expiry(result))
        if slow:
            self._tick_slow(now, result, refreshed=fast)
        if result.opened or result.updated or result.resolved:
            self.on_change()
        return result

    def _tick_slow(self, now: float, result: BatchResult, refreshed: bool) -> None:
        due: list[tuple[str, Callable[[], None]]] = []
        for rule in self.ruleset.of_type("rain"):
            if self._is_due(f"rain:{rule.id}", rule.every_s, now):
                due.append((f"rain:{rule.id}", lambda r=rule: self._tick_rain(r, result)))
        aq_rules = self.ruleset.of_type("air_quality")
        every = min((r.every_s for r in aq_rules), default=60)
        if self._is_due("air_quality", every, now):
            due.append(("air_quality", lambda: self._tick_air_quality(aq_rules, result)))
        cfg = self.ruleset.disaster_levels
        if cfg.enabled and self._is_due("disaster_levels", cfg.every_s, now):
            due.append(("disaster_levels", lambda: self._tick_disaster(result)))
        if due and not refreshed:
            self.refresh_state()
        for task, body in due:
            self._locked(task, body)

    def _is_due(self, name: str, every_s: float, now: float) -> bool:
        if now >= self._due.get(name, 0):
            self._due[name] = now + every_s
            return True
        return False

    def _locked(self, task: str, body: Callable[[], None]) -> None:
        with self.conn.transaction():
            got = self.conn.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || %s))",
                (f":ioc-alerts:{task}",)).fetchone()[0]
            if got:
                body()

    def _open(self, draft: AlertDraft, result: BatchResult, level: int) -> None:
        change = open_or_update(self.conn, draft)
        self.active[(draft.rule_id, draft.subject)] = level
        if change.opened:
            result.opened.append(change.alert_id)
            storm.group_new_alerts(self.conn, self.ruleset.storm,
                                   [(change.alert_id, draft.kind, draft.district, draft.family)],
                                   self.district_names)
        else:
            result.updated += 1

    def _resolve(self, key: tuple[str, str], result: BatchResult, note: str,
                 data: dict | None = None) -> None:
        if resolve(self.conn, *key, note=note, data=data) is not None:
            result.resolved += 1
        self.active.pop(key, None)

    def _tick_levels(self, now: float, result: BatchResult) -> None:
        keys = [k for k in self.active if k in self.bindings] + list(self.pending)
        if not keys:
            return
        latest = self.live.latest_many({k[1] for k in keys})
        for key in [k for k in self.active if k in self.bindings]:
            b = self.bindings[key]
            item = latest.get(key[1], {}).get(b.rule.metric)
            if item is None or not isinstance(item.value, int | float):
                continue
            d = decide(b, SubjectState(self.active[key]), float(item.value), item.time)
            if d.action == "resolve":
                self._resolve(key, result, "điều kiện cảnh báo đã hết",
                              {"value": item.value, "reading_time": item.time})
        for key, since in list(self.pending.items()):
            b = self.bindings.get(key)
            if b is None:  # the rule or the device is gone: forget the condition
                self.conn.execute(
                    "DELETE FROM alert_pending WHERE rule_id = %s AND subject = %s", key)
                self.pending.pop(key, None)
                continue
            if key in self.active:
                continue
            item = latest.get(key[1], {}).get(b.rule.metric)
            value = item.value if item is not None else None
            d = (decide(b, SubjectState(0, since), float(value), max(now, item.time))
                 if isinstance(value, int | float) else None)
            if d is not None and d.action == "pending":
                continue
            self.conn.execute("DELETE FROM alert_pending WHERE rule_id = %s AND subject = %s",
                              key)
            self.pending.pop(key, None)
            if d is not None and d.action == "open":
                occ = _Occurrences(b)
                occ.add(float(value), item.time, level=d.level,
                        severity=b.severities[d.level - 1], lower_is_worse=not b.above)
                occ.since = since
                self._open(self._draft(key, occ), result, d.level)

    def _tick_silence(self, now: float, result: BatchResult) -> None:
        rules: list[SilenceRule] = self.ruleset.of_type("silence")
        if not rules:
            return
        last_seen = self.live.last_seen()
        for rule in rules:
            for device in self.devices.values():
                if not rule.select.matches(family=device.family, kind=device.kind,
                                           device_id=device.device_id,
                                           district=device.district):
                    continue
                key = (rule.id, device.device_id)
                quiet = silent_for(last_seen.get(device.device_id), now,
                                   device.expected_interval_s, rule.intervals, rule.min_silent_s)
                if quiet is not None and key not in self.active:
                    title = render_title(rule.title, f"{device.name}: mất tín hiệu",
                                         name=device.name, device_id=device.device_id,
                                         district=device.district,
                                         district_name=self._district_name(device.district),
                                         silent_min=quiet / 60, value=quiet)
                    self._open(AlertDraft(
                        rule_id=rule.id, subject=device.device_id, kind=rule.alert_kind,
                        severity=rule.severity, title=title, family=device.family,
                        district=device.district, device_id=device.device_id,
                        value=round(quiet), public=rule.public,
                        details={"level": 1, "last_seen": last_seen[device.device_id]}),
                        result, 1)
                elif quiet is None and key in self.active and rule.auto_resolve:
                    self._resolve(key, result, "thiết bị hoạt động trở lại")

    def _tick_escalation(self, now: float, result: BatchResult) -> None:
        rows = self.conn.execute(
            "SELECT id, rule_id, extract(epoch FROM opened_at), escalation_level FROM alerts "
            "WHERE status = 'open' AND parent_id IS NULL").fetchall()
        for alert_id, rule_id, opened_at, level in rows:
            if rule_id == storm.STORM_RULE:
                steps = self.ruleset.storm.escalation
            else:
                rule = self.ruleset.rule(rule_id)
                steps = rule.escalation if rule is not None else []
            due = escalation_due(steps, float(opened_at), level, now)
            if due is not None:
                number, step = due
                if lifecycle.escalate(self.conn, alert_id, number, notify=step.notify,
                                      raise_severity=step.raise_severity):
                    result.updated += 1

    def _tick_expiry(self, result: BatchResult) -> None:
        for rule in self.camera_rules:
            if not rule.auto_resolve:
                continue
            for (subject,) in self.conn.execute(
                    "SELECT subject FROM alerts WHERE rule_id = %s AND status = ANY(%s) "
                    "AND last_seen_at < now() - make_interval(secs => %s)",
                    (rule.id, list(ACTIVE), rule.quiet_s)).fetchall():
                self._resolve((rule.id, subject), result,
                              f"không có sự việc mới trong {rule.quiet_s // 60} phút")
        for rule in self.cap_rules:
            for (subject,) in self.conn.execute(
                    "SELECT subject FROM alerts WHERE rule_id = %s AND status = ANY(%s) "
                    "AND (details->>'expires')::timestamptz < now()",
                    (rule.id, list(ACTIVE))).fetchall():
                self._resolve((rule.id, subject), result, "bản tin CAP đã hết hiệu lực")
        for _ in storm.resolve_finished_storms(self.conn):
            result.resolved += 1

    # -- rain ---------------------------------------------------------------------------------
    def rain_totals(self, metric: str, device_ids: list[str], windows: Iterable[int],
                    antecedent_h: int) -> dict[str, tuple[dict[int, float], float]]:
        """device -> ({window hours: mm}, mm in the `antecedent_h` before the longest window)."""
        windows = sorted(set(windows))
        if not device_ids or not windows:
            return {}
        longest = windows[-1]
        cols = [
            sql.SQL("COALESCE(sum(value) FILTER (WHERE time > now() - make_interval(hours => {})),"
                    " 0)").format(sql.Literal(w))
            for w in windows
        ]
        cols.append(sql.SQL(
            "COALESCE(sum(value) FILTER (WHERE time <= now() - make_interval(hours => {})), 0)"
        ).format(sql.Literal(longest)))
        query = sql.SQL(
            "SELECT device_id, {} FROM readings WHERE metric = %s AND device_id = ANY(%s) "
            "AND time > now() - make_interval(hours => %s) AND time <= now() + interval '5 min' "
            "GROUP BY device_id").format(sql.SQL(", ").join(cols))
        out = {}
        for row in self.conn.execute(query, (metric, device_ids, longest + antecedent_h)):
            out[row[0]] = ({w: float(v) for w, v in zip(windows, row[1:-1], strict=True)},
                           float(row[-1]))
        return out

    def _selected(self, rule) -> list[Device]:
        return [d for d in self.devices.values()
                if rule.select.matches(family=d.family, kind=d.kind, device_id=d.device_id,
                                       district=d.district)]

    def _tick_rain(self, rule: RainRule, result: BatchResult) -> None:
        devices = {d.device_id: d for d in self._selected(rule)}
        totals = self.rain_totals(rule.metric, list(devices), [b.window_h for b in rule.bands],
                                  rule.antecedent_h)
        for device_id, device in devices.items():
            key = (rule.id, device_id)
            current = self.active.get(key, 0)
            if device_id not in totals:
                if current and rule.auto_resolve:
                    self._resolve(key, result, "hết mưa lớn")
                continue
            sums, antecedent = totals[device_id]
            level = rain_alert_level(rule, sums, current, antecedent)
            if level == 0:
                if current and rule.auto_resolve:
                    self._resolve(key, result, "lượng mưa dưới ngưỡng", {"totals": sums})
                continue
            if level == current:
                continue
            window, mm = rain_trigger(rule, sums, level, antecedent)
            title = render_title(
                rule.title, f"{device.name}: mưa {mm:.0f} mm trong {window} giờ",
                name=device.name, device_id=device_id, district=device.district,
                district_name=self._district_name(device.district), level=level, mm=mm,
                window_h=window, value=mm)
            self._open(AlertDraft(
                rule_id=rule.id, subject=device_id, kind=rule.alert_kind,
                severity=rule.severities[level], title=title, family=device.family,
                district=device.district, device_id=device_id, value=mm, public=rule.public,
                level=level, details={"level": level, "window_h": window,
                                      "totals_mm": {str(k): round(v, 1) for k, v in sums.items()},
                                      "antecedent_mm": round(antecedent, 1)}), result, level)

    # -- air quality ----------------------------------------------------------------------
    def hourly_means(self, device_ids: list[str]) -> dict[str, dict[str, list[float | None]]]:
        """device -> pollutant -> 12 hourly means, the hour ending now first."""
        out: dict[str, dict[str, list[float | None]]] = {}
        if not device_ids:
            return out
        for device_id, metric, hour, mean in self.conn.execute(
                "SELECT device_id, metric, floor(extract(epoch FROM now() - time) / 3600)::int, "
                "avg(value) FROM readings WHERE metric = ANY(%s) AND device_id = ANY(%s) "
                "AND time > now() - interval '12 hours' AND time <= now() + interval '5 min' "
                "GROUP BY 1, 2, 3", (list(aqi_mod.POLLUTANTS), device_ids)):
            series = out.setdefault(device_id, {}).setdefault(metric, [None] * 12)
            series[max(0, min(11, hour))] = float(mean)
        return out

    def _tick_air_quality(self, rules: list[AirQualityRule], result: BatchResult) -> None:
        stations = [d for d in self.devices.values() if d.family == "environment"]
        hourly = self.hourly_means([d.device_id for d in stations])
        computed: dict[tuple[str, str], aqi_mod.AqiResult] = {}
        for device_id, series in hourly.items():
            for standard, fn in (("vn_aqi", aqi_mod.vn_aqi_hourly),
                                 ("us_epa", aqi_mod.us_epa_nowcast_aqi)):
                res = fn(series)
                if res is None:
                    continue
                computed[(device_id, standard)] = res
                self.conn.execute(
                    "INSERT INTO air_quality_index (device_id, standard, aqi, category, dominant,"
                    " sub_indices) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (device_id, "
                    "standard) DO UPDATE SET aqi = EXCLUDED.aqi, category = EXCLUDED.category, "
                    "dominant = EXCLUDED.dominant, sub_indices = EXCLUDED.sub_indices, "
                    "computed_at = now()",
                    (device_id, standard, min(500, res.aqi), res.category.level, res.dominant,
                     Jsonb(dict(res.sub_indices))))
        for rule in rules:
            for device in self._selected(rule):
                key = (rule.id, device.device_id)
                current = self.active.get(key, 0)
                res = computed.get((device.device_id, rule.standard))
                if res is None:
                    continue  # no index this hour: leave the alert as it is
                level = aqi_alert_category(res.aqi, current, rule.min_category,
                                           rule.hysteresis_aqi)
                if level == 0:
                    if current and rule.auto_resolve:
                        self._resolve(key, result, f"chỉ số {res.aqi}: {res.category.name_vi}",
                                      {"aqi": res.aqi})
                    continue
                if level == current:
                    continue
                cat = aqi_mod.CATEGORIES[level - 1]
                title = render_title(
                    rule.title, f"{device.name}: AQI {res.aqi} – {cat.name_vi}", name=device.name,
                    device_id=device.device_id, district=device.district,
                    district_name=self._district_name(device.district), aqi=res.aqi,
                    category=cat.name_vi, level=level, value=res.aqi)
                self._open(AlertDraft(
                    rule_id=rule.id, subject=device.device_id, kind=rule.alert_kind,
                    severity=rule.severities[level], title=title, family=device.family,
                    district=device.district, device_id=device.device_id, value=res.aqi,
                    public=rule.public, level=level,
                    details={"level": level, "standard": rule.standard, "aqi": res.aqi,
                             "category": cat.name_vi, "colour": cat.hex,
                             "dominant": res.dominant, "sub_indices": dict(res.sub_indices)}),
                    result, level)

    # -- disaster levels per district ---------------------------------------------------------
    def district_levels(self) -> dict[str, tuple[dl.DistrictLevel, dict]]:
        """district -> (its level, the basis: which stations and gauges gave it)."""
        cfg = self.ruleset.disaster_levels
        hazards: dict[str, dict[str, int]] = defaultdict(dict)
        basis: dict[str, dict[str, Any]] = defaultdict(dict)
        previous = {d: h for d, h in self.conn.execute(
            "SELECT district, hazards FROM district_hazard_levels")}

        def raise_to(district, hazard, level, why):
            if level > hazards[district].get(hazard, 0):
                hazards[district][hazard] = level
                basis[district][hazard] = why

        from alerts.water_level import AlarmLevels

        flood_bands = [b.band() for b in cfg.flood]
        stations, slopes, gauges = [], [], []
        for d in self.devices.values():
            if not d.district:
                continue
            try:
                levels = AlarmLevels.from_metadata(d.metadata or {})
            except ValueError:
                levels = None
            if levels is not None:
                stations.append((d, levels))
            if d.kind == "landslide" and isinstance(d.meta("warning"), Mapping):
                slopes.append(d)
            if d.kind == "rain_gauge":
                gauges.append(d)
        for district in {d.district for d in self.devices.values() if d.district}:
            hazards[district] = {}
        latest = self.live.latest_many([d.device_id for d, _ in stations]
                                       + [d.device_id for d in slopes])
        for d, levels in stations:
            item = latest.get(d.device_id, {}).get("water_level_m")
            if item is None or not isinstance(item.value, int | float):
                continue
            hist = d.meta("historical_max_m")
            level = dl.flood_level(float(item.value), (levels.level_1, levels.level_2,
                                                        levels.level_3), flood_bands,
                                   hist if isinstance(hist, int | float) else None)
            raise_to(d.district, "flood", level, {"device_id": d.device_id,
                                                  "water_level_m": item.value})
        for d in slopes:
            warning = d.meta("warning")
            values = latest.get(d.device_id, {})
            over = [m for m, limit in warning.items()
                    if isinstance(limit, int | float) and m in values
                    and isinstance(values[m].value, int | float)
                    and abs(values[m].value) >= limit]
            if over and cfg.landslide_sensor_level:
                raise_to(d.district, "flash_flood_landslide", cfg.landslide_sensor_level,
                         {"device_id": d.device_id, "over": over})
        heavy = [b.band() for b in cfg.heavy_rain]
        flash = [b.band() for b in cfg.flash_flood]
        windows = {b.window_h for b in heavy + flash}
        totals = self.rain_totals("rain_mm", [g.device_id for g in gauges], windows,
                                  cfg.antecedent_h) if windows else {}
        for g in gauges:
            if g.device_id not in totals:
                continue
            sums, antecedent = totals[g.device_id]
            before = previous.get(g.district) or {}
            why = {"device_id": g.device_id,
                   "totals_mm": {str(k): round(v, 1) for k, v in sums.items()},
                   "antecedent_mm": round(antecedent, 1)}
            raise_to(g.district, "heavy_rain", dl.rain_level_with_hysteresis(
                sums, heavy, int(before.get("heavy_rain", 0)), cfg.hysteresis_ratio), why)
            raise_to(g.district, "flash_flood_landslide", dl.rain_level_with_hysteresis(
                sums, flash, int(before.get("flash_flood_landslide", 0)), cfg.hysteresis_ratio,
                antecedent), why)
        uplift = cfg.uplift.uplift()
        return {district: (dl.combine(h, uplift), basis[district])
                for district, h in hazards.items()}

    def _tick_disaster(self, result: BatchResult) -> None:
        levels = self.district_levels()
        old = {d: lv for d, lv in self.conn.execute(
            "SELECT district, level FROM district_hazard_levels")}
        changed = []
        for district, (level, why) in sorted(levels.items()):
            risk = level.risk
            self.conn.execute(
                "INSERT INTO district_hazard_levels (district, level, base_level, uplift, colour,"
                " label, hazards, basis) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (district) DO UPDATE SET level = EXCLUDED.level, "
                "base_level = EXCLUDED.base_level, uplift = EXCLUDED.uplift, "
                "colour = EXCLUDED.colour, label = EXCLUDED.label, hazards = EXCLUDED.hazards, "
                "basis = EXCLUDED.basis, updated_at = now(), changed_at = CASE WHEN "
                "district_hazard_levels.level <> EXCLUDED.level THEN now() "
                "ELSE district_hazard_levels.changed_at END",
                (district, level.level, level.base_level, level.uplift, risk.hex, risk.name_vi,
                 Jsonb(dict(level.hazards)), Jsonb(why)))
            if old.get(district, 0) != level.level:
                self.conn.execute(
                    "INSERT INTO district_hazard_history (district, at, level, hazards) "
                    "VALUES (%s, clock_timestamp(), %s, %s)",
                    (district, level.level, Jsonb(dict(level.hazards))))
                changed.append((district, level))
        for rule in self.ruleset.of_type("disaster_level"):
            self._district_alerts(rule, levels, result)
        if self.on_hazard is not None:
            for district, level in changed:
                self.on_hazard({
                    "type": "hazard_level", "district": district,
                    "district_name": self._district_name(district), "level": level.level,
                    "base_level": level.base_level, "uplift": level.uplift,
                    "colour": level.risk.hex, "label": level.risk.name_vi,
                    "hazards": dict(level.hazards), "previous": old.get(district, 0),
                    "at": datetime.now(UTC).isoformat()})

    def _district_alerts(self, rule: DisasterLevelRule, levels, result: BatchResult) -> None:
        for district, (level, why) in levels.items():
            if rule.select.districts and district not in rule.select.districts:
                continue
            key = (rule.id, district)
            current = self.active.get(key, 0)
            if level.level < rule.min_level:
                if current and rule.auto_resolve:
                    self._resolve(key, result, f"cấp độ rủi ro còn {level.level}")
                continue
            if level.level == current:
                continue
            name = self._district_name(district)
            title = render_title(rule.title, f"{name}: rủi ro thiên tai cấp {level.level}",
                                 district=district, district_name=name, level=level.level,
                                 value=level.level)
            self._open(AlertDraft(
                rule_id=rule.id, subject=district, kind=rule.alert_kind,
                severity=rule.severities[level.level], title=title, family="disaster",
                district=district, value=float(level.level), public=rule.public,
                level=level.level, details={"level": level.level, "base_level": level.base_level,
                                            "uplift": level.uplift,
                                            "hazards": dict(level.hazards), "basis": why,
                                            "colour": level.risk.hex}), result, level.level)
