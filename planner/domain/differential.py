"""Comparison tables for joint pain and aching legs (``differential.toml``).

They carry the source documents' comparisons of B12-related pain with
osteoarthritis, rheumatoid arthritis, peripheral arterial disease and sciatica,
as points to discuss with a doctor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.domain.reference import ReferenceDataError


@dataclass(frozen=True)
class DifferentialRow:
    """One feature compared across the table's columns, with its source."""

    feature: str
    cells: tuple[str, ...]
    source: str

    def to_dict(self) -> dict:
        return {"feature": self.feature, "cells": list(self.cells), "source": self.source}


@dataclass(frozen=True)
class DifferentialTable:
    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[DifferentialRow, ...]
    source: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [row.to_dict() for row in self.rows],
            "source": self.source,
        }


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReferenceDataError(f"{where}: {key} must be non-empty text")
    return value.strip()


def _row(raw: Mapping[str, Any], width: int, where: str) -> DifferentialRow:
    cells = raw.get("cells")
    if not isinstance(cells, list) or len(cells) != width or not all(
        isinstance(c, str) and c.strip() for c in cells
    ):
        raise ReferenceDataError(f"{where}: cells must be {width} non-empty texts, one per column")
    return DifferentialRow(
        feature=_text(raw, "feature", where),
        cells=tuple(cells),
        source=_text(raw, "source", where),
    )


def parse_differentials(raw: Mapping[str, Any], name: str = "differential.toml") -> tuple[DifferentialTable, ...]:
    """Validate the ``[[table]]`` entries; every table and row needs a source."""
    tables = []
    for i, table in enumerate(raw.get("table", []), start=1):
        where = f"{name} table {i}"
        columns = table.get("columns")
        if not isinstance(columns, list) or len(columns) < 2:
            raise ReferenceDataError(f"{where}: columns must list at least two conditions")
        rows = tuple(
            _row(row, len(columns), f"{where} row {j}")
            for j, row in enumerate(table.get("row", []), start=1)
        )
        if not rows:
            raise ReferenceDataError(f"{where}: a table needs at least one row")
        tables.append(
            DifferentialTable(
                id=_text(table, "id", where),
                title=_text(table, "title", where),
                columns=tuple(columns),
                rows=rows,
                source=_text(table, "source", where),
            )
        )
    return tuple(tables)
