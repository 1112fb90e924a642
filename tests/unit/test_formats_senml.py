"""SenML (RFC 8428): the generic resolver against the RFC's examples, and our name mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.formats import parse, resolve_pack
from ingest.formats.metrics import ALL_METRICS, MetricSpec
from ingest.formats.senml import ResolvedRecord, parse_senml
from ingest.records import PayloadError, Reading

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
T_NOW = NOW.timestamp()


def resolved(pack: list) -> list[tuple]:
    return [(r.name, r.time, r.unit, r.value, r.string_value, r.bool_value, r.data_value, r.sum)
            for r in resolve_pack(pack, NOW)]


# --- RFC 8428 section 5.1 examples -----------------------------------------------------------

def test_rfc_5_1_1_single_datapoint_is_relative_to_now():
    pack = [{"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}]
    assert resolve_pack(pack, NOW) == [
        ResolvedRecord(name="urn:dev:ow:10e2073a01080063", time=T_NOW, unit="Cel", value=23.1)
    ]


def test_rfc_5_1_2_multiple_datapoints_share_the_base_name():
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
        {"n": "current", "u": "A", "v": 1.2},
    ]
    assert [(r.name, r.unit, r.value, r.time) for r in resolve_pack(pack, NOW)] == [
        ("urn:dev:ow:10e2073a01080063:voltage", "V", 120.1, T_NOW),
        ("urn:dev:ow:10e2073a01080063:current", "A", 1.2, T_NOW),
    ]


RFC_5_1_3 = [
    {"bn": "urn:dev:ow:10e2073a0108006:", "bt": 1.276020076001e+09,
     "bu": "A", "bver": 5, "n": "voltage", "u": "V", "v": 120.1},
    {"n": "current", "t": -5, "v": 1.2},
    {"n": "current", "t": -4, "v": 1.3},
    {"n": "current", "t": -3, "v": 1.4},
    {"n": "current", "t": -2, "v": 1.5},
    {"n": "current", "t": -1, "v": 1.6},
    {"n": "current", "v": 1.7},
]

# Section 5.1.4 shows the pack above in resolved form.
RFC_5_1_4 = [
    {"n": "urn:dev:ow:10e2073a0108006:voltage", "u": "V", "v": 120.1, "t": 1.276020076001e+09},
    {"n": "urn:dev:ow:10e2073a0108006:current", "u": "A", "v": 1.2, "t": 1.276020071001e+09},
    {"n": "urn:dev:ow:10e2073a0108006:current", "u": "A", "v": 1.3, "t": 1.276020072001e+09},
    {"n": "urn:dev:ow:10e2073a0108006:current", "u": "A", "v": 1.4, "t": 1.276020073001e+09},
    {"n": "urn:dev:ow:10e2073a0108006:current", "u": "A", "v": 1.5, "t": 1.276020074001e+09},
    {"n": "urn:dev:ow:10e2073a0108006:current", "u": "A", "v": 1.6, "t": 1.276020075001e+09},
    {"n": "urn:dev:ow:10e2073a0108006:current", "u": "A", "v": 1.7, "t": 1.276020076001e+09},
]


def _key(r: ResolvedRecord) -> tuple:
    return (r.name, round(r.time, 6), r.unit, r.value)


def test_rfc_5_1_3_multiple_measurements_resolve_to_5_1_4():
    got = resolve_pack(RFC_5_1_3, NOW)
    want = sorted((d["n"], round(d["t"], 6), d["u"], d["v"]) for d in RFC_5_1_4)
    assert sorted(map(_key, got)) == want
    assert [r.time for r in got] == sorted(r.time for r in got), "chronological order"
    # The 5.1.3 pack says bver 5, so the resolved records carry that version (RFC 8428 4.6).
    assert {r.version for r in got} == {5}
    assert got[-2].name.endswith("voltage") and got[-1].value == 1.7, "stable for equal times"


def test_rfc_5_1_4_resolved_data_is_a_fixed_point():
    got = resolve_pack(RFC_5_1_4, NOW)
    assert sorted(map(_key, got)) == sorted(
        (d["n"], round(d["t"], 6), d["u"], d["v"]) for d in RFC_5_1_4)
    assert all(r.version is None for r in got)


def test_rfc_5_1_3_humidity_with_location_pack():
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063", "bt": 1.320067464e+09, "bu": "%RH", "v": 20},
        {"u": "lon", "v": 24.30621},
        {"u": "lat", "v": 60.07965},
        {"t": 60, "v": 20.3},
        {"u": "lon", "t": 60, "v": 24.30622},
        {"u": "lat", "t": 60, "v": 60.07965},
        {"t": 120, "v": 20.7},
        {"u": "lon", "t": 120, "v": 24.30623},
        {"u": "lat", "t": 120, "v": 60.07966},
        {"u": "%EL", "t": 150, "v": 98},
        {"t": 180, "v": 21.2},
        {"u": "lon", "t": 180, "v": 24.30628},
        {"u": "lat", "t": 180, "v": 60.07967},
    ]
    got = resolve_pack(pack, NOW)
    assert {r.name for r in got} == {"urn:dev:ow:10e2073a01080063"}
    assert [(r.time - 1.320067464e9, r.unit, r.value) for r in got] == [
        (0, "%RH", 20), (0, "lon", 24.30621), (0, "lat", 60.07965),
        (60, "%RH", 20.3), (60, "lon", 24.30622), (60, "lat", 60.07965),
        (120, "%RH", 20.7), (120, "lon", 24.30623), (120, "lat", 60.07966),
        (150, "%EL", 98),
        (180, "%RH", 21.2), (180, "lon", 24.30628), (180, "lat", 60.07967),
    ]


def test_rfc_5_1_5_multiple_data_types():
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "temp", "u": "Cel", "v": 23.1},
        {"n": "label", "vs": "Machine Room"},
        {"n": "open", "vb": False},
        {"n": "nfc-reader", "vd": "aGkgCg"},
    ]
    p = "urn:dev:ow:10e2073a01080063:"
    assert resolved(pack) == [
        (p + "temp", T_NOW, "Cel", 23.1, None, None, None, None),
        (p + "label", T_NOW, None, None, "Machine Room", None, None, None),
        (p + "open", T_NOW, None, None, None, False, None, None),
        (p + "nfc-reader", T_NOW, None, None, None, None, "aGkgCg", None),
    ]


def test_rfc_5_1_6_collection_of_resources_keeps_base_time_across_base_names():
    pack = [
        {"bn": "2001:db8::2/", "bt": 1.320078429e+09, "n": "temperature", "u": "Cel", "v": 27.2},
        {"n": "humidity", "u": "%RH", "v": 80},
        {"bn": "2001:db8::1/", "n": "temperature", "u": "Cel", "v": 12.3},
        {"n": "humidity", "u": "%RH", "v": 67},
    ]
    t = 1.320078429e9
    assert [(r.name, r.time, r.unit, r.value) for r in resolve_pack(pack, NOW)] == [
        ("2001:db8::2/temperature", t, "Cel", 27.2),
        ("2001:db8::2/humidity", t, "%RH", 80),
        ("2001:db8::1/temperature", t, "Cel", 12.3),
        ("2001:db8::1/humidity", t, "%RH", 67),
    ]


# --- resolution rules --------------------------------------------------------------------------

def test_base_fields_apply_forward_until_reset():
    pack = [
        {"bn": "a:", "bu": "m", "bv": 10, "bt": 1.7e9, "n": "x", "v": 1},
        {"n": "y", "v": 2, "t": 1},
        {"n": "z", "t": 2},  # no value: the base value alone
        {"bn": "b:", "bv": 0, "bu": "mm", "n": "x", "v": 5, "t": 3},
        {"n": "y", "u": "Cel", "v": 6, "t": 4},
    ]
    assert [(r.name, r.time - 1.7e9, r.unit, r.value) for r in resolve_pack(pack, NOW)] == [
        ("a:x", 0, "m", 11), ("a:y", 1, "m", 12), ("a:z", 2, "m", 10),
        ("b:x", 3, "mm", 5), ("b:y", 4, "Cel", 6),
    ]


def test_sum_resolution_with_base_sum():
    pack = [{"bn": "d:", "bs": 100, "n": "e", "s": 5, "t": 1.7e9},
            {"n": "e", "s": 7, "v": 1.5, "t": 1.7e9 + 1}]
    assert [(r.sum, r.value) for r in resolve_pack(pack, NOW)] == [(105, None), (107, 1.5)]


def test_base_value_is_not_added_to_string_boolean_or_data_values():
    pack = [{"bn": "d:", "bv": 3, "n": "s", "vs": "x"}, {"n": "b", "vb": True}]
    got = resolve_pack(pack, NOW)
    assert [(r.value, r.string_value, r.bool_value) for r in got] == [
        (None, "x", None), (None, None, True)]


@pytest.mark.parametrize(("bt", "t", "expected"), [
    (None, -5, T_NOW - 5),
    (None, 0, T_NOW),
    (-10, 5, T_NOW - 5),
    (None, 2**28 - 1, T_NOW + 2**28 - 1),
    (None, 2**28, 2**28),
    (1.7e9, -60, 1.7e9 - 60),
])
def test_times_below_2_pow_28_are_relative_to_now(bt, t, expected):
    rec = {"n": "x", "v": 1, "t": t}
    if bt is not None:
        rec["bt"] = bt
    assert resolve_pack([rec], NOW)[0].time == pytest.approx(expected)


def test_resolved_records_are_sorted_by_time():
    pack = [{"n": "a", "v": 1, "t": 1.7e9 + 30}, {"n": "b", "v": 2, "t": 1.7e9},
            {"n": "c", "v": 3, "t": 1.7e9 + 10}]
    assert [r.name for r in resolve_pack(pack, NOW)] == ["b", "c", "a"]


def test_unknown_fields_are_ignored_unless_they_end_in_underscore():
    assert resolve_pack([{"n": "x", "v": 1, "foo": {"bar": 1}}], NOW)[0].value == 1
    with pytest.raises(PayloadError, match=r"\[0\]\.foo_: unknown must-understand field"):
        resolve_pack([{"n": "x", "v": 1, "foo_": 1}], NOW)


@pytest.mark.parametrize(("pack", "reason"), [
    ({"n": "x", "v": 1}, "a SenML pack must be a JSON array, got an object"),
    ([], "empty SenML pack"),
    ([1], r"\[0\]: expected a JSON object, got a number"),
    ([{"v": 1}], r"\[0\]: resolved name is empty"),
    ([{"n": "a b", "v": 1}], "has a character outside"),
    ([{"n": "-ab", "v": 1}], "does not start with a letter or digit"),
    ([{"n": "_ab", "v": 1}], "does not start with a letter or digit"),
    ([{"n": "é", "v": 1}], "has a character outside"),
    ([{"bn": "ok:", "n": "a%b", "v": 1}], "has a character outside"),
    ([{"n": "x"}], r"\[0\]: record has no value \(v, vs, vb, vd or s\)"),
    ([{"n": "x", "v": 1, "vs": "a"}], r"more than one value field \(v, vs\)"),
    ([{"n": "x", "vb": True, "vd": "AA"}], r"more than one value field \(vb, vd\)"),
    ([{"n": "x", "v": "1"}], r"\[0\]\.v: expected a number, got a string"),
    ([{"n": "x", "v": True}], r"\[0\]\.v: expected a number, got a boolean"),
    ([{"n": "x", "vb": 1}], r"\[0\]\.vb: expected true or false, got a number"),
    ([{"n": 5, "v": 1}], r"\[0\]\.n: expected a string, got a number"),
    ([{"n": "x", "t": "now", "v": 1}], r"\[0\]\.t: expected a number"),
    ([{"n": "x", "vd": "a=="}], "not base64url without padding"),
    ([{"n": "x", "vd": "abcde"}], "not base64url without padding"),
    ([{"n": "x", "vd": "a+b/"}], "not base64url without padding"),
    ([{"bver": 11, "n": "x", "v": 1}], "SenML version 11 is newer than the supported version 10"),
    ([{"bver": 0, "n": "x", "v": 1}], "expected a positive integer"),
    ([{"bver": 10.0, "n": "x", "v": 1}], "expected a positive integer"),
    ([{"bver": True, "n": "x", "v": 1}], "expected a positive integer"),
    ([{"n": "x", "v": 1, "ut": -1}], "update time cannot be negative"),
    ([{"n": "x", "bv": 1e308, "v": 1e308}], "resolved value is not a finite number"),
    ([{"n": "x", "v": 1}, {"bn": "", "n": "", "v": 2}], r"\[1\]: resolved name is empty"),
])
def test_invalid_packs(pack, reason):
    with pytest.raises(PayloadError, match=reason):
        resolve_pack(pack, NOW)


def test_bver_10_is_the_default_and_not_reported():
    assert resolve_pack([{"bver": 10, "n": "x", "v": 1}], NOW)[0].version is None


# --- mapping to our readings ------------------------------------------------------------------

def senml(device: str, pack: list, **kw):
    return parse(f"ioc/v1/senml/{device}", json.dumps(pack).encode(), now=NOW, **kw)


def test_names_map_to_the_topic_device_and_metric():
    pack = [
        {"bn": "wl-1:", "bt": 1748739600, "bu": "m", "n": "water_level_m", "v": 3.42},
        {"n": "water_level_m", "t": -600, "v": 3.38},
        {"n": "urn:dev:ioc:wl-1:rain_mm", "bn": "", "u": "mm", "v": 12.5, "s": 86.0},
    ]
    parsed = senml("wl-1", pack)
    assert parsed.format == "senml" and parsed.device_id == "wl-1"
    t0 = datetime.fromtimestamp(1748739600, UTC)
    assert parsed.records == (
        Reading("wl-1", "water_level_m", t0 - timedelta(seconds=600), 3.38, None, "m"),
        Reading("wl-1", "water_level_m", t0, 3.42, None, "m"),
        Reading("wl-1", "rain_mm", t0, 12.5, None, "mm"),
        Reading("wl-1", "rain_mm_sum", t0, 86.0, None, "mm·s"),
    )


def test_relative_times_use_now():
    parsed = senml("aq-1", [{"n": "aq-1:pm25", "v": 12, "t": -30}])
    assert parsed.records[0].time == NOW - timedelta(seconds=30)


def test_device_ids_with_colons_are_matched_exactly():
    parsed = senml("site:aq.1", [{"bn": "site:aq.1:", "n": "pm10", "v": 40}])
    assert parsed.records[0].metric == "pm10"


@pytest.mark.parametrize(("pack", "reason"), [
    ([{"n": "aq-2:pm25", "v": 1}],
     "aq-2:pm25: name is not for device 'aq-1' \\(expected 'aq-1:<metric>' or "
     "'urn:dev:ioc:aq-1:<metric>'\\)"),
    ([{"n": "pm25", "v": 1}], "name is not for device 'aq-1'"),
    ([{"n": "urn:dev:ow:aq-1:pm25", "v": 1}], "name is not for device 'aq-1'"),
    ([{"n": "aq-1:PM25", "v": 1}], "name is not for device"),
    ([{"n": "aq-1:radiation", "v": 1}], "aq-1:radiation: unknown metric 'radiation'"),
    ([{"n": "aq-1:pm25", "u": "mg/m3", "v": 1}],
     "aq-1:pm25: unit 'mg/m3' is not accepted for pm25 \\(use 'ug/m3'\\)"),
    ([{"bu": "Cel", "n": "aq-1:humidity", "v": 1}], "unit 'Cel' is not accepted for humidity"),
    ([{"n": "aq-1:humidity", "v": 101}],
     r"aq-1:humidity: 101 is outside the physical range of humidity \[0, 100\] %"),
    ([{"n": "aq-1:pm25", "vs": "high"}], "aq-1:pm25: pm25 takes a number \\(v\\), got vs"),
    ([{"n": "aq-1:pm25", "vb": True}], "pm25 takes a number \\(v\\), got vb"),
    ([{"n": "aq-1:pm25", "vd": "AAAA"}], "pm25 takes a number \\(v\\), got vd"),
    ([{"n": "aq-1:rain_mm", "s": -1}], "sum of rain_mm cannot be negative"),
    ([{"n": "aq-1:pm25", "v": 1, "t": 1.7e9}, {"n": "aq-1:pm25", "v": 2, "t": 1.7e9}],
     "two records for pm25 at"),
    ([{"n": "aq-1:pm25", "v": 1, "t": 3600}], "is 3600 s in the future \\(limit 300 s\\)"),
    ([{"n": "aq-1:pm25", "v": 1, "t": 9.0e8}], "before 2000-01-01"),
])
def test_mapping_errors(pack, reason):
    with pytest.raises(PayloadError, match=reason) as err:
        senml("aq-1", pack)
    assert err.value.format == "senml" and err.value.device_id == "aq-1"


def test_text_boolean_and_data_values_map_by_the_metric_value_type():
    table = dict(ALL_METRICS,
                 door_open=MetricSpec("", 0, 1, value_type="boolean"),
                 firmware=MetricSpec("", 0, 0, value_type="text"),
                 blob=MetricSpec("", 0, 0, value_type="data"))
    pack = [{"bn": "d1:", "n": "door_open", "vb": True}, {"n": "door_open", "vb": False, "t": 1},
            {"n": "firmware", "vs": "2.4.1"}, {"n": "blob", "vd": "aGkgCg"}]
    got = parse_senml("d1", pack, now=NOW, max_future_s=300, metrics=table)
    assert [(r.metric, r.value, r.value_text) for r in got] == [
        ("door_open", 1.0, None), ("firmware", None, "2.4.1"), ("blob", None, "aGkgCg"),
        ("door_open", 0.0, None)]
