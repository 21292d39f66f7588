"""The plan optimiser on plain inputs: constraints, objective, optimality, determinism."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from foods.loader import load_table
from planner.domain.absorption import AbsorptionParams
from planner.domain.absorption import absorbed_target_ug
from planner.domain.absorption import absorbed_ug
from planner.domain.model import MEAL_NAMES
from planner.domain.model import meal_kind
from planner.domain.optimizer import HALF_STEPS
from planner.domain.optimizer import WHOLE_STEPS
from planner.domain.optimizer import Weights
from planner.domain.optimizer import evaluate
from planner.domain.optimizer import make_problem
from planner.domain.optimizer import rotation_costs
from planner.domain.optimizer import serving_steps
from planner.domain.optimizer import solve
from planner.domain.optimizer import uses_limit
from planner.domain.optimizer import violations

SMALL = Path(__file__).parent / "data" / "foods_small.csv"
PARAMS = AbsorptionParams(
    if_max_ug=1.2, if_initial_fraction=0.6, passive_fraction=0.013, no_if_fraction=0.012
)
US_INTAKE_UG = 2.4
US_ABSORBED_UG = absorbed_target_ug(US_INTAKE_UG, PARAMS)


@pytest.fixture(scope="module")
def small_foods():
    return {f.food_id: f for f in load_table(SMALL)}


def problem_for(foods, ids, *, meals=3, days=7, intake_ug=US_INTAKE_UG, seed=b"test",
                **kw):
    chosen = [foods[i] for i in ids]
    return make_problem(
        chosen, MEAL_NAMES[meals], days, absorbed_target_ug(intake_ug, PARAMS),
        intake_ug, PARAMS, seed=seed, **kw,
    )


def day_absorbed_ug(problem, day):
    return sum(problem.absorbed_ug(sum(problem.dose_ug(it) for it in meal)) for meal in day)


def test_a_fortified_vegan_week_is_covered_every_day_within_the_rules(small_foods):
    problem = problem_for(small_foods, ["soy_drink_fortified", "cereal_fortified",
                                        "yeast_flakes_fortified"])
    solution = solve(problem)

    assert violations(problem, solution) == []
    assert all(day_absorbed_ug(problem, d) >= problem.target_absorbed_ug for d in solution)
    assert evaluate(problem, solution).uncovered_days == 0


def test_foods_only_go_to_meals_they_suit(small_foods):
    problem = problem_for(small_foods, ["cereal_fortified", "yeast_flakes_fortified"],
                          meals=5)
    for day in solve(problem):
        for name, meal in zip(problem.meals, day, strict=True):
            for f, _ in meal:
                assert meal_kind(name) in problem.foods[f].meals


def test_no_food_appears_in_more_meals_than_its_weekly_limit(small_foods):
    problem = problem_for(small_foods, ["soy_drink_fortified", "milk", "cheese", "egg"],
                          max_uses_per_week=4)
    uses = {}
    for day in solve(problem):
        for meal in day:
            for f, _ in meal:
                uses[f] = uses.get(f, 0) + 1
    assert max(uses.values()) <= 4


def test_a_meal_never_holds_more_items_than_allowed(small_foods):
    ids = ["soy_drink_fortified", "milk", "cheese", "egg"]
    for limit in (1, 2):
        problem = problem_for(small_foods, ids, max_items_per_meal=limit,
                              max_uses_per_week=14)
        assert all(len(meal) <= limit for day in solve(problem) for meal in day)


def test_eggs_and_fillets_stay_whole_and_drinks_may_be_halved(small_foods):
    assert serving_steps(small_foods["egg"]) == WHOLE_STEPS
    assert serving_steps(small_foods["salmon"]) == WHOLE_STEPS
    assert serving_steps(small_foods["soy_drink_fortified"]) == HALF_STEPS
    assert serving_steps(small_foods["cheese"]) == HALF_STEPS  # "2 slices" halves to one


def test_the_uses_limit_is_pro_rata_of_a_week():
    assert uses_limit(4, 7) == 4
    assert uses_limit(4, 14) == 8
    assert uses_limit(4, 1) == 1
    assert uses_limit(7, 3) == 3


def test_rotation_costs_are_stable_and_within_their_scale(small_foods):
    foods = list(small_foods.values())
    first = rotation_costs(foods, b"seed", 0.3)
    assert first == rotation_costs(foods, b"seed", 0.3)
    assert first != rotation_costs(foods, b"other seed", 0.3)
    assert all(0 <= r < 0.3 for r in first)


def test_the_objective_adds_up_its_terms_by_hand(small_foods):
    problem = problem_for(small_foods, ["cereal_fortified", "soy_drink_fortified"],
                          meals=2, days=2, seed=b"x")
    cereal, soy = 0, 1  # indices in problem.foods
    solution = (
        (((cereal, 2.0),), ((soy, 1.0),)),  # 6 µg + 1 µg: covered
        ((), ((soy, 1.0),)),  # 1 µg only: not covered
    )
    w = problem.weights
    target = problem.target_absorbed_ug
    day2 = absorbed_ug(1.0, PARAMS)
    expected = (
        w.item * 3
        + w.intake_per_target * 8.0 / US_INTAKE_UG
        + problem.rotation[cereal] + 2 * problem.rotation[soy]
        + w.repeat * 1  # soy twice: 2 × 1 / 2
        + w.uncovered_day
        + w.shortfall_per_target * (target - day2) / target
    )
    score = evaluate(problem, solution)
    assert score.uncovered_days == 1
    assert score.total == pytest.approx(expected)


def test_scarce_food_covers_as_many_days_as_it_can_and_the_rest_stay_short(small_foods):
    # soy drink (1 µg a cup) in only two meals a week: 1 + 2 cups at two meals of
    # one day give 0.49 + 0.80 µg absorbed, enough for that day and no other
    problem = problem_for(small_foods, ["soy_drink_fortified"], meals=2, days=7,
                          max_uses_per_week=2)
    solution = solve(problem)
    assert evaluate(problem, solution).uncovered_days == 6
    assert sum(day_absorbed_ug(problem, d) >= problem.target_absorbed_ug
               for d in solution) == 1
    assert violations(problem, solution) == []


def test_a_day_food_cannot_cover_gets_as_close_as_the_foods_allow(small_foods):
    problem = problem_for(small_foods, ["soy_drink_fortified"], meals=2, days=1,
                          max_items_per_meal=1, intake_ug=5.0, max_uses_per_week=14)
    (day,) = solve(problem)
    assert day == (((0, 2.0),), ((0, 2.0),))  # the most the rules allow


def test_no_food_means_empty_meals(small_foods):
    problem = problem_for(small_foods, ["tofu_plain", "almond_drink_plain"], days=3)
    assert problem.foods == ()  # foods without B12 never enter the problem
    assert solve(problem) == (((), (), ()),) * 3


def test_high_dose_liver_loses_to_moderate_foods(small_foods):
    problem = problem_for(small_foods, ["beef_liver", "beef", "salmon"], days=4)
    used = {problem.foods[f].food_id for d in solve(problem) for m in d for f, _ in m}
    assert "beef_liver" not in used


def test_the_same_problem_gives_the_same_solution(small_foods):
    ids = ["soy_drink_fortified", "cereal_fortified", "yeast_flakes_fortified", "milk"]
    assert solve(problem_for(small_foods, ids)) == solve(problem_for(small_foods, ids))


# ---------------------------------------------------------------------------
# Optimality: one day, against exhaustive enumeration of every meal choice


def every_meal_choice(problem, meal):
    options = [(f, s) for f in range(len(problem.foods)) for s in problem.steps[f]
               if meal_kind(meal) in problem.foods[f].meals]
    yield ()
    for a in options:
        yield (a,)
    if problem.max_items_per_meal >= 2:
        for a, b in itertools.combinations(options, 2):
            if a[0] != b[0]:
                yield (a, b)


def brute_force_day(problem):
    choices = [list(every_meal_choice(problem, m)) for m in problem.meals]
    best = None
    for day in itertools.product(*choices):
        if violations(problem, (day,)):
            continue
        total = evaluate(problem, (day,)).total
        if best is None or total < best:
            best = total
    return best


FOOD_IDS = ["soy_drink_fortified", "cereal_fortified", "yeast_flakes_fortified", "milk",
            "egg", "cheese", "salmon", "beef"]


# The day solver is a heuristic that was exact on every case tried (thousands,
# random seeds); the examples here are fixed so a rare miss cannot flake CI.
@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    ids=st.lists(st.sampled_from(FOOD_IDS), min_size=1, max_size=4, unique=True),
    meals=st.sampled_from([2, 3]),
    intake_ug=st.sampled_from([0.9, 1.5, 2.4, 4.0]),
    seed=st.binary(min_size=1, max_size=4),
)
def test_one_day_is_solved_to_the_exhaustive_optimum(small_foods, ids, meals, intake_ug,
                                                     seed):
    problem = problem_for(small_foods, ids, meals=meals, days=1, intake_ug=intake_ug,
                          seed=seed, max_uses_per_week=14)
    got = evaluate(problem, solve(problem)).total
    assert got == pytest.approx(brute_force_day(problem), rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.sampled_from(FOOD_IDS + ["beef_liver", "nori_sheet"]), min_size=0,
                 max_size=8, unique=True),
    meals=st.integers(2, 5),
    days=st.integers(1, 14),
    items=st.integers(1, 2),
    uses=st.integers(1, 7),
    intake_ug=st.sampled_from([0.5, 1.2, 2.4, 2.8, 4.0, 5.5]),
    intrinsic_factor=st.booleans(),
)
def test_every_solution_keeps_the_hard_constraints(small_foods, ids, meals, days, items,
                                                   uses, intake_ug, intrinsic_factor):
    problem = problem_for(small_foods, ids, meals=meals, days=days, intake_ug=intake_ug,
                          max_items_per_meal=items, max_uses_per_week=uses,
                          intrinsic_factor=intrinsic_factor)
    solution = solve(problem)
    assert violations(problem, solution) == []
    score = evaluate(problem, solution)
    assert score.total >= 0
    assert score.uncovered_days == sum(
        day_absorbed_ug(problem, d) < problem.target_absorbed_ug - 1e-9 for d in solution
    )


def test_default_weights_are_the_documented_ones():
    w = Weights()
    assert (w.uncovered_day, w.shortfall_per_target, w.item, w.intake_per_target,
            w.repeat, w.rotation) == (1000.0, 10.0, 1.0, 0.25, 0.2, 0.3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.floats(0, 50), st.lists(st.integers(0, 12),
                                                                      max_size=3)),
                min_size=1, max_size=600))
def test_the_food_by_food_frontier_keeps_the_plain_front_and_stays_bounded(raw):
    """Days food can hardly cover produce thousands of meal states; comparing them
    food by food is quadratic, so past MAX_FOOD_STATES only the plain Pareto front
    is kept (a 14-day plan for an 87-year-old EU vegetarian took 23 s before)."""
    from planner.domain.optimizer import MAX_FOOD_STATES
    from planner.domain.optimizer import _pareto
    from planner.domain.optimizer import _pareto_by_foods
    states = [(e, c, (), tuple(sorted(f))) for e, c, f in raw]
    kept = _pareto_by_foods(list(states))
    front = _pareto(list(states))
    assert {(s[0], s[1]) for s in front} <= {(s[0], s[1]) for s in kept}
    assert len(kept) <= MAX_FOOD_STATES + len(front)
