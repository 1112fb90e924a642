"""Registry files: the example files parse, every problem is named by line and field."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from ioc.devices.formats import entries_to_csv, format_of, parse_registry
from ioc.devices.model import registry_file_schema

DATA = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "devices.schema.json"


@pytest.mark.parametrize("path", sorted(DATA.iterdir()), ids=lambda p: p.name)
def test_every_shipped_registry_file_is_valid(path):
    parsed = parse_registry(path.read_bytes(), format_of(path))
    assert parsed.problems == ()
    assert len(parsed.entries) >= 2


def test_the_published_schema_is_generated_and_accepts_the_yaml_examples():
    schema = registry_file_schema()
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == schema, (
        "run: ioc devices schema > docs/schemas/devices.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    for name in ("example.yaml", "river_stations.yaml"):
        jsonschema.validate(yaml.safe_load((DATA / name).read_text(encoding="utf-8")), schema)


def test_csv_yaml_and_geojson_describe_the_same_station():
    by_format = {}
    for name in ("example.csv", "example.yaml", "example.geojson"):
        parsed = parse_registry((DATA / name).read_bytes(), format_of(name))
        by_format[name] = next(e for _, e in parsed.entries if e.id == "wl-hong-lao-cai")
    csv_e, yaml_e, geo_e = by_format.values()
    assert csv_e.metadata["alarm_levels"] == {"I": 80.0, "II": 82.0, "III": 83.5}
    assert csv_e.location == yaml_e.location == geo_e.location
    assert csv_e.alarm_levels == yaml_e.alarm_levels == geo_e.alarm_levels
    assert csv_e.device_family == "disaster" and csv_e.interval_s == 300


def test_the_river_stations_have_real_levels_and_say_which_are_demo():
    parsed = parse_registry((DATA / "river_stations.yaml").read_bytes(), "yaml")
    stations = {e.id: e for _, e in parsed.entries}
    assert len(stations) == 5
    assert stations["wl-hong-lao-cai"].alarm_levels.as_tuple() == (80.0, 82.0, 83.5)
    assert stations["wl-thao-yen-bai"].alarm_levels.as_tuple() == (30.0, 31.0, 32.0)
    for e in stations.values():
        assert e.kind == "water_level" and e.unit and e.metadata["levels_source"]


BAD_CSV = """\
id,name,kind,unit,lon,lat,river,datum,alarm_level_1,alarm_level_2,alarm_level_3,capacity,zones
wl-ok,Trạm tốt,water_level,02647,103.9,22.5,sông Hồng,VN-2000,80,82,83.5,,
wl-bad,Trạm xấu,water_level,02647,abc,22.5,sông Hồng,VN-2000,80,79,83.5,,
gate-1,Cổng,visitor_counter,,103.9,95,,,,,,,
cam/1,Camera,camera,,103.9,22.5,,,,,,,
wl-ok,Trùng,water_level,,,,sông,x,1,2,3,,
x-1,Không rõ,noise,,,,,,,,,,
ioc-ingest,Giả mạo,rain_gauge,,,,,,,,,,
"""


def test_a_bad_csv_names_every_problem_by_line_and_column():
    parsed = parse_registry(BAD_CSV.encode(), "csv")
    found = {(p.line, p.field) for p in parsed.problems}
    assert found == {
        (3, "lon"),  # not a number
        (3, "alarm_level_1, alarm_level_2, alarm_level_3"),  # 80 < 79 fails
        (4, "lat"),  # 95 is beyond 90
        (4, "capacity"),  # required for a visitor counter
        (5, "id"),  # a slash in the id
        (5, "zones"),  # a camera needs zones
        (6, "id"),  # duplicate of line 2
        (7, None),  # unknown kind without a family
        (8, "id"),  # a service account's name
    }, parsed.messages()
    assert [line for line, _ in parsed.entries] == [2]
    text = "\n".join(parsed.messages())
    assert "line 3 (wl-bad): lon: not a number: 'abc'" in text
    assert "line 6 (wl-ok): id: duplicate id (first on line 2)" in text
    assert "must rise I < II < III" in text


def test_a_bad_yaml_names_the_line_of_the_field():
    text = """\
devices:
  - id: wl-1
    name: Trạm 1
    kind: water_level
    metadata:
      river: sông Hồng
      datum: VN-2000
      alarm_levels: {I: 80, II: 82}
      colour: blue
  - id: rg-1
    name: Mưa
    kind: rain_gauge
    family: tourism
"""
    parsed = parse_registry(text, "yaml")
    found = {(p.line, p.field) for p in parsed.problems}
    assert found == {(8, "metadata.alarm_levels.III"), (9, "metadata.colour"), (10, None)}, \
        parsed.messages()


def test_geojson_needs_points_and_reports_feature_lines():
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [104.0, 22.4]},
         "properties": {"id": "rg-1", "name": "Mưa", "kind": "rain_gauge"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
         "properties": {"id": "rg-2", "name": "Mưa 2", "kind": "rain_gauge"}},
    ]}
    parsed = parse_registry(json.dumps(doc, indent=1), "geojson")
    assert [e.id for _, e in parsed.entries] == ["rg-1"]
    (problem,) = parsed.problems
    assert problem.field == "location" and problem.device_id == "rg-2" and problem.line > 5


@pytest.mark.parametrize(("text", "fmt", "message"), [
    ("", "csv", "empty file"),
    ("id,name,colour\n", "csv", "unknown column(s) colour"),
    ("devices: [\n", "yaml", "not valid YAML"),
    ("stations: []\n", "yaml", "`devices:` list"),
    ("{}", "geojson", "FeatureCollection"),
])
def test_a_broken_file_is_one_problem(text, fmt, message):
    parsed = parse_registry(text, fmt)
    assert not parsed.entries and len(parsed.problems) == 1
    assert message in parsed.problems[0].message


def test_csv_export_reads_back_the_same():
    parsed = parse_registry((DATA / "example.yaml").read_bytes(), "yaml")
    entries = [e for _, e in parsed.entries]
    again = parse_registry(entries_to_csv(entries), "csv")
    assert again.problems == ()
    for (_, a), (_, b) in zip(parsed.entries, again.entries, strict=True):
        assert a.model_dump(exclude={"family"}) == b.model_dump(exclude={"family"})


def test_format_of_refuses_unknown_extensions():
    assert format_of("a.CSV") == "csv" and format_of("a.yml") == "yaml"
    with pytest.raises(ValueError, match="unknown registry format"):
        format_of("a.xlsx")
