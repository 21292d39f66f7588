"""The MILP reference for the dish planner, and the script that (re)builds its cache.

It solves the *same* :class:`planner.domain.dish_plan.DishProblem` that
``make_plan`` solves (``planning.build_dish_problem``), with HiGHS (highspy),
minimising the same objective J (:func:`planner.domain.dish_plan.evaluate`;
terms and weights in the dish_plan module docstring, weights read from
``problem.weights``). A meal is one dish, and each candidate already carries
its absorbed B12 for that meal (``Candidate.absorbed_ug``, the absorption model
applied once per meal as one dose), so every term of J is linear or a convex
piecewise-linear function of binary choices, and the model is **exact**: no
tangent cuts are needed (the item MILP this file replaced needed them because a
meal held several items whose doses added up before the concave curve).

The model
---------
* ``x[d,m,c]`` binary: candidate ``c`` of meal ``m`` is served on day ``d``;
  ``Σ_c x[d,m,c] = 1`` for every slot. Cost: the dish's own cost ``c.cost``
  (tier, liked, own B12 food, week's taste).
* Only while the plan chases B12 (``problem.chase``), per day:
  ``A_d = Σ absorbed_c · x`` and intake ``I_d = Σ b12_c · x``;
  ``0.25 · I_d / intake_target``;
  ``A_d + s_d ≥ target − ε``, ``s_d ≤ target · u_d + ε``, ``u_d`` binary:
  ``1000 · u_d + 10 · s_d / target`` (uncovered day and its shortfall);
  with ``problem.spread``: ``Σ b12meal_c · x + 2 v_d ≥ 2``, ``v_d`` binary,
  ``4 · v_d`` (a B12 meal absorbs at least ``SPREAD_SHARE`` of the target).
* Per dish ``k``: ``U_k = Σ x`` over every slot serving it;
  ``r_k ≥ U_k − 1``, ``r_k ≥ 0``: ``0.8 · r_k`` (variety);
  ``h_k ≥ U_k − max_uses``: ``5000 · h_k`` (no dish more than twice a week).
* per week ``w``: ``q_w ≥ Σ_k r_kw − allowed_repeats(w)``, ``r_kw ≥ U_kw − 1``
  (uses within the week; for a plan of one week ``r_kw`` is ``r_k``):
  ``5000 · q_w`` (at least 60 % distinct dishes a week).
* ``t[d,m,k] ≥ x[d−1,m,k] + x[d,m,k] − 1``: ``5000 · t`` (same dish at the
  same meal on consecutive days).
* Per capped food ``i``: ``o_i ≥ Σ x(capped i) − limit_i``: ``10⁶ · o_i``.
* Per ingredient ``f``: ``w_f ≥ Σ_{c ∋ f} x[d,m,c]`` for every slot (at most one
  candidate per slot, so this is as tight as one row per candidate): ``0.02 · w_f``.

All penalty variables are continuous; at an integer ``x`` the minimum sets each
to its term's value, so the MILP's objective at a plan is J of that plan (up to
``ε`` = 1e-9 µg in the shortfall; ``tests/test_milp_model.py`` checks this
against ``dish_plan.evaluate`` so the model cannot drift from the objective).

**Tightening with the incumbent.** The heuristic's plan (``dish_plan.solve``)
is given to HiGHS as the starting incumbent, with J₀ its objective. A term that
alone costs more than J₀ cannot be paid by a better plan (every other term
except the small liked/own-food bonuses is ≥ 0, and those are bounded by
``MAX_BONUS``), so when J₀ + the bonus bound is below a term's weight the term
becomes a constraint instead of a penalty: no uncovered day (1000), the variety
rules (5000), the food-safety caps (10⁶). This only removes plans worse than
J₀, so the optimum and the proof are unchanged.

The result is ``min(J₀, J(MILP's plan))`` (both by ``evaluate``), HiGHS's
status ("Optimal": proven within ``mip_rel_gap`` = 1e-6) and its dual bound.

Run ``python benchmarks/milp_reference.py`` to rebuild ``milp_cache.json``
for the profiles in ``benchmarks/profiles.py`` (60 s per profile at most,
single-threaded; ``--shard K/N`` solves every N-th stale profile from the K-th,
so N processes share a rebuild, each merging its results into the file under a
lock). Entries are keyed by a hash of the profile, the week and the problem
itself (every candidate's dish, figures, ingredients and caps, the targets, the
weights and the rules): all the MILP's answer depends on, so ``plan_bench.py``
reports a stale cache instead of silently using it, and a change to the food
table or the dish library re-solves only the problems it changes.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from planner.domain import dish_plan  # noqa: E402
from planner.domain.dish_plan import DishProblem  # noqa: E402
from planner.domain.dish_plan import Solution  # noqa: E402

CACHE = Path(__file__).resolve().parent / "milp_cache.json"
TIME_LIMIT_S = 60.0
MIP_REL_GAP = 1e-6
EPS = dish_plan.EPS
CACHE_VERSION = 2  # 1: the old item-based problem


@dataclass(frozen=True)
class MilpResult:
    """The best plan known after the solve (by ``evaluate``), HiGHS's proven
    lower bound and status, and the MILP's own objective at its plan."""

    objective: float
    cost: float  # J without the 1000-per-uncovered-day term
    uncovered_days: int
    bound: float
    status: str
    seconds: float
    solution: Solution
    improved: bool  # the MILP found a plan better than the start


class _Model:
    """Columns and rows of the MILP, kept as plain lists until handed to HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[float, float, list[int], list[float]]] = []

    def var(self, cost: float = 0.0, lb: float = 0.0, ub: float = math.inf,
            integer: bool = False) -> int:
        self.cost.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(1 if integer else 0)
        return len(self.cost) - 1

    def row(self, lb: float, ub: float, idx: list[int], val: list[float]) -> None:
        self.rows.append((lb, ub, idx, val))

    def to_highs(self, h: highspy.Highs) -> None:
        inf = highspy.kHighsInf
        n = len(self.cost)
        lb = np.array(self.lb, dtype=float)
        ub = np.array([inf if math.isinf(u) else u for u in self.ub], dtype=float)
        h.addVars(n, lb, ub)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(self.cost, dtype=float))
        ints = np.array([i for i in range(n) if self.integer[i]], dtype=np.int32)
        if len(ints):
            h.changeColsIntegrality(
                len(ints), ints, np.array([highspy.HighsVarType.kInteger] * len(ints))
            )
        starts, index, value, lower, upper = [], [], [], [], []
        for lo, hi, idx, val in self.rows:
            starts.append(len(index))
            index += idx
            value += val
            lower.append(-inf if math.isinf(lo) else lo)
            upper.append(inf if math.isinf(hi) else hi)
        h.addRows(len(self.rows), np.array(lower), np.array(upper), len(index),
                  np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                  np.array(value, dtype=float))


def max_bonus(p: DishProblem) -> float:
    """How much the negative dish costs (liked dishes, own B12 foods) can lower J
    at most: the most negative candidate cost per slot, summed."""
    per_slot = sum(min(0.0, min(c.cost for c in cands)) for cands in p.candidates)
    return -per_slot * p.days


class DishModel:
    """The MILP of one dish problem; ``upper``: a known plan's J (or None)."""

    def __init__(self, p: DishProblem, upper: float | None = None) -> None:
        self.p = p
        w = p.weights
        self.m = _Model()
        # a term whose weight exceeds every plan better than ``upper`` is a rule
        room = math.inf if upper is None else upper + max_bonus(p) + 1e-6
        self.hard_rows = room < w.hard
        self.cover_rows = room < w.uncovered_day
        self.safety_rows = room < w.safety
        target = max(p.target_absorbed_ug, EPS)
        self.target = target
        self.x: dict[tuple[int, int, int], int] = {}
        self._slots()
        self._days()
        self._variety()
        self._caps()
        self._ingredients()

    def _slots(self) -> None:
        """One dish per slot."""
        p, m = self.p, self.m
        for d in range(p.days):
            for mi in range(len(p.meals)):
                vs = []
                for ci, c in enumerate(p.candidates[mi]):
                    v = self.x[d, mi, ci] = m.var(cost=c.cost, ub=1.0, integer=True)
                    vs.append(v)
                m.row(1.0, 1.0, vs, [1.0] * len(vs))

    def _days(self) -> None:
        """The day's B12 terms, while the plan chases B12."""
        p, m, w, target = self.p, self.m, self.p.weights, self.target
        n_meals = len(p.meals)
        self.short: dict[int, int] = {}
        self.uncovered: dict[int, int] = {}
        self.single: dict[int, int] = {}
        if p.chase:
            per_intake = w.intake_per_target / max(p.intake_target_ug, EPS)
            for (_d, mi, ci), v in self.x.items():
                m.cost[v] += per_intake * p.candidates[mi][ci].b12_ug
            for d in range(p.days):
                slot = [(self.x[d, mi, ci], c) for mi in range(n_meals)
                        for ci, c in enumerate(p.candidates[mi])]
                idx = [v for v, _ in slot]
                absorbed = [c.absorbed_ug for _, c in slot]
                if self.cover_rows:
                    m.row(p.target_absorbed_ug - EPS, math.inf, idx, absorbed)
                else:
                    s = self.short[d] = m.var(cost=w.shortfall_per_target / target)
                    u = self.uncovered[d] = m.var(cost=w.uncovered_day, ub=1.0,
                                                  integer=True)
                    m.row(p.target_absorbed_ug - EPS, math.inf, idx + [s], absorbed + [1.0])
                    m.row(-math.inf, EPS, [s, u], [1.0, -target])
                if p.spread:
                    flags = [(v, 1.0) for v, c in slot
                             if c.absorbed_ug >= dish_plan.SPREAD_SHARE * target - EPS]
                    sv = self.single[d] = m.var(cost=w.single_b12_meal_day, ub=1.0,
                                                integer=True)
                    m.row(2.0, math.inf, [v for v, _ in flags] + [sv],
                          [1.0] * len(flags) + [2.0])

    def _variety(self) -> None:
        """Uses per dish, repeats, and the hard variety rules."""
        p, m, w = self.p, self.m, self.p.weights
        uses: dict[int, list[int]] = {}
        for (_d, mi, ci), v in self.x.items():
            uses.setdefault(p.candidates[mi][ci].key, []).append(v)
        self.repeat: dict[int, int] = {}
        self.over_uses: dict[int, int] = {}
        for k, vs in uses.items():
            r = self.repeat[k] = m.var(cost=w.repeat)
            m.row(-1.0, math.inf, [r] + vs, [1.0] + [-1.0] * len(vs))
            if self.hard_rows:
                m.row(-math.inf, p.max_uses, vs, [1.0] * len(vs))
            else:
                h = self.over_uses[k] = m.var(cost=w.hard)
                m.row(-p.max_uses, math.inf, [h] + vs, [1.0] + [-1.0] * len(vs))
        self._distinct_weeks()
        self._consecutive()

    def _distinct_weeks(self) -> None:
        """At least 60 % distinct dishes in each week (one week: the plan's repeats)."""
        p, m, w = self.p, self.m, self.p.weights
        self.week_repeat: dict[tuple[int, int], int] = {}
        self.too_few: dict[int, int] = {}
        for wk in range(dish_plan.weeks(p)):
            if dish_plan.weeks(p) == 1:
                reps = list(self.repeat.values())
            else:
                in_week: dict[int, list[int]] = {}
                for (d, mi, ci), v in self.x.items():
                    if d // dish_plan.WEEK_DAYS == wk:
                        in_week.setdefault(p.candidates[mi][ci].key, []).append(v)
                reps = []
                for k, vs in in_week.items():
                    r = self.week_repeat[wk, k] = m.var()
                    m.row(-1.0, math.inf, [r] + vs, [1.0] + [-1.0] * len(vs))
                    reps.append(r)
            allowed = dish_plan.allowed_repeats(p, wk)
            if self.hard_rows:
                m.row(-math.inf, allowed, reps, [1.0] * len(reps))
            else:
                q = self.too_few[wk] = m.var(cost=w.hard)
                m.row(-allowed, math.inf, [q] + reps, [1.0] + [-1.0] * len(reps))

    def _consecutive(self) -> None:
        """Never the same dish at the same meal on consecutive days."""
        p, m, w = self.p, self.m, self.p.weights
        n_meals = len(p.meals)
        self.same: dict[tuple[int, int, int], int] = {}
        for d in range(1, p.days):
            for mi in range(n_meals):
                for ci in range(len(p.candidates[mi])):
                    a, b = self.x[d - 1, mi, ci], self.x[d, mi, ci]
                    if self.hard_rows:
                        m.row(-math.inf, 1.0, [a, b], [1.0, 1.0])
                    else:
                        t = self.same[d, mi, ci] = m.var(cost=w.hard)
                        m.row(-1.0, math.inf, [t, a, b], [1.0, -1.0, -1.0])

    def _caps(self) -> None:
        """Food-safety caps (weekly limits of capped foods)."""
        p, m, w = self.p, self.m, self.p.weights
        capped: dict[int, list[int]] = {}
        for (_d, mi, ci), v in self.x.items():
            for i in p.candidates[mi][ci].capped:
                capped.setdefault(i, []).append(v)
        self.over_cap: dict[int, int] = {}
        for i, vs in capped.items():
            limit = p.food_limits[i]
            if self.safety_rows:
                m.row(-math.inf, limit, vs, [1.0] * len(vs))
            else:
                o = self.over_cap[i] = m.var(cost=w.safety)
                m.row(-limit, math.inf, [o] + vs, [1.0] + [-1.0] * len(vs))

    def _ingredients(self) -> None:
        """Distinct ingredients: w_f is 1 when any slot serves a dish with f."""
        p, m, w = self.p, self.m, self.p.weights
        n_meals = len(p.meals)
        self.ingredient: dict[int, int] = {}
        for d in range(p.days):
            for mi in range(n_meals):
                having: dict[int, list[int]] = {}
                for ci, c in enumerate(p.candidates[mi]):
                    for f in c.food_keys:
                        having.setdefault(f, []).append(self.x[d, mi, ci])
                for f, vs in having.items():
                    if f not in self.ingredient:
                        self.ingredient[f] = m.var(cost=w.ingredient, ub=1.0)
                    m.row(0.0, math.inf, [self.ingredient[f]] + vs,
                          [1.0] + [-1.0] * len(vs))

    def start_vector(self, sol: Solution) -> np.ndarray:
        """Every column's value at plan ``sol``, penalty columns at their least
        feasible value (which is their term of J)."""
        p = self.p
        x = np.zeros(len(self.m.cost))
        chosen = [[p.candidates[mi][ci] for mi, ci in enumerate(day)] for day in sol]
        for d, day in enumerate(sol):
            for mi, ci in enumerate(day):
                x[self.x[d, mi, ci]] = 1.0
        self._start_days(x, chosen)
        self._start_variety(x, sol, chosen)
        return x

    def _start_days(self, x: np.ndarray, chosen: list) -> None:
        p = self.p
        if p.chase:
            for d, day in enumerate(chosen):
                total = sum(c.absorbed_ug for c in day)
                if d in self.short and total < p.target_absorbed_ug - EPS:
                    x[self.uncovered[d]] = 1.0
                    x[self.short[d]] = p.target_absorbed_ug - EPS - total
                if d in self.single:
                    n = sum(c.absorbed_ug >= dish_plan.SPREAD_SHARE * self.target - EPS
                            for c in day)
                    x[self.single[d]] = 1.0 if n < 2 else 0.0

    def _start_variety(self, x: np.ndarray, sol: Solution, chosen: list) -> None:
        p = self.p
        uses: dict[int, int] = {}
        food_uses: dict[int, int] = {}
        for day in chosen:
            for c in day:
                uses[c.key] = uses.get(c.key, 0) + 1
                for i in c.capped:
                    food_uses[i] = food_uses.get(i, 0) + 1
                for f in c.food_keys:
                    x[self.ingredient[f]] = 1.0
        for k, r in self.repeat.items():
            x[r] = max(0, uses.get(k, 0) - 1)
        for k, h in self.over_uses.items():
            x[h] = max(0, uses.get(k, 0) - p.max_uses)
        for (d, mi, ci), t in self.same.items():
            x[t] = 1.0 if sol[d - 1][mi] == ci and sol[d][mi] == ci else 0.0
        for i, o in self.over_cap.items():
            x[o] = max(0, food_uses.get(i, 0) - p.food_limits[i])
        self._start_weeks(x, chosen)

    def _start_weeks(self, x: np.ndarray, chosen: list) -> None:
        p = self.p
        week_uses: list[dict[int, int]] = [{} for _ in range(dish_plan.weeks(p))]
        for d, day in enumerate(chosen):
            wu = week_uses[d // dish_plan.WEEK_DAYS]
            for c in day:
                wu[c.key] = wu.get(c.key, 0) + 1
        for (wk, k), r in self.week_repeat.items():
            x[r] = max(0, week_uses[wk].get(k, 0) - 1)
        for wk, q in self.too_few.items():
            repeats = sum(max(0, n - 1) for n in week_uses[wk].values())
            x[q] = max(0, repeats - dish_plan.allowed_repeats(p, wk))

    def objective(self, values: np.ndarray) -> float:
        """The MILP's objective at column values ``values``."""
        return float(np.dot(np.array(self.m.cost), values))

    def violation(self, values: np.ndarray) -> float:
        """The largest amount by which ``values`` breaks a row or a bound."""
        worst = 0.0
        for lo, hi, idx, val in self.m.rows:
            act = sum(values[i] * a for i, a in zip(idx, val, strict=True))
            worst = max(worst, lo - act, act - hi)
        lb, ub = np.array(self.m.lb), np.array(self.m.ub)
        return max(worst, float(np.max(lb - values)), float(np.max(values - ub)))

    def read(self, values: np.ndarray) -> Solution:
        """The plan in ``values``."""
        p = self.p
        plan = []
        for d in range(p.days):
            day = []
            for mi in range(len(p.meals)):
                best = max(range(len(p.candidates[mi])),
                           key=lambda ci, d=d, mi=mi: values[self.x[d, mi, ci]])
                day.append(best)
            plan.append(tuple(day))
        return tuple(plan)


def penalties(p: DishProblem, sol: Solution) -> tuple[int, int, int]:
    """Whole units of J's big terms at plan ``sol``: uncovered days (1000 each),
    hard variety-rule breaks (5000 each) and food-safety cap breaks (10⁶ each)."""
    uncovered = dish_plan.score(p, sol).uncovered_days if p.chase else 0
    uses: dict[int, int] = {}
    food_uses = [0] * len(p.food_limits)
    hard = 0
    for d, day in enumerate(sol):
        for mi, ci in enumerate(day):
            c = p.candidates[mi][ci]
            uses[c.key] = uses.get(c.key, 0) + 1
            for i in c.capped:
                food_uses[i] += 1
            if d > 0 and sol[d - 1][mi] == ci:
                hard += 1
    hard += sum(max(0, n - p.max_uses) for n in uses.values())
    for wk in range(dish_plan.weeks(p)):
        week: dict[int, int] = {}
        for day in sol[wk * dish_plan.WEEK_DAYS:(wk + 1) * dish_plan.WEEK_DAYS]:
            for mi, ci in enumerate(day):
                key = p.candidates[mi][ci].key
                week[key] = week.get(key, 0) + 1
        repeats = sum(max(0, n - 1) for n in week.values())
        hard += max(0, repeats - dish_plan.allowed_repeats(p, wk))
    safety = sum(max(0, n - lim) for n, lim in zip(food_uses, p.food_limits, strict=True))
    return uncovered, hard, safety


def soft_part(p: DishProblem, sol: Solution) -> float:
    """J without its big terms (:func:`penalties`): what the gap is measured on."""
    w = p.weights
    u, hard, safety = penalties(p, sol)
    return (dish_plan.evaluate(p, sol) - w.uncovered_day * u - w.hard * hard
            - w.safety * safety)


def model_objective(p: DishProblem, sol: Solution) -> float:
    """The MILP's objective at plan ``sol`` (the model built without tightening)."""
    model = DishModel(p, None)
    return model.objective(model.start_vector(sol))


def solve_milp(p: DishProblem, time_limit_s: float = TIME_LIMIT_S,
               start: Solution | None = None, verbose: bool = False) -> MilpResult:
    """Minimise J over all plans of ``p`` with HiGHS (module docstring).

    ``start`` (default: the heuristic's plan) is the first incumbent; the result
    is never worse than it.
    """
    t0 = time.perf_counter()
    if start is None:
        start = dish_plan.solve(p)
    j0 = dish_plan.evaluate(p, start)
    model = DishModel(p, j0)
    h = highspy.Highs()
    # HiGHS's own symmetry detection is off: with a starting plan HiGHS 1.x once
    # proved a wrong optimum on the item MILP; the check below guards it too
    for name, value in (("output_flag", verbose), ("threads", 1),
                        ("mip_rel_gap", MIP_REL_GAP), ("random_seed", 0),
                        ("mip_detect_symmetry", False),
                        ("time_limit", max(1.0, time_limit_s - (time.perf_counter() - t0)))):
        h.setOptionValue(name, value)
    model.m.to_highs(h)
    x0 = model.start_vector(start)
    given = highspy.HighsSolution()
    given.col_value = list(x0)
    given.value_valid = True
    h.setSolution(given)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    bound = h.getInfo().mip_dual_bound
    best, score = start, dish_plan.score(p, start)
    improved = False
    values = np.array(h.getSolution().col_value)
    if values.size == len(model.m.cost):
        found = model.read(values)
        mine = dish_plan.score(p, found)
        if mine.total < score.total - 1e-9:
            best, score, improved = found, mine, True
    if bound > score.total + 1e-6 * max(1.0, abs(score.total)):
        status = "bound above a known plan"  # never counted as proved optimal
    return MilpResult(
        objective=score.total,
        cost=score.total - p.weights.uncovered_day * score.uncovered_days,
        uncovered_days=score.uncovered_days,
        bound=bound,
        status=status,
        seconds=time.perf_counter() - t0,
        solution=best,
        improved=improved,
    )


# ---------------------------------------------------------------------------
# Cache


def problem_digest(p: DishProblem) -> str:
    """SHA-256 of everything in a dish problem that changes its optimum."""
    data = {
        "days": p.days,
        "meals": p.meals,
        "candidates": [[(c.key, c.dish.dish_id, repr(c.absorbed_ug), repr(c.b12_ug),
                         repr(c.cost), c.food_keys, c.capped) for c in cands]
                       for cands in p.candidates],
        "target": repr(p.target_absorbed_ug),
        "intake": repr(p.intake_target_ug),
        "chase": p.chase,
        "spread": p.spread,
        "limits": p.food_limits,
        "weights": asdict(p.weights),
        "max_uses": p.max_uses,
        "rules": [dish_plan.MIN_DISTINCT_SHARE, dish_plan.SPREAD_SHARE, dish_plan.EPS],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def cache_key(profile_text: str, week: str, problem: DishProblem) -> str:
    """Key of a cache entry: profile JSON (``planning.profile_json``) + week +
    the problem (:func:`problem_digest`)."""
    text = json.dumps({"profile": json.loads(profile_text), "week": week,
                       "problem": problem_digest(problem), "v": CACHE_VERSION},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_cache(path: Path = CACHE) -> dict:
    if not path.exists():
        return {"version": CACHE_VERSION, "entries": {}}
    return json.loads(path.read_text())


def bench_problems():
    """``(case, problem, key)`` for every benchmark profile, as ``make_plan``
    builds the problem."""
    from benchmarks.profiles import bench_cases
    from foods.loader import load_foods
    from planner.data.loader import load_reference
    from planner.domain.planning import build_dish_problem
    from planner.domain.planning import profile_json

    foods = load_foods()
    reference = load_reference()
    out = []
    for case in bench_cases():
        problem = build_dish_problem(case.profile, foods, week=case.week, reference=reference)
        key = cache_key(profile_json(case.profile), case.week, problem)
        out.append((case, problem, key))
    return out


def _write(entries: dict) -> None:
    CACHE.write_text(json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=1,
                                sort_keys=True) + "\n")


def _merge(entries: dict) -> None:
    """Add ``entries`` to the cache file as it is now, under a lock, so that
    shards running side by side keep each other's results."""
    with open(CACHE.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = load_cache()
        old = cache.get("entries", {}) if cache.get("version") == CACHE_VERSION else {}
        _write({**old, **entries})


def shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → (K, N) with 1 ≤ K ≤ N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, e.g. 1/2") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be between 1 and N")
    return k, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="(Re)build benchmarks/milp_cache.json")
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT_S)
    ap.add_argument("--only", help="substring of profile names to solve")
    ap.add_argument("--force", action="store_true", help="re-solve cached entries")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--shard", type=shard, default=(1, 1), metavar="K/N",
                    help="solve every N-th stale profile from the K-th (N processes side by side)")
    args = ap.parse_args(argv)
    k, n = args.shard
    cache = load_cache()
    entries = cache.get("entries", {}) if cache.get("version") == CACHE_VERSION else {}
    fresh = {}
    stale = 0
    for case, problem, key in bench_problems():
        if args.only and args.only not in case.name:
            if key in entries:
                fresh[key] = entries[key]
            continue
        if key in entries and not args.force:
            fresh[key] = entries[key]
            continue
        stale += 1
        if (stale - k) % n:
            continue  # another shard's
        start = dish_plan.solve(problem)
        heur = dish_plan.evaluate(problem, start)
        result = solve_milp(problem, args.time_limit, start=start, verbose=args.verbose)
        fresh[key] = {
            "name": case.name,
            "week": case.week,
            "objective": result.objective,
            "cost": result.cost,
            "uncovered_days": result.uncovered_days,
            "bound": result.bound,
            "status": result.status,
            "seconds": round(result.seconds, 2),
            "start_objective": heur,
                "improved": result.improved,
            "penalties": list(penalties(problem, result.solution)),
            "soft": soft_part(problem, result.solution),
            "plan": [[problem.candidates[mi][ci].dish.dish_id for mi, ci in enumerate(day)]
                     for day in result.solution],
        }
        print(f"{case.name:42} heur {heur:9.4f}  milp {result.objective:9.4f}  "
              f"bound {result.bound:9.4f}  {result.status} {result.seconds:5.1f}s",
              flush=True)
        _merge({key: fresh[key]})
    if not args.only and n == 1:
        _write(fresh)  # drop entries of profiles no longer benchmarked
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
