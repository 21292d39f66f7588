"""Read and validate the B12 composition table into ``Food`` values.

pandas reads the CSV (every cell as text, so nothing is silently converted);
each row is then checked and turned into a frozen
:class:`planner.domain.model.Food`. Every problem is reported with the file,
the line (the header is line 1) and the column, and the table is rejected as a
whole: a half-valid table is never used.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from planner.domain.model import AISLES
from planner.domain.model import ALLERGENS
from planner.domain.model import ANY_MARKET
from planner.domain.model import DIETS
from planner.domain.model import EVIDENCE
from planner.domain.model import MARKETS
from planner.domain.model import MEALS
from planner.domain.model import TIERS
from planner.domain.model import Food

FOODS_DIR = Path(__file__).resolve().parent
SHIPPED_TABLE = FOODS_DIR / "b12_foods.csv"
INGREDIENTS_TABLE = FOODS_DIR / "ingredients.csv"
GROUPS_FILE = FOODS_DIR / "groups.csv"
TAGS_FILE = FOODS_DIR / "food_tags.csv"
DRY_WEIGHTS_FILE = FOODS_DIR / "dry_weights.csv"
TIERS_FILE = FOODS_DIR / "food_tiers.csv"

COLUMNS = (
    "food_id",
    "name",
    "group",
    "b12_ug_per_100g",
    "serving_g",
    "serving_label",
    "meals",
    "diets",
    "allergens",
    "fortified",
    "source",
    "evidence",
    "notes",
)
#: Columns a table may leave out. ``markets`` was added later: a table without
#: it (a user table written before) is read as if every cell were blank.
OPTIONAL_COLUMNS = ("markets",)
TABLE_COLUMNS = COLUMNS + OPTIONAL_COLUMNS
SOURCE_PREFIXES = ("usda-sr28:", "label:", "reference:", "fdc:", "user:")
#: ``markets`` of a fortified row left blank, by source: a person's own label
#: entry is sold where they shop; USDA's databases (SR28, FoodData Central)
#: describe US foods. Other fortified rows (``label:``, ``reference:``) must
#: name their markets.
DEFAULT_FORTIFIED_MARKETS = {"user:": ANY_MARKET, "fdc:": "us", "usda-sr28:": "us"}
MARKET_CHOICES = f"{', '.join(MARKETS)} (one or more, separated by ';'), or {ANY_MARKET}"
FOOD_ID = re.compile(r"^[a-z0-9_]+$")
MAX_B12_UG_PER_100G = 10_000.0
MAX_SERVING_G = 2_000.0


class TableError(ValueError):
    """The table cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:20]
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__("\n".join(shown) + more)


@functools.cache
def load_groups(path: Path = GROUPS_FILE) -> dict[str, dict[str, Any]]:
    """Food groups: ``{group: {"label", "diets", "counts_as_source", "note", "aisle",
    "tier", "tier_reason"}}``. ``aisle`` (``AISLES``) places the group's foods on a
    shopping list; ``tier`` (``TIERS``) is the default tier of its foods, with a
    one-line reason. A bad aisle or tier raises TableError naming line and column."""
    groups: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            for column, allowed in (("aisle", AISLES), ("tier", TIERS)):
                if (row.get(column) or "") not in allowed:
                    errors.append(f"{path}, line {line}, column {column}: "
                                  f"{row.get(column)!r} is not valid; choose one of "
                                  f"{', '.join(allowed)}")
            if not (row.get("tier_reason") or "").strip():
                errors.append(f"{path}, line {line}, column tier_reason: is empty; "
                              "give a one-line reason")
            groups[row["group"]] = {
                "label": row["label"],
                "diets": frozenset(row["diets"].split(";")),
                "counts_as_source": row["counts_as_source"] == "true",
                "note": row["note"],
                "aisle": row.get("aisle") or "",
                "tier": row.get("tier") or "",
                "tier_reason": (row.get("tier_reason") or "").strip(),
            }
    if errors:
        raise TableError(errors)
    return groups


def read_table(path: str | Path) -> pd.DataFrame:
    """The table as text cells; a missing, unreadable or empty file raises TableError."""
    path = Path(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise TableError([f"{path}: no such file"]) from None
    except pd.errors.EmptyDataError:
        raise TableError([f"{path}: the file is empty; expected a header row with "
                          f"{', '.join(COLUMNS)}"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TableError([f"{path}: not a readable UTF-8 CSV file ({e})"]) from None


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(";") if w.strip()]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _RowChecker:
    """Checks one row, collecting messages that name file, line and column."""

    def __init__(self, path: Path, line: int, row: Mapping[Hashable, str],
                 groups: dict[str, dict[str, Any]]):
        self.path, self.line, self.row, self.groups = path, line, row, groups
        self.errors: list[str] = []

    def fail(self, column: str, message: str) -> None:
        fid = self.row.get("food_id") or "?"
        self.errors.append(
            f"{self.path}, line {self.line} (food_id {fid!r}), column {column}: {message}"
        )

    def text(self, column: str, required: bool = True) -> str:
        value = self.row[column].strip()
        if required and not value:
            self.fail(column, "is empty; a value is required")
        return value

    def number(self, column: str, low: float, high: float, low_ok: bool) -> float:
        raw = self.text(column)
        value = _number(raw) if raw else None
        if raw and value is None:
            self.fail(column, f"{raw!r} is not a number")
        elif value is not None and (value < low or (value == low and not low_ok)):
            bound = "0 or more" if low_ok else f"more than {low:g}"
            self.fail(column, f"{raw} is out of range; it must be {bound}")
        elif value is not None and value > high:
            self.fail(column, f"{raw} is out of range; it must be at most {high:g}")
        return value if value is not None else 0.0

    def choices(self, column: str, allowed: Iterable[str], required: bool) -> frozenset[str]:
        words = _words(self.row[column])
        unknown = [w for w in words if w not in allowed]
        if unknown:
            self.fail(column, f"unknown value(s) {', '.join(map(repr, unknown))}; "
                              f"choose from {', '.join(allowed)}")
        if required and not words:
            self.fail(column, f"is empty; list one or more of {', '.join(allowed)} "
                              "separated by ';'")
        return frozenset(w for w in words if w in allowed)

    def food(self) -> Food | None:
        food_id = self.text("food_id")
        if food_id and not FOOD_ID.match(food_id):
            self.fail("food_id", f"{food_id!r} must use only a-z, 0-9 and _")
        group = self.text("group")
        if group and group not in self.groups:
            self.fail("group", f"unknown group {group!r}; choose one of "
                               f"{', '.join(self.groups)}")
        b12 = self.number("b12_ug_per_100g", 0.0, MAX_B12_UG_PER_100G, low_ok=True)
        serving = self.number("serving_g", 0.0, MAX_SERVING_G, low_ok=False)
        meals = self.choices("meals", MEALS, required=True)
        diets = self.choices("diets", DIETS, required=True)
        allergens = self.choices("allergens", ALLERGENS, required=False)
        if group in self.groups:
            allowed = self.groups[group]["diets"]
            wrong = sorted(diets - allowed, key=DIETS.index)
            if wrong:
                self.fail("diets", f"{', '.join(wrong)} does not fit group {group!r}; "
                                   f"it allows {', '.join(sorted(allowed, key=DIETS.index))}")
        fortified = self.text("fortified").lower()
        if fortified and fortified not in ("true", "false"):
            self.fail("fortified", f"{fortified!r} must be true or false")
        source = self.text("source")
        if source and not source.startswith(SOURCE_PREFIXES):
            self.fail("source", f"{source!r} must start with one of "
                                f"{', '.join(SOURCE_PREFIXES)}")
        evidence = self.text("evidence")
        if evidence and evidence not in EVIDENCE:
            self.fail("evidence", f"{evidence!r} is not known; choose one of "
                                  f"{', '.join(EVIDENCE)}")
        name, label = self.text("name"), self.text("serving_label")
        markets = self.markets(fortified == "true", source)
        if self.errors:
            return None
        plant = "vegan" in self.groups[group]["diets"]
        return Food(
            food_id=food_id, name=name, group=group, b12_ug_per_100g=b12,
            serving_g=serving, serving_label=label, meals=meals, diets=diets,
            allergens=allergens, fortified=fortified == "true", source=source,
            evidence=evidence, notes=self.row["notes"].strip(),
            # plants make no B12: a plant food counts only when the row says fortified
            counts_as_source=self.groups[group]["counts_as_source"]
            and (fortified == "true" or not plant),
            markets=markets,
            tier=self.groups[group].get("tier") or TIERS[0],
            tier_reason=self.groups[group].get("tier_reason", ""),
        )

    def markets(self, fortified: bool, source: str) -> frozenset[str]:
        """The markets this row's B12 figure holds in.

        Blank means ``any`` for a row with nothing added; a fortified row must
        name its markets (fortification differs between countries), except
        the sources in :data:`DEFAULT_FORTIFIED_MARKETS`.
        """
        words = _words(self.row.get("markets", ""))
        unknown = [w for w in words if w not in MARKETS and w != ANY_MARKET]
        if unknown:
            self.fail("markets", f"unknown market(s) {', '.join(map(repr, unknown))}; "
                                 f"choose {MARKET_CHOICES}")
            return frozenset()
        if ANY_MARKET in words and len(words) > 1:
            self.fail("markets", f"{ANY_MARKET!r} means every market and cannot be "
                                 f"combined with others; choose {MARKET_CHOICES}")
            return frozenset()
        if not words:
            if not fortified:
                return frozenset({ANY_MARKET})
            default = next((m for prefix, m in DEFAULT_FORTIFIED_MARKETS.items()
                            if source.startswith(prefix)), None)
            if default is None:
                self.fail("markets", "is empty, but the food is fortified and "
                                     "fortification differs between countries; name "
                                     f"the markets its B12 figure holds in: "
                                     f"{', '.join(MARKETS)} (one or more, separated by ';')")
                return frozenset()
            return frozenset({default})
        if fortified and ANY_MARKET in words:
            self.fail("markets", f"{ANY_MARKET!r} is only for foods with nothing added; "
                                 "a fortified food's B12 differs between countries, so "
                                 f"name its markets: {', '.join(MARKETS)}")
            return frozenset()
        return frozenset(words)


def validate_frame(df: pd.DataFrame, path: str | Path) -> tuple[Food, ...]:
    """Check every row of a table read by :func:`read_table`; return its foods."""
    path = Path(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise TableError([f"{path}: missing column(s) {', '.join(missing)}; "
                          f"the header must have {', '.join(COLUMNS)}"])
    unknown = [c for c in df.columns if c not in TABLE_COLUMNS]
    if unknown:
        raise TableError([f"{path}: unknown column(s) {', '.join(map(str, unknown))}; "
                          f"allowed: {', '.join(TABLE_COLUMNS)}"])
    if df.empty:
        raise TableError([f"{path}: the table has a header but no foods"])
    groups = load_groups()
    errors: list[str] = []
    foods: list[Food] = []
    first_line: dict[str, int] = {}
    for offset, row in enumerate(df.to_dict("records")):
        line = offset + 2  # the header is line 1
        checker = _RowChecker(path, line, row, groups)
        food = checker.food()
        fid = row["food_id"].strip()
        if fid in first_line:
            checker.fail("food_id", f"duplicate id {fid!r}; first used on line "
                                    f"{first_line[fid]}")
            food = None
        elif fid:
            first_line[fid] = line
        errors.extend(checker.errors)
        if food is not None:
            foods.append(food)
    if errors:
        raise TableError(errors)
    return tuple(foods)


def load_table(path: str | Path) -> tuple[Food, ...]:
    """Read and validate one table file; foods get their food-safety tags, tiers and
    dry weights."""
    return with_dry_weights(with_tiers(with_tags(validate_frame(read_table(path), path))))


@functools.cache
def load_tiers(path: Path = TIERS_FILE) -> dict[str, tuple[str, str]]:
    """Per-food tier overrides by food id (``food_tiers.csv``: food_id, tier, reason).

    A food not listed keeps its group's tier (``groups.csv``). A bad tier, a blank
    reason or an id listed twice raises TableError naming line and column.
    """
    tiers: dict[str, tuple[str, str]] = {}
    errors = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            fid = (row.get("food_id") or "").strip()
            tier = (row.get("tier") or "").strip()
            reason = (row.get("reason") or "").strip()
            where = f"{path}, line {line}"
            if not fid:
                errors.append(f"{where}, column food_id: is empty; a value is required")
            elif fid in tiers:
                errors.append(f"{where}, column food_id: duplicate id {fid!r}")
            if tier not in TIERS:
                errors.append(f"{where}, column tier: {tier!r} is not valid; choose one of "
                              f"{', '.join(TIERS)}")
            if not reason:
                errors.append(f"{where}, column reason: is empty; give a one-line reason")
            if fid and fid not in tiers:
                tiers[fid] = (tier, reason)
    if errors:
        raise TableError(errors)
    return tiers


def with_tiers(foods: Iterable[Food]) -> tuple[Food, ...]:
    """``foods`` with the tier ``food_tiers.csv`` gives their id (others keep the
    group's default tier, set by the loader)."""
    tiers = load_tiers()
    return tuple(replace(f, tier=tiers[f.food_id][0], tier_reason=tiers[f.food_id][1])
                 if f.food_id in tiers else f for f in foods)


@functools.cache
def load_tags(path: Path = TAGS_FILE) -> dict[str, frozenset[str]]:
    """Food-safety tags by food id (``food_tags.csv``: food_id, tag, reason).

    The food-safety rules (``planner/data/food_safety.toml``) match foods by these
    tags. A row with a blank cell raises TableError naming the line.
    """
    tags: dict[str, set[str]] = {}
    errors = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            fid, tag = (row.get("food_id") or "").strip(), (row.get("tag") or "").strip()
            if not fid or not tag or not (row.get("reason") or "").strip():
                errors.append(f"{path}:{line}: food_id, tag and reason are all required")
                continue
            tags.setdefault(fid, set()).add(tag)
    if errors:
        raise TableError(errors)
    return {fid: frozenset(t) for fid, t in tags.items()}


def with_tags(foods: Iterable[Food]) -> tuple[Food, ...]:
    """``foods`` with the tags ``food_tags.csv`` gives their ids."""
    tags = load_tags()
    return tuple(replace(f, tags=f.tags | tags[f.food_id]) if f.food_id in tags else f
                 for f in foods)


@functools.cache
def load_dry_weights(path: Path = DRY_WEIGHTS_FILE) -> dict[str, tuple[float, str]]:
    """What a cooked food is bought as, by food id (``dry_weights.csv``: food_id,
    dry_name, factor = grams dry per gram cooked, source). A factor that is not a
    number in (0, 1], a blank cell or an id listed twice raises TableError naming
    line and column."""
    weights: dict[str, tuple[float, str]] = {}
    errors = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            where = f"{path}, line {line}"
            cells = {k: (row.get(k) or "").strip() for k in ("food_id", "dry_name", "factor",
                                                           "source")}
            for column, value in cells.items():
                if not value:
                    errors.append(f"{where}, column {column}: is empty; a value is required")
            try:
                factor = float(cells["factor"])
            except ValueError:
                factor = math.nan
            if cells["factor"] and not 0 < factor <= 1:
                errors.append(f"{where}, column factor: {cells['factor']!r} is not a number "
                              "from 0 to 1 (grams dry per gram cooked)")
            if cells["food_id"] in weights:
                errors.append(f"{where}, column food_id: duplicate id {cells['food_id']!r}")
            elif all(cells.values()) and 0 < factor <= 1:
                weights[cells["food_id"]] = (factor, cells["dry_name"])
    if errors:
        raise TableError(errors)
    return weights


def with_dry_weights(foods: Iterable[Food]) -> tuple[Food, ...]:
    """``foods`` with what ``dry_weights.csv`` says their cooked weight is bought as."""
    weights = load_dry_weights()
    return tuple(replace(f, dry_factor=weights[f.food_id][0], dry_name=weights[f.food_id][1])
                 if f.food_id in weights else f for f in foods)


def layer(base: Iterable[Food], overlay: Iterable[Food]) -> tuple[Food, ...]:
    """``base`` with ``overlay``'s rows added; a row with the same id replaces the base row."""
    merged = {f.food_id: f for f in base}
    merged.update((f.food_id, f) for f in overlay)
    return tuple(merged.values())


def add_ingredients(foods: tuple[Food, ...], path: str | Path) -> tuple[Food, ...]:
    """``foods`` followed by the ordinary ingredients of ``path`` (same columns and
    rules). An id in both files is refused: each food lives in one file."""
    ingredients = load_table(path)
    known = {f.food_id for f in foods}
    clashes = [f.food_id for f in ingredients if f.food_id in known]
    if clashes:
        raise TableError([f"{path}: food id(s) {', '.join(map(repr, clashes))} are already "
                          "in the B12 table; each food belongs in one file"])
    return foods + ingredients


def load_foods(path: str | Path | None = None,
               user_path: str | Path | None = None,
               ingredients_path: str | Path | None = INGREDIENTS_TABLE) -> tuple[Food, ...]:
    """The shipped table (or ``path``) with the ordinary ingredients
    (``ingredients.csv``; ``ingredients_path=None`` leaves them out) after it, and a
    user table layered over both when given."""
    foods = load_table(path or SHIPPED_TABLE)
    if ingredients_path:
        foods = add_ingredients(foods, ingredients_path)
    if user_path:
        foods = layer(foods, load_table(user_path))
    return foods
