"""The `ioc layers import` and `ioc layers seed` commands."""

from __future__ import annotations

import argparse
import hashlib
import sys

from ioc.config import ConfigError, Settings
from layers.importer import LayerFileError, read_layer_file
from layers.store import check_layer_name, seed_demo_layers, store_layer


def _connect(settings: Settings):
    from ioc.db.connect import connect

    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (`ioc demo` starts an embedded database)")
    return connect(settings.database, application_name="ioc-layers")


def import_layer(settings: Settings, args: argparse.Namespace, *, actor: str) -> int:
    """Validate args.file as a layer of args.kind and store it as args.name: 0 done, 1 refused.

    The import is audited (`layer.import`) as done by `actor`, in the same transaction.
    """
    try:
        check_layer_name(args.name)
        data = read_layer_file(args.file, kind=args.kind)
    except (LayerFileError, ValueError) as err:
        print(f"ioc layers import: {err}", file=sys.stderr)
        return 1
    for note in data.notes:
        print(f"note: {note}")
    digest = hashlib.sha256(args.file.read_bytes()).hexdigest()[:16]
    with _connect(settings) as conn:
        count = store_layer(conn, args.name, data, source=f"{args.file.name} sha256:{digest}",
                            actor=actor)
    print(f"layer {args.name!r}: {count} {args.kind} features stored from {args.file}")
    return 0


def seed_layers(settings: Settings, *, actor: str = "demo") -> int:
    """Store the demo province's layers that are not stored yet (audited as by `actor`)."""
    with _connect(settings) as conn:
        stored = seed_demo_layers(conn, actor=actor)
    for layer, count in stored.items():
        print(f"layer {layer!r}: " + (f"{count} features stored" if count else "already present"))
    return 0
