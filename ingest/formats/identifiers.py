"""Syntax of device ids and other names that come from topics and payloads."""

from __future__ import annotations

import re

from ingest.records import PayloadError

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def is_device_id(text: str) -> bool:
    return _DEVICE_ID.fullmatch(text) is not None


def check_device_id(text: str, where: str = "device id") -> str:
    if not is_device_id(text):
        raise PayloadError(f"{where} {text[:80]!r} is not a valid device id "
                           f"(pattern {DEVICE_ID_PATTERN})")
    return text
