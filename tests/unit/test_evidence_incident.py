"""The camera incident's one shape: the record ingest writes, the incident the pages read back."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from evidence import store
from evidence.incident import RECORD_COLUMNS, Incident, IncidentRecord

T0 = dt.datetime(2025, 6, 1, 1, 0, tzinfo=dt.UTC)
MIGRATION = Path(__file__).parents[2] / "ioc/db/migrations/0002_ingest.sql"


def _record_values(**over) -> dict:
    values = dict(source="frigate", event_id="e1", device_id="cam-a", label="person",
                  phase="end", first_seen=T0, started_at=T0, last_update=T0, ended_at=T0,
                  confidence=0.8, top_confidence=0.9, zones=("lane_in",), plate="24A-686.68",
                  plate_confidence=0.7, snapshot_sha256=None, snapshot_url=None,
                  false_positive=False, data={"sub_label": ["fight", 0.9]})
    return {**values, **over}


def test_record_columns_are_the_tables_columns_in_order():
    ddl = MIGRATION.read_text()
    table = ddl[ddl.index("CREATE TABLE camera_incidents"):]
    table = table[:table.index(");")]
    columns = re.findall(r"^\s{4}([a-z_0-9]+)\s", table, flags=re.M)
    assert tuple(c for c in columns if c != "received_at") == RECORD_COLUMNS


def test_the_incident_is_the_record_with_place_type_and_review():
    record = IncidentRecord(**_record_values())
    inc = Incident(**_record_values(), camera_name="Cổng chợ", unit_id="lao_cai_city",
                   lon=103.97, lat=22.5, type="fight")
    assert isinstance(inc, IncidentRecord)
    assert record.key == inc.key == "frigate:e1"
    # the record compares its data; the incident's data is not part of its identity
    assert record != IncidentRecord(**_record_values(data={}))
    assert inc == replace(inc, data={})
    assert hash(inc) == hash(replace(inc, data={}))
    with pytest.raises(FrozenInstanceError):
        inc.plate = None  # type: ignore[misc]
    doc = inc.document()
    assert doc["zones"] == ["lane_in"] and doc["data"] == {"sub_label": ["fight", 0.9]}
    assert doc["camera_name"] == "Cổng chợ" and doc["review"] is None


def test_incident_of_reads_a_row_of_the_incident_columns():
    """A row as INCIDENT_SELECT returns it: the record's columns, the camera's name and
    place, the type, the newest review; longer rows (the police queue's) are fine."""
    values = _record_values(zones=None, data=None)
    row = (*values.values(), "Cổng chợ", "lao_cai_city", 103.97, 22.5, None,
           "verified", "ca", T0, "thật", 80, "fight", None)
    assert len(row) == store.INCIDENT_WIDTH + 3
    inc = store.incident_of(row)
    assert inc.source == "frigate" and inc.event_id == "e1" and inc.plate == "24A-686.68"
    assert inc.zones == () and inc.data == {}
    assert inc.camera_name == "Cổng chợ" and inc.lon == 103.97 and inc.lat == 22.5
    assert inc.type == "person"  # no type from the query: the label
    assert (inc.review, inc.reviewed_by, inc.reviewed_at, inc.review_reason) == (
        "verified", "ca", T0, "thật")
