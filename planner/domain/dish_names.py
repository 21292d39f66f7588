"""A dish's name as it is served to one person.

The library names a dish by the foods it is written with ("Coffee with
fortified oat drink (oat latte)"). When the plan serves it with another food
(a fortified drink of the same group the person buys or can get, see
``planning._substitute``), the name says so, built from the food table's own
names, so it never claims an ingredient the meal does not hold:
"Coffee with fortified oat drink (oat latte), made with rice drink instead of
oat drink".
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence

from planner.domain.model import Dish
from planner.domain.model import Food


def kind(food: Food) -> str:
    """The food's kind: the first part of its table name, before any comma
    ("Rice drink, unsweetened, fortified" → "rice drink"); a name with capitals
    past its first letter (a brand: "Silk Plain soy drink") keeps its case."""
    head = food.name.split(",")[0].strip()
    if head[1:] == head[1:].lower():
        head = head[:1].lower() + head[1:]
    return head


def same_kind(a: Food, b: Food) -> bool:
    """Whether two foods are one kind for a dish's name: equal kinds, or one kind
    the other's last words ("nutritional yeast flakes" is a kind of "yeast
    flakes"; "rice drink" is not a kind of "oat drink")."""
    x, y = kind(a).casefold().split(), kind(b).casefold().split()
    short, long_ = sorted((x, y), key=len)
    return long_[len(long_) - len(short):] == short


def served_name(dish: Dish, served: Sequence[Food], foods: Mapping[str, Food]) -> str:
    """``dish.name``, and when ``served`` (the foods it is cooked with, in the
    order of ``dish.ingredients``) differs from the library's ingredients in a
    food of another kind (:func:`same_kind`), what it is made with instead."""
    swaps = []
    for ing, food in zip(dish.ingredients, served, strict=True):
        original = foods.get(ing.food_id)
        if food.food_id == ing.food_id or original is None:
            continue
        if not same_kind(food, original):
            swaps.append(f"{kind(food)} instead of {kind(original)}")
    if not swaps:
        return dish.name
    return f"{dish.name}, made with {' and '.join(swaps)}"
