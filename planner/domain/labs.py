"""Laboratory results read against typical thresholds (``labs.toml``, issue 14).

:func:`parse_lab_table` validates the data file; :func:`interpret` turns one
:class:`~planner.domain.model.LabResult` into a :class:`LabReading`: its value in
the unit the thresholds are written in, its status under the default scheme
(``low``, ``borderline``, ``normal`` or ``high``), the thresholds used with their
source, and the status under each alternative scheme. A reading only adds facts
for the risk rules; it never removes a flag (reference §4.1: a normal blood
count does not rule deficiency out, and strong symptoms mean don't delay).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

from planner.domain.model import LAB_STATUSES
from planner.domain.model import LAB_UNITS
from planner.domain.model import LabResult
from planner.domain.reference import ReferenceDataError
from planner.domain.reference import is_number
from planner.domain.reference import text_field as _text


@dataclass(frozen=True)
class Band:
    """Values below ``below`` (exclusive) or up to ``at_most`` (inclusive) have
    ``status``; a band with neither holds everything above the previous band."""

    status: str
    below: float | None = None
    at_most: float | None = None

    @property
    def edge(self) -> float | None:
        return self.below if self.below is not None else self.at_most

    def holds(self, value: float) -> bool:
        if self.below is not None:
            return value < self.below
        if self.at_most is not None:
            return value <= self.at_most
        return True


@dataclass(frozen=True)
class Scheme:
    """One set of thresholds for a test, with its source."""

    id: str
    name: str
    source: str
    bands: tuple[Band, ...]

    def status(self, value: float) -> str:
        return next(b.status for b in self.bands if b.holds(value))

    def describe(self, unit: str) -> list[dict[str, Any]]:
        """The bands as ``{"status", "range"}`` in words, e.g. ``below 133 pmol/L``."""
        out: list[dict[str, Any]] = []
        previous: Band | None = None
        for band in self.bands:
            out.append({"status": band.status, "range": _range(band, previous, unit)})
            previous = band
        return out


def _range(band: Band, previous: Band | None, unit: str) -> str:
    """A band's values in words, after the band before it (None for the first)."""
    if band.below is not None:
        return (f"below {band.below:g} {unit}" if previous is None
                else f"{_lower(previous)} to below {band.below:g} {unit}")
    if band.at_most is not None:
        return (f"up to {band.at_most:g} {unit}" if previous is None
                else f"{_lower(previous)} to {band.at_most:g} {unit}")
    if previous is None:  # parse_lab_table gives every scheme two bands or more
        raise ValueError(f"labs: a {band.status} band without an edge must follow another band")
    return (f"above {previous.edge:g} {unit}" if previous.at_most is not None
            else f"{previous.edge:g} {unit} or more")


def _lower(previous: Band) -> str:
    return f"from {previous.edge:g}" if previous.below is not None else f"above {previous.edge:g}"


@dataclass(frozen=True)
class LabUnit:
    factor: float
    source: str


@dataclass(frozen=True)
class LabTest:
    """A test as ``labs.toml`` describes it: the one description of a test, which
    flags name (``risk_rules.toml`` [policy] tests) and lab readings convert with."""

    code: str
    label: str
    source: str  # where the test is named as a check of B12 status
    unit: str
    decimals: int
    units: Mapping[str, LabUnit]
    schemes: tuple[Scheme, ...]

    def canonical(self, value: float, unit: str) -> float:
        """``value`` in ``unit`` converted to the test's unit and rounded the way a
        lab reports it (half up, ``decimals`` places)."""
        raw = Decimal(repr(value * self.units[unit].factor))
        step = Decimal(1).scaleb(-self.decimals)
        return float(raw.quantize(step, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LabTable:
    tests: Mapping[str, LabTest]
    note: str


@dataclass(frozen=True)
class LabReading:
    """A result read against its thresholds."""

    result: LabResult
    label: str
    value: float  # in ``unit``, the unit of the thresholds
    unit: str
    status: str
    scheme: Scheme
    alternatives: tuple[tuple[Scheme, str], ...]
    note: str
    unit_source: str

    @property
    def test(self) -> str:
        return self.result.test

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.result.test,
            "label": self.label,
            "value": self.result.value,
            "unit": self.result.unit,
            "date": self.result.date,
            "compared_value": self.value,
            "compared_unit": self.unit,
            "status": self.status,
            "thresholds": {
                "id": self.scheme.id,
                "name": self.scheme.name,
                "bands": self.scheme.describe(self.unit),
                "source": self.scheme.source,
            },
            "source": self.scheme.source,
            "unit_source": self.unit_source,
            "alternatives": [
                {"id": s.id, "name": s.name, "status": status,
                 "bands": s.describe(self.unit), "source": s.source}
                for s, status in self.alternatives
            ],
            "note": self.note,
        }


def interpret(result: LabResult, table: LabTable) -> LabReading:
    test = table.tests[result.test]
    value = test.canonical(result.value, result.unit)
    default, *others = test.schemes
    return LabReading(
        result=result,
        label=test.label,
        value=value,
        unit=test.unit,
        status=default.status(value),
        scheme=default,
        alternatives=tuple((s, s.status(value)) for s in others),
        note=table.note,
        unit_source=test.units[result.unit].source,
    )


def interpret_all(results: Iterable[LabResult], table: LabTable | None) -> tuple[LabReading, ...]:
    if table is None:
        return ()
    return tuple(interpret(r, table) for r in results)


# ---------------------------------------------------------------------------
# Parsing the data file
# ---------------------------------------------------------------------------


def _positive(value: Any, what: str, where: str) -> float:
    if not is_number(value) or value <= 0:
        raise ReferenceDataError(f"{where}: {what} must be a number above 0")
    return float(value)


def _band(raw: Mapping[str, Any], where: str) -> Band:
    status = raw.get("status")
    if status not in LAB_STATUSES:
        raise ReferenceDataError(
            f"{where}: status {status!r} is not one of {', '.join(LAB_STATUSES)}")
    if "below" in raw and "at_most" in raw:
        raise ReferenceDataError(f"{where}: give below or at_most, not both")
    below = _positive(raw["below"], "below", where) if "below" in raw else None
    at_most = _positive(raw["at_most"], "at_most", where) if "at_most" in raw else None
    return Band(status, below, at_most)


def _scheme(raw: Mapping[str, Any], where: str) -> Scheme:
    bands = tuple(_band(b, f"{where} band {i}") for i, b in enumerate(raw.get("band", []), 1))
    if len(bands) < 2 or bands[-1].edge is not None or any(b.edge is None for b in bands[:-1]):
        raise ReferenceDataError(
            f"{where}: needs at least two bands; every band but the last has an edge "
            "(below or at_most), the last has none")
    edges = [b.edge for b in bands[:-1] if b.edge is not None]  # all of them (checked above)
    if edges != sorted(edges) or len(set(edges)) != len(edges):
        raise ReferenceDataError(f"{where}: band edges must rise from the first band to the last")
    return Scheme(_text(raw, "id", where), _text(raw, "name", where),
                  _text(raw, "source", where), bands)


def parse_lab_table(raw: Mapping[str, Any], name: str = "labs.toml") -> LabTable:
    """Validate ``labs.toml``: every test and unit of ``LAB_UNITS`` converted, with sources."""
    tests = {}
    raw_tests = raw.get("tests", {})
    for code, units in LAB_UNITS.items():
        where = f"{name} [tests.{code}]"
        row = raw_tests.get(code)
        if not isinstance(row, Mapping):
            raise ReferenceDataError(f"{where}: missing; every lab test needs units and thresholds")
        decimals = row.get("decimals")
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
            raise ReferenceDataError(f"{where}: decimals must be a whole number from 0 to 6")
        raw_units = row.get("units", {})
        missing = [u for u in units if u not in raw_units]
        if missing:
            raise ReferenceDataError(f"{where}: units missing for {', '.join(missing)}")
        parsed_units = {
            u: LabUnit(_positive(raw_units[u].get("factor"), f"units.{u}.factor", where),
                       _text(raw_units[u], "source", f"{where} units.{u}"))
            for u in units
        }
        unit = _text(row, "unit", where)
        if unit not in units or parsed_units[unit].factor != 1.0:
            raise ReferenceDataError(
                f"{where}: unit must be one of {', '.join(units)} with factor 1")
        schemes = tuple(_scheme(s, f"{where} scheme {i}")
                        for i, s in enumerate(row.get("scheme", []), 1))
        if not schemes:
            raise ReferenceDataError(f"{where}: needs at least one threshold scheme")
        tests[code] = LabTest(code, _text(row, "label", where), _text(row, "source", where),
                              unit, decimals, parsed_units, schemes)
    unknown = [c for c in raw_tests if c not in LAB_UNITS]
    if unknown:
        raise ReferenceDataError(
            f"{name}: unknown test {', '.join(unknown)}; choose from {', '.join(LAB_UNITS)}")
    return LabTable(tests=tests, note=_text(raw, "note", name))
