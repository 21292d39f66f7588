"""Issue 13: the MILP reference (benchmarks/milp_reference.py) models exactly the
dish objective. Its objective at the heuristic's plan equals dish_plan's own J,
the plan is feasible in the model (tightened or not), and a small problem
solved by HiGHS gives a plan whose J (by dish_plan.evaluate) is the MILP's
objective and no worse than the heuristic's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import milp_reference as mr  # noqa: E402
from benchmarks.profiles import bench_cases  # noqa: E402
from foods.loader import load_foods  # noqa: E402
from planner.data.loader import load_reference  # noqa: E402
from planner.domain import dish_plan  # noqa: E402
from planner.domain.planning import build_dish_problem  # noqa: E402
from planner.domain.profile import parse_profile  # noqa: E402

REFERENCE = load_reference()
TABLE = load_foods()
CASES = {c.name: c for c in bench_cases()}
# chase and spread, hard-rule breaks, negative dish costs, a supplement that
# covers alone, 2 and 5 meals, a child
NAMES = ["omnivore-3meals", "vegan-who-5meals", "vegan-own-three", "pescatarian-2meals",
         "omnivore-gluten-milk-egg", "vegetarian-toddler-2y", "omnivore-own-rich"]


def problem_of(name: str):
    case = CASES[name]
    return build_dish_problem(case.profile, TABLE, week=case.week, reference=REFERENCE)


@pytest.mark.parametrize("name", NAMES)
def test_the_model_objective_at_the_heuristic_plan_is_its_j(name):
    p = problem_of(name)
    plan = dish_plan.solve(p)
    j = dish_plan.evaluate(p, plan)
    assert mr.model_objective(p, plan) == pytest.approx(j, abs=1e-6)
    for upper in (None, j):  # as built for the solve: tightened by the plan's J
        model = mr.DishModel(p, upper)
        x = model.start_vector(plan)
        assert model.violation(x) <= 1e-9
        assert model.objective(x) == pytest.approx(j, abs=1e-6)
        assert model.read(x) == plan


def test_the_model_sees_every_term_move():
    """Changing one meal changes the model's objective exactly as J changes."""
    p = problem_of("omnivore-3meals")
    plan = [list(day) for day in dish_plan.solve(p)]
    plan[0][1] = plan[1][1]  # a repeat of the same dish at lunch on two days running
    plan = tuple(tuple(day) for day in plan)
    j = dish_plan.evaluate(p, plan)
    assert j >= p.weights.hard
    assert mr.model_objective(p, plan) == pytest.approx(j, abs=1e-6)
    units = mr.penalties(p, plan)
    assert units[1] >= 1
    w = p.weights
    big = w.uncovered_day * units[0] + w.hard * units[1] + w.safety * units[2]
    assert mr.soft_part(p, plan) == pytest.approx(j - big, abs=1e-6)


@pytest.mark.parametrize("days", [10, 14])
def test_the_model_objective_of_a_longer_plan_is_its_j(days):
    """Over two weeks the 60 % rule holds week by week, in J and in the model."""
    profile = parse_profile({"age_years": 50, "diet": "vegetarian", "days": days,
                             "meals_per_day": 3, "allergies": ["milk", "egg"]})
    p = build_dish_problem(profile, TABLE, week="2025-W20", reference=REFERENCE)
    plan = dish_plan.solve(p)
    j = dish_plan.evaluate(p, plan)
    assert mr.model_objective(p, plan) == pytest.approx(j, abs=1e-6)
    # the second week repeating the first one's dishes on every day breaks the
    # weekly rule only if the week is short of dishes: both sides agree anyway
    same = tuple(plan[d % 7] for d in range(days))
    assert mr.model_objective(p, same) == pytest.approx(dish_plan.evaluate(p, same), abs=1e-6)


def test_highs_solves_a_small_problem_to_a_plan_no_worse_than_the_heuristic():
    profile = parse_profile({"age_years": 40, "diet": "vegan", "days": 2,
                             "meals_per_day": 2, "accept_supplement": False})
    p = build_dish_problem(profile, TABLE, week="2025-W10", reference=REFERENCE)
    assert p.chase and p.spread
    start = dish_plan.solve(p)
    result = mr.solve_milp(p, time_limit_s=20, start=start)
    assert result.objective == pytest.approx(dish_plan.evaluate(p, result.solution))
    assert result.objective <= dish_plan.evaluate(p, start) + 1e-9
    assert result.bound <= result.objective + 1e-6
    assert result.status == "Optimal"
