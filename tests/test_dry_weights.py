"""Pasta, rice and pulses are bought dry: the shopping list gives their dry weight
beside the cooked grams the meals hold (foods/dry_weights.csv, factors from SR28)."""

from __future__ import annotations

import csv
import re

import pytest

from foods.loader import DRY_WEIGHTS_FILE
from foods.loader import FOODS_DIR
from foods.loader import TableError
from foods.loader import load_dry_weights
from foods.loader import load_foods
from planner.data.loader import load_reference
from planner.domain.planning import make_plan
from planner.domain.profile import parse_profile

SR28 = FOODS_DIR / "sources" / "usda_sr28_b12.csv"
TABLE = load_foods()
BY_ID = {f.food_id: f for f in TABLE}
ROWS = list(csv.DictReader(DRY_WEIGHTS_FILE.open(encoding="utf-8")))


def sr28() -> dict[str, dict]:
    with SR28.open(newline="", encoding="utf-8") as f:
        return {r["ndb_no"]: r for r in csv.DictReader(f)}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["food_id"])
def test_each_factor_is_the_sr28_energy_ratio_of_the_cooked_and_dry_rows(row):
    usda = sr28()
    food = BY_ID[row["food_id"]]
    cooked, dry = re.findall(r"usda-sr28:(\d{5})", row["source"])
    assert food.source == f"usda-sr28:{cooked}"  # the table's own row
    ratio = (float(usda[cooked]["energy_kcal_per_100g"])
             / float(usda[dry]["energy_kcal_per_100g"]))
    assert float(row["factor"]) == pytest.approx(ratio, abs=0.0005)
    assert re.search(r"\b(raw|dry|uncooked)\b", usda[dry]["long_description"], re.I)
    assert food.dry_factor == float(row["factor"]) and food.dry_name == row["dry_name"]


def test_every_cooked_grain_and_pulse_of_the_table_has_a_dry_weight():
    cooked = {f.food_id for f in TABLE if f.group in ("grain", "legume")
              and re.search(r"\bcooked\b", f.name, re.I)}
    assert cooked and cooked <= {r["food_id"] for r in ROWS}


@pytest.mark.parametrize(("line", "message"), [
    ("pasta_x,pasta,1.5,src", "column factor: '1.5' is not a number from 0 to 1"),
    ("pasta_x,pasta,half,src", "column factor: 'half' is not a number"),
    ("pasta_x,,0.4,src", "column dry_name: is empty"),
    ("pasta_x,pasta,0.4,", "column source: is empty"),
])
def test_a_bad_row_is_refused_with_line_and_column(tmp_path, line, message):
    path = tmp_path / "dry_weights.csv"
    path.write_text("food_id,dry_name,factor,source\nrice_x,rice,0.36,src\n" + line + "\n",
                    encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_dry_weights(path)
    assert f"{path}, line 3, {message}" in str(info.value)


@pytest.fixture(scope="module")
def plan():
    profile = parse_profile({"age_years": 34, "diet": "vegan", "market": "uk"})
    return make_plan(profile, TABLE, week="2025-W10", reference=load_reference())


def test_the_shopping_list_gives_dry_and_cooked_weights(plan):
    dried = [i for i in plan.shopping_list if BY_ID[i.food_id].dry_factor]
    assert dried, "a week of vegan meals holds pasta, rice or pulses"
    for item in dried:
        food = BY_ID[item.food_id]
        assert item.dry_grams == pytest.approx(item.grams * food.dry_factor)
        assert item.household == (f"about {item.dry_grams:.0f} g dry {food.dry_name} "
                                  f"({item.grams:.0f} g cooked)")
        assert item.to_dict()["dry_grams"] == round(item.dry_grams, 1)
    for item in plan.shopping_list:
        if not BY_ID[item.food_id].dry_factor:
            assert item.dry_grams is None and "dry" not in item.household


def test_the_plan_page_shows_the_dry_weight(client):
    page = client.get("/plan", query_string={"age_years": 34, "diet": "vegan",
                                             "market": "uk", "week": "2025-W10"})
    text = " ".join(page.get_data(as_text=True).split())
    assert re.search(r"about \d+ g dry (?:pasta|white rice|lentils) \(\d+ g cooked\)", text)
