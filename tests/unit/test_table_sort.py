"""Sorting the feed, police and device tables: Vietnamese order, sort keys per column."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from dashboards.table_sort import (
    FEED_KEYS,
    POLICE_KEYS,
    sort_rows,
    sort_silent,
    unit_key,
    valid_sort_by,
    vi_key,
)


def test_vietnamese_letters_sort_after_their_base_letter():
    words = ["Đà", "Da", "Dương", "Ê", "Ô", "Ơ", "O", "E", "Ư", "U", "Ă", "Â", "A", "B"]
    assert sorted(words, key=vi_key) == ["A", "Ă", "Â", "B", "Da", "Dương", "Đà", "E", "Ê",
                                         "O", "Ô", "Ơ", "U", "Ư"]


def test_tones_come_after_the_letters_in_dictionary_order():
    assert sorted(["mạ", "má", "mã", "mả", "mà", "ma", "mb", "mă"], key=vi_key) == \
        ["ma", "mà", "mả", "mã", "má", "mạ", "mă", "mb"]
    # the letters decide before any tone: "bán" < "bạn" < "bao"
    assert sorted(["bao", "bạn", "bán"], key=vi_key) == ["bán", "bạn", "bao"]
    assert vi_key("Sa Pa") < vi_key("sa pá")


def test_units_sort_by_name_then_type():
    names = ["Xã Đông Cuông", "Phường Yên Bái", "Xã Bắc Hà", "Xã Bát Xát", "Phường Bắc Lệnh",
             "Xã Dương Quỳ", "Đặc khu Ly Sơn"]
    assert sorted(names, key=unit_key) == ["Xã Bát Xát", "Xã Bắc Hà", "Phường Bắc Lệnh",
                                           "Xã Dương Quỳ", "Xã Đông Cuông", "Đặc khu Ly Sơn",
                                           "Phường Yên Bái"]


def test_sort_rows_by_a_column_with_empty_cells_last():
    rows = [{"id": 1, "unit": "Xã Đông Cuông"}, {"id": 2, "unit": "–"},
            {"id": 3, "unit": "Xã Dương Quỳ"}, {"id": 4, "unit": "Phường Yên Bái"}]
    up = sort_rows(rows, [{"column_id": "unit", "direction": "asc"}], {"unit": lambda r: unit_key(r["unit"])})
    assert [r["id"] for r in up] == [3, 1, 4, 2]
    down = sort_rows(rows, [{"column_id": "unit", "direction": "desc"}])
    assert [r["id"] for r in down] == [1, 3, 4, 2]  # "Xã Đ" > "Xã D" > "Phường"; empty last
    assert sort_rows(rows, []) == rows  # nothing chosen: the order given


def test_only_known_columns_and_directions_are_taken_from_the_browser():
    assert valid_sort_by([{"column_id": "unit", "direction": "desc"},
                          {"column_id": "evil", "direction": "asc"},
                          {"column_id": "unit", "direction": "sideways"}, "x"],
                         ("unit",)) == [{"column_id": "unit", "direction": "desc"}]
    assert valid_sort_by(None, ("unit",)) == []


def test_the_feed_sorts_time_by_time_and_severity_by_rank():
    t0 = dt.datetime(2026, 12, 7, 23, 50, tzinfo=dt.UTC)
    rows = [
        {"id": 1, "severity": "moderate", "severity_text": "Trung bình", "status_text": "x", "opened": "06:50:00", "opened_ts": t0.timestamp(),
         "status": "open", "unit_name": "Xã Đông Cuông", "count": 1, "title": "b"},
        {"id": 2, "severity": "extreme", "severity_text": "Khẩn cấp", "status_text": "x", "opened": "07:10:00",
         "opened_ts": (t0 + dt.timedelta(minutes=20)).timestamp(), "status": "acknowledged",
         "unit_name": "Xã Dương Quỳ", "count": 3, "title": "a"},
        {"id": 3, "severity": "severe", "severity_text": "Nghiêm trọng", "status_text": "x", "opened": "23:00:00",
         "opened_ts": (t0 - dt.timedelta(days=1)).timestamp(), "status": "open",
         "unit_name": "Phường Cốc Lếu", "count": 2, "title": "c"},
    ]

    def order(column, direction="asc"):
        return [r["id"] for r in sort_rows(rows, [{"column_id": column, "direction": direction}],
                                            FEED_KEYS)]

    assert order("opened") == [3, 1, 2]  # by time, not by the clock text ("23:00" is older)
    assert order("severity_text", "desc") == [2, 3, 1]
    assert order("unit_name") == [3, 2, 1]
    assert order("status_text") == [1, 3, 2]
    assert order("count", "desc") == [2, 3, 1]


def test_device_health_silent_list_sorts_by_header():
    def dev(i, name, unit, last_seen):
        return SimpleNamespace(device_id=i, name=name, kind="camera", unit_id=unit,
                               last_seen=last_seen)

    names = {"u1": "Xã Đông Cuông", "u2": "Xã Dương Quỳ"}
    items = [dev("a", "Đo mưa Ý Tý", "u1", 100.0), dev("b", "Camera Dốc", "u2", 50.0),
             dev("c", "Camera Đèo", "u2", 200.0)]

    def ids(sort):
        return [d.device_id for d in sort_silent(items, sort, names)]

    assert ids(None) == ["b", "a", "c"]  # silent longest first
    assert ids({"column": "name", "direction": "asc"}) == ["b", "c", "a"]
    assert ids({"column": "unit_id", "direction": "asc"})[:2] == ["b", "c"]
    assert ids({"column": "last_seen", "direction": "desc"}) == ["c", "a", "b"]
    assert ids({"column": "nonsense"}) == ids(None)


def test_the_police_queue_sorts_hits_above_every_priority_and_time_by_time():
    rows = [
        {"id": "a", "priority_value": 90, "priority_text": "90", "state_text": "x", "time": "x",
         "confidence": "70 %", "state": "verified", "time_ts": 300.0,
         "camera": "Đèo Ô Quy Hồ", "unit_id": "Phường Sa Pa", "confidence_value": 0.7},
        {"id": "b", "priority_value": 1000, "priority_text": "Truy tìm", "state_text": "x",
         "time": "x", "confidence": "90 %", "state": "unreviewed", "time_ts": 100.0,
         "camera": "Dốc Cốc Lếu", "unit_id": "Xã Bắc Hà", "confidence_value": 0.9},
        {"id": "c", "priority_value": -1, "priority_text": "", "state_text": "x", "time": "x",
         "confidence": "80 %", "state": "dismissed", "time_ts": 200.0,
         "camera": "Cầu Kim Tân", "unit_id": "–", "confidence_value": 0.8},
    ]

    def order(column, direction="asc"):
        return [r["id"] for r in sort_rows(rows, [{"column_id": column, "direction": direction}],
                                            POLICE_KEYS)]

    assert order("priority_text", "desc") == ["b", "a", "c"]
    assert order("time") == ["b", "c", "a"]
    assert order("camera") == ["c", "b", "a"]  # C < D < Đ
    assert order("unit_id") == ["b", "a", "c"]  # Bắc Hà < Sa Pa; no unit last
    assert order("state_text") == ["b", "a", "c"]
    assert order("confidence", "desc") == ["b", "c", "a"]
