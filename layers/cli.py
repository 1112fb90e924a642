"""`ioc layers import|seed` and `ioc units migrate`."""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from ioc.commands import AddCommand, actor_of, add_actor_option, cli_actor, database, settings_of
from ioc.config import Settings


def _connect(settings: Settings):
    return database(settings, "ioc-layers", "`ioc demo` starts an embedded database")


def default_layer_name(path: Path) -> str:
    """The layer name a file gets when none is given: its stem, lower case, other characters
    as underscores (`Flood Zones 2025.gpkg` -> `flood_zones_2025`)."""
    stem = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_")
    return (stem if stem[:1].isalpha() else f"layer_{stem}")[:63]


def import_layer(settings: Settings, args: argparse.Namespace, *, actor: str) -> int:
    """Validate args.file as a layer of args.kind and store it as args.name: 0 done, 1 refused.

    The import is audited (`layer.import`) as done by `actor`, in the same transaction.
    """
    # geopandas and friends load only for this command, not for every `ioc` process
    from layers.importer import LayerFileError, read_layer_file
    from layers.store import check_layer_name, store_layer

    name = args.name or default_layer_name(args.file)
    try:
        check_layer_name(name)
        data = read_layer_file(args.file, kind=args.kind)
    except (LayerFileError, ValueError) as err:
        print(f"ioc layers import: {err}", file=sys.stderr)
        return 1
    for note in data.notes:
        print(f"note: {note}")
    digest = hashlib.sha256(args.file.read_bytes()).hexdigest()[:16]
    with _connect(settings) as conn:
        count = store_layer(conn, name, data, source=f"{args.file.name} sha256:{digest}",
                            actor=actor)
    print(f"layer {name!r}: {count} {args.kind} features stored from {args.file}")
    return 0


def seed_layers(settings: Settings, *, actor: str = "demo") -> int:
    """Store the demo province's layers that are not stored yet (audited as by `actor`)."""
    from layers.store import seed_demo_layers

    with _connect(settings) as conn:
        stored = seed_demo_layers(conn, actor=actor)
    for layer, count in stored.items():
        print(f"layer {layer!r}: " + (f"{count} features stored" if count else "already present"))
    return 0


def cmd_layers_import(args: argparse.Namespace) -> int:
    return import_layer(settings_of(args), args, actor=actor_of(args))


def cmd_layers_seed(args: argparse.Namespace) -> int:
    return seed_layers(settings_of(args), actor=cli_actor())


def cmd_units_migrate(args: argparse.Namespace) -> int:
    from layers.migrate_units import migrate_units

    return migrate_units(settings_of(args), actor=actor_of(args), dry_run=args.dry_run)


def register(add: AddCommand) -> None:
    """`ioc layers import|seed` and `ioc units migrate`."""
    p = add("layers", None, "Map layers.")
    l_sub = p.add_subparsers(dest="layers_command", metavar="TASK", required=True)
    li = l_sub.add_parser("import", help="Load a GeoJSON, GeoPackage or Shapefile layer.")
    li.add_argument("file", type=Path, metavar="FILE")
    li.add_argument("--name", default=None,
                    help="layer name, e.g. units or flood_zones (default: from the file name)")
    li.add_argument(
        "--kind", default="units",
        choices=["units", "zones", "points", "poi", "lines", "rivers"],
        help="what the features are (sets the geometry type required)",
    )
    add_actor_option(li)
    li.set_defaults(func=cmd_layers_import)
    l_sub.add_parser(
        "seed", help="Store the demo province's layers if they are not there yet."
    ).set_defaults(func=cmd_layers_seed)

    p = add("units", None, "Administrative units (since 1 July 2025: communes and wards).")
    u_sub = p.add_subparsers(dest="units_command", metavar="TASK", required=True)
    um = u_sub.add_parser(
        "migrate",
        help="Move area keys of devices and alerts from former districts to the stored units "
        "(audited; running it again changes nothing).",
    )
    um.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    add_actor_option(um)
    um.set_defaults(func=cmd_units_migrate)
