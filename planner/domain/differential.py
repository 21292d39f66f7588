"""Comparison tables for joint pain and aching legs (``differential.toml``).

They carry the source documents' comparisons of B12-related pain with
osteoarthritis, rheumatoid arthritis, peripheral arterial disease and sciatica,
as points to discuss with a doctor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from planner.domain.reference import ReferenceDataError
from planner.domain.reference import text_field as _text


@dataclass(frozen=True)
class DifferentialRow:
    """One feature compared across the table's columns, with its source."""

    feature: str
    cells: tuple[str, ...]
    source: str
    matches: tuple[str, ...] = ()  # symptoms of the profile this row matches (issue 14)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"feature": self.feature, "cells": list(self.cells),
                               "source": self.source}
        if self.matches:
            out["matches"] = list(self.matches)
        return out


@dataclass(frozen=True)
class SymptomPointer:
    """A symptom that tells a table's rows apart: the rows (``features``) it matches
    and the condition (``column``) it points towards, in the seed's words."""

    symptom: str
    table: str
    features: tuple[str, ...]
    column: str
    wording: str
    points_to: str
    source: str

    def sentence(self) -> str:
        return (f"In the comparison below, your symptom ({self.wording}) points towards "
                f"{self.points_to}. Only a doctor's examination decides: the same symptom "
                "can have more than one cause, conditions can occur together, and a doctor "
                "can examine you and order the tests that tell them apart.")

    def to_dict(self) -> dict[str, Any]:
        return {"symptom": self.symptom, "table": self.table, "features": list(self.features),
                "condition": self.column, "wording": self.wording,
                "points_to": self.points_to, "source": self.source}


@dataclass(frozen=True)
class DifferentialTable:
    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[DifferentialRow, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [row.to_dict() for row in self.rows],
            "source": self.source,
        }


def focus(table: DifferentialTable, pointers: tuple[SymptomPointer, ...],
          symptoms: frozenset[str]) -> DifferentialTable:
    """The table with the rows the profile's symptoms match first (each naming them),
    the other rows after, in their order."""
    def matched(row: DifferentialRow) -> tuple[str, ...]:
        return tuple(p.symptom for p in pointers
                     if p.symptom in symptoms and p.table == table.id and row.feature in p.features)
    rows = [replace(row, matches=matched(row)) for row in table.rows]
    return replace(table, rows=tuple([r for r in rows if r.matches]
                                     + [r for r in rows if not r.matches]))


def parse_pointers(raw: Mapping[str, Any], tables: tuple[DifferentialTable, ...],
                   symptoms: tuple[str, ...], name: str = "differential.toml"
                   ) -> tuple[SymptomPointer, ...]:
    """The ``[[symptom]]`` rows, checked against the tables, their rows and columns."""
    by_id = {t.id: t for t in tables}
    out = []
    for i, row in enumerate(raw.get("symptom", []), start=1):
        where = f"{name} symptom {i}"
        symptom = _text(row, "id", where)
        if symptom not in symptoms:
            raise ReferenceDataError(
                f"{where}: {symptom!r} is not a symptom; choose from {', '.join(symptoms)}")
        table = by_id.get(row.get("table"))
        if table is None:
            raise ReferenceDataError(f"{where}: table must be one of {', '.join(by_id)}")
        features = row.get("features")
        known = [r.feature for r in table.rows]
        if not isinstance(features, list) or not features or any(f not in known for f in features):
            raise ReferenceDataError(
                f"{where}: features must list rows of {table.id}: {', '.join(known)}")
        column = _text(row, "column", where)
        if column not in table.columns:
            raise ReferenceDataError(f"{where}: column must be one of {', '.join(table.columns)}")
        out.append(SymptomPointer(symptom, table.id, tuple(features), column,
                                  _text(row, "wording", where), _text(row, "points_to", where),
                                  _text(row, "source", where)))
    return tuple(out)


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


def parse_differentials(
    raw: Mapping[str, Any], name: str = "differential.toml"
) -> tuple[DifferentialTable, ...]:
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
