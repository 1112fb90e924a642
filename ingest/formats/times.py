"""Timestamps in payloads: RFC 3339 text or Unix seconds, checked against a plausible window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ingest.records import PayloadError

from .json_values import is_number, type_name

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_rfc3339(text: str, path: str, *, allow_z: bool = True) -> datetime:
    """An RFC 3339 date-time with a "Z" or numeric offset, as an aware UTC datetime."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise PayloadError(f"{path}: {text[:40]!r} is not an RFC 3339 date-time with an offset")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zulu, sign, off_h, off_m = m.groups()[6:]
    if zulu and not allow_z:
        raise PayloadError(f"{path}: {text!r} uses 'Z'; a numeric offset is required")
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        offset = timedelta(0) if zulu else timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(hours=24):
            raise ValueError("offset out of range")
        tz = timezone(-offset if sign == "-" else offset)
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(f"{path}: {text!r} is not a valid date-time ({exc})") from None


def from_unix(seconds: float, path: str) -> datetime:
    if not EARLIEST.timestamp() <= seconds < 253402300800:  # year 10000
        raise PayloadError(f"{path}: {seconds!r} is before 2000-01-01 or absurdly far ahead")
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(value: object, path: str) -> datetime:
    """A payload time: RFC 3339 text with offset, or Unix seconds as a number."""
    if isinstance(value, str):
        return parse_rfc3339(value, path)
    if is_number(value):
        return from_unix(float(value), path)
    raise PayloadError(f"{path}: expected an RFC 3339 string or Unix seconds, "
                       f"got {type_name(value)}")


def check_window(t: datetime, now: datetime, max_future_s: int, path: str) -> datetime:
    """`t` unless it is before 2000-01-01 or more than max_future_s after `now`."""
    if t < EARLIEST:
        raise PayloadError(f"{path}: {t.isoformat()} is before 2000-01-01")
    ahead = (t - now).total_seconds()
    if ahead > max_future_s:
        shown = f"{ahead:.6f}".rstrip("0").rstrip(".")
        raise PayloadError(f"{path}: {t.isoformat()} is {shown} s in the future "
                           f"(limit {max_future_s} s)")
    return t
