"""`ioc devices import | list | show | edit | retire | restore | credentials | schema`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from ioc.commands import AddCommand, actor_of, add_actor_option, database, settings_of
from ioc.config import Settings
from ioc.devices import credentials as creds
from ioc.devices.formats import entries_to_csv, format_of, parse_registry
from ioc.devices.model import FAMILIES, AlarmLevels, registry_file_schema
from ioc.devices.store import (
    DeviceError,
    DeviceFilter,
    edit_device,
    get_device,
    import_entries,
    level_history,
    list_devices,
    restore_device,
    retire_device,
    set_alarm_levels,
)


def _connect(settings: Settings):
    return database(settings, "ioc-devices", "the device registry is in the database")


def _fail(command: str, message: str) -> int:
    print(f"ioc devices {command}: {message}", file=sys.stderr)
    return 1


def import_file(settings: Settings, path: Path, *, actor: str, reason: str | None = None,
                dry_run: bool = False) -> int:
    """Check every row of FILE; store all of them, or nothing and list every problem."""
    try:
        fmt = format_of(path)
        data = path.read_bytes()
    except ValueError as err:
        return _fail("import", str(err))
    except OSError as err:
        return _fail("import", f"cannot read {path}: {err.strerror}")
    parsed = parse_registry(data, fmt)
    if not parsed.ok:
        print(f"ioc devices import: {path.name} was not imported: {len(parsed.problems)} "
              f"problem(s) in {parsed.rows} device(s); nothing was stored", file=sys.stderr)
        for message in parsed.messages():
            print(f"  - {message}", file=sys.stderr)
        return 1
    entries = [e for _, e in parsed.entries]
    if not entries:
        return _fail("import", f"{path.name} lists no devices")
    if dry_run:
        print(f"{path.name}: {len(entries)} device(s), no problem (dry run: nothing stored)")
        return 0
    with _connect(settings) as conn:
        result = import_entries(conn, entries, actor=actor, source=f"file:{path.name}",
                                reason=reason)
    print(f"{path.name}: {result.summary()}")
    return 0


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    flt = DeviceFilter(text=args.search, families=tuple(args.family or ()),
                       units=tuple(args.unit or ()), kinds=tuple(args.kind or ()),
                       state=None if args.state == "all" else args.state)
    with _connect(settings) as conn:
        devices = list_devices(conn, flt)
    if args.format == "csv":
        sys.stdout.write(entries_to_csv(d.entry() for d in devices))
        return 0
    if args.format == "json":
        print(json.dumps([{**d.entry().model_dump(mode="json", exclude_none=True),
                           "state": "retired" if d.retired else "active",
                           "credential": d.credential} for d in devices],
                         ensure_ascii=False, indent=1))
        return 0
    print(f"{'id':<28} {'kind':<16} {'unit':<8} {'state':<8} {'mqtt':<8} name")
    for d in devices:
        state = "retired" if d.retired else "active"
        print(f"{d.device_id:<28} {d.kind:<16} {d.unit or '-':<8} {state:<8} "
              f"{d.credential or '-':<8} {d.name}")
    print(f"{len(devices)} device(s)", file=sys.stderr)
    return 0


def show_command(settings: Settings, device_id: str) -> int:
    import yaml

    with _connect(settings) as conn:
        device = get_device(conn, device_id)
        if device is None:
            return _fail("show", f"no device {device_id!r} (see `ioc devices list`)")
        history = level_history(conn, device_id)
    entry = device.entry().model_dump(mode="json", exclude_none=True)
    print(yaml.safe_dump(entry, allow_unicode=True, sort_keys=False), end="")
    state = (f"retired {device.retired_at:%Y-%m-%d %H:%M} UTC by {device.retired_by}: "
             f"{device.retire_reason}") if device.retired else "active"
    print(f"# state: {state}")
    print(f"# mqtt credential: {device.credential or 'none'}"
          + (f" (changed {device.credential_changed_at:%Y-%m-%d %H:%M} UTC)"
             if device.credential_changed_at else ""))
    for v in history:
        print(f"# alarm levels v{v.version}: I {v.levels.I:g}, II {v.levels.II:g}, "
              f"III {v.levels.III:g} ({v.datum or 'no datum'}) - {v.changed_by}, "
              f"{v.changed_at:%Y-%m-%d %H:%M} UTC: {v.reason or ''}")
    return 0


def _levels(text: str) -> AlarmLevels:
    from pydantic import ValidationError

    try:
        values = [float(x) for x in text.replace(";", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers I,II,III, got {text!r}") \
            from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers I,II,III, got {text!r}")
    try:
        return AlarmLevels(I=values[0], II=values[1], III=values[2])
    except ValidationError as err:
        raise argparse.ArgumentTypeError(
            err.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), (None if raw == "" else value)


def edit_command(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    changes: dict[str, object] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.unit is not None:
        changes["unit"] = args.unit or None
    if (args.lon is None) != (args.lat is None):
        return _fail("edit", "give --lon and --lat together")
    if args.lon is not None:
        changes["location"] = {"lon": args.lon, "lat": args.lat}
    if args.interval is not None:
        changes["expected_interval_s"] = args.interval
    metadata = dict(args.set or [])
    if args.alarm_levels is not None:
        metadata["alarm_levels"] = args.alarm_levels.model_dump()
    if metadata:
        changes["metadata"] = metadata
    if not changes:
        return _fail("edit", "nothing to change (see --help)")
    if args.alarm_levels is not None and not args.reason:
        return _fail("edit", "say why the alarm levels change (--reason)")
    with _connect(settings) as conn:
        try:
            device = edit_device(conn, args.device_id, changes, actor=actor, reason=args.reason)
        except DeviceError as err:
            return _fail("edit", f"{args.device_id}: {err}")
    print(f"device {device.device_id} saved")
    return 0


def levels_command(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    with _connect(settings) as conn:
        try:
            version = set_alarm_levels(conn, args.device_id, args.levels, actor=actor,
                                       reason=args.reason)
        except DeviceError as err:
            return _fail("levels", str(err))
    print(f"{args.device_id}: alarm levels "
          + (f"version {version} stored" if version else "unchanged"))
    return 0


def retire_command(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    with _connect(settings) as conn:
        try:
            retire_device(conn, args.device_id, actor=actor, reason=args.reason)
            revoked = creds.revoke_on_retire(conn, settings.devices, args.device_id,
                                             actor=actor)
        except DeviceError as err:
            return _fail("retire", str(err))
    print(f"device {args.device_id} retired: no readings accepted, no alerts, history kept"
          + (f"; MQTT password revoked ({revoked.reloaded})" if revoked else ""))
    return 0


def restore_command(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    with _connect(settings) as conn:
        try:
            restore_device(conn, args.device_id, actor=actor, reason=args.reason)
        except DeviceError as err:
            return _fail("restore", str(err))
    print(f"device {args.device_id} restored")
    return 0


def credentials_command(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    with _connect(settings) as conn:
        try:
            change = creds.change_credential(conn, settings.devices, args.device_id,
                                             args.action, actor=actor)
        except DeviceError as err:
            return _fail(f"credentials {args.action}", str(err))
    if change.password:
        print(f"MQTT user:     {change.device_id}")
        print(f"MQTT password: {change.password}")
        print("(shown once: give it to the device now; ioc keeps only its hash)")
    else:
        print(f"MQTT password of {change.device_id} revoked")
    print(change.reloaded, file=sys.stderr)
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    return run(settings_of(args), args, actor_of(args))


def register(add: AddCommand) -> None:
    """`ioc devices ...`."""
    add_parsers(add, cmd_devices, add_actor_option)


def add_parsers(add: Callable[..., argparse.ArgumentParser], func: Callable,
                actor_option: Callable) -> None:
    """Register `ioc devices ...`; each task runs `func(args)` (cmd_devices)."""
    p = add("devices", None, "The device registry: import, list, show, edit, retire, "
            "restore devices; their MQTT passwords.")
    sub = p.add_subparsers(dest="devices_command", metavar="TASK", required=True)

    def task(name: str, help_text: str) -> argparse.ArgumentParser:
        t = sub.add_parser(name, help=help_text, description=help_text)
        t.set_defaults(func=func)
        return t

    t = task("import", "Check a registry file (CSV, YAML or GeoJSON; docs/devices.md) and "
             "store every device in it, or nothing and every problem by line and field.")
    t.add_argument("file", type=Path, metavar="FILE")
    t.add_argument("--reason", default=None, help="why (kept with changed alarm levels)")
    t.add_argument("--dry-run", action="store_true", help="check only, store nothing")
    actor_option(t)

    t = task("list", "List devices (all, or filtered).")
    t.add_argument("--search", default=None, help="text in the id or name")
    t.add_argument("--family", action="append", choices=FAMILIES)
    t.add_argument("--unit", action="append", metavar="CODE", help="commune code (repeatable)")
    t.add_argument("--kind", action="append", metavar="KIND")
    t.add_argument("--state", choices=["active", "retired", "all"], default="all")
    t.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="csv: a registry file `ioc devices import` reads back")

    t = task("show", "One device: its registry entry, state, credential, alarm-level history.")
    t.add_argument("device_id", metavar="ID")

    t = task("edit", "Change a device's name, unit, location, interval or metadata.")
    t.add_argument("device_id", metavar="ID")
    t.add_argument("--name")
    t.add_argument("--unit", help="commune code ('' to clear)")
    t.add_argument("--lon", type=float)
    t.add_argument("--lat", type=float)
    t.add_argument("--interval", type=int, metavar="SECONDS", help="expected report interval")
    t.add_argument("--alarm-levels", type=_levels, metavar="I,II,III",
                   help="water-level station: new alarm levels, metres (needs --reason)")
    t.add_argument("--set", type=_key_value, action="append", metavar="KEY=VALUE",
                   help="a metadata key (JSON value or text; empty removes it); repeatable")
    t.add_argument("--reason", default=None, help="why (kept in the audit log and history)")
    actor_option(t)

    t = task("levels", "Set a water-level station's alarm levels I,II,III (versioned).")
    t.add_argument("device_id", metavar="ID")
    t.add_argument("levels", type=_levels, metavar="I,II,III")
    t.add_argument("--reason", required=True, help="why, e.g. the decision that sets them")
    actor_option(t)

    t = task("retire", "Retire a device: history kept, no alerts, no silence warnings, "
             "messages refused, MQTT password revoked.")
    t.add_argument("device_id", metavar="ID")
    t.add_argument("--reason", required=True)
    actor_option(t)

    t = task("restore", "Bring a retired device back.")
    t.add_argument("device_id", metavar="ID")
    t.add_argument("--reason", default=None)
    actor_option(t)

    t = task("credentials", "Create, rotate or revoke a device's MQTT password (shown once); "
             "the broker re-reads its password file without a restart.")
    t.add_argument("action", choices=creds.ACTIONS)
    t.add_argument("device_id", metavar="ID")
    actor_option(t)

    task("schema", "Print the JSON Schema of a YAML/JSON registry file.")


def schema_command() -> int:
    print(json.dumps(registry_file_schema(), ensure_ascii=False, indent=2))
    return 0


def run(settings: Settings, args: argparse.Namespace, actor: str) -> int:
    """Dispatch one `ioc devices` task."""
    name = args.devices_command
    if name == "import":
        return import_file(settings, args.file, actor=actor, reason=args.reason,
                           dry_run=args.dry_run)
    if name == "list":
        return list_command(settings, args)
    if name == "show":
        return show_command(settings, args.device_id)
    if name == "edit":
        return edit_command(settings, args, actor)
    if name == "levels":
        return levels_command(settings, args, actor)
    if name == "retire":
        return retire_command(settings, args, actor)
    if name == "restore":
        return restore_command(settings, args, actor)
    if name == "credentials":
        return credentials_command(settings, args, actor)
    return schema_command()
