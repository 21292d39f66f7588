"""``b12planner dishes``: check and list the dish library."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter

import click

from foods.dishes import DISHES_FILE
from foods.dishes import ingredients_path_for
from foods.dishes import load_dishes
from foods.loader import TableError
from foods.loader import load_foods
from planner.domain.model import DIETS
from planner.domain.model import MEALS
from planner.domain.model import dish_b12_ug


@click.group("dishes")
def dishes() -> None:
    """Check and list the dish library (foods/dishes.csv, foods/dish_ingredients.csv)."""


def _load(path: str | None, ingredients: str | None):
    """(foods by id, dishes); a bad library prints its problems and exits 1, as
    ``foods check`` does."""
    try:
        foods = load_foods()
        return {f.food_id: f for f in foods}, load_dishes(foods, path, ingredients)
    except TableError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None


@dishes.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--ingredients", type=click.Path(dir_okay=False),
              help="The ingredients file (default: dish_ingredients.csv beside PATH).")
def check(path: str | None, ingredients: str | None) -> None:
    """Validate the shipped dish library, or the dishes file at PATH."""
    target = path or DISHES_FILE
    _, rows = _load(path, ingredients)
    counts = Counter(d.diet for d in rows)
    by_diet = ", ".join(f"{counts[d]} {d}" for d in DIETS)
    click.echo(f"{target}: {len(rows)} dishes, all valid ({by_diet}, by their ingredients; "
               f"ingredients from {ingredients or ingredients_path_for(target)})")


@dishes.command("list")
@click.option("--diet", type=click.Choice(DIETS), help="Only dishes that fit this diet.")
@click.option("--meal", type=click.Choice(MEALS), help="Only dishes for this meal.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--path", type=click.Path(dir_okay=False), help="Another dishes file.")
def list_dishes(diet: str | None, meal: str | None, fmt: str, path: str | None) -> None:
    """List dishes in library order, with the diets and allergens their ingredients give."""
    foods, rows = _load(path, None)
    rows = [d for d in rows if (not diet or diet in d.diets) and (not meal or meal in d.meals)]
    items = [{**d.to_dict(), "b12_ug": round(dish_b12_ug(d, foods), 2)} for d in rows]
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["id", "name", "meals", "diets", "allergens", "b12_ug", "source",
                         "ingredients"])
        for item in items:
            writer.writerow([item["id"], item["name"], ";".join(item["meals"]),
                             ";".join(item["diets"]), ";".join(item["allergens"]),
                             item["b12_ug"], item["source"],
                             ";".join(f"{i['food_id']}:{i['grams']:g}"
                                      for i in item["ingredients"])])
    else:
        for item in items:
            allergens = ", ".join(item["allergens"]) or "none"
            click.echo(f"{item['b12_ug']:6.2f} µg  {item['name']}  [{', '.join(item['meals'])}; "
                       f"{item['diets'][0] if item['diets'] else 'no diet'}; "
                       f"allergens: {allergens}]")
        click.echo(f"{len(items)} dishes")
