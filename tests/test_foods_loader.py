"""The composition table: the shipped file is valid and broken tables fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from foods.loader import COLUMNS
from foods.loader import TableError
from foods.loader import load_foods
from foods.loader import load_table

HEADER = ",".join(COLUMNS)
GOOD_ROWS = [
    "soy_drink,Soy drink fortified,plant_drink,0.85,243,1 cup (243 g),breakfast;snack,"
    "vegan;vegetarian;pescatarian;omnivore,soy,true,usda-sr28:16139,measured,",
    "salmon,Salmon cooked,finfish,3.05,85,3 oz (85 g),lunch;dinner,pescatarian;omnivore,"
    "fish,false,usda-sr28:15209,measured,",
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    return path


def table(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_good_table_loads_into_frozen_foods(tmp_path):
    foods = load_table(write(tmp_path, table(*GOOD_ROWS)))

    assert [f.food_id for f in foods] == ["soy_drink", "salmon"]
    assert foods[0].b12_ug_per_serving == pytest.approx(0.85 * 243 / 100)
    assert foods[1].diets == {"pescatarian", "omnivore"}
    with pytest.raises(AttributeError):
        foods[0].b12_ug_per_100g = 5  # type: ignore[misc]


BROKEN = {
    "missing column": (
        table(GOOD_ROWS[0].rsplit(",", 1)[0], header=",".join(COLUMNS[:-1])),
        ["missing column(s) notes"],
    ),
    "negative b12": (
        table(GOOD_ROWS[0].replace(",0.85,", ",-0.85,")),
        ["line 2", "column b12_ug_per_100g", "-0.85 is out of range"],
    ),
    "duplicate id": (
        table(GOOD_ROWS[0], GOOD_ROWS[0]),
        ["line 3", "column food_id", "duplicate id 'soy_drink'", "line 2"],
    ),
    "vegan fish": (
        table(GOOD_ROWS[1].replace("pescatarian;omnivore", "vegan;pescatarian;omnivore")),
        ["line 2", "column diets", "vegan does not fit group 'finfish'"],
    ),
    "unknown allergen": (
        table(GOOD_ROWS[0].replace(",soy,", ",soya,")),
        ["line 2", "column allergens", "'soya'", "choose from milk"],
    ),
    "non-numeric value": (
        table(GOOD_ROWS[1].replace(",85,", ",three oz,")),
        ["line 2", "column serving_g", "'three oz' is not a number"],
    ),
    "empty file": ("", ["the file is empty"]),
    "header only": (table(), ["no foods"]),
    "unknown group": (
        table(GOOD_ROWS[0].replace("plant_drink", "drinks")),
        ["column group", "unknown group 'drinks'", "plant_drink"],
    ),
    "bad source": (
        table(GOOD_ROWS[0].replace("usda-sr28:16139", "my notes")),
        ["column source", "usda-sr28:"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_table_fails_with_file_row_and_column(tmp_path, case):
    text, expected = BROKEN[case]
    path = write(tmp_path, text)

    with pytest.raises(TableError) as excinfo:
        load_table(path)

    message = str(excinfo.value)
    assert str(path) in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize("case", list(BROKEN))
def test_foods_check_reports_a_broken_table_without_traceback(tmp_path, case):
    from click.testing import CliRunner

    from planner.commands.foods import foods

    path = write(tmp_path, BROKEN[case][0])
    result = CliRunner().invoke(foods, ["check", str(path)])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert str(path) in result.output


def test_user_table_is_layered_over_the_shipped_one(tmp_path):
    user = tmp_path / "mine.csv"
    user.write_text(table(GOOD_ROWS[0].replace("soy_drink,Soy drink fortified",
                                               "my_soy,My soy drink")
                          .replace("usda-sr28:16139", "user:label seen 2026-11")))
    shipped = load_foods()
    layered = load_foods(user_path=user)

    assert len(layered) == len(shipped) + 1
    assert any(f.food_id == "my_soy" for f in layered)


def test_user_table_is_validated_too(tmp_path):
    user = write(tmp_path, table(GOOD_ROWS[0].replace(",0.85,", ",lots,")))
    with pytest.raises(TableError, match="column b12_ug_per_100g"):
        load_foods(user_path=user)


def test_shipped_table_passes_foods_check():
    from click.testing import CliRunner

    from planner.commands.foods import foods

    result = CliRunner().invoke(foods, ["check"])
    assert result.exit_code == 0, result.output
    assert "all valid" in result.output
