"""Alert rules as data: pydantic models of the rules file, and its loader.

The built-in rules are in `default.yaml` beside this module; `alerts.rules_file` replaces
them, and rows of the `alert_rules` table (see `alerts.rules.store`) override or extend
them by rule id. Unknown keys are rejected; every error names the file and the rule.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ioc.domain.disaster_levels import FloodBand, RainBand, Uplift

DEFAULT_RULES = Path(__file__).with_name("default.yaml")

Severity = Literal["info", "minor", "moderate", "severe", "extreme"]
SEVERITIES: tuple[str, ...] = ("info", "minor", "moderate", "severe", "extreme")
Family = Literal["environment", "disaster", "camera", "tourism"]
CapSeverity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
CapCategory = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                      "Transport", "Infra", "CBRNE", "Other"]
CapUrgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
CapCertainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
CapResponse = Literal["Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
                      "AllClear", "None"]

# Names a rule's `title` template may use ({name}, {value:.1f}, ...).
TITLE_FIELDS = frozenset({
    "name", "device_id", "unit_id", "unit_name", "value", "level", "level_name", "label",
    "metric", "count", "aqi", "category", "capacity", "ratio", "silent_min", "event",
    "headline", "sender", "window_h", "mm",
})


class RulesError(ValueError):
    """The rules file or an alert_rules row is invalid; the message names file and rule."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Select(Model):
    """Which devices a rule applies to; an empty list means "any"."""

    families: list[Family] = Field(default_factory=list, description="Device families.")
    kinds: list[str] = Field(default_factory=list, description="Device kinds (devices.kind).")
    devices: list[str] = Field(default_factory=list, description="Device ids.")
    units: list[str] = Field(default_factory=list, description="Unit ids.")

    def matches(self, *, family: str | None, kind: str | None, device_id: str | None,
                unit_id: str | None) -> bool:
        return (
            (not self.families or family in self.families)
            and (not self.kinds or kind in self.kinds)
            and (not self.devices or device_id in self.devices)
            and (not self.units or unit_id in self.units)
        )


class EscalationStep(Model):
    after_s: int = Field(ge=1, description="Seconds after opening without acknowledgement.")
    notify: str = Field("", description="Who to tell (a role or a name), sent with the event.")
    raise_severity: bool = Field(False, description="Also raise the severity by one step.")


class CapInfo(Model):
    """How an alert of this rule is published in our CAP 1.2 feed (rules with public: true)."""

    category: list[CapCategory] = Field(default_factory=lambda: ["Safety"], min_length=1)
    event: str = Field(min_length=1, description="CAP <event>, e.g. 'Lũ' or 'Ô nhiễm không khí'.")
    urgency: CapUrgency = "Expected"
    certainty: CapCertainty = "Observed"
    response_type: list[CapResponse] = Field(default_factory=list)
    instruction: str = ""
    web: str | None = None
    expires_after_s: int | None = Field(
        None, ge=60, description="CAP <expires> this long after the alert's last change."
    )


class RuleCommon(Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="Stable rule id.")
    enabled: bool = True
    description: str = ""
    kind: str | None = Field(None, description="Alert kind; default depends on the rule type.")
    title: str | None = Field(None, description="Title template, e.g. '{name}: {value:.1f}'.")
    title_en: str | None = Field(None, description="The title template in English (same "
                                 "fields); readers in English see it, others `title`.")
    select: Select = Field(default_factory=Select)
    auto_resolve: bool = Field(True, description="Resolve by itself when the condition clears.")
    reopen_s: float = Field(
        3600, ge=0, description="A person resolved the alert this recently and the condition "
        "still holds: re-open the same alert instead of opening a second one (0: never).")
    escalation: list[EscalationStep] = Field(default_factory=list)
    public: bool = Field(False, description="A public-safety alert: published in the CAP feed.")
    cap: CapInfo | None = None
    storm: bool = Field(True, description="May be grouped by storm control.")

    @model_validator(mode="after")
    def _common(self):
        for key, template in (("title", self.title), ("title_en", self.title_en)):
            if template is None:
                continue
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            except ValueError as err:
                raise ValueError(f"{key}: {err}") from None
            unknown = {n.split(".")[0].split("[")[0] for n in names} - TITLE_FIELDS
            if unknown:
                raise ValueError(f"{key}: unknown field(s) {sorted(unknown)}; known: "
                                 f"{', '.join(sorted(TITLE_FIELDS))}")
        if self.title_en is not None and self.title is None:
            raise ValueError("title_en: needs `title` (the Vietnamese template) too")
        if self.public and self.cap is None:
            raise ValueError("public: true needs a `cap` section (event, urgency, ...)")
        steps = [s.after_s for s in self.escalation]
        if steps != sorted(set(steps)):
            raise ValueError("escalation: after_s must strictly increase from step to step")
        return self

    def default_kind(self) -> str:
        return "alert"

    @property
    def alert_kind(self) -> str:
        return self.kind or self.default_kind()


class ThresholdLevel(Model):
    value: float
    severity: Severity


class ThresholdRule(RuleCommon):
    """A metric above (or below) one or more values, optionally for a while, with hysteresis."""

    type: Literal["threshold"]
    metric: str
    direction: Literal["above", "below"] = "above"
    levels: list[ThresholdLevel] = Field(min_length=1, description="Mildest first.")
    hysteresis: float = Field(
        0.0, ge=0, description="In the metric's unit (a fraction when relative_to is set).")
    for_s: int = Field(0, ge=0, description="The condition must hold this long first.")
    relative_to: str | None = Field(
        None, description="Dotted device-metadata key (e.g. warning.tilt_deg): level values are "
        "multiples of the device's value there; devices without it are skipped.")

    @model_validator(mode="after")
    def _levels(self):
        values = [lv.value for lv in self.levels]
        ordered = values == sorted(values) if self.direction == "above" else (
            values == sorted(values, reverse=True))
        if not ordered or len(set(values)) != len(values):
            raise ValueError("levels: values must get strictly worse from the first level on "
                             f"({'rising' if self.direction == 'above' else 'falling'})")
        return self

    def default_kind(self) -> str:
        return self.metric


class WaterLevelRule(RuleCommon):
    """Water level against each station's alarm levels I/II/III (device metadata)."""

    type: Literal["water_level"]
    metric: str = "water_level_m"
    severities: dict[Literal["I", "II", "III"], Severity] = Field(
        default_factory=lambda: {"I": "moderate", "II": "severe", "III": "extreme"})
    hysteresis_m: float = Field(0.05, ge=0)
    for_s: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _all_levels(self):
        missing = {"I", "II", "III"} - set(self.severities)
        if missing:
            raise ValueError(f"severities: missing alarm level(s) {sorted(missing)}")
        return self

    def default_kind(self) -> str:
        return "water_level"


class RatioLevel(Model):
    ratio: float = Field(gt=0, description="Of the device's capacity (1.0 = full).")
    severity: Severity


class CapacityRule(RuleCommon):
    """People on a site against its capacity (device metadata)."""

    type: Literal["capacity"]
    metric: str = "occupancy"
    metadata_key: str = "capacity"
    levels: list[RatioLevel] = Field(min_length=1)
    hysteresis_ratio: float = Field(0.05, ge=0, lt=1)
    for_s: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _levels(self):
        ratios = [lv.ratio for lv in self.levels]
        if ratios != sorted(set(ratios)):
            raise ValueError("levels: ratios must strictly increase")
        return self

    def default_kind(self) -> str:
        return "crowding"


class RainBandModel(Model):
    window_h: int = Field(ge=1, le=72)
    min_mm: float = Field(gt=0)
    level: int = Field(ge=1, le=5)
    antecedent_min_mm: float | None = Field(
        None, gt=0, description="Also needs this much rain in the hours before the window.")

    def band(self) -> RainBand:
        return RainBand(self.window_h, self.min_mm, self.level, self.antecedent_min_mm)


LevelSeverities = dict[int, Severity]


def _default_level_severities() -> LevelSeverities:
    return {1: "minor", 2: "moderate", 3: "severe", 4: "extreme", 5: "extreme"}


class RainRule(RuleCommon):
    """Rain accumulated over 1/12/24 hours per gauge against Decision 18/2021 bands."""

    type: Literal["rain"]
    metric: str = "rain_mm"
    bands: list[RainBandModel] = Field(min_length=1)
    antecedent_h: int = Field(48, ge=1, le=120)
    min_level: int = Field(1, ge=1, le=5)
    severities: LevelSeverities = Field(default_factory=_default_level_severities)
    hysteresis_ratio: float = Field(0.1, ge=0, lt=1)
    every_s: int = Field(60, ge=5)

    @model_validator(mode="after")
    def _sev(self):
        _check_level_severities(self.severities, range(self.min_level, 6))
        return self

    def default_kind(self) -> str:
        return "heavy_rain"


def _check_level_severities(severities: Mapping[int, str], needed) -> None:
    missing = [lv for lv in needed if lv not in severities]
    if missing:
        raise ValueError(f"severities: missing level(s) {missing}")


class AirQualityRule(RuleCommon):
    """Air-quality category per station (ioc.domain.aqi), open at `min_category` and worse."""

    type: Literal["air_quality"]
    standard: Literal["vn_aqi", "us_epa"] = "vn_aqi"
    min_category: int = Field(3, ge=2, le=6, description="1 good .. 6 hazardous.")
    severities: dict[int, Severity] = Field(
        default_factory=lambda: {3: "minor", 4: "moderate", 5: "severe", 6: "extreme"})
    hysteresis_aqi: int = Field(5, ge=0, le=50)
    every_s: int = Field(60, ge=5)

    @model_validator(mode="after")
    def _sev(self):
        _check_level_severities(self.severities, range(self.min_category, 7))
        return self

    def default_kind(self) -> str:
        return "air_quality"


class SilenceRule(RuleCommon):
    """A device silent for N of its expected reporting intervals."""

    type: Literal["silence"]
    intervals: float = Field(3, ge=1)
    min_silent_s: int = Field(0, ge=0)
    severity: Severity = "minor"

    def default_kind(self) -> str:
        return "device_silent"


class CameraRule(RuleCommon):
    """Camera incidents by type (our `event.type`, or Frigate's label)."""

    type: Literal["camera_incident"]
    labels: dict[str, Severity] = Field(min_length=1, description="Label -> severity.")
    min_confidence: float = Field(0.0, ge=0, le=1)
    quiet_s: int = Field(900, ge=10, description="Resolve after this long without a new one.")

    def default_kind(self) -> str:
        return "camera_incident"


class CapRule(RuleCommon):
    """CAP 1.2 warnings received on ioc/v1/cap (Update and Cancel through references)."""

    type: Literal["cap"]
    statuses: list[Literal["Actual", "Exercise", "System", "Test", "Draft"]] = Field(
        default_factory=lambda: ["Actual"])
    scopes: list[Literal["Public", "Restricted", "Private"]] = Field(
        default_factory=lambda: ["Public", "Restricted"])
    severities: dict[CapSeverity, Severity] = Field(default_factory=lambda: {
        "Extreme": "extreme", "Severe": "severe", "Moderate": "moderate", "Minor": "minor",
        "Unknown": "info"})
    default_expiry_s: int = Field(86400, ge=60, description="When the warning has no expires.")

    def default_kind(self) -> str:
        return "cap_warning"


class DisasterLevelRule(RuleCommon):
    """A unit's disaster risk level (Decision 18/2021) at `min_level` or above."""

    type: Literal["disaster_level"]
    min_level: int = Field(2, ge=1, le=5)
    severities: LevelSeverities = Field(default_factory=_default_level_severities)

    @model_validator(mode="after")
    def _sev(self):
        _check_level_severities(self.severities, range(self.min_level, 6))
        return self

    def default_kind(self) -> str:
        return "disaster_level"


Rule = Annotated[
    ThresholdRule | WaterLevelRule | CapacityRule | RainRule | AirQualityRule | SilenceRule
    | CameraRule | CapRule | DisasterLevelRule,
    Field(discriminator="type"),
]
RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)
RULE_TYPES = ("threshold", "water_level", "capacity", "rain", "air_quality", "silence",
              "camera_incident", "cap", "disaster_level")


class StormConfig(Model):
    """Many alerts of one kind in one unit within `window_s` become one parent alert."""

    enabled: bool = True
    window_s: int = Field(300, ge=10)
    min_alerts: int = Field(5, ge=2, description="Alerts in the window that make a storm.")
    kinds: list[str] = Field(default_factory=list, description="Kinds grouped; empty = all.")
    escalation: list[EscalationStep] = Field(default_factory=list)

    def applies_to(self, kind: str) -> bool:
        return self.enabled and (not self.kinds or kind in self.kinds)


class FloodBandModel(Model):
    at: str = Field(description="I, II, III or historical, optionally +/- metres: 'III+1.0'.")
    level: int = Field(ge=1, le=5)

    @model_validator(mode="after")
    def _parse(self):
        FloodBand.parse(self.at, self.level)
        return self

    def band(self) -> FloodBand:
        return FloodBand.parse(self.at, self.level)


class UpliftModel(Model):
    enabled: bool = True
    combined_min_level: int = Field(1, ge=1, le=5)
    serious_min_level: int = Field(3, ge=1, le=5)

    def uplift(self) -> Uplift:
        return Uplift(self.combined_min_level, self.serious_min_level, self.enabled)


class DisasterLevelsConfig(Model):
    """Disaster level per unit from stations and rain gauges (ioc.domain.disaster_levels)."""

    enabled: bool = True
    every_s: int = Field(60, ge=5)
    flood: list[FloodBandModel] = Field(default_factory=list)
    heavy_rain: list[RainBandModel] = Field(default_factory=list)
    flash_flood: list[RainBandModel] = Field(default_factory=list)
    antecedent_h: int = Field(48, ge=1, le=120)
    landslide_sensor_level: int = Field(
        2, ge=0, le=5, description="Level when a landslide sensor passes its warning values.")
    hysteresis_ratio: float = Field(0.1, ge=0, lt=1)
    uplift: UpliftModel = Field(default_factory=UpliftModel)


class RuleSet(Model):
    version: Literal[1] = 1
    storm: StormConfig = Field(default_factory=StormConfig)
    disaster_levels: DisasterLevelsConfig = Field(default_factory=DisasterLevelsConfig)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self):
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    def rule(self, rule_id: str):
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None

    @property
    def active_rules(self) -> list:
        return [r for r in self.rules if r.enabled]

    def of_type(self, *types: str) -> list:
        return [r for r in self.rules if r.enabled and r.type in types]


# -- loading ------------------------------------------------------------------------------------
def _describe(err: ValidationError, data: Any, source: str, *, rule_index: int | None = None,
              rule_id: str | None = None) -> str:
    lines = []
    for e in err.errors()[:5]:
        loc = list(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        where = source
        if rule_index is None and len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            i = loc[1]
            raw = data.get("rules", [])[i] if isinstance(data, dict) else None
            rid = raw.get("id") if isinstance(raw, dict) else None
            where += f": rule {rid!r} (rules[{i}])" if rid else f": rules[{i}]"
            loc = loc[2:]
        elif rule_index is not None or rule_id is not None:
            where += f": rule {rule_id!r}"
        if loc and loc[0] in RULE_TYPES:  # the discriminator's tag, not a key of the rule
            loc = loc[1:]
        path = ".".join(str(p) for p in loc)
        lines.append(f"{where}: {path}: {msg}" if path else f"{where}: {msg}")
    more = err.error_count() - len(lines)
    if more > 0:
        lines.append(f"(and {more} more problem(s))")
    return "; ".join(lines)


def parse_rules(data: Any, source: str) -> RuleSet:
    """A RuleSet from the parsed YAML of a rules file; RulesError names file and rule."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with `rules:` at the top")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as err:
        raise RulesError(_describe(err, data, source)) from None


def load_rules(path: Path | None = None) -> RuleSet:
    """The rules file at `path` (default: the built-in `default.yaml`)."""
    path = Path(path) if path else DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RulesError(f"{path}: cannot read the rules file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RulesError(f"{path}: not valid YAML ({err})") from None
    return parse_rules(data, str(path))


def parse_rule(definition: Mapping[str, Any], source: str = "alert_rules"):
    """One rule from a mapping (an alert_rules row, an admin form)."""
    rule_id = definition.get("id") if isinstance(definition, Mapping) else None
    try:
        return RULE_ADAPTER.validate_python(dict(definition))
    except ValidationError as err:
        raise RulesError(_describe(err, definition, source, rule_index=0,
                                   rule_id=rule_id)) from None
    except TypeError:
        raise RulesError(f"{source}: a rule must be a mapping") from None


def with_overrides(base: RuleSet, rules: list) -> RuleSet:
    """`base` with `rules` replacing those of the same id and the rest appended."""
    by_id = {r.id: r for r in rules}
    merged = [by_id.pop(r.id, r) for r in base.rules]
    merged.extend(by_id.values())
    return base.model_copy(update={"rules": merged})
