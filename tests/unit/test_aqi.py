"""ioc.domain.aqi: VN_AQI (Decision 1459/QĐ-TCMT) and US EPA AQI (TAD, May 2024), with NowCast.

Where a test reproduces a worked example, the arithmetic is written out beside it so that a
reader can check it against the document without running anything.
"""

from __future__ import annotations

import math

import pytest

from ioc.domain.aqi import (
    CATEGORIES,
    category,
    nowcast,
    round_half_up,
    truncate,
    ugm3_to_epa_units,
    us_epa_aqi,
    us_epa_nowcast_aqi,
    us_epa_sub_index,
    vn_aqi_daily,
    vn_aqi_hourly,
    vn_sub_index,
)


# -- US EPA --------------------------------------------------------------------------------------
def test_epa_multi_pollutant_example():
    # TAD, "Using the table and the equation": 8-hour O3 0.078 ppm, PM2.5 35.9 µg/m³, CO 8.4 ppm.
    # O3:    (150-101)/(0.085-0.071)·(0.078-0.071)+101 = 125.5 -> 126
    # PM2.5: (150-101)/(55.4-35.5)·(35.9-35.5)+101     = 101.98 -> 102
    # CO:    (100-51)/(9.4-4.5)·(8.4-4.5)+51            = 90
    assert us_epa_sub_index("o3", 0.078) == 126
    assert us_epa_sub_index("pm25", 35.9) == 102
    assert us_epa_sub_index("co", 8.4) == 90
    result = us_epa_aqi({"o3": 0.078, "pm25": 35.9, "co": 8.4})
    assert (result.aqi, result.dominant) == (126, "o3")
    assert result.category.name_en == "Unhealthy for sensitive groups"


@pytest.mark.parametrize(("pollutant", "c", "expected"), [
    ("pm25", 9.0, 50), ("pm25", 9.1, 51), ("pm25", 9.05, 50),  # 2024 table: 9.0 is the top of Good
    ("pm25", 35.49, 100),  # truncated to 35.4 first, never rounded up to 35.5
    ("pm25", 35.5, 101), ("pm25", 55.5, 151), ("pm25", 125.4, 200), ("pm25", 225.5, 301),
    ("pm25", 325.4, 500), ("pm25", 900, 500),
    ("pm10", 54.9, 50), ("pm10", 55, 51), ("pm10", 155, 101), ("pm10", 604, 500),
    ("o3", 0.0549, 50), ("o3", 0.055, 51), ("o3", 0.200, 300),
    ("co", 4.49, 50), ("co", 30.5, 301),
    ("so2", 35.9, 50), ("so2", 36, 51), ("so2", 305, 201),
    ("no2", 53.9, 50), ("no2", 100, 100), ("no2", 2049, 500),
])
def test_epa_breakpoints_and_truncation(pollutant, c, expected):
    assert us_epa_sub_index(pollutant, c) == expected


def test_epa_ozone_one_hour_and_eight_hour():
    assert us_epa_sub_index("o3", 0.201) is None  # above the 8-hour table: use the 1-hour value
    assert us_epa_sub_index("o3", 0.100, "1h") is None  # below the 1-hour table
    assert us_epa_sub_index("o3", 0.125, "1h") == 101
    assert us_epa_sub_index("o3", 0.405, "1h") == 301
    # Both given: the larger index counts. 1-hour 0.170 ppm: 49/0.039·0.005+151 = 157.3
    assert us_epa_aqi({"o3": 0.060}, o3_1h=0.170).sub_indices["o3"] == 157


def test_truncation():
    assert truncate(35.9, 0.1) == 35.9
    assert truncate(35.99, 0.1) == 35.9
    assert truncate(0.0789, 0.001) == 0.078
    assert truncate(54.99, 1) == 54


def test_unit_conversion_at_25_degrees():
    # 1 ppb NO2 = 46.01/24.45 µg/m³; 100 ppb = 188.2 µg/m³
    assert ugm3_to_epa_units("no2", 188.18) == pytest.approx(100, abs=0.01)
    assert ugm3_to_epa_units("o3", 1000 * 48.00 / 24.45) == pytest.approx(1.0)  # ppm
    assert ugm3_to_epa_units("pm25", 12.3) == 12.3


# -- NowCast -----------------------------------------------------------------------------------
def test_nowcast_steady_air_is_the_plain_mean():
    assert nowcast([20.0] * 12) == pytest.approx(20.0)


def test_nowcast_single_pulse_weighs_about_half():
    # One hour at 71 µg/m³ after eleven clean hours: w* = 0/71 -> w = 1/2 and
    # NowCast = 71 / Σ_{i=0..11} 0.5^i = 71 / 1.99951 = 35.51 µg/m³ -> PM2.5 AQI 101 (US EPA).
    value = nowcast([71.0] + [0.0] * 11)
    assert value == pytest.approx(35.5087, abs=1e-4)
    assert us_epa_sub_index("pm25", value) == 101


def test_nowcast_worked_hourly_series():
    # c1..c12 (latest first), µg/m³
    c = [64, 63, 72, 77, 65, 61, 70, 71, 64, 57, 58, 64]
    w = 57 / 77  # w* = c_min / c_max = 0.7403 > 1/2
    expected = sum(w**i * ci for i, ci in enumerate(c)) / sum(w**i for i in range(12))
    assert nowcast(c) == pytest.approx(expected)
    assert expected == pytest.approx(66.570, abs=1e-3)
    # PM2.5 band 50-80 µg/m³ <-> 100-150: (150-100)/(80-50)·(66.57-50)+100 = 127.6 -> 128
    assert vn_sub_index("pm25", expected) == 128


def test_nowcast_missing_hours():
    assert nowcast([30, None, 40] + [None] * 9) is not None  # two of c1..c3 are enough
    assert nowcast([30, None, None, 40]) is None  # only one of c1..c3
    assert nowcast([None, None, 30, 30]) is None
    # Missing hours are left out of both sums (weights keep their hour's exponent).
    w = 0.5
    assert nowcast([10, None, 40]) == pytest.approx((10 + w**2 * 40) / (1 + w**2))
    assert nowcast([0, 0, 0]) == 0.0


# -- VN_AQI ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("pollutant", "c", "averaging", "expected"), [
    ("pm25", 25, "1h", 50), ("pm25", 50, "1h", 100), ("pm25", 80, "1h", 150),
    ("pm25", 150, "1h", 200), ("pm25", 250, "1h", 300), ("pm25", 350, "1h", 400),
    ("pm25", 500, "1h", 500), ("pm25", 800, "1h", 500),
    ("pm10", 50, "1h", 50), ("pm10", 420, "1h", 300), ("pm10", 600, "1h", 500),
    ("o3", 160, "1h", 50), ("o3", 1200, "1h", 500),
    ("o3", 120, "8h", 100), ("o3", 400, "8h", 300), ("o3", 401, "8h", None),
    ("co", 10000, "1h", 50), ("co", 150000, "1h", 500),
    ("so2", 350, "1h", 100), ("no2", 1200, "1h", 200),
])
def test_vn_breakpoints(pollutant, c, averaging, expected):
    assert vn_sub_index(pollutant, c, averaging) == expected


def test_vn_interpolation_worked_values():
    # PM10 70 µg/m³: band 50-150 <-> 50-100: (100-50)/(150-50)·(70-50)+50 = 60
    assert vn_sub_index("pm10", 70) == 60
    # NO2 150 µg/m³: band 100-200 <-> 50-100: 50/100·50+50 = 75
    assert vn_sub_index("no2", 150) == 75
    # O3 1h 180 µg/m³: band 160-200 <-> 50-100: 50/40·20+50 = 75
    assert vn_sub_index("o3", 180) == 75
    # Half-way values round up: PM2.5 31 µg/m³ -> 50/25·6+50 = 62; 31.25 -> 62.5 -> 63
    assert vn_sub_index("pm25", 31.25) == 63


def test_vn_hourly_uses_nowcast_for_pm_and_the_last_hour_otherwise():
    pm25 = [64, 63, 72, 77, 65, 61, 70, 71, 64, 57, 58, 64]
    result = vn_aqi_hourly({"pm25": pm25, "pm10": [70] * 12, "o3": [180, 900], "no2": [150],
                            "co": [5000], "so2": [50]})
    assert result.sub_indices == {"pm25": 128, "pm10": 60, "o3": 75, "no2": 75, "co": 25,
                                  "so2": 20}
    assert (result.aqi, result.dominant) == (128, "pm25")
    assert result.category.name_vi == "Kém"


def test_vn_requires_pm():
    assert vn_aqi_hourly({"o3": [900], "no2": [3000]}) is None
    assert vn_aqi_hourly({"pm25": [None, None, 40], "o3": [900]}) is None  # no NowCast
    assert vn_aqi_daily(o3_max_1h=300) is None


def test_vn_daily():
    # PM from the 24-hour mean; O3 the larger of max-1h (250 -> 125) and max-8h (130 -> 110).
    result = vn_aqi_daily(pm25_24h=40, pm10_24h=120, o3_max_1h=250, o3_max_8h=130,
                          no2_max_1h=210, so2_max_1h=90, co_max_1h=12000)
    # PM2.5 40: 50/25·15+50 = 80; PM10 120: 50/100·70+50 = 85; NO2 210: 50/500·10+100 = 101;
    # SO2 90: 50/125·90 = 36; CO 12000: 50/20000·2000+50 = 55
    assert result.sub_indices == {"pm25": 80, "pm10": 85, "o3": 125, "no2": 101, "so2": 36,
                                  "co": 55}
    assert (result.aqi, result.dominant) == (125, "o3")
    only_8h = vn_aqi_daily(pm25_24h=10, o3_max_8h=450, o3_max_1h=500)
    # 8-hour 450 is above its table; the 1-hour 500: 100/400·100+200 = 225
    assert only_8h.sub_indices["o3"] == vn_sub_index("o3", 500, "1h") == 225


def test_categories_and_colours():
    assert [c.name_vi for c in CATEGORIES] == ["Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu",
                                               "Nguy hại"]
    assert [c.rgb for c in CATEGORIES] == [(0, 228, 0), (255, 255, 0), (255, 126, 0),
                                           (255, 0, 0), (143, 63, 151), (126, 0, 35)]
    assert category(50).level == 1 and category(51).level == 2
    assert category(300).name_vi == "Rất xấu" and category(301).name_vi == "Nguy hại"
    assert category(700).level == 6
    assert CATEGORIES[2].hex == "#FF7E00"


def test_current_epa_index_from_hourly_means():
    hourly = {"pm25": [40.0] * 12, "o3": [100.0] * 8, "no2": [90.0]}
    result = us_epa_nowcast_aqi(hourly)
    assert result.sub_indices["pm25"] == us_epa_sub_index("pm25", 40.0)
    assert result.sub_indices["o3"] == us_epa_sub_index("o3", ugm3_to_epa_units("o3", 100.0))
    assert result.dominant == "pm25"


def test_round_half_up():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.49)] == [1, 2, 3, 2]
    assert not math.isnan(round_half_up(125.5))
