"""Pure decisions of the alert rules: no I/O, so each is tested directly.

The worker feeds them readings, incidents, time and the current state of a subject (the
device, camera or unit an alert is about), and applies what they return.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from alerts.rules import (
    SEVERITIES,
    CameraRule,
    CapacityRule,
    EscalationStep,
    RainRule,
    StormConfig,
    ThresholdRule,
    WaterLevelRule,
)
from ioc import alert_titles as titles
from ioc.domain import aqi as aqi_mod
from ioc.domain.disaster_levels import rain_level, rain_level_with_hysteresis
from ioc.domain.water_level import LEVEL_NAMES, AlarmLevels


@dataclass(frozen=True)
class Device:
    """What the rules need to know about a registered device."""

    device_id: str
    family: str
    kind: str
    name: str
    unit_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    expected_interval_s: int = 60
    metadata: Mapping[str, Any] | None = None

    def meta(self, dotted: str) -> Any:
        """The metadata value at a dotted key ("warning.tilt_deg"), or None."""
        node: Any = self.metadata or {}
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node


# -- levels with hysteresis (threshold, water level, capacity) ---------------------------------
def level_of(value: float, thresholds: Sequence[float], *, above: bool = True, current: int = 0,
             hysteresis: float = 0.0) -> int:
    """0 (no threshold reached) .. len(thresholds).

    Thresholds are given mildest first. Going up a level is reached at its threshold; going
    back, a level is only left once the value is `hysteresis` past it, so a value wobbling
    at a threshold does not flap.
    """
    if above:
        raw = sum(1 for t in thresholds if value >= t)
        held = sum(1 for t in thresholds if value >= t - hysteresis)
    else:
        raw = sum(1 for t in thresholds if value <= t)
        held = sum(1 for t in thresholds if value <= t + hysteresis)
    if raw >= current:
        return raw
    return max(raw, min(current, held))


@dataclass(frozen=True)
class LevelBinding:
    """A level rule bound to one device: its thresholds in the metric's unit."""

    rule: ThresholdRule | WaterLevelRule | CapacityRule
    device: Device
    thresholds: tuple[float, ...]
    severities: tuple[str, ...]
    level_names: tuple[str, ...]
    above: bool = True
    hysteresis: float = 0.0
    reference: float | None = None  # the capacity, warning value, ... thresholds scale with

    @property
    def for_s(self) -> int:
        return self.rule.for_s

    @property
    def subject(self) -> str:
        return self.device.device_id


def bind(rule, device: Device) -> LevelBinding | None:
    """The rule's thresholds for this device, or None when the rule does not apply to it
    (not selected, or the metadata it needs is missing or invalid)."""
    if not rule.select.matches(family=device.family, kind=device.kind,
                               device_id=device.device_id, unit_id=device.unit_id):
        return None
    if isinstance(rule, WaterLevelRule):
        try:
            levels = AlarmLevels.from_metadata(device.metadata or {})
        except ValueError:
            return None
        if levels is None:
            return None
        return LevelBinding(rule, device, (levels.level_1, levels.level_2, levels.level_3),
                            tuple(rule.severities[n] for n in LEVEL_NAMES), LEVEL_NAMES,
                            True, rule.hysteresis_m)
    if isinstance(rule, CapacityRule):
        capacity = _positive(device.meta(rule.metadata_key))
        if capacity is None:
            return None
        return LevelBinding(rule, device, tuple(lv.ratio * capacity for lv in rule.levels),
                            tuple(lv.severity for lv in rule.levels),
                            tuple(f"{lv.ratio:.0%}" for lv in rule.levels), True,
                            rule.hysteresis_ratio * capacity, capacity)
    if isinstance(rule, ThresholdRule):
        scale, reference = 1.0, None
        if rule.relative_to:
            reference = _positive(device.meta(rule.relative_to))
            if reference is None:
                return None
            scale = reference
        names = tuple(str(i + 1) for i in range(len(rule.levels)))
        return LevelBinding(rule, device, tuple(lv.value * scale for lv in rule.levels),
                            tuple(lv.severity for lv in rule.levels), names,
                            rule.direction == "above", rule.hysteresis * scale, reference)
    return None


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 and math.isfinite(value) else None


@dataclass(frozen=True)
class SubjectState:
    """What is known about one (rule, subject): the level of its active alert (0 = none) and,
    for rules with `for_s`, since when the condition has held."""

    level: int = 0
    pending_since: float | None = None


@dataclass(frozen=True)
class Decision:
    action: Literal["none", "pending", "open", "clear_pending", "resolve"]
    level: int = 0
    since: float | None = None


def decide(binding: LevelBinding, state: SubjectState, value: float, t: float) -> Decision:
    """What one reading (value at Unix time t) means for a subject.

    open: open the alert, or count another occurrence on the active one (at `level`);
    pending: the condition holds but not yet for `for_s`; clear_pending: it stopped holding
    before that; resolve: the condition cleared and the rule resolves by itself.
    """
    level = level_of(value, binding.thresholds, above=binding.above, current=state.level,
                     hysteresis=binding.hysteresis)
    if level > 0:
        if state.level > 0 or binding.for_s <= 0:
            return Decision("open", level)
        since = state.pending_since if state.pending_since is not None else t
        if t - since >= binding.for_s:
            return Decision("open", level, since)
        return Decision("pending", level, since)
    if state.level > 0:
        return Decision("resolve" if binding.rule.auto_resolve else "none")
    if state.pending_since is not None:
        return Decision("clear_pending")
    return Decision("none")


def should_open(binding: LevelBinding, state: SubjectState, value: float, t: float) -> int:
    """The level to open (or keep) the subject's alert at; 0 when it should not be open."""
    d = decide(binding, state, value, t)
    return d.level if d.action == "open" else 0


def should_resolve(binding: LevelBinding, state: SubjectState, value: float) -> bool:
    """True when the subject's active alert should resolve by itself on this value."""
    return decide(binding, state, value, math.inf).action == "resolve"


# -- rain --------------------------------------------------------------------------------------
def rain_alert_level(rule: RainRule, totals_mm: Mapping[int, float], current: int,
                     antecedent_mm: float | None = None) -> int:
    """Level (0 = below every band or below `min_level`) of one gauge's rain totals."""
    bands = [b.band() for b in rule.bands]
    level = rain_level_with_hysteresis(totals_mm, bands, current, rule.hysteresis_ratio,
                                       antecedent_mm)
    return level if level >= rule.min_level else 0


def rain_trigger(rule: RainRule, totals_mm: Mapping[int, float], level: int,
                 antecedent_mm: float | None = None) -> tuple[int, float]:
    """(window hours, mm) that best explains `level`, for the alert's title."""
    best: tuple[float, int, float] | None = None
    for b in rule.bands:
        total = totals_mm.get(b.window_h, 0.0)
        if b.level > level or rain_level(totals_mm, [b.band()], antecedent_mm) == 0:
            continue
        score = (b.level, total / b.min_mm)
        if best is None or score > best[:2]:
            best = (*score, b.window_h)  # type: ignore[assignment]
    if best is None:
        window = max(totals_mm, key=lambda w: totals_mm[w], default=24)
        return window, totals_mm.get(window, 0.0)
    return int(best[2]), totals_mm.get(int(best[2]), 0.0)


# -- air quality -------------------------------------------------------------------------------
def aqi_alert_category(aqi: int, current: int, min_category: int, hysteresis_aqi: int) -> int:
    """Category (1..6) the station's alert should have, 0 when below `min_category`.

    A category is left downwards only once the index is `hysteresis_aqi` below its lower
    bound.
    """
    raw = aqi_mod.category(aqi).level
    if raw >= current:
        level = raw
    else:
        held = aqi_mod.category(aqi + hysteresis_aqi).level
        level = max(raw, min(current, held))
    return level if level >= min_category else 0


# -- silence -----------------------------------------------------------------------------------
def silent_for(last_seen: float | None, now: float, expected_interval_s: float, intervals: float,
               min_silent_s: float = 0) -> float | None:
    """Seconds the device has been silent when that is more than `intervals` of its expected
    reporting intervals (and at least `min_silent_s`); None when it is not silent. A device
    never heard from is not silent, just not installed yet."""
    if last_seen is None:
        return None
    quiet = now - last_seen
    if quiet > max(intervals * expected_interval_s, min_silent_s):
        return quiet
    return None


# -- camera incidents --------------------------------------------------------------------------
@dataclass(frozen=True)
class Incident:
    device_id: str
    label: str
    phase: str
    event_id: str
    confidence: float | None = None
    false_positive: bool = False
    time: float | None = None
    zones: tuple[str, ...] = ()
    plate: str | None = None


def camera_occurrence(rule: CameraRule, incident: Incident, seen_before: bool) -> str | None:
    """The severity of a new occurrence for `rule`, or None when this message is not one
    (another label, too unsure, a false positive, or a later message of an incident already
    counted)."""
    severity = rule.labels.get(incident.label)
    if severity is None or incident.false_positive:
        return None
    if incident.confidence is not None and incident.confidence < rule.min_confidence:
        return None
    if incident.phase == "new" or (incident.phase == "update" and not seen_before):
        return severity
    return None


def camera_subject(incident: Incident) -> str:
    """One alert per camera and incident type."""
    return f"{incident.device_id}:{incident.label}"


# -- escalation --------------------------------------------------------------------------------
def escalation_due(steps: Sequence[EscalationStep], opened_at: float, escalation_level: int,
                   now: float) -> tuple[int, EscalationStep] | None:
    """The next escalation step (its 1-based number and itself) when it is due for an alert
    still not acknowledged; None otherwise."""
    if escalation_level >= len(steps):
        return None
    step = steps[escalation_level]
    if now - opened_at >= step.after_s:
        return escalation_level + 1, step
    return None


def raised(severity: str) -> str:
    """One severity step up (extreme stays extreme)."""
    return SEVERITIES[min(len(SEVERITIES) - 1, SEVERITIES.index(severity) + 1)]


def worst(severities: Sequence[str]) -> str:
    return max(severities, key=SEVERITIES.index) if severities else "info"


# -- storm control -----------------------------------------------------------------------------
def storm_due(config: StormConfig, kind: str, recent_alerts: int, parent_active: bool) -> bool:
    """Group a kind's alerts of one unit under a parent: when a parent is already open for
    them, or when `min_alerts` of them opened within the window."""
    if not config.applies_to(kind):
        return False
    return parent_active or recent_alerts >= config.min_alerts


def storm_subject(kind: str, unit_id: str | None) -> str:
    return f"{kind}:{unit_id or 'province'}"


# -- resolved while the condition still holds ----------------------------------------------------
SYSTEM_RESOLVERS = frozenset({"system", "cap"})


def should_reopen(resolved_by: str | None, resolved_at: float | None, now: float,
                  reopen_s: float) -> bool:
    """Whether the rule's new occurrence re-opens the subject's last resolved alert instead of
    opening a second one: a person (not the rules, not a CAP cancel) resolved it less than
    `reopen_s` seconds ago, so the condition they "resolved" still holds (0: never)."""
    if reopen_s <= 0 or resolved_at is None or not resolved_by:
        return False
    if resolved_by in SYSTEM_RESOLVERS:
        return False
    return now - resolved_at < reopen_s


# -- titles ------------------------------------------------------------------------------------
class _Fields(dict):
    def __missing__(self, key):  # a field the template names but this alert lacks
        return "?"


class _LocalFormatter(string.Formatter):
    """Numbers as the reader writes them: Vietnamese swaps the decimal point and the
    thousands separator (84,20 m; 1.200 người)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        text = format(value, format_spec)
        if self.lang == "vi" and isinstance(value, int | float) and not isinstance(value, bool):
            text = text.translate(_VI_NUMBER)
        return text


_VI_NUMBER = str.maketrans({".": ",", ",": "."})


@dataclass(frozen=True)
class TitleTemplates:
    """A rule's title templates: Vietnamese (`title`) and English (`title_en`)."""

    vi: str | None
    en: str | None = None


class RenderedTitle(str):
    """The stored (Vietnamese) title that also carries what renders it in another language
    (`alerts.queries.title_in`): the rule's templates and fields, or a built-in template id
    (`ioc.alert_titles`) and its parameters."""

    i18n: dict[str, Any]


def builtin_title(template_id: str, **params: Any) -> RenderedTitle:
    """A built-in title (`ioc.alert_titles`), rendered in Vietnamese, that keeps its template id
    and parameters (stored in the alert's details as `title_i18n`)."""
    out = RenderedTitle(titles.render(template_id, params, "vi"))
    out.i18n = {"template_id": template_id, "params": _json_safe(params)}
    return out


def format_title(template: str, fields: dict[str, Any], lang: str = "vi") -> str:
    """One title template filled in for a language; raises on a bad template."""
    return _LocalFormatter(lang).vformat(template, (), _Fields(fields))


def titles_of(rule: Any) -> TitleTemplates:
    """A rule's title templates (`title`, `title_en`)."""
    return TitleTemplates(rule.title, getattr(rule, "title_en", None))


def _json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items()
            if v is None or isinstance(v, str | int | float | bool)}


def render_title(template: str | TitleTemplates | None, default: str, **fields: Any) -> str:
    """The rule's title template filled in, or `default` (never raises: a title is prose).

    With `TitleTemplates`, the result is a RenderedTitle that keeps both templates and the
    fields (stored in the alert's details as `title_i18n`)."""
    templates = template if isinstance(template, TitleTemplates) else TitleTemplates(template)
    if not templates.vi:
        return default
    try:
        text = format_title(templates.vi, fields, "vi")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return default
    if not isinstance(template, TitleTemplates):
        return text
    out = RenderedTitle(text)
    out.i18n = {"templates": {k: v for k, v in (("vi", templates.vi), ("en", templates.en))
                              if v},
                "params": _json_safe(fields)}
    return out
