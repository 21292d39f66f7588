"""``b12planner foods import-fdc``: add USDA FoodData Central foods to a user table.

The command fetches foods (by id, or by a search), turns each into a table row
with :func:`foods.fdc.parse_food`, shows what it would add or update, and
writes the user's CSV atomically after the loader has validated the result
(:mod:`foods.user_table` holds that table code).
Rows of the shipped, curated table are never overwritten: a food that is
already curated is refused unless ``--replace-curated`` is given, and even then
only the user's table gets an overlay row.

Exit status: 0 done (or nothing to change), 1 FoodData Central or table
problem, or a refusal, 2 wrong usage. Errors are one clear message on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Unpack

import click
import requests

from foods import fdc
from foods.loader import TableError
from foods.loader import load_foods
from foods.loader import load_groups
from foods.user_table import Change
from foods.user_table import CuratedFoodRefused
from foods.user_table import apply_changes
from foods.user_table import plan_changes
from foods.user_table import read_user_table
from foods.user_table import write_table
from planner.domain.model import ALLERGENS
from planner.domain.model import DIETS
from planner.domain.model import MEALS
from planner.domain.model import Food


class UsageProblem(click.ClickException):
    """Wrong use of the command: exit status 2, like click's own usage errors."""

    exit_code = 2


@click.command("import-fdc")
@click.option("--id", "fdc_ids", type=click.IntRange(min=1), multiple=True, metavar="N",
              help="FoodData Central id of a food to import; repeat for several.")
@click.option("--query", metavar="TEXT",
              help="Search FoodData Central and import the top --limit results.")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True,
              help="How many search results --query imports.")
@click.option("--into", required=True, metavar="PATH",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Your food table (CSV); created with the header if missing.")
@click.option("--group", type=click.Choice(tuple(load_groups())), metavar="GROUP",
              help="Food group for every imported food, a key of foods/groups.csv "
                   "(default: guessed from FoodData Central's category).")
@click.option("--meals", metavar="LIST",
              help=f"Meals, ';'-separated, from {';'.join(MEALS)} (default: by group).")
@click.option("--diets", metavar="LIST",
              help=f"Diets, ';'-separated, from {';'.join(DIETS)} (default: by group).")
@click.option("--allergens", metavar="LIST",
              help="Allergens, ';'-separated, or 'none' (default: by group and "
                   "ingredients).")
@click.option("--replace-curated", is_flag=True,
              help="Allow a food that the shipped table already curates; only your "
                   "table gets the row, the shipped table is never changed.")
@click.option("--yes", "-y", is_flag=True, help="Write without asking.")
@click.option("--api-url", metavar="URL",
              help=f"API root (default: ${fdc.ENV_API_URL} or {fdc.DEFAULT_API_URL}).")
@click.option("--api-key", metavar="KEY",
              help=f"API key (default: ${fdc.ENV_API_KEY} or {fdc.DEFAULT_API_KEY}).")
@click.option("--deadline", type=click.FloatRange(min=0.1, max=600), metavar="SECONDS",
              default=fdc.DEFAULT_DEADLINE_S, show_default=True,
              help="Most time one request to FoodData Central may take in all.")
def import_fdc(fdc_ids: tuple[int, ...], query: str | None, limit: int, into: Path,
               group: str | None, meals: str | None, diets: str | None,
               allergens: str | None, replace_curated: bool, yes: bool,
               api_url: str | None, api_key: str | None, deadline: float) -> None:
    """Add foods from USDA FoodData Central to your own food table."""
    if not fdc_ids and not query:
        raise UsageProblem("say what to import: --id N (repeatable) or --query TEXT")
    if not into.parent.is_dir():
        raise UsageProblem(f"--into: the folder {into.parent} does not exist")
    _check_writable(into)
    overrides = {
        "group": group,
        "meals": _word_list("--meals", meals, MEALS),
        "diets": _word_list("--diets", diets, DIETS),
        "allergens": _word_list("--allergens", allergens, ALLERGENS),
    }
    try:
        with requests.Session() as session:
            found = _fetch(fdc_ids, query, limit, session=session,
                           base_url=api_url, api_key=api_key, deadline_s=deadline)
        rows = _rows(found, overrides, explicit=set(fdc_ids))
        table = read_user_table(into)
        changes = plan_changes(rows, table, _shipped_foods(), replace_curated, into)
    except (fdc.FdcError, TableError, CuratedFoodRefused) as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot read {into}: {e.strerror or e}") from None
    if all(c.action == "unchanged" for c in changes):
        click.echo(f"Nothing to change: {into} already has these foods as imported.")
        return
    _show_preview(changes, into)
    _confirm(yes, into)
    try:
        write_table(apply_changes(table, changes), into)
    except TableError as e:
        raise click.ClickException(
            f"nothing written; the table would not be valid:\n{e}") from None
    except OSError as e:
        raise click.ClickException(
            f"nothing written; {into} cannot be written: {e.strerror or e}") from None
    _report(changes, into)


# --- Options -------------------------------------------------------------------


def _word_list(option: str, text: str | None, allowed: tuple[str, ...]) -> list[str] | None:
    """A ';'- or ','-separated option as words, checked against ``allowed``."""
    if text is None:
        return None
    words = [w.strip() for w in text.replace(",", ";").split(";") if w.strip()]
    if words == ["none"]:
        words = []
    unknown = [w for w in words if w not in allowed]
    if unknown:
        raise UsageProblem(f"{option}: unknown value(s) {', '.join(map(repr, unknown))}; "
                           f"choose from {', '.join(allowed)}")
    if not words and option != "--allergens":
        raise UsageProblem(f"{option}: give at least one of {', '.join(allowed)}")
    return words


def _check_writable(into: Path) -> None:
    """Refuse, before anything is fetched, a table that could not be written: the
    new file is made beside it, so its folder must take a file."""
    if into.exists() and not os.access(into, os.R_OK | os.W_OK):
        raise UsageProblem(f"--into: {into} cannot be written (permission denied)")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{into.name}.", suffix=".probe",
                                     dir=into.parent)
    except OSError as e:
        raise UsageProblem(f"--into: no file can be written in {into.parent} "
                           f"({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


# --- Fetching and parsing ------------------------------------------------------------


def _fetch(fdc_ids: tuple[int, ...], query: str | None, limit: int,
           **api: Unpack[fdc.Connection]) -> list[dict]:
    """Food details for the given ids plus the top ``limit`` search results."""
    ids = list(fdc_ids)
    if query:
        summaries = fdc.parse_search(fdc.search_foods(query, page_size=limit, **api))
        if not summaries:
            raise fdc.FdcNotFound(f"FoodData Central has no food matching {query!r}")
        ids += [s["fdc_id"] for s in summaries[:limit]]
    return fdc.get_foods(ids, **api)


def _rows(found: list[dict], overrides: dict,
          explicit: set[int]) -> list[tuple[dict[str, str], frozenset[str]]]:
    """Table rows with the sources naming the same food; a food asked for by
    ``--id`` that cannot be imported stops the command, a search hit is skipped."""
    rows = []
    for food in found:
        try:
            rows.append((fdc.parse_food(food, **overrides), fdc.same_food_sources(food)))
        except fdc.FdcNotImportable as e:
            if food.get("fdcId") in explicit:
                raise
            click.echo(f"Skipped: {e}", err=True)
    if not rows:
        raise fdc.FdcNotImportable("none of the foods found can be imported")
    return rows


# --- Tables --------------------------------------------------------------------------


def _shipped_foods() -> tuple[Food, ...]:
    """The curated, shipped table (the import never writes to it)."""
    return load_foods()


# --- Talking to the user ------------------------------------------------------------

ACTION_WORDS = {"add": "add", "update": "update", "unchanged": "same",
                "overlay": "over curated"}


def _show_preview(changes: list[Change], into: Path) -> None:
    """A table of the rows to write, with the defaults the user may want to change."""
    click.echo(f"Import into {into}:")
    header = ["action", "food_id", "B12 µg/100 g", "B12 µg/serving", "serving", "group",
              "source"]
    lines = [header] + [
        [ACTION_WORDS[c.action], c.row["food_id"], c.row["b12_ug_per_100g"],
         _per_serving(c.row), c.row["serving_label"], c.row["group"], c.row["source"]]
        for c in changes
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo(("  " + "  ".join(cells)).rstrip())
        if n:
            click.echo("      " + _details(changes[n - 1]))


def _per_serving(row: dict[str, str]) -> str:
    """B12 in one serving [µg], from the row's text cells."""
    value = float(row["b12_ug_per_100g"]) * float(row["serving_g"]) / 100
    return f"{value:.2f}"


def _details(change: Change) -> str:
    row = change.row
    text = (f"{row['name']}; meals {row['meals']}; diets {row['diets']}; allergens "
            f"{row['allergens'] or 'none'}; fortified {row['fortified']}; evidence "
            f"{row['evidence']}")
    if change.action == "overlay":
        text += (f" (your row will be used instead of the curated {change.curated_id!r};"
                 " the shipped table is unchanged)")
    return text


def _stdin_is_interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _confirm(yes: bool, into: Path) -> None:
    """Ask before writing, unless --yes; never hang on a pipe or under cron."""
    if yes:
        return
    if not _stdin_is_interactive():
        raise UsageProblem("not written: input is not a terminal, so I cannot ask for "
                           "confirmation; check the rows above and run again with --yes")
    if not click.confirm(f"Write these rows to {into}?", default=False):
        click.echo(f"Aborted: nothing written to {into}.", err=True)
        raise click.exceptions.Exit(1)


def _report(changes: list[Change], into: Path) -> None:
    counts = {a: sum(1 for c in changes if c.action == a) for a in ACTION_WORDS}
    click.echo(f"Wrote {into}: {counts['add']} added, {counts['update']} updated, "
               f"{counts['overlay']} over curated rows, {counts['unchanged']} unchanged.")
    if counts["overlay"]:
        click.echo("The shipped table was not changed; your rows replace the curated "
                   "ones only where your table is layered over it.")
    click.echo(f"The app uses your table when B12_USER_FOODS_CSV={into} is set.")
