"""A batch of live events folded into what the rules want written (alerts/batch.py, pure), and
the built-in titles stored as a template id + parameters (ioc/alert_titles.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.batch import (
    BatchPlan,
    SeenIncidents,
    camera_draft,
    draft,
    fold_incident,
    fold_readings,
    level_draft,
)
from alerts.decisions import (
    Device,
    Incident,
    TitleTemplates,
    bind,
    builtin_title,
    render_title,
    titles_of,
)
from alerts.queries import title_in
from alerts.rules import parse_rule
from ioc import alert_titles as titles
from tests.unit.test_alerts_decisions import STATION
from tests.unit.test_dash_wall_and_health import _alert

PM = parse_rule({"id": "pm25_high", "type": "threshold", "metric": "pm25",
                 "levels": [{"value": 100, "severity": "moderate"},
                            {"value": 200, "severity": "severe"}], "hysteresis": 10})
SLOW = parse_rule({"id": "pm25_slow", "type": "threshold", "metric": "pm25", "for_s": 60,
                   "levels": [{"value": 100, "severity": "moderate"}]})
AQ = Device("aq-1", "environment", "air_quality", "Trạm Cốc Lếu", "02683")
CAM = Device("cam-1", "camera", "camera", "Cổng chợ", "02683")
FIRE = parse_rule({"id": "fire", "type": "camera_incident", "labels": {"fire": "severe"}})


def _index(*rules):
    by_metric: dict = {}
    for rule in rules:
        b = bind(rule, AQ)
        by_metric.setdefault(rule.metric, {}).setdefault(AQ.device_id, []).append(b)
    return by_metric


def test_readings_open_count_and_keep_the_peak():
    plan, last_t = BatchPlan(), {}
    fold_readings(plan, [("aq-1", "pm25", 120, 1.0), ("aq-1", "pm25", 210, 2.0),
                         ("aq-1", "pm25", 195, 3.0), ("aq-1", "no2", 999, 3.0),
                         ("other", "pm25", 999, 3.0), ("bad",), ("aq-1", "pm25", True, 4.0)],
                  _index(PM), {}, {}, last_t)
    occ = plan.drafts[("pm25_high", "aq-1")]
    assert (occ.count, occ.level, occ.severity, occ.value, occ.peak, occ.first_time) == \
        (3, 2, "severe", 195.0, 210.0, 1.0)
    assert plan.readings == 7 and plan.level_now == {("pm25_high", "aq-1"): 2}
    assert not plan.resolves and not plan.empty
    assert last_t == {("aq-1", "pm25"): 3.0}


def test_the_last_reading_of_a_batch_decides_and_late_ones_say_nothing():
    plan, last_t = BatchPlan(), {("aq-1", "pm25"): 10.0}
    fold_readings(plan, [("aq-1", "pm25", 5, 9.0)], _index(PM), {("pm25_high", "aq-1"): 1}, {},
                  last_t)
    assert plan.empty  # older than what was seen: ignored
    fold_readings(plan, [("aq-1", "pm25", 95, 11.0)], _index(PM), {("pm25_high", "aq-1"): 1},
                  {}, last_t)
    key = ("pm25_high", "aq-1")
    assert (plan.drafts[key].count, plan.drafts[key].level) == (1, 1)  # 95 >= 100 - 10: held
    fold_readings(plan, [("aq-1", "pm25", 50, 12.0)], _index(PM), {("pm25_high", "aq-1"): 1},
                  {}, last_t)
    assert plan.resolves == {key: (50.0, 12.0)} and plan.level_now == {key: 0}
    fold_readings(plan, [("aq-1", "pm25", 150, 13.0)], _index(PM), {("pm25_high", "aq-1"): 1},
                  {}, last_t)
    assert not plan.resolves and plan.level_now == {key: 1}


def test_a_condition_pends_for_for_s_then_opens_or_clears():
    key = ("pm25_slow", "aq-1")
    plan = BatchPlan()
    fold_readings(plan, [("aq-1", "pm25", 150, 100.0), ("aq-1", "pm25", 150, 130.0)],
                  _index(SLOW), {}, {}, {})
    assert plan.pending_set == {key: (100.0, 1, 150.0)} and not plan.drafts
    plan = BatchPlan()
    fold_readings(plan, [("aq-1", "pm25", 150, 161.0)], _index(SLOW), {}, {key: 100.0}, {})
    assert plan.drafts[key].since == 100.0 and key in plan.pending_clear
    assert not plan.pending_set
    plan = BatchPlan()
    fold_readings(plan, [("aq-1", "pm25", 20, 140.0)], _index(SLOW), {}, {key: 100.0}, {})
    assert plan.pending_clear == {key} and not plan.drafts


def test_camera_incidents_count_once_per_incident():
    plan, seen = BatchPlan(), SeenIncidents(limit=2)
    for event_id, phase in (("e1", "new"), ("e1", "update"), ("e2", "update"), ("e3", "end")):
        fold_incident(plan, Incident("cam-1", "fire", phase, event_id, 0.9, time=5.0), CAM,
                      [FIRE], seen, source="frigate", snapshot_url="http://nvr/e.jpg")
    occ = plan.drafts[("fire", "cam-1:fire")]
    assert occ.count == 2 and occ.extra["last_event_id"] == "e2"  # e1 once, e2 first seen
    assert seen.check_and_add(("fire", "frigate:e3")) is True
    assert seen.check_and_add(("fire", "frigate:e1")) is False  # forgotten beyond the limit


def test_drafts_store_a_builtin_title_that_every_language_renders():
    plan = BatchPlan()
    fold_readings(plan, [("aq-1", "pm25", 120.5, 1.0)], _index(PM), {}, {}, {})
    d = draft(("pm25_high", "aq-1"), plan.drafts[("pm25_high", "aq-1")], lambda u: f"unit {u}")
    assert d.title == "Trạm Cốc Lếu: pm25 120.5" and d.severity == "moderate"
    assert d.title.i18n == {"template_id": "level", "params": {
        "name": "Trạm Cốc Lếu", "metric": "pm25", "value": 120.5}}
    assert d == level_draft(("pm25_high", "aq-1"), plan.drafts[("pm25_high", "aq-1")], "x")
    fold_incident(plan, Incident("cam-1", "fire", "new", "e1", 0.9, time=1.0), CAM, [FIRE],
                  SeenIncidents(), source="ioc")
    cam = camera_draft(("fire", "cam-1:fire"), plan.drafts[("fire", "cam-1:fire")], "x")
    assert cam.title == "Cổng chợ: cháy" and cam.details["label"] == "fire"
    stored = replace(_alert(1, "severe"), title=str(cam.title), details={"title_i18n": cam.title.i18n})
    assert title_in(stored, "en") == "Cổng chợ: fire"
    assert title_in(stored, "vi") == "Cổng chợ: cháy"


def test_a_rule_template_still_wins_over_the_builtin_title():
    rule = parse_rule({"id": "wl", "type": "water_level",
                       "title": "{name}: {value:.2f} m", "title_en": "{name}: {value:.2f} m!"})
    title = render_title(titles_of(rule), builtin_title("device", name="x"),
                         name=STATION.name, value=84.2)
    assert title == "Trạm Lào Cai: 84,20 m" and title.i18n["templates"]["en"].endswith("m!")
    # a template that does not fit the fields: the built-in title, with its id
    fallback = render_title(TitleTemplates("{value:.2f}", "{value:.2f}"),
                            builtin_title("device", name="Trạm"), value="?")
    assert fallback == "Trạm" and fallback.i18n["template_id"] == "device"
    assert render_title(None, builtin_title("device", name="Trạm")).i18n["template_id"] == \
        "device"


@pytest.mark.parametrize("template_id", sorted(titles.TEMPLATES))
def test_every_builtin_template_exists_in_every_language(template_id):
    spec = titles.TEMPLATES[template_id]
    for lang in titles.LANGUAGES:
        assert spec.get(lang), (template_id, lang)
    for label_set in spec.get("labels", {}).values():
        for texts in titles.LABELS[label_set].values():
            assert all(texts.get(lang) for lang in titles.LANGUAGES)


def test_builtin_titles_render_as_before():
    assert titles.render("rain", {"name": "Bát Xát", "mm": 123.4, "window_h": 24}) == \
        "Bát Xát: mưa 123 mm trong 24 giờ"
    assert titles.render("storm", {"count": 5, "kind": "water_level", "unit_name": "Sa Pa"}) \
        == "5 cảnh báo mực nước vượt báo động tại Sa Pa"
    assert titles.render("storm", {"count": 5, "kind": "new_kind", "unit_name": "Sa Pa"},
                         "en") == "5 alerts of new_kind in Sa Pa"
    assert titles.render("air_quality", {"name": "A", "aqi": 160, "category": 4}) == \
        "A: AQI 160 – Xấu"
    assert titles.note("camera_quiet", minutes=15) == "không có sự việc mới trong 15 phút"
    with pytest.raises(KeyError):
        titles.render("no_such_template", {})
