"""Load mode for benchmarks: N synthetic devices publishing R messages per second in total."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

from sensors_sim.emissions import Reading, report_times
from sensors_sim.fleet import AirQualityStation, FaultRates, Fleet
from sensors_sim.generator import Message, device_stream, make_context, merge
from sensors_sim.simtime import rng_for

SENML_SHARE = 5  # every fifth synthetic device speaks SenML, the rest our JSON


def build_load_fleet(base: Fleet, devices: int, rate: float) -> Fleet:
    """`devices` synthetic air-quality stations spread over the base fleet's units and
    bounding box, each reporting every devices/rate seconds."""
    rng = random.Random(devices)
    lon0, lat0, lon1, lat1 = base.bbox
    units = sorted(base.units)
    interval = devices / rate
    stations = [
        AirQualityStation(
            id=f"load-{i:06d}", kind="air_quality", name=f"Thiết bị tải {i:06d}",
            unit_id=units[i % len(units)],
            lon=round(rng.uniform(lon0, lon1), 5), lat=round(rng.uniform(lat0, lat1), 5),
            protocol="senml" if i % SENML_SHARE == 0 else "ioc-json",
            interval_s=interval, pm25_mean=25.0,
        )
        for i in range(1, devices + 1)
    ]
    return base.model_copy(update={"devices": stations, "faults": FaultRates()})


class LoadModel:
    """Cheap random walks: the benchmark measures the pipeline, not the simulator."""

    def __init__(self, interval: float, rng: random.Random) -> None:
        self.interval, self.rng = interval, rng

    def emissions(self, first: float) -> Iterator[Reading]:
        rng = self.rng
        pm25, temp, hum = rng.uniform(10, 60), rng.uniform(15, 30), rng.uniform(60, 90)
        for ts in report_times(first, self.interval, rng):
            pm25 = min(400.0, max(1.0, pm25 + rng.gauss(0, 1.5)))
            temp = min(40.0, max(0.0, temp + rng.gauss(0, 0.1)))
            hum = min(100.0, max(20.0, hum + rng.gauss(0, 0.5)))
            yield Reading(ts, {"pm25": round(pm25, 1), "temperature": round(temp, 1),
                               "humidity": round(hum, 1)})


def generate_load(fleet: Fleet, start: datetime, seed: int, *,
                  faults: FaultRates | None = None) -> Iterator[Message]:
    """Messages of a load fleet at an even total rate; first reports spread over one interval."""
    ctx = make_context(fleet, "normal", start, seed, faults=faults or FaultRates())
    n = len(fleet.devices)
    streams = []
    for i, device in enumerate(fleet.devices):
        interval = fleet.interval(device)
        model = LoadModel(interval, rng_for(seed, device.id, "signal"))
        streams.append(device_stream(ctx, device, model, ctx.start + interval * i / n,
                                     announce=False))
    return merge(streams)
