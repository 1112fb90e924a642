"""A province's administrative units as typed records: official code, name with type, the tree."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Unit:
    """One administrative unit (since 1 July 2025: a xã, phường or đặc khu of a province)."""

    code: str
    name: str  # official, type included: "Phường Sa Pa"
    short_name: str  # "Sa Pa"
    type: str  # "xã", "phường", "đặc khu" ("" when a province's own layer does not say)
    level: str  # "commune"
    parent: str  # the province's code
    centre: tuple[float, float] | None
    area_km2: float | None


def units_of(collection: Mapping[str, Any]) -> list[Unit]:
    """The units of a `units` layer (FeatureCollection), sorted by name.

    A province's own import needs only `id` and `name`; what it lacks stays empty.
    """
    out = []
    for f in collection.get("features", []):
        p = f.get("properties") or {}
        centre = p.get("centre")
        area = p.get("area_km2")
        out.append(
            Unit(
                code=str(p.get("id", f.get("id"))),
                name=str(p.get("name", "")),
                short_name=str(p.get("short_name") or p.get("name", "")),
                type=str(p.get("type", "")),
                level=str(p.get("level", "commune")),
                parent=str(p.get("parent", "")),
                centre=_centre(centre),
                area_km2=float(area) if area is not None else None,
            )
        )
    return sorted(out, key=lambda u: (fold(u.short_name), u.code))


def _centre(value) -> tuple[float, float] | None:
    """A unit's centre as (lon, lat): a list from the committed files, or the text "[lon, lat]"
    that a stored layer carries after the importer (geopandas writes list properties as text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        return (float(value[0]), float(value[1]))
    except (TypeError, ValueError):
        return None


def fold(text: str) -> str:
    """Lower case without diacritics, for searching: 'Phường Sa Pa' -> 'phuong sa pa'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(plain.lower().split())


def search_units(units: Iterable[Unit], query: str, limit: int | None = None) -> list[Unit]:
    """Units whose name or code matches `query`, ignoring case and diacritics.

    Every word of the query must appear; units whose short name starts with the query come
    first ('sa pa' finds Phường Sa Pa before Xã Tả Van ... nothing else). An empty query
    matches every unit.
    """
    words = fold(query).split()
    hits = [u for u in units if all(w in fold(f"{u.name} {u.code}") for w in words)]
    key = fold(query)
    hits.sort(key=lambda u: (not fold(u.short_name).startswith(key), fold(u.short_name), u.code))
    return hits[:limit] if limit is not None else hits


def picker_options(units: Iterable[Unit]) -> list[dict[str, str]]:
    """Options for a searchable unit picker: label = the name with type, value = the code.

    The search text includes the name without diacritics, so 'bac ha' finds 'Xã Bắc Hà'.
    """
    return [
        {"label": u.name, "value": u.code, "search": f"{u.name} {fold(u.name)} {u.code}"}
        for u in units
    ]
