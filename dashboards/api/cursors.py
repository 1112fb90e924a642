"""Opaque keyset cursors: the sort key of a page's last row, bound to the query's filters.

A cursor is base64url (no padding) of a small JSON document `{"f": fingerprint, "k": keys}`.
Clients must treat it as opaque. It carries no secret and needs none: every key is validated
again on the way in and only ever used as a bound SQL parameter. The fingerprint makes a
cursor from one query refuse to page through another (a different device or time range).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence

from dashboards.api.problems import invalid_one

# Key kinds a cursor may carry, with their decoders.
KINDS = ("str", "int", "time", "date")


def fingerprint(filters: Mapping) -> str:
    """A short digest of the row-selecting parameters (order-independent)."""
    text = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_key(value) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def encode_cursor(keys: Sequence, filters: Mapping) -> str:
    doc = {"f": fingerprint(filters), "k": [_encode_key(k) for k in keys]}
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_key(value: object, kind: str):
    if kind == "str" and isinstance(value, str) and len(value) <= 200 and "\x00" not in value:
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
    if kind == "time" and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def decode_cursor(cursor: str, filters: Mapping, kinds: Sequence[str]) -> list:
    """The keys of a cursor made by `encode_cursor` for the same filters, else a 400."""
    bad = invalid_one("cursor", "not a cursor returned by this endpoint")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(doc, dict) or not isinstance(doc.get("k"), list):
        raise bad
    if doc.get("f") != fingerprint(filters):
        raise invalid_one(
            "cursor",
            "belongs to a query with other filters; repeat the query that returned it "
            "(only limit, format and tz may change between pages)",
        )
    keys = doc["k"]
    if len(keys) != len(kinds):
        raise bad
    out = []
    for value, kind in zip(keys, kinds, strict=True):
        decoded = _decode_key(value, kind)
        if decoded is None:
            raise bad
        out.append(decoded)
    return out
