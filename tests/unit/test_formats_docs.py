"""docs/payloads.md and docs/schemas stay true: schemas generated from the parser tables, every
example valid against its schema and accepted by the parser, every JSON block a real example."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.formats import FAMILY_METRICS, parse
from ingest.formats.json_schemas import all_schemas, render
from ingest.records import PayloadError

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "payloads.md"
SCHEMAS = ROOT / "docs" / "schemas"
EXAMPLES = sorted((SCHEMAS / "examples").glob("*.json"))
NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
FRIGATE_TOPICS = {"frigate-events": "frigate/events", "frigate-reviews": "frigate/reviews"}


def schema_and_topic(example: Path) -> tuple[str, str]:
    """`<schema>.<device_id>[.<what>].json` -> (schema file, topic)."""
    stem, device = example.name.split(".")[:2]
    return f"{stem}.schema.json", FRIGATE_TOPICS.get(stem, f"ioc/v1/{stem}/{device}")


def validator(name: str):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_published_schemas_are_generated_from_the_tables(name):
    published = (SCHEMAS / name).read_text(encoding="utf-8")
    assert published == render(all_schemas()[name]), (
        "run: python -m ingest.formats.json_schemas docs/schemas")


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_schemas_are_valid_draft_2020_12_and_have_examples(name):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(all_schemas()[name])
    assert any(schema_and_topic(e)[0] == name for e in EXAMPLES), f"no example for {name}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_against_its_schema(example):
    schema_name, _ = schema_and_topic(example)
    validator(schema_name).validate(json.loads(example.read_text(encoding="utf-8")))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_parses(example):
    _, topic = schema_and_topic(example)
    parsed = parse(topic, example.read_bytes(), now=NOW)
    assert parsed.records


def test_every_example_is_linked_from_the_doc():
    text = DOC.read_text(encoding="utf-8")
    missing = [e.name for e in EXAMPLES if f"schemas/examples/{e.name}" not in text]
    assert not missing
    for link in re.findall(r"\]\((schemas/[^)]+)\)", text):
        assert (DOC.parent / link).is_file(), link


def test_every_json_block_in_the_doc_is_an_example_file():
    examples = [json.loads(e.read_text(encoding="utf-8")) for e in EXAMPLES]
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        assert json.loads(block) in examples, block[:200]


def test_xml_examples_in_the_doc_parse():
    blocks = re.findall(r"```xml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        (alert,) = parse("ioc/v1/cap", block.encode(), now=NOW).records
        assert alert.identifier


def test_metric_table_in_the_doc_matches_the_code():
    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| ([^|]+) \| ([-\d.]+) \| ([-\d.]+) \| ([^|]*) \|",
                      DOC.read_text(encoding="utf-8"), re.M)
    documented = {(fam, name): (unit.strip(), float(lo), float(hi),
                                tuple(re.findall(r"`([^`]+)`", senml)))
                  for fam, name, unit, lo, hi, senml in rows}
    expected = {(fam, name): (s.unit, s.minimum, s.maximum, s.senml_units)
                for fam, table in FAMILY_METRICS.items() for name, s in table.items()}
    assert documented == expected


@pytest.mark.parametrize(("schema_name", "topic", "doc"), [
    ("environment.schema.json", "ioc/v1/environment/a", {"metrics": {"pm25": True}}),
    ("environment.schema.json", "ioc/v1/environment/a", {"metrics": {"humidity": 101}}),
    ("environment.schema.json", "ioc/v1/environment/a", {"metrics": {"rain_mm": 1}}),
    ("environment.schema.json", "ioc/v1/environment/a", {"metrics": {}}),
    ("environment.schema.json", "ioc/v1/environment/a", {"metrics": {"pm25": 1}, "x": 1}),
    ("environment.schema.json", "ioc/v1/environment/a", {"time": "2025-06-01T01:00:00",
                                                         "metrics": {"pm25": 1}}),
    ("tourism.schema.json", "ioc/v1/tourism/a", {"metrics": {"entries": 1.5}}),
    ("tourism.schema.json", "ioc/v1/tourism/a", {"metrics": {"exits": -1}}),
    ("disaster.schema.json", "ioc/v1/disaster/a", {"seq": -1, "metrics": {"rain_mm": 1}}),
    ("camera.schema.json", "ioc/v1/camera/a", {"metrics": {}}),
    ("camera.schema.json", "ioc/v1/camera/a", {"event": {"id": "e", "type": "fire"}}),
    ("camera.schema.json", "ioc/v1/camera/a", {"event": {"id": "e", "type": "x",
                                                         "phase": "new"}}),
    ("senml.schema.json", "ioc/v1/senml/a", []),
    ("senml.schema.json", "ioc/v1/senml/a", [{"n": "a:pm25", "v": 1, "x_": 1}]),
    ("senml.schema.json", "ioc/v1/senml/a", [{"n": "a:pm25", "v": 1, "vs": "x"}]),
    ("senml.schema.json", "ioc/v1/senml/a", [{"n": "a:pm25", "bver": 11, "v": 1}]),
    ("status.schema.json", "ioc/v1/status/a", {"status": "up"}),
    ("frigate-events.schema.json", "frigate/events", {"type": "new"}),
    ("frigate-reviews.schema.json", "frigate/reviews",
     {"type": "new", "after": {"id": "r", "camera": "c", "severity": "x", "start_time": 1.7e9}}),
])
def test_schema_and_parser_agree_on_invalid_payloads(schema_name, topic, doc):
    assert list(validator(schema_name).iter_errors(doc)), "schema accepted it"
    with pytest.raises(PayloadError):
        parse(topic, json.dumps(doc).encode(), now=NOW)
