"""The rules' time-based work: what `Engine.tick` runs.

Fast, every tick: level alerts whose latest value has cleared (another worker may have seen
the clearing reading), conditions that held for `for_s`, silent devices, escalation, quiet
cameras, expired CAP warnings, finished storms. Slow, when due: each rain and air-quality rule
every `every_s`, disaster levels per unit every `disaster_levels.every_s`. Each task takes a
transaction-level advisory lock, so when several workers run only one does a given task at a
time. Decisions come from `alerts.decisions`, SQL from `alerts.store`.

`ScheduledWork` is the time-based half of `alerts.engine.Engine` (it uses the engine's
caches, rules and `_open`/`_resolve`); it is not used alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from alerts import lifecycle, store, storm
from alerts.batch import Occurrences, level_draft
from alerts.decisions import (
    Device,
    SubjectState,
    aqi_alert_category,
    builtin_title,
    decide,
    escalation_due,
    rain_alert_level,
    rain_trigger,
    render_title,
    silent_for,
    titles_of,
)
from alerts.rules import AirQualityRule, DisasterLevelRule, RainRule, SilenceRule
from alerts.store import AlertDraft
from ioc.alert_titles import note
from ioc.domain import aqi as aqi_mod
from ioc.domain import disaster_levels as dl
from ioc.events import HazardLevel

if TYPE_CHECKING:
    from alerts.batch import BatchResult


class ScheduledWork:
    """Time-based rules; mixed into `alerts.engine.Engine`."""

    # -- the tick ---------------------------------------------------------------------------
    def tick(self, now: float | None = None, *, fast: bool = True,
             slow: bool = True) -> BatchResult:
        """Run what is due; returns what changed.

        fast: the per-tick work (cleared levels, durations, silence, escalation, expiry);
        slow: the scheduled queries over stored readings (rain, air quality, disaster levels).
        The worker runs them in separate threads (each with its own Engine and connection),
        so a slow query never delays alerts from the stream.
        """
        from alerts.batch import BatchResult

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
            if store.try_task_lock(self.conn, task):
                body()

    def _selected(self, rule) -> list[Device]:
        return [d for d in self.devices.values()
                if rule.select.matches(family=d.family, kind=d.kind, device_id=d.device_id,
                                       unit_id=d.unit_id)]

    # -- fast -------------------------------------------------------------------------------
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
                self._resolve(key, result, note("condition_cleared"),
                              {"value": item.value, "reading_time": item.time})
        for key, since in list(self.pending.items()):
            b = self.bindings.get(key)
            if b is None:  # the rule or the device is gone: forget the condition
                store.clear_pending(self.conn, key)
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
            store.clear_pending(self.conn, key)
            self.pending.pop(key, None)
            if d is not None and d.action == "open":
                occ = Occurrences(b)
                occ.add(float(value), item.time, level=d.level,
                        severity=b.severities[d.level - 1], lower_is_worse=not b.above)
                occ.since = since
                self._open(level_draft(key, occ, self._unit_name(b.device.unit_id)), result,
                           d.level)

    def _tick_silence(self, now: float, result: BatchResult) -> None:
        rules: list[SilenceRule] = self.ruleset.of_type("silence")
        if not rules:
            return
        last_seen = self.live.last_seen()
        for rule in rules:
            for device in self._selected(rule):
                key = (rule.id, device.device_id)
                quiet = silent_for(last_seen.get(device.device_id), now,
                                   device.expected_interval_s, rule.intervals, rule.min_silent_s)
                if quiet is not None and key not in self.active:
                    title = render_title(titles_of(rule),
                                         builtin_title("silent", name=device.name),
                                         name=device.name, device_id=device.device_id,
                                         unit_id=device.unit_id,
                                         unit_name=self._unit_name(device.unit_id),
                                         silent_min=quiet / 60, value=quiet)
                    self._open(AlertDraft(
                        rule_id=rule.id, subject=device.device_id, kind=rule.alert_kind,
                        severity=rule.severity, title=title, family=device.family,
                        unit_id=device.unit_id, device_id=device.device_id,
                        value=round(quiet), public=rule.public,
                        details={"level": 1, "last_seen": last_seen[device.device_id]}),
                        result, 1)
                elif quiet is None and key in self.active and rule.auto_resolve:
                    self._resolve(key, result, note("device_back"))

    def _tick_escalation(self, now: float, result: BatchResult) -> None:
        for alert_id, rule_id, opened_at, level in store.unacknowledged_top_level(self.conn):
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
            for subject in store.quiet_subjects(self.conn, rule.id, rule.quiet_s):
                self._resolve((rule.id, subject), result,
                              note("camera_quiet", minutes=rule.quiet_s // 60))
        for rule in self.cap_rules:
            for subject in store.expired_cap_subjects(self.conn, rule.id):
                self._resolve((rule.id, subject), result, note("cap_expired"))
        for _ in storm.resolve_finished_storms(self.conn):
            result.resolved += 1

    # -- rain -------------------------------------------------------------------------------
    def rain_totals(self, metric: str, device_ids: list[str], windows,
                    antecedent_h: int) -> dict[str, tuple[dict[int, float], float]]:
        """device -> ({window hours: mm}, mm in the `antecedent_h` before the longest window)."""
        return store.rain_totals(self.conn, metric, device_ids, windows, antecedent_h)

    def _tick_rain(self, rule: RainRule, result: BatchResult) -> None:
        devices = {d.device_id: d for d in self._selected(rule)}
        totals = self.rain_totals(rule.metric, list(devices), [b.window_h for b in rule.bands],
                                  rule.antecedent_h)
        for device_id, device in devices.items():
            key = (rule.id, device_id)
            current = self.active.get(key, 0)
            if device_id not in totals:
                if current and rule.auto_resolve:
                    self._resolve(key, result, note("rain_stopped"))
                continue
            sums, antecedent = totals[device_id]
            level = rain_alert_level(rule, sums, current, antecedent)
            if level == 0:
                if current and rule.auto_resolve:
                    self._resolve(key, result, note("rain_below"), {"totals": sums})
                continue
            if level == current:
                continue
            window, mm = rain_trigger(rule, sums, level, antecedent)
            title = render_title(
                titles_of(rule), builtin_title("rain", name=device.name, mm=mm, window_h=window),
                name=device.name, device_id=device_id, unit_id=device.unit_id,
                unit_name=self._unit_name(device.unit_id), level=level, mm=mm,
                window_h=window, value=mm)
            self._open(AlertDraft(
                rule_id=rule.id, subject=device_id, kind=rule.alert_kind,
                severity=rule.severities[level], title=title, family=device.family,
                unit_id=device.unit_id, device_id=device_id, value=mm, public=rule.public,
                level=level, details={"level": level, "window_h": window,
                                      "totals_mm": {str(k): round(v, 1) for k, v in sums.items()},
                                      "antecedent_mm": round(antecedent, 1)}), result, level)

    # -- air quality --------------------------------------------------------------------------
    def hourly_means(self, device_ids: list[str]) -> dict[str, dict[str, list[float | None]]]:
        """device -> pollutant -> 12 hourly means, the hour ending now first."""
        return store.hourly_means(self.conn, aqi_mod.POLLUTANTS, device_ids)

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
                store.save_air_quality_index(self.conn, device_id, standard, min(500, res.aqi),
                                             res.category.level, res.dominant,
                                             dict(res.sub_indices))
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
                        self._resolve(key, result, note("aqi_below", aqi=res.aqi,
                                                        category=res.category.name_vi),
                                      {"aqi": res.aqi})
                    continue
                if level == current:
                    continue
                cat = aqi_mod.CATEGORIES[level - 1]
                title = render_title(
                    titles_of(rule), builtin_title("air_quality", name=device.name, aqi=res.aqi,
                                                   category=level),
                    name=device.name, device_id=device.device_id, unit_id=device.unit_id,
                    unit_name=self._unit_name(device.unit_id), aqi=res.aqi,
                    category=cat.name_vi, level=level, value=res.aqi)
                self._open(AlertDraft(
                    rule_id=rule.id, subject=device.device_id, kind=rule.alert_kind,
                    severity=rule.severities[level], title=title, family=device.family,
                    unit_id=device.unit_id, device_id=device.device_id, value=res.aqi,
                    public=rule.public, level=level,
                    details={"level": level, "standard": rule.standard, "aqi": res.aqi,
                             "category": cat.name_vi, "colour": cat.hex,
                             "dominant": res.dominant, "sub_indices": dict(res.sub_indices)}),
                    result, level)

    # -- disaster levels per unit ---------------------------------------------------------------
    def unit_levels(self) -> dict[str, tuple[dl.UnitLevel, dict]]:
        """unit_id -> (its level, the basis: which stations and gauges gave it)."""
        from ioc.domain.water_level import AlarmLevels

        cfg = self.ruleset.disaster_levels
        seen: list[dl.Observation] = []
        previous = store.unit_hazards(self.conn)

        def raise_to(unit_id, hazard, level, why):
            seen.append(dl.Observation(unit_id, hazard, level, why))

        flood_bands = [b.band() for b in cfg.flood]
        stations, slopes, gauges = [], [], []
        for d in self.devices.values():
            if not d.unit_id:
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
            raise_to(d.unit_id, "flood", level, {"device_id": d.device_id,
                                                  "water_level_m": item.value})
        for d in slopes:
            warning = d.meta("warning")
            values = latest.get(d.device_id, {})
            over = [m for m, limit in warning.items()
                    if isinstance(limit, int | float) and m in values
                    and isinstance(values[m].value, int | float)
                    and abs(values[m].value) >= limit]
            if over and cfg.landslide_sensor_level:
                raise_to(d.unit_id, "flash_flood_landslide", cfg.landslide_sensor_level,
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
            before = previous.get(g.unit_id) or {}
            why = {"device_id": g.device_id,
                   "totals_mm": {str(k): round(v, 1) for k, v in sums.items()},
                   "antecedent_mm": round(antecedent, 1)}
            raise_to(g.unit_id, "heavy_rain", dl.rain_level_with_hysteresis(
                sums, heavy, int(before.get("heavy_rain", 0)), cfg.hysteresis_ratio), why)
            raise_to(g.unit_id, "flash_flood_landslide", dl.rain_level_with_hysteresis(
                sums, flash, int(before.get("flash_flood_landslide", 0)), cfg.hysteresis_ratio,
                antecedent), why)
        units = {d.unit_id for d in self.devices.values() if d.unit_id}
        return dl.levels_by_unit(seen, units, cfg.uplift.uplift())

    def _tick_disaster(self, result: BatchResult) -> None:
        levels = self.unit_levels()
        old = store.unit_levels_stored(self.conn)
        changed = []
        for unit_id, (level, why) in sorted(levels.items()):
            risk = level.risk
            moved = old.get(unit_id, 0) != level.level
            store.save_unit_level(self.conn, unit_id, level=level.level,
                                  base_level=level.base_level, uplift=level.uplift,
                                  colour=risk.hex, label=risk.name_vi,
                                  hazards=dict(level.hazards), basis=why, changed=moved)
            if moved:
                changed.append((unit_id, level))
        for rule in self.ruleset.of_type("disaster_level"):
            self._unit_alerts(rule, levels, result)
        if self.on_hazard is not None:
            for unit_id, level in changed:
                self.on_hazard(HazardLevel(
                    unit_id=unit_id, unit_name=self._unit_name(unit_id), level=level.level,
                    base_level=level.base_level, uplift=level.uplift, colour=level.risk.hex,
                    label=level.risk.name_vi, hazards=dict(level.hazards),
                    previous=old.get(unit_id, 0), at=datetime.now(UTC)))

    def _unit_alerts(self, rule: DisasterLevelRule, levels, result: BatchResult) -> None:
        for unit_id, (level, why) in levels.items():
            if rule.select.units and unit_id not in rule.select.units:
                continue
            key = (rule.id, unit_id)
            current = self.active.get(key, 0)
            if level.level < rule.min_level:
                if current and rule.auto_resolve:
                    self._resolve(key, result, note("risk_below", level=level.level))
                continue
            if level.level == current:
                continue
            name = self._unit_name(unit_id)
            title = render_title(titles_of(rule),
                                 builtin_title("disaster_level", unit_name=name,
                                               level=level.level),
                                 unit_id=unit_id, unit_name=name, level=level.level,
                                 value=level.level)
            self._open(AlertDraft(
                rule_id=rule.id, subject=unit_id, kind=rule.alert_kind,
                severity=rule.severities[level.level], title=title, family="disaster",
                unit_id=unit_id, value=float(level.level), public=rule.public,
                level=level.level, details={"level": level.level, "base_level": level.base_level,
                                            "uplift": level.uplift,
                                            "hazards": dict(level.hazards), "basis": why,
                                            "colour": level.risk.hex}), result, level.level)
