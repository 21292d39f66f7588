"""Read and validate the dish library into ``Dish`` values.

The library is two CSV files beside the food table:

* ``dishes.csv``: ``dish_id,name,meals,cuisine,method,source,notes``, one dish a row;
* ``dish_ingredients.csv``: ``dish_id,food_id,grams[,note]``, one ingredient a row,
  grams for one adult portion.

A dish has no diets, allergens or B12 of its own: they follow from its
ingredients' rows in the food table (:func:`planner.domain.model.make_dish`).
As for foods, every problem is reported with the file, the line (the header is
line 1) and the column, and the library is rejected as a whole.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Container
from collections.abc import Iterable
from pathlib import Path

from foods.loader import FOODS_DIR
from foods.loader import TableError
from foods.loader import _number
from planner.domain.model import MEALS
from planner.domain.model import Dish
from planner.domain.model import DishIngredient
from planner.domain.model import Food
from planner.domain.model import make_dish

DISHES_FILE = FOODS_DIR / "dishes.csv"
DISH_INGREDIENTS_FILE = FOODS_DIR / "dish_ingredients.csv"

DISH_COLUMNS = ("dish_id", "name", "meals", "cuisine", "method", "source", "notes")
INGREDIENT_COLUMNS = ("dish_id", "food_id", "grams")
OPTIONAL_INGREDIENT_COLUMNS = ("note",)
DISH_SOURCE_PREFIXES = ("fndds:", "reference:", "own:")
DISH_ID = re.compile(r"^[a-z0-9_]+$")
FNDDS_CODE = re.compile(r"^fndds:\d{8}$")
MAX_GRAMS = 2_000.0


def ingredients_path_for(dishes_path: str | Path) -> Path:
    """The ``dish_ingredients.csv`` beside a ``dishes.csv``."""
    return Path(dishes_path).with_name(DISH_INGREDIENTS_FILE.name)


def _read(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
          ) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV file whose header holds ``required`` (and maybe
    ``optional``) columns; anything else raises TableError naming the file."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            if not header:
                raise TableError([f"{path}: the file is empty; expected a header row with "
                                  f"{', '.join(required)}"])
            missing = [c for c in required if c not in header]
            if missing:
                raise TableError([f"{path}: missing column(s) {', '.join(missing)}; "
                                  f"the header must have {', '.join(required)}"])
            unknown = [c for c in header if c not in required + optional]
            if unknown:
                raise TableError([f"{path}: unknown column(s) {', '.join(map(str, unknown))}; "
                                  f"allowed: {', '.join(required + optional)}"])
            rows = []
            for row in reader:
                if None in row:  # more cells than header columns
                    raise TableError([f"{path}, line {reader.line_num}: more cells than "
                                      f"the {len(header)} columns of the header"])
                rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
            return rows
    except FileNotFoundError:
        raise TableError([f"{path}: no such file"]) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise TableError([f"{path}: not a readable UTF-8 CSV file ({e})"]) from None


def _where(path: Path, line: int, key: str, value: str, column: str) -> str:
    return f"{path}, line {line} ({key} {value or '?'!r}), column {column}"


def _check_dish(path: Path, line: int, row: dict[str, str], errors: list[str]) -> frozenset[str]:
    did = row["dish_id"]

    def fail(column: str, message: str) -> None:
        errors.append(f"{_where(path, line, 'dish_id', did, column)}: {message}")

    if not did:
        fail("dish_id", "is empty; a value is required")
    elif not DISH_ID.match(did):
        fail("dish_id", f"{did!r} must use only a-z, 0-9 and _")
    if not row["name"]:
        fail("name", "is empty; a value is required")
    words = [w.strip() for w in row["meals"].split(";") if w.strip()]
    unknown = [w for w in words if w not in MEALS]
    if unknown:
        fail("meals", f"unknown meal(s) {', '.join(map(repr, unknown))}; "
                      f"choose from {', '.join(MEALS)}")
    elif not words:
        fail("meals", f"is empty; list one or more of {', '.join(MEALS)} separated by ';'")
    problem = _source_problem(row["source"])
    if problem:
        fail("source", problem)
    return frozenset(w for w in words if w in MEALS)


def _source_problem(source: str) -> str | None:
    """What is wrong with a dish's ``source`` cell, or None."""
    if not source:
        return "is empty; give fndds:<food_code>, reference:<citation> or own:<why>"
    if not source.startswith(DISH_SOURCE_PREFIXES):
        return f"{source!r} must start with one of {', '.join(DISH_SOURCE_PREFIXES)}"
    if source.startswith("fndds:") and not FNDDS_CODE.match(source):
        return f"{source!r}: an FNDDS food code has 8 digits, e.g. fndds:41603010"
    if source.endswith(":"):
        return f"{source!r} names nothing after the prefix"
    return None


def _grams_problem(raw: str, grams: float | None) -> str | None:
    """What is wrong with an ingredient's ``grams`` cell (``raw``, read as ``grams``), or None."""
    if not raw:
        return "is empty; give the grams for one adult portion"
    if grams is None:
        return f"{raw!r} is not a number"
    if grams <= 0:
        return f"{raw} is out of range; it must be more than 0"
    if grams > MAX_GRAMS:
        return f"{raw} is out of range; it must be at most {MAX_GRAMS:g}"
    return None


def _check_ingredient(path: Path, line: int, row: dict[str, str], dish_ids: Container[str],
                      known_foods: Container[str], errors: list[str]) -> DishIngredient | None:
    did, fid, raw = row["dish_id"], row["food_id"], row["grams"]
    before = len(errors)

    def fail(column: str, message: str) -> None:
        errors.append(f"{_where(path, line, 'dish_id', did, column)}: {message}")

    if not did:
        fail("dish_id", "is empty; a value is required")
    elif did not in dish_ids:
        fail("dish_id", f"unknown dish {did!r}; it is not in the dishes file")
    if not fid:
        fail("food_id", "is empty; a value is required")
    elif fid not in known_foods:
        fail("food_id", f"unknown food {fid!r}; use a food_id of the food table "
                        "(b12planner foods list --all lists them)")
    grams = _number(raw) if raw else None
    problem = _grams_problem(raw, grams)
    if problem:
        fail("grams", problem)
    if len(errors) > before or grams is None:  # no grams: a problem was named above
        return None
    return DishIngredient(food_id=fid, grams=grams, note=row.get("note", ""))


def load_dishes(foods: Iterable[Food], path: str | Path | None = None,
                ingredients_path: str | Path | None = None) -> tuple[Dish, ...]:
    """The dish library (``path``: a dishes file, default the shipped one; its
    ingredients file defaults to the ``dish_ingredients.csv`` beside it), checked
    against ``foods``. Raises TableError listing every problem."""
    path = Path(path or DISHES_FILE)
    ingredients_path = Path(ingredients_path or ingredients_path_for(path))
    known_foods = {f.food_id: f for f in foods}
    errors: list[str] = []
    dish_rows = _read(path, DISH_COLUMNS)
    ingredient_rows = _read(ingredients_path, INGREDIENT_COLUMNS, OPTIONAL_INGREDIENT_COLUMNS)
    if not dish_rows:
        raise TableError([f"{path}: the file has a header but no dishes"])
    first_line: dict[str, int] = {}
    meals: dict[str, frozenset[str]] = {}
    for line, row in dish_rows:
        dish_meals = _check_dish(path, line, row, errors)
        did = row["dish_id"]
        if did in first_line:
            errors.append(f"{_where(path, line, 'dish_id', did, 'dish_id')}: duplicate id "
                          f"{did!r}; first used on line {first_line[did]}")
        elif did:
            first_line[did] = line
            meals[did] = dish_meals
    parts: dict[str, list[DishIngredient]] = {did: [] for did in first_line}
    for line, row in ingredient_rows:
        item = _check_ingredient(ingredients_path, line, row, first_line, known_foods, errors)
        if item is not None:
            parts[row["dish_id"]].append(item)
    for did, items in parts.items():
        if not items and not any(r["dish_id"] == did for _, r in ingredient_rows):
            errors.append(f"{_where(path, first_line[did], 'dish_id', did, 'dish_id')}: the dish "
                          f"has no ingredients; add rows for it to {ingredients_path}")
    if errors:
        raise TableError(errors)
    by_id = {row["dish_id"]: row for _, row in dish_rows}
    return tuple(
        make_dish(did, by_id[did]["name"], meals[did], tuple(parts[did]), known_foods,
                  cuisine=by_id[did]["cuisine"], method=by_id[did]["method"],
                  source=by_id[did]["source"], notes=by_id[did]["notes"])
        for did in first_line
    )
