"""The FoodData Central importer: pure parsing on saved answers, and the network
calls against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import copy
import time

import pandas as pd
import pytest
import requests

from foods import fdc
from foods.loader import TABLE_COLUMNS
from foods.loader import load_groups
from foods.loader import validate_frame

try:  # tests/ is not a package; pytest puts it on sys.path
    from fdc_server import FakeFdc
    from fdc_server import Reply
    from fdc_server import closed_port_url
    from fdc_server import saved
    from fdc_server import saved_foods
except ImportError:  # pragma: no cover - if tests/ becomes a package
    from tests.fdc_server import FakeFdc
    from tests.fdc_server import Reply
    from tests.fdc_server import closed_port_url
    from tests.fdc_server import saved
    from tests.fdc_server import saved_foods

MILK, EGG, CEREAL, SOY = 171265, 748967, 2708437, 2257046
FAST = fdc.Retry(tries=4, backoff_s=0.001, max_wait_s=0.01)


def food(fdc_id: int) -> dict:
    return saved(f"food_{fdc_id}")


@pytest.fixture(autouse=True)
def no_fdc_env(monkeypatch):
    """Tests decide the API root and key; the machine's environment does not."""
    monkeypatch.delenv(fdc.ENV_API_URL, raising=False)
    monkeypatch.delenv(fdc.ENV_API_KEY, raising=False)


@pytest.fixture
def server():
    with FakeFdc() as fake:
        yield fake


class Waits:
    """A ``sleep`` stand-in that records the waits instead of waiting."""

    def __init__(self):
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


# --- parse_food on saved food details ----------------------------------------------

EXPECTED = {
    MILK: {
        "food_id": "milk_whole_3_25_milkfat_with_added_vitamin_d_fdc171265",
        "name": "Milk, whole, 3.25% milkfat, with added vitamin D",
        "group": "milk", "b12_ug_per_100g": "0.45", "serving_g": "244",
        "serving_label": "1 cup (244 g)", "meals": "breakfast;snack",
        "diets": "vegetarian;pescatarian;omnivore", "allergens": "milk",
        "fortified": "false", "source": "fdc:171265", "evidence": "measured",
        "markets": "any",
    },
    EGG: {
        "food_id": "eggs_grade_a_large_egg_whole_fdc748967",
        "name": "Eggs, Grade A, Large, egg whole",
        "group": "egg", "b12_ug_per_100g": "1.02", "serving_g": "50.3",
        "serving_label": "1 egg, large (50.3 g)", "meals": "breakfast;lunch",
        "diets": "vegetarian;pescatarian;omnivore", "allergens": "egg",
        "fortified": "false", "source": "fdc:748967", "evidence": "measured",
        "markets": "any",
    },
    CEREAL: {
        "food_id": "cereal_toasted_oat_rings_fortified_fdc2708437",
        "name": "Cereal, toasted oat rings, fortified",
        "group": "cereal", "b12_ug_per_100g": "1.96", "serving_g": "29",
        "serving_label": "1 cup (29 g)", "meals": "breakfast",
        "diets": "vegan;vegetarian;pescatarian;omnivore", "allergens": "gluten",
        "fortified": "true", "source": "fdc:2708437", "evidence": "measured",
        "markets": "us",
    },
    SOY: {
        "food_id": "organic_unsweetened_soymilk_fdc2257046",
        "name": "Organic Unsweetened Soymilk (Riverbend)",
        "group": "plant_drink", "b12_ug_per_100g": "1.25", "serving_g": "240",
        "serving_label": "1 cup (240 ml)", "meals": "breakfast;snack",
        "diets": "vegan;vegetarian;pescatarian;omnivore", "allergens": "soy",
        "fortified": "true", "source": "fdc:2257046", "evidence": "label",
        "markets": "us",
    },
}


@pytest.mark.parametrize("fdc_id", list(EXPECTED), ids=["sr_legacy_milk",
                                                        "foundation_egg",
                                                        "survey_cereal",
                                                        "branded_soy_drink"])
def test_each_data_type_becomes_the_expected_table_row(fdc_id):
    row = fdc.parse_food(food(fdc_id))

    assert list(row) == list(TABLE_COLUMNS)  # markets last: FDC foods are US foods
    assert {k: v for k, v in row.items() if k != "notes"} == EXPECTED[fdc_id]


@pytest.mark.parametrize("fdc_id, words", [
    (MILK, ["SR Legacy", "2019-04-01", "Dairy and Egg Products"]),
    (EGG, ["Foundation", "2019-12-16"]),
    (CEREAL, ["Survey (FNDDS)", "2024-10-31", "Ready-to-eat cereal"]),
    (SOY, ["Branded", "2022-09-29", "Riverbend Plant Foods", "240 ml counted as 240 g"]),
])
def test_notes_name_the_data_type_and_publication_date(fdc_id, words):
    notes = fdc.parse_food(food(fdc_id))["notes"]

    assert all(word in notes for word in words), notes


def test_every_saved_food_passes_the_loaders_validation():
    rows = [fdc.parse_food(f) for f in saved_foods().values()]

    foods = validate_frame(pd.DataFrame(rows), "imported.csv")

    by_source = {f.source: f for f in foods}
    assert by_source["fdc:171265"].b12_ug_per_serving == pytest.approx(0.45 * 2.44)
    assert by_source["fdc:2257046"].b12_ug_per_serving == pytest.approx(3.0)


def test_b12_is_nutrient_418_not_the_added_b12_row_578():
    data = food(CEREAL)
    for entry in data["foodNutrients"]:
        if entry["nutrient"]["number"] == "578":
            entry["amount"] = 99.0

    assert fdc.b12_ug_per_100g(data) == pytest.approx(1.96)


def test_search_results_with_flat_nutrients_parse_too():
    hit = saved("search_milk")["foods"][1]

    row = fdc.parse_food(hit)

    assert row["b12_ug_per_100g"] == "0.45"
    assert (row["serving_g"], row["serving_label"]) == ("100", "100 g")
    assert "no portion given" in row["notes"]


@pytest.mark.parametrize("unit, amount, expected_ug", [
    ("µg", 0.45, 0.45), ("UG", 0.45, 0.45), ("mcg", 2.0, 2.0), ("mg", 0.002, 2.0),
])
def test_b12_units_are_converted_to_micrograms(unit, amount, expected_ug):
    data = {"foodNutrients": [{"nutrientNumber": "418", "unitName": unit,
                               "value": amount}]}

    assert fdc.b12_ug_per_100g(data) == pytest.approx(expected_ug)


def test_a_food_without_a_b12_value_is_not_importable():
    data = food(EGG)
    data["foodNutrients"] = [n for n in data["foodNutrients"]
                             if n["nutrient"]["number"] != "418"]

    with pytest.raises(fdc.FdcNotImportable, match="no vitamin B12 value"):
        fdc.parse_food(data)


def test_an_unplaceable_category_asks_for_a_group_and_group_overrides_it():
    data = food(MILK)
    data["foodCategory"] = {"description": "Baby Foods"}

    with pytest.raises(fdc.FdcNotImportable, match="--group"):
        fdc.parse_food(data)
    assert fdc.parse_food(data, group="milk")["group"] == "milk"


def test_overrides_replace_the_group_defaults():
    row = fdc.parse_food(food(SOY), group="plant_yogurt", meals=["snack"],
                         diets=["vegan", "omnivore"], allergens=[])

    assert (row["group"], row["meals"], row["diets"], row["allergens"]) == (
        "plant_yogurt", "snack", "vegan;omnivore", "")


def test_a_group_override_also_moves_the_derived_defaults():
    row = fdc.parse_food(food(MILK), group="cheese")

    assert row["meals"] == "breakfast;lunch;snack"
    assert row["allergens"] == "milk"


def test_animal_ingredients_take_vegan_off_a_plant_food():
    data = food(SOY)
    data["ingredients"] += " CONTAINS: WHEY PROTEIN, EGG WHITES."

    row = fdc.parse_food(data)

    assert row["diets"] == "vegetarian;pescatarian;omnivore"
    assert row["allergens"] == "milk;egg;soy"


def test_fortified_follows_plant_b12_or_the_description():
    unfortified = food(SOY)
    for entry in unfortified["foodNutrients"]:
        entry["amount"] = 0.0
    said = food(MILK)
    said["description"] = "Milk, fortified with vitamin B12"

    assert fdc.parse_food(unfortified)["fortified"] == "false"
    assert fdc.parse_food(said)["fortified"] == "true"


def test_food_id_is_a_stable_slug_with_the_fdc_id():
    first = fdc.parse_food(food(SOY))["food_id"]
    again = fdc.parse_food(copy.deepcopy(food(SOY)))["food_id"]

    assert first == again == "organic_unsweetened_soymilk_fdc2257046"
    long = fdc.food_id_for("Cereals ready-to-eat, GENERAL MILLS, TOTAL Raisin Bran, "
                           "with added vitamins", 1)
    assert long.endswith("_fdc1") and len(long) <= fdc.MAX_SLUG_CHARS + len("_fdc1")


@pytest.mark.parametrize("description, brand, expected", [
    ("ORGANIC UNSWEETENED SOYMILK", "", "Organic Unsweetened Soymilk"),
    ("KELLOGG'S CORN FLAKES WITH ADDED B12", "", "Kellogg's Corn Flakes with Added B12"),
    ("Milk, whole, 3.25% milkfat", "", "Milk, whole, 3.25% milkfat"),
    ("OAT DRINK", "OATLY!", "Oat Drink (Oatly!)"),
])
def test_names_are_readable(description, brand, expected):
    assert fdc.readable_name(description, brand) == expected


@pytest.mark.parametrize("category, description, group", [
    ("Dairy and Egg Products", "Cheese, cheddar", "cheese"),
    ("Dairy and Egg Products", "Yogurt, Greek, plain, nonfat", "yogurt"),
    ("Dairy and Egg Products", "Egg, whole, cooked, hard-boiled", "egg"),
    ("Finfish and Shellfish Products", "Mollusks, clam, mixed species, raw", "shellfish"),
    ("Finfish and Shellfish Products", "Fish, salmon, Atlantic, farmed, cooked", "finfish"),
    ("Beef Products", "Beef, variety meats and by-products, liver, raw", "organ_meat"),
    ("Beef Products", "Beef, ground, 85% lean meat / 15% fat, raw", "beef"),
    ("Lamb, Veal, and Game Products", "Veal, loin, raw", "game"),
    ("Lamb, Veal, and Game Products", "Lamb, leg, whole, roasted", "lamb"),
    ("Sausages and Luncheon Meats", "Bologna, beef", "processed_meat"),
    ("Poultry Products", "Chicken, liver, all classes, raw", "organ_meat"),
    ("Legumes and Legume Products", "Tofu, raw, firm, prepared with calcium sulfate",
     "tofu"),
    ("Legumes and Legume Products", "Soymilk, original and vanilla, with added calcium",
     "plant_drink"),
    ("Beverages", "Beverages, almond milk, unsweetened, shelf stable", "plant_drink"),
    ("Breakfast Cereals", "Cereals ready-to-eat, corn flakes", "cereal"),
    ("Plant Based Milk", "OAT BEVERAGE", "plant_drink"),
    ("Yogurt", "DAIRY-FREE COCONUT YOGURT ALTERNATIVE", "plant_yogurt"),
    ("Yogurt", "PEACH LOWFAT YOGURT", "yogurt"),
    ("Eggs & Egg Substitutes", "LARGE BROWN EGGS", "egg"),
    ("Milk substitutes", "Rice beverage", "plant_drink"),
    ("Liver and organ meats", "Beef liver, fried", "organ_meat"),
    ("Fish", "Shrimp, steamed", "shellfish"),
    ("Other Cooking Sauces", "NUTRITIONAL YEAST FLAKES", "nutritional_yeast"),
    ("Cereal Grains and Pasta", "Rice, white, long-grain, cooked", None),
    ("Restaurant Foods", "Restaurant, Chinese, tofu with beef", None),
    ("Baby Foods", "Babyfood, cereal, oatmeal", None),
    ("", "Something else", None),
])
def test_group_guesses_follow_the_rule_table(category, description, group):
    assert fdc.guess_group(category, description) == group


def test_every_group_has_meals_and_allergen_defaults_that_validate():
    groups = load_groups()
    assert set(fdc.GROUP_MEALS) == set(groups)
    assert set(fdc.GROUP_ALLERGENS) <= set(groups)
    rows = [{**fdc.parse_food(food(MILK), group=g), "food_id": f"x_{g}"} for g in groups]

    validate_frame(pd.DataFrame(rows), "all_groups.csv")


def test_an_sr_legacy_food_is_also_known_by_its_sr28_number():
    assert fdc.same_food_sources(food(MILK)) == {"fdc:171265", "usda-sr28:01077"}
    assert fdc.same_food_sources(food(EGG)) == {"fdc:748967"}


# --- parse_search ------------------------------------------------------------------


def test_search_answers_become_short_summaries():
    summaries = fdc.parse_search(saved("search_milk"))

    assert summaries == [
        {"fdc_id": 2257046, "description": "ORGANIC UNSWEETENED SOYMILK",
         "data_type": "Branded", "brand_owner": "Riverbend Plant Foods, Inc."},
        {"fdc_id": 171265, "description": "Milk, whole, 3.25% milkfat, with added "
         "vitamin D", "data_type": "SR Legacy", "brand_owner": None},
        {"fdc_id": 748967, "description": "Eggs, Grade A, Large, egg whole",
         "data_type": "Foundation", "brand_owner": None},
    ]


@pytest.mark.parametrize("data", [{}, {"foods": "x"}, [], {"foods": [{"no": 1}]}])
def test_malformed_search_answers_raise_bad_response(data):
    with pytest.raises(fdc.FdcBadResponse):
        fdc.parse_search(data)


# --- get_* against the local server ---------------------------------------------------


def test_get_food_fetches_the_details_with_the_api_key(server):
    data = fdc.get_food(MILK, base_url=server.url, api_key="test-key")

    assert data["fdcId"] == MILK
    seen = server.requests[-1]
    assert (seen.method, seen.path, seen.query["api_key"]) == (
        "GET", "/v1/food/171265", "test-key")


def test_settings_default_to_the_environment(server, monkeypatch):
    monkeypatch.setenv(fdc.ENV_API_URL, server.url + "/")
    monkeypatch.setenv(fdc.ENV_API_KEY, "test-key")

    assert fdc.get_food(EGG)["fdcId"] == EGG
    assert server.requests[-1].query["api_key"] == "test-key"


def test_without_settings_the_usda_api_and_demo_key_are_used():
    assert fdc.api_url() == "https://api.nal.usda.gov/fdc"
    assert fdc.api_key() == "DEMO_KEY"


def test_get_foods_posts_the_ids_and_keeps_their_order(server):
    with requests.Session() as session:
        foods = fdc.get_foods([SOY, MILK, SOY], session=session, base_url=server.url)

    assert [f["fdcId"] for f in foods] == [SOY, MILK]
    seen = server.requests[-1]
    assert (seen.method, seen.path, seen.body) == ("POST", "/v1/foods",
                                                   {"fdcIds": [SOY, MILK]})


def test_get_foods_names_ids_that_fdc_left_out(server):
    with pytest.raises(fdc.FdcNotFound, match="no food with id 999"):
        fdc.get_foods([MILK, 999], base_url=server.url)


def test_search_foods_sends_the_query_and_page_size(server):
    data = fdc.search_foods("milk", page_size=2, base_url=server.url)

    assert len(data["foods"]) == 2
    assert server.requests[-1].query == {"query": "milk", "pageSize": "2",
                                         "api_key": "DEMO_KEY"}


def test_a_429_waits_for_retry_after_then_succeeds(server):
    server.script("/v1/food/171265", Reply(429, {"error": {"code": "OVER_RATE_LIMIT",
                                                           "message": "slow down"}},
                                           headers={"Retry-After": "2"}))
    waits = Waits()

    data = fdc.get_food(MILK, base_url=server.url, retry=fdc.Retry(sleep=waits))

    assert data["fdcId"] == MILK
    assert waits.seconds == [2.0]
    assert server.hits("/v1/food/171265") == 2


def test_retry_after_is_capped():
    retry = fdc.Retry(max_wait_s=5.0)

    assert retry.wait_s(1, "3600") == 5.0
    assert retry.wait_s(1, "Wed, 21 Oct 2099 07:28:00 GMT") == 5.0
    assert retry.wait_s(1, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_429_that_persists_raises_rate_limited(server):
    server.script("/v1/food/171265", *[Reply(429, headers={"Retry-After": "0"})] * 4)

    with pytest.raises(fdc.FdcRateLimited, match=fdc.ENV_API_KEY):
        fdc.get_food(MILK, base_url=server.url, retry=FAST)
    assert server.hits("/v1/food/171265") == 4


def test_5xx_answers_are_retried_with_exponential_backoff(server):
    server.script("/v1/food/171265", Reply(503, "busy"), Reply(502, "bad gateway"))
    waits = Waits()

    data = fdc.get_food(MILK, base_url=server.url,
                        retry=fdc.Retry(backoff_s=0.5, sleep=waits))

    assert data["fdcId"] == MILK
    assert waits.seconds == [0.5, 1.0]


def test_repeated_500s_give_up_after_a_bounded_number_of_tries(server):
    server.script("/v1/food/171265", *[Reply(500, "Internal Server Error")] * 10)

    with pytest.raises(fdc.FdcUnavailable, match="HTTP 500.*4 tries") as caught:
        fdc.get_food(MILK, base_url=server.url, retry=FAST)

    assert isinstance(caught.value, fdc.FdcError)
    assert server.hits("/v1/food/171265") == 4


def test_a_slow_server_times_out_with_a_clear_error(server):
    server.script("/v1/food/171265", Reply(200, food(MILK), delay_s=2.0))
    started = time.monotonic()

    with pytest.raises(fdc.FdcUnavailable, match="did not answer within 0.2 s"):
        fdc.get_food(MILK, base_url=server.url, timeout=(1.0, 0.2), retry=FAST)

    assert time.monotonic() - started < 1.5
    assert server.hits("/v1/food/171265") == 1  # timeouts are not retried


@pytest.mark.parametrize("body", ['{"fdcId": 171265, "descr', "<html>Oops</html>", ""])
def test_a_body_that_is_not_json_raises_bad_response(server, body):
    server.script("/v1/food/171265", Reply(200, body))

    with pytest.raises(fdc.FdcBadResponse, match="not JSON"):
        fdc.get_food(MILK, base_url=server.url)


def test_json_of_the_wrong_shape_raises_bad_response(server):
    server.script("/v1/food/171265", Reply(200, [1, 2, 3]))

    with pytest.raises(fdc.FdcBadResponse, match="food object"):
        fdc.get_food(MILK, base_url=server.url)


def test_a_missing_food_is_not_found_and_an_http_error(server):
    with pytest.raises(fdc.FdcNotFound) as caught:
        fdc.get_food(123, base_url=server.url)

    assert str(caught.value) == "FoodData Central has no food with id 123"
    assert isinstance(caught.value, requests.HTTPError)
    assert caught.value.response.status_code == 404
    assert server.hits("/v1/food/123") == 1  # 4xx is not retried


def test_a_bad_key_is_an_auth_error_naming_the_setting(server):
    with pytest.raises(fdc.FdcAuthError, match=fdc.ENV_API_KEY) as caught:
        fdc.get_food(MILK, base_url=server.url, api_key="wrong")

    assert "invalid api_key" in str(caught.value)
    assert caught.value.response.status_code == 403


def test_a_401_is_an_auth_error_too(server):
    server.script("/v1/food/171265", Reply(401, {"message": "Unauthorized"}))

    with pytest.raises(fdc.FdcAuthError, match="HTTP 401: Unauthorized"):
        fdc.get_food(MILK, base_url=server.url)


def test_other_4xx_carry_fdcs_message(server):
    server.script("/v1/foods/search", Reply(400, {"error": "pageSize must be <= 200"}))

    with pytest.raises(fdc.FdcHTTPError, match="HTTP 400: pageSize must be <= 200"):
        fdc.search_foods("milk", page_size=500, base_url=server.url)


def test_an_unreachable_host_names_the_url_but_not_the_key():
    url = closed_port_url()

    with pytest.raises(fdc.FdcUnavailable) as caught:
        fdc.get_food(MILK, base_url=url, api_key="secret-key", retry=FAST)

    message = str(caught.value)
    assert f"{url}/v1/food/171265" in message
    assert "Connection refused" in message
    assert "secret-key" not in message


def test_get_foods_asks_for_at_most_20_ids_per_request():
    many = {i: {"fdcId": i, "description": f"food {i}"} for i in range(1, 26)}
    with FakeFdc(foods=many) as fake:
        foods = fdc.get_foods(range(1, 26), base_url=fake.url)

    assert [f["fdcId"] for f in foods] == list(range(1, 26))
    assert [len(s.body["fdcIds"]) for s in fake.requests] == [20, 5]


# --- Bounded answers: size, deadline, shapes (issue 17, finding 10) -------------------


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "no-length"])
def test_a_body_over_the_size_cap_is_refused_while_streaming(server, length):
    import tracemalloc

    big = b'{"fdcId": 171265, "description": "' + b"x" * (25 * 2**20) + b'"}'
    server.script("/v1/food/171265", Reply(200, big, length=length))
    tracemalloc.start()
    try:
        with pytest.raises(fdc.FdcBadResponse, match="sent more than 20 MB; stopped reading"):
            fdc.get_food(MILK, base_url=server.url, retry=FAST)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30 * 2**20  # never the whole 25 MB body plus its decoding


def test_the_size_cap_can_be_lowered(server):
    with pytest.raises(fdc.FdcBadResponse, match="more than"):
        fdc.get_food(MILK, base_url=server.url, max_bytes=1000)
    assert fdc.get_food(MILK, base_url=server.url, max_bytes=10**6)["fdcId"] == MILK


def test_a_trickling_body_fails_at_the_total_deadline(server):
    """1 byte every 5 s never trips a per-read timeout; the total deadline stops it."""
    server.script("/v1/food/171265", Reply(200, food(MILK), trickle_s=5.0))
    started = time.monotonic()

    with pytest.raises(fdc.FdcUnavailable, match="did not send its whole answer within 2 s"):
        fdc.get_food(MILK, base_url=server.url, timeout=(1.0, 20.0), deadline_s=2.0,
                     retry=FAST)

    assert time.monotonic() - started < 3.0


def test_a_quick_trickle_still_fails_at_the_deadline(server):
    server.script("/v1/food/171265", Reply(200, food(MILK), trickle_s=0.05))
    started = time.monotonic()

    with pytest.raises(fdc.FdcUnavailable, match="within 1.5 s"):
        fdc.get_food(MILK, base_url=server.url, deadline_s=1.5, retry=FAST)

    assert time.monotonic() - started < 2.5


def with_change(fdc_id: int, change) -> dict:
    data = copy.deepcopy(food(fdc_id))
    change(data)
    return data


def b12_entry(data: dict) -> dict:
    return next(e for e in data["foodNutrients"]
                if (e.get("nutrient") or {}).get("number") == "418")


BAD_SHAPES = {
    "nutrients of text": (MILK, lambda d: d.__setitem__("foodNutrients", ["x"]),
                          "foodNutrients[0] should be an object, not 'x'"),
    "nutrient as a number text": (MILK, lambda d: b12_entry(d).__setitem__("nutrient", "418"),
                                  "nutrient should be an object, not '418'"),
    "portions of text": (MILK, lambda d: d.__setitem__("foodPortions", ["1 cup"]),
                         "foodPortions[0] should be an object, not '1 cup'"),
    "unit as text": (EGG, lambda d: d["foodPortions"][0].__setitem__("measureUnit", "cup"),
                     "foodPortions[0].measureUnit should be an object, not 'cup'"),
    "amount true": (MILK, lambda d: b12_entry(d).__setitem__("amount", True),
                    "amount should be a number, not true"),
    "gram weight true": (EGG, lambda d: d["foodPortions"][0].__setitem__("gramWeight", True),
                         "gramWeight should be a number, not true"),
    "nutrients an object": (MILK, lambda d: d.__setitem__("foodNutrients", {"418": 1}),
                            "foodNutrients should be a list, not an object"),
}


@pytest.mark.parametrize("fdc_id, change, words", BAD_SHAPES.values(), ids=BAD_SHAPES)
def test_answers_of_another_shape_are_one_bad_response_naming_the_field(
        server, fdc_id, change, words):
    server.foods[fdc_id] = with_change(fdc_id, change)

    for fetch in (lambda: fdc.get_food(fdc_id, base_url=server.url),
                  lambda: fdc.get_foods([fdc_id], base_url=server.url),
                  lambda: fdc.parse_food(with_change(fdc_id, change))):
        with pytest.raises(fdc.FdcBadResponse) as caught:
            fetch()
        message = str(caught.value)
        assert words in message and "\n" not in message


def test_a_search_hit_of_another_shape_is_a_bad_response(server):
    server.search = {"foods": [{"fdcId": 1, "description": ["milk"]}]}

    with pytest.raises(fdc.FdcBadResponse, match=r"foods\[0\].description should be text"):
        fdc.search_foods("milk", base_url=server.url)


def test_a_boolean_is_not_a_serving_size():
    assert fdc._positive(True) is None
    assert fdc._positive(2) == 2.0
