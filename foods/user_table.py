"""The user's own food table (``B12_USER_FOODS_CSV``): what an import does to it.

:func:`read_user_table` reads it (an empty frame with the header when new),
:func:`plan_changes` decides, row by row, whether an imported food is added,
updates a row, is left unchanged or overlays a curated row of the shipped table
(refused unless asked for), :func:`apply_changes` applies that, and
:func:`write_table` validates the result as the loader will read it and only then
replaces the file atomically. ``b12planner foods import-fdc``
(:mod:`planner.commands.fdc`) is the command around it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from foods.loader import COLUMNS
from foods.loader import TABLE_COLUMNS
from foods.loader import read_table
from foods.loader import validate_frame
from planner.domain.model import Food

NEW_FILE_MODE = 0o644


class CuratedFoodRefused(Exception):
    """The import would overwrite a row of the shipped, curated table."""


@dataclass(frozen=True)
class Change:
    """What the import does to one row of the user table.

    ``action`` is ``add``, ``update``, ``unchanged`` or ``overlay`` (a user row
    that replaces the curated row ``curated_id`` when the tables are layered);
    ``index`` is the row's position in the user table when it already exists.
    """

    action: str
    row: dict[str, str]
    index: int | None = None
    curated_id: str | None = None


def read_user_table(path: Path) -> pd.DataFrame:
    """The user table as text cells; an empty frame with the header when new.

    An existing table must already be valid: its problems are reported, not
    silently carried into the new file.
    """
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(TABLE_COLUMNS), dtype=str)
    table = read_table(path)
    for column in TABLE_COLUMNS:  # a table written before a column was added
        if column not in table.columns and column not in COLUMNS:
            table[column] = ""
    if table.empty and list(table.columns) == list(TABLE_COLUMNS):
        return table
    validate_frame(table, path)
    return table


def plan_changes(rows: list[tuple[dict[str, str], frozenset[str]]],
                 table: pd.DataFrame, shipped: tuple[Food, ...],
                 replace_curated: bool, into: Path) -> list[Change]:
    """Decide add/update/overlay for each row; refuse curated foods unless allowed."""
    changes, refused = [], []
    for row, sources in rows:
        curated = _curated_match(row["food_id"], sources, shipped)
        if curated and not replace_curated:
            refused.append(f"{row['name']!r} ({row['source']}) is already curated in "
                           f"the shipped table as {curated.food_id!r} ({curated.source})")
            continue
        if curated:
            row = {**row, "food_id": curated.food_id}
        changes.append(_change(row, sources, table, curated))
    if refused:
        raise CuratedFoodRefused(
            "not written: " + "; ".join(refused) + ". Curated rows are never "
            f"overwritten; pass --replace-curated to put your version in {into} over "
            "them (the shipped table itself is never changed).")
    return changes


def _curated_match(food_id: str, sources: frozenset[str],
                   shipped: tuple[Food, ...]) -> Food | None:
    return next((f for f in shipped if f.food_id == food_id or f.source in sources),
                None)


def _change(row: dict[str, str], sources: frozenset[str], table: pd.DataFrame,
            curated: Food | None) -> Change:
    """Add, update or leave one row, matching the user table by source, then id."""
    by_source = table.index[table["source"].isin(sources)]
    by_id = table.index[table["food_id"] == row["food_id"]]
    matches = list(by_source) or list(by_id)
    curated_id = curated.food_id if curated else None
    if not matches:
        return Change("overlay" if curated else "add", row, None, curated_id)
    index = int(matches[0])
    if not curated:  # keep the id the user's table already uses for this food
        row = {**row, "food_id": str(table.at[index, "food_id"])}
    old = {c: table.at[index, c] for c in TABLE_COLUMNS}
    if old == row:
        return Change("unchanged", row, index, curated_id)
    return Change("overlay" if curated else "update", row, index, curated_id)


def apply_changes(table: pd.DataFrame, changes: list[Change]) -> pd.DataFrame:
    """The user table with ``changes`` applied: updates in place, additions at the end."""
    table = table.copy()
    for change in changes:
        if change.index is not None:
            for column in TABLE_COLUMNS:
                table.at[change.index, column] = change.row[column]
    added = pd.DataFrame([c.row for c in changes if c.index is None],
                         columns=list(TABLE_COLUMNS), dtype=str)
    if table.empty:
        return added
    if added.empty:
        return table
    return pd.concat([table, added], ignore_index=True)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Validate ``table`` as it will be read back, then replace ``path`` atomically.

    The CSV goes to a temporary file beside ``path``; the loader reads and
    validates that file (errors name ``path``); only then ``os.replace`` puts it
    in place, so a reader never sees a half-written or invalid table.
    """
    mode = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            table.to_csv(f, index=False, lineterminator="\n")
        validate_frame(read_table(tmp), path)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
