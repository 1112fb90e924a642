"""Device faults: silence, stuck values, out-of-range readings, malformed payloads, clock skew."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sensors_sim.fleet import FaultRates

FAULT_KINDS = ("silent", "stuck", "out_of_range", "malformed", "clock_skew")

# A value outside each metric's physical range, as broken sensors send them.
IMPOSSIBLE = {
    "pm25": -9999.0, "pm10": -9999.0, "o3": -5.0, "no2": -12.0, "so2": -3.0, "co": -100.0,
    "temperature": 85.5, "humidity": 135.0, "wind_speed": -4.0, "wind_dir": 400.0,
    "pressure": 1250.0, "noise": 250.0, "rain_mm": -2.4, "water_level_m": 999.99,
    "tilt_deg": 123.0, "soil_moisture_pct": 140.0, "displacement_mm": 250000.0,
    "entries": -7, "exits": -3, "occupancy": -12, "checkins": -1, "vehicle_count": -1,
    "people_count": -2,
}
# Payload faults that ingest must dead-letter, and the faults that leave payloads valid.
REJECTED = ("out_of_range", "malformed", "clock_skew")
SILENCE_S = (600.0, 3600.0)
STUCK_S = (600.0, 3600.0)
SKEW_S = (2 * 3600.0, 3 * 86400.0)


@dataclass
class Decision:
    """What to do with one periodic report."""

    drop: bool = False
    metrics: dict[str, float] | None = None  # replaced values (stuck or out of range)
    fault: str | None = None  # the fault in effect, if any
    skew_s: float = 0.0  # added to the payload's time
    malform: int | None = None  # which malformation to apply


class FaultInjector:
    """Per-device fault state; its own random stream keeps the signals independent of faults."""

    def __init__(self, rates: FaultRates, rng: random.Random) -> None:
        self.rates, self.rng = rates, rng
        self.silent_until = float("-inf")
        self.stuck_until = float("-inf")
        self.stuck_metrics: dict[str, float] | None = None
        self.enabled = rates.total() > 0

    def decide(self, ts: float, metrics: dict[str, float]) -> Decision:
        if not self.enabled:
            return Decision()
        rng, r = self.rng, self.rates
        if ts < self.silent_until:
            return Decision(drop=True, fault="silent")
        if rng.random() < r.silent:
            self.silent_until = ts + rng.uniform(*SILENCE_S)
            return Decision(drop=True, fault="silent")
        decision = Decision()
        if ts < self.stuck_until and self.stuck_metrics is not None:
            decision = Decision(metrics=dict(self.stuck_metrics), fault="stuck")
        elif rng.random() < r.stuck:
            self.stuck_until = ts + rng.uniform(*STUCK_S)
            self.stuck_metrics = dict(metrics)
            decision = Decision(metrics=dict(metrics), fault="stuck")
        u = rng.random()
        if u < r.out_of_range:
            bad = dict(decision.metrics or metrics)
            name = rng.choice(sorted(bad))
            bad[name] = IMPOSSIBLE.get(name, -1e6)
            return Decision(metrics=bad, fault="out_of_range")
        u -= r.out_of_range
        if u < r.malformed:
            return Decision(fault="malformed", malform=rng.randrange(5))
        u -= r.malformed
        if u < r.clock_skew:
            return Decision(fault="clock_skew", skew_s=rng.uniform(*SKEW_S))
        return decision


def malform(payload: bytes, variant: int, device_id: str) -> bytes:
    """A broken version of a valid JSON payload (ours or SenML) that ingest must reject."""
    doc = json.loads(payload)
    if variant == 0:  # cut off mid-message (e.g. a buffer overflow on the device)
        return payload[: max(1, len(payload) // 2)]
    if variant == 1:  # firmware debug output instead of data
        return f"ERR sensor timeout on {device_id}\r\n".encode()
    if isinstance(doc, list):  # SenML pack
        first = dict(doc[0])
        if variant == 2:  # numbers sent as strings
            first["v"] = str(first["v"])
        elif variant == 3:  # a name with characters SenML does not allow
            first["n"] = " " + first["n"]
        else:  # a pack claiming to be another device's
            first["bn"] = f"{device_id}-old:"
        broken: object = [first, *doc[1:]]
    else:
        broken = dict(doc)
        if variant == 2:  # numbers sent as strings
            broken["metrics"] = {k: str(v) for k, v in doc["metrics"].items()}
        elif variant == 3:  # a field the contract does not know
            broken["firmware"] = "2.1.7"
        else:  # a device with the wrong id configured
            broken["device_id"] = f"{device_id}-old"
    return json.dumps(broken, ensure_ascii=False, separators=(",", ":")).encode()
