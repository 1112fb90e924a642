"""FIWARE Smart Data Models as NGSI-LD entities: devices' latest values and active alerts.

Pure mapping from our rows to entities (no I/O), in the normalised form (`{"type":
"Property", "value": ...}`) or the simplified/keyValues form. Entity ids are
`urn:ngsi-ld:<Type>:<device_id>` (alerts: `urn:ngsi-ld:Alert:<alert id>`). Attribute names
and units follow the Smart Data Models (dataModel.Environment, dataModel.Weather,
dataModel.Alert); relative humidity is a fraction (0..1) as the models define it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ioc.domain.aqi import category as aqi_category
from ioc.domain.water_level import LEVEL_NAMES, AlarmLevels, alarm_level

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
SDM_CONTEXT = "https://smartdatamodels.org/context.jsonld"
CONTEXT = [SDM_CONTEXT, CORE_CONTEXT]
CONTEXT_LINK = (
    f'<{SDM_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
)


@dataclass(frozen=True)
class Attribute:
    """How one of our metrics becomes an attribute of a Smart Data Model."""

    name: str
    unit_code: str | None = None  # UN/CEFACT common code
    scale: float = 1.0


# Device kinds exported per entity type, and their metric -> attribute table.
AIR = {
    "pm25": Attribute("pm25", "GQ"),  # µg/m³
    "pm10": Attribute("pm10", "GQ"),
    "no2": Attribute("no2", "GQ"),
    "o3": Attribute("o3", "GQ"),
    "co": Attribute("co", "GQ"),
    "so2": Attribute("so2", "GQ"),
    "temperature": Attribute("temperature", "CEL"),
    "humidity": Attribute("relativeHumidity", None, 0.01),
    "wind_speed": Attribute("windSpeed", "MTS"),
    "wind_dir": Attribute("windDirection", "DD"),
}
WEATHER = {
    "temperature": Attribute("temperature", "CEL"),
    "humidity": Attribute("relativeHumidity", None, 0.01),
    "wind_speed": Attribute("windSpeed", "MTS"),
    "wind_dir": Attribute("windDirection", "DD"),
    "pressure": Attribute("atmosphericPressure", "A97"),  # hPa
    "rain_mm": Attribute("precipitation", "MMT"),  # mm since the station's previous report
}
FLOOD = {"water_level_m": Attribute("currentLevel", "MTR")}


@dataclass(frozen=True)
class EntityType:
    name: str
    kinds: tuple[str, ...]
    attributes: Mapping[str, Attribute]
    time_attribute: str


DEVICE_TYPES: dict[str, EntityType] = {
    "AirQualityObserved": EntityType("AirQualityObserved", ("air_quality",), AIR, "dateObserved"),
    "WeatherObserved": EntityType(
        "WeatherObserved", ("weather", "rain_gauge"), WEATHER, "dateObserved"
    ),
    "FloodMonitoring": EntityType(
        "FloodMonitoring", ("water_level",), FLOOD, "observationDateTime"
    ),
}
ALERT_TYPE = "Alert"
ENTITY_TYPES = (*DEVICE_TYPES, ALERT_TYPE)

# Our alert severities and families in the Alert model's vocabularies.
SEVERITY = {
    "info": "informational",
    "minor": "low",
    "moderate": "medium",
    "severe": "high",
    "extreme": "critical",
}
CATEGORY = {
    "disaster": "naturalDisaster",
    "environment": "environment",
    "camera": "security",
    "tourism": "security",
}
SUB_CATEGORY = {
    "water_level": "flood",
    "flood": "flood",
    "landslide": "landslide",
    "rain": "rainfall",
    "heavy_rain": "rainfall",
    "air_quality": "airPollution",
    "aqi": "airPollution",
    "crowd": "crowdRisk",
    "fire": "buildingFire",
    "forest_fire": "forestFire",
}
FLOOD_STATUS = ("normal", "alarmLevelI", "alarmLevelII", "alarmLevelIII")


def entity_id(type_name: str, local_id: str | int) -> str:
    return f"urn:ngsi-ld:{type_name}:{local_id}"


def split_entity_id(urn: str) -> tuple[str, str] | None:
    """(type, local id) of `urn:ngsi-ld:<Type>:<id>`, or None."""
    parts = urn.split(":", 3)
    if len(parts) != 4 or parts[0] != "urn" or parts[1] != "ngsi-ld" or not parts[3]:
        return None
    return parts[2], parts[3]


def ngsi_time(value: dt.datetime) -> str:
    """NGSI-LD DateTime: UTC with a `Z`."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _unix(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


class _Builder:
    """Adds attributes in the normalised or the simplified form."""

    def __init__(self, type_name: str, local_id: str | int, key_values: bool) -> None:
        self.key_values = key_values
        self.entity: dict = {"id": entity_id(type_name, local_id), "type": type_name}

    def prop(
        self, name: str, value, *, observed: dt.datetime | None = None, unit: str | None = None
    ) -> None:
        if value is None:
            return
        if self.key_values:
            self.entity[name] = value
            return
        attr: dict = {"type": "Property", "value": value}
        if observed is not None:
            attr["observedAt"] = ngsi_time(observed)
        if unit:
            attr["unitCode"] = unit
        self.entity[name] = attr

    def time(self, name: str, value: dt.datetime | None) -> None:
        if value is None:
            return
        text = ngsi_time(value)
        if self.key_values:
            self.entity[name] = text
        else:
            self.entity[name] = {"type": "Property", "value": {"@type": "DateTime", "@value": text}}

    def geo(self, lon: float | None, lat: float | None) -> None:
        if lon is None or lat is None:
            return
        point = {"type": "Point", "coordinates": [lon, lat]}
        self.entity["location"] = (
            point if self.key_values else {"type": "GeoProperty", "value": point}
        )


def device_entity(
    type_name: str,
    device: Mapping,
    latest: Mapping[str, tuple[object, float]],
    *,
    key_values: bool,
) -> dict:
    """One device as an entity; `latest` maps metric -> (value, unix time) from the live store."""
    etype = DEVICE_TYPES[type_name]
    b = _Builder(type_name, device["device_id"], key_values)
    b.prop("name", device.get("name"))
    b.geo(device.get("lon"), device.get("lat"))
    b.prop("areaServed", device.get("unit_id"))
    newest: dt.datetime | None = None
    for metric, attr in etype.attributes.items():
        if metric not in latest:
            continue
        value, t = latest[metric]
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        observed = _unix(t)
        newest = observed if newest is None or observed > newest else newest
        b.prop(attr.name, round(value * attr.scale, 6), observed=observed, unit=attr.unit_code)
    if type_name == "AirQualityObserved" and device.get("aqi") is not None:
        b.prop("airQualityIndex", device["aqi"], observed=device.get("aqi_time"))
        b.prop(
            "airQualityLevel",
            aqi_category(device["aqi"]).name_en.lower(),
            observed=device.get("aqi_time"),
        )
    if type_name == "FloodMonitoring":
        _flood_levels(b, device, latest)
    b.time(etype.time_attribute, newest)
    return b.entity


def _flood_levels(b: _Builder, device: Mapping, latest: Mapping[str, tuple[object, float]]) -> None:
    b.prop("stationID", device["device_id"])
    try:
        levels = AlarmLevels.from_metadata(device.get("metadata") or {})
    except ValueError:
        levels = None
    if levels is None:
        return
    b.prop("alertLevel", levels.level_1, unit="MTR")
    b.prop("dangerLevel", levels.level_3, unit="MTR")
    b.prop(
        "alarmLevels",
        dict(zip(LEVEL_NAMES, (levels.level_1, levels.level_2, levels.level_3), strict=True)),
    )
    current = latest.get("water_level_m")
    if current is not None and isinstance(current[0], int | float):
        b.prop(
            "floodLevelStatus",
            FLOOD_STATUS[alarm_level(float(current[0]), levels)],
            observed=_unix(current[1]),
        )


def _sub_category(kind: str) -> str:
    if kind in SUB_CATEGORY:
        return SUB_CATEGORY[kind]
    head, *rest = kind.split("_")
    return head + "".join(part.capitalize() for part in rest)


def alert_entity(alert: Mapping, *, key_values: bool) -> dict:
    """One alert as a dataModel.Alert entity."""
    b = _Builder(ALERT_TYPE, alert["id"], key_values)
    b.prop("category", CATEGORY.get(alert.get("family") or "", "security"))
    b.prop("subCategory", _sub_category(alert["kind"]))
    b.prop("severity", SEVERITY.get(alert["severity"], "informational"))
    b.prop("description", alert.get("title"))
    b.prop("areaServed", alert.get("unit_id"))
    b.time("dateIssued", alert.get("opened_at"))
    b.time("validFrom", alert.get("opened_at"))
    b.time("validTo", alert.get("resolved_at"))
    b.time("dateModified", alert.get("last_seen_at"))
    if alert.get("device_id"):
        b.prop("alertSource", entity_id("Device", alert["device_id"]))
    b.geo(alert.get("lon"), alert.get("lat"))
    return b.entity
