"""The registry page's pure logic: device state, filters, and what a submitted form changes."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards import registry_queries as rq
from ioc.devices.store import DeviceError, DeviceRecord

NOW = 1_800_000_000.0
T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def dev(device_id="wl-1", *, retired=False, interval=300, metadata=None, unit="02647",
        family="disaster", kind="water_level", name="Trạm Lào Cai") -> DeviceRecord:
    return DeviceRecord(device_id, name, family, kind, unit, 103.9, 22.5, interval,
                        metadata if metadata is not None else
                        {"river": "sông Hồng", "datum": "VN-2000",
                         "alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}},
                        not retired, T0, T0, T0 if retired else None, "an" if retired else None,
                        "hỏng" if retired else None)


@pytest.mark.parametrize(("device", "seen", "state"), [
    (dev(), None, "never"),
    (dev(), NOW - 60, "online"),
    (dev(), NOW - 3 * 300 - 1, "silent"),
    (dev(), NOW - 3 * 300 + 1, "online"),
    (dev(interval=10), NOW - 121, "silent"),  # at least two minutes, as the silence rule says
    (dev(interval=10), NOW - 119, "online"),
    (dev(metadata={"event_driven": True, "zones": ["a"]}), NOW - 86400, "online"),
    (dev(retired=True), NOW - 86400, "retired"),
    (dev(retired=True), None, "retired"),
])
def test_device_state(device, seen, state):
    assert rq.device_state(device, seen, NOW) == state


def test_filters_combine():
    rows = rq.registry_rows(
        [dev("wl-1"), dev("rg-2", kind="rain_gauge", name="Mưa Bát Xát", unit="02683"),
         dev("cam-3", family="camera", kind="camera", name="Camera chợ", unit="03006",
             retired=True)],
        {"wl-1": NOW - 10}, NOW)
    ids = lambda found: [r.device.device_id for r in found]  # noqa: E731
    assert ids(rq.filter_rows(rows, text="BÁT")) == ["rg-2"]
    assert ids(rq.filter_rows(rows, text="cam-")) == ["cam-3"]
    assert ids(rq.filter_rows(rows, families=["disaster"], states=["never"])) == ["rg-2"]
    assert ids(rq.filter_rows(rows, units=["02647", "03006"])) == ["wl-1", "cam-3"]
    assert rq.state_counts(rows) == {"online": 1, "silent": 0, "never": 1, "retired": 1}


def test_form_changes_only_what_differs():
    d = dev()
    same = {"name": d.name, "unit": d.unit, "lon": 103.9, "lat": 22.5, "interval": 300,
            "metadata": '{"river": "sông Hồng", "datum": "VN-2000"}',
            "level_1": 80, "level_2": 82, "level_3": 83.5}
    assert rq.form_changes(d, same) == {}
    changed = {**same, "name": "Trạm mới", "level_1": "80,5", "lat": 22.6,
               "metadata": '{"river": "sông Hồng"}'}
    assert rq.form_changes(d, changed) == {
        "name": "Trạm mới", "location": {"lon": 103.9, "lat": 22.6},
        "metadata": {"river": "sông Hồng", "datum": None,
                     "alarm_levels": {"I": 80.5, "II": 82.0, "III": 83.5}}}


@pytest.mark.parametrize(("form", "message"), [
    ({"lon": "abc", "lat": 1}, "lon: not a number"),
    ({"lon": 103.9}, "give both"),
    ({"metadata": "{oops"}, "metadata: not valid JSON"),
    ({"metadata": "[1]"}, "expected a JSON object"),
    ({"level_1": 1}, "give I, II and III"),
])
def test_form_problems_name_the_field(form, message):
    with pytest.raises(DeviceError, match=message):
        rq.form_changes(dev(), {"name": "Trạm Lào Cai", "unit": "02647", **form})
