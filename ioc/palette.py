"""The one palette of the levels ioc shows: disaster risk, water level, AQI (pure data).

Every place that colours one of these (map fills and markers, the legend beside the map, the
device panel's chart, the wall, the KPI page, alert payloads, the PDF report) takes its colour
from here, so a legend swatch and the thing it explains are always the same colour.
"""

from __future__ import annotations

# Natural-disaster risk levels 0..5, colours of Decision 18/2021/QĐ-TTg (0: no declared risk).
RISK_LEVEL_COLOURS: tuple[str, ...] = (
    "#FFFFFF",
    "#A7D8F0",  # 1 light blue
    "#FFF3A0",  # 2 light yellow
    "#FF8C00",  # 3 orange
    "#E00000",  # 4 red
    "#800080",  # 5 purple
)

# A station's water level against its alarm levels: below I, at I, II, III.
WATER_LEVEL_COLOURS: tuple[str, ...] = ("#35C9A0", "#FFD21F", "#FF8A00", "#FF2D2D")

# VN_AQI / US EPA AQI categories 1..6 (Decision 1459/QĐ-TCMT; the same six colours on both).
AQI_COLOURS: tuple[str, ...] = (
    "#00E400",  # 1 good
    "#FFFF00",  # 2 moderate
    "#FF7E00",  # 3 poor
    "#FF0000",  # 4 bad
    "#8F3F97",  # 5 very bad
    "#7E0023",  # 6 hazardous
)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """(r, g, b) of '#RRGGBB'."""
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
