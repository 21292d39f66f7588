"""ISO weeks (``2025-W07``): the one parser every caller uses.

A week is valid when it is written ``YYYY-Www`` with a year from 1900 to 2999
(:data:`WEEK_YEARS`) and a week number that year has: week 53 exists only in
some years (2020 has one, 2025 has not). The pages, the API, the CLI, the
mail run and the planner all read weeks through :func:`week_monday`.
"""

from __future__ import annotations

import re
from datetime import date

WEEK_FORM = "YYYY-Www, for example 2025-W07"
WEEK_YEARS = (1900, 2999)
#: The written form (anchored, so its ``pattern`` serves JSON Schema as it is).
WEEK = re.compile(r"^(19\d\d|2\d\d\d)-W(0[1-9]|[1-4]\d|5[0-3])$")


def week_monday(week: object) -> date | None:
    """The Monday of ISO week ``week``, or None when it is not a valid week."""
    m = WEEK.fullmatch(week) if isinstance(week, str) else None
    if m is None:
        return None
    try:  # week 53 exists only in some years
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        return None


def is_week(text: object) -> bool:
    """True for a valid ISO week string (see the module docstring)."""
    return week_monday(text) is not None


def week_of(day: date) -> str:
    """The ISO week ``day`` falls in, as ``YYYY-Www`` (the ISO year, not the calendar's)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def in_week_years(day: date) -> bool:
    """True when ``day``'s ISO year is one :data:`WEEK_YEARS` allows."""
    return WEEK_YEARS[0] <= day.isocalendar()[0] <= WEEK_YEARS[1]
