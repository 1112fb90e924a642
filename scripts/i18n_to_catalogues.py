#!/usr/bin/env python3
"""Move UI texts written the old way (Python dicts) into the catalogues dashboards/locales/*.json.

The old way: `TEXT = {"key": {"vi": ..., "en": ...}, ...}` in dashboards/i18n.py (plus its
`TEXT.update({...})` blocks), and modules that extend it when imported, either
`TEXT.update({...})` (their values win) or `for k, v in TEXT.items(): i18n.TEXT.setdefault(k, v)`
(fills only the keys still missing). This script reads those dicts from the source without
importing anything, applies them with the same precedence, and writes every key into each
language's catalogue (new keys added, changed values updated, other keys kept).

Re-runnable, for branches written before the catalogues existed:

    python scripts/i18n_to_catalogues.py                 # read the working tree
    python scripts/i18n_to_catalogues.py --rev BRANCH    # read the .py files as on BRANCH
    python scripts/i18n_to_catalogues.py --strip         # ... and delete the old dicts
    python scripts/i18n_to_catalogues.py --check         # exit 1 if any old-style text is left

It prints what it added, changed, and which files still hold old-style texts.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "dashboards" / "locales"
LANGUAGES = ("vi", "en")
BASE = "dashboards/i18n.py"


def _is_text_dict(node: ast.AST) -> bool:
    """A dict literal of key -> {"vi": ..., ...} (what the old TEXT dicts look like)."""
    if not isinstance(node, ast.Dict) or not node.keys:
        return False
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return False
        if not isinstance(value, ast.Dict) or not any(
            isinstance(k, ast.Constant) and k.value == "vi" for k in value.keys
        ):
            return False
    return True


def _target_name(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
    elif isinstance(stmt, ast.AnnAssign):
        target = stmt.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def _is_text_attr(node: ast.AST) -> bool:
    """`TEXT` or `i18n.TEXT` (the shared dictionary)."""
    return (isinstance(node, ast.Name) and node.id == "TEXT") or (
        isinstance(node, ast.Attribute) and node.attr == "TEXT"
    )


def _calls_on_text(node: ast.AST, method: str) -> ast.Call | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and _is_text_attr(node.func.value)
    ):
        return node
    return None


def old_style_texts(path: str, source: str) -> tuple[list[tuple[str, dict]], list[tuple[int, int]]]:
    """[(how, {key: {lang: text}})] in source order, how being "base", "update" or "fill",
    and the line ranges (1-based, inclusive) of the statements that hold them."""
    tree = ast.parse(source, path)
    dicts: dict[str, tuple[ast.stmt, dict]] = {}
    found: list[tuple[str, dict]] = []
    spans: list[tuple[int, int]] = []
    is_base = path == BASE
    for stmt in tree.body:
        name = _target_name(stmt)
        if name is not None and stmt.value is not None and _is_text_dict(stmt.value):
            value = ast.literal_eval(stmt.value)
            if is_base and name == "TEXT":
                found.append(("base", value))
                spans.append((stmt.lineno, stmt.end_lineno))
            else:
                dicts[name] = (stmt, value)
            continue
        if isinstance(stmt, ast.Expr) and (call := _calls_on_text(stmt.value, "update")):
            arg = call.args[0] if call.args else None
            if isinstance(arg, ast.Dict) and _is_text_dict(arg):
                found.append(("update", ast.literal_eval(arg)))
                spans.append((stmt.lineno, stmt.end_lineno))
            elif isinstance(arg, ast.Name) and arg.id in dicts:
                held, value = dicts.pop(arg.id)
                found.append(("update", value))
                spans += [(held.lineno, held.end_lineno), (stmt.lineno, stmt.end_lineno)]
            continue
        if (
            isinstance(stmt, ast.For)
            and isinstance(stmt.iter, ast.Call)
            and isinstance(stmt.iter.func, ast.Attribute)
            and isinstance(stmt.iter.func.value, ast.Name)
            and stmt.iter.func.value.id in dicts
            and any(_calls_on_text(n, "setdefault") for n in ast.walk(stmt))
        ):
            held, value = dicts.pop(stmt.iter.func.value.id)
            found.append(("fill", value))
            spans += [(held.lineno, held.end_lineno), (stmt.lineno, stmt.end_lineno)]
    return found, spans


def _python_files(rev: str | None) -> dict[str, str]:
    """path -> source of every .py file under dashboards/ (at `rev`, or in the work tree)."""
    if rev is None:
        return {
            str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
            for p in sorted((ROOT / "dashboards").rglob("*.py"))
        }
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, "dashboards/"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        for name in names
        if name.endswith(".py")
    }


def effective_texts(files: dict[str, str]) -> tuple[dict[str, dict], dict[str, list]]:
    """The texts as the old code ended up with them: the base dict and its updates, then every
    module's `update` (its values win), then every `fill` (only missing keys); and per file the
    line spans of old-style statements."""
    base: dict[str, dict] = {}
    updates: list[dict] = []
    fills: list[dict] = []
    spans: dict[str, list] = {}
    order = sorted(files, key=lambda p: (p != BASE, p))
    for path in order:
        found, where = old_style_texts(path, files[path])
        if where:
            spans[path] = where
        for how, value in found:
            if how == "base" or (how == "update" and path == BASE):
                base.update(value)
            elif how == "update":
                updates.append(value)
            else:
                fills.append(value)
    texts = dict(base)
    for value in updates:
        texts.update(value)
    for value in fills:
        for key, entry in value.items():
            texts.setdefault(key, entry)
    return texts, spans


def load_catalogues() -> dict[str, dict[str, str]]:
    out = {}
    for lang in LANGUAGES:
        path = LOCALES / f"{lang}.json"
        out[lang] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return out


def write_catalogues(catalogues: dict[str, dict[str, str]]) -> None:
    LOCALES.mkdir(parents=True, exist_ok=True)
    for lang, texts in catalogues.items():
        body = json.dumps(dict(sorted(texts.items())), ensure_ascii=False, indent=1)
        (LOCALES / f"{lang}.json").write_text(body + "\n", encoding="utf-8")


def merge(catalogues: dict[str, dict[str, str]], texts: dict[str, dict]) -> list[str]:
    """Put `texts` into the catalogues; a text missing in a language falls back to Vietnamese
    (as the old t() did). Returns what changed, one line each."""
    changes = []
    for key, entry in sorted(texts.items()):
        for lang in LANGUAGES:
            value = entry.get(lang) or entry["vi"]
            old = catalogues[lang].get(key)
            if old != value:
                changes.append(f"{'added' if old is None else 'changed'} {lang} {key}")
                catalogues[lang][key] = value
    return changes


def strip(path: str, where: list[tuple[int, int]]) -> None:
    """Delete the old-style statements (and the comment lines right above each) from a file."""
    file = ROOT / path
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    drop = set()
    for first, last in where:
        drop.update(range(first - 1, last))
        above = first - 2
        while above >= 0 and lines[above].lstrip().startswith("#"):
            drop.add(above)
            above -= 1
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    file.write_text(re.sub(r"\n{4,}", "\n\n\n", kept), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="read the .py files as they are at this git revision")
    parser.add_argument("--strip", action="store_true",
                        help="delete the old-style texts from the work tree afterwards")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if any old-style text is left")
    args = parser.parse_args(argv)
    texts, spans = effective_texts(_python_files(args.rev))
    if args.check:
        for path in spans:
            print(f"old-style texts left in {path}")
        return 1 if spans else 0
    catalogues = load_catalogues()
    changes = merge(catalogues, texts)
    write_catalogues(catalogues)
    for line in changes:
        print(line)
    print(f"{len(texts)} keys read, {len(changes)} catalogue entries added or changed")
    if args.strip:
        if args.rev:
            parser.error("--strip works on the work tree only (leave out --rev)")
        for path, where in spans.items():
            strip(path, where)
            print(f"stripped old-style texts from {path}; check its imports (ruff check)")
    elif args.rev:
        print(f"read from {args.rev} ({len(spans)} files with old-style texts); the work tree's "
              "catalogues are updated, its .py files are not touched")
    else:
        for path in spans:
            print(f"old-style texts remain in {path} (run again with --strip to delete them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
