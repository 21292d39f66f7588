"""Value objects of the planning core: foods, profiles and their vocabularies.

Everything here is a frozen dataclass or a tuple of allowed words. The core
imports only the standard library; adapters (``foods.loader``, the web forms,
the API) build these objects and the core never reads files or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MEALS = ("breakfast", "lunch", "dinner", "snack")
DIETS = ("vegan", "vegetarian", "pescatarian", "omnivore")
ALLERGENS = (
    "milk",
    "egg",
    "fish",
    "shellfish",
    "gluten",
    "soy",
    "tree_nut",
    "peanut",
    "sesame",
)
EVIDENCE = ("measured", "label", "estimated", "unreliable")
TIERS = ("everyday", "occasional", "specialty")
"""How ordinary a food is (``foods/groups.csv`` per group, ``foods/food_tiers.csv``
per food): ``specialty`` foods (game, organ meats, brand-specific substitutes,
sweetened drinks as a B12 source) are for people who ask for them."""
AISLES = (
    "dairy",
    "bakery",
    "produce",
    "tins and dry goods",
    "frozen",
    "drinks",
    "meat and fish",
    "chilled",
)
"""Shop aisles, one per food group (``foods/groups.csv``), for shopping lists."""
"""``unreliable``: the row's own notes say not to rely on it; it never counts as a
B12 source (``Food.counts_as_source`` is False), though it may still be listed."""
SEXES = ("female", "male", "unspecified")
LIFE_STAGES = ("none", "pregnant", "lactating")
GUIDELINES = ("us", "efsa", "dach", "nnr", "uk", "who")
# Where a person shops: fortification differs between markets, so branded and
# fortified rows of the food table name the markets their B12 figure holds in.
MARKETS = ("us", "uk", "eu")
#: A food row's ``markets``: one or more of MARKETS, or ``any`` (unbranded whole
#: foods, the same everywhere). A profile's ``market`` is one of MARKETS, or
#: ``any`` when the market is not known: then only ``any`` rows are used.
ANY_MARKET = "any"
PROFILE_MARKETS = MARKETS + (ANY_MARKET,)
#: The market a profile defaults to, from its guideline.
MARKET_BY_GUIDELINE = {
    "us": "us",
    "uk": "uk",
    "efsa": "eu",
    "dach": "eu",
    "nnr": "eu",
    "who": ANY_MARKET,
}
FREQUENCIES = ("daily", "weekly")
# What the person takes now (issue 14): a supplement by mouth, or injections a doctor
# gives every few weeks (``Supplement.every_weeks``); dose options stay FREQUENCIES.
SUPPLEMENT_FREQUENCIES = (*FREQUENCIES, "injection")
# A baby's feeding (issue 14); a breastfed baby's B12 follows the mother's intake.
FEEDINGS = ("breast", "formula", "mixed", "solids")
# Laboratory tests a profile can hold a result of, and the units labs report them in
# (issue 14). Conversions and thresholds, with sources, are in planner/data/labs.toml.
LAB_UNITS = {
    "serum_b12": ("pmol/L", "pg/mL", "ng/L"),
    "holotc": ("pmol/L",),
    "mma": ("µmol/L", "umol/L", "nmol/L"),
    "homocysteine": ("µmol/L", "umol/L"),
    "folate": ("nmol/L", "ng/mL"),
}
LAB_TESTS = tuple(LAB_UNITS)
LAB_STATUSES = ("low", "borderline", "normal", "high")
MEDICATIONS = (
    "metformin",
    "ppi",
    "h2_blocker",
    "colchicine",
    "nitrous_oxide",
    "antiepileptic",
    "long_term_antibiotics",
)
CONDITIONS = (
    "pernicious_anemia",
    "atrophic_gastritis",
    "gastritis",
    "low_stomach_acid",
    "crohns_disease",
    "ileal_resection",
    "gastric_bypass",
    "gastrectomy",
    "celiac_disease",
    "h_pylori",
    "sleeve_gastrectomy",
    "pancreatic_insufficiency",
    "type1_diabetes",
    "autoimmune_thyroid",
)
SYMPTOMS = (
    "tingling",
    "numbness",
    "burning_pain",
    "fatigue",
    "weakness",
    "memory_problems",
    "confusion",
    "depression",
    "irritability",
    "sore_tongue",
    "balance_problems",
    "vision_problems",
    "joint_pain",
    "leg_pain",
    "pale_skin",
    "shortness_of_breath",
    "breathless_at_rest",
    "chest_pain",
    "pain_when_walking",
    "morning_stiffness",
    "joint_swelling",
    "saddle_numbness",
)

# Meal names by meals per day (product.md §4).
MEAL_NAMES = {
    2: ("breakfast", "dinner"),
    3: ("breakfast", "lunch", "dinner"),
    4: ("breakfast", "lunch", "dinner", "snack"),
    5: ("breakfast", "lunch", "dinner", "snack", "snack_2"),
}


def meal_kind(meal: str) -> str:
    """The column of the food table a meal name is matched against."""
    return "snack" if meal.startswith("snack") else meal


@dataclass(frozen=True)
class Food:
    """One row of the composition table.

    ``b12_ug_per_100g`` is total vitamin B12 [µg per 100 g edible portion];
    ``serving_g`` is one household serving [g].
    """

    food_id: str
    name: str
    group: str
    b12_ug_per_100g: float
    serving_g: float
    serving_label: str
    meals: frozenset[str]
    diets: frozenset[str]
    allergens: frozenset[str]
    fortified: bool
    source: str
    evidence: str
    notes: str = ""
    counts_as_source: bool = True  # False for algae, tempeh: inactive analogues
    tags: frozenset[str] = frozenset()  # food-safety tags (foods/food_tags.csv)
    markets: frozenset[str] = frozenset({ANY_MARKET})  # where this B12 figure holds
    tier: str = "everyday"  # TIERS; the group's default or foods/food_tiers.csv
    tier_reason: str = ""
    # grams bought dry per gram eaten cooked, and what is bought (foods/dry_weights.csv);
    # 0.0: bought as eaten
    dry_factor: float = 0.0
    dry_name: str = ""

    def __post_init__(self) -> None:
        if self.evidence == "unreliable" and self.counts_as_source:
            object.__setattr__(self, "counts_as_source", False)

    def sold_in(self, market: str | None) -> bool:
        """Whether a person shopping in ``market`` can buy this food as the row
        describes it: rows marked ``any`` everywhere, others in their markets
        (``None``, a market not known: only rows marked ``any``)."""
        return ANY_MARKET in self.markets or market in self.markets

    @property
    def b12_ug_per_serving(self) -> float:
        """B12 in one serving [µg]."""
        return self.b12_ug_per_100g * self.serving_g / 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "food_id": self.food_id,
            "name": self.name,
            "group": self.group,
            "b12_ug_per_100g": self.b12_ug_per_100g,
            "serving_g": self.serving_g,
            "serving_label": self.serving_label,
            "b12_ug_per_serving": round(self.b12_ug_per_serving, 3),
            "meals": sorted(self.meals, key=MEALS.index),
            "diets": sorted(self.diets, key=DIETS.index),
            "allergens": sorted(self.allergens, key=ALLERGENS.index),
            "fortified": self.fortified,
            "source": self.source,
            "evidence": self.evidence,
            "notes": self.notes,
            "counts_as_source": self.counts_as_source,
            "markets": sorted(self.markets, key=PROFILE_MARKETS.index),
            "tier": self.tier,
            "tier_reason": self.tier_reason,
        }


@dataclass(frozen=True)
class Supplement:
    """A B12 supplement: ``dose_ug`` [µg] taken ``frequency`` (daily|weekly), or
    B12 injections (``frequency == "injection"``) every ``every_weeks`` weeks, whose
    dose (``dose_ug``, optional) the doctor sets."""

    dose_ug: float | None
    frequency: str
    every_weeks: int | None = None

    @property
    def is_injection(self) -> bool:
        return self.frequency == "injection"

    @property
    def oral_dose_ug(self) -> float:
        """``dose_ug`` of a daily or weekly supplement, where parse_profile requires it."""
        if self.dose_ug is None:
            raise ValueError(f"a {self.frequency} supplement needs dose_ug")
        return self.dose_ug

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dose_ug": self.dose_ug, "frequency": self.frequency}
        if self.is_injection:
            out["every_weeks"] = self.every_weeks
        return out


@dataclass(frozen=True)
class SupplementDose:
    """A supplement dose the planner names: ``dose_ug`` [µg] per ``frequency``
    (daily|weekly), ``reason`` (why) and ``source``. The assessment's
    recommendation and the plan's supplement are each one, with more fields."""

    dose_ug: float
    frequency: str
    reason: str
    source: str

    @property
    def daily_equivalent_ug(self) -> float:
        """Average dose per day [µg]; a weekly dose counts through the 7-day average."""
        return self.dose_ug if self.frequency == "daily" else self.dose_ug / 7.0

    def dose_dict(self) -> dict[str, Any]:
        """The four fields, first in each subclass's ``to_dict``."""
        return {"dose_ug": self.dose_ug, "frequency": self.frequency, "reason": self.reason,
                "source": self.source}


@dataclass(frozen=True)
class LabResult:
    """One laboratory result as the lab reported it: ``value`` in ``unit``, and the
    date of the sample as written (``YYYY-MM-DD``; shown, never compared with today)."""

    test: str
    value: float
    unit: str
    date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"test": self.test, "value": self.value, "unit": self.unit}
        if self.date is not None:
            out["date"] = self.date
        return out


@dataclass(frozen=True)
class Profile:
    """A person's validated profile (product.md §4). Build it with
    ``planner.domain.profile.parse_profile``, which checks every field."""

    age_years: float
    diet: str
    sex: str = "unspecified"
    life_stage: str = "none"
    guideline: str = "us"
    meals_per_day: int = 3
    days: int = 7
    allergies: tuple[str, ...] = ()
    exclude_foods: tuple[str, ...] = ()
    include_foods: tuple[str, ...] = ()
    medications: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    symptoms: tuple[str, ...] = ()
    supplement: Supplement | None = None
    accept_supplement: bool = True  # False: the person does not want a supplement
    market: str | None = None  # where they shop; None: from the guideline
    # issue 14: what a dietitian brings
    labs: tuple[LabResult, ...] = ()
    folic_acid_ug: float | None = None  # folic acid taken a day [µg]
    months_without_b12: int | None = None  # months without any reliable B12 source
    feeding: str | None = None  # a baby's feeding, one of FEEDINGS
    mother_diet: str | None = None  # a baby's mother's diet, one of DIETS
    mother_takes_b12: bool | None = None  # whether a baby's mother takes B12
    include_dishes: tuple[str, ...] = ()  # dishes the person likes (dish ids)
    exclude_dishes: tuple[str, ...] = ()  # dishes never to plan (dish ids)

    def __post_init__(self) -> None:
        if self.market is None:
            object.__setattr__(self, "market", MARKET_BY_GUIDELINE.get(self.guideline, ANY_MARKET))

    @property
    def meal_names(self) -> tuple[str, ...]:
        return MEAL_NAMES[self.meals_per_day]

    def to_dict(self) -> dict[str, Any]:
        return {
            "age_years": self.age_years,
            "sex": self.sex,
            "life_stage": self.life_stage,
            "diet": self.diet,
            "guideline": self.guideline,
            "meals_per_day": self.meals_per_day,
            "days": self.days,
            "allergies": list(self.allergies),
            "exclude_foods": list(self.exclude_foods),
            "include_foods": list(self.include_foods),
            "medications": list(self.medications),
            "conditions": list(self.conditions),
            "symptoms": list(self.symptoms),
            "supplement": self.supplement.to_dict() if self.supplement else None,
            "accept_supplement": self.accept_supplement,
            "market": self.market,
            "labs": [lab.to_dict() for lab in self.labs],
            "folic_acid_ug": self.folic_acid_ug,
            "months_without_b12": self.months_without_b12,
            "feeding": self.feeding,
            "mother_diet": self.mother_diet,
            "mother_takes_b12": self.mother_takes_b12,
            "include_dishes": list(self.include_dishes),
            "exclude_dishes": list(self.exclude_dishes),
        }


@dataclass(frozen=True)
class DishIngredient:
    """One ingredient of a dish: ``grams`` [g] of a food for one adult portion."""

    food_id: str
    grams: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"food_id": self.food_id, "grams": self.grams}


@dataclass(frozen=True)
class Dish:
    """A dish of the library (``foods/dishes.csv``, ``foods/dish_ingredients.csv``).

    ``diets`` and ``allergens`` are not typed by hand: build a dish with
    :func:`make_dish`, which derives them from its ingredients' foods (diets:
    the intersection, allergens: the union). A dish has no B12 figure of its
    own; its B12 is the sum over its ingredients.
    """

    dish_id: str
    name: str
    meals: frozenset[str]
    cuisine: str
    method: str
    source: str
    notes: str
    ingredients: tuple[DishIngredient, ...]
    diets: frozenset[str]
    allergens: frozenset[str]

    @property
    def diet(self) -> str:
        """The strictest diet the dish fits (``DIETS`` order), or "" if none."""
        return next((d for d in DIETS if d in self.diets), "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.dish_id,
            "name": self.name,
            "meals": sorted(self.meals, key=MEALS.index),
            "cuisine": self.cuisine,
            "method": self.method,
            "source": self.source,
            "notes": self.notes,
            "diets": sorted(self.diets, key=DIETS.index),
            "allergens": sorted(self.allergens, key=ALLERGENS.index),
            "ingredients": [i.to_dict() for i in self.ingredients],
        }


def make_dish(dish_id: str, name: str, meals: frozenset[str],
              ingredients: tuple[DishIngredient, ...], foods: dict[str, Food],
              cuisine: str = "", method: str = "", source: str = "", notes: str = "") -> Dish:
    """A dish whose diets and allergens follow from ``foods`` (by food id), which
    must hold every ingredient's food."""
    used = [foods[i.food_id] for i in ingredients]
    diets = frozenset(DIETS)
    allergens: frozenset[str] = frozenset()
    for food in used:
        diets &= food.diets
        allergens |= food.allergens
    return Dish(dish_id=dish_id, name=name, meals=meals, cuisine=cuisine, method=method,
                source=source, notes=notes, ingredients=ingredients, diets=diets,
                allergens=allergens)


def dish_b12_ug(dish: Dish, foods: dict[str, Food]) -> float:
    """B12 in one portion of ``dish`` [µg]: the sum over its ingredients that count
    as B12 sources (``b12_ug_per_100g × grams / 100``). The dish has no figure of its own."""
    return sum(foods[i.food_id].b12_ug_per_100g * i.grams / 100.0
               for i in dish.ingredients if foods[i.food_id].counts_as_source)
