"""``b12planner foods``: check and list the composition table."""

from __future__ import annotations

import json
import sys

import click

from foods.loader import INGREDIENTS_TABLE
from foods.loader import SHIPPED_TABLE
from foods.loader import TableError
from foods.loader import add_ingredients
from foods.loader import load_groups
from foods.loader import load_table
from planner.commands.fdc import import_fdc
from planner.domain.model import DIETS
from planner.domain.model import PROFILE_MARKETS
from planner.pages import spreadsheet


@click.group("foods")
def foods() -> None:
    """Check, list and import foods of the B12 composition table."""


foods.add_command(import_fdc)


@foods.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def check(path: str | None) -> None:
    """Validate the shipped table and its ordinary ingredients, or the table at PATH."""
    target = path or SHIPPED_TABLE
    try:
        rows = load_table(target)
        ingredients = () if path else add_ingredients(rows, INGREDIENTS_TABLE)[len(rows):]
    except TableError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None
    vegan = sum(1 for f in rows if "vegan" in f.diets and f.b12_ug_per_100g > 0)
    click.echo(f"{target}: {len(rows)} foods, all valid ({vegan} vegan foods with B12)")
    if not path:
        click.echo(f"{INGREDIENTS_TABLE}: {len(ingredients)} ordinary ingredients, all valid")


@foods.command("list")
@click.option("--diet", type=click.Choice(DIETS), help="Only foods that fit this diet.")
@click.option("--group", "group_", metavar="GROUP", help="Only this food group.")
@click.option("--market", type=click.Choice(PROFILE_MARKETS),
              help="Only foods sold in this market (any: only foods sold everywhere).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--path", type=click.Path(dir_okay=False), help="Another table file.")
@click.option("--all", "all_", is_flag=True,
              help="Also list the ordinary ingredients (foods/ingredients.csv, no B12).")
def list_foods(diet: str | None, group_: str | None, market: str | None, fmt: str,
               path: str | None, all_: bool) -> None:
    """List foods, richest in B12 per serving first.

    The ordinary ingredients dishes are made of are listed with --all, or when
    --group names their group."""
    groups = load_groups()
    if group_ and group_ not in groups:
        raise click.BadParameter(
            f"{group_!r} is not a group; choose one of {', '.join(groups)}",
            param_hint="--group")
    try:
        rows = load_table(path or SHIPPED_TABLE)
        if not path and (all_ or group_):
            rows = add_ingredients(rows, INGREDIENTS_TABLE)
    except TableError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None
    rows = [f for f in rows if (not diet or diet in f.diets)
            and (not group_ or f.group == group_)
            and (not market or f.sold_in(market))]
    rows.sort(key=lambda f: (-f.b12_ug_per_serving, f.food_id))
    if fmt == "json":
        click.echo(json.dumps([f.to_dict() for f in rows], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        fields = ["food_id", "name", "group", "b12_ug_per_100g", "serving_label",
                  "b12_ug_per_serving", "source", "evidence", "markets", "tier"]
        writer = spreadsheet.DictWriter(sys.stdout, fieldnames=fields,
                                        extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({**f.to_dict(), "markets": ";".join(f.to_dict()["markets"])}
                         for f in rows)
    else:
        for f in rows:
            click.echo(f"{f.b12_ug_per_serving:8.2f} µg  {f.name}  "
                       f"[{f.serving_label}; {f.source}; {f.tier}]")
        click.echo(f"{len(rows)} foods")
