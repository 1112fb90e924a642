"""Routes live events to the rules and writes what they decide: alert rows out.

Two entry points, both thin loops around pure decisions:

- `handle_events(events)`: a batch of `ioc.events` from the Redis stream, each routed by
  its type: level rules (threshold, water level, capacity) see every reading, camera rules
  every incident, CAP rules every CAP message (`alerts.batch` folds them, purely, into a
  `BatchPlan`); all changes of a batch are written in one transaction.
- `tick(now)`: the time-based work (`alerts.scheduled`).

The database is the truth (one open alert per rule and subject, enforced by a unique index);
the engine's caches (active alerts, pending conditions) only save queries and are refreshed
every tick. Every statement is in `alerts.store`; titles and notes come from `ioc.alert_titles`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psycopg

from alerts import store, storm
from alerts.batch import (
    BatchPlan,
    BatchResult,
    SeenIncidents,
    draft,
    fold_incident,
    fold_readings,
)
from alerts.cap_in import cap_actions
from alerts.decisions import Device, Incident, LevelBinding, bind, render_title, titles_of
from alerts.rules import CameraRule, CapRule, RuleSet
from alerts.scheduled import ScheduledWork
from alerts.store import REOPEN_S, AlertDraft, active_alerts, open_or_update, resolve
from ioc import events as ev
from ioc.alert_titles import WHOLE_PROVINCE, note
from ioc.live import LiveState

log = logging.getLogger(__name__)

LEVEL_TYPES = ("threshold", "water_level", "capacity")
_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)

# where the worker and scripts have always found them
load_devices = store.load_devices
load_unit_names = store.load_unit_names



class Engine(ScheduledWork):
    """The rules applied to one database and live state (see the module docstring)."""

    def __init__(self, conn: psycopg.Connection, live: LiveState, ruleset: RuleSet,
                 devices: Iterable[Device], *, unit_names: Mapping[str, str] | None = None,
                 on_hazard: Callable[[ev.HazardLevel], None] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.conn = conn
        self.live = live
        self.on_hazard = on_hazard
        self.on_change = on_change or (lambda: None)
        self.active: dict[tuple[str, str], int] = {}  # (rule, subject) -> level
        self.pending: dict[tuple[str, str], float] = {}  # (rule, subject) -> since
        self._last_t: dict[tuple[str, str], float] = {}
        self._seen = SeenIncidents()
        self._due: dict[str, float] = {}
        self._routes: dict[type, Callable[[Any, BatchPlan], None]] = {
            ev.Readings: self._route_readings,
            ev.Incident: self._route_incident,
            ev.Cap: self._route_cap,
        }
        self.set_rules(ruleset, devices, unit_names)
        self.refresh_state()

    # -- set-up ---------------------------------------------------------------------------
    def set_rules(self, ruleset: RuleSet, devices: Iterable[Device],
                  unit_names: Mapping[str, str] | None = None) -> None:
        """Index the rules by metric and device, so a reading finds its rules in O(1)."""
        self.ruleset = ruleset
        self.devices = {d.device_id: d for d in devices}
        self.unit_names = dict(unit_names or {})
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
        self.pending = store.pending_conditions(self.conn)

    def _unit_name(self, unit_id: str | None) -> str:
        if not unit_id:
            return WHOLE_PROVINCE["vi"]
        return self.unit_names.get(unit_id, unit_id)

    # -- the stream path: routing -------------------------------------------------------------
    def handle_events(self, events: Iterable[ev.LiveEvent | Mapping[str, Any] | None]
                      ) -> BatchResult:
        """Apply a batch of live events; returns what changed. An event given as its wire
        object is decoded first; one that does not decode is skipped (and logged)."""
        plan = BatchPlan()
        for event in events:
            typed = self._typed(event)
            route = self._routes.get(type(typed))
            if route is not None:
                route(typed, plan)
        result = BatchResult(readings=plan.readings)
        if plan.empty:
            return result
        for attempt in range(3):
            try:
                self._apply(plan, result)
                break
            except _RETRYABLE:
                if attempt == 2:
                    raise
                result = BatchResult(readings=plan.readings)
                time.sleep(0.05 * (attempt + 1))
        if result.opened or result.updated or result.resolved:
            self.on_change()
        return result

    @staticmethod
    def _typed(event: ev.LiveEvent | Mapping[str, Any] | None) -> ev.LiveEvent | None:
        if event is None or not isinstance(event, Mapping):
            return event
        try:
            return ev.decode(event)
        except ev.UnknownEventType:
            return None
        except ev.EventError as err:
            log.warning("live event skipped: %s", err)
            return None

    def _route_readings(self, event: ev.Readings, plan: BatchPlan) -> None:
        fold_readings(plan, event.readings, self.by_metric, self.active, self.pending,
                      self._last_t)

    def _route_incident(self, event: ev.Incident, plan: BatchPlan) -> None:
        device = self.devices.get(event.device_id)
        if device is None or not self.camera_rules:
            return
        t = event.time.timestamp() if event.time is not None else time.time()
        inc = Incident(device.device_id, event.label, event.phase, event.event_id,
                       event.confidence, event.false_positive, t, event.zones, event.plate)
        fold_incident(plan, inc, device, self.camera_rules, self._seen, source=event.source,
                      snapshot_sha256=event.snapshot_sha256, snapshot_url=event.snapshot_url)

    @staticmethod
    def _route_cap(event: ev.Cap, plan: BatchPlan) -> None:
        plan.caps.append(event)

    # -- writing a batch ----------------------------------------------------------------------
    def _apply(self, plan: BatchPlan, result: BatchResult) -> None:
        conn = self.conn
        opened_rows = []
        new_pending: dict[tuple[str, str], float] = {}
        with conn.transaction():
            for key in sorted(plan.pending_set):
                since, level, value = plan.pending_set[key]
                new_pending[key] = store.set_pending(conn, key, since, level, value)
            for key in sorted(plan.pending_clear):
                store.clear_pending(conn, key)
            for key in sorted(plan.drafts):
                d = draft(key, plan.drafts[key], self._unit_name)
                change = open_or_update(conn, d, reopen_s=self._reopen_s(d.rule_id))
                if change.opened:
                    result.opened.append(change.alert_id)
                    opened_rows.append((change.alert_id, d.kind, d.unit_id, d.family))
                else:
                    result.updated += 1
            for key in sorted(plan.resolves):
                value, t = plan.resolves[key]
                if resolve(conn, *key, note=note("condition_cleared"),
                           data={"value": value, "reading_time": t}) is not None:
                    result.resolved += 1
            for event in plan.caps:
                self._cap(event, result, opened_rows)
            storm.group_new_alerts(conn, self.ruleset.storm, opened_rows, self.unit_names)
        # Only after the commit: the caches follow the database.
        for key in plan.pending_clear:
            self.pending.pop(key, None)
        self.pending.update(new_pending)
        for key, occ in plan.drafts.items():
            self.active[key] = occ.level
        for key, level in plan.level_now.items():  # the last reading of the batch decides
            if level > 0:
                self.active[key] = level
            else:
                self.active.pop(key, None)

    # -- CAP ----------------------------------------------------------------------------------
    def _cap(self, event: ev.Cap, result: BatchResult, opened_rows: list) -> None:
        for rule in self.cap_rules:
            try:
                actions = cap_actions(rule, event)
            except (KeyError, ValueError, TypeError) as err:
                log.warning("CAP event not understood (%s): %.200r", err, event)
                continue
            for action in actions:
                self._cap_action(rule, action, result, opened_rows)

    def _cap_action(self, rule: CapRule, action, result: BatchResult, opened_rows: list) -> None:
        if action.action == "cancel":
            chain = store.cap_chain(self.conn, rule.id, list(action.refs) or [action.key])
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
            chain = store.cap_chain(self.conn, rule.id, list(action.refs))
            if chain is not None:
                subject, keys = chain[0], [*chain[1], action.key]
            else:
                keys = [action.key, *action.refs]
        d = AlertDraft(
            rule_id=rule.id, subject=subject, kind=rule.alert_kind, severity=action.severity,
            title=render_title(titles_of(rule), action.title, headline=action.title,
                               event=action.details.get("cap_event"),
                               sender=action.details.get("sender"),
                               unit_id=action.unit_id,
                               unit_name=self._unit_name(action.unit_id)),
            unit_id=action.unit_id, details={**action.details, "cap_keys": keys, "level": 1},
            public=rule.public)
        change = open_or_update(self.conn, d, actor="cap", reopen_s=self._reopen_s(d.rule_id))
        self.active[(rule.id, subject)] = 1
        if change.opened:
            result.opened.append(change.alert_id)
            opened_rows.append((change.alert_id, d.kind, d.unit_id, None))
        else:
            result.updated += 1

    # -- alerts opened and resolved by the time-based work ------------------------------------------
    def _reopen_s(self, rule_id: str) -> float:
        """The rule's `reopen_s` (how recent a person's "resolved" is re-opened)."""
        rule = self.ruleset.rule(rule_id)
        return rule.reopen_s if rule is not None else REOPEN_S

    def _open(self, d: AlertDraft, result: BatchResult, level: int) -> None:
        change = open_or_update(self.conn, d, reopen_s=self._reopen_s(d.rule_id))
        self.active[(d.rule_id, d.subject)] = level
        if change.opened:
            result.opened.append(change.alert_id)
            storm.group_new_alerts(self.conn, self.ruleset.storm,
                                   [(change.alert_id, d.kind, d.unit_id, d.family)],
                                   self.unit_names)
        else:
            result.updated += 1

    def _resolve(self, key: tuple[str, str], result: BatchResult, note_text: str,
                 data: dict | None = None) -> None:
        if resolve(self.conn, *key, note=note_text, data=data) is not None:
            result.resolved += 1
        self.active.pop(key, None)

