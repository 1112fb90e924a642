"""Decisions behind the wall (rotation, extreme strip, stale panels) and the device-health page."""

from __future__ import annotations

import datetime as dt

from alerts.queries import Alert
from dashboards import classify
from dashboards import health_queries as hq
from dashboards import wall_state as w
from dashboards.alert_actions import check
from dashboards.map_figure import MapDevice
from ioc.live import LatestValue

T0 = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC)


def _alert(alert_id: int, severity: str, status: str = "open", minutes: int = 0) -> Alert:
    at = T0 + dt.timedelta(minutes=minutes)
    return Alert(
        alert_id,
        "r",
        f"s{alert_id}",
        "water_level",
        "disaster",
        severity,
        status,
        f"Alert {alert_id}",
        "sa_pa",
        None,
        None,
        1,
        None,
        None,
        None,
        at,
        at,
        None,
        None,
        None,
        None,
        None,
        None,
        0,
        False,
        at,
        {},
    )


def test_views_rotate_on_a_shared_clock():
    assert w.view_at(0) == "map"
    assert w.view_at(w.SECONDS_PER_VIEW) == w.VIEWS[1]
    assert w.view_at(w.SECONDS_PER_VIEW * len(w.VIEWS)) == "map"
    assert w.view_at(1000.0, ("a", "b"), 10) == "a"


def test_the_strip_names_only_unacknowledged_extreme_alerts_waiting_longest_first():
    alerts = [
        _alert(1, "severe"),
        _alert(2, "extreme", "acknowledged"),
        _alert(3, "extreme"),
        _alert(4, "extreme", minutes=5),
    ]
    assert [a.id for a in w.strip_alerts(alerts)] == [3, 4]


def test_the_strip_highlights_a_new_alert_for_a_minute_and_announces_it_once():
    alerts = [_alert(3, "extreme"), _alert(4, "extreme", minutes=5)]
    now = 10_000.0
    first = w.extreme_strip(alerts, {}, now)
    assert [a.id for a in first.alerts] == [3, 4]
    assert first.fresh == {3, 4} and first.new == (3, 4)
    assert first.seen == {"3": now, "4": now}
    later = w.extreme_strip(
        alerts + [_alert(5, "extreme", minutes=9)], first.seen, now + w.FRESH_S + 1
    )
    assert [a.id for a in later.alerts] == [3, 4, 5]  # a new one joins the end, nothing moves
    assert later.fresh == {5} and later.new == (5,)
    again = w.extreme_strip(alerts + [_alert(5, "extreme", minutes=9)], later.seen, now + 200)
    assert again.new == () and again.fresh == frozenset()
    gone = w.extreme_strip([], later.seen, now + 999)
    assert gone.alerts == [] and gone.seen == {}


def test_panels_go_stale_after_three_intervals():
    assert w.is_stale(None, 100, 60)
    assert not w.is_stale(1000 - 179, 1000, 60)
    assert w.is_stale(1000 - 181, 1000, 60)
    assert not w.is_stale(1000 - 119, 1000, 5)  # never sooner than STALE_FLOOR_S
    devices = [
        MapDevice("a", "environment", "air_quality", "A", 0, 0, None, 60),
        MapDevice("b", "disaster", "water_level", "B", 0, 0, None, 300),
    ]
    latest = {"a": {"pm25": LatestValue("a", "pm25", 1, 900.0)}}
    panel = w.panel_data(devices, latest, ("air_quality",))
    assert panel.newest == 900.0 and panel.interval_s == 60
    assert w.panel_data(devices, latest, ("water_level",)).stale(1000)


def test_view_rows_worst_first():
    levels = classify.alarm_levels_of({"alarm_levels": [80, 82, 83.5]})
    devices = [
        MapDevice(f"wl{i}", "disaster", "water_level", f"W{i}", 0, 0, None, 300, levels)
        for i in range(3)
    ]
    latest = {
        f"wl{i}": {"water_level_m": LatestValue(f"wl{i}", "water_level_m", v, 1.0)}
        for i, v in enumerate((79.0, 82.1, 80.5))
    }
    rows = w.water_rows(devices, latest)
    assert [r.device.device_id for r in rows] == ["wl1", "wl2", "wl0"]
    assert rows[0].alarm == 2 and 0 < rows[2].fraction < rows[1].fraction <= 1
    aq = [
        MapDevice(f"aq{i}", "environment", "air_quality", f"A{i}", 0, 0, None, 60) for i in range(2)
    ]
    live = {
        "aq0": {"pm25": LatestValue("aq0", "pm25", 10, 1.0)},
        "aq1": {"pm25": LatestValue("aq1", "pm25", 10, 1.0)},
    }
    assert [r.device.device_id for r in w.air_rows(aq, live, {"aq1": 160})] == ["aq1", "aq0"]


def test_device_health_silent_never_seen_and_event_driven():
    rows = [
        ("a", "A", "environment", "air_quality", "sa_pa", 60, False),
        ("b", "B", "environment", "air_quality", "sa_pa", 60, False),
        ("c", "C", "camera", "camera", "bat_xat", 3600, True),
        ("d", "D", "disaster", "rain_gauge", "bat_xat", 300, False),
    ]
    now = 10_000.0
    devices = hq.device_health(rows, {"a": now - 30, "b": now - 600}, now)
    by_id = {d.device_id: d for d in devices}
    assert not by_id["a"].silent and by_id["b"].silent
    assert not by_id["c"].never_seen and not by_id["c"].silent  # speaks only on events
    assert by_id["d"].never_seen
    groups = {(g.unit_id, g.family): g for g in hq.health_groups(devices)}
    assert groups[("sa_pa", "environment")] == hq.HealthGroup("sa_pa", "environment", 2, 1, 1, 0)
    assert groups[("bat_xat", "disaster")].never_seen == 1
    feeds = {f.feed: f for f in hq.feed_freshness(devices, None, now - 100)}
    assert feeds["environment"].newest == now - 30 and not feeds["environment"].late(now)
    assert feeds["disaster"].late(now)  # nothing ever arrived
    assert not feeds["cap"].late(now)  # warnings come only when there is one
    assert not feeds["rollups"].late(now) and feeds["rollups"].late(now + 200)


def test_alert_action_requests_are_checked_before_the_database():
    assert check("acknowledge", None, None) is None
    assert check("resolve", "  ", None) == "note_required"
    assert check("false_alarm", "cảm biến hỏng", None) is None
    assert check("assign", None, "") == "assignee_required"
    assert check("delete", "x", None) == "unknown_action"


def test_the_device_chart_writes_numbers_in_the_readers_language():
    from dashboards.charts import day_chart

    device = MapDevice("b", "disaster", "water_level", "B", 0, 0, None, 300)
    assert day_chart(device, "water_level_m", [], None, lang="vi").layout.separators == ",."
    assert day_chart(device, "water_level_m", [], None, lang="en").layout.separators == ".,"


def test_an_action_button_of_either_page_names_its_action():
    from dashboards.alert_actions import action_of

    assert action_of("feed-act-ack", "feed") == "acknowledge"
    assert action_of("feed-act-assign", "feed") == "assign"
    assert action_of("ops-act-false", "ops") == "false_alarm"
    assert action_of("ops-act-resolve", "feed") is None  # another page's button
    assert action_of("feed-act-ack-device", "feed") is None  # the bulk buttons are not it
    assert action_of(None, "ops") is None

