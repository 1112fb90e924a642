"""Query parameters of /api/v1: unknown, repeated and invalid ones are named with the reason."""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from dashboards.api.param_types import parse_time
from dashboards.api.params import (
    MAX_RANGE_DAYS,
    AlertsQuery,
    DevicesQuery,
    KpiValuesQuery,
    NgsiQuery,
    NoQuery,
    ReadingsQuery,
)
from dashboards.api.problems import INVALID_PARAMETER, UNKNOWN_PARAMETER, ApiProblem
from dashboards.api.query_parsing import is_list_field, parse_query

START = "2025-06-01T00:00:00+07:00"


def errors_of(model, pairs) -> tuple[str, dict[str, str]]:
    with pytest.raises(ApiProblem) as info:
        parse_query(model, MultiDict(pairs))
    problem = info.value
    assert problem.status == 400
    return problem.type, {e.parameter: e.reason for e in problem.errors}


def test_unknown_parameters_are_named_with_what_the_endpoint_takes():
    kind, errors = errors_of(DevicesQuery, [("famly", "camera"), ("page", "2")])
    assert kind == UNKNOWN_PARAMETER
    assert set(errors) == {"famly", "page"}
    assert "unknown parameter" in errors["famly"] and "family" in errors["famly"]
    kind, errors = errors_of(NoQuery, [("x", "1")])
    assert "takes no parameters" in errors["x"]


def test_lists_take_commas_or_repeats_and_scalars_refuse_repeats():
    q = parse_query(
        ReadingsQuery,
        MultiDict(
            [
                ("device_id", "a,b"),
                ("device_id", "c"),
                ("metric", "pm25"),
                ("start", START),
                ("end", "2025-06-02T00:00:00Z"),
            ]
        ),
    )
    assert q.device_id == ["a", "b", "c"] and q.metric == ["pm25"]
    assert q.start == dt.datetime(2025, 5, 31, 17, tzinfo=dt.UTC)
    _, errors = errors_of(ReadingsQuery, [("device_id", "a"), ("start", START), ("start", START)])
    assert errors == {"start": "given 2 times; give it once"}
    assert is_list_field(ReadingsQuery.model_fields["device_id"].annotation)
    assert not is_list_field(ReadingsQuery.model_fields["start"].annotation)


@pytest.mark.parametrize(
    "pairs, parameter, words",
    [
        ([("start", START)], "device_id", "required"),
        ([("device_id", "a")], "start", "required"),
        ([("device_id", "a; DROP TABLE x"), ("start", START)], "device_id[0]", "not a device id"),
        ([("device_id", ""), ("start", START)], "device_id[0]", "not a device id"),
        ([("device_id", "a\x00"), ("start", START)], "device_id[0]", "not a device id"),
        ([("device_id", "a"), ("metric", "PM25"), ("start", START)], "metric[0]", "metric name"),
        ([("device_id", "a"), ("start", "2025-06-01T00:00:00")], "start", "UTC offset"),
        ([("device_id", "a"), ("start", "2025-06-01")], "start", "ISO 8601"),
        ([("device_id", "a"), ("start", "yesterday")], "start", "ISO 8601"),
        ([("device_id", "a"), ("start", "1999-12-31T23:00:00Z")], "start", "between 2000"),
        ([("device_id", "a"), ("start", "9999-12-31T23:59:59-12:00")], "start", "between 2000"),
        ([("device_id", "a"), ("start", START), ("bucket", "week")], "bucket", "'week'"),
        ([("device_id", "a"), ("start", START), ("limit", "0")], "limit", "greater than"),
        ([("device_id", "a"), ("start", START), ("limit", "10001")], "limit", "less than"),
        ([("device_id", "a"), ("start", START), ("limit", "ten")], "limit", "integer"),
        ([("device_id", "a"), ("start", START), ("tz", "Mars/Olympus")], "tz", "IANA"),
        ([("device_id", "a"), ("start", START), ("tz", "../../etc/passwd")], "tz", "IANA"),
        ([("device_id", "a"), ("start", START), ("format", "xml")], "format", "'xml'"),
        ([("device_id", "a"), ("start", START), ("cursor", "not a cursor!")], "cursor", "cursor"),
        ([("device_id", ",".join(["d"] * 51)), ("start", START)], "device_id", "at most 50"),
    ],
)
def test_each_wrong_value_is_named_with_the_reason(pairs, parameter, words):
    kind, errors = errors_of(ReadingsQuery, pairs)
    assert kind == INVALID_PARAMETER
    assert parameter in errors, errors
    assert words in errors[parameter]


def test_several_wrong_parameters_are_all_reported_in_one_detail():
    with pytest.raises(ApiProblem) as info:
        parse_query(ReadingsQuery, MultiDict([("device_id", "a"), ("limit", "0"), ("tz", "x")]))
    assert {e.parameter for e in info.value.errors} == {"start", "limit", "tz"}
    assert info.value.detail.count(": ") == 3


@pytest.mark.parametrize("bucket, days", sorted(MAX_RANGE_DAYS.items()))
def test_range_limits_per_bucket(bucket, days):
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    ok_end = start + dt.timedelta(days=days)
    too_far = ok_end + dt.timedelta(seconds=1)
    base = [("device_id", "a"), ("bucket", bucket), ("start", start.isoformat())]
    parse_query(ReadingsQuery, MultiDict([*base, ("end", ok_end.isoformat())]))
    _, errors = errors_of(ReadingsQuery, [*base, ("end", too_far.isoformat())])
    assert f"at most {days} days for bucket={bucket}" in errors["end"]


def test_end_must_follow_start_and_defaults_to_now():
    _, errors = errors_of(ReadingsQuery, [("device_id", "a"), ("start", START), ("end", START)])
    assert errors == {"end": "must be after start"}
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    q = parse_query(ReadingsQuery, MultiDict([("device_id", "a"), ("start", recent)]))
    assert q.end is None and q.end_or_now() > q.start
    _, errors = errors_of(KpiValuesQuery, [("start", "2025-01-01"), ("end", "2024-01-01")])
    assert errors == {"end": "must be after start"}
    _, errors = errors_of(KpiValuesQuery, [("start", "2025-1-1")])
    assert "YYYY-MM-DD" in errors["start"]


def test_times_accept_z_fractions_and_a_plus_sent_unencoded():
    assert parse_time("2025-06-01T01:00:00Z") == dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC)
    assert parse_time("2025-06-01T08:00:00.5+07:00").microsecond == 500000
    assert parse_time("2025-06-01T08:00:00 07:00") == dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC)


def test_filters_leave_out_presentation_parameters():
    a = parse_query(AlertsQuery, MultiDict([("status", "active"), ("limit", "5"), ("tz", "UTC")]))
    b = parse_query(AlertsQuery, MultiDict([("status", "active"), ("format", "csv")]))
    assert a.filters() == b.filters() == {"status": ["active"]}
    day = parse_query(
        ReadingsQuery, MultiDict([("device_id", "a"), ("start", START), ("bucket", "day")])
    )
    assert day.filters()["tz"] == "UTC"  # a day cursor belongs to its time zone


def test_ngsi_options():
    q = parse_query(NgsiQuery, MultiDict([("type", "Alert"), ("options", "keyValues,count")]))
    assert q.key_values and q.wants_count and q.limit == 20
    q = parse_query(NgsiQuery, MultiDict([("type", "FloodMonitoring"), ("format", "simplified")]))
    assert q.key_values and not q.wants_count
    _, errors = errors_of(NgsiQuery, [("type", "Parking")])
    assert "type" in errors
    _, errors = errors_of(NgsiQuery, [("type", "Alert"), ("id", "urn:x:y")])
    assert "urn:ngsi-ld" in errors["id[0]"]


def test_the_deprecated_district_parameter_is_read_as_unit_id():
    q = parse_query(DevicesQuery, MultiDict([("district", "03006"), ("unit_id", "02647")]))
    assert q.unit_id == ["03006", "02647"]
    assert parse_query(AlertsQuery, MultiDict([("district", "02683")])).unit_id == ["02683"]
    kind, errors = errors_of(NoQuery, [("district", "03006")])  # only where unit_id is taken
    assert kind == UNKNOWN_PARAMETER and set(errors) == {"district"}
