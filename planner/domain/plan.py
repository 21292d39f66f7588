"""The meal plan as frozen values, and its JSON form (product.md §4 "Plan").

:func:`planner.domain.planning.make_plan` builds a :class:`Plan`; every output
(page, API, CLI, handout, email) renders the same object, and
:meth:`Plan.to_dict` is the contract. Numbers are kept at full precision in the
objects and rounded only in ``to_dict`` (µg to 3 decimals, grams to 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from typing import Any

from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.model import SupplementDose

UG_DECIMALS = 3
G_DECIMALS = 1
_FRACTIONS = {0.5: "½", 1.5: "1½", 2.5: "2½"}


def servings_text(servings: float) -> str:
    """``0.5`` -> ``"½"``, ``1.5`` -> ``"1½"``, ``2`` -> ``"2"``."""
    if servings in _FRACTIONS:
        return _FRACTIONS[servings]
    return f"{servings:g}"


def portion_text(food: Food, servings: float) -> str:
    """A readable portion: ``"1 cup (244 g)"`` or ``"½ × 1 cup (244 g)"``.

    The table's serving label already carries the grams of one serving.
    """
    label = food.serving_label.strip() or f"1 serving ({food.serving_g:g} g)"
    if servings == 1:
        return label
    return f"{servings_text(servings)} × {label}"


#: Food groups measured by volume (1 g taken as about 1 ml) and counted in pieces.
LIQUID_GROUPS = frozenset({"milk", "plant_drink", "juice", "drink"})
COUNTED_GROUPS = frozenset({"egg"})
_LABEL_GRAMS = re.compile(r"\s*\([^)]*\)\s*$")


def _quarters(value: float) -> str:
    q = round(value * 4) / 4
    if q <= 0:
        return "a little"
    whole, part = int(q), q - int(q)
    frac = {0.25: "¼", 0.5: "½", 0.75: "¾"}.get(part, "")
    return f"{whole if whole else ''}{frac}" or "0"


def household_text(food: Food, grams: float) -> str:
    """A portion as people measure it: ``"250 ml"`` for drinks, ``"2 eggs"`` for
    eggs, else grams with the food's own measure: ``"45 g (about ½ × 1 cup)"``."""
    if food.group in LIQUID_GROUPS:
        return f"{grams:.0f} ml"
    if food.group in COUNTED_GROUPS and food.serving_g > 0:
        n = _quarters(grams / food.serving_g)
        return f"{n} egg" if n in ("1", "½", "¼", "¾") else f"{n} eggs"
    if grams < 1:
        return "a pinch"
    base = _LABEL_GRAMS.sub("", food.serving_label.strip())
    share = _quarters(grams / food.serving_g) if food.serving_g > 0 else "a little"
    # small amounts to a tenth of a gram (1.4 g of yeast flakes, not "1 g")
    amount = f"{round(grams, 1):g} g" if grams < 10 else f"{grams:.0f} g"
    if not base or share == "a little" or not _close(grams, food.serving_g):
        return amount
    return f"{amount} (about {share} × {base})" if share != "1" else f"{amount} ({base})"


def _close(grams: float, serving_g: float) -> bool:
    """Whether the quarter-serving shown is within a quarter of the real amount: no
    "about ¼ × 2 tbsp" (1.9 g) beside 1.4 g."""
    shown = round(grams / serving_g * 4) / 4 * serving_g
    return abs(shown - grams) <= 0.25 * grams


def shopping_text(group: str, grams: float, egg_g: float = 0.0, dry_factor: float = 0.0,
                  dry_name: str = "") -> str:
    """A week's total as bought: litres or millilitres for drinks, a count of eggs,
    the dry weight of what is cooked at home (pasta, rice, pulses: ``dry_factor``
    grams dry per gram cooked) with the cooked weight beside it, else grams or
    kilograms."""
    if group in LIQUID_GROUPS:
        return f"{round(grams / 1000, 1):g} l" if grams >= 1000 else f"{grams:.0f} ml"
    if group in COUNTED_GROUPS and egg_g > 0:
        n = max(1, round(grams / egg_g + 0.49))
        return f"{n} egg" if n == 1 else f"{n} eggs"
    if dry_factor > 0:
        return f"about {_mass(grams * dry_factor)} dry {dry_name} ({_mass(grams)} cooked)"
    return _mass(grams)


def _mass(grams: float) -> str:
    return f"{round(grams / 1000, 1):g} kg" if grams >= 1000 else f"{grams:.0f} g"


def _ug(value: float) -> float:
    return round(value, UG_DECIMALS)


def _g(value: float) -> float:
    return round(value, G_DECIMALS)


@dataclass(frozen=True)
class PlanItem:
    """One B12 item of a meal: ``servings`` of a food, ``grams`` [g] and its
    ``b12_ug`` [µg] = grams × b12_ug_per_100g / 100."""

    food_id: str
    name: str
    servings: float
    grams: float
    portion: str
    b12_ug: float
    source: str
    fortified: bool
    group: str
    household: str = ""

    @classmethod
    def of(cls, food: Food, servings: float) -> PlanItem:
        return cls.of_grams(food, servings * food.serving_g, servings)

    @classmethod
    def of_grams(cls, food: Food, grams: float, servings: float | None = None) -> PlanItem:
        """An ingredient of ``grams`` [g]; its B12 counts only if the food is a
        source (algae and tempeh carry inactive analogues)."""
        if servings is None:
            servings = grams / food.serving_g if food.serving_g > 0 else 0.0
        counts = getattr(food, "counts_as_source", True)
        household = household_text(food, grams)
        return cls(
            food_id=food.food_id,
            name=food.name,
            servings=servings,
            grams=grams,
            portion=household,
            b12_ug=grams * food.b12_ug_per_100g / 100.0 if counts else 0.0,
            source=food.source,
            fortified=food.fortified,
            group=food.group,
            household=household,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "food_id": self.food_id,
            "name": self.name,
            "grams": _g(self.grams),
            "household": self.household,
            "b12_ug": _ug(self.b12_ug),
            "source": self.source,
            "fortified": self.fortified,
        }


@dataclass(frozen=True)
class PlanMeal:
    """One meal, one dish, one dose: ``items`` are the dish's ingredients as served
    to this person; ``b12_ug`` [µg] is their sum, ``absorbed_ug`` [µg] what the
    meal gives by the absorption model."""

    meal: str
    items: tuple[PlanItem, ...]
    b12_ug: float
    absorbed_ug: float
    dish_id: str = ""
    dish_name: str = ""
    method: str = ""

    @property
    def ingredients(self) -> tuple[PlanItem, ...]:
        return self.items

    @property
    def b12_items(self) -> tuple[PlanItem, ...]:
        """The ingredients that bring B12."""
        return tuple(i for i in self.items if i.b12_ug > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "meal": self.meal,
            "dish": {"id": self.dish_id, "name": self.dish_name},
            "ingredients": [i.to_dict() for i in self.items],
            "b12_ug": _ug(self.b12_ug),
            "absorbed_ug": _ug(self.absorbed_ug),
        }


@dataclass(frozen=True)
class PlanDay:
    """One day of the plan [µg].

    ``b12_ug`` and ``absorbed_ug`` are what is eaten and absorbed that day,
    supplement included (a supplement is its own dose, taken apart from meals).
    ``counted_absorbed_ug`` is what is compared with the target: food plus a
    daily supplement, or food plus one seventh of a weekly dose's absorbed
    amount (a weekly supplement counts through its 7-day average).
    """

    day: int
    date: date
    meals: tuple[PlanMeal, ...]
    supplement_ug: float
    supplement_absorbed_ug: float
    food_b12_ug: float
    food_absorbed_ug: float
    counted_absorbed_ug: float
    covered: bool

    @property
    def b12_ug(self) -> float:
        return self.food_b12_ug + self.supplement_ug

    @property
    def absorbed_ug(self) -> float:
        return self.food_absorbed_ug + self.supplement_absorbed_ug

    @property
    def weekday(self) -> str:
        return self.date.strftime("%A")

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "date": self.date.isoformat(),
            "weekday": self.weekday,
            "meals": [m.to_dict() for m in self.meals],
            "supplement_ug": _ug(self.supplement_ug),
            "b12_ug": _ug(self.b12_ug),
            "absorbed_ug": _ug(self.absorbed_ug),
            "covered": self.covered,
            "food_b12_ug": _ug(self.food_b12_ug),
            "food_absorbed_ug": _ug(self.food_absorbed_ug),
            "supplement_absorbed_ug": _ug(self.supplement_absorbed_ug),
            "counted_absorbed_ug": _ug(self.counted_absorbed_ug),
        }


@dataclass(frozen=True)
class PlanSupplement(SupplementDose):
    """The supplement counted in the plan: ``dose_ug`` [µg] per ``frequency``.

    ``kind`` is ``"own"`` (the profile already takes it) or ``"recommended"``
    (added by the plan); ``reason`` says why; ``absorbed_ug_per_dose`` [µg] is
    what the model gives for one dose taken on its own.
    """

    kind: str
    absorbed_ug_per_dose: float
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.dose_dict(),
            "kind": self.kind,
            "label": self.label,
            "absorbed_ug_per_dose": _ug(self.absorbed_ug_per_dose),
        }


@dataclass(frozen=True)
class PlanSummary:
    """Averages over the plan's days [µg/day] and coverage."""

    avg_intake_ug: float
    avg_absorbed_ug: float
    covered: bool
    days_covered: int
    days: int
    days_covered_by_food: int
    avg_food_intake_ug: float
    avg_food_absorbed_ug: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "avg_intake_ug": _ug(self.avg_intake_ug),
            "avg_absorbed_ug": _ug(self.avg_absorbed_ug),
            "covered": self.covered,
            "days_covered": self.days_covered,
            "days": self.days,
            "days_covered_by_food": self.days_covered_by_food,
            "avg_food_intake_ug": _ug(self.avg_food_intake_ug),
            "avg_food_absorbed_ug": _ug(self.avg_food_absorbed_ug),
        }


@dataclass(frozen=True)
class ShoppingItem:
    """An ingredient to buy for the whole plan: ``grams`` [g] is exactly the sum
    over the meals; ``household`` is that total as bought (litres, eggs, kg)."""

    food_id: str
    name: str
    servings: float
    grams: float
    meals: int
    serving_label: str
    group: str
    household: str = ""
    aisle: str = ""
    dry_grams: float | None = None  # what is cooked at home, as bought dry [g]

    def to_dict(self) -> dict[str, Any]:
        return {
            "food_id": self.food_id,
            "name": self.name,
            "servings": round(self.servings, 2),
            "grams": _g(self.grams),
            "household": self.household,
            "aisle": self.aisle,
            "meals": self.meals,
            "dry_grams": None if self.dry_grams is None else _g(self.dry_grams),
        }


@dataclass(frozen=True)
class LabelCheck:
    """What the label of a fortified food in the plan must show for the plan to
    hold: at least ``min_ug_per_serving`` [µg] per ``serving_label``, i.e.
    ``min_ug_per_100g`` [µg per 100 g or ml]. ``typical`` marks a row that is a
    typical level for the market, not a particular product."""

    food_id: str
    name: str
    serving_label: str
    min_ug_per_serving: float
    min_ug_per_100g: float
    typical: bool
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "food_id": self.food_id,
            "name": self.name,
            "serving_label": self.serving_label,
            "min_ug_per_serving": self.min_ug_per_serving,
            "min_ug_per_100g": self.min_ug_per_100g,
            "typical": self.typical,
            "text": self.text,
        }


@dataclass(frozen=True)
class Plan:
    """A plan of B12 sources for ``len(days)`` days starting on the Monday of ``week``.

    ``assessment`` is the :class:`planner.domain.assessment.Assessment` the plan
    was built on; ``target_absorbed_ug`` [µg/day] is the coverage bar and
    ``target_intake_ug`` [µg/day] the guideline intake. ``notes`` explain the
    counting rules used. ``score`` is the optimiser's objective (not part of
    the JSON contract; the benchmark reads it).
    """

    profile: Profile
    assessment: Any
    week: str
    target_intake_ug: float
    target_absorbed_ug: float
    days: tuple[PlanDay, ...]
    supplement: PlanSupplement | None
    summary: PlanSummary
    shopping_list: tuple[ShoppingItem, ...]
    notes: tuple[str, ...] = ()
    disclaimer: str = ""
    score: Any = field(default=None, compare=False)
    no_food_plan: str = ""  # why there are no meals (babies under about 6 months)
    label_checks: tuple[LabelCheck, ...] = ()
    chases_b12: bool = True  # False: a supplement covers the target alone; meals are for variety

    def aisles(self) -> list[tuple[str, list[ShoppingItem]]]:
        """The shopping list grouped by aisle, in the order aisles first appear."""
        out: dict[str, list[ShoppingItem]] = {}
        for item in self.shopping_list:
            out.setdefault(item.aisle or "other", []).append(item)
        return list(out.items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "assessment": self.assessment.to_dict(),
            "week": self.week,
            "target": {
                "intake_ug": self.target_intake_ug,
                "absorbed_ug": _ug(self.target_absorbed_ug),
            },
            "days": [d.to_dict() for d in self.days],
            "supplement": self.supplement.to_dict() if self.supplement else None,
            "summary": self.summary.to_dict(),
            "shopping_list": [s.to_dict() for s in self.shopping_list],
            "food_plan_chases_b12": self.chases_b12,
            "notes": list(self.notes),
            "label_checks": [c.to_dict() for c in self.label_checks],
            "disclaimer": self.disclaimer,
            "no_food_plan": self.no_food_plan or None,
        }
