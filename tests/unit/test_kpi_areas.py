"""The KPI page's area filter, pure: parsing the shared link, combining a group's figures,
the tiles, table and trends of an area (kpi/areas.py, dashboards/kpi_queries.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards.kpi_queries import GROUP_UNIT, PageData, area_latest, trend_gap, unit_groups
from dashboards.kpi_view import tile_for, unit_table
from kpi.areas import (
    PROVINCE_AREA,
    Area,
    AreaError,
    Sums,
    UnitGroup,
    area_from_choice,
    area_param,
    choice_of,
    combine,
    groups_from_former,
    parse_area,
    rule_of,
    sums_of,
)
from kpi.catalogue import load_catalogue
from kpi.queries import AreaSums, Freshness, Latest, StoredValue

UNITS = ("02647", "02671", "04279", "04300")
GROUPS = (UnitGroup("former-10", "Lào Cai cũ", "former Lào Cai", ("02647", "02671")),
          UnitGroup("former-15", "Yên Bái cũ", "former Yên Bái", ("04279", "04300")))
DAY = dt.date(2026, 12, 7)
AT = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)


# -- the area of a link ---------------------------------------------------------------------------
@pytest.mark.parametrize("text", [None, "", "all", "  "])
def test_no_area_is_the_province(text):
    assert parse_area(text, UNITS, GROUPS) == PROVINCE_AREA
    assert area_param(PROVINCE_AREA) == "" and choice_of(PROVINCE_AREA) == []


def test_one_unit_several_units_and_a_named_group():
    one = parse_area("02647", UNITS, GROUPS)
    assert one.kind == "unit" and one.unit_id == "02647" and one.unit_ids == ("02647",)
    some = parse_area("04279, 02647,04279", UNITS, GROUPS)  # spaces and a repeat
    assert some.kind == "group" and some.unit_ids == ("04279", "02647")
    with pytest.raises(ValueError):
        _ = some.unit_id  # a group has no single unit_id in kpi_values
    named = parse_area("g:former-15", UNITS, GROUPS)
    assert named.kind == "group" and named.group == GROUPS[1]
    assert named.unit_ids == ("04279", "04300")
    assert named.includes("04300") and not named.includes("02647")
    assert PROVINCE_AREA.includes("02647")


@pytest.mark.parametrize("area", [
    PROVINCE_AREA, Area("unit", ("02671",)), Area("group", ("02647", "04300")),
    Area("group", GROUPS[0].unit_ids, GROUPS[0]),
])
def test_the_link_reads_back_as_the_same_area(area):
    assert parse_area(area_param(area), UNITS, GROUPS) == area
    assert area_from_choice(choice_of(area), GROUPS, UNITS) == area


@pytest.mark.parametrize("text,message", [
    ("ha_noi", "unknown unit 'ha_noi'"),
    ("02647,99999", "unknown unit '99999'"),
    ("g:former-01", "unknown group 'former-01'"),
])
def test_a_link_naming_no_unit_is_refused(text, message):
    with pytest.raises(AreaError, match=message):
        parse_area(text, UNITS, GROUPS)


def test_a_group_chosen_with_units_stands_for_all_of_them():
    area = area_from_choice(["g:former-10", "04300"], GROUPS, UNITS)
    assert area.kind == "group" and area.unit_ids == ("02647", "02671", "04300")
    assert area_from_choice(["02671"], GROUPS, UNITS) == Area("unit", ("02671",))
    assert area_from_choice([], GROUPS, UNITS) == PROVINCE_AREA
    assert area_from_choice(None, GROUPS, UNITS) == PROVINCE_AREA


def test_the_demo_province_has_its_two_former_provinces_as_groups():
    groups = {g.id: g for g in unit_groups()}
    assert set(groups) == {"former-10", "former-15"}
    assert len(groups["former-10"].unit_ids) == 48 and len(groups["former-15"].unit_ids) == 51
    assert not set(groups["former-10"].unit_ids) & set(groups["former-15"].unit_ids)
    assert "Lào Cai" in groups["former-10"].name("vi")
    assert "Yên Bái" in groups["former-15"].name("en")


def test_groups_from_former_provinces():
    groups = groups_from_former({"15": ["b", "a", "a"], "10": ["c"]},
                                {"10": ("X cũ", "former X")})
    assert [(g.id, g.unit_ids) for g in groups] == [("former-10", ("c",)),
                                                    ("former-15", ("a", "b"))]
    assert groups[1].name("vi") == "15"  # no name known: its code


# -- combining a group's figures ------------------------------------------------------------------
def test_counts_add_up():
    s = sums_of([(3, None, None), (0, None, None), (5, None, None)])
    assert combine("incidents_today", s).value == 8


def test_a_share_is_the_sum_of_counts_not_the_mean_of_shares():
    # unit A: 1 of 1 devices online (100 %), unit B: 1 of 9 (11.1 %): together 2 of 10
    s = sums_of([(100.0, 1, 1), (11.1, 1, 9)])
    c = combine("devices_online_pct", s)
    assert c.value == pytest.approx(20.0) and (c.numerator, c.denominator) == (2, 10)


def test_the_mean_aqi_weighs_units_by_their_stations():
    # unit A: one station at 40; unit B: three stations averaging 100 -> (40 + 300) / 4
    c = combine("aqi_today", sums_of([(40.0, 40.0, 1), (100.0, 300.0, 3)]))
    assert c.value == pytest.approx(85.0)


def test_no_figure_when_it_cannot_be_combined():
    assert combine("ack_median_min", sums_of([(4.0, None, 10), (6.0, None, 3)])) .reason == \
        "median"
    partial = combine("devices_online_pct", sums_of([(100.0, 1, 1), (50.0, None, None)]))
    assert partial.value is None and partial.reason == "no_counts"
    assert rule_of("no_such_kpi") == "none"  # an unknown KPI is never guessed


def test_every_per_unit_kpi_of_the_catalogue_has_a_rule():
    catalogue = load_catalogue()
    for kpi in catalogue.kpis:
        if kpi.units:
            assert rule_of(kpi.id) in ("sum", "ratio", "mean", "none"), kpi.id
            if rule_of(kpi.id) == "ratio":
                assert kpi.is_percent, kpi.id


# -- the page's view of an area -------------------------------------------------------------------
def _sums(kpi_id, day, value, num=None, den=None, units=2, with_counts=None, breakdown=""):
    wc = units if with_counts is None else with_counts
    return AreaSums(kpi_id, breakdown, "day", day, Sums(units, value, num, den, wc), AT)


def test_a_groups_newest_figure_and_the_day_before():
    yesterday = DAY - dt.timedelta(days=1)
    rows = [_sums("incidents_today", yesterday, 7), _sums("incidents_today", DAY, 9),
            _sums("devices_online_pct", DAY, 150.0, 6, 8),
            _sums("ack_median_min", DAY, 9.0, None, 12),
            _sums("data_live_pct", DAY, 190.0, 9, 10, breakdown="camera")]
    latest, parts, reasons = area_latest(rows)
    assert latest["incidents_today"].current.value == 9
    assert latest["incidents_today"].previous.value == 7
    assert latest["incidents_today"].current.unit_id == GROUP_UNIT
    assert latest["devices_online_pct"].current.value == pytest.approx(75.0)
    assert "ack_median_min" not in latest and reasons == {"ack_median_min": "median"}
    assert parts["data_live_pct"][0].value == pytest.approx(90.0)


def _value(kpi_id, unit_id, value, num=None, den=None):
    return StoredValue(kpi_id, unit_id, "", "day", DAY, value, num, den, None, "telemetry", AT)


def test_the_tile_of_a_figure_the_area_does_not_have_says_why():
    catalogue = load_catalogue()
    kpi = catalogue.get("egov_services_full_pct")
    tile = tile_for(kpi, None, DAY, "vi", missing="province_only")
    assert tile.value == "–" and tile.status == "none"
    assert tile.status_text == "Chỉ có số liệu toàn tỉnh"
    assert tile.target.startswith("Mục tiêu 2026–2030")  # the target is still shown
    median = tile_for(catalogue.get("ack_median_min"), None, DAY, "en", missing="median")
    assert "median" in median.status_text


def test_the_unit_table_of_an_area():
    catalogue = load_catalogue()
    by_unit = {"incidents_today": {u: _value("incidents_today", u, i + 1)
                                   for i, u in enumerate(UNITS)}}
    units = {"features": [{"properties": {"id": u, "name": f"Xã {u}"}} for u in UNITS]}
    fresh = Freshness(None, None, None)
    group = Area("group", GROUPS[0].unit_ids, GROUPS[0])
    total = _value("incidents_today", GROUP_UNIT, 3)
    data = PageData(latest={"incidents_today": Latest(total, None)}, day=DAY,
                    by_unit={"incidents_today": {u: v for u, v in by_unit["incidents_today"]
                                                 .items() if group.includes(u)}},
                    parts={}, fresh=fresh, units=units, area=group)
    table = unit_table(catalogue, data, "vi")
    assert [r[0] for r in table.rows] == ["02647", "02671", ""]
    assert table.rows[-1][1] == "Cả khu vực (2 xã, phường)" and table.rows[-1][2][0].text == "3"
    one = Area("unit", ("04279",))
    data_one = PageData(latest={}, day=DAY,
                        by_unit={"incidents_today": {"04279": by_unit["incidents_today"]
                                                     ["04279"]}},
                        parts={}, fresh=fresh, units=units, area=one)
    assert [r[0] for r in unit_table(catalogue, data_one, "vi").rows] == ["04279"]  # no total
    province = PageData(latest={}, day=DAY, by_unit=by_unit, parts={}, fresh=fresh,
                        units=units)
    rows = unit_table(catalogue, province, "vi").rows
    assert [r[0] for r in rows] == [*UNITS, ""] and rows[-1][1] == "Toàn tỉnh"


def test_trends_an_area_cannot_have():
    catalogue = load_catalogue()
    unit = Area("unit", ("02647",))
    group = Area("group", ("02647", "02671"))
    assert trend_gap(catalogue.get("dti_score"), unit) == "province_only"
    assert trend_gap(catalogue.get("ack_median_min"), unit) == ""
    assert trend_gap(catalogue.get("ack_median_min"), group) == "median"
    assert trend_gap(catalogue.get("aqi_today"), group) == ""
    assert trend_gap(catalogue.get("dti_score"), PROVINCE_AREA) == ""
