"""Reporting periods: reading `2020`, `2020-Q2`, `2020-03`, `2020-03-01` and checking alignment."""

from __future__ import annotations

import datetime as dt
import re

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period start that cannot be read or does not start its period."""


def parse_period_start(period: str, text: str) -> dt.date:
    """The first day of the `period` written as `text`.

    A full date must be the period's first day (a Monday for a week); shorter forms are
    accepted where they are unambiguous: `2020` for a year, `2020-Q2` for a quarter,
    `2020-03` for a month.
    """
    text = text.strip()
    if period == "year" and (m := _YEAR.match(text)):
        return dt.date(int(m[1]), 1, 1)
    if period == "quarter" and (m := _QUARTER.match(text)):
        return dt.date(int(m[1]), 3 * int(m[2]) - 2, 1)
    if period == "month" and (m := _MONTH.match(text)):
        try:
            return dt.date(int(m[1]), int(m[2]), 1)
        except ValueError:
            raise PeriodError(f"{text!r} is not a month (YYYY-MM)") from None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{text!r} is not a date; {_FORMS[period]}") from None
    check_aligned(period, day)
    return day


_FORMS = {
    "day": "write YYYY-MM-DD",
    "week": "write the Monday as YYYY-MM-DD",
    "month": "write YYYY-MM or the first day as YYYY-MM-DD",
    "quarter": "write YYYY-Q1..Q4 or the first day as YYYY-MM-DD",
    "year": "write YYYY or YYYY-01-01",
}


def check_aligned(period: str, day: dt.date) -> None:
    """PeriodError unless `day` is the first day of a `period`."""
    ok = {
        "day": True,
        "week": day.weekday() == 0,
        "month": day.day == 1,
        "quarter": day.day == 1 and day.month in (1, 4, 7, 10),
        "year": day.day == 1 and day.month == 1,
    }[period]
    if not ok:
        raise PeriodError(f"{day.isoformat()} does not start a {period}; {_FORMS[period]}")


def period_label(period: str, start: dt.date, lang: str = "vi") -> str:
    """`2020`, `Q2/2020`, `03/2020`, `tuần 09/03/2020`, `09/03/2020` (en: `week of ...`)."""
    if period == "year":
        return str(start.year)
    if period == "quarter":
        return f"Q{(start.month - 1) // 3 + 1}/{start.year}"
    if period == "month":
        return f"{start.month:02d}/{start.year}"
    day = start.strftime("%d/%m/%Y")
    if period == "week":
        return f"tuần {day}" if lang == "vi" else f"week of {day}"
    return day
