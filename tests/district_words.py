"""Find the words of the district level (abolished 1 July 2025) in what a running IOC shows:
pages, Dash component trees, API responses, CAP messages and MQTT messages out.

Used by tests/browser/test_no_district_words.py; runnable against any running IOC too:
    python -m tests.district_words http://127.0.0.1:8050 USER:PASSWORD:ROLE ... --token TOKEN
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

# The unit level that no longer exists, in both languages; "thị trấn" (township) was a
# commune-level type abolished with it, "thành phố" only as a former city *under* a province.
FORBIDDEN = re.compile(
    r"\bdistricts?\b|huyện|\bquận\b|thị xã|thị trấn|\bTP\.? ?Lào Cai\b|thành phố Lào Cai"
    r"|thành phố Yên Bái|Lao Cai city|Yen Bai city",
    re.IGNORECASE,
)
# A text may name a former district when it says so: a history view "before 1 July 2025".
LEGACY = re.compile(r"1/7/2025|1 July 2025", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    where: str  # page, endpoint or topic
    path: str  # JSON path or "text"
    text: str

    def __str__(self) -> str:
        return f"{self.where} {self.path}: {self.text[:200]!r}"


def bad_text(text: str) -> bool:
    """Does `text` name the district level without saying it is history?"""
    return bool(FORBIDDEN.search(text)) and not LEGACY.search(text)


def strings(value, path: str = "$") -> Iterator[tuple[str, str]]:
    """(JSON path, text) of every string and every key in a decoded JSON value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", str(key)
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")


def find_in_json(where: str, value) -> list[Finding]:
    return [Finding(where, p, s) for p, s in strings(value) if bad_text(s)]


def find_in_text(where: str, text: str) -> list[Finding]:
    """Line by line: a line may carry its own "before 1 July 2025"."""
    return [Finding(where, "text", line) for line in text.splitlines() if bad_text(line)]


def find_in_xml(where: str, text: str) -> list[Finding]:
    """Element by element (text and attributes)."""
    from xml.etree import ElementTree as ET

    out = []
    for el in ET.fromstring(text.encode()).iter():
        for part in [el.text or "", el.tail or "", *el.attrib.values()]:
            if bad_text(part):
                out.append(Finding(where, el.tag, part))
    return out


def find_in_body(where: str, content_type: str, body: bytes) -> list[Finding]:
    text = body.decode("utf-8", "replace")
    if "json" in content_type:
        return find_in_json(where, json.loads(text))
    if "xml" in content_type:
        return find_in_xml(where, text)
    if "csv" in content_type or "text/plain" in content_type:
        return find_in_text(where, text)
    return find_in_text(where, re.sub(r"<[^>]+>", "\n", text))
