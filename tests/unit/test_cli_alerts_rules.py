"""The `ioc alerts` command line: the worker as before, and `ioc alerts rules ...`."""

from __future__ import annotations

import pytest

from alerts import cli as alerts_cli
from ioc import cli, commands


def parse(*argv: str):
    return cli.build_parser().parse_args(list(argv))


def test_ioc_alerts_alone_still_runs_the_worker():
    args = parse("alerts")
    assert args.func is alerts_cli.cmd_alerts and args.alerts_command is None
    assert parse("--config", "x.toml", "alerts").func is alerts_cli.cmd_alerts
    named = parse("alerts", "--name", "alerts-1")
    assert named.func is alerts_cli.cmd_alerts and named.name == "alerts-1"
    assert parse("alerts").name is None  # host name and pid: unique per process


@pytest.mark.parametrize("argv, func", [
    (("list",), alerts_cli.cmd_alerts_rules_list),
    (("show", "pm25_high"), alerts_cli.cmd_alerts_rules_show),
    (("set", "rule.yaml"), alerts_cli.cmd_alerts_rules_set),
    (("enable", "pm25_high"), alerts_cli.cmd_alerts_rules_enable),
    (("disable", "pm25_high"), alerts_cli.cmd_alerts_rules_disable),
    (("delete", "pm25_high"), alerts_cli.cmd_alerts_rules_delete),
])
def test_rules_subcommands(argv, func):
    assert parse("alerts", "rules", *argv).func is func


@pytest.mark.parametrize("argv", [(), ("rules",), ("rules", "list"), ("rules", "show"),
                                  ("rules", "set"), ("rules", "enable"), ("rules", "disable"),
                                  ("rules", "delete")])
def test_each_has_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        parse("alerts", *argv, "--help")
    assert done.value.code == 0 and "usage: ioc alerts" in capsys.readouterr().out


def test_the_actor_is_recorded_as_a_cli_actor(monkeypatch):
    monkeypatch.setattr(commands, "cli_actor", lambda: "cli:root")
    assert commands.actor_of(parse("alerts", "rules", "enable", "x")) == "cli:root"
    assert commands.actor_of(parse("alerts", "rules", "enable", "x", "--actor", "ana")) == "cli:ana"
    assert commands.actor_of(parse("layers", "import", "f.geojson", "--name", "z", "--actor", "bo")) \
        == "cli:bo"


def test_rule_files_hold_one_rule_or_several(tmp_path):
    one = tmp_path / "one.yaml"
    one.write_text("id: a\ntype: silence\n")
    assert alerts_cli._read_rule_file(str(one)) == [{"id": "a", "type": "silence"}]
    many = tmp_path / "many.json"
    many.write_text('{"rules": [{"id": "a", "type": "silence"}, {"id": "b", "type": "cap"}]}')
    assert [r["id"] for r in alerts_cli._read_rule_file(str(many))] == ["a", "b"]
    for text in ("- 1\n- 2\n", "just text\n", "{: broken"):
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(commands.UsageError):
            alerts_cli._read_rule_file(str(tmp_path / "bad.yaml"))
