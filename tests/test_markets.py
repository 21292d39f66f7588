"""Markets: fortified foods from the person's own market (issue 18).

The food table's ``markets`` column says where each row's B12 figure holds; a
profile's ``market`` (default from the guideline) decides which rows a plan and
the lists of good sources may use.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from mail_support import subscribe_and_confirm
from sqlalchemy import select

from foods.loader import SHIPPED_TABLE
from foods.loader import TABLE_COLUMNS
from foods.loader import TableError
from foods.loader import load_foods
from foods.loader import load_table
from planner.commands.foods import foods as foods_cli
from planner.commands.plan import plan as plan_cli
from planner.data.loader import load_reference
from planner.domain.model import ALLERGENS
from planner.domain.model import DIETS
from planner.domain.planning import PlanError
from planner.domain.planning import make_plan
from planner.domain.planning import plan_seed
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.mail import subscribers as store
from planner.store.db import db
from planner.store.models import Subscriber

TABLE = load_foods()
BY_ID = {f.food_id: f for f in TABLE}
REFERENCE = load_reference()
FOOD_IDS = sorted(BY_ID)
WEEK = "2025-W10"

pytest_plugins = ["mail_fixtures"]


def plan_of(data: dict, week: str = WEEK):
    return make_plan(parse_profile(data), TABLE, week=week, reference=REFERENCE)


def used_ids(plan) -> set[str]:
    return {i.food_id for d in plan.days for m in d.meals for i in m.items}


def raw_rows() -> list[dict]:
    with open(SHIPPED_TABLE, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------
# The profile field


@pytest.mark.parametrize("guideline, market", [
    ("us", "us"), ("uk", "uk"), ("efsa", "eu"), ("dach", "eu"), ("nnr", "eu"), ("who", "any"),
])
def test_market_defaults_from_the_guideline(guideline, market):
    profile = parse_profile({"age_years": 30, "diet": "vegan", "guideline": guideline})

    assert profile.market == market
    assert profile.to_dict()["market"] == market


def test_a_given_market_wins_over_the_guideline_default():
    profile = parse_profile({"age_years": 30, "diet": "vegan", "guideline": "efsa",
                             "market": "uk"})

    assert profile.market == "uk"


def test_an_unknown_market_is_refused_naming_the_field_and_the_choices():
    with pytest.raises(ProfileError) as e:
        parse_profile({"age_years": 30, "diet": "vegan", "market": "fr"})

    [error] = e.value.errors
    assert error["field"] == "market"
    assert "'fr'" in error["message"] and "us, uk, eu, any" in error["message"]


def test_the_default_market_leaves_the_plan_seed_unchanged():
    """Adding the field does not reshuffle existing plans: the implied market is
    left out of the seed; another market is part of it."""
    implied = parse_profile({"age_years": 30, "diet": "vegan", "guideline": "efsa"})
    explicit = parse_profile({"age_years": 30, "diet": "vegan", "guideline": "efsa",
                              "market": "eu"})
    other = parse_profile({"age_years": 30, "diet": "vegan", "guideline": "efsa",
                           "market": "uk"})

    assert plan_seed(implied, WEEK) == plan_seed(explicit, WEEK)
    assert plan_seed(other, WEEK) != plan_seed(implied, WEEK)


# ---------------------------------------------------------------------------
# Plans: a UK or EU profile never uses a row its market lacks


@st.composite
def uk_or_eu_profiles(draw) -> dict:
    data = {
        "age_years": draw(st.integers(1, 90)),
        "diet": draw(st.sampled_from(DIETS)),
        "guideline": draw(st.sampled_from(["uk", "efsa", "dach", "nnr"])),
        "meals_per_day": draw(st.integers(2, 5)),
        "days": draw(st.integers(1, 14)),
        "allergies": draw(st.lists(st.sampled_from(ALLERGENS), max_size=2, unique=True)),
        "accept_supplement": draw(st.booleans()),
    }
    if draw(st.booleans()):  # a market given outright, not only implied
        data["market"] = draw(st.sampled_from(["uk", "eu"]))
    if draw(st.booleans()):  # their own list may even name US products
        data["include_foods"] = draw(st.lists(st.sampled_from(FOOD_IDS), min_size=1,
                                              max_size=8, unique=True))
    return data


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=uk_or_eu_profiles(), week=st.integers(1, 52))
def test_uk_and_eu_plans_use_only_rows_sold_in_their_market(data, week):
    profile = parse_profile(data)
    assert profile.market in ("uk", "eu")
    try:
        plan = make_plan(profile, TABLE, week=f"2025-W{week:02d}", reference=REFERENCE)
    except PlanError as e:  # only a refused supplement stops a plan
        assert e.field == "accept_supplement" and not profile.accept_supplement
        return
    for fid in used_ids(plan):
        markets = BY_ID[fid].markets
        assert "any" in markets or profile.market in markets, (fid, markets)
    for item in plan.shopping_list:
        assert BY_ID[item.food_id].sold_in(profile.market)


@pytest.mark.parametrize("diet", DIETS)
@pytest.mark.parametrize("guideline", ["uk", "efsa", "dach", "nnr"])
def test_uk_and_eu_plans_over_many_weeks_never_use_us_products(diet, guideline):
    us_only = {f.food_id for f in TABLE if f.markets == {"us"}}
    for week in range(1, 53, 3):
        for accept in (True, False):
            try:
                plan = plan_of({"age_years": 35, "diet": diet, "guideline": guideline,
                                "accept_supplement": accept}, f"2025-W{week:02d}")
            except PlanError:
                continue
            assert not used_ids(plan) & us_only


def test_a_us_profile_may_use_us_rows():
    us_used = set()
    for week in range(1, 13):
        plan = plan_of({"age_years": 30, "diet": "vegan", "guideline": "us",
                        "accept_supplement": False}, f"2025-W{week:02d}")
        us_used |= {fid for fid in used_ids(plan) if BY_ID[fid].markets == {"us"}}
    assert us_used  # US-fortified cereals, drinks and yeast are open to US readers


def test_the_same_person_gets_uk_foods_in_the_uk_and_us_foods_in_the_us():
    base = {"age_years": 30, "diet": "vegan", "guideline": "us", "accept_supplement": False}
    us_plan = plan_of(base)
    uk_plan = plan_of({**base, "market": "uk"})

    assert any(BY_ID[f].markets == {"us"} for f in used_ids(us_plan))
    assert all(BY_ID[f].sold_in("uk") for f in used_ids(uk_plan))
    assert any("uk" in BY_ID[f].markets for f in used_ids(uk_plan))


def test_an_unknown_market_plans_only_with_foods_sold_everywhere():
    plan = plan_of({"age_years": 30, "diet": "vegetarian", "guideline": "who"})

    assert used_ids(plan)
    assert all(BY_ID[f].markets == {"any"} for f in used_ids(plan))


# ---------------------------------------------------------------------------
# The shipped table


def test_every_row_names_its_markets_and_fortified_rows_never_say_any():
    for row in raw_rows():
        words = row["markets"].split(";")
        assert row["markets"], row["food_id"]
        assert set(words) <= {"us", "uk", "eu"} or words == ["any"], row["food_id"]
        if row["fortified"] == "true":
            assert "any" not in words, row["food_id"]


def test_us_branded_rows_are_us_only():
    brands = ("kellogg", "general mills", "post ", "kashi", "silk", "nasoya",
              "morningstar", "worthington", "loma linda")
    for food in TABLE:
        if any(b in food.name.casefold() for b in brands):
            assert food.markets == {"us"}, food.food_id


def test_one_fortified_nutritional_yeast_per_market_and_one_unfortified():
    yeast = [f for f in TABLE if f.group == "nutritional_yeast"]
    fortified = Counter(m for f in yeast if f.fortified for m in f.markets)
    unfortified = [f for f in yeast if not f.fortified]

    assert max(fortified.values()) == 1
    assert fortified["us"] == 1 and fortified["uk"] == 1
    assert len(unfortified) == 1 and unfortified[0].b12_ug_per_100g == 0
    assert "nutritional_yeast_fortified_high_potency" not in BY_ID
    assert "nutritional_yeast_fortified_4ug_per_tbsp" not in BY_ID


def test_textured_soy_protein_is_not_counted_unless_a_row_says_fortified():
    tvp = BY_ID["meat_extender_soy"]
    plan = plan_of({"age_years": 30, "diet": "vegan", "include_foods": ["meat_extender_soy"]})

    assert not tvp.fortified and not tvp.counts_as_source
    # issue 13: it may be an ingredient of a dish (soya mince chili), never a B12 source
    assert all(i.b12_ug == 0 for d in plan.days for m in d.meals for i in m.items
               if i.food_id == "meat_extender_soy")


TYPICAL = {  # food_id: (markets, B12 per serving [µg] from b12-reference.md §6)
    "soy_drink_fortified_eu": ({"uk", "eu"}, 0.38 * 2.5),
    "oat_drink_fortified_eu": ({"uk", "eu"}, 0.38 * 2.5),
    "almond_drink_fortified_eu": ({"uk", "eu"}, 0.38 * 2.5),
    "cereal_fortified_typical_uk": ({"uk"}, 0.87),
    "cereal_fortified_typical_us": ({"us"}, 0.6),
    "yeast_flakes_fortified_uk": ({"uk"}, 0.88 / 2 * 7.5),
    "nutritional_yeast_fortified_generic": ({"us"}, 8.3 / 15 * 7.5),
    "vegan_spread_fortified": ({"uk"}, 0.5),
}


@pytest.mark.parametrize("food_id", TYPICAL)
def test_typical_rows_are_estimates_with_a_reference_source_and_say_check_the_label(food_id):
    food = BY_ID[food_id]
    markets, per_serving = TYPICAL[food_id]

    assert food.markets == markets
    assert food.fortified and food.evidence == "estimated"
    assert food.source.startswith("reference:") and "b12-reference.md §6" in food.source
    assert food.b12_ug_per_serving == pytest.approx(per_serving, rel=0.01)
    assert "typical level" in food.name
    assert "check the label" in food.notes.casefold() or "printed on your own" in food.notes


# ---------------------------------------------------------------------------
# foods check: broken tables


HEADER = ",".join(TABLE_COLUMNS)
DRINK = ("uk_soy,Soya drink fortified,plant_drink,0.38,250,1 glass (250 g),breakfast,"
         "vegan;vegetarian;pescatarian;omnivore,soy,true,label:Brand X pack 2025,label,")
MILK = ("milk,Milk,milk,0.45,244,1 cup (244 g),breakfast,vegetarian;pescatarian;omnivore,"
        "milk,false,usda-sr28:01077,measured,")


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "table.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_table_with_markets_loads_them(tmp_path):
    foods = load_table(write(tmp_path, DRINK + ",uk;eu", MILK + ",any"))

    assert [f.markets for f in foods] == [{"uk", "eu"}, {"any"}]
    assert foods[0].sold_in("eu") and not foods[0].sold_in("us")
    assert foods[1].sold_in("us") and foods[1].sold_in("any")


@pytest.mark.parametrize("row, words", [
    (DRINK + ",fr", ["line 3", "column markets", "unknown market(s) 'fr'", "us, uk, eu"]),
    (DRINK + ",uk;mars", ["column markets", "'mars'"]),
    (MILK + ",any;us", ["column markets", "cannot be combined"]),
    (DRINK + ",", ["line 3", "food_id 'uk_soy'", "column markets", "is empty",
                   "fortified", "us, uk, eu"]),
    (DRINK + ",any", ["column markets", "fortified", "name its markets"]),
])
def test_foods_check_refuses_unknown_markets_and_fortified_rows_without_one(
        tmp_path, row, words):
    with pytest.raises(TableError) as e:
        load_table(write(tmp_path, MILK + ",any", row))

    message = str(e.value)
    for word in words:
        assert word in message


def test_foods_check_cli_refuses_a_branded_fortified_row_without_markets(tmp_path):
    path = write(tmp_path, DRINK + ",")

    result = CliRunner().invoke(foods_cli, ["check", str(path)])

    assert result.exit_code != 0
    assert "column markets" in result.output and "fortified" in result.output


def test_a_table_from_before_markets_still_loads(tmp_path):
    """User tables written before the column existed: unfortified rows are sold
    everywhere, USDA and a person's own label entries get their default."""
    old_header = ",".join(TABLE_COLUMNS[:-1])
    sr28 = DRINK.replace("label:Brand X pack 2025", "usda-sr28:16139")
    own = DRINK.replace("uk_soy", "my_soy").replace("label:Brand X pack 2025",
                                                    "user:label entered 2025-01-01")
    fdc = DRINK.replace("uk_soy", "fdc_soy").replace("label:Brand X pack 2025", "fdc:2257046")

    foods = {f.food_id: f for f in load_table(write(tmp_path, MILK, sr28, own, fdc,
                                                    header=old_header))}

    assert foods["milk"].markets == {"any"}
    assert foods["uk_soy"].markets == {"us"}
    assert foods["my_soy"].markets == {"any"}
    assert foods["fdc_soy"].markets == {"us"}
    with pytest.raises(TableError, match="column markets"):
        load_table(write(tmp_path, DRINK, header=old_header))


def test_a_plant_food_with_b12_counts_only_when_the_row_says_fortified(tmp_path):
    tvp = ("tvp,Textured soy protein,meat_substitute,6,28,1 oz (28 g),lunch;dinner,"
           "vegan;vegetarian;pescatarian;omnivore,soy,{},usda-sr28:16106,measured,,us")
    plain, fortified = load_table(write(tmp_path, tvp.format("false").replace("tvp,", "tvp0,"),
                                        tvp.format("true")))

    assert not plain.counts_as_source
    assert fortified.counts_as_source


# ---------------------------------------------------------------------------
# Label checks


def test_a_vegan_without_a_supplement_gets_a_label_check_for_each_fortified_food():
    plan = plan_of({"age_years": 30, "diet": "vegan", "guideline": "uk",
                    "accept_supplement": False})
    fortified = [fid for fid in dict.fromkeys(
        i.food_id for d in plan.days for m in d.meals for i in m.items) if BY_ID[fid].fortified]

    assert plan.supplement is None and fortified
    assert [c.food_id for c in plan.label_checks] == fortified
    for check in plan.label_checks:
        food = BY_ID[check.food_id]
        assert check.min_ug_per_serving >= food.b12_ug_per_serving - 1e-9
        assert check.min_ug_per_serving == pytest.approx(food.b12_ug_per_serving, abs=0.01)
        assert f"check the label: at least {check.min_ug_per_serving:g} µg" in check.text
        assert food.serving_label in check.text
        assert check.typical == (food.evidence == "estimated")


def test_x_is_computed_from_the_plan_rounded_up():
    plan = plan_of({"age_years": 30, "diet": "vegan", "guideline": "us",
                    "accept_supplement": False})
    yeast = next(c for c in plan.label_checks
                 if c.food_id == "nutritional_yeast_fortified_generic")

    assert yeast.min_ug_per_serving == 4.15  # 55.3 µg/100 g × 7.5 g = 4.1475 µg
    assert yeast.typical and "typical level for your market" in yeast.text


def test_plans_with_a_supplement_check_only_typical_rows():
    plan = plan_of({"age_years": 30, "diet": "vegan", "guideline": "efsa"})

    assert plan.supplement is not None
    assert all(c.typical for c in plan.label_checks)
    assert {c.food_id for c in plan.label_checks} == {
        fid for fid in used_ids(plan) if BY_ID[fid].evidence == "estimated"
        and BY_ID[fid].fortified}


def test_a_plan_that_does_not_lean_on_fortified_food_checks_only_typical_rows():
    """An omnivore's plan gets no "check the label" line for a branded product it
    counts at its label figure, only for typical levels."""
    for week in range(1, 20):
        plan = plan_of({"age_years": 40, "diet": "omnivore", "guideline": "us",
                        "accept_supplement": False}, f"2025-W{week:02d}")
        assert all(c.typical for c in plan.label_checks)
        assert plan.to_dict()["label_checks"] == [c.to_dict() for c in plan.label_checks]


# ---------------------------------------------------------------------------
# Web, API, CLI, subscriptions


def test_the_form_shows_the_market_next_to_the_guideline(client):
    html = client.get("/").get_data(as_text=True)

    guideline = html.index('id="field-guideline"')
    market = html.index('id="field-market"')
    meals = html.index('id="field-meals_per_day"')
    assert guideline < market < meals
    assert '<label for="field-market">Where you shop</label>' in html
    for value in ("us", "uk", "eu", "any"):
        assert f'<option value="{value}"' in html[market:meals]


def test_the_form_keeps_a_chosen_market(client):
    html = client.get("/?age_years=30&diet=vegan&market=uk").get_data(as_text=True)
    market = html[html.index('id="field-market"'):html.index('id="field-meals_per_day"')]

    assert '<option value="uk" selected>' in market


def test_a_bad_market_on_the_form_is_a_400_naming_the_field(client):
    response = client.get("/plan?age_years=30&diet=vegan&market=mars")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="err-market"' in html and "us, uk, eu, any" in html


def test_the_plan_page_uses_the_market_and_shows_label_checks(client):
    query = ("age_years=30&diet=vegan&guideline=efsa&market=uk&accept_supplement=false"
             "&week=2025-W10")
    data = client.get(f"/plan.json?{query}").get_json()
    page = client.get(f"/plan?{query}").get_data(as_text=True)

    assert data["profile"]["market"] == "uk"
    for day in data["days"]:
        for meal in day["meals"]:
            for item in meal["ingredients"]:
                assert BY_ID[item["food_id"]].sold_in("uk")
    assert "foods sold in: United Kingdom" in page
    assert 'id="label-checks-title">Check the label</h2>' in page
    assert data["label_checks"]
    for check in data["label_checks"]:
        assert f"check the label: at least {check['min_ug_per_serving']:g} µg" in page


def test_the_handout_lists_good_sources_from_the_clients_market_and_label_checks(client):
    html = client.get("/plan/handout?age_years=30&diet=vegan&guideline=uk"
                      "&accept_supplement=false&week=2025-W10").get_data(as_text=True)
    section = html[html.index('id="foods-title"'):html.index("</section>",
                                                             html.index('id="foods-title"'))]

    assert "Where they shop" in html and "United Kingdom" in html
    assert "Check the label" in html
    assert "typical level: check the label" in section
    us_only = [f.name for f in TABLE if f.markets == {"us"}]
    assert not [name for name in us_only if name.replace("'", "&#39;") in section]


def test_the_api_takes_a_market_and_returns_it(client):
    body = {"age_years": 30, "diet": "vegan", "guideline": "us", "market": "eu"}
    data = client.post("/api/v1/plan?week=2025-W10", json=body).get_json()

    assert data["profile"]["market"] == "eu"
    assert data["label_checks"]
    for item in data["shopping_list"]:
        assert BY_ID[item["food_id"]].sold_in("eu")
    bad = client.post("/api/v1/plan?week=2025-W10", json={**body, "market": "fr"})
    assert bad.status_code in (400, 422)
    assert "market" in json.dumps(bad.get_json())


def test_the_api_and_the_foods_page_filter_by_market(client):
    uk = client.get("/api/v1/foods?market=uk").get_json()["foods"]
    ids = {f["food_id"] for f in uk}

    assert "cereal_fortified_typical_uk" in ids and "cheerios" not in ids
    assert all("any" in f["markets"] or "uk" in f["markets"] for f in uk)
    assert client.get("/api/v1/foods?market=mars").status_code == 400
    page = client.get("/foods?market=eu").get_data(as_text=True)
    assert "Soya drink, fortified, typical level (UK/EU)" in page
    assert "Cheerios" not in page


def test_openapi_describes_the_market(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]

    assert set(schemas["Market"]["enum"]) == {"us", "uk", "eu", "any"}
    assert "market" in schemas["Profile"]["properties"]
    assert "market" in schemas["ResolvedProfile"]["required"]
    assert "label_checks" in schemas["Plan"]["properties"]
    assert "markets" in schemas["Food"]["properties"]


def test_the_plan_cli_shows_the_market_and_label_checks(tmp_path):
    path = tmp_path / "uk.json"
    path.write_text(json.dumps({"age_years": 30, "diet": "vegan", "guideline": "uk",
                                "accept_supplement": False}), encoding="utf-8")

    result = CliRunner().invoke(plan_cli, [str(path), "--week", "2025-W10",
                                           "--format", "text"])

    assert result.exit_code == 0, result.output
    assert "Foods sold in: the UK." in result.output
    assert "Check the label:" in result.output
    assert re.search(r"check the label: at least [\d.]+ µg", result.output)


def test_the_plan_cli_refuses_a_bad_market_with_exit_2(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"age_years": 30, "diet": "vegan", "market": "mars"}),
                    encoding="utf-8")

    result = CliRunner().invoke(plan_cli, [str(path)])

    assert result.exit_code == 2
    assert "market: 'mars' is not a market; choose one of us, uk, eu, any" in result.output


def test_foods_list_filters_by_market():
    result = CliRunner().invoke(foods_cli, ["list", "--market", "uk", "--format", "json"])

    assert result.exit_code == 0, result.output
    ids = {f["food_id"] for f in json.loads(result.output)}
    assert "marmite_yeast_extract_uk" in ids and "total_whole_grain" not in ids
    assert all(BY_ID[i].sold_in("uk") for i in ids)


# ---------------------------------------------------------------------------
# Subscriptions store the market (the profile JSON is stored whole)


def test_a_subscription_stores_the_market_and_the_preferences_show_it(
        mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org", guideline="efsa",
                          market="uk")
    with mail_app.app_context():
        row = db.session.scalars(select(Subscriber)).one()
        stored = json.loads(row.profile_json)
        link = "/preferences/" + store.make_token(row, "preferences")

    assert stored["market"] == "uk" and stored["guideline"] == "efsa"
    page = mail_client.get(link).get_data(as_text=True)
    market = page[page.index('id="field-market"'):page.index('id="field-meals_per_day"')]
    assert '<option value="uk" selected>' in market


def test_a_profile_stored_before_markets_gets_its_guidelines_market():
    stored = {"age_years": 34, "diet": "vegan", "guideline": "dach", "sex": "unspecified"}

    assert parse_profile(stored).market == "eu"


def test_a_us_product_on_a_uk_readers_own_list_is_left_out_with_a_note():
    plan = plan_of({"age_years": 30, "diet": "vegan", "guideline": "uk",
                    "include_foods": ["total_whole_grain", "soy_drink_fortified_eu"]})

    assert "total_whole_grain" not in used_ids(plan)
    [note] = [n for n in plan.notes if "another market" in n]
    assert "General Mills Whole Grain Total cereal (US)" in note
    assert "from its label" in note


# A dish's fortified drink of another market is swapped for one made of the same
# thing (a dietitian read "porridge with fortified soya drink, made with rice drink
# instead of soya drink" in US plans for pregnancy and children).

TABLE_BY_ID = {f.food_id: f for f in TABLE}


def _served_instead(data: dict, dish_id: str) -> set[str]:
    """The foods served in place of a dish's own ingredients, over a few weeks."""
    from planner.domain.planning import build_dish_problem

    prof = parse_profile(data)
    problem = build_dish_problem(prof, TABLE, week=WEEK, reference=REFERENCE)
    dish = next(d for d in REFERENCE.dishes if d.dish_id == dish_id)
    own = {i.food_id for i in dish.ingredients}
    return {f.food_id for cands in problem.candidates for c in cands if c.dish is dish
            for f, _ in c.ingredients} - own


@pytest.mark.parametrize("data", [
    {"age_years": 34, "diet": "vegan", "guideline": "us"},
    {"age_years": 30, "sex": "female", "diet": "vegan", "life_stage": "pregnant"},
    {"age_years": 10, "diet": "vegan"},
])
def test_a_soya_drink_of_another_market_becomes_an_everyday_soya_drink_of_this_one(data):
    swapped = _served_instead(data, "porridge_soy_drink_berries")
    assert len(swapped) == 1
    [food] = [TABLE_BY_ID[f] for f in swapped]
    assert food.allergens == TABLE_BY_ID["soy_drink_fortified_eu"].allergens
    assert food.fortified and food.tier == "everyday"
    assert "chocolate" not in food.name.casefold()
    assert food.sold_in(parse_profile(data).market)


def test_without_soya_the_swap_takes_another_fortified_drink():
    swapped = _served_instead({"age_years": 34, "diet": "vegan", "guideline": "us",
                               "allergies": ["soy"]}, "porridge_soy_drink_berries")
    assert swapped and all("soy" not in TABLE_BY_ID[f].allergens for f in swapped)
