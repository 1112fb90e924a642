"""UI text in Vietnamese (default) and English, read once from dashboards/locales/<lang>.json.

The catalogues are data: one JSON object per language, key -> text, with `{name}` placeholders
filled by `t(key, lang, name=...)`. Add a text to both files (tests/unit/test_i18n.py checks that
every key is in both languages with the same placeholders). Texts written the old way, as Python
dicts, are moved into the catalogues by scripts/i18n_to_catalogues.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

LANGUAGES = ("vi", "en")
LOCALES = Path(__file__).with_name("locales")


@functools.cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Every text of one language (read from its file on first use, then kept)."""
    with (LOCALES / f"{lang}.json").open(encoding="utf-8") as file:
        return MappingProxyType(json.load(file))


def has(key: str) -> bool:
    """Whether `key` is a text (in Vietnamese, the language every key has)."""
    return key in catalogue("vi")


def t(key: str, lang: str = "vi", **fmt) -> str:
    """The text of `key` in `lang` (Vietnamese when missing there; the key when unknown)."""
    text = catalogue(lang if lang in LANGUAGES else "vi").get(key) or catalogue("vi").get(key)
    if text is None:
        return key
    return text.format(**fmt) if fmt else text


def pick_language(requested: str | None, default: str = "vi") -> str:
    return requested if requested in LANGUAGES else default
