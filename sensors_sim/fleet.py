"""The device fleet: a validated data file of devices, profiles and scenario targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ioc.devices.model import metadata_model
from ioc.timezones import TimeZoneName
from sensors_sim.faults import FAULT_KINDS

DEFAULT_FLEET_FILE = Path(__file__).parent / "data" / "lao_cai_fleet.yaml"

# The contract's device families, and which family each simulated kind belongs to.
KIND_FAMILY: dict[str, str] = {
    "air_quality": "environment",
    "weather": "environment",
    "rain_gauge": "disaster",
    "water_level": "disaster",
    "landslide": "disaster",
    "camera": "camera",
    "visitor_counter": "tourism",
    "accommodation": "tourism",
}
EVENT_TYPES = (
    "fire", "smoke", "fight", "crowd", "accident", "wanted_plate", "intrusion",
    "traffic_violation", "other",
)

# Letters, digits and '-': valid as a device id, a SenML name and a Frigate camera name.
DEVICE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


class FleetError(ValueError):
    """The fleet file is wrong; the message names the file, the device and the field."""


class Model(BaseModel):
    """Base of every fleet-file section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultRates(Model):
    silent: float = Field(0.0, ge=0, le=1, description="Chance per report of going silent.")
    stuck: float = Field(0.0, ge=0, le=1, description="Chance per report of sticking.")
    out_of_range: float = Field(0.0, ge=0, le=1, description="Chance of an impossible value.")
    malformed: float = Field(0.0, ge=0, le=1, description="Chance of a broken payload.")
    clock_skew: float = Field(0.0, ge=0, le=1, description="Chance of a far-future timestamp.")

    def total(self) -> float:
        return sum(getattr(self, k) for k in FAULT_KINDS)


class Intervals(Model):
    air_quality: float = Field(60, gt=0, description="Seconds between reports.")
    weather: float = Field(120, gt=0, description="Seconds between reports.")
    rain_gauge: float = Field(300, gt=0, description="Seconds between reports.")
    water_level: float = Field(300, gt=0, description="Seconds between reports.")
    landslide: float = Field(600, gt=0, description="Seconds between reports.")
    camera: float = Field(60, gt=0, description="Seconds between camera count reports.")
    visitor_counter: float = Field(60, gt=0, description="Seconds between reports.")
    accommodation: float = Field(900, gt=0, description="Seconds between reports.")


HourlyShape = Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24)]
Weekday = Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=7, max_length=7)]
Monthly = Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=12, max_length=12)]


class AirQualityDefaults(Model):
    monthly_pm_factor: Monthly = Field([1.0] * 12, description="PM relative to annual mean.")


class CrowdProfile(Model):
    shape: str = Field(description="Hourly shape of arrivals (a name in hourly_shapes).")
    weekday: Weekday = Field([1.0] * 7, description="Factor per weekday, Monday first.")
    month: Monthly = Field([1.0] * 12, description="Factor per month, January first.")


class EventRate(Model):
    per_hour: float = Field(ge=0, description="Events per hour at the busiest hour of `shape`.")
    shape: str = Field("flat", description="Hourly shape (a name in hourly_shapes).")


class CameraProfile(Model):
    people_peak: float = Field(ge=0, description="People in view at the busiest hour.")
    vehicles_peak: float = Field(ge=0, description="Vehicles in view at the busiest hour.")
    traffic_shape: str = Field(description="Hourly shape of people and vehicles in view.")
    detections_per_hour: float = Field(
        ge=0, description="Frigate cameras: tracked people/cars per hour at the busiest hour."
    )
    events: dict[str, EventRate] = Field({}, description="Incident rates by event type.")

    @field_validator("events")
    @classmethod
    def _types(cls, v: dict[str, EventRate]) -> dict[str, EventRate]:
        for name in v:
            if name not in EVENT_TYPES or name == "wanted_plate":
                raise ValueError(f"unknown event type {name!r} (known: {', '.join(EVENT_TYPES)})")
        return v


class AlarmLevels(Model):
    I: float = Field(description="Báo động I, metres above the station datum.")  # noqa: E741
    II: float = Field(description="Báo động II.")
    III: float = Field(description="Báo động III.")

    @model_validator(mode="after")
    def _order(self) -> AlarmLevels:
        if not self.I < self.II < self.III:
            raise ValueError(f"must increase I < II < III, got {self.I}, {self.II}, {self.III}")
        return self


class LandslideWarning(Model):
    soil_moisture_pct: float = Field(90, gt=0, le=100, description="Saturated soil.")
    tilt_deg: float = Field(1.5, gt=0, description="Tilt change that means the slope moves.")
    displacement_mm: float = Field(20, gt=0, description="Displacement that means danger.")


class Device(Model):
    id: str = Field(pattern=DEVICE_ID, description="Device id (also the Frigate camera name).")
    name: str = Field(min_length=1, description="Human name with Vietnamese diacritics.")
    unit_id: str = Field(description="Unit id from the units table.")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    elevation_m: float = Field(0, ge=-100, le=9000, description="Metres above sea level.")
    protocol: Literal["ioc-json", "senml", "frigate"] = Field("ioc-json")
    interval_s: float | None = Field(None, gt=0, description="Seconds between reports.")

    @property
    def family(self) -> str:
        return KIND_FAMILY[self.kind]  # type: ignore[attr-defined]

    def metadata(self) -> dict[str, Any]:
        """What goes into devices.metadata: the registry's keys for the kind (docs/devices.md),
        none of the simulator's own (those stay in the fleet file)."""
        keep = set(metadata_model(self.kind).model_fields)  # type: ignore[attr-defined]
        return self.model_dump(mode="json", include=keep, exclude_none=True)


class AirQualityStation(Device):
    kind: Literal["air_quality"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    pm25_mean: float = Field(gt=0, le=500, description="Annual mean PM2.5, µg/m³.")
    traffic: float = Field(0.5, ge=0, le=1, description="Weight of traffic (NO2, CO).")
    so2_mean: float = Field(8, ge=0, description="Typical SO2, µg/m³ (industry raises it).")
    pm_shape: str = Field("pm_city", description="Daily PM cycle (a name in hourly_shapes).")
    traffic_shape: str = Field("rush", description="Daily traffic cycle (NO2, CO).")


class WeatherStation(Device):
    kind: Literal["weather"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    wind_mean: float = Field(2.0, gt=0, le=30, description="Mean wind speed, m/s.")


class RainGauge(Device):
    kind: Literal["rain_gauge"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    orographic_factor: float = Field(1.0, gt=0, le=3, description="Rain relative to unit_id.")


class WaterLevelStation(Device):
    kind: Literal["water_level"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    river: str = Field(min_length=1)
    datum: str = Field("cao độ quốc gia (demo)", min_length=1, description="Height datum.")
    alarm_levels: AlarmLevels
    normal_level_m: float = Field(description="Typical dry-season level.")
    wet_season_rise_m: float = Field(0.8, ge=0, description="Extra level in the rainy season.")
    catchment: list[str] = Field(min_length=1, description="Units whose rain feeds it.")
    response_lag_h: float = Field(ge=0, le=48, description="Hours from rain to rising water.")
    response_spread_h: float = Field(gt=0, le=48, description="Spread of the flood wave.")

    @model_validator(mode="after")
    def _normal_below_i(self) -> WaterLevelStation:
        if self.normal_level_m + self.wet_season_rise_m >= self.alarm_levels.I - 0.5:
            raise ValueError("normal_level_m + wet_season_rise_m must stay 0.5 m below level I")
        return self


class LandslideSensor(Device):
    kind: Literal["landslide"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    susceptibility: float = Field(1.0, gt=0, le=5, description="How easily the slope moves.")
    base_soil_moisture_pct: float = Field(35, ge=5, le=80, description="Dry-weather moisture.")
    warning: LandslideWarning = LandslideWarning()


class Camera(Device):
    kind: Literal["camera"]
    protocol: Literal["ioc-json", "frigate"] = "ioc-json"
    place: str = Field(description="Kind of place (a name in camera_profiles).")
    zones: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] = Field(min_length=1)
    lpr: bool = Field(False, description="Reads licence plates.")
    site: str | None = Field(None, description="Visitor counter of the same site, if any.")


class VisitorCounter(Device):
    kind: Literal["visitor_counter"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    capacity: int = Field(gt=0, description="Safe number of people on site.")
    daily_visitors: float = Field(gt=0, description="Arrivals on a typical weekday.")
    dwell_min: float = Field(gt=0, le=24 * 60, description="Mean time a visitor stays.")
    profile: str = Field(description="Arrival profile (a name in crowd_profiles).")


class Accommodation(Device):
    kind: Literal["accommodation"]
    protocol: Literal["ioc-json", "senml"] = "ioc-json"
    daily_checkins: float = Field(gt=0, description="Check-ins on a typical weekday.")
    profile: str = Field(description="Check-in profile (a name in crowd_profiles).")


AnyDevice = Annotated[
    AirQualityStation | WeatherStation | RainGauge | WaterLevelStation | LandslideSensor
    | Camera | VisitorCounter | Accommodation,
    Field(discriminator="kind"),
]


class FloodTargets(Model):
    storm_units: list[str] = Field(min_length=1)
    stations: list[str] = Field(min_length=1, description="Stations driven through I, II, III.")


class FestivalTargets(Model):
    sites: list[str] = Field(min_length=1, description="Visitor counters pushed past capacity.")
    cameras: list[str] = Field([], description="Cameras reporting crowds during the surge.")
    units: list[str] = Field([], description="Units with more check-ins.")


class IncidentTargets(Model):
    fire_camera: str
    fight_camera: str
    wanted_plate: str = Field(pattern=r"^[0-9]{2}[A-Z]{1,2}[0-9]?-[0-9]{3}\.[0-9]{2}$")
    plate_route: list[str] = Field(min_length=3, description="Cameras the plate passes.")


class OutageTargets(Model):
    unit_id: str


class ScenarioTargets(Model):
    flood: FloodTargets | None = None
    festival: FestivalTargets | None = None
    incident: IncidentTargets | None = None
    outage: OutageTargets | None = None


class Fleet(Model):
    province: str
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    bbox: tuple[float, float, float, float] = Field(
        (-180, -90, 180, 90), description="lon_min, lat_min, lon_max, lat_max"
    )
    units: dict[str, str] = Field(min_length=1, description="Unit id -> name.")
    faults: FaultRates = FaultRates()
    intervals: Intervals = Intervals()
    hourly_shapes: dict[str, HourlyShape] = {}
    air_quality: AirQualityDefaults = AirQualityDefaults()
    crowd_profiles: dict[str, CrowdProfile] = {}
    camera_profiles: dict[str, CameraProfile] = {}
    scenarios: ScenarioTargets = ScenarioTargets()
    devices: list[AnyDevice] = Field(min_length=1)

    @field_validator("devices", mode="before")
    @classmethod
    def _registry_entries(cls, v: Any) -> Any:
        """Devices may be written in the registry format (docs/devices.md) plus an optional
        `simulation:` block; each is turned into the flat form the models below check."""
        if not isinstance(v, list):
            return v
        return [from_registry_entry(d) if _is_registry_entry(d) else d for d in v]

    @field_validator("hourly_shapes")
    @classmethod
    def _shapes(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, values in v.items():
            if max(values) <= 0:
                raise ValueError(f"{name}: needs at least one value above 0")
        return v

    @model_validator(mode="after")
    def _references(self) -> Fleet:
        problems: list[str] = []
        ids: dict[str, Device] = {}
        lon0, lat0, lon1, lat1 = self.bbox
        for d in self.devices:
            where = f"device {d.id}"
            if d.id in ids:
                problems.append(f"{where}: duplicate id")
            ids[d.id] = d
            if d.unit_id not in self.units:
                problems.append(f"{where}: unknown unit {d.unit_id!r}")
            if not (lon0 <= d.lon <= lon1 and lat0 <= d.lat <= lat1):
                problems.append(f"{where}: lon/lat {d.lon}, {d.lat} outside the bbox {self.bbox}")
            problems.extend(f"{where}: {p}" for p in self._device_refs(d))
        for name, p in self.crowd_profiles.items():
            if p.shape not in self.hourly_shapes:
                problems.append(f"crowd_profiles.{name}: unknown shape {p.shape!r}")
        for name, p in self.camera_profiles.items():
            shapes = [p.traffic_shape, *(e.shape for e in p.events.values())]
            problems.extend(
                f"camera_profiles.{name}: unknown shape {s!r}"
                for s in shapes
                if s not in self.hourly_shapes
            )
        problems.extend(self._scenario_refs(ids))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _device_refs(self, d: Device) -> list[str]:
        out = []
        if isinstance(d, AirQualityStation):
            out.extend(f"unknown shape {s!r}" for s in (d.pm_shape, d.traffic_shape)
                       if s not in self.hourly_shapes)
        if isinstance(d, VisitorCounter | Accommodation) and d.profile not in self.crowd_profiles:
            out.append(f"unknown profile {d.profile!r}")
        if isinstance(d, Camera) and d.place not in self.camera_profiles:
            out.append(f"unknown place {d.place!r} (not in camera_profiles)")
        if isinstance(d, WaterLevelStation):
            out.extend(f"unknown catchment unit {c!r}" for c in d.catchment
                       if c not in self.units)
        return out

    def _scenario_refs(self, ids: dict[str, Device]) -> list[str]:
        out: list[str] = []

        def need(section: str, device_id: str, kind: str, **attrs: Any) -> None:
            d = ids.get(device_id)
            if d is None or d.kind != kind:  # type: ignore[attr-defined]
                out.append(f"scenarios.{section}: {device_id!r} is not a {kind} in devices")
                return
            for attr, value in attrs.items():
                if getattr(d, attr) != value:
                    out.append(f"scenarios.{section}: {device_id} needs {attr}: {value}")

        def units(section: str, names: list[str]) -> None:
            out.extend(f"scenarios.{section}: unknown unit {n!r}" for n in names
                       if n not in self.units)

        s = self.scenarios
        if s.flood:
            units("flood", s.flood.storm_units)
            for i in s.flood.stations:
                need("flood", i, "water_level")
        if s.festival:
            units("festival", s.festival.units)
            for i in s.festival.sites:
                need("festival", i, "visitor_counter")
            for i in s.festival.cameras:
                need("festival", i, "camera")
        if s.incident:
            need("incident", s.incident.fire_camera, "camera")
            need("incident", s.incident.fight_camera, "camera")
            for i in s.incident.plate_route:
                need("incident", i, "camera", lpr=True)
        if s.outage:
            units("outage", [s.outage.unit_id])
        return out

    def interval(self, device: Device) -> float:
        kind = device.kind  # type: ignore[attr-defined]
        return device.interval_s or getattr(self.intervals, kind)

    def device(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)


_REGISTRY_KEYS = frozenset({"location", "metadata", "simulation", "unit", "family",
                            "expected_interval_s"})


def _is_registry_entry(item: Any) -> bool:
    return isinstance(item, dict) and bool(_REGISTRY_KEYS & item.keys())


def from_registry_entry(item: dict[str, Any]) -> dict[str, Any]:
    """A registry entry (id, name, kind, unit, location, metadata, simulation) as the flat
    fleet-file device: `unit` is the fleet's area key, metadata and simulation keys are merged, and
    a water-level station without a simulation block gets a quiet river below its level I."""
    flat: dict[str, Any] = {k: item[k] for k in ("id", "name", "kind") if k in item}
    area = "unit_id" if "unit_id" in Device.model_fields else "unit_id"  # the fleet's area key
    if "unit" in item:
        flat[area] = item["unit"]
    location = item.get("location")
    if isinstance(location, dict):
        flat.update({k: location[k] for k in ("lon", "lat") if k in location})
    if item.get("expected_interval_s") is not None:
        flat["interval_s"] = item["expected_interval_s"]
    metadata = dict(item.get("metadata") or {})
    for key in ("levels_source", "alarm_levels_version", "vendor", "model", "serial",
                "installed", "owner", "note", "event_driven"):
        metadata.pop(key, None)  # registry-only keys the simulator has no use for
    flat.update(metadata)
    simulation = dict(item.get("simulation") or {})
    levels = metadata.get("alarm_levels")
    if flat.get("kind") == "water_level" and isinstance(levels, dict) and \
            isinstance(levels.get("I"), int | float):
        simulation.setdefault("normal_level_m", round(levels["I"] - 2.5, 2))
        simulation.setdefault("catchment", [flat.get(area)])
        simulation.setdefault("response_lag_h", 1.0)
        simulation.setdefault("response_spread_h", 1.0)
    flat.update(simulation)
    return flat


def load_fleet(path: Path | str | None = None) -> Fleet:
    """Read and validate a fleet file (default: the demo province's)."""
    import yaml

    path = Path(path) if path else DEFAULT_FLEET_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise FleetError(f"{path}: cannot read the fleet file ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise FleetError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise FleetError(f"{path}: expected a mapping at the top level")
    return fleet_from_data(raw, source=str(path))


def fleet_from_data(raw: dict[str, Any], source: str = "<fleet>") -> Fleet:
    try:
        return Fleet.model_validate(raw)
    except ValidationError as err:
        raise FleetError(f"{source}: " + "; ".join(_describe(e, raw) for e in err.errors())) \
            from None


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    """One validation error as 'devices[3] (wl-xyz): alarm_levels: must increase ...'."""
    loc = list(error["loc"])
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "devices" and isinstance(loc[1], int):
        index = loc[1]
        devices = raw.get("devices") or []
        device_id = devices[index].get("id") if index < len(devices) and isinstance(
            devices[index], dict) else None
        parts.append(f"devices[{index}] ({device_id or 'no id'})")
        # drop the discriminator tag pydantic puts after the index
        loc = loc[3:] if len(loc) > 2 and loc[2] in KIND_FAMILY else loc[2:]
    elif loc:
        parts.append(".".join(str(x) for x in loc))
        loc = []
    field = ".".join(str(x) for x in loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return ": ".join([*parts, field, message] if field else [*parts, message])
