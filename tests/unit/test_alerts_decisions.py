"""The pure decisions behind every rule type: levels, durations, hysteresis, silence, cameras,
rain, air quality, escalation, storm control, titles."""

from __future__ import annotations

import pytest

from alerts.decisions import (
    Decision,
    Device,
    Incident,
    SubjectState,
    aqi_alert_category,
    bind,
    camera_occurrence,
    camera_subject,
    decide,
    escalation_due,
    level_of,
    rain_alert_level,
    rain_trigger,
    raised,
    render_title,
    should_open,
    should_resolve,
    silent_for,
    storm_due,
    storm_subject,
    worst,
)
from alerts.rules import StormConfig, load_rules, parse_rule

RULES = load_rules()
STATION = Device("wl-1", "disaster", "water_level", "Trạm Lào Cai", "lao_cai_city",
                 metadata={"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}})
SITE = Device("cnt-1", "tourism", "visitor_counter", "Quảng trường", "sa_pa",
              metadata={"capacity": 1000})
SLOPE = Device("ls-1", "disaster", "landslide", "Đèo", "sa_pa",
               metadata={"warning": {"tilt_deg": 1.5, "displacement_mm": 20}})


def test_level_of_with_hysteresis_both_directions():
    up = (10.0, 20.0)
    assert [level_of(v, up) for v in (9.9, 10, 19.9, 20, 99)] == [0, 1, 1, 2, 2]
    assert level_of(9.8, up, current=1, hysteresis=0.5) == 1  # held
    assert level_of(9.4, up, current=1, hysteresis=0.5) == 0
    assert level_of(19.6, up, current=2, hysteresis=0.5) == 2
    assert level_of(19.4, up, current=2, hysteresis=0.5) == 1
    down = (20.0, 10.0)  # lower is worse (e.g. battery %)
    assert [level_of(v, down, above=False) for v in (25, 20, 15, 10, 1)] == [0, 1, 1, 2, 2]
    assert level_of(20.3, down, above=False, current=1, hysteresis=0.5) == 1
    assert level_of(20.6, down, above=False, current=1, hysteresis=0.5) == 0


def test_water_level_binding_uses_the_stations_alarm_levels():
    b = bind(RULES.rule("water_level_alarm"), STATION)
    assert b.thresholds == (80.0, 82.0, 83.5) and b.severities == ("moderate", "severe", "extreme")
    assert bind(RULES.rule("water_level_alarm"), SITE) is None  # no alarm levels
    broken = Device("wl-2", "disaster", "water_level", "x", metadata={"alarm_levels": [3, 2, 1]})
    assert bind(RULES.rule("water_level_alarm"), broken) is None
    s0 = SubjectState()
    assert decide(b, s0, 79.0, 0) == Decision("none")
    assert decide(b, s0, 80.2, 0) == Decision("open", 1)
    assert decide(b, SubjectState(1), 82.5, 0) == Decision("open", 2)
    assert decide(b, SubjectState(2), 81.97, 0) == Decision("open", 2)  # within 5 cm: hold II
    assert decide(b, SubjectState(2), 79.0, 0) == Decision("resolve")
    assert should_open(b, s0, 83.6, 0) == 3
    assert should_resolve(b, SubjectState(1), 79.97) is False  # hysteresis 0.05 m
    assert should_resolve(b, SubjectState(1), 79.94) is True


def test_capacity_and_relative_thresholds_scale_with_metadata():
    cap = bind(RULES.rule("site_over_capacity"), SITE)
    assert cap.thresholds == (900.0, 1000.0, 1200.0) and cap.hysteresis == 50.0
    tilt = bind(RULES.rule("landslide_sensor"), SLOPE)
    assert tilt.thresholds == (1.5, 3.0) and tilt.hysteresis == pytest.approx(0.15)
    assert bind(RULES.rule("landslide_sensor"), STATION) is None  # not selected (kind)
    no_warning = Device("ls-2", "disaster", "landslide", "x", metadata={})
    assert bind(RULES.rule("landslide_sensor"), no_warning) is None


def test_duration_then_open_and_pending_cleared():
    b = bind(RULES.rule("site_over_capacity"), SITE)  # for_s: 120
    s = SubjectState()
    d = decide(b, s, 950, 1000.0)
    assert d == Decision("pending", 1, 1000.0)
    d = decide(b, SubjectState(0, 1000.0), 1010, 1100.0)
    assert d == Decision("pending", 2, 1000.0)  # the start is kept while it holds
    assert decide(b, SubjectState(0, 1000.0), 960, 1120.0) == Decision("open", 1, 1000.0)
    assert decide(b, SubjectState(0, 1000.0), 500, 1050.0) == Decision("clear_pending")
    # Once open, each reading counts on the alert straight away.
    assert decide(b, SubjectState(1), 1300, 2000.0) == Decision("open", 3)


def test_no_auto_resolve_leaves_the_alert_to_the_operator():
    rule = parse_rule({"id": "t", "type": "threshold", "metric": "pm25", "auto_resolve": False,
                       "levels": [{"value": 100, "severity": "severe"}]})
    b = bind(rule, SITE)
    assert decide(b, SubjectState(1), 10, 0) == Decision("none")


def test_rain_levels_over_windows_with_antecedent_and_hysteresis():
    rule = RULES.rule("rain_accumulation")
    assert rain_alert_level(rule, {1: 5, 12: 20, 24: 40}, 0) == 0
    assert rain_alert_level(rule, {1: 55, 12: 60, 24: 60}, 0) == 1
    assert rain_alert_level(rule, {1: 10, 12: 120, 24: 150}, 0) == 2
    assert rain_alert_level(rule, {1: 10, 12: 150, 24: 420}, 0) == 3
    # hysteresis 10 %: 12-hour 95 mm keeps level 2 (needs < 90 to drop)
    assert rain_alert_level(rule, {1: 0, 12: 95, 24: 150}, 2) == 2
    assert rain_alert_level(rule, {1: 0, 12: 85, 24: 150}, 2) == 1
    assert rain_trigger(rule, {1: 10, 12: 120, 24: 150}, 2) == (12, 120)


def test_air_quality_category_with_hysteresis():
    assert aqi_alert_category(90, 0, 3, 5) == 0
    assert aqi_alert_category(101, 0, 3, 5) == 3
    assert aqi_alert_category(160, 3, 3, 5) == 4
    assert aqi_alert_category(148, 4, 3, 5) == 4  # 148 + 5 is still Xấu: hold
    assert aqi_alert_category(140, 4, 3, 5) == 3
    assert aqi_alert_category(97, 3, 3, 5) == 3
    assert aqi_alert_category(94, 3, 3, 5) == 0


def test_silence():
    assert silent_for(None, 1000, 60, 3) is None  # never heard from
    assert silent_for(800, 1000, 60, 3) == 200  # 200 s > 3 intervals of 60 s
    assert silent_for(820, 1000, 60, 3) is None
    assert silent_for(700, 1000, 60, 3) == 300
    assert silent_for(700, 1000, 60, 3, min_silent_s=600) is None


def test_camera_occurrences():
    rule = RULES.rule("camera_incidents")
    fire = Incident("cam-1", "fire", "new", "e1", 0.9)
    assert camera_occurrence(rule, fire, seen_before=False) == "extreme"
    assert camera_subject(fire) == "cam-1:fire"
    assert camera_occurrence(rule, Incident("cam-1", "fire", "update", "e1", 0.95), True) is None
    assert camera_occurrence(rule, Incident("cam-1", "fire", "update", "e2", 0.95),
                             False) == "extreme"  # its "new" message went to another worker
    assert camera_occurrence(rule, Incident("cam-1", "fire", "end", "e1", 0.9), True) is None
    assert camera_occurrence(rule, Incident("cam-1", "person", "new", "e3", 0.9), False) is None
    assert camera_occurrence(rule, Incident("cam-1", "fire", "new", "e4", 0.2), False) is None
    assert camera_occurrence(rule, Incident("cam-1", "fire", "new", "e5", None), False)
    assert camera_occurrence(rule, Incident("cam-1", "fire", "new", "e6", 0.9,
                                            false_positive=True), False) is None


def test_escalation_steps():
    steps = RULES.rule("water_level_alarm").escalation  # 600 s, then 1800 s
    assert escalation_due(steps, 0, 0, 599) is None
    number, step = escalation_due(steps, 0, 0, 600)
    assert (number, step.notify) == (1, "truc_ban")
    assert escalation_due(steps, 0, 1, 1000) is None
    assert escalation_due(steps, 0, 1, 1800)[0] == 2
    assert escalation_due(steps, 0, 2, 99999) is None
    assert raised("moderate") == "severe" and raised("extreme") == "extreme"
    assert worst(["minor", "extreme", "moderate"]) == "extreme" and worst([]) == "info"


def test_storm_decision():
    cfg = StormConfig(window_s=300, min_alerts=5, kinds=["camera_incident"])
    assert not storm_due(cfg, "camera_incident", 4, False)
    assert storm_due(cfg, "camera_incident", 5, False)
    assert storm_due(cfg, "camera_incident", 1, True)  # a parent is open: join it
    assert not storm_due(cfg, "water_level", 50, False)  # kind not grouped
    assert not storm_due(StormConfig(enabled=False), "x", 50, True)
    assert storm_subject("camera_incident", None) == "camera_incident:province"


def test_titles_never_raise():
    # the stored title is Vietnamese: decimal comma, dot for thousands
    assert render_title("{name}: {value:.1f} m", "d", name="A", value=2.345) == "A: 2,3 m"
    assert render_title("{n:,.0f} người", "d", n=12000.0) == "12.000 người"
    assert render_title("{name}: {value:.1f}", "default", name="A", value=None) == "default"
    assert render_title("{name} {level_name}", "d", name="A") == "A ?"
    assert render_title(None, "default") == "default"


def test_a_title_keeps_its_templates_and_fields_for_other_languages():
    from dataclasses import replace

    from alerts.decisions import RenderedTitle, TitleTemplates
    from alerts.queries import title_in
    from tests.unit.test_dash_wall_and_health import _alert

    title = render_title(TitleTemplates("{name}: mực nước {value:.2f} m",
                                        "{name}: water level {value:.2f} m"),
                         "d", name="Trạm Lào Cai", value=84.2, device=object())
    assert isinstance(title, RenderedTitle) and title == "Trạm Lào Cai: mực nước 84,20 m"
    assert title.i18n["params"] == {"name": "Trạm Lào Cai", "value": 84.2}  # JSON-safe only
    alert = replace(_alert(1, "extreme"), title=str(title), details={"title_i18n": title.i18n})
    assert title_in(alert, "en") == "Trạm Lào Cai: water level 84.20 m"
    assert title_in(alert, "vi") == "Trạm Lào Cai: mực nước 84,20 m"
    # older alerts, a rule with no English template, a broken template: the stored title
    assert title_in(_alert(2, "severe"), "en") == "Alert 2"
    no_en = render_title(TitleTemplates("{name}", None), "d", name="X")
    assert title_in(replace(alert, details={"title_i18n": no_en.i18n}), "en") == alert.title
    broken = {"templates": {"en": "{value:.2f}"}, "params": {"value": "?"}}
    assert title_in(replace(alert, details={"title_i18n": broken}), "en") == alert.title


def test_reopen_only_what_a_person_resolved_recently():
    from alerts.decisions import should_reopen

    assert should_reopen("op.lan", 1000.0, 1100.0, 3600)
    assert not should_reopen("op.lan", 1000.0, 1000.0 + 3600, 3600)  # long enough ago
    assert not should_reopen("system", 1000.0, 1001.0, 3600)  # the condition had cleared
    assert not should_reopen("cap", 1000.0, 1001.0, 3600)  # the warning was cancelled
    assert not should_reopen("op.lan", 1000.0, 1001.0, 0)  # the rule says never
    assert not should_reopen(None, None, 1001.0, 3600)
