"""`ioc sim`: arguments, and running the simulator (register, then publish or print)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ioc.commands import AddCommand, UsageError, positive_float, positive_int, settings_of
from ioc.config import ConfigError, Settings
from sensors_sim.faults import FAULT_KINDS
from sensors_sim.scenarios import SCENARIOS

if TYPE_CHECKING:  # the fleet models load only when the simulator runs
    from sensors_sim.fleet import FaultRates, Fleet

log = logging.getLogger("ioc.sim")


# -- arguments ---------------------------------------------------------------------------------
def _fault_rate(text: str) -> tuple[str | None, float]:
    """'0.01' (every fault kind) or 'malformed=0.01' (one kind)."""
    kind, _, number = text.rpartition("=")
    if kind and kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})")
    try:
        rate = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [KIND=]RATE, got {text!r}") from None
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError(f"a fault rate is a probability 0..1, got {number}")
    return kind or None, rate


def _start_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2025-07-12T08:00:00+07:00, got {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset in {text!r} (e.g. +07:00)")
    return value


def cmd_sim(args: argparse.Namespace) -> int:
    return run_sim(settings_of(args), args)


def register(add: AddCommand) -> None:
    """`ioc sim`."""
    add_arguments(add("sim", cmd_sim, "Run the device simulator."))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ioc sim`."""
    parser.add_argument(
        "--scenario", choices=sorted(SCENARIOS), default=None,
        help="what happens: " + ", ".join(sorted(SCENARIOS)) + " (default from IOC_SIM_SCENARIO, "
        "else normal)",
    )
    parser.add_argument(
        "--speed", type=positive_float, default=None, metavar="X",
        help="simulated seconds per real second, e.g. 60 shows an hour per minute (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=None,
        help="random seed; the same seed (and --start) gives the same messages "
        "(default: IOC_SIM_SEED, else a random one, logged)",
    )
    parser.add_argument(
        "--start", type=_start_time, default=None, metavar="TIME",
        help="simulated start time, ISO 8601 with offset (default: now)",
    )
    parser.add_argument(
        "--duration", type=positive_float, default=None, metavar="SECONDS",
        help="stop after this many real seconds (default: run until stopped)",
    )
    parser.add_argument(
        "--devices", type=positive_int, default=None, metavar="N",
        help="load mode: N synthetic devices instead of the fleet (needs --rate)",
    )
    parser.add_argument(
        "--rate", type=positive_float, default=None, metavar="R",
        help="load mode: R messages per second in total from the --devices",
    )
    parser.add_argument(
        "--fault-rate", action="append", type=_fault_rate, default=None, metavar="[KIND=]RATE",
        dest="fault_rate",
        help="override fault rates (probability per report): RATE for every kind, or "
        f"KIND=RATE, repeatable; kinds: {', '.join(FAULT_KINDS)}; 0 turns faults off",
    )
    parser.add_argument(
        "--fleet", type=Path, default=None, metavar="FILE",
        help="fleet file (default: IOC_SIM_FLEET_FILE, else the demo province's)",
    )
    parser.add_argument(
        "--register-only", action="store_true",
        help="upsert the fleet into the devices table and exit",
    )
    parser.add_argument(
        "--dry-run", action="store_true",
        help='print messages as JSON lines {"topic": ..., "payload": ...} instead of publishing '
        "(no broker or database needed; not paced)",
    )
    parser.add_argument(
        "--count", type=positive_int, default=None, metavar="K",
        help="stop after K messages",
    )


# -- options -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimOptions:
    """The arguments merged with the settings, checked."""

    scenario: str
    speed: float
    seed: int
    start: datetime
    duration_s: float | None
    count: int | None
    devices: int | None
    rate: float | None
    fault_overrides: tuple[tuple[str | None, float], ...]
    fleet_file: Path | None
    register_only: bool
    dry_run: bool

    @property
    def load_mode(self) -> bool:
        return self.devices is not None


def resolve_options(settings: Settings, args: argparse.Namespace) -> SimOptions:
    """Arguments over settings; raises UsageError for combinations that make no sense."""
    def arg(name: str):
        return getattr(args, name, None)

    scenario = arg("scenario") or settings.sim.scenario
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r} (known: {', '.join(sorted(SCENARIOS))})")
    if (arg("devices") is None) != (arg("rate") is None):
        raise UsageError("load mode needs both --devices N and --rate R")
    if arg("register_only") and arg("dry_run"):
        raise UsageError("--register-only and --dry-run exclude each other")
    if arg("register_only") and (arg("duration") or arg("count")):
        raise UsageError("--register-only publishes nothing; drop --duration/--count")
    seed = arg("seed")
    if seed is None:
        seed = settings.sim.seed if settings.sim.seed is not None else secrets.randbelow(2**31)
    start = arg("start") or datetime.now(UTC).replace(microsecond=0)
    return SimOptions(
        scenario=scenario,
        speed=arg("speed") or settings.sim.speed,
        seed=seed,
        start=start.astimezone(UTC),
        duration_s=arg("duration"),
        count=arg("count"),
        devices=arg("devices"),
        rate=arg("rate"),
        fault_overrides=tuple(arg("fault_rate") or ()),
        fleet_file=arg("fleet") or settings.sim.fleet_file,
        register_only=bool(arg("register_only")),
        dry_run=bool(arg("dry_run")),
    )


def fault_rates(base: FaultRates, overrides: tuple[tuple[str | None, float], ...]) -> FaultRates:
    """The fleet's rates with --fault-rate applied in order (a bare RATE sets every kind)."""
    from sensors_sim.fleet import FaultRates

    values = base.model_dump()
    for kind, rate in overrides:
        for k in FAULT_KINDS if kind is None else (kind,):
            values[k] = rate
    return FaultRates(**values)


def load_sim_fleet(options: SimOptions) -> Fleet:
    from sensors_sim.fleet import FleetError, load_fleet
    from sensors_sim.load_mode import build_load_fleet

    try:
        fleet = load_fleet(options.fleet_file)
    except FleetError as err:
        raise ConfigError(str(err)) from None
    if options.load_mode:
        fleet = build_load_fleet(fleet, options.devices, options.rate)  # type: ignore[arg-type]
    return fleet


def messages_for(fleet: Fleet, options: SimOptions, frigate_prefix: str):
    """The endless message stream the options ask for."""
    from sensors_sim.fleet import FaultRates
    from sensors_sim.generator import generate
    from sensors_sim.load_mode import generate_load

    if options.load_mode:
        faults = fault_rates(FaultRates(), options.fault_overrides)
        return generate_load(fleet, options.start, options.seed, faults=faults)
    faults = fault_rates(fleet.faults, options.fault_overrides)
    return generate(fleet, options.scenario, options.start, options.seed,
                    speed=options.speed, faults=faults, frigate_prefix=frigate_prefix)


# -- running -----------------------------------------------------------------------------------
def run_sim(settings: Settings, args: argparse.Namespace) -> int:
    """Register the fleet, then publish until stopped (or print with --dry-run)."""
    options = resolve_options(settings, args)
    if options.load_mode and options.speed != 1:
        log.warning("load mode runs in real time; --speed %s is ignored", options.speed)
        options = _replace(options, speed=1.0)
    fleet = load_sim_fleet(options)
    if options.dry_run:
        return _dry_run(fleet, options, settings.mqtt.frigate_prefix)
    if not settings.database.url:
        raise ConfigError("IOC_DATABASE_URL: not set (the simulator registers its devices; "
                          "use --dry-run to run without a database)")
    from sensors_sim.registry import register_fleet

    registered = register_fleet(settings.database, fleet)
    log.info("registered %d simulated devices (%s)", registered, fleet.province)
    if options.register_only:
        print(f"registered {registered} devices", flush=True)
        return 0
    return _publish(settings, fleet, options)


def _replace(options: SimOptions, **changes) -> SimOptions:
    from dataclasses import replace

    return replace(options, **changes)


def _dry_run(fleet: Fleet, options: SimOptions, frigate_prefix: str) -> int:
    out = sys.stdout
    try:
        for message in _limited(messages_for(fleet, options, frigate_prefix), options):
            if message.topic.endswith("/snapshot"):  # a JPEG: what it is, not its bytes
                payload = f"<image/jpeg, {len(message.payload)} bytes>"
            else:
                payload = message.payload.decode("utf-8", "replace")
            line = {"topic": message.topic, "payload": payload}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _limited(messages, options: SimOptions) -> Iterator:
    """Dry run: --count messages, or the simulated span a live run of --duration would cover."""
    end = None
    if options.duration_s is not None:
        end = options.start.timestamp() + options.duration_s * options.speed
    for n, message in enumerate(messages):
        if options.count is not None and n >= options.count:
            return
        if end is not None and message.sim_ts > end:
            return
        yield message


def _publish(settings: Settings, fleet: Fleet, options: SimOptions) -> int:
    from ioc.mqtt import MqttClient
    from sensors_sim.publisher import pace

    if not settings.mqtt.url:
        raise ConfigError("IOC_MQTT_URL: not set (use --dry-run to print messages instead)")
    stop = threading.Event()
    restore = _install_signal_handlers(stop)
    try:
        try:
            client = MqttClient(settings.mqtt, "sim").connect()
        except ConnectionError as err:
            log.error("%s", err)
            return 1
        last = None

        def send(message) -> None:
            nonlocal last
            last = client.publish(message.topic, message.payload, qos=1)

        log.info(
            "simulating %s: scenario %s, seed %d, speed %g, start %s%s",
            fleet.province, options.scenario, options.seed, options.speed,
            options.start.isoformat(),
            f", load mode {options.devices} devices at {options.rate:g} msg/s"
            if options.load_mode else "",
        )
        try:
            stats = pace(
                messages_for(fleet, options, settings.mqtt.frigate_prefix), send,
                start_ts=options.start.timestamp(), speed=options.speed, stop=stop,
                duration_s=options.duration_s, count=options.count,
            )
            _flush(last)
        finally:
            client.close()
    finally:
        restore()
    faults = ", ".join(f"{k} {v}" for k, v in sorted(stats.faults.items())) or "none"
    log.info("simulator stopped: %d messages published (faults: %s; at most %.1f s behind)",
             stats.published, faults, stats.behind_s)
    return 0


def _flush(info, timeout: float = 10.0) -> None:
    """Wait until the last QoS 1 message is acknowledged, so a short run loses nothing."""
    if info is None:
        return
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as err:
        log.warning("last message not confirmed by the broker: %s", err)


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set `stop`; returns a function restoring the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame) -> None:
        log.info("%s received; stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
