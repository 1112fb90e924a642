"""The CAP warning areas on the live map: the recent CAP messages still in force, each as the
polygons or circles of its areas, or its units' shapes when it names units by geocode
(cached per pool for a few seconds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.cap_in import UNIT_GEOCODES
from dashboards.map_figure import WarningArea, circle_ring
from dashboards.map_geometry import BaseGeometry
from dashboards.ops_queries import CACHE


@dataclass(frozen=True)
class CapRow:
    sender: str
    identifier: str
    sent: dt.datetime
    msg_type: str
    status: str
    refs: tuple[str, ...]
    parsed: Mapping[str, Any] = field(hash=False, compare=False)


def load_recent_caps(conn: psycopg.Connection, days: int = 7, limit: int = 500) -> list[CapRow]:
    return [
        CapRow(sender, identifier, sent, msg_type, status, tuple(refs or ()), parsed)
        for sender, identifier, sent, msg_type, status, refs, parsed in conn.execute(
            "SELECT sender, identifier, sent, msg_type, status, refs, parsed FROM cap_messages "
            "WHERE sent > now() - make_interval(days => %s) ORDER BY sent DESC LIMIT %s",
            (days, limit),
        )
    ]


def _cap_ref(sender: str, identifier: str) -> tuple[str, str]:
    return sender, identifier


def active_warning_areas(
    caps: Sequence[CapRow], now: dt.datetime, units: Mapping[str, Any]
) -> list[WarningArea]:
    """Areas of the CAP warnings in force (pure).

    In force: status Actual, msgType Alert or Update, not superseded by a later Update or
    Cancel that references it, and not past its `expires`. An area is drawn from its polygons,
    else its circles, else a `unit_code` geocode naming one of our units.
    """
    superseded = set()
    for c in caps:
        for ref in c.refs:
            parts = ref.split(",")
            if len(parts) == 3:
                superseded.add(_cap_ref(parts[0], parts[1]))
    by_unit = {str(f["properties"]["id"]): f["geometry"] for f in units.get("features", [])}
    areas: list[WarningArea] = []
    for c in sorted(caps, key=lambda c: c.sent, reverse=True):
        if c.status != "Actual" or c.msg_type not in ("Alert", "Update"):
            continue
        if _cap_ref(c.sender, c.identifier) in superseded:
            continue
        for i, info in enumerate(c.parsed.get("info", [])):
            expires = info.get("expires")
            if expires and dt.datetime.fromisoformat(expires) < now:
                continue
            for j, area in enumerate(info.get("area", [])):
                rings = [ring for ring in area.get("polygons_lonlat", []) if len(ring) >= 4]
                rings += [
                    circle_ring(x["lon"], x["lat"], x["radius_km"])
                    for x in area.get("circles", [])
                    if x.get("radius_km", 0) > 0
                ]
                if rings:
                    geometry = {"type": "MultiPolygon", "coordinates": [[r] for r in rings]}
                else:
                    named = [
                        g.get("value")
                        for g in area.get("geocode", [])
                        if g.get("valueName") in UNIT_GEOCODES and g.get("value") in by_unit
                    ]
                    if not named:
                        continue
                    geometry = by_unit[named[0]]
                areas.append(
                    WarningArea(
                        area_id=f"{c.identifier}/{i}/{j}",
                        severity=str(info.get("severity", "")).lower(),
                        headline=info.get("headline") or info.get("event") or "",
                        area_desc=area.get("areaDesc", ""),
                        expires=_short_time(expires),
                        geometry=geometry,
                    )
                )
    return areas


def _short_time(iso: str | None) -> str | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso).strftime("%H:%M %d/%m")
    except ValueError:
        return iso


def warning_areas(pool: ConnectionPool, geo: BaseGeometry, ttl_s: float = 10) -> list[WarningArea]:
    def compute():
        with pool.connection() as conn:
            caps = load_recent_caps(conn)
        return active_warning_areas(caps, dt.datetime.now(dt.UTC), geo.units)

    return CACHE.get(pool, "warning_areas", ttl_s, compute)
