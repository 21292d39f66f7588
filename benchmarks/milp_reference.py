"""NOTE (issue 13): plans are now weeks of dishes (``planner.domain.dish_plan``);
this MILP still builds and solves the OLD item-based problem
(``planning.build_problem`` / ``optimizer``), which ``make_plan`` no longer uses.
It runs, but its figures do not describe today's plans; a MILP of the dish
objective is still to be written.

The MILP reference for the plan optimiser, and the script that (re)builds its cache.

It solves the *same* :class:`planner.domain.optimizer.Problem` that
``make_plan`` solves, with HiGHS (highspy), minimising the same objective J
(:func:`planner.domain.optimizer.evaluate`; weights in the optimizer module
docstring). The model:

* ``y[d,m,o]`` binary: option ``o`` (one food at one serving step) is an item of
  meal ``m`` on day ``d``; only options whose food suits the meal kind exist.
  At most one step per food per meal, at most ``max_items_per_meal`` items.
* ``D[d,m] = Σ dose_o · y[d,m,o]`` the meal's dose [µg]; ``a[d,m]`` its useful
  absorbed B12 [µg] with ``a ≤ g(D)`` and ``a ≤ target`` (more at one meal
  never helps), and ``a ≤ Σ min(g(dose_o), target) · y`` (g is subadditive),
  which is exact for one item and tightens the LP. ``g`` (Model S) is concave, so
  ``a ≤ g(D)`` is the
  intersection of its tangents. The solver starts with tangents at every
  single-item dose and a geometric grid, and after each solve adds the
  tangent at every meal dose where ``a`` exceeds ``g(D)`` (cutting planes),
  until no meal is over by more than 1e-9 µg. The final model is exact on the
  solution; its dual bound is a valid lower bound for J.
* ``Σ_m a[d,m] + s[d] ≥ target``, ``0 ≤ s[d] ≤ target · u[d]``, ``u[d]`` binary:
  ``u`` counts uncovered days (weight 1000), ``s`` the shortfall (weight
  10 per target).
* ``U_f = Σ y`` over the plan ≤ the use limit; the repeat cost
  ``0.2 · U(U−1)/2`` is ``r_f ≥ 0.2 · (j·U_f − j(j+1)/2)`` for j = 1..limit−1
  (exact at integers); rotation and item costs are linear in ``y``, intake is
  linear in ``D``.
* Days are interchangeable, so a symmetry-breaking chain orders them by their
  item-and-intake cost (any plan can be re-ordered to satisfy it).

The optimiser's own solution is given as the starting incumbent; options whose
own cost exceeds that whole plan's J are left out (they cannot be in a better
plan, since every term of J is non-negative).

Food-bound B12 (``Problem.factors``, see :mod:`planner.domain.bioavailability`)
is not modelled yet: for a problem with factors the rows ``a ≤ g(D)`` and the
subadditivity row (Model S of each single item) are a
relaxation, so the MILP optimum is a lower bound there, not the optimum.

Run ``python benchmarks/milp_reference.py`` to rebuild ``milp_cache.json``
for the profiles in ``benchmarks/profiles.py`` (60 s per profile at most).
Entries are keyed by a hash of the profile, the week, the food table content
and the problem itself, so ``plan_bench.py`` detects a stale cache.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
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

from planner.domain.model import meal_kind  # noqa: E402
from planner.domain.optimizer import Day  # noqa: E402
from planner.domain.optimizer import Item  # noqa: E402
from planner.domain.optimizer import Problem  # noqa: E402
from planner.domain.optimizer import Solution  # noqa: E402
from planner.domain.optimizer import evaluate  # noqa: E402
from planner.domain.optimizer import solve  # noqa: E402
from planner.domain.optimizer import violations  # noqa: E402

CACHE = Path(__file__).resolve().parent / "milp_cache.json"
TIME_LIMIT_S = 60.0
COVER_MARGIN_UG = 1e-7
CUT_TOL_UG = 1e-9
CACHE_VERSION = 1


def _g(problem: Problem, dose: float) -> float:
    return problem.absorbed_ug(dose)


def _g_slope(problem: Problem, dose: float) -> float:
    p = problem.params
    if not problem.intrinsic_factor:
        return p.no_if_fraction
    return p.if_initial_fraction * math.exp(-p.if_initial_fraction * dose / p.if_max_ug) + (
        p.passive_fraction
    )


@dataclass(frozen=True)
class MilpResult:
    """The best plan HiGHS found, its J (by ``evaluate``) and the proven bound."""

    objective: float
    cost: float
    uncovered_days: int
    bound: float
    status: str
    seconds: float
    rounds: int
    solution: Solution


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
        """A new column; returns its index."""
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
        for lo, hi, idx, val in self.rows:
            h.addRow(
                -inf if math.isinf(lo) else lo,
                inf if math.isinf(hi) else hi,
                len(idx),
                np.array(idx, dtype=np.int32),
                np.array(val, dtype=float),
            )


class _PlanModel:
    """The MILP of one problem: variables, rows, and the maps back to a plan."""

    def __init__(self, problem: Problem, upper: float):
        self.p = problem
        self.w = problem.weights
        self.target = problem.target_absorbed_ug
        self.cap = self.target + COVER_MARGIN_UG  # more absorbed at one meal is no use
        self.k = problem.cost_per_intake_ug
        self.options = self._options(upper)
        self.m = _Model()
        self.y: dict[tuple[int, int, int], int] = {}
        self.dose_var: dict[tuple[int, int], int] = {}
        self.absorbed_var: dict[tuple[int, int], int] = {}
        self.uses: dict[int, list[int]] = {}
        self.repeat_var: dict[int, int] = {}
        self.short_vars: list[int] = []
        self.uncovered_vars: list[int] = []
        self.cuts: set[float] = set()
        day_terms = [self._day(d) for d in range(problem.days)]
        self._symmetry(day_terms)
        self._repeats()
        # tangents of g at every single-item dose and on a geometric grid
        for x in sorted({round(o[2], 9) for o in self.options}
                        | set(np.geomspace(0.01, 400, 60))):
            for lo, hi, idx, val in self.tangent_rows(float(x)):
                self.m.row(lo, hi, idx, val)

    def _options(self, upper: float) -> list[tuple[int, float, float]]:
        """(food, step, dose) of every item that can be in a plan better than
        ``upper``; a bigger serving of a food that covers the day alone is left
        out too (it only costs more)."""
        p, w = self.p, self.w
        options = []
        for f in range(len(p.foods)):
            for s in p.steps[f]:
                dose = p.dose_ug((f, s))
                if w.item + self.k * dose + p.rotation[f] <= upper + 1e-9:
                    options.append((f, s, dose))
                if _g(p, dose) >= self.target + COVER_MARGIN_UG:
                    break
        return options

    def _meal(self, d: int, mi: int) -> list[int]:
        p, w, m = self.p, self.w, self.m
        kind = meal_kind(p.meals[mi])
        dv = self.dose_var[d, mi] = m.var(cost=self.k)
        av = self.absorbed_var[d, mi] = m.var(ub=self.cap)
        items, doses, per_food = [], [], {}
        for oi, (f, _s, dose) in enumerate(self.options):
            if kind in p.foods[f].meals:
                v = self.y[d, mi, oi] = m.var(cost=w.item + p.rotation[f], ub=1,
                                              integer=True)
                items.append(v)
                doses.append(dose)
                per_food.setdefault(f, []).append(v)
                self.uses.setdefault(f, []).append(v)
        m.row(0.0, 0.0, [dv] + items, [-1.0] + doses)  # D = Σ dose · y
        # g is concave with g(0) = 0, so min(g(D), target) ≤ Σ min(g(dose_o),
        # target) · y_o; more than the target at one meal never helps, so a ≤ that
        # sum is valid, exact for one item, and keeps the LP from absorbing a lot
        # from a fraction of an item
        m.row(-math.inf, 0.0, [av] + items,
              [1.0] + [-min(_g(p, x), self.cap) for x in doses])
        if items:
            m.row(-math.inf, p.max_items_per_meal, items, [1.0] * len(items))
        for vs in per_food.values():
            if len(vs) > 1:
                m.row(-math.inf, 1.0, vs, [1.0] * len(vs))
        return items

    def _day(self, d: int) -> list[tuple[int, float]]:
        """Variables and rows of day ``d``; returns its item-and-intake cost terms."""
        m, w, target = self.m, self.w, self.target
        terms: list[tuple[int, float]] = []
        for mi in range(len(self.p.meals)):
            terms += [(v, w.item) for v in self._meal(d, mi)]
            terms.append((self.dose_var[d, mi], self.k))
        meal_abs = [self.absorbed_var[d, mi] for mi in range(len(self.p.meals))]
        s_var = m.var(cost=w.shortfall_per_target / target)
        u_var = m.var(cost=w.uncovered_day, ub=1, integer=True)
        m.row(target + COVER_MARGIN_UG, math.inf, meal_abs + [s_var],
              [1.0] * (len(meal_abs) + 1))
        m.row(-math.inf, 0.0, [s_var, u_var], [1.0, -target])
        self.short_vars.append(s_var)
        self.uncovered_vars.append(u_var)
        return terms

    def _symmetry(self, day_terms: list[list[tuple[int, float]]]) -> None:
        """Days are interchangeable: order them by item-and-intake cost."""
        for a, b in itertools.pairwise(day_terms):
            self.m.row(0.0, math.inf, [v for v, _ in a] + [v for v, _ in b],
                       [c for _, c in a] + [-c for _, c in b])

    def _repeats(self) -> None:
        """U_f ≤ limit, and r_f ≥ repeat · (j·U_f − j(j+1)/2) for j = 1..limit−1."""
        rep = self.w.repeat
        for f, vs in self.uses.items():
            limit = self.p.limit_of(f)
            self.m.row(-math.inf, limit, vs, [1.0] * len(vs))
            if limit > 1 and rep > 0:
                r = self.repeat_var[f] = self.m.var(cost=1.0)
                for j in range(1, limit):
                    self.m.row(-rep * j * (j + 1) / 2, math.inf, [r] + vs,
                               [1.0] + [-rep * j] * len(vs))

    def tangent_rows(self, x: float) -> list[tuple[float, float, list[int], list[float]]]:
        """``a ≤ g(x) + g'(x) (D − x)`` for every meal, once per point ``x``."""
        if x in self.cuts:
            return []
        self.cuts.add(x)
        slope = _g_slope(self.p, x)
        rhs = _g(self.p, x) - slope * x
        return [(-math.inf, rhs, [av, self.dose_var[key]], [1.0, -slope])
                for key, av in self.absorbed_var.items()]

    def start_vector(self, sol: Solution) -> np.ndarray:
        """Column values of a plan (empty when the plan uses a left-out option)."""
        p, w = self.p, self.w

        def order_cost(day: Day) -> float:
            return sum(w.item + self.k * p.dose_ug(it) for meal in day for it in meal)

        sol = tuple(sorted(sol, key=order_cost, reverse=True))  # the symmetry chain
        x = np.zeros(len(self.m.cost))
        index = {(f, s): oi for oi, (f, s, _d) in enumerate(self.options)}
        counts: dict[int, int] = {}
        for d, day in enumerate(sol):
            total = 0.0
            for mi, meal in enumerate(day):
                dose = 0.0
                for f, s in meal:
                    v = self.y.get((d, mi, index.get((f, s), -1)))
                    if v is None:
                        return np.array([])
                    x[v] = 1.0
                    dose += p.dose_ug((f, s))
                    counts[f] = counts.get(f, 0) + 1
                x[self.dose_var[d, mi]] = dose
                x[self.absorbed_var[d, mi]] = min(_g(p, dose), self.cap)
                total += min(_g(p, dose), self.cap)
            if total < self.target + COVER_MARGIN_UG:
                x[self.uncovered_vars[d]] = 1.0
                x[self.short_vars[d]] = self.target + COVER_MARGIN_UG - total
        for f, r in self.repeat_var.items():
            n = counts.get(f, 0)
            x[r] = w.repeat * n * (n - 1) / 2
        return x

    def read(self, values: np.ndarray) -> tuple[Solution, list[float]]:
        """The plan in ``values`` and the meal doses where ``a`` is above ``g(D)``."""
        picked: dict[tuple[int, int], list[Item]] = {}
        for (d, mi, oi), v in self.y.items():
            if values[v] > 0.5:
                f, s, _dose = self.options[oi]
                picked.setdefault((d, mi), []).append((f, s))
        plan = tuple(
            tuple(tuple(picked.get((d, mi), ())) for mi in range(len(self.p.meals)))
            for d in range(self.p.days)
        )
        over = []
        for (d, mi), av in self.absorbed_var.items():
            dose = sum(self.p.dose_ug(it) for it in picked.get((d, mi), ()))
            if values[av] > min(_g(self.p, dose), self.cap) + CUT_TOL_UG:
                over.append(round(dose, 12))
        return plan, over


def _run(h: highspy.Highs, start_x: np.ndarray,
         time_limit_s: float) -> tuple[str, float, np.ndarray]:
    """One HiGHS solve from a starting plan; returns (status, dual bound, values)."""
    h.setOptionValue("time_limit", time_limit_s)
    if start_x.size:
        given = highspy.HighsSolution()
        given.col_value = list(start_x)
        given.value_valid = True
        h.setSolution(given)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    return status, h.getInfo().mip_dual_bound, np.array(h.getSolution().col_value)


def solve_milp(problem: Problem, time_limit_s: float = TIME_LIMIT_S,
               start: Solution | None = None, verbose: bool = False) -> MilpResult:
    """Minimise J over all plans of ``problem`` with HiGHS (see the module docstring).

    ``start`` (default: the optimiser's plan) is the first incumbent; the
    result is never worse than it.
    """
    t0 = time.perf_counter()
    if start is None:
        start = solve(problem)
    model = _PlanModel(problem, evaluate(problem, start).total)
    h = highspy.Highs()
    # HiGHS's own symmetry detection is off: the model breaks the day symmetry
    # itself, and with both plus a starting plan HiGHS 1.x proved a wrong
    # optimum (a bound above a feasible plan) on one benchmark profile
    for name, value in (("output_flag", verbose), ("threads", 1),
                        ("mip_rel_gap", 1e-6), ("random_seed", 0),
                        ("mip_detect_symmetry", False)):
        h.setOptionValue(name, value)
    model.m.to_highs(h)
    rounds, best, status, bound = 0, None, "not solved", -math.inf
    while True:
        remaining = time_limit_s - (time.perf_counter() - t0)
        if remaining <= 0.5:
            status = "time limit"
            break
        rounds += 1
        status, bound, values = _run(h, model.start_vector(start), remaining)
        if verbose:
            print(f"  round {rounds}: {status}, bound {bound:.4f}, "
                  f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
        if values.size < len(model.m.cost):
            break
        best, over = model.read(values)
        if not over:
            break
        for x in set(over):  # cutting planes where the tangents were too loose
            for lo, hi, idx, val in model.tangent_rows(x):
                h.addRow(lo, hi, len(idx), np.array(idx, dtype=np.int32),
                         np.array(val, dtype=float))
    score = evaluate(problem, start)
    if best is not None and not violations(problem, best):
        mine = evaluate(problem, best)
        if mine.total < score.total:
            start, score = best, mine
    return MilpResult(
        objective=score.total,
        cost=score.cost,
        uncovered_days=score.uncovered_days,
        bound=bound,
        status=status,
        seconds=time.perf_counter() - t0,
        rounds=rounds,
        solution=start,
    )


# ---------------------------------------------------------------------------
# Cache


def table_digest(foods) -> str:
    """SHA-256 of the food table's content (every field of every row)."""
    rows = [f.to_dict() for f in foods]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def problem_digest(problem: Problem) -> str:
    """SHA-256 of everything in a problem that changes its optimum."""
    data = {
        "foods": [(f.food_id, f.b12_ug_per_100g, f.serving_g, sorted(f.meals))
                  for f in problem.foods],
        "steps": problem.steps,
        "meals": problem.meals,
        "days": problem.days,
        "target": problem.target_absorbed_ug,
        "intake": problem.intake_target_ug,
        "params": asdict(problem.params),
        "if": problem.intrinsic_factor,
        "uses": problem.max_uses_per_food,
        "items": problem.max_items_per_meal,
        "rotation": problem.rotation,
        "weights": asdict(problem.weights),
    }
    if problem.factors:  # food-bound items (bioavailability, food-bound half)
        data["factors"] = problem.factors
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(profile_text: str, week: str, table: str, problem: Problem) -> str:
    """Key of a cache entry: profile JSON (``planning.profile_json``) + week +
    table content + the problem."""
    text = json.dumps({"profile": json.loads(profile_text), "week": week, "table": table,
                       "problem": problem_digest(problem), "v": CACHE_VERSION},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_cache(path: Path = CACHE) -> dict:
    if not path.exists():
        return {"version": CACHE_VERSION, "entries": {}}
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    from benchmarks.profiles import bench_cases
    from foods.loader import load_foods
    from planner.data.loader import load_reference
    from planner.domain.planning import build_problem
    from planner.domain.planning import profile_json

    ap = argparse.ArgumentParser(description="(Re)build benchmarks/milp_cache.json")
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT_S)
    ap.add_argument("--only", help="substring of profile names to solve")
    ap.add_argument("--force", action="store_true", help="re-solve cached entries")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    foods = load_foods()
    reference = load_reference()
    table = table_digest(foods)
    cache = load_cache()
    entries = cache.get("entries", {}) if cache.get("version") == CACHE_VERSION else {}
    fresh = {}
    for case in bench_cases():
        problem = build_problem(case.profile, foods, week=case.week, reference=reference)
        key = cache_key(profile_json(case.profile), case.week, table, problem)
        if args.only and args.only not in case.name:
            if key in entries:
                fresh[key] = entries[key]
            continue
        if key in entries and not args.force:
            fresh[key] = entries[key]
            continue
        start = solve(problem)
        result = solve_milp(problem, args.time_limit, start=start, verbose=args.verbose)
        heur = evaluate(problem, start)
        fresh[key] = {
            "name": case.name,
            "week": case.week,
            "objective": result.objective,
            "cost": result.cost,
            "uncovered_days": result.uncovered_days,
            "bound": result.bound,
            "status": result.status,
            "seconds": round(result.seconds, 2),
            "rounds": result.rounds,
        }
        print(f"{case.name:42} heur {heur.total:9.4f}  milp {result.objective:9.4f}  "
              f"bound {result.bound:9.4f}  {result.status} {result.seconds:5.1f}s "
              f"rounds {result.rounds}", flush=True)
        CACHE.write_text(json.dumps({"version": CACHE_VERSION, "table": table,
                                     "entries": {**entries, **fresh}}, indent=1,
                                    sort_keys=True) + "\n")
    CACHE.write_text(json.dumps({"version": CACHE_VERSION, "table": table,
                                 "entries": fresh}, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
