"""Simulator scenarios: what happens when (the fleet file says where)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Storm:
    """Heavy rain over the fleet's flood.storm_units; its flood stations pass I, II, III."""

    after_s: float = 300.0  # rain starts this long after the simulation starts
    duration_s: float = 6 * 3600.0
    peak_mm_h: float = 45.0  # unit_id rain rate at the storm's height
    peak_above_iii_m: float = 0.6  # every flood station peaks this far above alarm level III
    landslide_api_mm: float = 90.0  # antecedent rain above which slopes start to move


@dataclass(frozen=True)
class Surge:
    """A festival: crowds at the fleet's festival.sites grow past their capacity."""

    after_s: float = 300.0
    ramp_s: float = 1800.0  # arrivals grow to the surge rate over this time
    duration_s: float = 4 * 3600.0
    peak_occupancy_ratio: float = 1.5  # steady-state occupancy / capacity at the surge rate
    checkin_factor: float = 2.5  # check-ins in festival.units


@dataclass(frozen=True)
class Incidents:
    """Scripted camera incidents: fire and smoke, a fight, a wanted plate crossing cameras."""

    after_s: float = 120.0
    repeat_s: float = 6 * 3600.0  # the script plays again every this many seconds
    fire_duration_s: float = 900.0
    fight_duration_s: float = 180.0
    vehicle_speed_kmh: float = 35.0  # sets the gaps between sightings of the wanted plate


@dataclass(frozen=True)
class Outage:
    """Every device of the fleet's outage.unit_id drops (offline status, then silence)."""

    after_s: float = 180.0
    duration_s: float = 5400.0


@dataclass(frozen=True)
class Scenario:
    """A named combination of happenings on top of normal daily life."""

    name: str
    title: str
    description: str
    storm: Storm | None = None
    surge: Surge | None = None
    incidents: Incidents | None = None
    outage: Outage | None = None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "normal",
            "Normal day",
            "Daily cycles of air quality, weather, crowds and traffic; occasional showers and "
            "camera incidents; rare device faults.",
        ),
        Scenario(
            "flood",
            "Flood",
            "Six hours of heavy rain over the west and south of the province; rivers rise "
            "through alarm levels I, II and III station by station; saturated slopes start to "
            "move and landslide sensors warn.",
            storm=Storm(),
        ),
        Scenario(
            "festival",
            "Festival",
            "A festival draws crowds beyond the capacity of the named sites for four hours; "
            "cameras there report crowding; check-ins rise.",
            surge=Surge(),
        ),
        Scenario(
            "incident",
            "Security incidents",
            "Smoke then fire at a market, a fight at a night market, and a wanted licence plate "
            "seen by one camera after another from the border gate towards Sa Pa.",
            incidents=Incidents(),
        ),
        Scenario(
            "outage",
            "Unit outage",
            "All devices of one unit go offline for 90 minutes (power or network loss), "
            "then come back.",
            outage=Outage(),
        ),
    )
}
