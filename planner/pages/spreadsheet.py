"""CSV cells a spreadsheet will not run as formulas (CSV injection, OWASP).

Spreadsheet programs treat a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or carriage return) as a formula, so a food named
``=HYPERLINK(...)`` or an address like ``=cmd|'/Ccalc'!A0@example.org`` would
run when the file is opened. Every CSV the app writes goes through
:func:`writer` or :class:`DictWriter`, which put an apostrophe before such a
cell, as OWASP advises; spreadsheets show the text as typed, without the
apostrophe. A cell that is a number (``-2.5``) is left as it is, and so is any
value that is not text.

Files the app reads back (the subscriber backup) are written with
``reversible=True``: a cell that starts with an apostrophe gets a second one,
so :func:`original_cell` undoes the escaping exactly.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def safe_cell(value: Any, *, reversible: bool = False) -> Any:
    """``value`` with an apostrophe in front when a spreadsheet would run it as a formula."""
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        return value
    starts = FORMULA_STARTS + ((ESCAPE,) if reversible else ())
    return ESCAPE + value if value.startswith(starts) else value


def original_cell(text: str) -> str:
    """The cell as it was before :func:`safe_cell` with ``reversible=True``."""
    if text.startswith(ESCAPE) and text[1:2] and text[1] in (*FORMULA_STARTS, ESCAPE):
        return text[1:]
    return text


class _Writer:
    """``csv.writer`` whose rows go through :func:`safe_cell`."""

    def __init__(self, f, reversible: bool = False, **options):
        self._writer = csv.writer(f, **options)
        self._reversible = reversible

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([safe_cell(c, reversible=self._reversible) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(f, *, reversible: bool = False, **options) -> _Writer:
    """A ``csv.writer`` (same options) that writes every cell spreadsheet-safe."""
    return _Writer(f, reversible=reversible, **options)


class DictWriter(csv.DictWriter):
    """``csv.DictWriter`` that writes every cell spreadsheet-safe."""

    def __init__(self, f, fieldnames, *, reversible: bool = False, **options):
        super().__init__(f, fieldnames, **options)
        self._reversible = reversible

    def writerow(self, rowdict: Mapping[str, Any]):
        return super().writerow({k: safe_cell(v, reversible=self._reversible)
                                 for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
