"""The KPI catalogue (validated YAML) and the pure judgements made with it: goal, status, trend."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_CATALOGUE = DATA_DIR / "catalogue.yaml"
DEFAULT_SEED = DATA_DIR / "lao_cai_reported.csv"

Period = Literal["day", "week", "month", "quarter", "year"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
Status = Literal["good", "warn", "bad", "info", "none"]


class CatalogueError(ValueError):
    """The catalogue file is missing, not YAML, or breaks a rule; the message says where."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A text in Vietnamese (required) and English."""

    vi: str = Field(description="Vietnamese text (the default language).")
    en: str = Field("", description="English text; the Vietnamese is shown when empty.")

    def get(self, lang: str) -> str:
        return (self.en if lang == "en" else self.vi) or self.vi


class Group(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Group id, e.g. air.")
    name: Text


class Breakdown(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Part id, e.g. a pillar.")
    name: Text


class Baseline(_Model):
    value: float = Field(description="The value the plan started from.")
    date: dt.date = Field(description="When it was measured.")


class Kpi(_Model):
    """One KPI: what it means, where it comes from, and what it is measured against."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$", description="Stable id (kpi_values).")
    group: str = Field(description="Id of a group of the catalogue.")
    name: Text
    short_name: Text | None = Field(None, description="Column heading of the unit table.")
    definition: Text
    unit: Text = Field(description="Unit shown after the value ('' for an index).")
    source: Literal["telemetry", "reported"] = Field(
        description="telemetry: computed by `ioc kpi refresh`; reported: imported from reports."
    )
    source_detail: Text
    higher_is_better: bool
    target: float | None = Field(description="The value to reach; null: shown for context only.")
    tolerance: float = Field(0, ge=0, description="Amber band beyond the target, in the unit.")
    due: dt.date | None = Field(description="When the target is due.")
    baseline: Baseline | None = Field(None, description="Start of the path to the target.")
    target_basis: Literal["plan", "national", "demo"] | None = Field(
        None, description="Where the target comes from (demo: an assumption to replace)."
    )
    target_note: Text | None = None
    units: bool = Field(description="Whether values exist per unit.")
    periods: tuple[Period, ...] = Field(min_length=1, description="Periods values may have.")
    decimals: int = Field(0, ge=0, le=3, description="Decimals shown.")
    minimum: float = Field(0, description="Smallest valid value (imports are checked).")
    maximum: float | None = Field(None, description="Largest valid value, if any.")
    integer: bool = Field(False, description="Values are whole numbers (imports are checked).")
    breakdowns: tuple[Breakdown, ...] = Field((), description="Parts a value may be split into.")

    @model_validator(mode="after")
    def _consistent(self) -> Kpi:
        if self.target is not None and (self.due is None or self.target_basis is None):
            raise ValueError("a KPI with a target needs `due` and `target_basis`")
        if self.source == "telemetry" and self.periods != ("day",):
            raise ValueError("telemetry KPIs have periods [day]")
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("maximum is below minimum")
        if self.baseline is not None and (self.due is None or self.baseline.date >= self.due):
            raise ValueError("the baseline must be dated before `due`")
        ids = [b.id for b in self.breakdowns]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate breakdown ids: {ids}")
        return self

    def short(self, lang: str) -> str:
        return (self.short_name or self.name).get(lang)

    @property
    def is_percent(self) -> bool:
        return self.unit.vi.strip() == "%"

    def breakdown(self, part: str) -> Breakdown | None:
        return next((b for b in self.breakdowns if b.id == part), None)


class Catalogue(_Model):
    province: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    timezone: str = Field(description="Local days of the telemetry KPIs are in this time zone.")
    groups: tuple[Group, ...] = Field(min_length=1)
    kpis: tuple[Kpi, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {v!r}") from err
        return v

    @model_validator(mode="after")
    def _references(self) -> Catalogue:
        group_ids = [g.id for g in self.groups]
        if len(set(group_ids)) != len(group_ids):
            raise ValueError(f"duplicate group ids: {group_ids}")
        kpi_ids = [k.id for k in self.kpis]
        dupes = sorted({k for k in kpi_ids if kpi_ids.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate KPI ids: {dupes}")
        for k in self.kpis:
            if k.group not in group_ids:
                raise ValueError(f"KPI {k.id}: unknown group {k.group!r}")
        return self

    def get(self, kpi_id: str) -> Kpi | None:
        return next((k for k in self.kpis if k.id == kpi_id), None)

    def in_group(self, group: str) -> list[Kpi]:
        return [k for k in self.kpis if k.group == group]

    def telemetry(self) -> list[Kpi]:
        return [k for k in self.kpis if k.source == "telemetry"]

    def reported(self) -> list[Kpi]:
        return [k for k in self.kpis if k.source == "reported"]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_catalogue(text: str, origin: str = "<catalogue>") -> Catalogue:
    """Validate catalogue YAML text; CatalogueError names the file and every problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CatalogueError(f"{origin}: not valid YAML: {err}") from err
    try:
        catalogue = Catalogue.model_validate(doc)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in err.errors()
        )
        raise CatalogueError(f"{origin}: {problems}") from None
    from ioc.kpi.telemetry import COMPUTED

    for kpi in catalogue.telemetry():
        if kpi.id not in COMPUTED:
            raise CatalogueError(
                f"{origin}: telemetry KPI {kpi.id!r} has no computation "
                f"(known: {', '.join(sorted(COMPUTED))})"
            )
    return catalogue


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue in `path` (default: the demo province's), validated."""
    if path is None:
        return _default_catalogue()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise CatalogueError(f"{path}: cannot read: {err.strerror}") from err
    return parse_catalogue(text, str(path))


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return parse_catalogue(DEFAULT_CATALOGUE.read_text(encoding="utf-8"), str(DEFAULT_CATALOGUE))


# -- judgements (pure) ----------------------------------------------------------------------------
def period_end(period: str, start: dt.date) -> dt.date:
    """The last day of the period that starts on `start`."""
    if period == "day":
        return start
    if period == "week":
        return start + dt.timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    month = start.month - 1 + months
    first_after = dt.date(start.year + month // 12, month % 12 + 1, 1)
    return first_after - dt.timedelta(days=1)


def goal_at(kpi: Kpi, when: dt.date) -> float | None:
    """The value the KPI should have on `when`: the target, or the point on the baseline path."""
    if kpi.target is None:
        return None
    if kpi.baseline is None or kpi.due is None or when >= kpi.due:
        return kpi.target
    if when <= kpi.baseline.date:
        return kpi.baseline.value
    span = (kpi.due - kpi.baseline.date).days
    done = (when - kpi.baseline.date).days / span
    return kpi.baseline.value + (kpi.target - kpi.baseline.value) * done


def status_of(kpi: Kpi, value: float | None, when: dt.date) -> Status:
    """good: the goal is met; warn: within the tolerance; bad: beyond; info: no target; none."""
    if value is None:
        return "none"
    return status_for_goal(kpi, value, goal_at(kpi, when))


def status_for_goal(kpi: Kpi, value: float, goal: float | None) -> Status:
    """status_of with the goal already known (an export computes each day's goal once)."""
    if goal is None:
        return "info"
    gap = value - goal if kpi.higher_is_better else goal - value
    # A small epsilon: 70.6 % computed from counts should meet a goal of 70.6.
    if gap >= -1e-9:
        return "good"
    if gap >= -kpi.tolerance - 1e-9:
        return "warn"
    return "bad"


Direction = Literal["up", "down", "flat", "none"]


def trend_of(kpi: Kpi, value: float | None,
             previous: float | None) -> tuple[Direction, bool | None]:
    """Direction of change from `previous`, and whether that change is an improvement."""
    if value is None or previous is None:
        return "none", None
    step = 0.5 * 10 ** (-kpi.decimals)  # a change too small to show is no change
    if abs(value - previous) < step:
        return "flat", None
    up = value > previous
    return ("up" if up else "down"), (up == kpi.higher_is_better)
