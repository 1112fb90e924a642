"""The police queue's decision (police.rules.decide): what enters, with which priority."""

from __future__ import annotations

import pytest

from evidence.privacy import plate_key
from police.rules import (
    Detection,
    RulesError,
    incident_type,
    load_rules,
    parse_rules,
)
from police.rules import decide as decide_with

RULES = load_rules()


def decide(**kw):
    watch = kw.pop("watch", None)
    return decide_with(Detection(**{"device_id": "cam-x", **kw}), RULES, watch)


@pytest.mark.parametrize("kind, priority", [
    ("fire", 90), ("smoke", 80), ("fight", 70), ("accident", 70), ("intrusion", 60),
    ("wanted_plate", 95), ("traffic_violation", 30),
])
def test_incidents_that_need_a_decision_enter(kind, priority):
    d = decide(type=kind, confidence=0.9)
    assert d is not None and d.priority == priority and d.rule == kind


@pytest.mark.parametrize("kind", ["person", "car", "motorcycle", "truck", "bus", "crowd"])
def test_ordinary_detections_do_not(kind):
    assert decide(type=kind, confidence=0.95, zones=("stalls",), plate_key="24A12345") is None


def test_a_person_in_a_closed_zone_is_an_intrusion_to_check():
    assert decide(type="person", zones=("loading_bay",), confidence=0.9).priority == 55
    assert decide(type="person", zones=("stalls", "inspection"), confidence=0.9).rule == "person"
    # too unsure, or in an open zone: not queued
    assert decide(type="person", zones=("loading_bay",), confidence=0.5) is None
    assert decide(type="person", zones=("stalls",), confidence=0.99) is None


def test_rules_per_camera():
    assert decide(type="crowd", device_id="cam-ts-sa-pa-square").priority == 20
    assert decide(type="crowd", device_id="cam-jn-coc-leu") is None


def test_a_watchlist_hit_is_first_whatever_its_type():
    watch = {plate_key("24A-686.68"): 7}
    d = decide(type="car", plate_key=plate_key("24A68668"), watch=watch)
    assert (d.priority, d.rule, d.watchlist_id) == (100, "watchlist", 7)
    # the same plate typed by the recogniser as wanted: still the hit, still its list entry
    d = decide(type="wanted_plate", plate_key="24A68668", watch=watch)
    assert (d.priority, d.rule, d.watchlist_id) == (100, "watchlist", 7)
    assert decide(type="car", plate_key="24A68669", watch=watch) is None


def test_a_rule_above_the_watchlist_keeps_the_hit():
    rules = parse_rules({"watchlist_priority": 50,
                         "rules": [{"type": "fire", "priority": 90}]}, "test")
    d = decide_with(Detection("c", "fire", plate_key="24A68668"), rules, {"24A68668": 3})
    assert (d.priority, d.rule, d.watchlist_id) == (90, "fire", 3)


def test_false_positives_never_enter():
    assert decide(type="fire", false_positive=True) is None
    assert decide(type="car", plate_key="24A68668", false_positive=True,
                  watch={"24A68668": 1}) is None


def test_incident_type_like_the_sql():
    assert incident_type("car", {"type": "wanted_plate"}) == "wanted_plate"
    assert incident_type("person", {"sub_label": ["fight", 0.8]}) == "fight"
    assert incident_type("person", {"sub_label": "fight"}) == "fight"
    assert incident_type("person", {"sub_label": None}) == "person"
    assert incident_type("fire", {}) == "fire"


def test_bad_rules_are_named():
    with pytest.raises(RulesError, match=r"test: rules.0.priority"):
        parse_rules({"rules": [{"type": "fire", "priority": 0}]}, "test")
    with pytest.raises(RulesError, match=r"rules.0.colour"):
        parse_rules({"rules": [{"type": "fire", "priority": 5, "colour": "red"}]}, "test")
    with pytest.raises(RulesError, match="expected a mapping"):
        parse_rules([1], "test")
