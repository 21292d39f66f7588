"""Dates as people read them: "Week of 30 November 2026", "Monday 30 November".

URLs, file names and the API keep ISO weeks (``2026-W49``) and ISO dates; only
what a person reads goes through here (pages, handouts, emails and their subjects).
"""

from __future__ import annotations

from datetime import date

from planner.domain import week as domain_week

#: English names, not the process locale's (pages are in English whatever the server's LC_TIME).
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def week_monday(week: str) -> date:
    """The Monday of an ISO week ``YYYY-Www`` (:mod:`planner.domain.week`)."""
    monday = domain_week.week_monday(week)
    if monday is None:
        raise ValueError(f"{week!r} is not an ISO week")
    return monday


def day_month_year(value: date | str) -> str:
    """``30 November 2026``."""
    day = _as_date(value)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def day_month(value: date | str) -> str:
    """``Monday 30 November``."""
    day = _as_date(value)
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def week_of(week: str, lower: bool = False) -> str:
    """``Week of 30 November 2026`` for ``2026-W49`` (``week of …`` with ``lower``)."""
    return f"{'w' if lower else 'W'}eek of {day_month_year(week_monday(week))}"
