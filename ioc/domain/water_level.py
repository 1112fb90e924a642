"""Water level against a station's alarm levels I/II/III (Decision 05/2020/QĐ-TTg)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LEVEL_NAMES = ("I", "II", "III")
# Alarm level -> alert severity.
SEVERITY = {1: "moderate", 2: "severe", 3: "extreme"}


@dataclass(frozen=True)
class AlarmLevels:
    """The three alarm water levels of one station, in metres, strictly increasing."""

    level_1: float
    level_2: float
    level_3: float

    def __post_init__(self) -> None:
        if not self.level_1 < self.level_2 < self.level_3:
            raise ValueError(
                f"alarm levels must rise I < II < III, got {self.level_1}, {self.level_2}, "
                f"{self.level_3}"
            )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> AlarmLevels | None:
        """Read `alarm_levels` from a device's metadata: [I, II, III] or {"I":..,"II":..,"III":..}."""
        raw = metadata.get("alarm_levels")
        if raw is None:
            return None
        if isinstance(raw, Mapping):
            values = [raw.get(k, raw.get(k.lower())) for k in LEVEL_NAMES]
            if any(v is None for v in values):
                values = [raw.get(k) for k in ("level_1", "level_2", "level_3")]
        else:
            values = list(raw)
        if len(values) != 3 or any(not isinstance(v, int | float) for v in values):
            raise ValueError(f"alarm_levels must hold three numbers, got {raw!r}")
        return cls(*(float(v) for v in values))


def alarm_level(water_level_m: float, levels: AlarmLevels, current: int = 0,
                hysteresis_m: float = 0.05) -> int:
    """0 (below I) .. 3 (at or above III).

    Going up, a level is reached at its threshold; going down, the level is only left once the
    water is `hysteresis_m` below it, so a reading wobbling at a threshold does not flap.
    """
    thresholds = (levels.level_1, levels.level_2, levels.level_3)
    raw = sum(1 for t in thresholds if water_level_m >= t)
    if raw >= current:
        return raw
    held = sum(1 for t in thresholds if water_level_m >= t - hysteresis_m)
    return max(raw, min(current, held))
