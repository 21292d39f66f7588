"""The shipped composition table: provenance and coverage (issue: foundation)."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from foods.loader import FOODS_DIR
from foods.loader import SHIPPED_TABLE
from foods.loader import load_foods

SR28 = FOODS_DIR / "sources" / "usda_sr28_b12.csv"


@pytest.fixture(scope="module")
def foods():
    return load_foods()


@pytest.fixture(scope="module")
def raw_rows():
    with open(SHIPPED_TABLE, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sr28():
    with open(SR28, newline="", encoding="utf-8") as f:
        return {row["ndb_no"]: row for row in csv.DictReader(f)}


def test_sr28_copy_is_complete(sr28):
    assert len(sr28) == 8790


def test_every_sr28_row_keeps_usdas_b12_value_exactly(raw_rows, sr28):
    sr_rows = [r for r in raw_rows if r["source"].startswith("usda-sr28:")]
    assert len(sr_rows) >= 100
    for row in sr_rows:
        ndb = row["source"].split(":", 1)[1]
        assert ndb in sr28, f"{row['food_id']}: NDB {ndb} is not in SR28"
        usda = sr28[ndb]["b12_ug_per_100g"]
        assert usda != "", f"{row['food_id']}: SR28 has no B12 value for {ndb}"
        assert row["b12_ug_per_100g"] == usda, row["food_id"]


def test_table_has_at_least_150_foods(foods):
    assert len(foods) >= 150


@pytest.mark.parametrize("group, minimum", [
    ("beef", 2), ("lamb", 1), ("pork", 1), ("organ_meat", 2), ("poultry", 2),
    ("finfish", 5), ("shellfish", 3), ("milk", 2), ("yogurt", 1), ("cheese", 3),
    ("egg", 1), ("cereal", 10), ("plant_drink", 6), ("nutritional_yeast", 3),
    ("yeast_extract", 1),
])
def test_each_required_group_is_covered(foods, group, minimum):
    assert Counter(f.group for f in foods)[group] >= minimum


def test_shellfish_include_clams_mussels_and_oysters(foods):
    names = " ".join(f.name.lower() for f in foods if f.group == "shellfish")
    for word in ("clam", "mussel", "oyster"):
        assert word in names


def test_plant_drinks_cover_soy_oat_almond_and_rice(foods):
    names = " ".join(f.name.lower() for f in foods if f.group == "plant_drink")
    for word in ("soy", "oat", "almond", "rice"):
        assert word in names


def test_fortified_cereals_number_at_least_ten(foods):
    cereals = [f for f in foods if f.group == "cereal" and f.fortified
               and f.b12_ug_per_100g > 0]
    assert len(cereals) >= 10


def test_nutritional_yeast_has_fortified_and_unfortified_rows(foods):
    yeast = [f for f in foods if f.group == "nutritional_yeast"]
    assert any(f.fortified and f.b12_ug_per_100g > 0 for f in yeast)
    assert any(not f.fortified and f.b12_ug_per_100g == 0 for f in yeast)


def test_meat_substitutes_and_tofu_number_at_least_five(foods):
    assert sum(1 for f in foods if f.group in ("meat_substitute", "tofu")
               and f.fortified) >= 5


def test_at_least_25_vegan_foods_carry_b12(foods):
    assert sum(1 for f in foods if "vegan" in f.diets and f.b12_ug_per_100g > 0) >= 25


def test_fish_and_meat_are_never_vegan_or_vegetarian(foods):
    for f in foods:
        if f.group in ("finfish", "shellfish", "beef", "pork", "poultry", "organ_meat"):
            assert not {"vegan", "vegetarian"} & f.diets, f.food_id


def test_doubtful_sr28_values_say_so_in_notes(raw_rows):
    doubtful = {"15159", "16166", "16168", "16272"}  # clams, chocolate soy, tofu
    for row in raw_rows:
        if row["source"].split(":", 1)[-1] in doubtful:
            assert row["notes"].strip(), row["food_id"]


def test_algae_and_tempeh_are_not_counted_as_sources(foods):
    for f in foods:
        if f.group == "other_plant":
            assert not f.counts_as_source
