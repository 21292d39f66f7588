"""How well each food's B12 is absorbed, for this person (b12-reference.md §2.3–2.4).

Two tables from ``planner/data/absorption.toml``:

* ``[[bioavailability]]``: one row per food group with the share of a small
  food-bound dose that is absorbed (eggs about 30 %, fish about 42 %, ...) and
  whether the B12 is crystalline (added) or food-bound. A food marked
  ``fortified`` is crystalline whatever its group.
* ``[food_bound_reduction]``: the factor (one half, [U]) applied to food-bound
  B12 when any of its ``applies`` rows holds for the person (age 65 and over,
  acid-reducing medicines, metformin, atrophic gastritis or low stomach acid).
  Crystalline B12 keeps its absorption.

:func:`item_factors` turns these into one ``(fraction, scale)`` pair per food;
:func:`planner.domain.absorption.meal_absorbed_ug` applies them meal by meal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from planner.domain.facts import Facts
from planner.domain.facts import When
from planner.domain.facts import holds
from planner.domain.facts import parse_when
from planner.domain.model import Food
from planner.domain.reference import ReferenceDataError
from planner.domain.reference import choice_field as _choice
from planner.domain.reference import is_number
from planner.domain.reference import text_field as _text

FORMS = ("crystalline", "food_bound")
STATUSES = ("P", "S", "U", "design")


@dataclass(frozen=True)
class GroupBioavailability:
    """One ``[[bioavailability]]`` row: ``fraction`` of a small dose absorbed
    (never above Model S), for the food ``groups`` it names."""

    groups: tuple[str, ...]
    form: str
    fraction: float
    status: str
    source: str


@dataclass(frozen=True)
class ReductionCase:
    """One ``[[food_bound_reduction.applies]]`` row: when it holds, and why."""

    when: When
    reason: str
    source: str


@dataclass(frozen=True)
class Bioavailability:
    """Both tables, parsed. ``by_group`` maps a food group to its row."""

    rows: tuple[GroupBioavailability, ...]
    reduction_factor: float
    reduction_status: str
    reduction_source: str
    reduction_cases: tuple[ReductionCase, ...]

    @cached_property
    def by_group(self) -> dict[str, GroupBioavailability]:
        return {g: row for row in self.rows for g in row.groups}

    def row_for(self, food: Food) -> GroupBioavailability:
        """The row that applies to a food: a fortified food counts as crystalline."""
        row = self.by_group.get(food.group)
        if row is None:
            raise ReferenceDataError(
                f"absorption.toml: no [[bioavailability]] row for food group {food.group!r}"
            )
        return row

    def reductions(self, facts: Facts) -> tuple[ReductionCase, ...]:
        """The reduction rows that hold for the person (empty: no reduction)."""
        return tuple(c for c in self.reduction_cases if holds(c.when, facts))

    def food_bound_scale(self, facts: Facts) -> float:
        """The factor applied to this person's food-bound B12 (1.0 when none holds)."""
        return self.reduction_factor if self.reductions(facts) else 1.0


NEUTRAL = (1.0, 1.0)
"""``(fraction, scale)`` of crystalline B12: Model S as written."""


def item_factors(
    foods: Sequence[Food], table: Bioavailability | None, facts: Facts | None
) -> tuple[tuple[float, float], ...]:
    """``(fraction, scale)`` per food, for :func:`~planner.domain.absorption.meal_absorbed_ug`.

    Fortified foods and crystalline groups get ``(1, 1)``; food-bound groups get
    their group's fraction and, when a reduction holds for ``facts``, its
    factor. Without a table (a hand-built reference in a test) every food is
    treated as crystalline.
    """
    if table is None:
        return tuple(NEUTRAL for _ in foods)
    scale = table.food_bound_scale(facts) if facts is not None else 1.0
    out = []
    for food in foods:
        row = table.row_for(food)
        if food.fortified or row.form == "crystalline":
            out.append(NEUTRAL)
        else:
            out.append((row.fraction, scale))
    return tuple(out)


# ---------------------------------------------------------------------------
# Parsing (pure; planner.data.loader reads the file)
# ---------------------------------------------------------------------------


def _fraction(raw: Mapping[str, Any], key: str, where: str) -> float:
    value = raw.get(key)
    if not is_number(value) or not math.isfinite(value) or not 0 <= value <= 1:
        raise ReferenceDataError(f"{where}: {key} must be a number from 0 to 1")
    return float(value)


def parse_bioavailability(
    raw: Mapping[str, Any], groups: Iterable[str] = (), name: str = "absorption.toml"
) -> Bioavailability:
    """The ``[[bioavailability]]`` rows and ``[food_bound_reduction]``.

    With ``groups`` (the keys of ``foods/groups.csv``) every group must have
    exactly one row, and no row may name an unknown group.
    """
    rows = []
    for i, r in enumerate(raw.get("bioavailability", []), start=1):
        where = f"{name} [[bioavailability]] {i}"
        names = r.get("groups")
        if (not isinstance(names, list) or not names
                or not all(isinstance(g, str) and g for g in names)):
            raise ReferenceDataError(f"{where}: groups must be a non-empty list of food groups")
        form = _choice(r, "form", FORMS, where)
        fraction = _fraction(r, "fraction", where)
        if form == "crystalline" and fraction != 1.0:
            raise ReferenceDataError(
                f"{where}: crystalline B12 follows Model S as written; fraction must be 1.0")
        rows.append(GroupBioavailability(
            groups=tuple(names),
            form=form,
            fraction=fraction,
            status=_choice(r, "status", STATUSES, where),
            source=_text(r, "source", where),
        ))
    seen: dict[str, int] = {}
    for row in rows:
        for g in row.groups:
            seen[g] = seen.get(g, 0) + 1
    twice = sorted(g for g, n in seen.items() if n > 1)
    if twice:
        raise ReferenceDataError(
            f"{name}: food group(s) {', '.join(twice)} have more than one [[bioavailability]] row")
    known = tuple(groups)
    if known:
        missing = [g for g in known if g not in seen]
        unknown = [g for g in seen if g not in known]
        if missing or unknown:
            raise ReferenceDataError(
                f"{name}: [[bioavailability]] must name each food group once; "
                f"missing {', '.join(missing) or 'none'}, unknown {', '.join(unknown) or 'none'} "
                f"(groups: {', '.join(known)})"
            )
    red = raw.get("food_bound_reduction", {})
    where = f"{name} [food_bound_reduction]"
    factor = _fraction(red, "factor", where)
    cases = tuple(
        ReductionCase(
            when=parse_when(c.get("when", {}), f"{where} applies {i}"),
            reason=_text(c, "reason", f"{where} applies {i}"),
            source=_text(c, "source", f"{where} applies {i}"),
        )
        for i, c in enumerate(red.get("applies", []), start=1)
    )
    if any(not c.when for c in cases):
        raise ReferenceDataError(f"{where}: every applies row needs a non-empty when")
    return Bioavailability(
        rows=tuple(rows),
        reduction_factor=factor,
        reduction_status=_choice(red, "status", STATUSES, where),
        reduction_source=_text(red, "source", where),
        reduction_cases=cases,
    )
