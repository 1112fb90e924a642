"""Alert rules as data: the built-in file validates; errors name the file, the rule, the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.rules import (
    DEFAULT_RULES,
    RULE_TYPES,
    RulesError,
    load_rules,
    parse_rule,
    parse_rules,
    with_overrides,
)


def test_built_in_rules_cover_every_rule_type():
    rules = load_rules()
    assert {r.type for r in rules.rules} == set(RULE_TYPES)
    assert rules.storm.window_s == 300
    assert rules.disaster_levels.flood[0].band().reference == "II"
    public = [r.id for r in rules.rules if r.public]
    assert "water_level_alarm" in public and all(rules.rule(i).cap for i in public)


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def base_data() -> dict:
    return yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))


def test_unknown_key_names_file_rule_and_key(tmp_path):
    data = base_data()
    data["rules"][0]["treshold"] = 3
    path = write(tmp_path, data)
    with pytest.raises(RulesError) as err:
        load_rules(path)
    message = str(err.value)
    assert str(path) in message
    assert "rule 'water_level_alarm' (rules[0])" in message
    assert "treshold: unknown key" in message


@pytest.mark.parametrize(("rule", "expected"), [
    ({"id": "x", "type": "threshold", "metric": "pm25", "levels": []},
     "rule 'x' (rules[0]): levels: List should have at least 1 item"),
    ({"id": "x", "type": "threshold", "metric": "pm25",
      "levels": [{"value": 50, "severity": "severe"}, {"value": 40, "severity": "extreme"}]},
     "values must get strictly worse"),
    ({"id": "x", "type": "nonsense"}, "rule 'x' (rules[0]): Input tag 'nonsense'"),
    ({"id": "Bad Id", "type": "silence"}, "id: String should match pattern"),
    ({"id": "x", "type": "silence", "severity": "catastrophic"}, "severity: Input should be"),
    ({"id": "x", "type": "silence", "public": True}, "public: true needs a `cap` section"),
    ({"id": "x", "type": "silence", "title": "{name} {nope}"}, "unknown field(s) ['nope']"),
    ({"id": "x", "type": "air_quality", "min_category": 3, "severities": {3: "minor"}},
     "severities: missing level(s) [4, 5, 6]"),
    ({"id": "x", "type": "water_level", "severities": {"I": "minor"}},
     "missing alarm level(s) ['II', 'III']"),
    ({"id": "x", "type": "silence", "escalation": [{"after_s": 60}, {"after_s": 30}]},
     "after_s must strictly increase"),
])
def test_invalid_rules(rule, expected):
    with pytest.raises(RulesError, match=None) as err:
        parse_rules({"rules": [rule]}, "rules.yaml")
    assert expected in str(err.value)
    assert str(err.value).startswith("rules.yaml: ")


def test_duplicate_ids_and_bad_sections():
    rule = {"id": "x", "type": "silence"}
    with pytest.raises(RulesError, match="rule id 'x' is used twice"):
        parse_rules({"rules": [rule, rule]}, "f.yaml")
    with pytest.raises(RulesError, match=r"f.yaml: storm.window_s: Input should be greater"):
        parse_rules({"storm": {"window_s": 1}}, "f.yaml")
    with pytest.raises(RulesError, match="flood band 'IV'"):
        parse_rules({"disaster_levels": {"flood": [{"at": "IV", "level": 1}]}}, "f.yaml")
    with pytest.raises(RulesError, match="expected a mapping"):
        parse_rules(["rules"], "f.yaml")


def test_yaml_and_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [", encoding="utf-8")
    with pytest.raises(RulesError, match="bad.yaml: not valid YAML"):
        load_rules(bad)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_single_rule_and_overrides():
    rule = parse_rule({"id": "pm25_spike", "type": "threshold", "metric": "pm25",
                       "levels": [{"value": 150, "severity": "severe"}], "for_s": 300})
    assert rule.alert_kind == "pm25" and rule.for_s == 300
    with pytest.raises(RulesError, match="alert_rules: rule 'y': metric: Field required"):
        parse_rule({"id": "y", "type": "threshold", "levels": []})
    base = load_rules()
    silent = parse_rule({"id": "device_silent", "type": "silence", "intervals": 10})
    merged = with_overrides(base, [silent, rule])
    assert merged.rule("device_silent").intervals == 10
    assert merged.rule("pm25_spike") is rule
    assert [r.id for r in merged.rules][: len(base.rules)] == [r.id for r in base.rules]
