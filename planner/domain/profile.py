"""Validate a profile given as plain JSON data (product.md §4, "Profile").

:func:`parse_profile` checks every field, collects every problem and raises
one :class:`ProfileError` listing them, each with the field and a message that
names the valid choices. Food ids are only checked for their form here; the
plan builder checks that they exist in the food table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from planner.domain.model import ALLERGENS
from planner.domain.model import CONDITIONS
from planner.domain.model import DIETS
from planner.domain.model import FEEDINGS
from planner.domain.model import GUIDELINES
from planner.domain.model import LAB_UNITS
from planner.domain.model import LIFE_STAGES
from planner.domain.model import MEDICATIONS
from planner.domain.model import PROFILE_MARKETS
from planner.domain.model import SEXES
from planner.domain.model import SUPPLEMENT_FREQUENCIES
from planner.domain.model import SYMPTOMS
from planner.domain.model import LabResult
from planner.domain.model import Profile
from planner.domain.model import Supplement

AGE_MAX_YEARS = 120
SUPPLEMENT_MAX_UG = 10_000
INJECTION_MAX_EVERY_WEEKS = 26  # 3-monthly is the usual maintenance (reference §5.2)
FOLIC_ACID_MAX_UG = 100_000  # input bound: far above any tablet (5 mg is a large one)
MONTHS_WITHOUT_B12_MAX = AGE_MAX_YEARS * 12
LABS_MAX = 30
# A baby's feeding and the mother's diet and B12 describe a baby or young child; breast
# milk can stay part of the diet into the third year, so they are accepted under 3 years.
BABY_FIELDS = ("feeding", "mother_diet", "mother_takes_b12")
BABY_FIELDS_UNDER_YEARS = 3
# Input bounds, not clinical thresholds (those are in planner/data/labs.toml): the
# highest value accepted per test and unit, far above anything a lab reports, so
# that only a typing error or a wrong unit is refused as impossible.
LAB_INPUT_MAX = {
    ("serum_b12", "pmol/L"): 20_000, ("serum_b12", "pg/mL"): 27_000,
    ("serum_b12", "ng/L"): 27_000,
    ("holotc", "pmol/L"): 2_000,
    ("mma", "µmol/L"): 900, ("mma", "umol/L"): 900, ("mma", "nmol/L"): 900_000,
    ("homocysteine", "µmol/L"): 500, ("homocysteine", "umol/L"): 500,
    ("folate", "nmol/L"): 2_000, ("folate", "ng/mL"): 900,
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FOOD_ID = re.compile(r"^[a-z0-9_]+$")
REQUIRED = ("age_years", "diet")


class ProfileError(ValueError):
    """A profile was rejected; ``errors`` is a list of ``{"field", "message"}``."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(e["message"] for e in errors))


@dataclass(frozen=True)
class _Problem:
    field: str
    message: str


Check = Callable[[str, Any], tuple[Any, list[_Problem]]]


def _is_number(value: Any) -> bool:
    """A JSON number: any int (compared exactly, never converted to a float, so a
    huge one is out of range rather than an OverflowError), or a finite float."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _number(low: float, high: float) -> Check:
    def check(field: str, value: Any) -> tuple[Any, list[_Problem]]:
        if _is_number(value) and low <= value <= high:
            return value, []
        return None, [_Problem(field, f"{field}: must be a number from {low:g} to {high:g}")]

    return check


def _whole(low: int, high: int) -> Check:
    def check(field: str, value: Any) -> tuple[Any, list[_Problem]]:
        if _is_number(value) and value == int(value) and low <= value <= high:
            return int(value), []
        return None, [_Problem(field, f"{field}: must be a whole number from {low} to {high}")]

    return check


def _word(choices: tuple[str, ...], noun: str) -> Check:
    def check(field: str, value: Any) -> tuple[Any, list[_Problem]]:
        if isinstance(value, str) and value in choices:
            return value, []
        shown = repr(value) if isinstance(value, str) else "this value"
        return None, [
            _Problem(field, f"{field}: {shown} is not {noun}; choose one of {', '.join(choices)}")
        ]

    return check


def _list_of(item_ok: Callable[[str], bool], problem: Callable[[str, str], str]) -> Check:
    """A list of strings, each passing ``item_ok``; duplicates dropped, order kept."""

    def check(field: str, value: Any) -> tuple[Any, list[_Problem]]:
        if not isinstance(value, list):
            return None, [_Problem(field, f"{field}: must be a list of strings")]
        problems = []
        for item in value:
            if not isinstance(item, str):
                problems.append(_Problem(field, f"{field}: every item must be a string"))
            elif not item_ok(item):
                problems.append(_Problem(field, problem(field, item)))
        return (None if problems else tuple(dict.fromkeys(value))), problems

    return check


def _words(choices: tuple[str, ...], noun: str) -> Check:
    return _list_of(
        lambda item: item in choices,
        lambda field, item: f"{field}: {item!r} is not {noun}; choose from {', '.join(choices)}",
    )


_food_ids = _list_of(
    lambda item: bool(FOOD_ID.match(item)),
    lambda field, item: (
        f"{field}: {item!r} is not a food id; use lowercase letters, digits and underscores"
    ),
)

_frequency = _word(SUPPLEMENT_FREQUENCIES, "a frequency")
_every_weeks = _whole(1, INJECTION_MAX_EVERY_WEEKS)


def _boolean(field: str, value: Any) -> tuple[Any, list[_Problem]]:
    """JSON ``true`` or ``false`` (not 0/1, not a string)."""
    if isinstance(value, bool):
        return value, []
    return None, [_Problem(field, f"{field}: must be true or false")]


def _supplement(field: str, value: Any) -> tuple[Any, list[_Problem]]:
    """``{"dose_ug": >0 and <= 10000, "frequency": daily|weekly}``, or
    ``{"frequency": "injection", "every_weeks": 1..26, "dose_ug"?}`` (null handled by caller)."""
    keys = ("dose_ug", "frequency", "every_weeks")
    if not isinstance(value, dict):
        return None, [_Problem(
            field, f"{field}: must be null or an object with dose_ug and frequency")]
    problems = [
        _Problem(f"{field}.{key}",
                 f"{field}.{key}: not a supplement field; choose from {', '.join(keys)}")
        for key in value
        if key not in keys
    ]
    frequency = value.get("frequency")
    injection = frequency == "injection"
    required = ("frequency", "every_weeks") if injection else ("dose_ug", "frequency")
    for key in required:
        if key not in value or value[key] is None:
            hint = (" (how many weeks between injections, a whole number from 1 to "
                    f"{INJECTION_MAX_EVERY_WEEKS})") if key == "every_weeks" else ""
            problems.append(_Problem(f"{field}.{key}", f"{field}.{key}: is required{hint}"))
    dose, every = value.get("dose_ug"), value.get("every_weeks")
    if dose is not None and not (_is_number(dose) and 0 < dose <= SUPPLEMENT_MAX_UG):
        problems.append(_Problem(
            f"{field}.dose_ug",
            f"{field}.dose_ug: must be a number above 0 and at most {SUPPLEMENT_MAX_UG} (µg)",
        ))
    if frequency is not None:
        problems += _frequency(f"{field}.frequency", frequency)[1]
    if every is not None:
        if injection:
            every, found = _every_weeks(f"{field}.every_weeks", every)
            problems += found
        elif frequency in SUPPLEMENT_FREQUENCIES:
            problems.append(_Problem(f"{field}.every_weeks", (
                f"{field}.every_weeks: only for frequency 'injection'; leave it out for "
                f"{frequency!r}")))
    if problems:
        return None, problems
    return Supplement(dose_ug=float(dose) if dose is not None else None,
                      frequency=value["frequency"], every_weeks=every if injection else None), []


def _lab(where: str, item: Any) -> tuple[LabResult | None, list[_Problem]]:
    """One ``{"test", "value", "unit", "date"?}`` of ``labs``; ``where`` names the item
    (``item 1``); every problem is reported on the field ``labs``, naming the item."""
    keys = ("test", "value", "unit", "date")
    if not isinstance(item, dict):
        return None, [_Problem("labs", f"labs: {where}: must be an object with test, value, "
                                       "unit and optionally date")]
    problems = [_Problem(where, f"{where} {key}: not a lab result field; choose from "
                                f"{', '.join(keys)}") for key in item if key not in keys]
    for key in ("test", "value", "unit"):
        if item.get(key) is None:
            problems.append(_Problem(where, f"{where} {key}: is required"))
    test, unit, value, day = item.get("test"), item.get("unit"), item.get("value"), item.get("date")
    if test is not None:
        problems += _word(tuple(LAB_UNITS), "a lab test")(f"{where} test", test)[1]
    problems += _lab_unit_and_value(where, test, unit, value)
    if day is not None and not _is_date(day):
        problems.append(_Problem(where, f"{where} date: must be a date written YYYY-MM-DD"))
    if problems:
        return None, [_Problem("labs", f"labs: {p.message}") for p in problems]
    return LabResult(test=item["test"], value=float(item["value"]), unit=item["unit"],
                     date=day), []


def _lab_unit_and_value(where: str, test: Any, unit: Any, value: Any) -> list[_Problem]:
    """The problems of a lab result's unit (one of its test's units) and value (a number
    in that unit's plausible range); ``where`` names the item."""
    units = LAB_UNITS.get(test, ()) if isinstance(test, str) else ()
    problems = []
    if units and unit is not None and not (isinstance(unit, str) and unit in units):
        shown = repr(unit) if isinstance(unit, str) else "this value"
        problems.append(_Problem(where, (
            f"{where} unit: {shown} is not a unit of {test}; choose one of {', '.join(units)}")))
    if isinstance(test, str) and isinstance(unit, str) and unit in units and value is not None:
        high = LAB_INPUT_MAX[(test, unit)]
        found = _number(0, high)(f"{where} value", value)[1]
        problems += [_Problem(where, f"{p.message} {unit}; a negative or larger value cannot "
                                     f"be a {test} result") for p in found]
    elif value is not None and not _is_number(value):
        problems.append(_Problem(where, f"{where} value: must be a number"))
    return problems


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _labs(field: str, value: Any) -> tuple[Any, list[_Problem]]:
    """A list of lab results; every problem names ``labs[i]`` and what is wrong."""
    if not isinstance(value, list):
        return None, [_Problem(field, f"{field}: must be a list of lab results "
                                      "({test, value, unit, date})")]
    if len(value) > LABS_MAX:
        return None, [_Problem(field, f"{field}: has {len(value)} results; at most {LABS_MAX}")]
    results, problems = [], []
    for i, item in enumerate(value):
        result, found = _lab(f"item {i + 1}", item)
        problems += found
        results.append(result)
    return (None if problems else tuple(results)), problems


FIELDS: dict[str, Check] = {
    "age_years": _number(0, AGE_MAX_YEARS),
    "sex": _word(SEXES, "a sex"),
    "life_stage": _word(LIFE_STAGES, "a life stage"),
    "diet": _word(DIETS, "a diet"),
    "guideline": _word(GUIDELINES, "a guideline"),
    "meals_per_day": _whole(2, 5),
    "days": _whole(1, 14),
    "allergies": _words(ALLERGENS, "an allergy"),
    "exclude_foods": _food_ids,
    "include_foods": _food_ids,
    "medications": _words(MEDICATIONS, "a medication"),
    "conditions": _words(CONDITIONS, "a condition"),
    "symptoms": _words(SYMPTOMS, "a symptom"),
    "supplement": _supplement,
    "accept_supplement": _boolean,
    "market": _word(PROFILE_MARKETS, "a market"),
    "labs": _labs,
    "folic_acid_ug": _number(0, FOLIC_ACID_MAX_UG),
    "months_without_b12": _whole(0, MONTHS_WITHOUT_B12_MAX),
    "feeding": _word(FEEDINGS, "a feeding"),
    "mother_diet": _word(DIETS, "a diet"),
    "mother_takes_b12": _boolean,
    "include_dishes": _food_ids,
    "exclude_dishes": _food_ids,
}

_HINTS = {
    "age_years": "a number from 0 to 120",
    "diet": f"one of {', '.join(DIETS)}",
}


def _check_fields(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[_Problem]]:
    values: dict[str, Any] = {}
    problems: list[_Problem] = []
    for field, value in data.items():
        if field not in FIELDS:
            problems.append(_Problem(
                field, f"{field}: not a profile field; choose from {', '.join(FIELDS)}"
            ))
        elif value is not None:
            parsed, found = FIELDS[field](field, value)
            problems += found
            if not found:
                values[field] = parsed
    for field in REQUIRED:
        if data.get(field) is None:
            problems.append(_Problem(field, f"{field}: is required ({_HINTS[field]})"))
    return values, problems


# ---------------------------------------------------------------------------
# Combinations of valid fields that cannot be true together (issue 12; product.md
# §4: "impossible combinations (a pregnant man, a breastfeeding 5-year-old) are
# rejected"). One row per combination, read by one check; no if-chain.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpossibleLifeStage:
    """``life_stages`` cannot go with a profile that has one of ``sexes``, or an age
    below ``age_under`` or above ``age_over`` [years]; ``why`` says so in words."""

    life_stages: frozenset[str]
    why: str
    sexes: frozenset[str] = frozenset()
    age_under: float | None = None
    age_over: float | None = None

    def refuses(self, life_stage: str, sex: str, age_years: float) -> bool:
        if life_stage not in self.life_stages:
            return False
        return (sex in self.sexes
                or (self.age_under is not None and age_years < self.age_under)
                or (self.age_over is not None and age_years > self.age_over))


IMPOSSIBLE_LIFE_STAGES: tuple[ImpossibleLifeStage, ...] = (
    ImpossibleLifeStage(frozenset({"pregnant", "lactating"}), "cannot go with sex 'male'",
                        sexes=frozenset({"male"})),
    ImpossibleLifeStage(frozenset({"pregnant", "lactating"}),
                        "is accepted only from 10 years of age", age_under=10),
    ImpossibleLifeStage(frozenset({"pregnant"}), "is accepted only up to 60 years of age",
                        age_over=60),
)


class ImpossibleProfile(ProfileError):
    """Every field is valid on its own, but some cannot be true together."""


def check_combinations(profile: Profile,
                       rows: tuple[ImpossibleLifeStage, ...] = IMPOSSIBLE_LIFE_STAGES
                       ) -> list[dict[str, str]]:
    """Problems (``{"field", "message"}``) with fields that cannot be true together,
    each naming ``life_stage`` and the life stages this profile may choose."""
    def refused(stage: str) -> list[ImpossibleLifeStage]:
        return [r for r in rows if r.refuses(stage, profile.sex, profile.age_years)]

    found = refused(profile.life_stage)
    if not found:
        return []
    valid = [stage for stage in LIFE_STAGES if not refused(stage)]
    reasons = "; ".join(f"{profile.life_stage!r} {r.why}" for r in found)
    return [{"field": "life_stage", "message": (
        f"life_stage: {reasons} (this profile: sex {profile.sex!r}, age_years "
        f"{profile.age_years:g}); choose one of {', '.join(valid)}")}]


def check_baby_fields(profile: Profile) -> list[dict[str, str]]:
    """Problems with a baby's feeding fields given for someone who is not a young child."""
    if profile.age_years < BABY_FIELDS_UNDER_YEARS:
        return []
    return [{"field": name, "message": (
        f"{name}: describes a baby's feeding and is accepted only under "
        f"{BABY_FIELDS_UNDER_YEARS} years of age (this profile: age_years "
        f"{profile.age_years:g}); leave it empty")}
        for name in BABY_FIELDS if getattr(profile, name) is not None]


def possible_profile(data: Any) -> bool:
    """False when ``data`` parses field by field but names an impossible combination."""
    try:
        parse_profile(data)
    except ImpossibleProfile:
        return False
    except ProfileError:
        return True
    return True


def parse_profile(data: Any) -> Profile:
    """A validated :class:`Profile` from JSON data, or :class:`ProfileError` with every problem.

    ``null`` for an optional field means "not given" (its default).
    """
    if not isinstance(data, Mapping):
        raise ProfileError([{"field": "profile", "message": "profile: must be a JSON object"}])
    values, problems = _check_fields(data)
    if problems:
        raise ProfileError([{"field": p.field, "message": p.message} for p in problems])
    profile = Profile(**values)
    impossible = check_combinations(profile) + check_baby_fields(profile)
    if impossible:
        raise ImpossibleProfile(impossible)
    return profile


def canonical_json(data: Mapping[str, Any]) -> str:
    """The one JSON form of profile data: sorted keys, no spaces, so equal data give
    equal text (stored subscriber rows, plan cache keys and plan seeds use it)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def canonical_profile_json(profile: Profile) -> str:
    """Every field of ``profile`` as :func:`canonical_json` (the stored form)."""
    return canonical_json(profile.to_dict())
