"""Browsing the composition table: the filters shared by ``/foods`` and
``/api/v1/foods`` (diet, group, market, free-text ``q``), checked in one place."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from foods.loader import load_groups
from planner.domain.model import DIETS
from planner.domain.model import PROFILE_MARKETS
from planner.domain.model import Food
from planner.errors import InvalidInput

FILTERS = ("diet", "group", "market", "q")
MAX_QUERY_CHARS = 100


@dataclass(frozen=True)
class FoodFilter:
    diet: str = ""
    group: str = ""
    market: str = ""
    q: str = ""

    def keeps(self, food: Food) -> bool:
        words = self.q.casefold().split()
        text = f"{food.name} {food.food_id} {food.group}".casefold()
        return ((not self.diet or self.diet in food.diets)
                and (not self.group or food.group == self.group)
                and (not self.market or food.sold_in(self.market))
                and all(w in text for w in words))


def groups() -> dict[str, dict]:
    """Food groups in table order: ``{group: {"label", ...}}``."""
    return load_groups()


def filter_from_args(args: MultiDict) -> FoodFilter:
    """Checked filters; unknown parameters and values raise InvalidInput (400)."""
    errors = [{"field": key, "message": f"is not a filter; use {', '.join(FILTERS)}"}
              for key in args if key not in FILTERS]
    values = {}
    for key in FILTERS:
        given = [v.strip() for v in args.getlist(key) if v.strip()]
        if len(given) > 1:
            errors.append({"field": key, "message": f"give one value, not {len(given)}"})
        values[key] = given[0] if given else ""
    choices = {"diet": DIETS, "group": tuple(groups()), "market": PROFILE_MARKETS}
    for key, allowed in choices.items():
        if values[key] and values[key] not in allowed:
            errors.append({"field": key, "message": (
                f"{values[key][:40]!r} is not valid; choose one of {', '.join(allowed)}")})
    if len(values["q"]) > MAX_QUERY_CHARS:
        errors.append({"field": "q", "message": f"is longer than {MAX_QUERY_CHARS} characters"})
    if errors:
        raise InvalidInput(errors)
    return FoodFilter(**values)


def listed(foods: Iterable[Food]) -> list[Food]:
    """The B12 table as the pages list it: every food with B12, and the 0-B12 foods of
    groups that hold B12 foods (unfortified drinks, plain tofu, algae: listed so people
    see they are not sources). The ordinary ingredients of ``foods/ingredients.csv``
    (grains, vegetables, fruit, ...: groups with no B12 at all) are left out, so the
    hundreds of 0-B12 rows dishes need do not bury the sources."""
    foods = list(foods)
    with_b12 = {f.group for f in foods if f.b12_ug_per_100g > 0}
    return [f for f in foods if f.b12_ug_per_100g > 0 or f.group in with_b12]


def select(foods: Iterable[Food], food_filter: FoodFilter) -> list[Food]:
    """Foods passing the filter, richest in B12 per serving first: the :func:`listed`
    B12 table, or every food of a group when the filter names one (so the ordinary
    ingredients stay reachable, e.g. ``group=vegetable``)."""
    pool = foods if food_filter.group else listed(foods)
    kept = [f for f in pool if food_filter.keeps(f)]
    return sorted(kept, key=lambda f: (-f.b12_ug_per_serving, f.food_id))


def b12_sources(foods: Iterable[Food]) -> list[Food]:
    """Foods that count as B12 sources (the ones worth choosing in the form), by group
    then name; groups open to more diets come first, so plant foods lead."""
    ranked = sorted(groups().items(), key=lambda item: -len(item[1]["diets"]))
    order = {g: i for i, (g, _) in enumerate(ranked)}
    sources = [f for f in foods if f.counts_as_source and f.b12_ug_per_100g > 0]
    return sorted(sources, key=lambda f: (order.get(f.group, len(order)), f.name))
