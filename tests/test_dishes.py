"""The dish library (issue 13, points 1, 2 and 4): ordinary ingredients in the food
table, tiers, dishes whose diets and allergens follow from their ingredients, and
the ``b12planner dishes`` commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from foods.dishes import DISH_COLUMNS
from foods.dishes import DISH_INGREDIENTS_FILE
from foods.dishes import DISHES_FILE
from foods.dishes import load_dishes
from foods.loader import FOODS_DIR
from foods.loader import GROUPS_FILE
from foods.loader import INGREDIENTS_TABLE
from foods.loader import SHIPPED_TABLE
from foods.loader import TIERS_FILE
from foods.loader import TableError
from foods.loader import load_foods
from foods.loader import load_groups
from foods.loader import load_table
from foods.loader import load_tiers
from planner.commands.dishes import dishes as dishes_cli
from planner.commands.foods import foods as foods_cli
from planner.data.loader import load_reference
from planner.domain.model import AISLES
from planner.domain.model import ALLERGENS
from planner.domain.model import DIETS
from planner.domain.model import MEALS
from planner.domain.model import TIERS
from planner.domain.model import dish_b12_ug
from planner.domain.planning import make_plan
from planner.domain.profile import parse_profile
from planner.pages import catalog

FOODS = load_foods()
BY_ID = {f.food_id: f for f in FOODS}
DISHES = load_dishes(FOODS)
SR28 = FOODS_DIR / "sources" / "usda_sr28_b12.csv"
FNDDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fndds_2004_recipes.csv"


def fortified_source(food_id: str) -> bool:
    food = BY_ID[food_id]
    return food.fortified and food.counts_as_source and food.b12_ug_per_100g > 0


# ---- the shipped library ---------------------------------------------------------------


def test_library_has_150_dishes_counted_by_derived_diet():
    strictest = [d.diet for d in DISHES]
    assert len(DISHES) >= 150
    assert strictest.count("vegan") >= 40
    assert strictest.count("vegetarian") >= 30  # vegetarian, not vegan
    assert strictest.count("pescatarian") >= 25  # pescatarian, not vegetarian
    assert strictest.count("omnivore") == len(DISHES) - sum(
        strictest.count(d) for d in ("vegan", "vegetarian", "pescatarian"))
    assert "" not in strictest  # every dish fits at least the omnivore diet


def test_every_meal_has_dishes_for_every_diet():
    for diet in DIETS:
        for meal in MEALS:
            assert sum(1 for d in DISHES if diet in d.diets and meal in d.meals) >= 5, (diet, meal)


def test_every_dish_diets_and_allergens_are_its_ingredients():
    for dish in DISHES:
        foods = [BY_ID[i.food_id] for i in dish.ingredients]
        assert dish.diets == frozenset.intersection(*(f.diets for f in foods)), dish.dish_id
        assert dish.allergens == frozenset().union(*(f.allergens for f in foods)), dish.dish_id


def test_no_dish_carries_a_b12_figure_of_its_own():
    with open(DISHES_FILE, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header) == DISH_COLUMNS
    assert not any("b12" in column for column in header)
    tuna = next(d for d in DISHES if d.dish_id == "tuna_mayo_sandwich")
    expected = sum(BY_ID[i.food_id].b12_ug_per_100g * i.grams / 100 for i in tuna.ingredients)
    assert dish_b12_ug(tuna, BY_ID) == pytest.approx(expected) and expected > 1


@pytest.mark.parametrize("meal", MEALS)
def test_vegans_have_dishes_with_a_fortified_source_at_every_meal(meal):
    fortified = [d for d in DISHES if "vegan" in d.diets and meal in d.meals
                 and any(fortified_source(i.food_id) for i in d.ingredients)]
    # enough to reach the target from two or more meals a day, all week, with variety
    assert len(fortified) >= 5, [d.dish_id for d in fortified]
    assert all(dish_b12_ug(d, BY_ID) > 0 for d in fortified)


def test_vegan_fortified_dishes_use_realistic_amounts():
    limits = {"plant_drink": 300, "nutritional_yeast": 15, "yeast_extract": 8,
              "vegan_spread": 15, "plant_yogurt": 200, "tofu": 150, "meat_substitute": 100}
    for dish in DISHES:
        for item in dish.ingredients:
            group = BY_ID[item.food_id].group
            if "vegan" in dish.diets and group in limits:
                assert item.grams <= limits[group], (dish.dish_id, item)


def test_every_source_is_fndds_a_reference_or_our_own_reason():
    for dish in DISHES:
        kind, _, rest = dish.source.partition(":")
        assert kind in ("fndds", "reference", "own") and rest.strip(), dish.dish_id
    assert sum(1 for d in DISHES if d.source.startswith("fndds:")) >= 40


@pytest.mark.skipif(not FNDDS.is_file(),
                    reason="the shared FNDDS file (../shared/data) is not on this machine")
def test_every_fndds_dish_names_a_real_food_code():
    with open(FNDDS, newline="", encoding="utf-8") as f:
        codes = {row["food_code"] for row in csv.DictReader(f)}
    fndds = [d for d in DISHES if d.source.startswith("fndds:")]
    assert fndds
    for dish in fndds:
        assert dish.source.removeprefix("fndds:") in codes, dish.dish_id


def test_dishes_are_made_of_foods_as_eaten_not_raw_egg():
    # raw egg is tagged for the food-safety rules; cooked dishes use cooked egg rows
    for dish in DISHES:
        assert not any("raw_egg" in BY_ID[i.food_id].tags for i in dish.ingredients), dish.dish_id


def test_dish_ids_are_unique_and_every_dish_has_ingredients():
    ids = [d.dish_id for d in DISHES]
    assert len(ids) == len(set(ids))
    assert all(d.ingredients and all(i.grams > 0 for i in d.ingredients) for d in DISHES)


# ---- the ordinary ingredients ---------------------------------------------------------


@pytest.fixture(scope="module")
def sr28():
    with open(SR28, newline="", encoding="utf-8") as f:
        return {row["ndb_no"]: row for row in csv.DictReader(f)}


def test_ingredients_file_has_the_b12_tables_header():
    with open(SHIPPED_TABLE, encoding="utf-8") as a, open(INGREDIENTS_TABLE, encoding="utf-8") as b:
        assert a.readline() == b.readline()


def test_every_ingredient_keeps_the_sr28_b12_value_exactly(sr28):
    with open(INGREDIENTS_TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 100
    for row in rows:
        assert row["source"].startswith("usda-sr28:"), row["food_id"]
        ndb = row["source"].removeprefix("usda-sr28:")
        assert ndb in sr28, row["food_id"]
        assert row["b12_ug_per_100g"] == sr28[ndb]["b12_ug_per_100g"], row["food_id"]
        # only foods USDA gives 0 for: an ingredient is never a B12 source
        assert float(row["b12_ug_per_100g"]) == 0, row["food_id"]
        assert row["serving_label"].endswith(f"({row['serving_g']} g)"), row["food_id"]


def test_ingredient_servings_come_from_the_extracts_portions(sr28):
    for food in load_table(INGREDIENTS_TABLE):
        row = sr28[food.source.removeprefix("usda-sr28:")]
        portions = {float(row[k]) for k in ("portion1_g", "portion2_g") if row[k]}
        assert food.serving_g in portions, food.food_id


def test_drinks_are_labelled_in_millilitres():
    for food in load_table(INGREDIENTS_TABLE):
        if load_groups()[food.group]["aisle"] == "drinks":
            assert " ml " in food.serving_label, food.food_id


def test_ingredients_are_layered_into_the_one_food_table():
    b12_only = load_foods(ingredients_path=None)
    ingredients = load_table(INGREDIENTS_TABLE)
    assert len(FOODS) == len(b12_only) + len(ingredients)
    assert [f.food_id for f in FOODS[:len(b12_only)]] == [f.food_id for f in b12_only]
    assert {"oats_rolled_dry", "lentils_boiled", "broccoli_boiled"} <= set(BY_ID)


def test_an_id_in_both_files_is_refused(tmp_path):
    clash = tmp_path / "ingredients.csv"
    lines = INGREDIENTS_TABLE.read_text(encoding="utf-8").splitlines()
    clash.write_text("\n".join([lines[0], lines[1].replace("oats_rolled_dry", "milk_whole", 1)])
                     + "\n", encoding="utf-8")
    with pytest.raises(TableError, match="'milk_whole' are already in the B12 table"):
        load_foods(ingredients_path=clash)


PROFILES = [
    {"age_years": 34, "diet": "vegan"},
    {"age_years": 72, "diet": "omnivore", "medications": ["metformin"]},
    {"age_years": 45, "diet": "vegetarian", "meals_per_day": 4, "allergies": ["milk"]},
    {"age_years": 29, "diet": "pescatarian", "sex": "female", "life_stage": "pregnant"},
    {"age_years": 8, "diet": "omnivore", "meals_per_day": 5},
    {"age_years": 60, "diet": "vegan", "allergies": ["soy", "gluten"], "meals_per_day": 2},
]


@pytest.mark.parametrize("raw", PROFILES)
def test_ingredients_never_bring_b12_to_a_plan(raw):
    # issue 13 changed this on purpose: plans are dishes, which need the ordinary
    # ingredients, so a plan without them differs. What stays: the ingredients of
    # foods/ingredients.csv carry no B12 into any plan; B12 comes from the B12 table.
    reference = load_reference()
    profile = parse_profile(raw)
    b12_table = {f.food_id for f in load_foods(ingredients_path=None)}
    plan = make_plan(profile, FOODS, week="2025-W20", reference=reference)
    items = [i for d in plan.days for m in d.meals for i in m.items]
    assert any(i.food_id not in b12_table for i in items)  # the dishes use them
    assert all(i.b12_ug == 0 for i in items if i.food_id not in b12_table)


# ---- tiers and aisles -------------------------------------------------------------------


def test_every_food_has_a_tier_with_a_reason():
    for food in FOODS:
        assert food.tier in TIERS and food.tier_reason.strip(), food.food_id
        assert food.to_dict()["tier"] == food.tier


def test_every_group_has_an_aisle_and_a_default_tier():
    for group, info in load_groups().items():
        assert info["aisle"] in AISLES and info["tier"] in TIERS and info["tier_reason"], group


def test_tier_overrides_name_real_foods():
    assert set(load_tiers()) <= set(BY_ID)


@pytest.mark.parametrize("food_id", [
    "venison_tenderloin_broiled", "rabbit_roasted", "beef_liver_pan_fried", "duck_roasted",
    "lobster_cooked", "oysters_pacific_cooked", "morningstar_grillers_original",
    "almond_drink_chocolate_fortified", "chocolate_milk_reduced_fat",
    "liverwurst_pork",
])
def test_specialty_foods(food_id):
    assert BY_ID[food_id].tier == "specialty"


@pytest.mark.parametrize("food_id", [
    "milk_2_percent", "egg_hard_boiled", "cheddar_cheese", "chicken_breast_roasted",
    "salmon_atlantic_farmed_cooked", "tuna_light_canned_water", "oat_drink_fortified_eu",
    "soy_drink_fortified_unsweetened", "oats_rolled_dry", "bread_whole_wheat",
])
def test_everyday_foods(food_id):
    assert BY_ID[food_id].tier == "everyday"


def test_a_new_row_gets_its_groups_tier(tmp_path):
    path = tmp_path / "mine.csv"
    header = SHIPPED_TABLE.read_text(encoding="utf-8").splitlines()[0]
    path.write_text(header + "\nmy_bison,My bison,game,2.0,85,3 oz (85 g),dinner,omnivore,,"
                    "false,user:label,label,\n", encoding="utf-8")
    food = load_table(path)[0]
    assert (food.tier, food.tier_reason) == ("specialty", load_groups()["game"]["tier_reason"])


def test_bad_tier_files_are_refused_with_line_and_column(tmp_path):
    tiers = tmp_path / "food_tiers.csv"
    tiers.write_text("food_id,tier,reason\nmilk_whole,rare,too rare\nduck_roasted,specialty,\n",
                     encoding="utf-8")
    with pytest.raises(TableError) as e:
        load_tiers(tiers)
    assert f"{tiers}, line 2, column tier: 'rare' is not valid" in str(e.value)
    assert f"{tiers}, line 3, column reason: is empty" in str(e.value)
    groups = tmp_path / "groups.csv"
    lines = GROUPS_FILE.read_text(encoding="utf-8").splitlines()
    groups.write_text("\n".join([lines[0], lines[1].replace("meat and fish", "butcher")]) + "\n",
                      encoding="utf-8")
    with pytest.raises(TableError, match=r"line 2, column aisle: 'butcher' is not valid"):
        load_groups(groups)
    assert TIERS_FILE.is_file()


# ---- broken dish files -----------------------------------------------------------------

DISH_HEADER = ",".join(DISH_COLUMNS)
GOOD_DISHES = [
    "porridge,Porridge with oat drink,breakfast,british,Simmer.,own:test,",
    "tuna_toast,Tuna on toast,lunch;snack,british,Toast.,fndds:27550720,",
]
GOOD_PARTS = [
    "porridge,oats_rolled_dry,45,",
    "porridge,oat_drink_fortified_eu,250,",
    "tuna_toast,bread_white,58,",
    "tuna_toast,tuna_light_canned_water,60,from a tin",
]


def library(tmp_path: Path, dishes=GOOD_DISHES, parts=GOOD_PARTS) -> Path:
    path = tmp_path / "dishes.csv"
    path.write_text("\n".join([DISH_HEADER, *dishes]) + "\n", encoding="utf-8")
    (tmp_path / "dish_ingredients.csv").write_text(
        "\n".join(["dish_id,food_id,grams,note", *parts]) + "\n", encoding="utf-8")
    return path


def test_a_good_library_loads_with_derived_diets(tmp_path):
    porridge, tuna = load_dishes(FOODS, library(tmp_path))
    assert porridge.diet == "vegan" and porridge.allergens == {"gluten"}
    assert tuna.diet == "pescatarian" and tuna.allergens == {"fish", "gluten"}
    assert tuna.meals == {"lunch", "snack"} and tuna.ingredients[1].note == "from a tin"


BROKEN = {
    "unknown food": ({"parts": [*GOOD_PARTS[:3], "tuna_toast,unicorn_steak,60,"]},
                     "dish_ingredients.csv, line 5", "column food_id", "unknown food 'unicorn_steak'"),  # noqa: E501  (a case table reads better one case a line)
    "zero grams": ({"parts": [*GOOD_PARTS[:2], "tuna_toast,bread_white,0,", GOOD_PARTS[3]]},
                   "dish_ingredients.csv, line 4", "column grams", "must be more than 0"),
    "negative grams": ({"parts": ["porridge,oats_rolled_dry,-5,", *GOOD_PARTS[1:]]},
                       "dish_ingredients.csv, line 2", "column grams", "must be more than 0"),
    "grams not a number": ({"parts": ["porridge,oats_rolled_dry,a handful,", *GOOD_PARTS[1:]]},
                           "dish_ingredients.csv, line 2", "column grams", "is not a number"),
    "unknown meal": ({"dishes": [GOOD_DISHES[0].replace("breakfast", "brunch"), GOOD_DISHES[1]]},
                     "dishes.csv, line 2", "column meals", "unknown meal(s) 'brunch'"),
    "no meal": ({"dishes": [GOOD_DISHES[0].replace("breakfast", ""), GOOD_DISHES[1]]},
                "dishes.csv, line 2", "column meals", "is empty"),
    "duplicate id": ({"dishes": [*GOOD_DISHES, GOOD_DISHES[0]]},
                     "dishes.csv, line 4", "column dish_id", "duplicate id 'porridge'; first used on line 2"),  # noqa: E501  (a case table reads better one case a line)
    "no ingredients": ({"dishes": [*GOOD_DISHES, "toast,Toast,breakfast,,,own:test,"]},
                       "dishes.csv, line 4", "column dish_id", "has no ingredients"),
    "ingredient of an unknown dish": ({"parts": [*GOOD_PARTS, "pizza,bread_white,80,"]},
                                      "dish_ingredients.csv, line 6", "column dish_id",
                                      "unknown dish 'pizza'"),
    "bad source": ({"dishes": [GOOD_DISHES[0].replace("own:test", "grandma"), GOOD_DISHES[1]]},
                   "dishes.csv, line 2", "column source", "must start with one of fndds:"),
    "bad fndds code": ({"dishes": [GOOD_DISHES[0], GOOD_DISHES[1].replace("27550720", "2755")]},
                       "dishes.csv, line 3", "column source", "has 8 digits"),
    "bad id": ({"dishes": [GOOD_DISHES[0].replace("porridge,", "Porridge!,", 1), GOOD_DISHES[1]]},
               "dishes.csv, line 2", "column dish_id", "must use only a-z"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_library_is_refused_naming_file_line_and_column(tmp_path, case):
    files, where, column, message = BROKEN[case]
    with pytest.raises(TableError) as e:
        load_dishes(FOODS, library(tmp_path, **files))
    text = str(e.value)
    assert f"{tmp_path}/{where}" in text
    assert column in text and message in text


def test_missing_column_and_missing_file_are_named(tmp_path):
    path = library(tmp_path)
    path.write_text(path.read_text().replace(",cuisine", ""), encoding="utf-8")
    with pytest.raises(TableError, match="missing column.s. cuisine"):
        load_dishes(FOODS, path)
    with pytest.raises(TableError, match="no such file"):
        load_dishes(FOODS, tmp_path / "nope.csv")


@pytest.mark.parametrize("case", ["unknown food", "zero grams", "unknown meal", "duplicate id"])
def test_dishes_check_reports_a_broken_library_without_traceback(tmp_path, case):
    files, where, column, message = BROKEN[case]
    path = library(tmp_path, **files)
    result = CliRunner().invoke(dishes_cli, ["check", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{tmp_path}/{where}" in result.output and message in result.output


def test_dishes_check_passes_the_shipped_library_and_a_good_one(tmp_path):
    result = CliRunner().invoke(dishes_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert f"{DISHES_FILE}: {len(DISHES)} dishes, all valid" in result.output
    assert str(DISH_INGREDIENTS_FILE) in result.output
    result = CliRunner().invoke(dishes_cli, ["check", str(library(tmp_path))])
    assert result.exit_code == 0 and "2 dishes, all valid (1 vegan, 0 vegetarian, 1 pescatarian" \
        in result.output


# ---- property: any dish built from table foods derives its diets and allergens -------

FOOD_IDS = sorted(BY_ID)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FOOD_IDS), st.integers(1, 400)),
                min_size=1, max_size=6, unique_by=lambda t: t[0]),
       st.lists(st.sampled_from(MEALS), min_size=1, unique=True))
def test_any_dish_gets_the_intersection_of_diets_and_union_of_allergens(tmp_path_factory, parts,
                                                                        meals):
    folder = tmp_path_factory.mktemp("lib")
    path = library(folder, dishes=[f"d,Dish,{';'.join(meals)},,,own:test,"],
                   parts=[f"d,{fid},{grams}," for fid, grams in parts])
    (dish,) = load_dishes(FOODS, path)
    foods = [BY_ID[fid] for fid, _ in parts]
    assert dish.diets == set(DIETS).intersection(*(f.diets for f in foods))
    assert dish.allergens == set().union(*(f.allergens for f in foods))
    assert dish.diet == next((d for d in DIETS if d in dish.diets), "")
    assert sorted(dish.to_dict()["allergens"], key=ALLERGENS.index) == dish.to_dict()["allergens"]
    assert dish_b12_ug(dish, BY_ID) == pytest.approx(sum(
        f.b12_ug_per_100g * g / 100 for f, (_, g) in zip(foods, parts, strict=True)
        if f.counts_as_source))


# ---- the list command --------------------------------------------------------------------


def test_dishes_list_json_items_carry_the_contract():
    result = CliRunner().invoke(dishes_cli, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert len(items) == len(DISHES)
    for item, dish in zip(items, DISHES, strict=True):
        assert {"id", "name", "meals", "diets", "allergens", "ingredients"} <= set(item)
        assert item["id"] == dish.dish_id and item["diets"] == sorted(dish.diets, key=DIETS.index)
        assert item["ingredients"] == [{"food_id": i.food_id, "grams": i.grams}
                                       for i in dish.ingredients]


@pytest.mark.parametrize(("diet", "meal"),
                         [("vegan", None), (None, "snack"), ("pescatarian", "lunch")])
def test_dishes_list_filters_by_diet_and_meal(diet, meal):
    args = ["list", "--format", "json"] + (["--diet", diet] if diet else []) + \
        (["--meal", meal] if meal else [])
    items = json.loads(CliRunner().invoke(dishes_cli, args).output)
    expected = [d.dish_id for d in DISHES if (not diet or diet in d.diets)
                and (not meal or meal in d.meals)]
    assert [i["id"] for i in items] == expected and expected


def test_dishes_list_csv_and_table():
    result = CliRunner().invoke(dishes_cli, ["list", "--format", "csv", "--diet", "vegan"])
    rows = list(csv.DictReader(result.output.splitlines()))
    assert list(rows[0]) == ["id", "name", "meals", "diets", "allergens", "b12_ug", "source",
                             "ingredients"]
    assert len(rows) == sum(1 for d in DISHES if "vegan" in d.diets)
    assert all(r["diets"].startswith("vegan") for r in rows)
    first = DISHES[0]
    assert rows[0]["ingredients"] == ";".join(f"{i.food_id}:{i.grams:g}" for i in first.ingredients)
    table = CliRunner().invoke(dishes_cli, ["list", "--meal", "breakfast"]).output
    count = sum(1 for d in DISHES if "breakfast" in d.meals)
    assert table.rstrip().endswith(f"{count} dishes") and first.name in table


def test_dishes_list_rejects_an_unknown_diet():
    result = CliRunner().invoke(dishes_cli, ["list", "--diet", "keto"])
    assert result.exit_code == 2 and "keto" in result.output


# ---- the B12 pages are not buried under 0-B12 ingredients -----------------------------


def test_foods_page_and_api_list_b12_foods_not_ingredients(client):
    html = client.get("/foods").get_data(as_text=True)
    assert "Oats, regular and quick" not in html and "Broccoli" not in html
    assert BY_ID["tofu_firm_nigari"].name in html  # a 0-B12 row of a B12 group stays
    listed = catalog.listed(FOODS)
    assert f"of {len(listed)} foods shown" in html
    body = client.get("/api/v1/foods").get_json()
    ids = {f["food_id"] for f in body["foods"]}
    ingredients = {f.food_id for f in load_table(INGREDIENTS_TABLE)}
    assert body["count"] == len(listed) and not ids & ingredients
    vegetables = client.get("/api/v1/foods?group=vegetable").get_json()
    assert vegetables["count"] == sum(1 for f in FOODS if f.group == "vegetable") > 20
    assert all(f["tier"] in TIERS for f in body["foods"])
    # the form's "good sources" never offer an ingredient
    assert not {f.food_id for f in catalog.b12_sources(FOODS)} & {
        f.food_id for f in load_table(INGREDIENTS_TABLE)}


def test_foods_list_cli_shows_ingredients_only_when_asked():
    plain = CliRunner().invoke(foods_cli, ["list", "--format", "json"]).output
    everything = CliRunner().invoke(foods_cli, ["list", "--all", "--format", "json"]).output
    assert "oats_rolled_dry" not in plain and "oats_rolled_dry" in everything
    assert len(json.loads(everything)) == len(FOODS)
    grains = json.loads(CliRunner().invoke(foods_cli, ["list", "--group", "grain",
                                                       "--format", "json"]).output)
    assert grains and all(f["group"] == "grain" for f in grains)
    check = CliRunner().invoke(foods_cli, ["check"])
    assert check.exit_code == 0 and f"{INGREDIENTS_TABLE}: " in check.output


def test_a_drink_or_a_snack_is_never_a_breakfast_lunch_or_dinner():
    """A dish lists only the meals it makes on its own: a latte (coffee and a glass of
    drink) and the library's own snacks (source ``own:an everyday snack``: a
    crispbread with a topping, fruit salad) were breakfasts and lunches before."""
    for dish in DISHES:
        drink = any(i.food_id in ("coffee_brewed", "tea_black_brewed") for i in dish.ingredients)
        if drink or dish.source == "own:an everyday snack":
            assert set(dish.meals) == {"snack"}, dish.dish_id


FRUIT_ONLY = {"fruit", "juice"}


def test_no_breakfast_is_fruit_alone_and_some_breakfasts_need_no_b12_food():
    # a dietitian read "Fresh fruit salad" as breakfast four times in a week (no
    # protein, no B12); a person whose own B12 foods are all capped (oily fish in
    # pregnancy) still needs breakfasts without B12
    by_id = {f.food_id: f for f in FOODS}
    for dish in DISHES:
        if "breakfast" in dish.meals:
            groups = {by_id[i.food_id].group for i in dish.ingredients}
            assert not groups <= FRUIT_ONLY, dish.dish_id
    free = [d for d in DISHES if "breakfast" in d.meals
            and all(by_id[i.food_id].b12_ug_per_100g == 0 for i in d.ingredients)]
    assert len(free) >= 2
    assert {"vegan"} <= {diet for d in free for diet in d.diets}
