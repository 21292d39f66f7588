"""Build a week of B12 sources for a profile: :func:`make_plan`, the one entry point.

Every output (page, API, CLI, handout, email) calls :func:`make_plan` and
renders the :class:`~planner.domain.plan.Plan` it returns. Pure: the ISO week
is an argument, dates come from :meth:`datetime.date.fromisocalendar`, and the
only "randomness" is a BLAKE2b hash of the profile JSON and the week.

How a plan is made
------------------
1. **Foods.** Only real sources are used: B12 > 0, ``counts_as_source`` (algae
   and tempeh carry inactive analogues and never count), the profile's diet,
   no allergen of the profile, not in ``exclude_foods``, sold in the profile's
   ``market`` (a row's ``markets`` name it, or say ``any``); when
   ``include_foods`` is given, only those (the person's own food list). Unknown food ids in
   either list raise :class:`UnknownFoods`, naming the field and the ids.
   Then the food-safety filter of the life stage (:func:`safe_sources`,
   ``food_safety.toml``, b12-reference.md §8): foods a baby, a young child, a
   pregnant or breastfeeding person must not eat are left out, children's
   portions are scaled and capped, and weekly caps (liver for babies, oily
   fish) become per-food meal limits. Under about 6 months there is no food
   plan at all.
2. **Target.** From :func:`planner.domain.assessment.assess`: the absorbed
   target [µg/day] is the coverage bar.
3. **Food plan.** :mod:`planner.domain.dish_plan` chooses a dish per meal so that
   every day is covered by food alone where the allowed foods make that
   possible (food first: "food-only days should each be covered"), minimising
   the objective documented there. A dish may fill at most
   :func:`planner.domain.dish_plan.max_uses` meals of the plan.
   For people without intrinsic factor or without a working terminal ileum
   food cannot meet the need (only about 1.2 % is absorbed), so the food part
   is planned as for normal absorption, reported with the no-IF model, and
   never counts towards covering a day; the supplement carries the coverage.
4. **Absorption as reported.** Each meal is one dose; its absorbed amount is
   :func:`~planner.domain.absorption.meal_absorbed_ug`, the same
   function the optimiser minimises with, in the person's mode: Model S for
   crystalline B12, the food group's share (eggs about 30 %, fish about 42 %)
   for food-bound B12, never above Model S, and half of that for food-bound
   B12 at 65 and over, on PPIs, H2 blockers or metformin, or with atrophic
   gastritis (:func:`absorption_factors`).
5. **Supplement.** A supplement the profile already takes is kept when the
   assessment finds it enough on its own (``own_supplement_adequate``), and
   replaced, with the reason said, when the assessment recommends a supplement
   and finds the own one short; otherwise it is counted first and kept if it
   covers every day with the food. A new one is added when food leaves a day
   uncovered, or when the assessment recommends one. The dose comes from the
   data (``supplements.toml`` through the assessment or
   :func:`planner.domain.supplements.choose_supplement`): the first option that
   reaches the absorbed target on its own, so EFSA, D-A-CH and NNR targets get
   the higher daily tier (50 or 100 µg a day) rather than a weekly dose. A
   supplement is its own dose, taken apart from meals (at least 4 h from a
   B12 meal). A daily one counts every day; a weekly one is taken on day 1 of
   each 7 days and counts through its 7-day average.
6. **Label checks.** Fortified levels differ by brand and country, so each
   fortified food the plan counts gets a "check the label: at least X µg per
   serving" line, X being the B12 per serving the plan counts for it, when
   the plan leans on fortified food (a vegan or vegetarian whose plan has no
   supplement) and always for a row that is only a typical level for the
   market (evidence ``estimated``).
7. **Refused supplements.** When food cannot cover every day and the profile
   says ``accept_supplement = false``, :class:`InfeasiblePlan` explains why.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from datetime import timedelta

from planner.domain import dish_plan
from planner.domain.absorption import AbsorptionParams
from planner.domain.absorption import absorbed_ug
from planner.domain.absorption import meal_absorbed_ug
from planner.domain.assessment import Assessment
from planner.domain.assessment import assess
from planner.domain.assessment import fortified_ids
from planner.domain.bioavailability import item_factors
from planner.domain.dish_names import served_name
from planner.domain.facts import holds
from planner.domain.facts import profile_facts
from planner.domain.food_safety import LifeStage
from planner.domain.food_safety import SafeFoods
from planner.domain.food_safety import no_food_plan
from planner.domain.food_safety import safe_foods
from planner.domain.food_safety import share_caps
from planner.domain.model import MARKET_BY_GUIDELINE
from planner.domain.model import TIERS
from planner.domain.model import Dish
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.model import meal_kind
from planner.domain.plan import COUNTED_GROUPS
from planner.domain.plan import LabelCheck
from planner.domain.plan import Plan
from planner.domain.plan import PlanDay
from planner.domain.plan import PlanItem
from planner.domain.plan import PlanMeal
from planner.domain.plan import PlanSummary
from planner.domain.plan import PlanSupplement
from planner.domain.plan import ShoppingItem
from planner.domain.plan import shopping_text
from planner.domain.profile import canonical_json
from planner.domain.reference import Reference
from planner.domain.supplements import choose_supplement
from planner.domain.supplements import dose_options_for
from planner.domain.week import WEEK_FORM  # noqa: F401  (re-exported: the CLI names it)
from planner.domain.week import week_monday

_EPS_UG = 1e-9
#: Diets whose B12, without a supplement, rests on fortified food.
LEANS_ON_FORTIFIED = ("vegan", "vegetarian")


class PlanError(ValueError):
    """A plan cannot be made. ``field`` names the profile field (or ``week``) to
    change; ``errors`` has the ``[{"field", "message"}]`` shape of ProfileError.
    ``assessment`` is set when the profile was assessed before the plan failed, so
    every output can still show its flags."""

    def __init__(self, message: str, field: str | None = None,
                 assessment: Assessment | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = [{"field": field or "", "message": message}]
        self.assessment = assessment


class InvalidWeek(PlanError):
    """The week is not an ISO week string."""


class UnknownFoods(PlanError):
    """``include_foods`` or ``exclude_foods`` names ids the food table lacks."""


class InfeasiblePlan(PlanError):
    """No plan meets the target under the profile's constraints."""


class UnknownDishes(PlanError):
    """``include_dishes`` or ``exclude_dishes`` names ids the dish library lacks."""


def check_dish_ids(profile: Profile, dishes: Iterable[Dish]) -> None:
    """Raise UnknownDishes when the profile names dish ids the library lacks."""
    known = {d.dish_id for d in dishes}
    for name in ("include_dishes", "exclude_dishes"):
        unknown = [did for did in getattr(profile, name, ()) if did not in known]
        if unknown:
            raise UnknownDishes(
                f"{name}: unknown dish id(s) {', '.join(unknown)}; use ids from the "
                "dish library (b12planner dishes list shows them)",
                name,
            )


def week_start(week: str) -> date:
    """Monday of an ISO week ``"YYYY-Www"`` (:mod:`planner.domain.week`);
    InvalidWeek names the valid form."""
    monday = week_monday(week)
    if monday is None:
        raise InvalidWeek(f"week {week!r} is not an ISO week; use {WEEK_FORM}", "week")
    return monday


def profile_json(profile: Profile) -> str:
    """The profile as canonical JSON, the part of the seed that identifies it.

    A field added later with its default value (``accept_supplement: true``,
    the ``market`` its guideline implies) is left out, so adding it does not
    change anyone's plans.
    """
    data = profile.to_dict()
    if data.get("accept_supplement", True) is True:
        data.pop("accept_supplement", None)
    if data.get("market") == MARKET_BY_GUIDELINE.get(profile.guideline):
        data.pop("market", None)
    for key in ("labs", "folic_acid_ug", "months_without_b12", "feeding", "mother_diet",
                "mother_takes_b12"):  # issue 14, left out at their defaults
        if data.get(key) in (None, []):
            data.pop(key, None)
    for key in ("include_dishes", "exclude_dishes"):
        if not data.get(key):
            data.pop(key, None)
    return canonical_json(data)


def plan_seed(profile: Profile, week: str) -> bytes:
    """A stable seed from the profile JSON and the week (same in every process)."""
    return hashlib.sha256(f"{profile_json(profile)}|{week}".encode()).digest()


def check_food_ids(profile: Profile, foods: Iterable[Food]) -> None:
    """Raise UnknownFoods when the profile names food ids the table lacks."""
    known = {f.food_id for f in foods}
    for name in ("include_foods", "exclude_foods"):
        unknown = [fid for fid in getattr(profile, name) if fid not in known]
        if unknown:
            raise UnknownFoods(
                f"{name}: unknown food id(s) {', '.join(unknown)}; use ids from the "
                "food table (b12planner foods lists them)",
                name,
            )


def is_source(food: Food) -> bool:
    """Whether a food counts as a B12 source at all (B12 > 0, active B12)."""
    return (
        food.b12_ug_per_100g > 0
        and food.serving_g > 0
        and getattr(food, "counts_as_source", True)
        and food.group != "other_plant"
    )


def allowed_sources(profile: Profile, foods: Iterable[Food],
                    reference: Reference | None = None) -> tuple[Food, ...]:
    """The sources this profile may eat: diet, allergies, exclusions, market, own
    list; with ``reference``, also the food-safety rules of its life stage
    (portions scaled to a child's age), see :func:`safe_sources`."""
    allergies = frozenset(profile.allergies)
    excluded = frozenset(profile.exclude_foods)
    own = frozenset(profile.include_foods)
    allowed = tuple(
        f
        for f in foods
        if is_source(f)
        and profile.diet in f.diets
        and not (allergies & f.allergens)
        and f.food_id not in excluded
        and f.sold_in(profile.market)
        and (not own or f.food_id in own)
    )
    if reference is None:
        return allowed
    return safe_sources(profile, allowed, reference).foods


def safe_sources(profile: Profile, allowed: Iterable[Food], reference: Reference) -> SafeFoods:
    """The food-safety filter (``food_safety.toml``, b12-reference.md §8) over foods
    the profile may otherwise eat: nothing at all under about 6 months, no food
    its life stage rules out, child portions, and the weekly caps."""
    if no_food_plan(profile, reference.food_safety) is not None:
        return SafeFoods(foods=())
    return safe_foods(profile, allowed, reference.food_safety)


def _b12_diet(profile: Profile, reference: Reference) -> str:
    """The diet as far as B12 sources go (``risk_rules.toml [no_animal_sources]``)."""
    policy = reference.risk_policy
    return profile.diet if policy is None else policy.b12_diet(profile.diet, profile.allergies)


def absorption_factors(profile: Profile, foods: Sequence[Food],
                       reference: Reference) -> tuple[tuple[float, float], ...]:
    """``(fraction, scale)`` per food for this person: the food group's
    bioavailability and, for food-bound B12, the reduction that applies to them
    (``absorption.toml``; :mod:`planner.domain.bioavailability`)."""
    facts = profile_facts(profile, reference.supplement_adequacy, fortified_ids(foods))
    return item_factors(foods, reference.bioavailability, facts)


#: Profile fields a dish may be excluded by, in the order the message names them.
SPECIALTY = "specialty"


def _allowed_foods(profile: Profile, foods: Sequence[Food], reference: Reference
                   ) -> tuple[dict[str, Food], SafeFoods]:
    """Every food (source or not) this profile may eat, by id: diet, allergies,
    exclusions, market, specialty tier only when named in ``include_foods``, and
    the food-safety filter of the life stage; with the SafeFoods it came from."""
    allergies = frozenset(profile.allergies)
    excluded = frozenset(profile.exclude_foods)
    own = frozenset(profile.include_foods)
    allowed = [
        f for f in foods
        if profile.diet in f.diets
        and not (allergies & f.allergens)
        and f.food_id not in excluded
        and f.sold_in(profile.market)
        and (f.tier != SPECIALTY or f.food_id in own)
    ]
    safe = safe_foods(profile, allowed, reference.food_safety)
    by_id = {f.food_id: f for f in foods}
    # safe_foods scales a child's servings; dishes scale their own grams, so keep
    # the table's rows (the same food) and only take the verdict.
    return {f.food_id: by_id[f.food_id] for f in safe.foods}, safe


def _substitute(food: Food, allowed: dict[str, Food], own: frozenset[str]) -> Food | None:
    """A fortified ingredient the person cannot use (another market, excluded, or
    not their brand) is swapped for an allowed fortified food of the same group:
    one they named first, then one made of the same thing (the same allergens: soya
    drink for soya drink, not rice drink), then the most everyday (tier), then the
    closest by name (most words shared, fewest added); None if there is none."""
    options = [f for f in allowed.values()
               if f.group == food.group and f.fortified and is_source(f)
               and (not own or f.food_id in own)]
    if not options:
        return None
    words = _name_words(food.name)
    options.sort(key=lambda f: (f.food_id not in own,
                                f.allergens != food.allergens,
                                TIERS.index(f.tier) if f.tier in TIERS else len(TIERS),
                                -len(words & _name_words(f.name)),
                                len(_name_words(f.name) - words),
                                f.food_id))
    return options[0]


def _name_words(name: str) -> set[str]:
    return set(name.casefold().replace(",", " ").replace("(", " ").replace(")", " ").split())


def _serve(dish: Dish, allowed: dict[str, Food], own: frozenset[str],
           foods: dict[str, Food], swaps: dict[str, Food | None] | None = None
           ) -> tuple[Food, ...] | None:
    """The foods of ``dish`` as this person would cook it, or None when an
    ingredient is not allowed. With ``include_foods`` (the B12 foods the person
    buys) every B12 source of the dish must be one of them. ``swaps``: the
    substitutes found so far for these ``allowed`` and ``own`` (filled here)."""
    out = []
    for ing in dish.ingredients:
        food = allowed.get(ing.food_id)
        if food is None or (own and is_source(food) and food.food_id not in own):
            original = food or foods.get(ing.food_id)
            if original is None or not original.fortified:
                return None
            if swaps is None:
                food = _substitute(original, allowed, own)
            elif original.food_id in swaps:
                food = swaps[original.food_id]
            else:
                food = swaps[original.food_id] = _substitute(original, allowed, own)
            if food is None:
                return None
        out.append(food)
    return tuple(out)


def portion_factor(profile: Profile, meal: str, reference: Reference,
                   safe: SafeFoods) -> tuple[float, float | None]:
    """``(factor, max_g)`` for the grams of a dish at ``meal``: the meal's share of
    the day (``meal_portions.toml``) times a child's portion (``food_safety.toml``),
    and the child's meal cap [g]: ``child_meal_items`` items' cap
    (``meal_portions.toml``); the dish is scaled down to it, and no ingredient
    passes one item's cap."""
    share = reference.meal_portions.get(profile.meals_per_day, {}).get(meal, 1.0)
    if safe.portion is None:
        return share, None
    return share * safe.portion.factor, safe.portion.max_item_g * reference.child_meal_items


def supplement_covers_alone(profile: Profile, assessment: Assessment,
                            reference: Reference) -> bool:
    """Whether the plan's supplement will cover the absorbed target on its own, so
    the food plan need not chase B12: an own supplement the assessment finds
    enough, or the recommended one (when accepted) that reaches the target alone.
    Also when food cannot count at all (no intrinsic factor)."""
    target = assessment.target.absorbed_ug
    mode = assessment.intrinsic_factor
    own = _own_supplement(profile, reference, mode)
    if (own is not None and assessment.own_supplement_adequate
            and _share_ug(own) >= target - _EPS_UG):
        return True
    if not food_can_cover(assessment):
        return True
    if assessment.recommended_supplement is not None and profile.accept_supplement:
        first = _supplement_options(profile, assessment, reference, "")[0]
        option = _plan_supplement(first[0], first[1], "", first[2], "recommended",
                                  reference, mode)
        return _share_ug(option) >= target - _EPS_UG
    return False


def _dish_terms(dish: Dish, got: tuple[Food, ...], food_key: dict[str, int],
                cap_index: dict[str, int], weights: dish_plan.Weights, seed: bytes,
                own: frozenset[str], liked: frozenset[str]
                ) -> tuple[float, tuple[int, ...], tuple[int, ...]]:
    """What a dish brings to every meal it may fill: its own cost (tier, liked,
    own B12 foods, taste), its distinct ingredient keys and its capped foods."""
    cost = dish_plan.taste(dish.dish_id, seed, weights.taste)
    if {food.tier for food in got} - {"everyday"}:
        cost += weights.occasional
    if dish.dish_id in liked:
        cost += weights.liked
    if own and any(is_source(f) and f.food_id in own for f in got):
        cost += weights.own_b12_food
    return (cost, tuple(sorted({food_key[f.food_id] for f in got})),
            tuple(sorted({cap_index[f.food_id] for f in got if f.food_id in cap_index})))


def _candidate(key: int, dish: Dish, got: tuple[Food, ...], factor: float,
               max_g: float | None, safe: SafeFoods,
               factor_of: dict[str, tuple[float, float]],
               terms: tuple[float, tuple[int, ...], tuple[int, ...]],
               params: AbsorptionParams, name: str = "") -> dish_plan.Candidate:
    """One dish as served to this person at one meal: grams scaled, eggs whole
    (halves for children), a child's cap on the whole meal, its B12 and absorbed
    B12 (planning mode), with the dish's own ``terms`` (:func:`_dish_terms`)."""
    ingredients = []
    for ing, food in zip(dish.ingredients, got, strict=True):
        grams = ing.grams * factor
        if food.group in COUNTED_GROUPS and food.serving_g > 0:
            # eggs come whole for adults, in halves for children
            step = 1.0 if safe.portion is None else 0.5
            pieces = max(step, round(grams / food.serving_g / step) * step)
            grams = pieces * food.serving_g
        ingredients.append((food, grams))
    total_g = sum(g for _, g in ingredients)
    if max_g is not None and total_g > max_g:
        # a child's cap holds for the whole meal (about 100-150 g for a baby)
        ingredients = [(f, g * (max_g - 1e-9) / total_g) for f, g in ingredients]
    if max_g is not None and safe.max_item_g is not None:
        ingredients = [(f, min(g, safe.max_item_g)) for f, g in ingredients]
    doses = [(food.b12_ug_per_100g * g / 100.0, *factor_of[food.food_id])
             for food, g in ingredients if is_source(food)]
    cost, food_keys, capped = terms
    return dish_plan.Candidate(
        dish=dish,
        ingredients=tuple(ingredients),
        b12_ug=sum(d for d, _, _ in doses),
        absorbed_ug=meal_absorbed_ug(doses, params, True),
        cost=cost,
        key=key,
        food_keys=food_keys,
        capped=capped,
        name=name,
    )


def build_dish_problem(
    profile: Profile,
    foods: Sequence[Food],
    *,
    week: str,
    reference: Reference,
    assessment: Assessment | None = None,
    dishes: Sequence[Dish] | None = None,
) -> dish_plan.DishProblem:
    """The dish problem :func:`make_plan` solves: a candidate list per meal, each
    dish checked ingredient by ingredient and scaled to the person."""
    week_start(week)
    foods = tuple(foods)
    dishes = tuple(reference.dishes if dishes is None else dishes)
    check_food_ids(profile, foods)
    check_dish_ids(profile, dishes)
    if assessment is None:
        assessment = assess(profile, reference, foods)
    by_id = {f.food_id: f for f in foods}
    allowed, safe = _allowed_foods(profile, foods, reference)
    own = frozenset(profile.include_foods)
    liked = frozenset(getattr(profile, "include_dishes", ()))
    disliked = frozenset(getattr(profile, "exclude_dishes", ()))
    seed = plan_seed(profile, week)
    limits = share_caps(safe.caps, seed)
    capped_ids = sorted(limits)
    cap_index = {fid: i for i, fid in enumerate(capped_ids)}
    weights = dish_plan.Weights()
    served: list[tuple[int, Dish, tuple[Food, ...]]] = []
    names: dict[int, str] = {}
    swaps: dict[str, Food | None] = {}
    for key, dish in enumerate(dishes):
        if dish.dish_id in disliked:
            continue
        got = _serve(dish, allowed, own, by_id, swaps)
        if got is not None:
            served.append((key, dish, got))
            names[key] = served_name(dish, got, by_id)
    used = list({f.food_id: f for _, _, fs in served for f in fs}.values())
    factor_of = dict(zip((f.food_id for f in used),
                         absorption_factors(profile, used, reference), strict=True))
    food_key = {f.food_id: i for i, f in enumerate(used)}
    terms = {key: _dish_terms(dish, got, food_key, cap_index, weights, seed, own, liked)
             for key, dish, got in served}
    per_meal = []
    for meal in profile.meal_names:
        factor, max_g = portion_factor(profile, meal, reference, safe)
        cands = []
        # a meal no dish of its kind fits (a young vegan child's breakfast, say)
        # takes any dish the person may eat
        fits = [x for x in served if meal_kind(meal) in x[1].meals] or served
        for key, dish, got in fits:
            cands.append(_candidate(key, dish, got, factor, max_g, safe, factor_of,
                                    terms[key], reference.absorption, names[key]))
        if not cands:
            raise InfeasiblePlan(
                f"No dish of the library fits {meal.replace('_', ' ')} under this "
                "profile's diet, allergies, food exclusions and dish exclusions; "
                "exclude fewer foods or dishes.", "exclude_dishes" if disliked
                else "exclude_foods", assessment)
        per_meal.append(tuple(cands))
    chase = not supplement_covers_alone(profile, assessment, reference)
    return dish_plan.DishProblem(
        days=profile.days,
        meals=profile.meal_names,
        candidates=tuple(per_meal),
        target_absorbed_ug=assessment.target.absorbed_ug,
        intake_target_ug=assessment.target.intake_ug,
        chase=chase,
        spread=chase and _b12_diet(profile, reference) in LEANS_ON_FORTIFIED,
        food_limits=tuple(limits[fid] for fid in capped_ids),
        weights=weights,
        max_uses=dish_plan.max_uses(profile.days),
    )


@dataclass(frozen=True)
class _FoodDay:
    """One day's food: ``absorbed_ug`` as modelled, ``counted_ug`` what counts
    towards covering the day (nothing when food cannot cover, see below)."""

    meals: tuple[PlanMeal, ...]
    b12_ug: float
    absorbed_ug: float
    counted_ug: float


def food_can_cover(assessment: Assessment) -> bool:
    """Whether food may count towards covering a day. Not without intrinsic
    factor or a working terminal ileum (pernicious anaemia, gastrectomy,
    gastric bypass, ileal resection, Crohn's disease): only about 1 % of food
    B12 gets in, and their B12 is a doctor's treatment (b12-reference.md §2.3
    design suggestion 4)."""
    return assessment.intrinsic_factor


def _food_days(
    problem: dish_plan.DishProblem, solution: dish_plan.Solution, intrinsic_factor: bool,
    counts: bool, profile: Profile, reference: Reference,
) -> list[_FoodDay]:
    used = list({f.food_id: f for cands in problem.candidates for c in cands
                 for f, _ in c.ingredients}.values())
    factor_of = dict(zip((f.food_id for f in used),
                         absorption_factors(profile, used, reference), strict=True))
    out = []
    for day in solution:
        meals = []
        for m, (name, idx) in enumerate(zip(problem.meals, day, strict=True)):
            cand = problem.candidates[m][idx]
            items = tuple(PlanItem.of_grams(f, g) for f, g in cand.ingredients)
            doses = [(i.b12_ug, *factor_of[i.food_id]) for i in items if i.b12_ug > 0]
            meals.append(
                PlanMeal(
                    meal=name,
                    items=items,
                    b12_ug=sum(i.b12_ug for i in items),
                    absorbed_ug=meal_absorbed_ug(doses, reference.absorption,
                                                 intrinsic_factor),
                    dish_id=cand.dish.dish_id,
                    dish_name=cand.name or cand.dish.name,
                    method=cand.dish.method,
                )
            )
        absorbed = sum(m.absorbed_ug for m in meals)
        out.append(
            _FoodDay(
                meals=tuple(meals),
                b12_ug=sum(m.b12_ug for m in meals),
                absorbed_ug=absorbed,
                counted_ug=absorbed if counts else 0.0,
            )
        )
    return out


def _share_ug(supplement: PlanSupplement | None) -> float:
    """Absorbed B12 a supplement counts for each day [µg/day]."""
    if supplement is None:
        return 0.0
    if supplement.frequency == "weekly":
        return supplement.absorbed_ug_per_dose / 7.0
    return supplement.absorbed_ug_per_dose


def _days_covered(food: list[_FoodDay], supplement: PlanSupplement | None,
                  target_ug: float) -> int:
    share = _share_ug(supplement)
    return sum(1 for d in food if d.counted_ug + share >= target_ug - _EPS_UG)


def _plan_supplement(dose_ug: float, frequency: str, reason: str, source: str,
                     kind: str, reference: Reference, intrinsic_factor: bool,
                     label: str = "") -> PlanSupplement:
    return PlanSupplement(
        dose_ug=dose_ug,
        frequency=frequency,
        reason=reason,
        source=source,
        kind=kind,
        absorbed_ug_per_dose=absorbed_ug(dose_ug, reference.absorption, intrinsic_factor),
        label=label,
    )


def _shortfall_reason(profile: Profile, assessment: Assessment, food: list[_FoodDay],
                      covered: int, food_has_b12: bool) -> str:
    target = assessment.target.absorbed_ug
    days = len(food)
    if not food_can_cover(assessment):
        return (
            "Without intrinsic factor, or without the end of the small intestine where "
            "B12 is taken up, only about 1 % of food B12 is absorbed, so food never "
            f"counts towards the absorbed target of {target:.2f} µg a day; treatment "
            "(high-dose tablets or injections) is a doctor's decision."
        )
    if not food_has_b12:
        where = "on your own food list" if profile.include_foods else "allowed by this profile"
        return (
            f"None of the foods {where} contains B12 that counts, so food cannot "
            f"reach the absorbed target of {target:.2f} µg a day."
        )
    return (
        f"The foods allowed by this profile reach the absorbed target of {target:.2f} µg "
        f"a day on only {covered} of {days} days."
    )


def _refusal_advice(assessment: Assessment) -> str:
    """What a person who refuses a supplement can do: more B12 food helps only when
    the gut can absorb it; with a malabsorption flag treatment is a doctor's decision."""
    if not assessment.intrinsic_factor:  # the shortfall already names the treatment
        return ("Adding foods with B12 will not help here; please talk to your doctor "
                "about treatment.")
    if assessment.flag("malabsorption") is not None:
        return ("Adding foods with B12 will not help here: treatment (injections or "
                "high-dose B12 by mouth) is a doctor's decision, so please talk to your "
                "doctor about it.")
    return ("Allow a supplement, or add foods with B12 (fortified foods, or animal "
            "foods your diet allows).")


def _supplement_options(profile: Profile, assessment: Assessment, reference: Reference,
                        reason: str) -> list[tuple[float, str, str, str]]:
    """Dose options from the data, the recommended one first."""
    first = assessment.recommended_supplement or choose_supplement(
        profile, assessment, reference, reason
    )
    facts = profile_facts(
        profile,
        reference.supplement_adequacy,
        malabsorption=assessment.flag("malabsorption") is not None,
    )
    options = [(first.dose_ug, first.frequency, first.source, first.label)]
    for o in dose_options_for(facts, reference):
        dose = assessment.target.intake_ug if o.dose_basis == "intake_target" else o.dose_ug
        if (dose, o.frequency) != (first.dose_ug, first.frequency):
            options.append((dose, o.frequency, o.source, o.label))
    return options


def _own_supplement(profile: Profile, reference: Reference,
                    intrinsic_factor: bool) -> PlanSupplement | None:
    if profile.supplement is None or profile.supplement.is_injection:
        return None
    return _plan_supplement(
        profile.supplement.oral_dose_ug, profile.supplement.frequency,
        "You already take this supplement; the plan counts it.",
        "your profile", "own", reference, intrinsic_factor,
    )


def _choose_supplement(
    profile: Profile,
    assessment: Assessment,
    reference: Reference,
    food: list[_FoodDay],
    food_has_b12: bool,
    chased: bool = True,
) -> tuple[PlanSupplement | None, list[str]]:
    """The supplement counted in the plan (or None) and notes about it. ``chased``:
    the meals were chosen for their B12; when they were not (the supplement covers
    the target on its own) their B12 says nothing about what food could do, so
    the reason does not speak of it."""
    if profile.supplement is not None and profile.supplement.is_injection:
        return None, [injection_note(profile, reference)]  # issue 14: nothing added by mouth
    first = assessment.treatment_first
    if first is not None and profile.accept_supplement:  # injections first: nothing by mouth
        own = _own_supplement(profile, reference, assessment.intrinsic_factor)
        return own, [treatment_first_note(first.label, reference)]
    target = assessment.target.absorbed_ug
    days = len(food)
    by_food = _days_covered(food, None, target)
    own = _own_supplement(profile, reference, assessment.intrinsic_factor)
    recommended = assessment.recommended_supplement
    accepts = profile.accept_supplement
    if own is not None and (
        assessment.own_supplement_adequate
        or ((recommended is None or not accepts) and _days_covered(food, own, target) == days)
    ):
        return own, []  # the assessment says it is enough, or nothing asks for more
    if by_food == days and (recommended is None or not accepts):
        return own, []
    if not accepts:
        reason = _shortfall_reason(profile, assessment, food, by_food, food_has_b12)
        raise InfeasiblePlan(
            f"{reason} The profile does not accept a supplement, so no plan can "
            f"cover the target. {_refusal_advice(assessment)}",
            "accept_supplement",
            assessment,
        )
    if by_food < days and (chased or not food_can_cover(assessment) or not food_has_b12):
        reason = _shortfall_reason(profile, assessment, food, by_food, food_has_b12)
        reason += (" A supplement covers the rest." if by_food
                   else " A supplement covers the target.")
        if recommended is not None and recommended.reason:
            reason += f" Also: {recommended.reason.rstrip('.')}."
    else:
        reason = recommended.reason if recommended is not None else ""
    options = [
        _plan_supplement(dose, frequency, reason, source, "recommended", reference,
                         assessment.intrinsic_factor, label)
        for dose, frequency, source, label in _supplement_options(
            profile, assessment, reference, reason)
    ]
    return _pick_supplement(options, own, food, target,
                            _own_shortfall(profile, assessment, reference))


def _own_shortfall(profile: Profile, assessment: Assessment, reference: Reference) -> str:
    """Why the supplement the person takes is not enough, in the assessment's terms."""
    own = profile.supplement
    adequacy = reference.supplement_adequacy
    if own is None:
        return ""
    facts = profile_facts(profile, adequacy)
    if (own.frequency != "daily" and adequacy is not None and adequacy.daily_only_when
            and holds(adequacy.daily_only_when, facts)):
        return ("which is not daily; in pregnancy and while breastfeeding a daily dose "
                "is preferred")
    if adequacy is not None and not adequacy.is_met_by(own.dose_ug, own.frequency):
        return (f"which is below {adequacy.daily_min_ug:g} µg a day or "
                f"{adequacy.weekly_min_ug:g} µg a week")
    return "which does not reach your absorbed target on its own"


def treatment_first_note(treatment: str, reference: Reference) -> str:
    """What the plan does while a doctor's treatment comes first (``texts.toml``)."""
    note: str = (reference.texts or {}).get("treatment_first_note", "{treatment}")
    return note.format(treatment=treatment)


def injection_note(profile: Profile, reference: Reference) -> str:
    """The injection schedule in words, for a person on B12 injections (issue 14)."""
    shot = profile.supplement
    if shot is None or not shot.is_injection:
        raise ValueError("injection_note: the profile's supplement is not injections")
    dose = f"{shot.dose_ug:g} µg " if shot.dose_ug is not None else ""
    note: str = (reference.texts or {}).get("injection_note", "{dose}every {every_weeks} weeks")
    return note.format(dose=dose, every_weeks=shot.every_weeks)


def _pick_supplement(options: list[PlanSupplement], own: PlanSupplement | None,
                     food: list[_FoodDay], target: float, own_shortfall: str = ""
                     ) -> tuple[PlanSupplement, list[str]]:
    """The first option that covers every day; else whatever covers most (the
    supplement already taken included), with a note."""
    def reach(s: PlanSupplement) -> tuple[int, float]:
        return _days_covered(food, s, target), _share_ug(s)

    notes = []
    chosen = next((o for o in options if reach(o)[0] == len(food)), None)
    if chosen is None:
        chosen = max(options, key=reach)
        if own is not None and reach(own) >= reach(chosen):
            chosen = own
        notes.append(
            "None of the supplement doses in the reference data covers the target on "
            "every day with this food plan; ask a doctor or dietitian about the dose."
        )
    elif chosen is not options[0]:
        notes.append(
            f"The first dose option ({options[0].dose_ug:g} µg {options[0].frequency}) "
            "would not reach the absorbed target with this food plan, so the plan uses "
            f"{chosen.dose_ug:g} µg {chosen.frequency}."
        )
    if own is not None and chosen is not own:
        chosen = replace(
            chosen,
            reason=chosen.reason + f" It replaces the {own.dose_ug:g} µg "
            f"{own.frequency} supplement you take now, "
            f"{own_shortfall or 'which does not cover the target here'}.",
        )
    return chosen, notes


def _shopping_list(days: Sequence[PlanDay], foods: dict[str, Food],
                   aisles: dict[str, str] | None = None) -> tuple[ShoppingItem, ...]:
    """Every ingredient of every meal, summed over the plan, grouped by aisle (in
    the order of the groups table), then by name. ``grams`` is the exact sum."""
    aisles = aisles or {}
    totals: dict[str, list[float]] = {}
    for day in days:
        for meal in day.meals:
            for item in meal.items:
                t = totals.setdefault(item.food_id, [0.0, 0.0, 0])
                t[0] += item.servings
                t[1] += item.grams
                t[2] += 1
    order = {a: i for i, a in enumerate(dict.fromkeys(aisles.values()))}
    items = [
        ShoppingItem(
            food_id=fid,
            name=foods[fid].name,
            servings=servings,
            grams=grams,
            meals=int(meals),
            serving_label=foods[fid].serving_label,
            group=foods[fid].group,
            household=shopping_text(foods[fid].group, grams, foods[fid].serving_g,
                                    foods[fid].dry_factor, foods[fid].dry_name),
            aisle=aisles.get(foods[fid].group, "other"),
            dry_grams=grams * foods[fid].dry_factor if foods[fid].dry_factor else None,
        )
        for fid, (servings, grams, meals) in totals.items()
    ]
    items.sort(key=lambda i: (order.get(i.aisle, len(order)), i.name.casefold()))
    return tuple(items)


def make_plan(
    profile: Profile, foods: Sequence[Food], *, week: str, reference: Reference,
    dishes: Sequence[Dish] | None = None,
) -> Plan:
    """A plan of B12 sources for ``profile.days`` days from the Monday of ``week``.

    Parameters
    ----------
    profile : a validated :class:`~planner.domain.model.Profile`.
    foods : the food table (all rows; the plan picks the allowed sources).
    week : ISO week ``"YYYY-Www"``; day 1 is its Monday.
    reference : the reference data (``planner.data.loader.load_reference()``).
    dishes : the dish library; default ``reference.dishes``.

    Raises
    ------
    InvalidWeek, UnknownFoods, UnknownDishes, InfeasiblePlan (all :class:`PlanError`).
    """
    start = week_start(week)
    foods = tuple(foods)
    check_food_ids(profile, foods)
    check_dish_ids(profile, reference.dishes if dishes is None else dishes)
    assessment = assess(profile, reference, foods)
    milk_only = no_food_plan(profile, reference.food_safety)
    if milk_only is not None:
        return _plan_without_food(profile, assessment, reference, week, start, milk_only)
    problem = build_dish_problem(profile, foods, week=week, reference=reference,
                                 assessment=assessment, dishes=dishes)
    solution = dish_plan.solve(problem)
    mode = assessment.intrinsic_factor
    target = assessment.target.absorbed_ug
    food = _food_days(problem, solution, mode, food_can_cover(assessment), profile, reference)
    # whether any dish this person may eat gives B12 that counts (not only the chosen
    # ones: meals chosen without chasing B12 say nothing about what food could do)
    food_has_b12 = any(c.absorbed_ug > 0 for cands in problem.candidates for c in cands)
    supplement, notes = _choose_supplement(
        profile, assessment, reference, food, food_has_b12, problem.chase
    )
    share = _share_ug(supplement)
    days = []
    for i, fd in enumerate(food):
        taken = 0.0
        if supplement is not None and (supplement.frequency == "daily" or i % 7 == 0):
            taken = supplement.dose_ug
        counted = fd.counted_ug + share
        days.append(
            PlanDay(
                day=i + 1,
                date=start + timedelta(days=i),
                meals=fd.meals,
                supplement_ug=taken,
                supplement_absorbed_ug=absorbed_ug(taken, reference.absorption, mode),
                food_b12_ug=fd.b12_ug,
                food_absorbed_ug=fd.absorbed_ug,
                counted_absorbed_ug=counted,
                covered=counted >= target - _EPS_UG,
            )
        )
    used_foods = {i.food_id: f for cands in problem.candidates for c in cands
                  for f, _ in c.ingredients for i in (f,)}
    n = len(days)
    covered = sum(d.covered for d in days)
    repeats = _breaks_repeat_rules(problem, solution)
    summary = PlanSummary(
        avg_intake_ug=sum(d.b12_ug for d in days) / n,
        avg_absorbed_ug=sum(d.absorbed_ug for d in days) / n,
        covered=covered == n,
        days_covered=covered,
        days=n,
        days_covered_by_food=sum(fd.counted_ug >= target - _EPS_UG for fd in food),
        avg_food_intake_ug=sum(d.food_b12_ug for d in days) / n,
        avg_food_absorbed_ug=sum(d.food_absorbed_ug for d in days) / n,
    )
    return Plan(
        profile=profile,
        assessment=assessment,
        week=week,
        target_intake_ug=assessment.target.intake_ug,
        target_absorbed_ug=target,
        days=tuple(days),
        supplement=supplement,
        summary=summary,
        shopping_list=_shopping_list(days, used_foods, dict(reference.aisles)),
        notes=tuple(_notes(assessment, supplement, problem, profile, repeats)
                    + _variety_notes(problem, solution, repeats)
                    + _absorption_notes(profile, foods, reference, days, assessment) + notes
                    + _safety_notes(profile, foods, reference, days)
                    + _preparation_notes(profile, days, used_foods, reference)
                    + _other_market_notes(profile, foods)),
        disclaimer=assessment.disclaimer,
        score=dish_plan.score(problem, solution),
        label_checks=label_checks(profile, supplement, days, used_foods),
        chases_b12=problem.chase,
    )


def _dish_keys(problem: dish_plan.DishProblem, solution: dish_plan.Solution
               ) -> list[list[int]]:
    return [[problem.candidates[m][c].key for m, c in enumerate(day)] for day in solution]


def _breaks_repeat_rules(problem: dish_plan.DishProblem, solution: dish_plan.Solution) -> bool:
    """Whether some dish comes more often than the rule allows or at the same meal
    on two days running (only when the profile allows too few dishes)."""
    keys = _dish_keys(problem, solution)
    uses: dict[int, int] = {}
    for day in keys:
        for k in day:
            uses[k] = uses.get(k, 0) + 1
    return max(uses.values(), default=0) > problem.max_uses or any(
        a == b for before, after in zip(keys, keys[1:], strict=False)
        for a, b in zip(before, after, strict=True))


def _variety_notes(problem: dish_plan.DishProblem, solution: dish_plan.Solution,
                   repeats: bool) -> list[str]:
    """Say so when the dishes this profile allows are too few for the variety rules
    (``repeats``: :func:`_breaks_repeat_rules`)."""
    keys = _dish_keys(problem, solution)
    notes = []
    if repeats:
        notes.append("Few dishes fit this profile's diet, allergies and exclusions, so some "
                     "dishes come more than twice a week or on two days running.")
    weeks = [keys[i:i + 7] for i in range(0, len(keys), 7)]
    if any(len({k for day in week for k in day}) < dish_plan.MIN_DISTINCT_SHARE
           * sum(len(day) for day in week) for week in weeks):
        notes.append(f"Fewer than {dish_plan.MIN_DISTINCT_SHARE:.0%} of this week's meals are "
                     "different dishes: the planner did not find a more varied week that "
                     "keeps the other rules.")
    return notes


def _other_market_notes(profile: Profile, foods: Sequence[Food]) -> list[str]:
    """A note naming foods of the person's own list whose row holds for another market."""
    own = frozenset(profile.include_foods)
    other = [f for f in foods if f.food_id in own and not f.sold_in(profile.market)]
    if not other:
        return []
    names = "; ".join(f"{f.name} ({', '.join(m.upper() for m in sorted(f.markets))})"
                      for f in other)
    return [
        f"Not counted, because the food table's figure holds for another market: {names}. "
        "Fortification differs between countries; if you buy such a product where you "
        "live, add it from its label as your own food."
    ]


def _at_least(value: float) -> float:
    """``value`` rounded up to 0.01 µg, so "at least" never asks for less."""
    return math.ceil(round(value * 100, 6)) / 100


def label_checks(profile: Profile, supplement: PlanSupplement | None,
                 days: Sequence[PlanDay], foods: dict[str, Food]) -> tuple[LabelCheck, ...]:
    """"Check the label" lines for the fortified foods the plan counts (see step 6)."""
    leans = profile.diet in LEANS_ON_FORTIFIED and supplement is None
    used = dict.fromkeys(i.food_id for d in days for m in d.meals for i in m.items
                         if i.b12_ug > 0)
    checks = []
    for fid in used:
        food = foods[fid]
        typical = food.evidence == "estimated"
        if not food.fortified or not (leans or typical):
            continue
        per_serving = _at_least(food.b12_ug_per_serving)
        per_100g = _at_least(food.b12_ug_per_100g)
        text = (f"{food.name}: check the label: at least {per_serving:g} µg of B12 per "
                f"serving of {food.serving_label} ({per_100g:g} µg per 100 g or ml); "
                "the plan counts that much.")
        if typical:
            text += " This row is a typical level for your market, not a particular product."
        checks.append(LabelCheck(
            food_id=fid, name=food.name, serving_label=food.serving_label,
            min_ug_per_serving=per_serving, min_ug_per_100g=per_100g,
            typical=typical, text=text))
    return tuple(checks)


def _absorption_notes(profile: Profile, foods: Sequence[Food], reference: Reference,
                      days: Sequence[PlanDay], assessment: Assessment) -> list[str]:
    """How food-bound B12 was counted, when the plan has any (``absorption.toml``).
    Without intrinsic factor the no-IF note says it all."""
    table = reference.bioavailability
    if table is None or not food_can_cover(assessment):
        return []
    bound = {
        item.group for day in days for meal in day.meals for item in meal.items
        if item.b12_ug > 0 and not item.fortified
        and item.group in table.by_group and table.by_group[item.group].form == "food_bound"
    }
    if not bound:
        return []
    shares = ", ".join(
        f"{g.replace('_', ' ')} {table.by_group[g].fraction * 100:g} %" for g in sorted(bound)
    )
    notes = [
        "B12 that is naturally in food counts at its food group's measured share, never "
        "more than B12 added to fortified foods gives at the same dose (in this plan: "
        f"{shares})."
    ]
    facts = profile_facts(profile, reference.supplement_adequacy, fortified_ids(foods))
    cases = table.reductions(facts)
    if cases:
        why = "; ".join(c.reason for c in cases)
        notes.append(
            f"Here that food B12 counts at {table.reduction_factor * 100:g} % of its share, "
            f"because {why}. The factor is a cautious default that no study has measured. "
            "B12 added to fortified foods and supplements is still absorbed and counts in full."
        )
    return notes


def _notes(assessment: Assessment, supplement: PlanSupplement | None,
           problem: dish_plan.DishProblem, profile: Profile, repeats: bool) -> list[str]:
    """The plan's standing notes; ``repeats``: some dish breaks the repeat rules
    (:func:`_variety_notes` says so, and this does not claim the opposite)."""
    t = assessment.target
    notes = [
        f"A day is covered when its absorbed B12 reaches {t.absorbed_ug:.2f} µg: what "
        f"{t.intake_ug:g} µg a day gives when eaten in equal meals. Each meal is one "
        "dose; absorption saturates per meal.",
    ]
    if not repeats:
        notes.append("Every meal is a dish; no dish appears more than twice a week or at "
                     "the same meal on two days running.")
    if not problem.chase and supplement is not None:
        notes.append(
            "The supplement covers your absorbed target on its own, so the meals are "
            "chosen for variety, your likes and food safety, not for their B12."
        )
    elif not problem.chase:  # food cannot count, and no supplement by mouth is counted
        notes.append(
            "Your B12 has to come from the treatment your doctor arranges, so the meals "
            "are chosen for variety, your likes and food safety, not for their B12."
        )
    elif problem.spread:
        notes.append(
            "On most days B12 comes from two or more meals, because absorption "
            "saturates within a meal (fortified foods two or three times a day)."
        )
    if not food_can_cover(assessment):
        notes.append(
            "Absorbed amounts use the model without intrinsic factor (about 1.2 % of "
            "each dose), and food never counts towards covering a day."
        )
    if supplement is not None:
        notes.append(
            "The plan counts the supplement as a dose of its own, apart from the meals' "
            "B12: the gut takes up a second dose about as well as the first once 4 to 6 "
            "hours have passed (IOM 1998, b12-reference.md §2). This is how the figures are "
            "added up, not advice on when to take it."
        )
        if supplement.frequency == "weekly":
            notes.append(
                "A weekly supplement is taken on day 1 of each week and counts through "
                "its 7-day average, because the body stores B12."
            )
    return notes


def _safety_notes(profile: Profile, foods: Sequence[Food], reference: Reference,
                  days: Sequence[PlanDay]) -> list[str]:
    """What the food-safety rules changed for this profile, each with its source:
    foods left out (only rules that took out a food the diet allows), weekly caps
    (and, plainly, a cap the plan could not keep) and child portions."""
    safe = safe_sources(profile, allowed_sources(profile, foods), reference)
    notes = []
    for rule, left_out in safe.excluded:
        names = ", ".join(f.name for f in left_out[:3])
        more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
        notes.append(f"Left out for safety: {names}{more}. {rule.reason} "
                     f"(Source: {rule.source}.)")
    for rule, ids in safe.caps:
        if not ids:
            continue
        meals = sum(1 for d in days for m in d.meals if any(i.food_id in ids for i in m.items))
        if meals <= (rule.max_per_week or 0):
            notes.append(f"{rule.reason} The plan keeps to this over all its days. "
                         f"(Source: {rule.source}.)")
        else:
            notes.append(f"{rule.reason} This plan could not keep to it: {meals} of its meals "
                         "hold one of these foods, because the foods and dishes this profile "
                         "allows leave some meals no other choice. Add foods to your list or "
                         f"exclude fewer dishes. (Source: {rule.source}.)")
    if safe.portion is not None:
        p = safe.portion
        notes.append(f"Portions are a {p.label}: about {p.factor:.0%} of an adult serving, "
                     f"and no item above {p.max_item_g:.0f} g. (Source: {p.source}.)")
    return notes


def _preparation_notes(profile: Profile, days: Sequence[PlanDay], foods: dict[str, Food],
                       reference: Reference) -> list[str]:
    """How to serve foods of this plan that a ``prepare`` rule of the person's life
    stage names (grapes cut lengthways for small children), each with its source."""
    eaten = [foods[i.food_id] for d in days for m in d.meals for i in m.items
             if i.food_id in foods]
    rules = reference.food_safety.rules_for(profile) if reference.food_safety else ()
    notes = []
    for rule in (r for r in rules if r.kind == "prepare"):
        names = sorted({f.name for f in eaten if rule.matches(f)})
        if names:
            notes.append(f"To serve safely: {'; '.join(names)}. {rule.reason} "
                         f"(Source: {rule.source}.)")
    return notes


def _plan_without_food(profile: Profile, assessment: Assessment, reference: Reference,
                       week: str, start: date, stage: LifeStage) -> Plan:
    """A plan with no meals, for a life stage that eats no food yet (babies under
    about 6 months). The assessment and its flags are kept; a supplement the
    profile already takes is counted; none is added (that is the doctor's call,
    and the flags say so)."""
    mode = assessment.intrinsic_factor
    target = assessment.target.absorbed_ug
    own = _own_supplement(profile, reference, mode)
    share = _share_ug(own)
    days = []
    for i in range(profile.days):
        taken = own.dose_ug if own is not None and (
            own.frequency == "daily" or i % 7 == 0) else 0.0
        days.append(PlanDay(
            day=i + 1, date=start + timedelta(days=i), meals=(),
            supplement_ug=taken,
            supplement_absorbed_ug=absorbed_ug(taken, reference.absorption, mode),
            food_b12_ug=0.0, food_absorbed_ug=0.0, counted_absorbed_ug=share,
            covered=share >= target - _EPS_UG,
        ))
    n = len(days)
    covered = sum(d.covered for d in days)
    summary = PlanSummary(
        avg_intake_ug=sum(d.b12_ug for d in days) / n,
        avg_absorbed_ug=sum(d.absorbed_ug for d in days) / n,
        covered=covered == n, days_covered=covered, days=n, days_covered_by_food=0,
        avg_food_intake_ug=0.0, avg_food_absorbed_ug=0.0,
    )
    return Plan(
        profile=profile, assessment=assessment, week=week,
        target_intake_ug=assessment.target.intake_ug, target_absorbed_ug=target,
        days=tuple(days), supplement=own, summary=summary, shopping_list=(),
        notes=(stage.message, f"Source: {stage.source}."),
        disclaimer=assessment.disclaimer,
        no_food_plan=stage.message,
    )
