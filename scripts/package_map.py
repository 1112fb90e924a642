"""Move modules to the package map of docs/architecture.md and rewrite every reference to them.

Re-runnable and idempotent: a move whose source is gone and whose target exists is skipped,
and the rewrites only match the old names, so running it again on a tree that already has the
new map changes nothing. Run it from anywhere inside the checkout:

    python scripts/package_map.py            # git mv + rewrite imports, strings, paths, docs
    python scripts/package_map.py --check    # exit 1 and list what would change, change nothing

What it does:
1. `git mv` each entry of MOVES (a file or a whole package directory).
2. Rewrites, in every file git tracks (Python, Markdown, TOML, YAML, shell, Makefile, ...;
   not the applied SQL migrations, whose checksums are stored), the old dotted module names
   (`import ioc.aqi`, `from ioc.kpi.store import`, "ioc.police.rules.decide" in
   monkeypatch strings and prose), `from ioc import aqi` forms, and the old file paths
   (`ioc/kpi/data/catalogue.yaml`).
3. Adds the new top-level packages to `[tool.setuptools.packages.find] include`.
4. Sorts the imports of the Python files it changed (`ruff check --select I --fix`), since a
   moved module sorts elsewhere.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

# (old path, new path): a module file or a package directory, relative to the repository root.
MOVES: list[tuple[str, str]] = [
    # domain scales: one package that every other imports
    ("ioc/aqi.py", "ioc/domain/aqi.py"),
    ("ioc/disaster_levels.py", "ioc/domain/disaster_levels.py"),
    ("alerts/water_level.py", "ioc/domain/water_level.py"),
    # the CAP 1.2 schema, read by ingest (incoming warnings) and alerts (our own CAP feed)
    ("ingest/formats/cap-1.2.xsd", "ioc/domain/cap-1.2.xsd"),
    # feature packages of their own, beside ingest/alerts/layers
    ("ioc/kpi", "kpi"),
    ("ioc/evidence", "evidence"),
    ("ioc/police", "police"),
]

# New packages the moves need, with their docstring.
NEW_PACKAGES: dict[str, str] = {
    "ioc/domain/__init__.py": '"""Domain scales every package shares: VN_AQI, disaster risk '
    'levels, water alarm levels (pure)."""\n',
}

# Top-level packages to list in pyproject's setuptools `include`.
TOP_LEVEL = ["kpi", "evidence", "police"]

# Never rewritten: applied migrations are checksummed; this script names the old paths.
SKIP = re.compile(r"^(ioc/db/migrations/.*\.sql|scripts/package_map\.py)$")
TEXT = re.compile(
    r"(\.(py|pyi|md|rst|txt|toml|cfg|ini|ya?ml|sh|json|conf|html|css|js)|Makefile|Dockerfile"
    r"|/run|\.ci/[^/]+)$"
)


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _root() -> Path:
    out = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip())


def rewrites() -> list[tuple[re.Pattern[str], str]]:
    """(pattern, replacement) pairs, most specific first."""
    rules: list[tuple[re.Pattern[str], str]] = []
    for old, new in MOVES:
        if not _is_module(old):  # a data file: only its path is rewritten
            rules.append((re.compile(rf"(?<![\w./-]){re.escape(old)}(?![\w-])"), new))
            continue
        old_mod, new_mod = _module(old), _module(new)
        old_parent, _, old_name = old_mod.rpartition(".")
        new_parent, _, new_name = new_mod.rpartition(".")
        # `from ioc import aqi [as x]` -> `from ioc.domain import aqi [as x]` / `import kpi`
        if new_parent:
            rules.append((re.compile(rf"\bfrom {re.escape(old_parent)} import {old_name}\b"
                                     rf"(?=\s*(?:as\s+\w+)?\s*$)", re.M),
                          f"from {new_parent} import {new_name}"))
        else:
            rules.append((re.compile(rf"\bfrom {re.escape(old_parent)} import {old_name}\b"
                                     rf"(?=\s*(?:as\s+\w+)?\s*$)", re.M),
                          f"import {new_name}"))
        # dotted names: imports, monkeypatch strings, prose
        rules.append((re.compile(rf"(?<![\w.]){re.escape(old_mod)}(?!\w)"), new_mod))
        # file paths (ioc/kpi/data/x.yaml, `ioc/aqi.py`, ioc/kpi)
        rules.append((re.compile(rf"(?<![\w./-]){re.escape(old)}(?![\w-])"), new))
    return rules


def _is_module(path: str) -> bool:
    return path.endswith(".py") or "." not in Path(path).name


def _tracked(root: Path, under: str = ".") -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--", under], cwd=root, capture_output=True,
                         check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def move(root: Path, check: bool) -> list[str]:
    done = []
    for old, new in MOVES:
        src, dst = root / old, root / new
        if not src.exists():
            continue  # moved before
        if dst.exists() and dst.is_file():
            sys.exit(f"package_map: both {old} and {new} exist; merge them by hand first")
        done.append(f"git mv {old} {new}")
        if check:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir():  # a target directory left by an earlier run: move the files one by one
            for rel in _tracked(root, old):
                target = dst / Path(rel).relative_to(old)
                target.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(["git", "mv", rel, str(target)], cwd=root, check=True)
        else:
            subprocess.run(["git", "mv", old, new], cwd=root, check=True)
    for path, text in NEW_PACKAGES.items():
        if not (root / path).exists():
            done.append(f"create {path}")
            if not check:
                (root / path).write_text(text, encoding="utf-8")
                subprocess.run(["git", "add", path], cwd=root, check=True)
    return done


def rewrite(root: Path, check: bool) -> list[str]:
    rules = rewrites()
    changed = []
    for rel in _tracked(root):
        if SKIP.match(rel) or not TEXT.search(rel):
            continue
        path = root / rel
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        new = text
        for pattern, repl in rules:
            new = pattern.sub(repl, new)
        if rel == "pyproject.toml":
            new = _include_packages(new)
        if new != text:
            changed.append(rel)
            if not check:
                path.write_text(new, encoding="utf-8")
    return changed


def _include_packages(text: str) -> str:
    m = re.search(r"(\[tool\.setuptools\.packages\.find\]\s*\ninclude\s*=\s*\[)([^\]]*)\]", text)
    if not m:
        return text
    names = re.findall(r'"([^"]+)"', m.group(2))
    missing = [f"{p}*" for p in TOP_LEVEL if f"{p}*" not in names]
    if not missing:
        return text
    items = ", ".join(f'"{n}"' for n in [*names, *missing])
    return text[: m.start()] + m.group(1) + items + "]" + text[m.end():]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="list what would change and exit 1 if anything would; change nothing")
    args = parser.parse_args(argv)
    root = _root()
    moved = move(root, args.check)
    changed = rewrite(root, args.check)
    for line in moved:
        print(line)
    for rel in changed:
        print(f"rewrite {rel}")
    if args.check:
        return 1 if moved or changed else 0
    py = [rel for rel in changed if rel.endswith(".py")]
    if py:
        ruff = Path(sys.executable).with_name("ruff")
        cmd = [str(ruff) if ruff.exists() else "ruff", "check", "--select", "I", "--fix",
               "--quiet", *py]
        subprocess.run(cmd, cwd=root, check=False)
    print(f"package_map: {len(moved)} moves, {len(changed)} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
