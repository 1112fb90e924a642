"""NGSI-LD entities from our rows (pure mapping): ids, Smart Data Model attributes, both forms."""

from __future__ import annotations

import datetime as dt

from dashboards.api import ngsi_ld

T = dt.datetime(2025, 6, 1, 1, 0, tzinfo=dt.UTC).timestamp()
STATION = {
    "device_id": "wl-sapa-01",
    "name": "Trạm thủy văn",
    "lon": 103.86,
    "lat": 22.31,
    "unit_id": "sa_pa",
    "metadata": {"alarm_levels": [80, 82, 83.5]},
}


def test_entity_ids_round_trip():
    urn = ngsi_ld.entity_id("FloodMonitoring", "wl-sapa-01")
    assert urn == "urn:ngsi-ld:FloodMonitoring:wl-sapa-01"
    assert ngsi_ld.split_entity_id(urn) == ("FloodMonitoring", "wl-sapa-01")
    assert ngsi_ld.split_entity_id("urn:ngsi-ld:Device:a:b") == ("Device", "a:b")
    for bad in ("wl-sapa-01", "urn:other:X:1", "urn:ngsi-ld:X:", "urn:ngsi-ld:X"):
        assert ngsi_ld.split_entity_id(bad) is None


def test_flood_station_normalised():
    e = ngsi_ld.device_entity(
        "FloodMonitoring", STATION, {"water_level_m": (82.3, T)}, key_values=False
    )
    assert e["id"] == "urn:ngsi-ld:FloodMonitoring:wl-sapa-01" and e["type"] == "FloodMonitoring"
    assert e["currentLevel"] == {
        "type": "Property",
        "value": 82.3,
        "observedAt": "2025-06-01T01:00:00Z",
        "unitCode": "MTR",
    }
    assert e["alertLevel"]["value"] == 80 and e["dangerLevel"]["value"] == 83.5
    assert e["floodLevelStatus"]["value"] == "alarmLevelII"
    assert e["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [103.86, 22.31]},
    }
    assert e["observationDateTime"]["value"] == {
        "@type": "DateTime",
        "@value": "2025-06-01T01:00:00Z",
    }


def test_air_quality_key_values_with_units_converted_and_aqi():
    device = {
        "device_id": "aq-1",
        "name": "AQ",
        "lon": None,
        "lat": None,
        "unit_id": None,
        "aqi": 76,
        "aqi_time": dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC),
    }
    latest = {"pm25": (38.2, T), "humidity": (83.0, T - 60), "noise": (55.0, T), "pm10": ("x", T)}
    e = ngsi_ld.device_entity("AirQualityObserved", device, latest, key_values=True)
    assert e["pm25"] == 38.2 and e["relativeHumidity"] == 0.83
    assert "noise" not in e and "pm10" not in e and "location" not in e
    assert e["airQualityIndex"] == 76 and e["airQualityLevel"] == "moderate"
    assert e["dateObserved"] == "2025-06-01T01:00:00Z"


def test_weather_station_without_values_has_no_observation_time():
    e = ngsi_ld.device_entity(
        "WeatherObserved", {**STATION, "device_id": "wx"}, {}, key_values=True
    )
    assert set(e) == {"id", "type", "name", "location", "areaServed"}


def test_alert_in_the_alert_model_vocabulary():
    alert = {
        "id": 7,
        "kind": "water_level",
        "family": "disaster",
        "severity": "extreme",
        "title": "Báo động III",
        "unit_id": "sa_pa",
        "device_id": "wl-sapa-01",
        "opened_at": dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC),
        "last_seen_at": dt.datetime(2025, 6, 1, 2, tzinfo=dt.UTC),
        "resolved_at": None,
        "lon": 103.86,
        "lat": 22.31,
    }
    e = ngsi_ld.alert_entity(alert, key_values=True)
    assert e["id"] == "urn:ngsi-ld:Alert:7"
    assert (e["category"], e["subCategory"], e["severity"]) == (
        "naturalDisaster",
        "flood",
        "critical",
    )
    assert e["alertSource"] == "urn:ngsi-ld:Device:wl-sapa-01" and "validTo" not in e
    other = ngsi_ld.alert_entity(
        {**alert, "kind": "device_silent", "family": "environment", "severity": "minor"},
        key_values=False,
    )
    assert other["subCategory"]["value"] == "deviceSilent"
    assert other["category"]["value"] == "environment" and other["severity"]["value"] == "low"
