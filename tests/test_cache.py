"""The web layer's plan cache: one build per (profile, week, food table by content),
bounded, and never a plan made from another table."""

from __future__ import annotations

import dataclasses

import pytest

from planner import create_app
from planner import services
from planner.cache import PlanCache
from planner.cache import table_fingerprint
from planner.domain.profile import parse_profile

WEEK = "2025-W07"
VEGAN = {"age_years": 34, "diet": "vegan"}


@pytest.fixture
def builds(monkeypatch):
    """How many plans were really built (calls to the core's make_plan)."""
    calls = []
    real = services.make_plan

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "make_plan", counting)
    return calls


def test_the_same_profile_week_and_table_are_planned_once(app, builds):
    with app.test_request_context():
        first = services.build_plan(parse_profile(VEGAN), WEEK)
        again = services.build_plan(parse_profile(dict(VEGAN)), WEEK)
        assert again is first and len(builds) == 1

        services.build_plan(parse_profile(VEGAN), "2025-W08")
        services.build_plan(parse_profile({**VEGAN, "meals_per_day": 2}), WEEK)
        assert len(builds) == 3


def test_a_table_with_other_content_never_gets_another_tables_plan(app, builds):
    with app.test_request_context():
        table = services.foods()
        plan = services.build_plan(parse_profile(VEGAN), WEEK)
        chosen = next(i for d in plan.days for m in d.meals for i in m.items if i.b12_ug > 0)
        richer = tuple(dataclasses.replace(f, b12_ug_per_100g=f.b12_ug_per_100g * 2)
                       if f.food_id == chosen.food_id else f for f in table)

        same_content = services.build_plan(parse_profile(VEGAN), WEEK, tuple(list(table)))
        other = services.build_plan(parse_profile(VEGAN), WEEK, richer)

    assert same_content is plan  # an equal table in another object: the same plan
    assert len(builds) == 2
    items = [i for d in other.days for m in d.meals for i in m.items
             if i.food_id == chosen.food_id]
    assert items and all(i.b12_ug == pytest.approx(2 * i.grams * [
        f for f in table if f.food_id == chosen.food_id][0].b12_ug_per_100g / 100)
        for i in items)


def test_the_fingerprint_follows_every_field_of_every_row(app):
    table = app.extensions["planner.foods"]
    base = table_fingerprint(table)

    assert table_fingerprint(tuple(list(table))) == base
    assert table_fingerprint(table[:-1]) != base
    for field in ("name", "serving_g", "diets", "counts_as_source", "notes"):
        value = getattr(table[0], field)
        changed = {str: lambda v: v + "x", float: lambda v: v + 1, bool: lambda v: not v,
                   frozenset: lambda v: v | {"extra"}}[type(value)](value)
        edited = (dataclasses.replace(table[0], **{field: changed}), *table[1:])
        assert table_fingerprint(edited) != base, field


def test_the_cache_is_bounded_least_recently_used_first():
    cache = PlanCache(2)
    cache.get_or_build("a", lambda: 1)
    cache.get_or_build("b", lambda: 2)
    cache.get_or_build("a", lambda: pytest.fail("a is cached"))
    cache.get_or_build("c", lambda: 3)  # drops b, the least recently used

    assert len(cache) == 2
    assert cache.get_or_build("b", lambda: "built again") == "built again"
    assert (cache.hits, cache.misses) == (1, 4)


def test_a_failed_build_is_not_cached():
    cache = PlanCache(4)
    with pytest.raises(ValueError):
        cache.get_or_build("k", lambda: (_ for _ in ()).throw(ValueError("no plan")))
    assert cache.get_or_build("k", lambda: "plan") == "plan"


def test_size_zero_turns_the_cache_off(tmp_path, builds):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "PLAN_CACHE_SIZE": 0})
    with app.test_request_context():
        services.build_plan(parse_profile(VEGAN), WEEK)
        services.build_plan(parse_profile(VEGAN), WEEK)
    assert len(builds) == 2


def test_the_cached_api_answer_is_byte_for_byte_a_fresh_one(app, client, tmp_path):
    uncached = create_app({"TESTING": True, "SECRET_KEY": "x", "PLAN_CACHE_SIZE": 0,
                           "INSTANCE_PATH": str(tmp_path / "other")}).test_client()
    url = f"/api/v1/plan?week={WEEK}"
    for profile in (VEGAN, {**VEGAN, "age_years": 34.0}, {**VEGAN, "days": 3}):
        first, cached = client.post(url, json=profile), client.post(url, json=profile)
        fresh = uncached.post(url, json=profile)

        assert first.status_code == cached.status_code == fresh.status_code == 200
        assert first.data == cached.data == fresh.data
        assert first.headers["Content-Type"] == fresh.headers["Content-Type"]
        assert cached.get_json()["profile"]["age_years"] == profile["age_years"]
