"""Choose the B12 portions of every meal in a plan: the objective and its solver.

The problem
-----------
A plan has ``days`` × ``meals``. Each meal gets up to ``max_items_per_meal`` B12
items (default 2). An item is one eligible food in one serving step: ½, 1, 1½ or
2 servings, or 1 or 2 for foods served whole (see :data:`WHOLE_UNIT`). A meal is
one dose (b12-reference.md §2.1, Heyssel 1966), so its absorbed B12 is
:meth:`Problem.meal_absorbed_ug`: Model S of the meal's total µg is the ceiling,
and each item gets at most its food group's share (eggs about 30 %, fish about
42 %, halved for food-bound B12 when the person frees it poorly; see
:func:`planner.domain.absorption.meal_absorbed_ug` and
:mod:`planner.domain.bioavailability`). A day's absorbed B12 is the sum over
its meals. A day is *covered* when that sum reaches ``target_absorbed_ug``.

Hard constraints. The food list the solver receives is already filtered by
:mod:`planner.domain.planning` (diet, allergies, exclusions, the person's own
list, real sources with B12 > 0). The solver keeps the rest: a food only at the
meals it suits (``food.meals`` contains ``meal_kind(meal)``), at most
``max_items_per_meal`` items and one serving size of a food per meal, and at most
``max_uses_per_food`` meals with the same food over the whole plan.

The objective (minimised)
-------------------------
Cost units: one B12 item costs 1. :func:`evaluate` is the one definition; the
solver below and the MILP reference in ``benchmarks/milp_reference.py`` both
minimise exactly this::

    J =  1000 × uncovered days
       +   10 × Σ_days shortfall_ug / target_absorbed_ug   (days food cannot cover)
       +  1.0 × number of items
       + 0.25 × Σ_days intake_ug / intake_target_ug
       +        Σ_foods rotation_f × uses_f                (0 ≤ rotation_f < 0.3)
       +  0.2 × Σ_foods uses_f × (uses_f − 1) / 2

Why these weights:

* **1000 per uncovered day** puts coverage first: it is larger than everything
  else a day can cost, so a day is left uncovered only when no allowed
  combination of foods reaches the target (the plan then needs a supplement).
* **10 per target of shortfall**: on such a day, get as close as the foods
  allow; an item (cost 1) is worth adding when it closes 10 % of the target.
* **1 per item** ("few items"): each item is something to buy, cook and eat.
* **0.25 per intake target eaten** ("intake not far above need"), linear in µg.
  Eating one extra day's target costs a quarter of an item, so one serving of
  nutritional yeast with 10 µg (1 + 0.25 × 4.2 ≈ 2.0 for a 2.4 µg target) beats
  three items of 0.8 µg (3.25), while 70 µg of beef liver (1 + 7.3) loses to two
  items of 1.5 µg (2.3). Because absorption saturates per meal, large portions
  mostly add unabsorbed B12; this term is what keeps them out.
* **0.2 × uses(uses − 1)/2 per food** ("variety"): the k-th meal with the same
  food costs 0.2 × (k − 1) more, so the plan spreads over several foods, yet a
  well-suited food may still appear a few times a week.
* **rotation_f**, a number in [0, 0.3) per food drawn from a hash of the profile
  and the ISO week (``make_problem(seed=...)``; no clock, no global random
  state): the week's "taste". It tips the balance between near-equivalent foods,
  so the same profile gets the same plan in the same week and a different plan
  the next week. It stays small next to an item (1) and so never decides
  between one and two items.

The solver
----------
The days are alike except through the per-food use counts, so the solver is a
coordinate descent over days around a fast day solver:

1. **Candidates per meal kind** (once per plan). Single items are sorted by
   dose and ranked by how many other foods give at least the same useful
   absorbed amount (absorbed, capped at the target, since more does not help)
   at no higher base cost. A day with ``u`` foods already used elsewhere only
   looks at items of rank below ``u + 2`` (:data:`KEEP_DEPTH`): any other item
   still has two unused, cheaper and at least as good foods.
2. **Day solver** (:meth:`_Solver.solve_day`), at the day's prices (rotation +
   0.2 × the food's uses on other days). Each meal's candidates are nothing, a
   single, or a pair of singles; a meal's Pareto frontier (useful absorbed ↑,
   cost ↑) is kept. Phases, each pruned by the best day so far and by the bound
   cost ≥ ρ × absorbed still missing (ρ = the lowest cost per µg absorbed):
   one item that covers the day; B12 at one or two meals, found by bisection
   on the other meal's frontier (both ways round, and with a frontier that
   leaves out the foods already used that day, so a repeat is only taken when
   it is cheaper); then for 3 or more meals a left-to-right merge of the
   frontiers; and, if nothing covers the day, the closest the foods get.
   On small one-day problems it matches exhaustive search
   (``tests/test_optimizer.py``).
3. **Week.** Days are solved greedily in order, each bounded by the day
   before; then each day is re-solved with the others fixed until no day
   improves (at most :data:`MAX_PASSES` passes).

``benchmarks/plan_bench.py`` measures speed and the gap to the MILP optimum.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from bisect import bisect_left
from bisect import bisect_right
from bisect import insort
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

from planner.domain.absorption import AbsorptionParams
from planner.domain.absorption import absorbed_ug
from planner.domain.absorption import meal_absorbed_ug
from planner.domain.model import Food
from planner.domain.model import meal_kind

HALF_STEPS = (0.5, 1.0, 1.5, 2.0)
WHOLE_STEPS = (1.0, 2.0)
# A serving label that names one countable piece is served whole: half an egg,
# half a slice or half a burger is not a sensible portion.
WHOLE_UNIT = re.compile(
    r"^1 (?:large |medium |small )?"
    r"(?:egg|slice|burger|patty|frankfurter|hot dog|link|liver|pot|container|"
    r"sheet|fillet|can|bar|muffin|bagel|sausage)\b",
    re.IGNORECASE,
)
KEEP_DEPTH = 2
MAX_PASSES = 4
EPS_UG = 1e-9

Item = tuple[int, float]
"""One B12 item: (index into ``Problem.foods``, servings)."""
Meal = tuple[Item, ...]
Day = tuple[Meal, ...]
Solution = tuple[Day, ...]


@dataclass(frozen=True)
class Weights:
    """Weights of the objective; see the module docstring for the reasons."""

    uncovered_day: float = 1000.0
    shortfall_per_target: float = 10.0
    item: float = 1.0
    intake_per_target: float = 0.25
    repeat: float = 0.2
    rotation: float = 0.3


def serving_steps(food: Food) -> tuple[float, ...]:
    """Allowed serving multiples of a food: whole pieces stay whole."""
    return WHOLE_STEPS if WHOLE_UNIT.match(food.serving_label.strip()) else HALF_STEPS


def uses_limit(max_uses_per_week: int, days: int) -> int:
    """Meals one food may appear in over ``days`` days, pro rata of a weekly limit."""
    return max(1, math.ceil(max_uses_per_week * days / 7 - 1e-9))


def rotation_costs(foods: Sequence[Food], seed: bytes, scale: float) -> tuple[float, ...]:
    """A stable pseudo-random cost in [0, scale) per food, from ``seed`` and the id.

    Uses BLAKE2b, not :func:`hash`, so the value is the same in every process.
    """
    out = []
    for f in foods:
        digest = hashlib.blake2b(seed + b"\x00" + f.food_id.encode(), digest_size=8)
        out.append(scale * int.from_bytes(digest.digest(), "big") / 2.0**64)
    return tuple(out)


@dataclass(frozen=True)
class Problem:
    """Everything the solver and the objective need, as plain values.

    ``foods`` are the eligible sources only; ``steps[i]`` are the serving
    multiples of ``foods[i]``; ``rotation[i]`` its cost per use this week.
    Targets are per day [µg]; ``intrinsic_factor`` selects the absorption mode
    the plan is optimised for. ``factors[i]`` is ``(fraction, scale)`` of
    ``foods[i]`` (:func:`planner.domain.bioavailability.item_factors`); empty
    means every food is crystalline (Model S as written).
    """

    foods: tuple[Food, ...]
    steps: tuple[tuple[float, ...], ...]
    meals: tuple[str, ...]
    days: int
    target_absorbed_ug: float
    intake_target_ug: float
    params: AbsorptionParams
    intrinsic_factor: bool
    max_uses_per_food: int
    max_items_per_meal: int
    rotation: tuple[float, ...]
    weights: Weights = field(default_factory=Weights)
    food_limits: tuple[int, ...] = ()  # per-food meal limits; empty: all max_uses_per_food
    factors: tuple[tuple[float, float], ...] = ()  # (fraction, scale) per food; empty: crystalline

    def limit_of(self, food: int) -> int:
        """Meals food ``food`` may appear in over the plan (food-safety caps are
        lower than the general limit)."""
        return self.food_limits[food] if self.food_limits else self.max_uses_per_food

    def dose_ug(self, item: Item) -> float:
        """B12 in one item [µg]."""
        food = self.foods[item[0]]
        return food.b12_ug_per_100g * food.serving_g * item[1] / 100.0

    def absorbed_ug(self, dose_ug: float) -> float:
        """Absorbed B12 [µg] from one dose [µg] of crystalline B12 in the planning mode."""
        return absorbed_ug(dose_ug, self.params, self.intrinsic_factor)

    def factor(self, food: int) -> tuple[float, float]:
        """``(fraction, scale)`` of food ``food``: (1, 1) is crystalline B12."""
        return self.factors[food] if self.factors else (1.0, 1.0)

    def meal_absorbed_ug(self, meal: Meal, intrinsic_factor: bool | None = None) -> float:
        """Absorbed B12 [µg] from one meal: the one definition the solver, the
        objective and the reported plan all use. ``intrinsic_factor`` defaults to
        the planning mode (the plan reports in the person's own mode)."""
        mode = self.intrinsic_factor if intrinsic_factor is None else intrinsic_factor
        return meal_absorbed_ug(
            ((self.dose_ug(it), *self.factor(it[0])) for it in meal), self.params, mode
        )

    @property
    def cost_per_intake_ug(self) -> float:
        """Objective cost of one µg eaten [1/µg]."""
        return self.weights.intake_per_target / max(self.intake_target_ug, 1e-6)


def make_problem(
    foods: Sequence[Food],
    meals: Sequence[str],
    days: int,
    target_absorbed_ug: float,
    intake_target_ug: float,
    params: AbsorptionParams,
    *,
    intrinsic_factor: bool = True,
    max_uses_per_week: int = 4,
    max_items_per_meal: int = 2,
    weights: Weights = Weights(),
    seed: bytes = b"",
    food_limits: Mapping[str, int] | None = None,
    max_item_g: float | None = None,
    factors: Sequence[tuple[float, float]] | None = None,
) -> Problem:
    """Build a :class:`Problem` from eligible source foods (B12 > 0, filtered).

    ``food_limits`` lowers the meal limit of single foods (by id) and
    ``max_item_g`` caps the grams of one item (children's portions); see
    :func:`allowed_portions`. ``factors`` gives ``(fraction, scale)`` per food of
    ``foods`` (same order); None treats every food as crystalline B12.
    """
    foods = tuple(foods)
    if factors is not None and len(factors) != len(foods):
        raise ValueError("factors must give one (fraction, scale) per food")
    factor_of = ({f.food_id: (float(fs[0]), float(fs[1]))
                  for f, fs in zip(foods, factors, strict=True)}
                 if factors is not None else {})
    foods, steps, limits = allowed_portions(
        foods, uses_limit(max_uses_per_week, days), food_limits or {}, max_item_g)
    kept_factors = tuple(factor_of[f.food_id] for f in foods) if factor_of else ()
    if all(fs == (1.0, 1.0) for fs in kept_factors):
        kept_factors = ()  # all crystalline: the plain Model S problem
    return Problem(
        foods=foods,
        steps=steps,
        meals=tuple(meals),
        days=days,
        target_absorbed_ug=target_absorbed_ug,
        intake_target_ug=intake_target_ug,
        params=params,
        intrinsic_factor=intrinsic_factor,
        max_uses_per_food=uses_limit(max_uses_per_week, days),
        max_items_per_meal=max_items_per_meal,
        rotation=rotation_costs(foods, seed, weights.rotation),
        weights=weights,
        food_limits=limits if food_limits else (),
        factors=kept_factors,
    )


def allowed_portions(foods: Sequence[Food], limit: int, food_limits: Mapping[str, int],
                     max_item_g: float | None
                     ) -> tuple[tuple[Food, ...], tuple[tuple[float, ...], ...], tuple[int, ...]]:
    """Which foods, serving steps and per-food meal limits the solver may use.

    Only sources (B12 > 0) with at least one serving step within ``max_item_g``
    and a meal limit above 0 are kept (food-safety caps come in through
    ``food_limits``, see :mod:`planner.domain.food_safety`).
    """
    kept, steps, limits = [], [], []
    for f in foods:
        if not (f.b12_ug_per_100g > 0 and f.serving_g > 0):
            continue
        ok = tuple(s for s in serving_steps(f)
                   if max_item_g is None or s * f.serving_g <= max_item_g + 1e-9)
        n = min(limit, food_limits.get(f.food_id, limit))
        if ok and n > 0:
            kept.append(f)
            steps.append(ok)
            limits.append(n)
    return tuple(kept), tuple(steps), tuple(limits)


# --------------------------------------------------------------------------
# The objective and the hard constraints


@dataclass(frozen=True)
class Score:
    """The objective of a solution, term by term (cost units, see module doc)."""

    uncovered_days: int
    items: int
    intake_ug: float
    item_cost: float
    intake_cost: float
    rotation_cost: float
    repeat_cost: float
    shortfall_cost: float
    uncovered_cost: float

    @property
    def cost(self) -> float:
        """Everything but the uncovered-day term: what is compared once coverage ties."""
        return (
            self.item_cost
            + self.intake_cost
            + self.rotation_cost
            + self.repeat_cost
            + self.shortfall_cost
        )

    @property
    def total(self) -> float:
        """The objective J."""
        return self.uncovered_cost + self.cost


def food_uses(solution: Solution) -> dict[int, int]:
    """Meals each food appears in, over the whole solution."""
    uses: dict[int, int] = {}
    for day in solution:
        for meal in day:
            for f, _ in meal:
                uses[f] = uses.get(f, 0) + 1
    return uses


def evaluate(problem: Problem, solution: Solution) -> Score:
    """The objective J of ``solution`` (see the module docstring)."""
    w = problem.weights
    target = problem.target_absorbed_ug
    items = 0
    intake = 0.0
    shortfall = 0.0
    uncovered = 0
    for day in solution:
        absorbed = 0.0
        for meal in day:
            dose = sum(problem.dose_ug(it) for it in meal)
            items += len(meal)
            intake += dose
            absorbed += problem.meal_absorbed_ug(meal)
        if absorbed < target - EPS_UG:
            uncovered += 1
            shortfall += (target - absorbed) / target
    uses = food_uses(solution)
    return Score(
        uncovered_days=uncovered,
        items=items,
        intake_ug=intake,
        item_cost=w.item * items,
        intake_cost=problem.cost_per_intake_ug * intake,
        rotation_cost=sum(problem.rotation[f] * n for f, n in uses.items()),
        repeat_cost=w.repeat * sum(n * (n - 1) / 2 for n in uses.values()),
        shortfall_cost=w.shortfall_per_target * shortfall,
        uncovered_cost=w.uncovered_day * uncovered,
    )


def violations(problem: Problem, solution: Solution) -> list[str]:
    """Hard constraints ``solution`` breaks, as sentences (empty when none)."""
    out = []
    if len(solution) != problem.days:
        out.append(f"{len(solution)} days instead of {problem.days}")
    for d, day in enumerate(solution, 1):
        if len(day) != len(problem.meals):
            out.append(f"day {d}: {len(day)} meals instead of {len(problem.meals)}")
        for meal_name, meal in zip(problem.meals, day, strict=False):
            out += _meal_violations(problem, f"day {d} {meal_name}", meal_name, meal)
    for f, n in food_uses(solution).items():
        if n > problem.limit_of(f):
            out.append(
                f"{problem.foods[f].food_id} in {n} meals "
                f"(limit {problem.limit_of(f)})"
            )
    return out


def _meal_violations(problem: Problem, where: str, meal_name: str, meal: Meal) -> list[str]:
    """Hard constraints one meal breaks (too many items, a food twice, a food that
    does not suit the meal, a serving step the food does not have)."""
    out = []
    if len(meal) > problem.max_items_per_meal:
        out.append(f"{where}: {len(meal)} items")
    ids = [f for f, _ in meal]
    if len(set(ids)) != len(ids):
        out.append(f"{where}: a food twice in one meal")
    for f, s in meal:
        food = problem.foods[f]
        if meal_kind(meal_name) not in food.meals:
            out.append(f"{where}: {food.food_id} does not suit it")
        if s not in problem.steps[f]:
            out.append(f"{where}: {s} servings of {food.food_id}")
    return out


# --------------------------------------------------------------------------
# The solver

_INF = float("inf")

Foods = tuple[int, ...]
"""The food indices a meal or a part of a day uses, one per item."""


class _Option:
    """One single item with its precomputed dose, useful absorbed and base cost."""

    __slots__ = ("index", "food", "item", "dose", "eff", "base")

    def __init__(self, index: int, food: int, item: Item, dose: float, eff: float,
                 base: float):
        self.index = index
        self.food = food
        self.item = item
        self.dose = dose
        self.eff = eff  # absorbed, capped at the target [µg]
        self.base = base  # item + intake + rotation cost


_Single = tuple[float, float, _Option]
"""One item at today's price: (useful absorbed [µg], cost, option)."""
_Cand = tuple[float, float, Meal, Foods]
"""One meal's candidate: (useful absorbed [µg], cost, items, foods)."""
_State = tuple[float, float, Day, Foods]
"""The first meals of a day: (useful absorbed [µg], cost, meals, foods)."""
_Row = TypeVar("_Row", _Cand, _State)


class _Solver:
    def __init__(self, problem: Problem):
        self.p = problem
        w = problem.weights
        self.target = problem.target_absorbed_ug
        self.k = k = problem.cost_per_intake_ug
        self.rep = w.repeat
        self.limits = [problem.limit_of(f) for f in range(len(problem.foods))]
        self.pairs_allowed = problem.max_items_per_meal >= 2
        self._eff_cache: dict[float, float] = {}
        self.factors = [problem.factor(f) for f in range(len(problem.foods))]
        self.mixed = bool(problem.factors)  # some food is not crystalline
        self.kinds = sorted({meal_kind(m) for m in problem.meals})
        options: list[_Option] = []
        by_kind: dict[str, list[_Option]] = {kind: [] for kind in self.kinds}
        for f, food in enumerate(problem.foods):
            per_serving = food.b12_ug_per_100g * food.serving_g / 100.0
            fixed = w.item + problem.rotation[f]
            kinds = [by_kind[kind] for kind in self.kinds if kind in food.meals]
            for s in problem.steps[f]:
                dose = per_serving * s
                o = _Option(len(options), f, (f, s), dose, self.single_eff(f, dose),
                            fixed + k * dose)
                options.append(o)
                for lst in kinds:
                    lst.append(o)
        self.options = options
        self.ranked = {kind: self._ranked(by_kind[kind]) for kind in self.kinds}
        # the lowest cost per µg of useful absorbed B12: cost ≥ rho × absorbed
        self.rho = min((o.base / o.eff for o in options if o.eff > 0), default=_INF)
        need = self.target - EPS_UG
        self.capped = {
            kind: sorted((o for _r, o in self.ranked[kind] if o.eff >= need),
                         key=lambda o: (o.base, o.index))
            for kind in self.kinds
        }
        self._by_depth: dict[tuple[str, int], list[_Option]] = {}
        self.pair_eff: dict[tuple[int, int], float] = {}

    def single_eff(self, food: int, dose: float) -> float:
        """Useful absorbed B12 [µg] of one item alone in a meal, capped at the target."""
        if not self.mixed:
            return self.eff(dose)
        return min(meal_absorbed_ug(((dose, *self.factors[food]),), self.p.params,
                                    self.p.intrinsic_factor), self.target)

    def pair_eff_of(self, a: _Option, b: _Option) -> float:
        """Useful absorbed B12 [µg] of a two-item meal, capped at the target."""
        if not self.mixed:
            return self.eff(a.dose + b.dose)
        return min(meal_absorbed_ug(((a.dose, *self.factors[a.food]),
                                     (b.dose, *self.factors[b.food])),
                                    self.p.params, self.p.intrinsic_factor), self.target)

    def eff(self, dose: float) -> float:
        """Useful absorbed B12 [µg] of a crystalline meal dose: absorbed, capped at the target."""
        got = self._eff_cache.get(dose)
        if got is None:
            got = min(self.p.absorbed_ug(dose), self.target)
            self._eff_cache[dose] = got
        return got

    def _ranked(self, options: list[_Option]) -> list[tuple[int, _Option]]:
        """Singles of a meal kind with their *rank*: how many other foods offer at
        least the same useful absorbed amount for no more at base prices (no
        repeats yet). Options a bigger serving of the same food beats are left out.
        """
        opts = [o for o in options if o.eff > 0]
        opts.sort(key=lambda o: (-o.eff, o.base, o.index))
        ranked = []
        best: dict[int, float] = {}  # cheapest base cost per food seen so far
        costs: list[float] = []  # the values of ``best``, sorted
        for o in opts:
            own = best.get(o.food, _INF)
            if own <= o.base:
                continue
            ranked.append((bisect_right(costs, o.base), o))
            if own < _INF:
                del costs[bisect_left(costs, own)]
            insort(costs, o.base)
            best[o.food] = o.base
        return ranked

    def _candidates(self, kind: str, used_foods: int) -> list[_Option]:
        """Singles worth pricing when ``used_foods`` foods carry repeat costs.

        An option of rank r has r cheaper, at-least-as-good foods at base price;
        if r ≥ used_foods + KEEP_DEPTH, at least KEEP_DEPTH of them are unused and
        still at base price, so the option cannot win today.
        """
        depth = used_foods + KEEP_DEPTH
        key = (kind, depth)
        got = self._by_depth.get(key)
        if got is None:
            got = self._by_depth[key] = [o for r, o in self.ranked[kind] if r < depth]
        return got

    # ---- day solver -----------------------------------------------------

    def _singles(self, kind: str, uses: list[int], used_foods: int,
                 ub: float) -> list[_Single]:
        """Singles of a meal kind at today's prices, cheaper than ``ub``, minus those
        dominated by a bigger serving of the same food or by two other foods."""
        rep, limits = self.rep, self.limits
        rho, target = self.rho, self.target
        out: list[_Single] = []
        c1 = c2 = _INF
        f1 = -1
        for o in self._candidates(kind, used_foods):
            u = uses[o.food]
            if u >= limits[o.food]:
                continue
            c = o.base + rep * u
            if c + rho * (target - o.eff) >= ub:
                continue
            f = o.food
            if c2 <= c or (f1 == f and c1 <= c):
                continue
            out.append((o.eff, c, o))
            if c < c1:
                if f1 != f:
                    c2 = c1
                c1, f1 = c, f
            elif f != f1 and c < c2:
                c2 = c
        return out

    def _meal_candidates(self, singles: list[_Single], ub: float,
                         pairs: bool) -> list[_Cand]:
        """Meal candidates (eff, cost, items, foods): nothing, the singles and,
        with ``pairs``, two-item meals (see :meth:`_pairs`)."""
        cands: list[_Cand] = [(0.0, 0.0, (), ())]
        cands.extend((e, c, (o.item,), (o.food,)) for e, c, o in singles)
        if pairs and self.pairs_allowed and len(singles) > 1:
            cands.extend(self._pairs(singles, ub))
        return cands

    def _pairs(self, singles: list[_Single], ub: float) -> list[_Cand]:
        """Two-item meals worth a look: not beaten by a single of the same meal
        that costs no more, and not so dear that cost plus ``rho`` × the absorbed
        still missing reaches ``ub``."""
        target, rho = self.target, self.rho
        by_cost = sorted(singles, key=lambda s: s[1])
        costs = [s[1] for s in by_cost]
        reach = list(itertools.accumulate((s[0] for s in by_cost), max))
        out: list[_Cand] = []
        for i, (ea, ca, oa) in enumerate(by_cost):
            if ca + ca >= ub:
                break
            if ea >= target:
                continue
            for eb, cb, ob in by_cost[i + 1:]:
                cp = ca + cb
                if cp >= ub:
                    break
                if ob.food == oa.food or eb >= target:
                    continue
                optimistic = min(ea + eb, target)  # g is subadditive
                if (cp + rho * (target - optimistic) >= ub
                        or reach[bisect_right(costs, cp) - 1] >= optimistic):
                    continue
                key = (oa.index, ob.index)
                e = self.pair_eff.get(key)
                if e is None:
                    e = self.pair_eff[key] = self.pair_eff_of(oa, ob)
                out.append((e, cp, (oa.item, ob.item), (oa.food, ob.food)))
        return out

    def solve_day(self, uses: list[int], incumbent: Day | None = None
                  ) -> tuple[Day | None, float]:
        """The best meals for one day given the other days' uses, and their cost.

        Phases, each bounded by the best day found so far (first ``incumbent``,
        when given and allowed): one item that covers the day; one or two meals
        of single items (bisection over the meals' frontiers); the same with
        two-item meals added; a merge over all meals (3 or more); and, when
        nothing covers the day, the closest the foods get. Returns (None, inf)
        only when there is nothing to choose from at all.
        """
        search = _DaySearch(self, uses)
        if incumbent is not None:
            cost = self.day_cost(incumbent, uses)
            if cost is not None:
                search.offer(cost, incumbent)
        search.one_item()
        used_foods = sum(1 for u in uses if u)
        singles = {k: self._singles(k, uses, used_foods, search.cost) for k in self.kinds}
        fronts = None
        for with_pairs in ((False, True) if self.pairs_allowed else (False,)):
            raw = {k: self._meal_candidates(ss, search.cost, with_pairs)
                   for k, ss in singles.items()}
            fronts = _DayFronts(self, [raw[meal_kind(m)] for m in self.p.meals], uses)
            search.one_or_two_meals(fronts)
        assert fronts is not None
        if len(self.p.meals) >= 3:
            search.all_meals(fronts)
        if search.best is None or search.cost >= self.p.weights.uncovered_day:
            search.closest(fronts)
        if search.best is None:
            return None, _INF
        return search.best, search.cost

    def _conflict(self, foods: Foods, new: Foods, uses: list[int]) -> float | None:
        """Extra repeat cost of adding ``new`` foods to a day already using ``foods``;
        None when a food would pass its limit."""
        extra = 0.0
        for f in new:
            n = foods.count(f)
            if n:
                if uses[f] + n + 1 > self.limits[f]:
                    return None
                extra += self.rep * n
        return extra

    def _merge(self, states: list[_State], front: list[_Cand], uses: list[int],
               ub: float, rho: float) -> list[_State]:
        """All (state, candidate) pairs whose cost plus ``rho`` × missing absorbed
        stays under ``ub``; ``rho`` is the lowest cost per µg of any candidate."""
        target = self.target
        rep, limits = self.rep, self.limits
        out: list[_State] = []
        for e, c, choice, foods in states:
            for e2, c2, items, foods2 in front:
                total = c + c2
                if total >= ub:
                    break
                if foods2 and foods:
                    for f in foods2:
                        n = foods.count(f)
                        if n:
                            if uses[f] + n + 1 > limits[f]:
                                total = _INF
                                break
                            total += rep * n
                s = e + e2
                if s > target:
                    s = target
                if total + rho * (target - s) >= ub:
                    continue
                out.append((s, total, choice + (items,), foods + foods2))
        return out

    # ---- week -----------------------------------------------------------

    def solve(self) -> Solution:
        p = self.p
        uses = [0] * len(p.foods)
        days: list[Day] = []
        for d in range(p.days):  # greedy, each day bounded by the day before
            day = self._solved_day(uses, days[d - 1] if d else None)
            days.append(day)
            _add(uses, day, +1)
        for _ in range(MAX_PASSES):  # re-solve each day with the others fixed
            improved = False
            for d in range(p.days):
                _add(uses, days[d], -1)
                day = self._solved_day(uses, days[d])
                if day != days[d]:
                    days[d] = day
                    improved = True
                _add(uses, days[d], +1)
            if not improved:
                break
        return tuple(days)

    def _solved_day(self, uses: list[int], incumbent: Day | None) -> Day:
        """:meth:`solve_day`'s day; ``solve`` has foods, so there is always one
        (at worst the closest the foods get, or a day without B12 items)."""
        day, _cost = self.solve_day(uses, incumbent)
        if day is None:
            raise ValueError("optimizer: no day to plan, though the problem has foods")
        return day

    def day_cost(self, day: Day, uses: list[int]) -> float | None:
        """Cost of one day given the other days' uses (the day's share of J), or
        None when the day would take a food past its limit."""
        p, w = self.p, self.p.weights
        cost = 0.0
        absorbed = 0.0
        seen: dict[int, int] = {}
        for meal in day:
            dose = 0.0
            for f, s in meal:
                dose += p.dose_ug((f, s))
                n = seen.get(f, 0)
                if uses[f] + n + 1 > self.limits[f]:
                    return None
                cost += w.item + p.rotation[f] + self.rep * (uses[f] + n)
                seen[f] = n + 1
            cost += self.k * dose
            absorbed += p.meal_absorbed_ug(meal) if self.mixed else p.absorbed_ug(dose)
        if absorbed < self.target - EPS_UG:
            short = (self.target - absorbed) / self.target
            cost += w.uncovered_day + w.shortfall_per_target * short
        return cost


class _DaySearch:
    """The best day found so far while one day is being solved."""

    def __init__(self, solver: _Solver, uses: list[int]):
        self.solver = solver
        self.uses = uses
        self.meals = solver.p.meals
        self.best: Day | None = None
        self.cost = _INF

    def offer(self, cost: float, day: Day) -> None:
        if cost < self.cost:
            self.cost, self.best = cost, day

    def day_of(self, picks: dict[int, Meal]) -> Day:
        return tuple(picks.get(i, ()) for i in range(len(self.meals)))

    def one_item(self) -> None:
        """One item that covers the day alone: a quick first bound."""
        s = self.solver
        for i, meal in enumerate(self.meals):
            if i > 0 and meal_kind(meal) == meal_kind(self.meals[i - 1]):
                continue
            for o in s.capped[meal_kind(meal)]:
                if o.base >= self.cost:
                    break
                u = self.uses[o.food]
                if u < s.limits[o.food]:
                    self.offer(o.base + s.rep * u, self.day_of({i: (o.item,)}))

    def one_or_two_meals(self, fronts: _DayFronts) -> None:
        """Days with B12 at one meal, or at two (both ways round, since a food can
        crowd out another food's option at the other meal)."""
        n = len(self.meals)
        kinds = [meal_kind(m) for m in self.meals]
        for i in range(n):
            if kinds[i] not in kinds[:i]:
                got = fronts.complete(i, 0.0, 0.0, (), self.cost)
                if got is not None:
                    self.offer(got[0], self.day_of({i: got[1]}))
        seen = set()
        for i, j in itertools.permutations(range(n), 2):
            if (kinds[i], kinds[j]) in seen:
                continue  # snack and snack_2 offer the same
            seen.add((kinds[i], kinds[j]))
            for e, c, items, foods in fronts.fronts[i]:
                if c >= self.cost:
                    break
                if items:
                    got = fronts.complete(j, e, c, foods, self.cost)
                    if got is not None:
                        self.offer(got[0], self.day_of({i: items, j: got[1]}))

    def all_meals(self, fronts: _DayFronts) -> None:
        """Merge the meals' frontiers left to right, then complete with the last."""
        s = self.solver
        states: list[_State] = [(0.0, 0.0, (), ())]
        for i in range(len(self.meals) - 1):
            states = _pareto_by_foods(
                s._merge(states, fronts.rich(i), self.uses, self.cost, s.rho))
        last = len(self.meals) - 1
        for e, c, choice, foods in states:
            if c < self.cost:
                got = fronts.complete(last, e, c, foods, self.cost)
                if got is not None:
                    self.offer(got[0], choice + (got[1],))

    def closest(self, fronts: _DayFronts) -> None:
        """Food cannot cover this day: get as close to the target as it allows."""
        s, w = self.solver, self.solver.p.weights
        states: list[_State] = [(0.0, 0.0, (), ())]
        for front in fronts.fronts:
            states = _pareto(s._merge(states, front, self.uses, self.cost, 0.0))
        for e, c, choice, _foods in states:
            short = max(0.0, s.target - e) / s.target
            self.offer(c + w.uncovered_day + w.shortfall_per_target * short, choice)


class _DayFronts:
    """The meals of one day: each meal's Pareto frontier, and frontiers without
    given foods, so a meal can be completed without repeating a food when that
    is cheaper than the repeat."""

    def __init__(self, solver: _Solver, raw: list[list[_Cand]], uses: list[int]):
        self.solver = solver
        self.uses = uses
        self.raw = raw
        self.need = solver.target - EPS_UG
        fronts: dict[int, list[_Cand]] = {}
        self.fronts: list[list[_Cand]] = []
        for cands in raw:  # meals of the same kind share one list
            key = id(cands)
            if key not in fronts:
                fronts[key] = _pareto(list(cands))
            self.fronts.append(fronts[key])
        self.effs = [[c[0] for c in f] for f in self.fronts]
        self._without: dict[tuple[int, frozenset[int] | None],
                            tuple[list[_Cand], list[float]]] = {}

    def rich(self, j: int) -> list[_Cand]:
        """Meal ``j``'s candidates pruned by :func:`_pareto_by_foods`, cost
        ascending: what a merge over meals needs to price repeats right."""
        key = (id(self.raw[j]), None)
        got = self._without.get(key)
        if got is None:
            front = _pareto_by_foods(list(self.raw[j]))
            front.sort(key=lambda c: c[1])
            got = self._without[key] = (front, [])
        return got[0]

    def without(self, j: int, foods: Foods) -> tuple[list[_Cand], list[float]]:
        banned = frozenset(foods)
        key = (id(self.raw[j]), banned)
        got = self._without.get(key)
        if got is None:
            front = _pareto([c for c in self.raw[j] if banned.isdisjoint(c[3])])
            got = self._without[key] = (front, [c[0] for c in front])
        return got

    def complete(self, j: int, e: float, c: float, foods: Foods,
                 bound: float) -> tuple[float, Meal] | None:
        """The cheapest choice for meal ``j`` that brings a day at useful absorbed
        ``e`` and cost ``c`` (using ``foods``) to the target, if under ``bound``;
        returns (the day's cost, the meal's items)."""
        need = self.need - e
        front = self.fronts[j]
        start = bisect_left(self.effs[j], need)
        if start == len(front) or c + front[start][1] >= bound:
            return None
        first = front[start]
        if not foods or foods[0] not in first[3] and (
                len(foods) == 1 or not set(foods).intersection(first[3])):
            return c + first[1], first[2]  # the cheapest, and no repeat
        best: tuple[float, Meal] | None = None
        alt, effs = self.without(j, foods)
        k = bisect_left(effs, need)
        if k < len(alt) and c + alt[k][1] < bound:
            bound = c + alt[k][1]
            best = (bound, alt[k][2])
        for cand in front[start:]:
            total = c + cand[1]
            if total >= bound:
                break
            extra = self.solver._conflict(foods, cand[3], self.uses)
            if extra is None or total + extra >= bound:
                continue
            bound = total + extra
            best = (bound, cand[2])
        return best


def _add(uses: list[int], day: Day, sign: int) -> None:
    for meal in day:
        for f, _ in meal:
            uses[f] += sign


def _pareto(cands: list[_Row]) -> list[_Row]:
    """Keep candidates no other beats on both useful absorbed (↑) and cost (↓);
    returned with absorbed and cost ascending."""
    cands.sort(key=lambda c: (-c[0], c[1]))
    out: list[_Row] = []
    best = _INF
    for c in cands:
        if c[1] < best:
            out.append(c)
            best = c[1]
    out.reverse()
    return out


#: At most this many states per meal step are compared food by food in
#: :func:`_pareto_by_foods` (the comparison is quadratic); past it, only the
#: plain Pareto front is kept.
MAX_FOOD_STATES = 24


def _pareto_by_foods(states: list[_Row]) -> list[_Row]:
    """Like :func:`_pareto`, but a state beaten only by states that use other
    foods is kept unless two of those share no food: a later meal may need one
    of its foods' rivals, and a repeat costs extra."""
    states.sort(key=lambda c: (-c[0], c[1]))
    kept: list[_Row] = []
    cheapest = _INF
    for st in states:
        cost, foods = st[1], st[3]
        if len(kept) >= MAX_FOOD_STATES:
            # Enough food-diverse alternatives (days food can hardly cover make
            # thousands): from here on keep only the plain Pareto front, so the
            # work stays bounded and no strictly better state is lost.
            if cost < cheapest:
                kept.append(st)
                cheapest = cost
            continue
        first = None
        beaten = False
        for other in kept:
            if other[1] > cost:
                continue
            theirs = other[3]
            if all(theirs.count(f) <= foods.count(f) for f in theirs):
                beaten = True  # no food more often than this state: no worse later
                break
            if first is None:
                first = other[3]
            elif not any(f in first for f in other[3]):
                beaten = True
                break
        if not beaten:
            kept.append(st)
            cheapest = min(cheapest, cost)
    kept.reverse()
    return kept


def solve(problem: Problem) -> Solution:
    """A plan (days × meals × items) of low objective J; see the module docstring.

    Deterministic: the same problem always gives the same solution.
    """
    if not problem.foods or problem.days == 0:
        return tuple(tuple(() for _ in problem.meals) for _ in range(problem.days))
    return _Solver(problem).solve()
