"""Stores validated layers in the layer_features table and reads them back as GeoJSON."""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg.types.json import Jsonb

from ioc.security import audit
from layers.catalog import DEMO_LAYER_KINDS, DEMO_LAYERS, demo_layer_path
from layers.importer import LayerData, read_layer_file

log = logging.getLogger(__name__)

LAYER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
DEMO_SOURCE = "ioc demo layers ({province}); see layers/data/{province}/SOURCE.md"

# One writer per layer at a time: the key is taken from the layer name inside the transaction.
LOCK_LAYER = "SELECT pg_advisory_xact_lock(hashtext('layer_features:' || %s))"
AUDIT_IMPORT = "layer.import"
DELETE_LAYER = "DELETE FROM layer_features WHERE layer = %s"
INSERT_FEATURE = """
    INSERT INTO layer_features
        (layer, feature_id, name, kind, properties, geometry, approximate, source)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
LAYER_EXISTS = "SELECT EXISTS (SELECT 1 FROM layer_features WHERE layer = %s)"
SELECT_LAYER = """
    SELECT feature_id, properties, geometry, approximate
    FROM layer_features WHERE layer = %s ORDER BY feature_id
"""


def check_layer_name(name: str) -> str:
    """The name, if it is a lower-case identifier (a-z, 0-9, _; 63 characters at most)."""
    if not LAYER_NAME.fullmatch(name):
        raise ValueError(f"layer name {name!r}: use lower-case letters, digits and _ (a-z first)")
    return name


def is_true(value) -> bool:
    """An `approximate` attribute read leniently: true, 1, "true", "yes", "1"."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y", "t")
    return value is True or value == 1


def _rows(layer_name: str, data: LayerData, source: str) -> list[tuple]:
    return [
        (
            layer_name,
            f["properties"]["id"],
            f["properties"].get("name"),
            data.kind,
            Jsonb(f["properties"]),
            Jsonb(f["geometry"]),
            is_true(f["properties"].get("approximate")),
            source,
        )
        for f in data.features["features"]
    ]


def _replace(cur: psycopg.Cursor, layer_name: str, data: LayerData, source: str) -> int:
    cur.execute(DELETE_LAYER, (layer_name,))
    rows = _rows(layer_name, data, source)
    cur.executemany(INSERT_FEATURE, rows)
    return len(rows)


def _audit(conn: psycopg.Connection, actor: str, layer_name: str, data: LayerData,
           source: str, count: int, **extra) -> None:
    details = {"kind": data.kind, "features": count, "source": source, **extra}
    audit.record(conn, actor, AUDIT_IMPORT, layer_name, details)


def store_layer(conn: psycopg.Connection, layer_name: str, data: LayerData, *, source: str,
                actor: str) -> int:
    """Replace a layer's features with `data` in one transaction; returns how many were stored.

    Either every feature is stored, with a `layer.import` audit entry naming `actor`, or, on
    any error, the layer stays as it was and nothing is recorded. The transaction is committed
    here, unless `conn` is already inside one (then it is a savepoint, and the caller commits).
    """
    check_layer_name(layer_name)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOCK_LAYER, (layer_name,))
        count = _replace(cur, layer_name, data, source)
        _audit(conn, actor, layer_name, data, source, count)
    log.info("layer %s: %d %s features stored from %s by %s", layer_name, count, data.kind,
             source, actor)
    return count


def load_layer(conn: psycopg.Connection, layer_name: str) -> dict:
    """A stored layer as a GeoJSON FeatureCollection (no features if it is not stored)."""
    with conn.cursor() as cur:
        cur.execute(SELECT_LAYER, (layer_name,))
        rows = cur.fetchall()
    features = [
        {
            "type": "Feature",
            "id": feature_id,
            "properties": {**properties, "id": feature_id, "approximate": approximate},
            "geometry": geometry,
        }
        for feature_id, properties, geometry, approximate in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def seed_demo_layers(conn: psycopg.Connection, province: str = "lao_cai", *,
                     actor: str = "demo") -> dict[str, int]:
    """Store each committed demo layer that is not stored yet; returns features stored per layer.

    A layer already present (the demo's, or a province's own import) is left alone (0); each
    layer stored is audited as a `layer.import` by `actor`.
    """
    stored = {}
    source = DEMO_SOURCE.format(province=province)
    for layer in DEMO_LAYERS:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(LOCK_LAYER, (layer,))
            cur.execute(LAYER_EXISTS, (layer,))
            if cur.fetchone()[0]:
                stored[layer] = 0
                continue
            data = read_layer_file(demo_layer_path(layer, province), kind=DEMO_LAYER_KINDS[layer])
            stored[layer] = _replace(cur, layer, data, source)
            _audit(conn, actor, layer, data, source, stored[layer], seed=True)
    log.info("demo layers seeded: %s", stored)
    return stored
