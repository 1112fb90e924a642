"""Air-quality indices, computed in one place: VN_AQI (Decision 1459/QĐ-TCMT) and US EPA AQI.

Pure functions, no I/O. Concentrations are what our stations report: µg/m³ for every
pollutant (CO too). The US EPA tables use ppm/ppb for gases; `ugm3_to_epa_units` converts at
25 °C and 1 atm.

- VN_AQI hourly: O3/CO/SO2/NO2 from their 1-hour means, PM2.5/PM10 from the NowCast of the
  last 12 hourly means; daily: PM from the 24-hour mean, O3 the larger of its max-1h and
  max-8h sub-indices, CO/SO2/NO2 from their max 1-hour mean. Overall = max of sub-indices, an
  integer; at least one of PM10/PM2.5 is required.
- US EPA (May 2024 tables): concentrations are truncated (PM2.5 0.1 µg/m³, PM10 1 µg/m³,
  O3 0.001 ppm, CO 0.1 ppm, SO2/NO2 1 ppb) before interpolating; overall = max, rounded.

Both scales share six categories and colours. Indices above 500 are reported as 500.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ioc import palette

POLLUTANTS = ("pm25", "pm10", "o3", "co", "so2", "no2")
PM = ("pm25", "pm10")


@dataclass(frozen=True)
class Category:
    """One of the six AQI classes (the same bands and colours on both scales)."""

    level: int  # 1 (good) .. 6 (hazardous)
    low: int
    high: int
    name_vi: str
    name_en: str
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


CATEGORIES: tuple[Category, ...] = (
    Category(1, 0, 50, "Tốt", "Good", palette.rgb(palette.AQI_COLOURS[0])),
    Category(2, 51, 100, "Trung bình", "Moderate", palette.rgb(palette.AQI_COLOURS[1])),
    Category(3, 101, 150, "Kém", "Unhealthy for sensitive groups",
             palette.rgb(palette.AQI_COLOURS[2])),
    Category(4, 151, 200, "Xấu", "Unhealthy", palette.rgb(palette.AQI_COLOURS[3])),
    Category(5, 201, 300, "Rất xấu", "Very unhealthy", palette.rgb(palette.AQI_COLOURS[4])),
    Category(6, 301, 500, "Nguy hại", "Hazardous", palette.rgb(palette.AQI_COLOURS[5])),
)


def category(aqi: int) -> Category:
    """The class of an integer AQI (0..500; larger values count as hazardous)."""
    for cat in CATEGORIES:
        if aqi <= cat.high:
            return cat
    return CATEGORIES[-1]


@dataclass(frozen=True)
class AqiResult:
    """An overall index with the sub-index of every pollutant that went into it."""

    aqi: int
    dominant: str  # the pollutant whose sub-index is the overall index
    sub_indices: Mapping[str, int] = field(default_factory=dict)

    @property
    def category(self) -> Category:
        return category(self.aqi)


def round_half_up(x: float) -> int:
    """Rounding as people do it (2.5 -> 3), not Python's banker's rounding."""
    return int(math.floor(x + 0.5))


def _interpolate(c: float, table: Sequence[tuple[float, float, int, int]]) -> float | None:
    """Linear interpolation inside the band (BP_lo, BP_hi, I_lo, I_hi) holding `c`."""
    if c < 0:
        return None
    for bp_lo, bp_hi, i_lo, i_hi in table:
        if c <= bp_hi:
            return (i_hi - i_lo) / (bp_hi - bp_lo) * (c - bp_lo) + i_lo
    return 500.0


# -- VN_AQI, Decision 1459/QĐ-TCMT ---------------------------------------------------------------
# Breakpoints (µg/m³) at I = 0, 50, 100, 150, 200, 300, 400, 500; None = not defined.
_VN_INDEX = (0, 50, 100, 150, 200, 300, 400, 500)
_VN_BREAKPOINTS: Mapping[str, tuple[float | None, ...]] = {
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 120, 170, 210, 400, None, None),
    "co": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
}


def _vn_table(name: str) -> list[tuple[float, float, int, int]]:
    bps = _VN_BREAKPOINTS[name]
    return [
        (bps[i], bps[i + 1], _VN_INDEX[i], _VN_INDEX[i + 1])
        for i in range(len(bps) - 1)
        if bps[i] is not None and bps[i + 1] is not None
    ]


_VN_TABLES = {name: _vn_table(name) for name in _VN_BREAKPOINTS}


def vn_sub_index(pollutant: str, concentration: float, averaging: str = "1h") -> int | None:
    """VN_AQI sub-index of one pollutant (µg/m³), an integer; None when not defined.

    `averaging` matters for O3 only: "1h" or "8h". O3 8-hour values above the 8-hour table
    (400 µg/m³) have no 8-hour sub-index; the 1-hour one applies.
    """
    name = f"o3_{averaging}" if pollutant == "o3" else pollutant
    if name not in _VN_TABLES:
        raise ValueError(f"unknown VN_AQI pollutant {pollutant!r} ({averaging})")
    if concentration is None or not math.isfinite(concentration):
        return None
    table = _VN_TABLES[name]
    if name == "o3_8h" and concentration > table[-1][1]:
        return None
    value = _interpolate(concentration, table)
    return None if value is None else min(500, round_half_up(value))


def nowcast(hourly: Sequence[float | None]) -> float | None:
    """NowCast of PM from hourly means c1 (latest hour) .. c12; None = missing hour.

    w* = c_min / c_max over the hours present; w = w* when above 1/2, else 1/2;
    NowCast = Σ w^(i-1)·c_i / Σ w^(i-1) over the hours present. At least two of c1..c3 must
    be present, else there is no NowCast (None).
    """
    values = list(hourly[:12])
    if sum(1 for c in values[:3] if c is not None) < 2:
        return None
    present = [(i, c) for i, c in enumerate(values) if c is not None]
    c_max = max(c for _, c in present)
    c_min = min(c for _, c in present)
    if c_max <= 0:
        return 0.0
    w = max(c_min / c_max, 0.5)
    num = sum(w**i * c for i, c in present)
    den = sum(w**i for i, _ in present)
    return num / den


def _overall(sub: Mapping[str, int | None]) -> AqiResult | None:
    known = {k: v for k, v in sub.items() if v is not None}
    if not any(p in known for p in PM):
        return None
    dominant = max(known, key=lambda k: (known[k], k in PM))
    return AqiResult(known[dominant], dominant, known)


def vn_aqi_hourly(hourly: Mapping[str, Sequence[float | None]]) -> AqiResult | None:
    """Hourly VN_AQI from each pollutant's hourly means, latest hour first (µg/m³).

    PM2.5/PM10 use the NowCast of their last 12 hours; O3 (1-hour table), CO, SO2 and NO2 use
    the latest hour. None when neither PM2.5 nor PM10 has a NowCast.
    """
    sub: dict[str, int | None] = {}
    for pollutant, series in hourly.items():
        if pollutant not in POLLUTANTS or not series:
            continue
        if pollutant in PM:
            c = nowcast(series)
        else:
            c = series[0]
        if c is not None:
            sub[pollutant] = vn_sub_index(pollutant, c, "1h")
    return _overall(sub)


def vn_aqi_daily(
    *,
    pm25_24h: float | None = None,
    pm10_24h: float | None = None,
    o3_max_1h: float | None = None,
    o3_max_8h: float | None = None,
    co_max_1h: float | None = None,
    so2_max_1h: float | None = None,
    no2_max_1h: float | None = None,
) -> AqiResult | None:
    """Daily VN_AQI: PM from 24-hour means; O3 the larger of its max-1h and max-8h
    sub-indices; CO, SO2, NO2 from their max 1-hour means (all µg/m³)."""
    sub: dict[str, int | None] = {}
    if pm25_24h is not None:
        sub["pm25"] = vn_sub_index("pm25", pm25_24h)
    if pm10_24h is not None:
        sub["pm10"] = vn_sub_index("pm10", pm10_24h)
    o3 = [
        vn_sub_index("o3", c, avg)
        for c, avg in ((o3_max_1h, "1h"), (o3_max_8h, "8h"))
        if c is not None
    ]
    if any(v is not None for v in o3):
        sub["o3"] = max(v for v in o3 if v is not None)
    for name, c in (("co", co_max_1h), ("so2", so2_max_1h), ("no2", no2_max_1h)):
        if c is not None:
            sub[name] = vn_sub_index(name, c)
    return _overall(sub)


# -- US EPA AQI (Technical Assistance Document, May 2024) -----------------------------------------
_EPA_BANDS = ((0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500))
# (BP_lo, BP_hi) per band; None = that band is not defined for the averaging period.
_EPA_BREAKPOINTS: Mapping[str, tuple[tuple[float, float] | None, ...]] = {
    "pm25": ((0.0, 9.0), (9.1, 35.4), (35.5, 55.4), (55.5, 125.4), (125.5, 225.4),
             (225.5, 325.4)),
    "pm10": ((0, 54), (55, 154), (155, 254), (255, 354), (355, 424), (425, 604)),
    "o3_8h": ((0.000, 0.054), (0.055, 0.070), (0.071, 0.085), (0.086, 0.105), (0.106, 0.200),
              None),
    "o3_1h": (None, None, (0.125, 0.164), (0.165, 0.204), (0.205, 0.404), (0.405, 0.604)),
    "co": ((0.0, 4.4), (4.5, 9.4), (9.5, 12.4), (12.5, 15.4), (15.5, 30.4), (30.5, 50.4)),
    "so2": ((0, 35), (36, 75), (76, 185), (186, 304), (305, 604), (605, 1004)),
    "no2": ((0, 53), (54, 100), (101, 360), (361, 649), (650, 1249), (1250, 2049)),
}
# Truncation step of each input (PM2.5 0.1 µg/m³, PM10 1 µg/m³, O3 0.001 ppm, CO 0.1 ppm,
# SO2 and NO2 1 ppb).
_EPA_STEP = {"pm25": 0.1, "pm10": 1, "o3_8h": 0.001, "o3_1h": 0.001, "co": 0.1, "so2": 1,
             "no2": 1}
EPA_UNITS = {"pm25": "µg/m³", "pm10": "µg/m³", "o3": "ppm", "co": "ppm", "so2": "ppb",
             "no2": "ppb"}
# Molar masses (g/mol) for µg/m³ -> ppb at 25 °C, 1 atm (molar volume 24.45 L).
_MOLAR_MASS = {"o3": 48.00, "co": 28.01, "so2": 64.07, "no2": 46.01}


def truncate(value: float, step: float) -> float:
    """Cut `value` down to a multiple of `step` (EPA truncation, not rounding)."""
    digits = max(0, -int(math.floor(math.log10(step))))
    scaled = math.floor(round(value / step, 6))
    return round(scaled * step, digits)


def ugm3_to_epa_units(pollutant: str, ugm3: float) -> float:
    """µg/m³ to the EPA table's unit: PM unchanged, O3 and CO to ppm, SO2 and NO2 to ppb."""
    if pollutant in PM:
        return ugm3
    ppb = ugm3 * 24.45 / _MOLAR_MASS[pollutant]
    return ppb / 1000 if pollutant in ("o3", "co") else ppb


def us_epa_sub_index(pollutant: str, concentration: float, averaging: str = "8h") -> int | None:
    """US EPA sub-index from a concentration in the table's unit (see `EPA_UNITS`).

    `averaging` matters for O3 only: "8h" (the default table) or "1h". An 8-hour O3 above
    0.200 ppm has no 8-hour index (use the 1-hour value), a 1-hour O3 below 0.125 ppm has no
    1-hour index. None when undefined.
    """
    name = f"o3_{averaging}" if pollutant == "o3" else pollutant
    if name not in _EPA_BREAKPOINTS:
        raise ValueError(f"unknown US EPA pollutant {pollutant!r} ({averaging})")
    if concentration is None or not math.isfinite(concentration) or concentration < 0:
        return None
    c = truncate(concentration, _EPA_STEP[name])
    bands = _EPA_BREAKPOINTS[name]
    defined = [(bp, idx) for bp, idx in zip(bands, _EPA_BANDS, strict=True) if bp is not None]
    if c < defined[0][0][0]:
        return None
    for (bp_lo, bp_hi), (i_lo, i_hi) in defined:
        if c <= bp_hi:
            return round_half_up((i_hi - i_lo) / (bp_hi - bp_lo) * (c - bp_lo) + i_lo)
    if name == "o3_8h":
        return None
    return 500


def us_epa_aqi(concentrations: Mapping[str, float | None], *,
               o3_1h: float | None = None) -> AqiResult | None:
    """US EPA AQI from concentrations in the table units: pm25/pm10 (24-hour or NowCast,
    µg/m³), o3 (8-hour, ppm), co (8-hour, ppm), so2 and no2 (1-hour, ppb). `o3_1h` (ppm) is
    used as well where it gives a 1-hour index (both are computed, the larger counts).
    Unlike VN_AQI, PM is not required."""
    sub: dict[str, int | None] = {}
    for pollutant, c in concentrations.items():
        if c is None or pollutant not in POLLUTANTS:
            continue
        sub[pollutant] = us_epa_sub_index(pollutant, c, "8h")
    if o3_1h is not None:
        one_hour = us_epa_sub_index("o3", o3_1h, "1h")
        if one_hour is not None and (sub.get("o3") is None or one_hour > sub["o3"]):
            sub["o3"] = one_hour
    known = {k: v for k, v in sub.items() if v is not None}
    if not known:
        return None
    dominant = max(known, key=lambda k: known[k])
    return AqiResult(known[dominant], dominant, known)


def us_epa_nowcast_aqi(hourly_ugm3: Mapping[str, Sequence[float | None]]) -> AqiResult | None:
    """Current US EPA AQI from hourly means in µg/m³ (latest first): PM from its NowCast,
    O3 and CO from the mean of the last 8 hours (with O3's latest hour for the 1-hour
    table), SO2 and NO2 from the latest hour."""
    conc: dict[str, float | None] = {}
    o3_1h = None
    for pollutant, series in hourly_ugm3.items():
        if pollutant not in POLLUTANTS or not series:
            continue
        if pollutant in PM:
            conc[pollutant] = nowcast(series)
            continue
        if pollutant in ("o3", "co"):
            window = [c for c in series[:8] if c is not None]
            value = sum(window) / len(window) if window else None
            if pollutant == "o3" and series[0] is not None:
                o3_1h = ugm3_to_epa_units("o3", series[0])
        else:
            value = series[0]
        conc[pollutant] = None if value is None else ugm3_to_epa_units(pollutant, value)
    return us_epa_aqi(conc, o3_1h=o3_1h)
