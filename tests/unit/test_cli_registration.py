"""The `ioc` command is built from each package's own `register(add)` (ioc/cli.py is the
composition root): every subcommand is there, in the order of `ioc --help`, each from the
package that owns it."""

from __future__ import annotations

import argparse

import pytest

from ioc import cli

COMMANDS = {  # subcommand -> the module its function lives in
    "demo": "ioc.cli", "services": "ioc.cli", "db": "ioc.cli", "maintain": "ioc.cli",
    "ingest": "ingest.cli", "alerts": "alerts.cli", "web": "dashboards.cli",
    "sim": "sensors_sim.cli", "layers": "layers.cli", "units": "layers.cli", "kpi": "kpi.cli",
    "config": "ioc.cli", "users": "ioc.security.cli", "tokens": "ioc.security.cli",
    "evidence": "evidence.cli", "audit": "evidence.cli", "devices": "ioc.devices.cli",
    "police": "police.cli",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _a_func(parser: argparse.ArgumentParser):
    """The function a subcommand (or its first task, recursively) runs."""
    func = parser.get_default("func")
    if func is not None:
        return func
    return _a_func(next(iter(_subcommands(parser).values())))


def test_every_subcommand_in_the_order_of_help():
    assert list(_subcommands(cli.build_parser())) == list(COMMANDS)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_subcommand_comes_from_its_package(name):
    func = _a_func(_subcommands(cli.build_parser())[name])
    assert func.__module__ == COMMANDS[name]


def test_registering_loads_no_heavy_library():
    """Every process builds the parser: a package's `register` must not pull in its heavy
    libraries (they load when its subcommand runs)."""
    import subprocess
    import sys

    code = ("import sys; from ioc.cli import build_parser; build_parser(); "
            "print(' '.join(sorted(m for m in ('geopandas', 'pyogrio', 'shapely', 'dash', "
            "'plotly', 'flask', 'reportlab', 'PIL', 'paho') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == ""
