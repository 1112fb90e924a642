"""The operators' order of alerts (alerts.queries.triage_key): pure and stable."""

from __future__ import annotations

import datetime as dt
import random

from alerts.queries import triage_key, triage_order
from tests.unit.test_dash_wall_and_health import _alert


def _ids(alerts):
    return [a.id for a in alerts]


def test_most_severe_first_then_unacknowledged_then_waiting_longest():
    alerts = [
        _alert(1, "moderate", minutes=0),
        _alert(2, "extreme", "acknowledged", minutes=1),
        _alert(3, "extreme", minutes=9),
        _alert(4, "extreme", minutes=2),
        _alert(5, "severe", minutes=3),
        _alert(6, "severe", "assigned", minutes=0),
        _alert(7, "minor", minutes=0),
    ]
    assert _ids(triage_order(alerts)) == [4, 3, 2, 5, 6, 1, 7]


def test_closed_alerts_come_last_newest_first():
    alerts = [
        _alert(1, "extreme", "resolved", minutes=0),
        _alert(2, "minor", minutes=0),
        _alert(3, "extreme", "false_alarm", minutes=5),
        _alert(4, "moderate", "resolved", minutes=9),
    ]
    assert _ids(triage_order(alerts)) == [2, 3, 1, 4]


def test_the_order_does_not_depend_on_the_input_order():
    alerts = [_alert(i, s, st, minutes=i % 4) for i, (s, st) in enumerate(
        [(s, st) for s in ("extreme", "severe", "minor") for st in ("open", "acknowledged")] * 3)]
    expected = _ids(triage_order(alerts))
    for seed in range(20):
        shuffled = alerts[:]
        random.Random(seed).shuffle(shuffled)
        assert _ids(triage_order(shuffled)) == expected
    # equal time and severity: the id decides, so a refresh never swaps two rows
    same = [_alert(9, "severe"), _alert(8, "severe")]
    assert _ids(triage_order(same)) == [8, 9]


def test_a_new_alert_joins_the_end_of_its_group():
    before = triage_order([_alert(1, "extreme"), _alert(2, "extreme", minutes=1),
                           _alert(3, "severe")])
    after = triage_order([*before, _alert(4, "extreme", minutes=30)])
    assert _ids(after) == [1, 2, 4, 3]
    assert triage_key(after[0]) < triage_key(after[1])
    assert isinstance(after[0].opened_at, dt.datetime)
