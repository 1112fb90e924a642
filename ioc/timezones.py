"""Time zone names: the one check that a name is an IANA time zone this machine knows."""

from __future__ import annotations

import functools
from typing import Annotated

from pydantic import AfterValidator


@functools.cache
def known_timezones() -> frozenset[str]:
    """Every IANA time zone name available here (the system's or the tzdata package's)."""
    from zoneinfo import available_timezones

    return frozenset(available_timezones() | {"UTC"})


def is_timezone(name: object) -> bool:
    return isinstance(name, str) and name in known_timezones()


def check_timezone(name: str) -> str:
    """`name` when it is a known time zone, else ValueError (for pydantic validators)."""
    if not is_timezone(name):
        raise ValueError(f"unknown time zone {name!r}")
    return name


# A settings field holding a time zone name.
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
