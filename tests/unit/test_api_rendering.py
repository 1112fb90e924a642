"""Output helpers of /api/v1: CSV cells, times with offsets, bucket alignment."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dashboards.api.rendering import csv_text, fmt_time, num
from dashboards.api.routes import ceil_to_local_day, ceil_to_step, local_midnight, local_midnights

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_times_carry_offsets():
    t = dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC)
    assert fmt_time(t, dt.UTC) == "2025-06-01T01:00:00+00:00"
    assert fmt_time(t, HCM) == "2025-06-01T08:00:00+07:00"
    assert fmt_time(None, dt.UTC) is None


def test_csv_cells_are_plain_and_formulas_are_defused():
    text = csv_text(
        [
            {"a": None, "b": True, "c": {"k": 1}, "d": '=HYPERLINK("x")'},
            {"a": -3.5, "b": "-3.5", "c": "+84 912", "d": "@SUM(A1)"},
        ],
        ["a", "b", "c", "d"],
    )
    lines = text.split("\r\n")
    assert lines[0] == "a,b,c,d"
    assert lines[1] == ',true,"{""k"":1}","\'=HYPERLINK(""x"")"'
    assert lines[2] == "-3.5,-3.5,'+84 912,'@SUM(A1)"


def test_numbers_json_cannot_carry_become_null():
    assert num(float("nan")) is None and num(float("inf")) is None and num(2.5) == 2.5


def test_bucket_alignment():
    step = dt.timedelta(minutes=15)
    t = dt.datetime(2025, 6, 1, 0, 7, tzinfo=dt.UTC)
    assert ceil_to_step(t, step) == dt.datetime(2025, 6, 1, 0, 15, tzinfo=dt.UTC)
    assert ceil_to_step(t.replace(minute=15), step) == t.replace(minute=15)
    midnight = local_midnight(dt.date(2025, 6, 1), HCM)
    assert midnight == dt.datetime(2025, 5, 31, 17, tzinfo=dt.UTC)
    assert ceil_to_local_day(midnight, HCM) == midnight
    assert ceil_to_local_day(midnight + dt.timedelta(seconds=1), HCM) == midnight + dt.timedelta(
        days=1
    )


def test_local_days_across_a_dst_change():
    paris = ZoneInfo("Europe/Paris")
    start = local_midnight(dt.date(2025, 3, 30), paris)  # the day of 23 hours
    assert ceil_to_local_day(start + dt.timedelta(hours=1), paris) - start == dt.timedelta(hours=23)


def test_local_midnights_bound_the_days_starting_in_the_range():
    start = dt.datetime(2025, 5, 31, 17, tzinfo=dt.UTC)  # 1 June 00:00 in Vietnam
    days = local_midnights(start, start + dt.timedelta(days=2, hours=1), HCM)
    assert [d.astimezone(HCM).isoformat() for d in days] == [
        "2025-06-01T00:00:00+07:00",
        "2025-06-02T00:00:00+07:00",
        "2025-06-03T00:00:00+07:00",
        "2025-06-04T00:00:00+07:00",
    ]
    assert local_midnights(start + dt.timedelta(hours=1), start + dt.timedelta(hours=5), HCM) == []
    assert len(local_midnights(start, start + dt.timedelta(days=3660), HCM)) == 3661
