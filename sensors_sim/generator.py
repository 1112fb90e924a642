"""The pure message generator: fleet + scenario + start + seed -> time-ordered MQTT messages."""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from sensors_sim import payloads
from sensors_sim.emissions import EventState, Reading, SignalModel
from sensors_sim.faults import FaultInjector, malform
from sensors_sim.fleet import (
    Accommodation,
    AirQualityStation,
    Camera,
    Device,
    FaultRates,
    Fleet,
    LandslideSensor,
    RainGauge,
    VisitorCounter,
    WaterLevelStation,
    WeatherStation,
)
from sensors_sim.plan import Plan
from sensors_sim.scenarios import SCENARIOS, Scenario
from sensors_sim.simtime import Calendar, rng_for, to_datetime
from sensors_sim.snapshots import draw_snapshot
from sensors_sim.weather import RainField

FIRST_REPORT_WITHIN_S = 9.0  # every device reports this soon after the start


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message. Unpacks as (sim_time, topic, payload)."""

    sim_ts: float  # simulated time, Unix seconds
    topic: str  # without the deployment's topic prefix
    payload: bytes
    device_id: str
    stamp: float  # the time written in the payload (before any clock-skew fault)
    fault: str | None = None  # the fault that shaped this message, if any

    @property
    def sim_time(self) -> datetime:
        return to_datetime(self.sim_ts)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.sim_time, self.topic, self.payload))


@dataclass(frozen=True)
class SimContext:
    """Everything the device streams share."""

    fleet: Fleet
    plan: Plan
    seed: int
    start: float
    speed: float
    rates: FaultRates
    frigate_prefix: str
    calendar: Calendar
    rain: RainField

    def stamp(self, ts: float) -> float:
        """Payload time of simulated time `ts`: the wall-clock moment it is published.

        At speed 1 this is the simulated time itself; faster runs compress time so that
        payloads are never from the future when they arrive.
        """
        return self.start + (ts - self.start) / self.speed


def make_context(fleet: Fleet, scenario: Scenario | str, start: datetime, seed: int, *,
                 speed: float = 1.0, faults: FaultRates | None = None,
                 frigate_prefix: str = "frigate") -> SimContext:
    if isinstance(scenario, str):
        scenario = SCENARIOS[scenario]
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if speed <= 0:
        raise ValueError("speed must be greater than 0")
    start_ts = start.timestamp()
    plan = Plan(scenario, fleet, start_ts)
    calendar = Calendar(fleet.timezone)
    return SimContext(fleet, plan, seed, start_ts, speed, faults or fleet.faults,
                      frigate_prefix, calendar, RainField(seed, plan, calendar))


def generate(fleet: Fleet, scenario: Scenario | str, start: datetime, seed: int, *,
             speed: float = 1.0, faults: FaultRates | None = None,
             frigate_prefix: str = "frigate") -> Iterator[Message]:
    """Every device's messages merged in simulated-time order; endless.

    The same arguments give byte-identical messages. `faults` defaults to the fleet file's
    rates (FaultRates() turns them off); `speed` only changes the times written in payloads.
    """
    ctx = make_context(fleet, scenario, start, seed, speed=speed, faults=faults,
                       frigate_prefix=frigate_prefix)
    streams = []
    for device in fleet.devices:
        interval = fleet.interval(device)
        phase = rng_for(seed, device.id, "phase").random()
        first = ctx.start + 0.5 + phase * min(interval, FIRST_REPORT_WITHIN_S)
        streams.append(device_stream(ctx, device, build_model(ctx, device), first))
    return merge(streams)


def merge(streams: list[Iterator[Message]]) -> Iterator[Message]:
    """Time order; equal times keep the fleet's device order."""
    return heapq.merge(*streams, key=attrgetter("sim_ts"))


def build_model(ctx: SimContext, device: Device) -> SignalModel:
    """The signal model of one device, with its own random stream."""
    from sensors_sim.air_quality import AirQualityModel
    from sensors_sim.cameras import CameraModel
    from sensors_sim.crowds import AccommodationModel, VisitorCounterModel
    from sensors_sim.hydrology import WaterLevelModel
    from sensors_sim.landslide import LandslideModel
    from sensors_sim.weather import RainGaugeModel, WeatherModel

    interval = ctx.fleet.interval(device)
    rng = rng_for(ctx.seed, device.id, "signal")
    if isinstance(device, AirQualityStation):
        return AirQualityModel(device, interval, rng, ctx.fleet, ctx.rain, ctx.calendar)
    if isinstance(device, WeatherStation):
        return WeatherModel(device, interval, rng, ctx.rain, ctx.calendar)
    if isinstance(device, RainGauge):
        return RainGaugeModel(device, interval, rng, ctx.rain)
    if isinstance(device, WaterLevelStation):
        return WaterLevelModel(device, interval, rng, ctx.rain, ctx.plan, ctx.calendar)
    if isinstance(device, LandslideSensor):
        return LandslideModel(device, interval, rng, ctx.rain, ctx.plan)
    if isinstance(device, Camera):
        return CameraModel(device, interval, ctx.seed, ctx.fleet, ctx.plan, ctx.calendar)
    if isinstance(device, VisitorCounter):
        return VisitorCounterModel(device, interval, rng, ctx.fleet, ctx.plan, ctx.calendar)
    if isinstance(device, Accommodation):
        return AccommodationModel(device, interval, rng, ctx.fleet, ctx.plan, ctx.calendar)
    raise TypeError(f"no signal model for {type(device).__name__}")


def device_stream(ctx: SimContext, device: Device, model: SignalModel, first: float,
                  announce: bool = True) -> Iterator[Message]:
    """One device's messages: status, encoded readings and events, outages and faults."""
    encoder = _Encoder(ctx, device)
    faults = FaultInjector(ctx.rates, rng_for(ctx.seed, device.id, "faults"))
    outage = ctx.plan.outage_window(device.unit_id)
    if announce:
        yield encoder.status(ctx.start, online=True)
    down = False
    for emission in model.emissions(first):
        ts = emission.ts
        if outage is not None:
            if outage[0] <= ts < outage[1]:
                if not down:
                    down = True
                    yield encoder.status(outage[0], online=False)
                encoder.forget(emission)
                continue
            if down and ts >= outage[1]:
                down = False
                yield encoder.status(outage[1], online=True)
        if isinstance(emission, Reading):
            decision = faults.decide(ts, emission.metrics)
            if decision.drop:
                continue
            yield encoder.reading(emission, decision.metrics, decision.skew_s, decision.malform,
                                  decision.fault)
        else:
            yield from encoder.event_messages(emission)


# Zones closed to the public, where a camera keeps a picture of every object it tracks (the
# police queue's default rules look at people there: police/queue_rules.yaml).
SNAPSHOT_ZONES = frozenset({"inspection", "loading_bay"})


class _Encoder:
    """Turns one device's emissions into messages in the device's protocol."""

    def __init__(self, ctx: SimContext, device: Device) -> None:
        self.ctx, self.d = ctx, device
        self.seq = itertools.count()
        self.objects: dict[str, tuple[dict, tuple[str, ...]]] = {}  # Frigate: last `after`
        self.snapped: set[str] = set()  # incidents whose picture is sent
        self.family = device.family

    def message(self, ts: float, topic: str, doc: object, fault: str | None = None) -> Message:
        return Message(ts, topic, payloads.dumps(doc), self.d.id, self.ctx.stamp(ts), fault)

    def status(self, ts: float, online: bool) -> Message:
        doc = payloads.status(online, self.ctx.stamp(ts))
        return self.message(ts, payloads.status_topic(self.d.id), doc)

    def reading(self, r: Reading, replaced: dict[str, float] | None, skew_s: float,
                malform_variant: int | None, fault: str | None) -> Message:
        metrics = replaced if replaced is not None else r.metrics
        stamp = self.ctx.stamp(r.ts) + skew_s
        if self.d.protocol == "senml":
            topic = payloads.senml_topic(self.d.id)
            doc: object = payloads.senml_reading(self.d.id, stamp, metrics)
        else:
            topic = payloads.ioc_json_topic(self.family, self.d.id)
            doc = payloads.ioc_json_reading(self.d.id, stamp, next(self.seq), metrics)
        msg = self.message(r.ts, topic, doc, fault)
        if malform_variant is not None:
            broken = malform(msg.payload, malform_variant, self.d.id)
            msg = Message(msg.sim_ts, topic, broken, self.d.id, msg.stamp, fault)
        return msg

    def event_messages(self, e: EventState) -> Iterator[Message]:
        """The event's message; before the first update of an incident, its picture on
        Frigate's snapshot topic -- the ingest's way in for image bytes -- which our JSON
        then names by its SHA-256. An ordinary detection has one only in a closed zone (like
        Frigate's `snapshots.required_zones`)."""
        sha = None
        wanted = e.type != "object" or bool(set(e.zones) & SNAPSHOT_ZONES)
        if wanted and e.phase != "new" and e.event_id not in self.snapped:
            self.snapped.add(e.event_id)
            picture = self.snapshot(e)
            sha = hashlib.sha256(picture.payload).hexdigest()
            yield picture
        if e.phase == "end":
            self.snapped.discard(e.event_id)
        yield self.event(e, sha)

    def snapshot(self, e: EventState) -> Message:
        stamp = self.ctx.stamp(e.ts)
        local = datetime.fromtimestamp(stamp, ZoneInfo(self.ctx.fleet.timezone))
        jpeg = draw_snapshot(e.type, camera=self.d.id, plate=e.plate, seed=e.event_id,
                             caption_time=local.strftime("%Y-%m-%d %H:%M:%S"), hour=local.hour,
                             label=e.label)
        topic = payloads.frigate_snapshot_topic(self.ctx.frigate_prefix, self.d.id, e.label)
        return Message(e.ts, topic, jpeg, self.d.id, stamp)

    def event(self, e: EventState, snapshot_sha256: str | None = None) -> Message:
        stamp, started = self.ctx.stamp(e.ts), self.ctx.stamp(e.started)
        if self.d.protocol != "frigate":
            doc = payloads.ioc_json_event(self.d.id, stamp, next(self.seq), e, started,
                                          snapshot_sha256)
            return self.message(e.ts, payloads.ioc_json_topic("camera", self.d.id), doc)
        before, entered = self.objects.get(e.event_id, (None, ()))
        entered = entered + tuple(z for z in e.zones if z not in entered)
        after = payloads.frigate_object(self.d.id, e, stamp, started, entered)
        if e.phase == "end":
            self.objects.pop(e.event_id, None)
        else:
            self.objects[e.event_id] = (after, entered)
        doc = payloads.frigate_event(e.phase, before, after)
        return self.message(e.ts, payloads.frigate_topic(self.ctx.frigate_prefix), doc)

    def forget(self, emission: Reading | EventState) -> None:
        """A dropped end of a Frigate object must not leave its state behind."""
        if isinstance(emission, EventState) and emission.phase == "end":
            self.objects.pop(emission.event_id, None)
            self.snapped.discard(emission.event_id)
