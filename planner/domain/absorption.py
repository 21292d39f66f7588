"""How much vitamin B12 the gut absorbs from a dose, meal by meal.

Each meal is one dose. Absorption has two parts (b12-reference.md §2.3, Model S):

* a saturable intrinsic-factor (IF) part, ``if_max_ug * (1 - exp(-f0 * dose / if_max_ug))``,
  which takes about 60 % of a small dose and levels off near 1.2 µg per meal;
* passive diffusion of about 1.3 % of any dose.

Without intrinsic factor only a passive ~1.2 % remains (Carmel 2008). Doses at
separate meals (4 h or more apart) are absorbed independently (Heyssel 1966),
so a day's absorbed amount is the sum over its meals. Parameters come from
``planner/data/absorption.toml`` through :class:`AbsorptionParams`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AbsorptionParams:
    """Parameters of the per-dose model; units in the names, sources in the data file."""

    if_max_ug: float
    if_initial_fraction: float
    passive_fraction: float
    no_if_fraction: float
    window_hours: float = 4.0
    target_meals: int = 3
    source: str = ""


def absorbed_ug(
    dose_ug: float, params: AbsorptionParams, intrinsic_factor: bool = True
) -> float:
    """Absorbed B12 [µg] from one dose [µg] taken at one meal.

    With ``intrinsic_factor=False`` (pernicious anaemia, gastric bypass, ileal
    resection) only the passive fraction applies. Never more than the dose.
    """
    if dose_ug <= 0:
        return 0.0
    if not intrinsic_factor:
        return min(dose_ug, params.no_if_fraction * dose_ug)
    cap = params.if_max_ug
    active = cap * (1.0 - math.exp(-params.if_initial_fraction * dose_ug / cap))
    return min(dose_ug, active + params.passive_fraction * dose_ug)


def meal_absorbed_ug(
    items: Iterable[tuple[float, float, float]],
    params: AbsorptionParams,
    intrinsic_factor: bool = True,
) -> float:
    """Absorbed B12 [µg] from one meal of several items, each with its own bioavailability.

    ``items`` are ``(dose_ug, fraction, scale)``: the item's B12 [µg], the share of
    it its food group gives up at most (``fraction``, 1 for crystalline B12), and a
    factor for the person (``scale``, 0.5 when food-bound B12 is poorly freed).
    The meal is still one dose: Model S of the meal's total ``D`` is the ceiling,
    shared between the items by their B12, so each item gives
    ``scale × dose × min(fraction, absorbed_ug(D) / D)``. Crystalline items
    (fraction 1, scale 1) therefore get exactly Model S, and no item ever gets
    more than Model S gives for crystalline B12 at that dose. The function is
    subadditive over items (``absorbed_ug(D) / D`` falls as ``D`` grows).
    """
    items = tuple(items)
    total = sum(d for d, _, _ in items if d > 0)
    if total <= 0:
        return 0.0
    if all(fraction >= 1.0 and scale == 1.0 for _, fraction, scale in items):
        return absorbed_ug(total, params, intrinsic_factor)  # all crystalline: Model S exactly
    ceiling = absorbed_ug(total, params, intrinsic_factor) / total
    return sum(
        scale * dose * (fraction if fraction < ceiling else ceiling)
        for dose, fraction, scale in items
        if dose > 0
    )


def absorbed_from_doses(
    doses_ug: Iterable[float], params: AbsorptionParams, intrinsic_factor: bool = True
) -> float:
    """Absorbed B12 [µg] from doses taken at separate meals, each absorbed on its own."""
    return sum(absorbed_ug(d, params, intrinsic_factor) for d in doses_ug)


def absorbed_target_ug(intake_target_ug: float, params: AbsorptionParams) -> float:
    """The absorbed amount [µg/day] that an intake target gives when eaten in
    ``params.target_meals`` equal meals (product.md §3: US 2.4 µg → about 1.2 µg)."""
    meals = params.target_meals
    return meals * absorbed_ug(intake_target_ug / meals, params)
