"""Strict JSON decoding of payloads and typed access to decoded values, with error paths."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from ingest.records import PayloadError

MAX_DEPTH = 16


class _NonFinite:
    """Stands in for NaN/Infinity/overflowing numbers until the walk reports them with a path."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _parse_int(text: str) -> int | _NonFinite:
    value = int(text)  # ValueError past sys.get_int_max_str_digits(); caught by decode_json
    try:
        float(value)
    except OverflowError:
        return _NonFinite(text[:20] + "…")
    return value


def _object(pairs: list[tuple[str, object]]) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise PayloadError(f"duplicate key {key!r} in a JSON object")
        obj[key] = value
    return obj


def decode_text(payload: bytes) -> str:
    """The payload as UTF-8 text (PayloadError when it is not valid UTF-8)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = payload[exc.start:exc.start + 1].hex()
        raise PayloadError(f"payload is not valid UTF-8 (byte 0x{bad} at offset {exc.start})") \
            from None


def decode_json(payload: bytes) -> object:
    """Decode a JSON payload strictly: UTF-8, no NaN/Infinity, no duplicate keys, no NUL
    characters or lone surrogates in strings, nesting at most MAX_DEPTH levels."""
    text = decode_text(payload)
    try:
        value = json.loads(text, parse_constant=_NonFinite, parse_float=_parse_float,
                           parse_int=_parse_int, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
    except RecursionError:
        raise PayloadError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer literal with too many digits
        raise PayloadError(f"invalid JSON: {exc}") from None
    _check_tree(value)
    return value


def _check_tree(root: object) -> None:
    stack: list[tuple[object, str, int]] = [(root, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, _NonFinite):
            raise PayloadError(f"{path or 'payload'}: not a finite number ({value.text})")
        if isinstance(value, str):
            _check_string(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_string(key, path)
                stack.append((item, join(path, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _check_string(text: str, path: str) -> None:
    if "\x00" in text:
        raise PayloadError(f"{path or 'payload'}: string contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{path or 'payload'}: string contains a lone UTF-16 surrogate") \
            from None


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect_object(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(f"{path or 'payload'}: expected a JSON object, got {type_name(value)}")
    return value


def reject_unknown(obj: Mapping, allowed: frozenset[str] | set[str], path: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        where = f"{path}: " if path else ""
        raise PayloadError(f"{where}unknown field {unknown[0]!r} (allowed: "
                           f"{', '.join(sorted(allowed))})")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: object, path: str) -> float:
    """A finite JSON number as float; booleans are not numbers."""
    if not is_number(value):
        raise PayloadError(f"{path}: expected a number, got {type_name(value)}")
    return float(value)  # finiteness is guaranteed by decode_json


def string(value: object, path: str, *, max_len: int = 256, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{path}: expected a string, got {type_name(value)}")
    if not value and not empty_ok:
        raise PayloadError(f"{path}: must not be empty")
    if len(value) > max_len:
        raise PayloadError(f"{path}: longer than {max_len} characters")
    return value


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise PayloadError(f"{path}: expected true or false, got {type_name(value)}")
    return value


def required(obj: Mapping, key: str, path: str) -> object:
    if key not in obj:
        raise PayloadError(f"{join(path, key)}: missing")
    return obj[key]
