"""Issue 13, speed: the solver's bounded searches find what the full searches find.

``_State.best`` with ``below`` and ``_try_chain`` with ``limit`` stop early when
no candidate can beat a value already in hand; these tests check, over real
problems (chasing B12 or not, spreading it or not), that the bounded search
returns the full search's answer whenever that answer is below the bound, and
nothing otherwise, and that trying a chain leaves the state as it was.
"""

from __future__ import annotations

import math

import pytest

from foods.loader import load_foods
from planner.data.loader import load_reference
from planner.domain import dish_plan
from planner.domain.planning import build_dish_problem
from planner.domain.profile import parse_profile

REFERENCE = load_reference()
TABLE = load_foods()

PROFILES = [
    {"age_years": 30, "diet": "omnivore", "meals_per_day": 3},  # chases B12
    {"age_years": 41, "diet": "pescatarian", "meals_per_day": 4},  # chases B12
    {"age_years": 30, "diet": "vegan", "meals_per_day": 3,
     "accept_supplement": False},  # chases and spreads B12
    {"age_years": 70, "diet": "vegetarian", "meals_per_day": 5},  # supplement covers
]


def problem_of(data: dict) -> dish_plan.DishProblem:
    return build_dish_problem(parse_profile(data), TABLE, week="2025-W12", reference=REFERENCE)


def counts(s: dish_plan._State) -> tuple:
    return (dish_plan._current(s), {k: n for k, n in s.uses.items() if n},
            {k: n for k, n in s.ingredient_uses.items() if n}, tuple(s.repeats),
            tuple(s.food_uses))


@pytest.mark.parametrize("data", PROFILES)
def test_bounded_best_finds_the_full_searchs_candidate(data):
    p = problem_of(data)
    s = dish_plan._greedy(p, list(range(len(p.meals))))
    checked = 0
    for d in range(p.days):
        for m in range(len(p.meals)):
            current = s.filled(d, m)
            s.put(d, m, None)
            full = s.best(d, m)
            least = s.local_cost(d, m, p.candidates[m][full])
            assert s.best(d, m, least + 1e-6) == full
            assert s.best(d, m, least - 1e-6) == -1  # nothing costs less than the least
            own = s.local_cost(d, m, p.candidates[m][current])
            bounded = s.best(d, m, own - 1e-7)
            if least < own - 1e-7 - 1e-9:
                assert bounded == full
            s.put(d, m, current)
            checked += 1
    assert checked == p.days * len(p.meals)


@pytest.mark.parametrize("data", PROFILES[:3])
def test_a_chain_tried_with_a_limit_scores_as_without_and_leaves_the_state(data):
    p = problem_of(data)
    s = dish_plan._greedy(p, list(range(len(p.meals))))
    index = [{c.key: i for i, c in enumerate(cands)} for cands in p.candidates]
    before = counts(s)
    tried = 0
    for d in range(p.days):
        for m in range(len(p.meals)):
            x = p.candidates[m][s.filled(d, m)]
            for chain in dish_plan._chains(s, index, d, m, x.key):
                value, moves = dish_plan._try_chain(s, chain)
                assert counts(s) == before
                assert math.isfinite(value) and len(moves) == len(chain)
                assert dish_plan._try_chain(s, chain, value + 1e-6) == (value, moves)
                assert dish_plan._try_chain(s, chain, value - 1e-3) == (math.inf, [])
                assert counts(s) == before
                tried += 1
    assert tried > 0


def test_the_bounded_solver_still_beats_its_greedy_start():
    """The improvement steps still find improving moves through the bounded searches."""
    p = problem_of(PROFILES[0])
    greedy = dish_plan._current(dish_plan._greedy(p, list(range(len(p.meals)))))
    solved = dish_plan.solve(p)
    assert dish_plan.evaluate(p, solved) < dish_plan.evaluate(p, greedy) - 1e-6
    assert dish_plan.solve(p) == solved
