"""The KPI catalogue (validated YAML) and the pure judgements made with it: goal, status, trend."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ioc.timezones import TimeZoneName

DATA_DIR = Path(__file__).resolve().parent / "data"
# The telemetry KPIs kpi/telemetry_values.py computes: a telemetry KPI of the catalogue must be one.
COMPUTED: frozenset[str] = frozenset({
    "aqi_today", "aqi_good_share", "incidents_today", "incidents_7d", "incidents_verified_pct",
    "ack_median_min", "flood_alarms_active", "visitors_today", "visitors_vs_last_year_pct",
    "devices_online_pct", "data_complete_pct", "data_live_pct", "data_clean_pct",
    "devices_silent_long",
})
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


class Target(_Model):
    """A value to reach within one plan period (e.g. 2026-2030), from a named document.

    A figure is judged only against the target whose period holds the figure's whole period:
    a 2020 figure is never measured against a 2026-2030 target, nor a 2027 one against 2025's.
    """

    value: float = Field(description="The value to reach by `due`.")
    start: dt.date = Field(description="First day of the target's period (e.g. 2026-01-01).")
    due: dt.date = Field(description="Last day of the period, when the target is due.")
    basis: Literal["plan", "national", "demo"] = Field(
        description="Where the target comes from (demo: an assumption to replace).")
    document: str = Field("", description="The document that sets it (number and date).")
    baseline: Baseline | None = Field(None, description="Start of the path to the target.")
    note: Text | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Target:
        if self.due < self.start:
            raise ValueError("a target's `due` is before its `start`")
        if self.baseline is not None and self.baseline.date >= self.due:
            raise ValueError("the baseline must be dated before `due`")
        return self

    def covers(self, start: dt.date, end: dt.date) -> bool:
        return self.start <= start and end <= self.due

    def label(self) -> str:
        """`2026–2030`, or `2026` for a one-year target."""
        if self.start.year == self.due.year:
            return str(self.due.year)
        return f"{self.start.year}–{self.due.year}"


def _legacy_target(doc: dict) -> dict:
    """`target`/`due`/`baseline`/`target_basis`/`target_note` (one target) as `targets`.

    The period of such a target starts the day after its baseline, else on 1 January four
    years before the year it is due (a five-year plan).
    """
    keys = ("target", "due", "baseline", "target_basis", "target_note")
    if not any(k in doc for k in keys):
        return doc
    doc = dict(doc)
    value, due = doc.pop("target", None), doc.pop("due", None)
    baseline, basis = doc.pop("baseline", None), doc.pop("target_basis", None)
    note = doc.pop("target_note", None)
    if value is None:
        return doc
    if due is None or basis is None:
        raise ValueError("a KPI with a target needs `due` and `target_basis`")
    due_day = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due))
    if isinstance(baseline, dict) and baseline.get("date"):
        base_day = baseline["date"]
        base_day = base_day if isinstance(base_day, dt.date) else dt.date.fromisoformat(
            str(base_day))
        start = base_day + dt.timedelta(days=1)
    else:
        start = dt.date(due_day.year - 4, 1, 1)
    doc["targets"] = [{"value": value, "start": start, "due": due_day, "basis": basis,
                       "baseline": baseline, "note": note}, *(doc.get("targets") or [])]
    return doc


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
    targets: tuple[Target, ...] = Field(
        (), description="Targets per plan period; none: shown for context only.")
    tolerance: float = Field(0, ge=0, description="Amber band beyond the target, in the unit.")
    units: bool = Field(description="Whether values exist per unit.")
    periods: tuple[Period, ...] = Field(min_length=1, description="Periods values may have.")
    decimals: int = Field(0, ge=0, le=3, description="Decimals shown.")
    minimum: float = Field(0, description="Smallest valid value (imports are checked).")
    maximum: float | None = Field(None, description="Largest valid value, if any.")
    integer: bool = Field(False, description="Values are whole numbers (imports are checked).")
    breakdowns: tuple[Breakdown, ...] = Field((), description="Parts a value may be split into.")

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, doc):
        return _legacy_target(doc) if isinstance(doc, dict) else doc

    @model_validator(mode="after")
    def _consistent(self) -> Kpi:
        ordered = sorted(self.targets, key=lambda t: t.start)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start <= a.due:
                raise ValueError(f"targets {a.label()} and {b.label()} overlap")
        if self.source == "telemetry" and self.periods != ("day",):
            raise ValueError("telemetry KPIs have periods [day]")
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("maximum is below minimum")
        ids = [b.id for b in self.breakdowns]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate breakdown ids: {ids}")
        return self

    def target_for(self, start: dt.date, end: dt.date) -> Target | None:
        """The target whose period holds [start, end], if any."""
        return next((t for t in self.targets if t.covers(start, end)), None)

    def current_target(self, today: dt.date) -> Target | None:
        """The target of today's period, else the next one to come, else None."""
        current = self.target_for(today, today)
        if current is not None:
            return current
        later = sorted((t for t in self.targets if t.start > today), key=lambda t: t.start)
        return later[0] if later else None

    def with_targets(self, targets: tuple[Target, ...]) -> Kpi:
        """This KPI with `targets` replacing the catalogue's for the same periods."""
        starts = {t.start for t in targets}
        kept = tuple(t for t in self.targets if t.start not in starts)
        return self.model_validate({**self.model_dump(exclude={"targets"}),
                                    "targets": [t.model_dump() for t in (*kept, *targets)]})

    def short(self, lang: str) -> str:
        return (self.short_name or self.name).get(lang)

    @property
    def is_percent(self) -> bool:
        return self.unit.vi.strip() == "%"

    def breakdown(self, part: str) -> Breakdown | None:
        return next((b for b in self.breakdowns if b.id == part), None)


class Catalogue(_Model):
    province: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    timezone: TimeZoneName = Field(description="Local days of the telemetry KPIs are in this time zone.")
    groups: tuple[Group, ...] = Field(min_length=1)
    kpis: tuple[Kpi, ...] = Field(min_length=1)

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


def goal_on_path(target: Target, when: dt.date) -> float:
    """The value due on `when` on the straight path from the target's baseline to the target."""
    base = target.baseline
    if base is None or when >= target.due:
        return target.value
    if when <= base.date:
        return base.value
    span = (target.due - base.date).days
    return base.value + (target.value - base.value) * (when - base.date).days / span


def goal_at(kpi: Kpi, when: dt.date, start: dt.date | None = None) -> float | None:
    """The value a figure of the period [start, when] should have (None: no target covers it).

    `start` defaults to `when` (a one-day figure). Only the target of the figure's own period
    counts: a figure of 2020 has no goal under a 2026-2030 target.
    """
    target = kpi.target_for(start or when, when)
    return None if target is None else goal_on_path(target, when)


def status_of(kpi: Kpi, value: float | None, when: dt.date,
              start: dt.date | None = None) -> Status:
    """good: the goal is met; warn: within the tolerance; bad: beyond; info: no target for the
    figure's period; none: no value."""
    if value is None:
        return "none"
    return status_for_goal(kpi, value, goal_at(kpi, when, start))


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


def stale_year(end: dt.date, today: dt.date) -> int | None:
    """The year of a figure whose period ended more than a year before `today`, else None.

    The page shows it as a badge ("số liệu 2020") so an old figure is never read as today's.
    """
    return end.year if (today - end).days > 365 else None


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
