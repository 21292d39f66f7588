"""The reference data the core works from, as plain values.

``planner.data.loader.load_reference()`` (outside the core) reads the files in
``planner/data/`` and builds one :class:`Reference`; the core only receives it.
Each row type lives in the module that uses it; the ``parse_*`` functions
there validate raw rows and raise :class:`ReferenceDataError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeGuard

from planner.domain.absorption import AbsorptionParams

if TYPE_CHECKING:
    from planner.domain.bioavailability import Bioavailability
    from planner.domain.differential import DifferentialTable
    from planner.domain.differential import SymptomPointer
    from planner.domain.facts import SupplementAdequacy
    from planner.domain.food_safety import FoodSafety
    from planner.domain.labs import LabTable
    from planner.domain.risk import RiskPolicy
    from planner.domain.risk import Rule
    from planner.domain.supplements import SupplementGroup
    from planner.domain.supplements import SupplementOption
    from planner.domain.targets import TargetRow


class ReferenceDataError(ValueError):
    """A reference data file is wrong; the message names the file, the row and the fix."""


def text_field(raw: Mapping[str, Any], key: str, where: str) -> str:
    """``raw[key]`` as stripped non-empty text, or ReferenceDataError naming ``where``
    and ``key`` (the one check every data-file parser of the core uses)."""
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReferenceDataError(f"{where}: {key} must be non-empty text")
    return value.strip()


def is_number(value: Any) -> TypeGuard[float]:
    """Whether a data-file value is a number: an int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def choice_field(
    raw: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str,
    default: str | None = None,
) -> str:
    """``raw[key]`` (``default`` when absent) if it is one of ``choices``, or
    ReferenceDataError naming ``where``, ``key`` and the choices."""
    value = raw.get(key, default)
    if not isinstance(value, str) or value not in choices:
        raise ReferenceDataError(
            f"{where}: {key} {value!r} is not valid; choose one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class Reference:
    """Everything numeric or rule-like the planner looks up.

    ``texts`` holds the wording that lives in ``texts.toml`` (the disclaimer,
    guideline names, the target basis sentence). The supplement fields and
    ``risk_policy`` may stay empty when a test builds a Reference by hand.
    """

    absorption: AbsorptionParams
    targets: tuple[TargetRow, ...] = ()
    rules: tuple[Rule, ...] = ()
    supplement_options: tuple[SupplementOption, ...] = ()
    texts: Mapping[str, Any] = field(default_factory=dict)
    risk_policy: RiskPolicy | None = None
    differentials: tuple[DifferentialTable, ...] = ()
    supplement_groups: tuple[SupplementGroup, ...] = ()
    supplement_adequacy: SupplementAdequacy | None = None
    food_safety: FoodSafety | None = None  # food_safety.toml; None: no safety rules
    bioavailability: Bioavailability | None = None
    labs: LabTable | None = None  # labs.toml; None: lab results are not interpreted
    pointers: tuple[SymptomPointer, ...] = ()  # differential.toml [[symptom]]
    # The dish library (foods/dishes.csv) the plan's meals come from; empty: no dishes.
    dishes: tuple[Any, ...] = ()
    # Portion factor per meals-per-day and meal (meal_portions.toml); empty: 1.0.
    meal_portions: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    # A child's meal holds at most this many items' cap (meal_portions.toml).
    child_meal_items: int = 2
    # Shop aisle per food group (foods/groups.csv), for the shopping list.
    aisles: Mapping[str, str] = field(default_factory=dict)
