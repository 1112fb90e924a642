"""No source module over 500 lines without a reason written at its top (issue 15): a long module
says in its docstring why it is long ("... is long because ...")."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ioc", "ingest", "alerts", "dashboards", "layers", "sensors_sim", "kpi", "evidence",
            "police")
LIMIT = 500


def unexplained(paths: Iterable[Path]) -> list[str]:
    """The modules over LIMIT lines whose docstring does not say why they are long."""
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines <= LIMIT:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not ("long" in doc and "because" in doc):
            found.append(f"{path.name} ({lines} lines)")
    return found


def test_long_modules_say_why():
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(paths) > 100
    missing = unexplained(paths)
    assert not missing, "over 500 lines with no reason at the top: " + ", ".join(missing)


def test_the_rule(tmp_path):
    body = "x = 1\n" * (LIMIT + 1)
    (tmp_path / "short.py").write_text("x = 1\n")
    (tmp_path / "long.py").write_text('"""A module."""\n' + body)
    (tmp_path / "reasoned.py").write_text('"""This is long because it holds one table."""\n' + body)
    assert unexplained(sorted(tmp_path.glob("*.py"))) == [f"long.py ({LIMIT + 2} lines)"]
