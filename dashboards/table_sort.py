"""Sorting the operators' tables by a column, in Vietnamese alphabetical order.

Pure functions: `vi_key(text)` orders words as a Vietnamese dictionary does (a < ă < â < b …
d < đ < e < ê …; tones after the letters: a, à, ả, ã, á, ạ), `sort_rows(rows, sort_by, keys)`
applies a DataTable's `sort_by` (custom sorting: the server sorts, so the order is the same
at every live refresh and the selection can follow its row)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

ALPHABET = "0123456789aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {ch: i for i, ch in enumerate(ALPHABET)}
# the marks that make a letter of its own, and the tones (dictionary order: ngang, huyền,
# hỏi, ngã, sắc, nặng)
_LETTER_MARKS = {("a", "\u0306"): "ă", ("a", "\u0302"): "â", ("e", "\u0302"): "ê",
                 ("o", "\u0302"): "ô", ("o", "\u031b"): "ơ", ("u", "\u031b"): "ư"}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def _letters(text: str) -> list[tuple[str, int]]:
    """(letter, tone) per letter of `text`, lower case, "đ" and "ă"… as letters of their own."""
    out: list[tuple[str, int]] = []
    for ch in unicodedata.normalize("NFD", text.lower()):
        if unicodedata.combining(ch):
            if not out:
                continue
            base, tone = out[-1]
            if (base, ch) in _LETTER_MARKS:
                out[-1] = (_LETTER_MARKS[base, ch], tone)
            elif ch in _TONES:
                out[-1] = (base, _TONES[ch])
            continue
        out.append((ch, 0))
    return out


def vi_key(text: str | None) -> tuple:
    """A sort key that puts `text` in Vietnamese alphabetical order: letters first (tones
    ignored), then tones, then case; "Đ" after every "D", "Ă" and "Â" after "A"."""
    letters = _letters(text or "")
    primary = tuple(_RANK.get(ch, 100 + ord(ch)) if ch != " " else -1 for ch, _ in letters)
    return primary, tuple(tone for _, tone in letters), text or ""


def sort_rows(rows: Sequence[dict], sort_by: Sequence[Mapping[str, str]] | None,
              keys: Mapping[str, Callable[[dict], Any]] | None = None) -> list[dict]:
    """`rows` ordered by a DataTable's `sort_by` ([{"column_id", "direction"}], first = most
    significant); with no `sort_by` the rows keep the order they came in. A column without
    an entry in `keys` sorts by `vi_key` of its text; empty cells ("", "–", None) go last
    in both directions."""
    out = list(rows)
    for spec in reversed(list(sort_by or [])):
        column = spec.get("column_id")
        if not column:
            continue
        key = (keys or {}).get(column) or (lambda row, c=column: vi_key(str(row.get(c) or "")))
        full = [r for r in out if not _empty(r.get(column))]
        empty = [r for r in out if _empty(r.get(column))]
        full.sort(key=key, reverse=spec.get("direction") == "desc")
        out = full + empty
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == "–"


def valid_sort_by(sort_by: Any, columns: Sequence[str]) -> list[dict]:
    """`sort_by` from the browser, keeping only known columns and directions."""
    if not isinstance(sort_by, list):
        return []
    return [{"column_id": s["column_id"], "direction": s.get("direction", "asc")}
            for s in sort_by
            if isinstance(s, dict) and s.get("column_id") in columns
            and s.get("direction", "asc") in ("asc", "desc")]


UNIT_TYPES = ("đặc khu ", "phường ", "xã ")


def unit_key(name: str | None) -> tuple:
    """Sort key of a unit's name by the name itself, then its type: "Xã Bắc Hà" sorts
    under B, beside "Phường Bắc Lệnh", not under X."""
    text = name or ""
    for prefix in UNIT_TYPES:
        if text.lower().startswith(prefix):
            return vi_key(text[len(prefix):]), vi_key(prefix)
    return vi_key(text), ()


# -- the operators' tables: what each column sorts by (others: Vietnamese order of the text) --
SEVERITY_ORDER = ("info", "minor", "moderate", "severe", "extreme")  # ascending
ALERT_STATUS_ORDER = ("open", "acknowledged", "assigned", "resolved", "false_alarm")
REVIEW_ORDER = ("unreviewed", "verified", "dismissed")


def _rank(order: Sequence[str], value: Any) -> int:
    return order.index(value) if value in order else len(order)


FEED_KEYS: dict[str, Callable[[dict], Any]] = {  # rows of dashboards.feed_view.table_rows
    "severity_text": lambda r: _rank(SEVERITY_ORDER, r["severity"]),
    "opened": lambda r: r["opened_ts"],  # by time, not by its clock text
    "title": lambda r: vi_key(r["title"]),
    "unit_name": lambda r: unit_key(r["unit_name"]),
    "status_text": lambda r: _rank(ALERT_STATUS_ORDER, r["status"]),
    "count": lambda r: r["count"],
}
POLICE_KEYS: dict[str, Callable[[dict], Any]] = {  # rows of police_queries.queue_rows
    "priority_text": lambda r: r["priority_value"],
    "state_text": lambda r: _rank(REVIEW_ORDER, r["state"]),
    "time": lambda r: r["time_ts"],
    "camera": lambda r: vi_key(r["camera"]),
    "unit_id": lambda r: unit_key(r["unit_id"]),
    "confidence": lambda r: r["confidence_value"],
}

SILENT_COLUMNS = ("name", "id", "kind", "unit_id", "last_seen", "silent_for")
SILENT_DEFAULT = {"column": "silent_for", "direction": "desc"}  # silent longest first


def sort_silent(devices: Sequence[Any], sort: Any, names: Mapping[str, str],
                kind_text: Callable[[str], str] = str) -> list:
    """Device health's silent devices ordered by a header click (`{"column", "direction"}`):
    names, kinds and units in Vietnamese order, times by time; silent longest first when
    nothing (or nothing valid) is chosen."""
    if not (isinstance(sort, dict) and sort.get("column") in SILENT_COLUMNS):
        sort = SILENT_DEFAULT
    keys: dict[str, Callable[[Any], Any]] = {
        "name": lambda d: vi_key(d.name),
        "id": lambda d: d.device_id,
        "kind": lambda d: vi_key(kind_text(d.kind)),
        "unit_id": lambda d: unit_key(names.get(d.unit_id or "", d.unit_id or "")),
        "last_seen": lambda d: d.last_seen or 0,
        "silent_for": lambda d: -(d.last_seen or 0),
    }
    return sorted(devices, key=keys[sort["column"]], reverse=sort.get("direction") == "desc")
