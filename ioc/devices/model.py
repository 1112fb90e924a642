"""One entry of the device registry, validated: the shape every registry file describes.

`RegistryEntry` holds the columns of the devices table; `metadata` is checked against the
model of the entry's kind (`METADATA_MODELS`), so a water-level station without alarm levels
or a visitor counter without a capacity is refused with the field named. `simulation` is an
optional block only the simulator reads; ioc stores nothing of it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FAMILIES: tuple[str, ...] = ("environment", "disaster", "camera", "tourism")

# The kinds ioc knows, with their family and the usual seconds between two reports.
KINDS: dict[str, tuple[str, int]] = {
    "air_quality": ("environment", 60),
    "weather": ("environment", 120),
    "rain_gauge": ("disaster", 300),
    "water_level": ("disaster", 300),
    "landslide": ("disaster", 600),
    "camera": ("camera", 60),
    "visitor_counter": ("tourism", 60),
    "accommodation": ("tourism", 900),
}
DEFAULT_INTERVAL_S = 60  # a kind ioc does not know, with no expected_interval_s given

# The devices table's CHECK: letters, digits, `_ . : -`. Also the MQTT user name, so no `/+#`.
DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# A unit (commune) code as in the official list (e.g. "02680"), or a province's own key.
UNIT_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
KIND = r"^[a-z][a-z0-9_]{0,39}$"
# MQTT accounts of ioc's own services (deploy/mosquitto/make-passwd.sh): never a device id.
RESERVED_IDS = frozenset({"ioc-ingest", "ioc-alerts", "ioc-web", "ioc-sim", "ioc-health",
                          "frigate"})


class Model(BaseModel):
    """Base of every registry shape: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AlarmLevels(Model):
    """Báo động I < II < III in metres above the station's datum (Decision 05/2020/QĐ-TTg)."""

    I: float = Field(description="Alarm level I (báo động I), metres.")  # noqa: E741
    II: float = Field(description="Alarm level II (báo động II), metres.")
    III: float = Field(description="Alarm level III (báo động III), metres.")

    @model_validator(mode="after")
    def _rising(self) -> AlarmLevels:
        if not self.I < self.II < self.III:
            raise ValueError(f"must rise I < II < III, got {self.I:g}, {self.II:g}, {self.III:g}")
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.I, self.II, self.III)


class Location(Model):
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS 84 degrees.")
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS 84 degrees.")


class CommonMetadata(Model):
    """Keys any device may carry."""

    elevation_m: float | None = Field(None, ge=-100, le=9000, description="Metres above sea level.")
    protocol: Literal["ioc-json", "senml", "frigate"] | None = Field(
        None, description="Payload format the device sends (docs/payloads.md).")
    vendor: str | None = Field(None, max_length=200, description="Manufacturer.")
    model: str | None = Field(None, max_length=200, description="Model name.")
    serial: str | None = Field(None, max_length=200, description="Serial number.")
    installed: dt.date | None = Field(None, description="Installation date.")
    owner: str | None = Field(None, max_length=200, description="Agency that runs the device.")
    note: str | None = Field(None, max_length=1000, description="Free text for operators.")


class WaterLevelMetadata(CommonMetadata):
    river: str = Field(min_length=1, max_length=200, description="River (sông Hồng, ...).")
    datum: str = Field(min_length=1, max_length=200,
                       description="Height datum of the levels (e.g. VN-2000, station zero).")
    alarm_levels: AlarmLevels
    levels_source: str | None = Field(
        None, max_length=500, description="Where the alarm levels come from (decision, annex).")
    alarm_levels_version: int | None = Field(
        None, ge=1, description="Set by ioc: the version of the levels in the history.")


class RainGaugeMetadata(CommonMetadata):
    river: str | None = Field(None, max_length=200, description="Basin the gauge belongs to.")


class LandslideWarning(Model):
    soil_moisture_pct: float = Field(90, gt=0, le=100, description="Saturated soil, %.")
    tilt_deg: float = Field(1.5, gt=0, description="Tilt change meaning the slope moves.")
    displacement_mm: float = Field(20, gt=0, description="Displacement meaning danger.")


class LandslideMetadata(CommonMetadata):
    warning: LandslideWarning | None = None


class CameraMetadata(CommonMetadata):
    zones: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] = Field(
        min_length=1, description="Zones the camera watches (Frigate zone names).")
    lpr: bool = Field(False, description="Reads licence plates.")
    site: str | None = Field(None, description="Visitor counter of the same site, if any.")
    place: str | None = Field(None, max_length=100, description="Kind of place watched.")
    event_driven: bool | None = Field(
        None, description="Speaks only when it tracks something (Frigate): never 'silent'.")


class VisitorCounterMetadata(CommonMetadata):
    capacity: int = Field(gt=0, description="Safe number of people on site.")


class AccommodationMetadata(CommonMetadata):
    capacity: int | None = Field(None, gt=0, description="Beds.")
    rooms: int | None = Field(None, gt=0, description="Rooms.")


class EnvironmentMetadata(CommonMetadata):
    pass


class OtherMetadata(CommonMetadata):
    """A kind ioc does not know: the common keys checked, anything else kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)


METADATA_MODELS: dict[str, type[CommonMetadata]] = {
    "air_quality": EnvironmentMetadata,
    "weather": EnvironmentMetadata,
    "rain_gauge": RainGaugeMetadata,
    "water_level": WaterLevelMetadata,
    "landslide": LandslideMetadata,
    "camera": CameraMetadata,
    "visitor_counter": VisitorCounterMetadata,
    "accommodation": AccommodationMetadata,
}


def metadata_model(kind: str) -> type[CommonMetadata]:
    return METADATA_MODELS.get(kind, OtherMetadata)


class RegistryEntry(Model):
    """One device as a province registers it."""

    id: str = Field(pattern=DEVICE_ID, description="Device id; also its MQTT user name.")
    name: str = Field(min_length=1, max_length=200, description="Name with Vietnamese diacritics.")
    family: Literal["environment", "disaster", "camera", "tourism"] | None = Field(
        None, description="Topic family; may be left out for a kind ioc knows.")
    kind: str = Field(pattern=KIND, description="water_level, rain_gauge, camera, ...")
    unit: str | None = Field(None, pattern=UNIT_CODE,
                             description="Code of the commune-level unit the device stands in.")
    location: Location | None = None
    expected_interval_s: int | None = Field(
        None, gt=0, le=7 * 86400, description="Seconds between two reports (silence rule).")
    metadata: dict[str, Any] = Field(default_factory=dict,
                                     description="The kind's metadata (see METADATA_MODELS).")
    simulation: dict[str, Any] | None = Field(
        None, description="Simulator-only settings; ignored by ioc.")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED_IDS:
            raise ValueError(f"{v!r} is the MQTT account of an ioc service")
        return v

    @model_validator(mode="after")
    def _family(self) -> RegistryEntry:
        known = KINDS.get(self.kind)
        if known is None:
            if self.family is None:
                raise ValueError(f"family is required for kind {self.kind!r} "
                                 f"(known kinds: {', '.join(KINDS)})")
        elif self.family is not None and self.family != known[0]:
            raise ValueError(f"kind {self.kind} belongs to family {known[0]}, not {self.family}")
        return self

    @property
    def device_family(self) -> str:
        return self.family or KINDS[self.kind][0]

    @property
    def interval_s(self) -> int:
        if self.expected_interval_s is not None:
            return self.expected_interval_s
        return KINDS.get(self.kind, ("", DEFAULT_INTERVAL_S))[1]

    @property
    def alarm_levels(self) -> AlarmLevels | None:
        raw = self.metadata.get("alarm_levels")
        return AlarmLevels.model_validate(raw) if isinstance(raw, dict) else None


def registry_file_schema() -> dict[str, Any]:
    """JSON Schema of a YAML/JSON registry file (`devices:` list), from the models above."""
    entry = RegistryEntry.model_json_schema(ref_template="#/$defs/{model}")
    defs = entry.pop("$defs", {})
    defs["RegistryEntry"] = entry
    for kind, model in METADATA_MODELS.items():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[f"metadata_{kind}"] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ioc.example/schemas/devices.schema.json",
        "title": "ioc device registry",
        "description": "A registry file: `devices`, a list of entries. The entry's `metadata` "
        "follows `metadata_<kind>` (see docs/devices.md); CSV and GeoJSON files carry the "
        "same fields.",
        "type": "object",
        "required": ["devices"],
        "properties": {
            "devices": {"type": "array", "items": {"$ref": "#/$defs/RegistryEntry"}},
        },
        "additionalProperties": False,
        "$defs": defs,
    }
