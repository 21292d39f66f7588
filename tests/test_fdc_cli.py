"""``import-fdc`` end to end: the click command against the local FDC server,
writing a user table in tmp_path. No Flask app and no internet are involved."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from foods import fdc
from foods.loader import COLUMNS
from foods.loader import TABLE_COLUMNS
from foods.loader import load_foods
from foods.loader import load_table
from foods.loader import read_table
from planner.commands import fdc as command

try:  # tests/ is not a package; pytest puts it on sys.path
    from fdc_server import FakeFdc
    from fdc_server import closed_port_url
    from fdc_server import saved
    from fdc_server import saved_foods
except ImportError:  # pragma: no cover - if tests/ becomes a package
    from tests.fdc_server import FakeFdc
    from tests.fdc_server import closed_port_url
    from tests.fdc_server import saved
    from tests.fdc_server import saved_foods

MILK, EGG, CEREAL, SOY = 171265, 748967, 2708437, 2257046
HEADER = ",".join(COLUMNS)
LIVER = ("beef_liver,\"Beef liver, pan-fried\",organ_meat,83.1,81,3 oz (81 g),"
         "lunch;dinner,omnivore,,false,usda-sr28:13326,measured,")
CURATED_MILK = ("milk_whole,\"Milk, whole (3.25% fat)\",milk,0.45,244,1 cup (244 g),"
                "breakfast;lunch;dinner;snack,vegetarian;pescatarian;omnivore,milk,false,"
                "usda-sr28:01077,measured,")
MY_SOY = ("my_soy,My soy drink,plant_drink,1.0,250,1 glass (250 g),breakfast,"
          "vegan;vegetarian;pescatarian;omnivore,soy,true,fdc:2257046,label,old")
MY_NORI = ("my_nori,Nori sheets,other_plant,0,3,1 sheet (3 g),lunch,"
           "vegan;vegetarian;pescatarian;omnivore,,false,user:me,estimated,")


def csv_text(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


@pytest.fixture(autouse=True)
def no_fdc_env(monkeypatch):
    monkeypatch.delenv(fdc.ENV_API_URL, raising=False)
    monkeypatch.delenv(fdc.ENV_API_KEY, raising=False)


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A small curated table in place of the shipped one; returns its path."""
    path = tmp_path / "shipped.csv"

    def use(*rows: str):
        path.write_text(csv_text(*rows), encoding="utf-8")
        monkeypatch.setattr(command, "_shipped_foods", lambda: load_table(path))
        return path

    use(LIVER)
    return use


@pytest.fixture
def server():
    with FakeFdc() as fake:
        yield fake


@pytest.fixture
def user_table(tmp_path):
    return tmp_path / "my_foods.csv"


@pytest.fixture
def run(server, user_table, shipped):
    """Run ``import-fdc`` into the user table against the local server."""

    def invoke(*args: str, api_url: str | None = None, input: str | None = None):
        argv = ["--into", str(user_table), "--api-url", api_url or server.url,
                "--api-key", "test-key", *args]
        return CliRunner().invoke(command.import_fdc, argv, input=input)

    return invoke


def ids_in(path) -> list[str]:
    return list(read_table(path)["food_id"])


def test_the_command_is_named_import_fdc():
    assert command.import_fdc.name == "import-fdc"


def test_import_by_id_creates_the_table_with_its_header(run, user_table):
    result = run("--id", str(SOY), "--id", str(EGG), "--yes")

    assert result.exit_code == 0, result.output
    assert user_table.read_text(encoding="utf-8").splitlines()[0] == ",".join(TABLE_COLUMNS)
    foods = {f.food_id: f for f in load_table(user_table)}
    assert set(foods) == {"organic_unsweetened_soymilk_fdc2257046",
                          "eggs_grade_a_large_egg_whole_fdc748967"}
    assert foods["organic_unsweetened_soymilk_fdc2257046"].b12_ug_per_serving == 3.0
    assert "2 added" in result.output


def test_the_preview_shows_the_rows_before_writing(run):
    result = run("--id", str(SOY), "--yes")

    preview = result.output
    for text in ("organic_unsweetened_soymilk_fdc2257046", "1.25", "3.00",
                 "1 cup (240 ml)", "plant_drink", "fdc:2257046",
                 "diets vegan;vegetarian;pescatarian;omnivore", "allergens soy"):
        assert text in preview


def test_import_by_query_takes_the_top_results(run, server, user_table):
    result = run("--query", "milk", "--limit", "1", "--yes")

    assert result.exit_code == 0, result.output
    search = [s for s in server.requests if s.path == "/v1/foods/search"]
    assert search[0].query["query"] == "milk"
    assert search[0].query["pageSize"] == "1"
    assert server.requests[-1].body == {"fdcIds": [SOY]}
    assert ids_in(user_table) == ["organic_unsweetened_soymilk_fdc2257046"]


def test_ids_and_a_query_can_be_combined(run, user_table):
    result = run("--id", str(CEREAL), "--query", "milk", "--limit", "1", "--yes")

    assert result.exit_code == 0, result.output
    assert ids_in(user_table) == ["cereal_toasted_oat_rings_fortified_fdc2708437",
                                  "organic_unsweetened_soymilk_fdc2257046"]


def test_reimport_updates_the_users_row_in_place(run, user_table):
    user_table.write_text(csv_text(MY_SOY, MY_NORI), encoding="utf-8")

    result = run("--id", str(SOY), "--yes")

    assert result.exit_code == 0, result.output
    table = read_table(user_table)
    assert list(table["food_id"]) == ["my_soy", "my_nori"]  # the user's id is kept
    soy = table.iloc[0]
    assert (soy["b12_ug_per_100g"], soy["serving_g"], soy["source"]) == (
        "1.25", "240", "fdc:2257046")
    nori = table.iloc[1].to_dict()
    assert nori.pop("markets") == ""  # a table from before markets gains the column, blank
    assert nori == read_table_row(MY_NORI)
    assert "1 updated" in result.output


def read_table_row(line: str) -> dict:
    import csv
    import io

    return next(csv.DictReader(io.StringIO(csv_text(line))))


def test_importing_the_same_food_again_changes_nothing(run, user_table):
    assert run("--id", str(EGG), "--yes").exit_code == 0
    before = user_table.read_bytes()

    result = run("--id", str(EGG))  # no --yes: nothing to confirm

    assert result.exit_code == 0, result.output
    assert "Nothing to change" in result.output
    assert user_table.read_bytes() == before


@pytest.mark.parametrize("curated_row", [
    CURATED_MILK,  # same food: SR Legacy NDB 01077 is FDC 171265
    CURATED_MILK.replace("milk_whole", "milk_whole_3_25_milkfat_with_added_vitamin_d"
                         "_fdc171265").replace("usda-sr28:01077", "reference:x"),
], ids=["same_source", "same_food_id"])
def test_a_curated_food_is_refused_and_nothing_is_written(run, shipped, user_table,
                                                          curated_row):
    shipped(curated_row)

    result = run("--id", str(MILK), "--id", str(SOY), "--yes")

    assert result.exit_code == 1
    assert "already curated" in result.stderr
    assert "--replace-curated" in result.stderr
    assert not user_table.exists()


def test_replace_curated_adds_an_overlay_row_to_the_user_table_only(run, shipped,
                                                                    user_table):
    shipped_path = shipped(LIVER, CURATED_MILK)
    shipped_before = shipped_path.read_bytes()

    result = run("--id", str(MILK), "--replace-curated", "--yes")

    assert result.exit_code == 0, result.output
    assert "shipped table was not changed" in result.output
    assert shipped_path.read_bytes() == shipped_before
    assert ids_in(user_table) == ["milk_whole"]
    layered = {f.food_id: f for f in load_foods(shipped_path, user_table)}
    assert layered["milk_whole"].source == "fdc:171265"
    assert "beef_liver" in layered


def test_the_real_shipped_table_protects_its_curated_rows(server, user_table):
    curated = {f.source for f in load_foods()}
    if "usda-sr28:01077" not in curated:
        pytest.skip("the shipped table no longer lists SR28 whole milk")

    result = CliRunner().invoke(command.import_fdc, [
        "--id", str(MILK), "--into", str(user_table), "--api-url", server.url,
        "--yes"])

    assert result.exit_code == 1
    assert "already curated" in result.stderr


def test_an_unreachable_api_exits_1_with_a_clear_message(run, user_table):
    url = closed_port_url()

    result = run("--id", str(SOY), "--yes", api_url=url)

    assert result.exit_code == 1
    assert f"Cannot reach FoodData Central at {url}" in result.stderr
    assert "Traceback" not in result.output
    assert not user_table.exists()


def test_an_unknown_id_exits_1_naming_it(run):
    result = run("--id", "999", "--yes")

    assert result.exit_code == 1
    assert "FoodData Central has no food with id 999" in result.stderr


def test_a_bad_key_exits_1_naming_the_setting(server, user_table, shipped):
    result = CliRunner().invoke(command.import_fdc, [
        "--id", str(SOY), "--into", str(user_table), "--api-url", server.url,
        "--api-key", "wrong", "--yes"])

    assert result.exit_code == 1
    assert "B12_FDC_API_KEY" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    ([], "--id N"),
    (["--id", "1", "--meals", "brunch"], "'brunch'"),
    (["--id", "1", "--diets", "keto"], "'keto'"),
    (["--id", "1", "--group", "dessert"], "dessert"),  # "fruit" is a group since issue 13
    (["--id", "0"], "--id"),
])
def test_usage_mistakes_exit_2(run, args, message):
    result = run(*args)

    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_folder_for_the_table_is_a_usage_error(server, tmp_path, shipped):
    result = CliRunner().invoke(command.import_fdc, [
        "--id", str(SOY), "--into", str(tmp_path / "nowhere" / "t.csv"),
        "--api-url", server.url])

    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_without_a_terminal_or_yes_nothing_is_written(run, user_table):
    result = run("--id", str(SOY))

    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert not user_table.exists()


@pytest.mark.parametrize("answer, code, written", [("y\n", 0, True), ("n\n", 1, False)])
def test_at_a_terminal_the_user_confirms(run, user_table, monkeypatch, answer, code,
                                         written):
    monkeypatch.setattr(command, "_stdin_is_interactive", lambda: True)

    result = run("--id", str(SOY), input=answer)

    assert result.exit_code == code, result.output
    assert "Write these rows" in result.output
    assert user_table.exists() is written


def test_overrides_reach_the_written_row(run, user_table):
    result = run("--id", str(SOY), "--group", "plant_yogurt", "--meals", "snack",
                 "--diets", "vegan;vegetarian", "--allergens", "none", "--yes")

    assert result.exit_code == 0, result.output
    row = read_table(user_table).iloc[0]
    assert (row["group"], row["meals"], row["diets"], row["allergens"]) == (
        "plant_yogurt", "snack", "vegan;vegetarian", "")


def test_a_row_the_loader_rejects_is_not_written(run, user_table, tmp_path):
    result = run("--id", str(SOY), "--group", "beef", "--diets", "vegan", "--yes")

    assert result.exit_code == 1
    assert str(user_table) in result.stderr
    assert "column diets" in result.stderr
    assert not user_table.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_broken_user_table_is_reported_not_rewritten(run, user_table):
    broken = csv_text(MY_SOY.replace("plant_drink", "drinks"))
    user_table.write_text(broken, encoding="utf-8")

    result = run("--id", str(EGG), "--yes")

    assert result.exit_code == 1
    assert "line 2" in result.stderr and "column group" in result.stderr
    assert user_table.read_text(encoding="utf-8") == broken


def test_a_header_only_table_is_filled(run, user_table):
    user_table.write_text(HEADER + "\n", encoding="utf-8")

    result = run("--id", str(EGG), "--yes")

    assert result.exit_code == 0, result.output
    assert ids_in(user_table) == ["eggs_grade_a_large_egg_whole_fdc748967"]


BABY_FOOD = {**saved(f"food_{CEREAL}"), "fdcId": 555,
             "description": "Babyfood, cereal, rice, fortified",
             "wweiaFoodCategory": {"wweiaFoodCategoryDescription": "Baby foods"}}


@pytest.fixture
def server_with_baby_food():
    search = saved("search_milk")
    search = {**search, "foods": [{"fdcId": 555, "description": "Babyfood",
                                   "dataType": "Survey (FNDDS)"}, *search["foods"]]}
    with FakeFdc(foods={**saved_foods(), 555: BABY_FOOD}, search=search) as fake:
        yield fake


def test_an_id_without_a_guessable_group_asks_for_group(run, server_with_baby_food,
                                                        user_table):
    result = run("--id", "555", "--yes", api_url=server_with_baby_food.url)

    assert result.exit_code == 1
    assert "--group" in result.stderr
    assert not user_table.exists()
    again = run("--id", "555", "--group", "cereal", "--yes",
                api_url=server_with_baby_food.url)
    assert again.exit_code == 0, again.output


def test_a_search_hit_without_a_group_is_skipped_with_a_warning(
        run, server_with_baby_food, user_table):
    result = run("--query", "milk", "--limit", "2", "--yes",
                 api_url=server_with_baby_food.url)

    assert result.exit_code == 0, result.output
    assert "Skipped" in result.stderr and "555" in result.stderr
    assert ids_in(user_table) == ["organic_unsweetened_soymilk_fdc2257046"]


def test_a_search_without_hits_exits_1(shipped, user_table):
    with FakeFdc(search={"totalHits": 0, "foods": []}) as empty:
        result = CliRunner().invoke(command.import_fdc, [
            "--query", "zzz", "--into", str(user_table), "--api-url", empty.url,
            "--yes"])

    assert result.exit_code == 1
    assert "no food matching 'zzz'" in result.stderr


# --- Bounded answers and shapes (issue 17, finding 10) ----------------------------------

try:
    from fdc_server import Reply
except ImportError:  # pragma: no cover
    from tests.fdc_server import Reply


def _set(path: tuple, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key] if not callable(key) else key(target)
        target[path[-1]] = value
    return change


def _b12(data):
    return next(e for e in data["foodNutrients"]
                if (e.get("nutrient") or {}).get("number") == "418")


CLI_SHAPES = {
    "foodNutrients of text": (SOY, _set(("foodNutrients",), ["x"]), "foodNutrients[0]"),
    "nutrient as text": (SOY, _set((_b12, "nutrient"), "418"), ".nutrient should be an object"),
    "foodPortions of text": (EGG, _set(("foodPortions",), ["1 cup"]), "foodPortions[0]"),
    "measureUnit as text": (EGG, _set(("foodPortions", 0, "measureUnit"), "cup"),
                            "measureUnit should be an object"),
    "amount true": (SOY, _set((_b12, "amount"), True), "amount should be a number, not true"),
}


@pytest.mark.parametrize("fdc_id, change, words", CLI_SHAPES.values(), ids=CLI_SHAPES)
def test_answers_of_another_shape_exit_1_with_one_line(run, server, user_table, fdc_id,
                                                        change, words):
    import copy

    data = copy.deepcopy(saved(f"food_{fdc_id}"))
    change(data)
    server.foods[fdc_id] = data

    result = run("--id", str(fdc_id), "--yes")

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not user_table.exists()  # nothing imported, "true" never became 1 µg


def test_an_oversized_answer_exits_1_with_one_line(run, server, user_table):
    server.script("/v1/foods", Reply(200, b"[" + b" " * (21 * 2**20) + b"]", length=False))

    result = run("--id", str(SOY), "--yes")

    assert result.exit_code == 1
    assert "sent more than 20 MB; stopped reading" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not user_table.exists()


def test_a_trickling_answer_fails_within_the_deadline(run, server, user_table):
    server.script("/v1/foods", Reply(200, [saved(f"food_{SOY}")], trickle_s=5.0))
    started = time.monotonic()

    result = run("--id", str(SOY), "--yes", "--deadline", "2")

    assert time.monotonic() - started < 4
    assert result.exit_code == 1
    assert "did not send its whole answer within 2 s" in result.stderr
    assert not user_table.exists()


def test_an_unwritable_table_is_refused_before_fetching(server, shipped):
    result = CliRunner().invoke(command.import_fdc, [
        "--id", str(SOY), "--into", "/proc/b12_my_foods.csv", "--api-url", server.url,
        "--api-key", "test-key", "--yes"])

    assert result.exit_code == 2, result.output
    assert "--into: no file can be written in /proc" in result.stderr
    assert "Traceback" not in result.output
    assert server.requests == []  # refused before anything was fetched
