"""The UI text catalogues: every key in both languages, with the same placeholders; loaded from
data, not from Python dicts that modules extend when imported."""

from __future__ import annotations

import importlib.util
import json
import string
from pathlib import Path

from dashboards import i18n

ROOT = Path(__file__).resolve().parents[2]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _raw(lang: str) -> dict:
    return json.loads((i18n.LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def test_every_key_is_in_both_languages_with_the_same_placeholders():
    vi, en = _raw("vi"), _raw("en")
    assert len(vi) > 500
    assert sorted(set(vi) ^ set(en)) == []
    differ = [k for k in vi if _placeholders(vi[k]) != _placeholders(en[k])]
    assert differ == []
    empty = [(lang, k) for lang, texts in (("vi", vi), ("en", en)) for k, v in texts.items()
             if not isinstance(v, str) or not v.strip()]
    assert empty == []


def test_t_fills_placeholders_and_falls_back():
    assert i18n.t("seconds_ago", "vi", n=5) == "5 giây"
    assert i18n.t("seconds_ago", "en", n=5) == "5 s"
    assert i18n.t("no.such.key", "en") == "no.such.key"
    assert i18n.t("app.title", "fr") == i18n.t("app.title", "vi")
    assert i18n.has("app.title") and not i18n.has("no.such.key")
    assert i18n.catalogue("en") is i18n.catalogue("en")  # read once


def test_no_module_writes_texts_the_old_way():
    spec = importlib.util.spec_from_file_location(
        "i18n_to_catalogues", ROOT / "scripts" / "i18n_to_catalogues.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    texts, spans = script.effective_texts(script._python_files(None))
    # a branch that still adds texts as dicts: run scripts/i18n_to_catalogues.py --strip
    assert spans == {} and texts == {}


def test_the_conversion_reads_old_style_dicts_with_their_precedence(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "i18n_to_catalogues", ROOT / "scripts" / "i18n_to_catalogues.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    files = {
        "dashboards/i18n.py": 'TEXT = {"a": {"vi": "A", "en": "a"}}\n'
                              'TEXT.update({"b": {"vi": "B"}})\n',
        "dashboards/x.py": 'from dashboards import i18n\n'
                           'TEXT = {"a": {"vi": "X", "en": "x"}, "c": {"vi": "C {n}", "en": "c {n}"}}\n'
                           'for _k, _v in TEXT.items():\n    i18n.TEXT.setdefault(_k, _v)\n',
        "dashboards/y.py": 'from dashboards.i18n import TEXT\n'
                           'TEXT.update({"b": {"vi": "Y", "en": "y"}})\n',
    }
    texts, spans = script.effective_texts(files)
    assert texts == {"a": {"vi": "A", "en": "a"}, "b": {"vi": "Y", "en": "y"},
                     "c": {"vi": "C {n}", "en": "c {n}"}}
    assert spans["dashboards/x.py"] == [(2, 2), (3, 4)]
    catalogues = {"vi": {"a": "A", "z": "Z"}, "en": {"a": "a", "z": "z"}}
    changes = script.merge(catalogues, texts)
    assert catalogues["vi"] == {"a": "A", "b": "Y", "c": "C {n}", "z": "Z"}
    assert catalogues["en"]["c"] == "c {n}" and len(changes) == 4
