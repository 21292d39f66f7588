"""Choose a dish for every meal of a plan: the objective and its solver.

This is the optimiser :func:`planner.domain.planning.make_plan` uses; the MILP
reference ``benchmarks/milp_reference.py`` models this module's objective.

The problem
-----------
A plan has ``days`` × ``meals`` slots; each slot gets exactly one dish from the
candidates of its meal (:class:`Candidate`): a dish of the library that suits
the meal and whose every ingredient passed the profile's filters, with its
grams already scaled to the person (meal share, child portion) and its absorbed
B12 already computed: a meal is one dose, and
:func:`planner.domain.absorption.meal_absorbed_ug` with per-ingredient factors
(food group, food-bound reduction) is the one definition of what it gives.

The objective (minimised)
-------------------------
:func:`evaluate` is the one definition; the solver only ever compares its value::

    J =  1000 × uncovered days                     ┐ only while the food plan
       +   10 × Σ_days shortfall / target_absorbed │ chases B12 (``chase``)
       +    4 × days with fewer than 2 B12 meals   │ (``spread``: food-only
       +            (a B12 meal absorbs ≥ ¼ target)│  vegans and vegetarians)
       + 0.25 × Σ_days intake / intake_target      ┘
       +        Σ_meals cost of the dish           (tier, liked, own B12 foods, week's taste)
       +  0.8 × Σ_dishes (uses − 1)⁺               (variety: distinct dishes)
       + 5000 × Σ_dishes (uses − max_uses)⁺       (no dish more than twice a week)
       + 5000 × same dish at the same meal on consecutive days
       + 5000 × Σ_weeks (repeats − allowed)⁺       (≥ 60 % distinct dishes a week)
       +  10⁶ × Σ_foods (uses − food-safety limit)⁺ (weekly caps: liver, oily fish)
       + 0.02 × distinct ingredients               (fewer things to buy)

A dish's own cost: 0.6 for an ``occasional`` or ``specialty`` ingredient (the
tier of its least everyday ingredient; specialty ones only reach the
candidates when the person names the food), −0.5 for a dish the person likes
(``include_dishes``), −0.3 when its B12 comes from a food the person named in
``include_foods``, and the week's taste: a number in [0, 0.3) per dish from a
BLAKE2b hash of the profile and the ISO week (no clock, no global random state).

Why these weights:

* **1000 per uncovered day** puts coverage first: more than anything else a day
  can cost, so a day is left uncovered only when no allowed dishes reach the
  target (the plan then needs a supplement).
* **10 per target of shortfall**: on such a day, get as close as possible; it
  also gives the local search a slope towards coverage.
* **4 per day with fewer than two B12 meals** (vegans and vegetarians eating
  food only): absorption saturates within a meal, and the Vegan Society's
  option 1 is fortified foods two or three times a day (b12-reference.md §5).
  It is larger than the taste, tier and variety terms, so it wins whenever two
  B12 meals are possible, and smaller than a day's coverage.
* **0.25 per intake target eaten**, linear in µg: keeps very large doses (liver,
  clams) out when smaller ones cover the day, as the item optimiser did.
* **0.6 per occasional dish, −0.5 per liked dish**: everyday dishes first and
  the person's own liked ones; both stay below a B12 meal's worth (4) and
  below coverage, so preference never costs the target.
* **0.8 per repeat**: every repeat must buy something (a covered day, two B12
  meals), so plans are usually far more varied than the rules ask.
* **5000** makes the rules hard: at most twice a week (pro rata over longer
  plans), never the same dish at the same meal on consecutive days, at least
  60 % distinct dishes across each week's meals (days 1–7, 8–14, …: a
  week's ``repeats`` = Σ (uses in the week − 1)⁺ may not pass 40 % of its
  meals). **10⁶** puts the food-safety caps (liver for babies, oily fish in
  pregnancy) above everything. 5000 is above the cost of
  an uncovered day on purpose: eating kippers every morning is not a plan a
  dietitian would give; a day the varied dishes cannot cover is covered by the
  supplement instead (or, when it is refused, the plan says food cannot cover).
  The rules give way only when the profile allows too few dishes, and the plan
  then says so.
* **0.02 per distinct ingredient**: a tie-breaker between near-equal weeks.
* **When a supplement covers the target on its own** (``chase`` false) the B12
  terms are dropped: the meals are chosen for variety, preference and safety
  only, and the plan says so.

The solver
----------
1. **Greedy.** Slots are filled day by day, meal by meal, each with the
   candidate of least added J given the slots already filled (an empty slot
   of the day counts as its meal's best B12, so the first meal does not try to
   cover the day alone).
2. **Local improvement**, in rounds until one changes nothing (at most
   :data:`MAX_PASSES`): each slot re-chosen as the candidate that lowers J most
   with every other slot fixed; pair moves for slots that break a hard rule;
   **ejection chains** (a slot whose dish is repeated, or dearer than an unused
   dish of some meal, takes the dish of a slot of another meal it suits, that
   slot one from a third meal, …, and the last slot is re-chosen: how a dish
   that suits only breakfast replaces a dearer lunch); and, while the plan
   chases B12, **pair moves within a day** (two meals re-chosen together, found
   from suffix minima over candidates sorted by absorbed B12, so a lighter and
   a heavier meal can cover the day with less intake). Every move is scored by
   the exact change of J (:meth:`_State.marginal` summed over its puts).
3. While the plan chases B12 **two more starts** fill each day's meals in
   reverse order and from the second meal on (lunch, dinner, …, breakfast)
   and are improved the same way; the best plan is kept. (Against the MILP,
   one start left chase plans up to 4 % above the optimum on the benchmark
   profiles, three under 2 %.)
4. Otherwise, on the best plan, **shared-ingredient pairs**: two slots both
   take cheaper unused dishes that share an ingredient neither could pay for
   alone (two noodle dishes instead of a curry and a trout), then step 2 again.

Speed without changing a plan: every search that only needs a better value
than one it already has is bounded by it (a slot's re-choice by the slot's own
cost, the last slot of an ejection chain by the change the chain must beat, a
pair move's first meal by the cheapest second meal), restores swap dishes back
without scoring, and what does not change during a solve (candidates by their
bound, each meal's own costs and intake, the dishes with an ingredient) is
computed once. The same candidate wins every comparison it won before, so the
plans are those of the unbounded search (``benchmarks/plan_bench.py`` times
it).

``benchmarks/milp_reference.py`` solves the same problem exactly (HiGHS) for
the benchmark profiles; ``make bench`` reports the gap (README, Benchmark).

Deterministic: candidates are visited in a fixed order, ties (within 1e-9)
keep the one earlier in the library, and the only randomness is the
hash-based taste.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from planner.domain.model import Dish
from planner.domain.model import Food

MAX_PASSES = 6
MAX_USES_PER_WEEK = 2  # no dish more than twice a week (pro rata: 4 in a 14-day plan)
MIN_DISTINCT_SHARE = 0.6  # at least 60 % distinct dishes over each week's meals
SPREAD_SHARE = 0.25  # a meal counts as a B12 meal when it absorbs this share of the target
EPS = 1e-9
SCREEN_MARGIN = 0.01  # an ejection chain is tried when an unused dish is this much cheaper


@dataclass(frozen=True)
class Weights:
    """Weights of the objective; see the module docstring for the reasons."""

    uncovered_day: float = 1000.0
    shortfall_per_target: float = 10.0
    single_b12_meal_day: float = 4.0
    intake_per_target: float = 0.25
    occasional: float = 0.6
    liked: float = -0.5
    own_b12_food: float = -0.3
    taste: float = 0.3
    repeat: float = 0.8
    hard: float = 5000.0
    safety: float = 1_000_000.0
    ingredient: float = 0.02


@dataclass(frozen=True)
class Candidate:
    """One dish as it would be served at one meal, for this person.

    ``ingredients`` are ``(food, grams)`` pairs, grams scaled to the person;
    ``b12_ug`` [µg] their sum; ``absorbed_ug`` [µg] what the meal gives in the
    planning mode (normal absorption); ``cost`` the dish's own cost (tier,
    liked, own B12 foods, taste).
    """

    dish: Dish
    ingredients: tuple[tuple[Food, float], ...]
    b12_ug: float
    absorbed_ug: float
    cost: float
    key: int  # the dish's index in the library: uses are counted per dish
    food_keys: tuple[int, ...]  # distinct ingredient indices (shopping list)
    capped: tuple[int, ...] = ()  # indices into DishProblem.food_limits
    name: str = ""  # the dish's name as served (dish_names.served_name); "" = dish.name


@dataclass(frozen=True)
class DishProblem:
    """Everything the solver and the objective need, as plain values."""

    days: int
    meals: tuple[str, ...]
    candidates: tuple[tuple[Candidate, ...], ...]  # per meal, in library order
    target_absorbed_ug: float
    intake_target_ug: float
    chase: bool  # False: a supplement covers the target on its own
    spread: bool  # True: food-only vegans and vegetarians, two B12 meals a day
    food_limits: tuple[int, ...] = ()  # meal limits of capped foods (food safety)
    weights: Weights = field(default_factory=Weights)
    max_uses: int = MAX_USES_PER_WEEK  # meals one dish may fill over the plan



Solution = tuple[tuple[int, ...], ...]
"""Per day, per meal: the index of the chosen candidate in ``candidates[meal]``."""


def max_uses(days: int) -> int:
    """Meals one dish may fill over ``days`` days: twice per started week."""
    return MAX_USES_PER_WEEK * max(1, math.ceil(days / 7))


WEEK_DAYS = 7  # the 60 % rule holds for each week of the plan (days 1-7, 8-14, ...)


def weeks(p: DishProblem) -> int:
    """The number of (started) weeks in the plan."""
    return max(1, math.ceil(p.days / WEEK_DAYS))


def allowed_repeats(p: DishProblem, week: int = 0) -> int:
    """Repeats (meals beyond a dish's first) week ``week`` of the plan may hold and
    still have at least :data:`MIN_DISTINCT_SHARE` distinct dishes."""
    days = min(WEEK_DAYS, p.days - WEEK_DAYS * week)
    meals = days * len(p.meals)
    return meals - math.ceil(MIN_DISTINCT_SHARE * meals - 1e-9)


def taste(dish_id: str, seed: bytes, scale: float) -> float:
    """A stable pseudo-random cost in [0, scale) per dish from ``seed`` (profile and week)."""
    digest = hashlib.blake2b(seed + b"\x02" + dish_id.encode(), digest_size=8).digest()
    return scale * int.from_bytes(digest, "big") / 2.0**64


def _day_cost(p: DishProblem, absorbed: Sequence[float], intake: float) -> float:
    if not p.chase:
        return 0.0
    w = p.weights
    target = max(p.target_absorbed_ug, EPS)
    total = sum(absorbed)
    cost = w.intake_per_target * intake / max(p.intake_target_ug, EPS)
    if total < p.target_absorbed_ug - EPS:
        cost += w.uncovered_day + w.shortfall_per_target * (target - total) / target
    if p.spread:
        b12_meals = sum(1 for a in absorbed if a >= SPREAD_SHARE * target - EPS)
        if b12_meals < 2:
            cost += w.single_b12_meal_day
    return cost


def evaluate(p: DishProblem, solution: Solution) -> float:
    """The objective J of a plan (module docstring)."""
    w = p.weights
    total = 0.0
    uses: dict[int, int] = {}
    week_uses: list[dict[int, int]] = [{} for _ in range(weeks(p))]
    food_uses = [0] * len(p.food_limits)
    ingredients: set[int] = set()
    for d, day in enumerate(solution):
        chosen = [p.candidates[m][c] for m, c in enumerate(day)]
        total += _day_cost(p, [c.absorbed_ug for c in chosen], sum(c.b12_ug for c in chosen))
        for m, c in enumerate(chosen):
            total += c.cost
            uses[c.key] = uses.get(c.key, 0) + 1
            wu = week_uses[d // WEEK_DAYS]
            wu[c.key] = wu.get(c.key, 0) + 1
            for i in c.capped:
                food_uses[i] += 1
            ingredients.update(c.food_keys)
            if d > 0 and p.candidates[m][solution[d - 1][m]].key == c.key:
                total += w.hard
    for n in uses.values():
        total += w.repeat * max(0, n - 1) + w.hard * max(0, n - p.max_uses)
    for k, wu in enumerate(week_uses):
        repeats = sum(max(0, n - 1) for n in wu.values())
        total += w.hard * max(0, repeats - allowed_repeats(p, k))
    for n, limit in zip(food_uses, p.food_limits, strict=True):
        total += w.safety * max(0, n - limit)
    return total + w.ingredient * len(ingredients)


@dataclass(frozen=True)
class Score:
    """The objective ``total`` and the figures behind it, for reports and tests:
    days food leaves short of the target (planning mode), B12 eaten and absorbed
    over the plan [µg], and the number of distinct dishes."""

    total: float
    uncovered_days: int
    intake_ug: float
    absorbed_ug: float
    distinct_dishes: int


def score(p: DishProblem, solution: Solution) -> Score:
    """:func:`evaluate` with its parts."""
    chosen = [[p.candidates[m][c] for m, c in enumerate(day)] for day in solution]
    absorbed = [sum(c.absorbed_ug for c in day) for day in chosen]
    return Score(
        total=evaluate(p, solution),
        uncovered_days=sum(a < p.target_absorbed_ug - EPS for a in absorbed),
        intake_ug=sum(c.b12_ug for day in chosen for c in day),
        absorbed_ug=sum(absorbed),
        distinct_dishes=len({c.key for day in chosen for c in day}),
    )


class _State:
    """The counts a move needs, kept up to date as slots change."""

    def __init__(self, p: DishProblem) -> None:
        self.p = p
        self.slots: list[list[int | None]] = [[None] * len(p.meals) for _ in range(p.days)]
        self.uses: dict[int, int] = {}
        self.food_uses = [0] * len(p.food_limits)
        self.ingredient_uses: dict[int, int] = {}
        self.week_uses: list[dict[int, int]] = [{} for _ in range(weeks(p))]
        self.repeats = [0] * weeks(p)  # per week
        self.allowed_repeats = [allowed_repeats(p, k) for k in range(weeks(p))]
        # While filling greedily, an empty slot counts as its meal's best B12, so
        # the first meal of a day does not try to cover the day alone.
        self.optimistic = False
        self.best_absorbed = [max(c.absorbed_ug for c in cands) for cands in p.candidates]
        # candidates by a lower bound of their local cost (own cost and intake):
        # best() stops once the bound passes the best cost found
        per_ug = p.weights.intake_per_target / max(p.intake_target_ug, EPS) if p.chase else 0.0
        # (with the fields best() reads, unpacked once)
        self.by_bound = [sorted((c.cost + per_ug * c.b12_ug, i, c.cost, c.b12_ug, c.absorbed_ug,
                                 c.key, c.capped, c.food_keys) for i, c in enumerate(cands))
                         for cands in p.candidates]
        self.per_ug = per_ug
        self.day_version = [0] * p.days  # bumped whenever a slot of the day changes
        # the candidate at each slot (None: empty), kept beside ``slots``
        self.chosen: list[list[Candidate | None]] = [[None] * len(p.meals)
                                                     for _ in range(p.days)]
        self.target = max(p.target_absorbed_ug, EPS)
        self.bar = SPREAD_SHARE * self.target - EPS
        self.short_of = p.target_absorbed_ug - EPS
        self.intake_den = max(p.intake_target_ug, EPS)
        self.key_index = [{c.key: i for i, c in enumerate(cands)} for cands in p.candidates]
        self._screen_base: list[list[float] | None] = [None] * len(p.meals)

    def screen_base(self, m: int) -> list[float]:
        """Per candidate of meal ``m``: its own cost and intake (see :func:`_screen`)."""
        base = self._screen_base[m]
        if base is None:
            p = self.p
            k = p.weights.intake_per_target / max(p.intake_target_ug, EPS)
            base = self._screen_base[m] = [c.cost + k * c.b12_ug for c in p.candidates[m]]
        return base

    def cand(self, d: int, m: int) -> Candidate | None:
        return self.chosen[d][m]

    def day_cost(self, d: int, m: int, c: Candidate | None) -> float:
        if not self.p.chase:
            return 0.0  # _day_cost's value without B12 terms
        p = self.p
        w = p.weights
        target, bar = self.target, self.bar
        # _day_cost inlined: the same sums in the same order, so the same figures
        total, intake, b12_meals = 0.0, 0.0, 0
        row = self.chosen[d]
        for k in range(len(row)):
            x = c if k == m else row[k]
            if x is not None:
                a = x.absorbed_ug
                intake += x.b12_ug
            elif self.optimistic:
                a = self.best_absorbed[k]
            else:
                continue
            total += a
            if a >= bar:
                b12_meals += 1
        cost = w.intake_per_target * intake / self.intake_den
        if total < self.short_of:
            cost += w.uncovered_day + w.shortfall_per_target * (target - total) / target
        if p.spread and b12_meals < 2:
            cost += w.single_b12_meal_day
        return cost

    def local_cost(self, d: int, m: int, c: Candidate, day: float | None = None) -> float:
        """The part of J that depends on slot (d, m) holding ``c``, given the counts
        of every other slot (the counts must not include the slot itself).
        ``day``: the day's cost with ``c`` there, when the caller has it."""
        p, w = self.p, self.p.weights
        cost = c.cost + (self.day_cost(d, m, c) if day is None else day)
        n = self.uses.get(c.key, 0)  # other slots already using this dish
        cost += w.repeat * (1 if n >= 1 else 0) + w.hard * (1 if n >= p.max_uses else 0)
        wk = d // WEEK_DAYS
        if self.week_uses[wk].get(c.key, 0) >= 1 and self.repeats[wk] >= self.allowed_repeats[wk]:
            cost += w.hard
        key = c.key
        if d > 0:
            other = self.chosen[d - 1][m]
            if other is not None and other.key == key:
                cost += w.hard
        if d + 1 < p.days:
            other = self.chosen[d + 1][m]
            if other is not None and other.key == key:
                cost += w.hard
        for i in c.capped:
            if self.food_uses[i] >= p.food_limits[i]:
                cost += w.safety
        ingredient_uses = self.ingredient_uses
        for f in c.food_keys:
            if not ingredient_uses.get(f):
                cost += w.ingredient
        return cost

    def filled(self, d: int, m: int) -> int:
        """The candidate index at slot (d, m), which the greedy pass has filled."""
        idx = self.slots[d][m]
        if idx is None:
            raise ValueError(f"dish plan: slot ({d}, {m}) is empty")
        return idx

    def marginal(self, d: int, m: int, c: Candidate) -> float:
        """The exact change of J from putting ``c`` into the empty slot (d, m)
        (the day's cost counts as its change): summed over a sequence of puts
        and removals, it is the change of J."""
        return self.local_cost(d, m, c) - self.day_cost(d, m, None)

    def remove(self, slots: Sequence[tuple[int, int]]) -> float:
        """Empty ``slots``; returns the change of J."""
        delta = 0.0
        for d, m in slots:
            old = self.cand(d, m)
            if old is not None:
                self.put(d, m, None)
                delta -= self.marginal(d, m, old)
        return delta

    def place(self, d: int, m: int, idx: int) -> float:
        """Fill the empty slot (d, m) with candidate ``idx``; returns the change of J."""
        delta = self.marginal(d, m, self.p.candidates[m][idx])
        self.put(d, m, idx)
        return delta

    def put(self, d: int, m: int, idx: int | None) -> None:
        row = self.chosen[d]
        old = row[m]
        self.day_version[d] += 1
        wk = d // WEEK_DAYS
        wu = self.week_uses[wk]
        ingredient_uses = self.ingredient_uses
        if old is not None:
            key = old.key
            if wu[key] >= 2:
                self.repeats[wk] -= 1
            wu[key] -= 1
            self.uses[key] -= 1
            for i in old.capped:
                self.food_uses[i] -= 1
            for f in old.food_keys:
                ingredient_uses[f] -= 1
        self.slots[d][m] = idx
        new = None if idx is None else self.p.candidates[m][idx]
        row[m] = new
        if new is not None:
            key = new.key
            n = wu.get(key, 0)
            if n >= 1:
                self.repeats[wk] += 1
            wu[key] = n + 1
            uses = self.uses
            uses[key] = uses.get(key, 0) + 1
            for i in new.capped:
                self.food_uses[i] += 1
            for f in new.food_keys:
                ingredient_uses[f] = ingredient_uses.get(f, 0) + 1

    def _neighbours(self, d: int, m: int) -> dict[int, int]:
        """Dish keys at meal ``m`` on the days before and after ``d``, counted."""
        out: dict[int, int] = {}
        for k in (d - 1, d + 1):
            other = self.cand(k, m) if 0 <= k < self.p.days else None
            if other is not None:
                out[other.key] = out.get(other.key, 0) + 1
        return out

    def _others(self, d: int, m: int) -> tuple[list[float], float]:
        """Absorbed B12 of the day's other meals (an empty one counting as its
        meal's best while filling greedily) and their intake."""
        absorbed, intake = [], 0.0
        row = self.chosen[d]
        for k in range(len(row)):
            x = None if k == m else row[k]
            if x is not None:
                absorbed.append(x.absorbed_ug)
                intake += x.b12_ug
            elif k != m and self.optimistic:
                absorbed.append(self.best_absorbed[k])
        return absorbed, intake

    def best(self, d: int, m: int,  # noqa: C901 (hot loop, kept inline)
             below: float = math.inf) -> int:
        """The candidate of least local cost at (d, m); the slot must be empty.
        Candidates are visited by a lower bound of their cost (their own cost and
        intake) until it passes the best found; of costs within 1e-9 the one
        earlier in the library is kept. With ``below`` only candidates costing
        less than about ``below`` are looked for (the search stops sooner): -1
        when there is none."""
        p = self.p
        absorbed, intake = self._others(d, m)
        best_i, best_cost = 0, below
        if below < math.inf:
            best_i = len(p.candidates[m])  # none found yet
        # _day_cost inlined (the same expressions, so the same figures)
        w = p.weights
        chase, spread = p.chase, p.spread
        target = max(p.target_absorbed_ug, EPS)
        short_of = p.target_absorbed_ug - EPS
        intake_target = max(p.intake_target_ug, EPS)
        bar = SPREAD_SHARE * target - EPS
        base = sum(absorbed)
        flags = sum(1 for a in absorbed if a >= bar)
        uses, max_uses = self.uses, p.max_uses
        wk = d // WEEK_DAYS
        week_uses = self.week_uses[wk]
        week_full = self.repeats[wk] >= self.allowed_repeats[wk]
        neighbours = self._neighbours(d, m)
        food_uses, limits = self.food_uses, p.food_limits
        ingredient_uses = self.ingredient_uses
        cands = p.candidates[m]
        shift = self.per_ug * intake - EPS
        w_intake, w_uncovered, w_shortfall = (w.intake_per_target, w.uncovered_day,
                                              w.shortfall_per_target)
        w_single, w_repeat, w_hard = w.single_b12_meal_day, w.repeat, w.hard
        w_ingredient = w.ingredient
        for bound, i, own, b12, absorbed_c, key, capped, food_keys in self.by_bound[m]:
            if bound + shift >= best_cost + EPS:
                break  # every later candidate costs at least its bound
            day = 0.0
            if chase:
                day = w_intake * (intake + b12) / intake_target
                total = base + absorbed_c
                if total < short_of:
                    day += w_uncovered + w_shortfall * (target - total) / target
                if spread and flags + (absorbed_c >= bar) < 2:
                    day += w_single
            cost = own + day
            if cost >= best_cost + EPS:
                continue  # the rest of the local cost is never negative
            # local_cost inlined (the same terms in the same order)
            n = uses.get(key, 0)
            cost += w_repeat * (n >= 1) + w_hard * (n >= max_uses)
            if week_full and week_uses.get(key, 0) >= 1:
                cost += w_hard
            cost += w_hard * neighbours.get(key, 0)
            for f in capped:
                if food_uses[f] >= limits[f]:
                    cost += w.safety
            for f in food_keys:
                if not ingredient_uses.get(f):
                    cost += w_ingredient
            if cost < best_cost - EPS or (cost < best_cost + EPS and i < best_i):
                best_i, best_cost = i, cost
        return -1 if best_i == len(cands) else best_i


def _repair(s: _State) -> bool:
    """Pair moves for slots that break a hard rule (a third use, the same dish on
    consecutive days, a safety cap): re-choose the slot among candidates without
    a hard cost, together with the best change of one other meal of that day.
    True if any move lowered J."""
    p, hard = s.p, s.p.weights.hard
    improved = False
    for d in range(p.days):
        for m in range(len(p.meals)):
            current = s.filled(d, m)
            s.put(d, m, None)
            c0 = p.candidates[m][current]
            old = s.local_cost(d, m, c0) - s.day_cost(d, m, c0)
            s.put(d, m, current)
            if old < hard:
                continue
            before = sum(_slot_cost(s, d, k) for k in range(len(p.meals)))
            best = None
            for i, c in enumerate(p.candidates[m]):
                s.put(d, m, None)
                if s.local_cost(d, m, c) - s.day_cost(d, m, c) >= hard:
                    s.put(d, m, current)
                    continue
                s.put(d, m, i)
                for k in range(len(p.meals)):
                    if k == m:
                        continue
                    keep = s.slots[d][k]
                    s.put(d, k, None)
                    j = s.best(d, k)
                    s.put(d, k, j)
                    after = sum(_slot_cost(s, d, q) for q in range(len(p.meals)))
                    if after < before - 1e-7 and (best is None or after < best[0] - 1e-7):
                        best = (after, i, k, j)
                    s.put(d, k, keep)
                s.put(d, m, current)
            if best is not None:
                _, i, k, j = best
                s.put(d, m, i)
                s.put(d, k, j)
                improved = True
    return improved


def _slot_cost(s: _State, d: int, m: int) -> float:
    """The local cost of slot (d, m) as it stands (for comparing pair moves; the
    day's shared cost is counted once per slot, the same on both sides)."""
    current = s.filled(d, m)
    s.put(d, m, None)
    cost = s.local_cost(d, m, s.p.candidates[m][current])
    s.put(d, m, current)
    return cost


def _current(s: _State) -> Solution:
    n_meals = len(s.p.meals)
    return tuple(tuple(s.filled(d, m) for m in range(n_meals)) for d in range(s.p.days))


def _eject(s: _State, index: list[dict[int, int]]) -> bool:
    """Ejection chains: a slot takes the dish of a slot of another meal that
    suits it, that slot takes one from a third meal, and so on (a breadth-first
    search over the meals), and the last slot of the chain is re-chosen. Tried
    from slots whose dish is repeated, and from slots where an unused dish at
    the chain's end costs less than the slot's dish (a dish that suits only
    breakfast can replace a dearer lunch this way). Each chain is scored by the
    exact J and the best improving one per slot is kept."""
    p = s.p
    n_meals = len(p.meals)
    improved = False
    cheap = _cheapest_unused(s)
    for d in range(p.days):
        for m in range(n_meals):
            x = s.cand(d, m)
            if x is None:
                continue
            repeated = s.uses.get(x.key, 0) >= 2
            if not repeated and not any(cheap[k] < x.cost - SCREEN_MARGIN
                                        for k in range(n_meals) if k != m):
                continue  # no chain could pass the screen below
            chains = [c for c in _chains(s, index, d, m, x.key)
                      if repeated or cheap[c[-1][1]] < x.cost - SCREEN_MARGIN]
            if not chains:
                continue
            best: tuple[float, list[tuple[int, int, int]]] | None = None
            for chain in chains:
                limit = -1e-7 if best is None else min(-1e-7, best[0] - 1e-9)
                value, moves = _try_chain(s, chain, limit)
                if value < limit:
                    best = (value, moves)
            if best is not None:
                s.remove([(d1, m1) for d1, m1, _ in best[1]])
                for d1, m1, i in best[1]:
                    s.put(d1, m1, i)
                improved = True
                cheap = _cheapest_unused(s)
    return improved


def _try_chain(s: _State, chain: list[tuple[int, int, int]], limit: float = math.inf
               ) -> tuple[float, list[tuple[int, int, int]]]:
    """The change of J by the chain (its last slot re-chosen) and the chain's
    moves; the state is left as it was. Only a change below ``limit`` is looked
    for: when the last slot has no candidate that could reach it, ``(inf, [])``."""
    saved = [(d1, m1, s.filled(d1, m1)) for d1, m1, _ in chain]
    delta = s.remove([(d1, m1) for d1, m1, _ in chain])
    for d1, m1, i in chain[:-1]:
        delta += s.place(d1, m1, i)
    d_end, m_end, _ = chain[-1]
    # the last slot's marginal is its local cost less the day's cost without it;
    # the search stops at the local cost that would reach ``limit`` (with slack
    # for rounding: the exact change is summed below)
    below = limit - delta + s.day_cost(d_end, m_end, None) + 1e-6
    end = s.best(d_end, m_end, below)
    moves: list[tuple[int, int, int]] = []
    if end < 0:
        delta = math.inf
    else:
        delta += s.place(d_end, m_end, end)
        moves = [(d1, m1, s.filled(d1, m1)) for d1, m1, _ in chain]
    for d1, m1, i in saved:  # put() swaps a slot's dish: the counts end as they were
        s.put(d1, m1, i)
    return delta, moves


def _cheapest_unused(s: _State) -> list[float]:
    """Per meal, the least own cost of a candidate whose dish the plan does not use."""
    uses = s.uses
    return [min((c.cost for c in cands if not uses.get(c.key)), default=math.inf)
            for cands in s.p.candidates]


def _chains(s: _State, index: list[dict[int, int]], d: int, m: int, key: int
            ) -> list[list[tuple[int, int, int]]]:
    """Chains from slot (d, m): ``[(day, meal, new candidate), ...]``; each slot
    takes the dish of the next one (which must suit its meal), and the last
    slot's entry is a placeholder (it is re-chosen)."""
    p = s.p
    holes, parent = _chain_tree(s, index, d, m, key)
    chains = []
    for end in holes:
        if end == m:
            continue
        path = [end]
        while path[-1] != m:
            path.append(parent[path[-1]])
        path.reverse()  # m, ..., end
        chain = []
        for ma, mb in zip(path, path[1:], strict=False):
            da, _ = holes[ma]
            db, _ = holes[mb]
            chain.append((da, ma, index[ma][p.candidates[mb][s.filled(db, mb)].key]))
        db, _ = holes[end]
        chain.append((db, end, -1))
        chains.append(chain)
    return chains


def _chain_tree(s: _State, index: list[dict[int, int]], d: int, m: int, key: int
                ) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    """The breadth-first search of :func:`_chains` over the meals: per meal
    reached, the slot of the chain there (``holes``) and the meal before it
    (``parent``)."""
    p = s.p
    holes = {m: (d, m)}
    parent: dict[int, int] = {}
    frontier = [m]
    while frontier:
        nxt = []
        for ma in frontier:
            da, _ = holes[ma]
            for mb in range(len(p.meals)):
                if mb in holes:
                    continue
                d2 = _chain_link(s, index[ma], da, ma, mb, key)
                if d2 is not None:
                    holes[mb] = (d2, mb)
                    parent[mb] = ma
                    nxt.append(mb)
        frontier = nxt
    return holes, parent


def _chain_link(s: _State, index_a: dict[int, int], da: int, ma: int, mb: int, key: int
                ) -> int | None:
    """The first day whose meal ``mb`` holds a dish (not ``key``) that suits meal
    ``ma`` and is not at meal ``ma`` the day before or after ``da``; None if none."""
    p = s.p
    for d2 in range(p.days):
        y = s.cand(d2, mb)
        if y is None or y.key == key or y.key not in index_a:
            continue
        if any(0 <= k < p.days and k != d2 and (o := s.cand(k, ma)) is not None
               and o.key == y.key for k in (da - 1, da + 1)):
            continue
        return d2
    return None


def _screen(s: _State, d: int, m: int) -> list[float]:
    """A fast estimate of each candidate's cost at (d, m) apart from the day's
    coverage: its own cost, its intake, repeats and the hard rules (the slot must
    be empty). Used to shortlist pair moves, which are then scored exactly."""
    p, w = s.p, s.p.weights
    wk = d // WEEK_DAYS
    week_uses = s.week_uses[wk]
    full = s.repeats[wk] >= s.allowed_repeats[wk]
    neighbours = {o.key for o in (s.cand(d - 1, m) if d > 0 else None,
                                  s.cand(d + 1, m) if d + 1 < p.days else None)
                  if o is not None}
    # every candidate's own cost and intake, then the terms of the dishes in use
    # (the same additions in the same order as candidate by candidate)
    out = list(s.screen_base(m))
    index = s.key_index[m]
    for key, n in s.uses.items():
        i = index.get(key)
        if not n or i is None:
            continue
        out[i] += w.repeat + (w.hard if n >= p.max_uses else 0.0)
        if full and week_uses.get(key):
            out[i] += w.hard
    for key in neighbours:
        i = index.get(key)
        if i is not None:
            out[i] += w.hard
    return out


def _pair_moves(s: _State, order: list[list[int]], seen: dict[int, int]) -> bool:
    """Within one day, re-choose two meals together (a lighter B12 meal and a
    heavier one can cover the day more cheaply than either change alone). For
    each candidate of the first meal the cheapest candidate of the second that
    still covers the day (and keeps two B12 meals when ``spread``) is found from
    suffix minima over the second meal's candidates sorted by absorbed B12; the
    best pair is applied if the exact J falls. A day unchanged since its last
    scan (``seen``: day → its version then) is not scanned again."""
    p = s.p
    target = max(p.target_absorbed_ug, EPS)
    bar = SPREAD_SHARE * target - EPS
    n_meals = len(p.meals)
    improved = False
    absorbed_sorted = [[cands[i].absorbed_ug for i in srt]
                       for cands, srt in zip(p.candidates, order, strict=True)]
    for d in range(p.days):
        if seen.get(d) == s.day_version[d]:
            continue
        e = []
        for m in range(n_meals):
            cur = s.slots[d][m]
            s.put(d, m, None)
            e.append(_screen(s, d, m))
            s.put(d, m, cur)
        suffixes: list[list[tuple[float, int]] | None] = [None] * n_meals
        for m1 in range(n_meals):
            for m2 in range(m1 + 1, n_meals):
                cur1, cur2 = s.filled(d, m1), s.filled(d, m2)
                rest = [p.candidates[k][s.filled(d, k)] for k in range(n_meals)
                        if k not in (m1, m2)]
                rest_abs = sum(c.absorbed_ug for c in rest)
                rest_flags = sum(c.absorbed_ug >= bar for c in rest)
                e1, e2 = e[m1], e[m2]
                suffix = suffixes[m2]
                if suffix is None:
                    suffix = suffixes[m2] = _suffix_minima(e2, order[m2])
                best = _best_pair(s, m1, e1, (e1[cur1] + e2[cur2] - 1e-7, cur1, cur2),
                                  rest_abs, rest_flags, absorbed_sorted[m2], suffix)
                if (best[1], best[2]) == (cur1, cur2):
                    continue
                delta = s.remove([(d, m1), (d, m2)])
                delta += s.place(d, m1, best[1]) + s.place(d, m2, best[2])
                if delta < -1e-7:
                    improved = True
                    for m in (m1, m2):  # the day's other estimates are stale now
                        cur = s.slots[d][m]
                        s.put(d, m, None)
                        e[m] = _screen(s, d, m)
                        suffixes[m] = None
                        s.put(d, m, cur)
                else:
                    s.put(d, m1, None)
                    s.put(d, m2, None)
                    s.put(d, m1, cur1)
                    s.put(d, m2, cur2)
        seen[d] = s.day_version[d]
    return improved


def _suffix_minima(e2: list[float], srt: list[int]) -> list[tuple[float, int]]:
    """``suffix[r]``: the least ``(estimate, index)`` over ``srt[r:]`` (candidates
    by absorbed B12, ascending); ``(inf, -1)`` past the end."""
    suffix: list[tuple[float, int]] = [(math.inf, -1)] * (len(srt) + 1)
    least, at = math.inf, -1
    for r in range(len(srt) - 1, -1, -1):
        i = srt[r]
        v = e2[i]
        if v < least or (v == least and i < at):  # min() of the (value, index) pairs
            least, at = v, i
            suffix[r] = (v, i)
        else:
            suffix[r] = suffix[r + 1]
    return suffix


def _best_pair(s: _State, m1: int, e1: list[float], best: tuple[float, int, int],
               rest_abs: float, rest_flags: int, absorbed2: list[float],
               suffix: list[tuple[float, int]]) -> tuple[float, int, int]:
    """The pair of least estimated cost: each candidate of the first meal with
    the cheapest second-meal candidate that covers the day (and keeps two B12
    meals when the plan spreads B12; or pays for not doing so)."""
    p = s.p
    bar = SPREAD_SHARE * max(p.target_absorbed_ug, EPS) - EPS
    least = suffix[0][0]  # no second meal costs less (and ``extra`` is never negative)
    for i1, c1 in enumerate(p.candidates[m1]):
        if e1[i1] >= best[0] or e1[i1] + least >= best[0]:
            continue
        need = p.target_absorbed_ug - EPS - rest_abs - c1.absorbed_ug
        flags = rest_flags + (c1.absorbed_ug >= bar)
        options = [(need, 0.0)]
        if p.spread and flags == 1:
            options = [(max(need, bar), 0.0), (need, p.weights.single_b12_meal_day)]
        elif p.spread and flags == 0:
            options = [(need, p.weights.single_b12_meal_day)]
        for threshold, extra in options:
            value, i2 = suffix[bisect.bisect_left(absorbed2, threshold)]
            value += e1[i1] + extra
            if i2 >= 0 and value < best[0]:
                best = (value, i1, i2)
    return best


def _shared_pairs(s: _State) -> bool:
    """Two meals changed together for shared ingredients: a slot takes an
    unused dish that costs less than its own but was held back by the new
    ingredients it needs, and another slot takes an unused dish, also cheaper
    than its own, with one of those ingredients (two noodle dishes instead of a
    curry and a trout). The best improving pair per slot, by the exact change
    of J."""
    p = s.p
    improved = False
    with_food: list[dict[int, list[int]]] = []
    for cands in p.candidates:
        index: dict[int, list[int]] = {}
        for i, c in enumerate(cands):
            for f in c.food_keys:
                index.setdefault(f, []).append(i)
        with_food.append(index)
    for d in range(p.days):
        for m in range(len(p.meals)):
            best = _shared_pair_at(s, d, m, with_food)
            if best is not None:
                _, i, d2, m2, j = best
                s.remove([(d, m), (d2, m2)])
                s.put(d, m, i)
                s.put(d2, m2, j)
                improved = True
    return improved


def _shared_pair_at(s: _State, d: int, m: int, with_food: list[dict[int, list[int]]]
                    ) -> tuple[float, int, int, int, int] | None:
    p = s.p
    cur = s.filled(d, m)
    x = p.candidates[m][cur]
    best: tuple[float, int, int, int, int] | None = None
    for i, c in enumerate(p.candidates[m]):
        if c.cost >= x.cost - EPS or s.uses.get(c.key):
            continue
        new = [f for f in c.food_keys if not s.ingredient_uses.get(f)]
        if not new:
            continue
        delta = s.remove([(d, m)]) + s.place(d, m, i)
        # per meal, the unused dishes with one of the new ingredients (the state
        # is the same for every slot below: each try is undone)
        unused = [sorted({j for f in new for j in with_food[m2].get(f, ())
                          if not s.uses.get(p.candidates[m2][j].key)})
                  for m2 in range(len(p.meals))]
        for d2 in range(p.days):
            for m2 in range(len(p.meals)):
                if (d2, m2) == (d, m):
                    continue
                old = s.filled(d2, m2)
                y = p.candidates[m2][old]
                cands2 = p.candidates[m2]
                for j in [j for j in unused[m2] if cands2[j].cost < y.cost - EPS]:
                    step = s.remove([(d2, m2)]) + s.place(d2, m2, j)
                    if delta + step < -1e-7 and (best is None or delta + step < best[0] - 1e-9):
                        best = (delta + step, i, d2, m2, j)
                    s.put(d2, m2, old)
        s.put(d, m, cur)
    return best


def _one_opt(s: _State) -> bool:
    """Each slot in turn re-chosen as the candidate of least local cost."""
    p = s.p
    changed = False
    for d in range(p.days):
        for m in range(len(p.meals)):
            current = s.filled(d, m)
            old = p.candidates[m][current]
            s.put(d, m, None)
            old_cost = s.local_cost(d, m, old)
            idx = s.best(d, m, old_cost - 1e-7)
            if (idx >= 0 and idx != current
                    and s.local_cost(d, m, p.candidates[m][idx]) < old_cost - 1e-7):
                s.put(d, m, idx)
                changed = True
            else:
                s.put(d, m, current)
    return changed


def _greedy(p: DishProblem, meal_order: Sequence[int]) -> _State:
    """Slots filled day by day, the meals of a day in ``meal_order``, each with
    the candidate of least added J (an empty slot counting as its meal's best B12)."""
    s = _State(p)
    s.optimistic = True
    for d in range(p.days):
        for m in meal_order:
            s.put(d, m, s.best(d, m))
    s.optimistic = False
    return s


def _improve(s: _State, index: list[dict[int, int]], order: list[list[int]]) -> None:
    """Rounds of slot-by-slot descent, repair, ejection chains and pair moves
    until a round changes nothing (at most :data:`MAX_PASSES` rounds)."""
    p = s.p
    seen: dict[int, int] = {}
    for _ in range(MAX_PASSES):
        for _ in range(MAX_PASSES):
            if not _one_opt(s):
                break
        if _repair(s):
            continue
        moved = _eject(s, index)
        if p.chase and len(p.meals) > 1:
            moved = _pair_moves(s, order, seen) or moved
        if not moved:
            break


def _by_absorbed(cands: Sequence[Candidate]) -> list[int]:
    """Candidate indices by absorbed B12, ascending (stable: library order on ties)."""
    absorbed = [c.absorbed_ug for c in cands]
    return sorted(range(len(cands)), key=absorbed.__getitem__)


def solve(p: DishProblem) -> Solution:
    """A plan of least J found by greedy filling and local improvement; while
    the plan chases B12 two more starts fill each day's meals in reverse order
    and from the second meal on, and the best plan is kept (the earliest on a
    tie)."""
    if any(not cands for cands in p.candidates):
        raise ValueError("a meal has no candidate dish")
    index = [{c.key: i for i, c in enumerate(cands)} for cands in p.candidates]
    order = [_by_absorbed(cands) for cands in p.candidates]
    starts = [list(range(len(p.meals)))]
    if p.chase and len(p.meals) > 1:
        starts += [starts[0][::-1], starts[0][1:] + starts[0][:1]]
    best: tuple[float, _State] | None = None
    for meal_order in starts:
        s = _greedy(p, meal_order)
        _improve(s, index, order)
        value = evaluate(p, _current(s))
        if best is None or value < best[0] - 1e-9:
            best = (value, s)
    assert best is not None
    s = best[1]
    for _ in range(0 if p.chase else 2):  # then shared ingredients, on the best plan
        if not _shared_pairs(s):
            break
        _improve(s, index, order)
    return _current(s)
