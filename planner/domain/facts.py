"""Facts about a profile, and the small condition language rules are written in.

A rule's ``when`` table (in ``risk_rules.toml`` and ``supplements.toml``) is a
set of conditions that must all hold, for example::

    when = { diet = ["vegan"], supplement = false, fortified_foods = false }

Each key names one test in :data:`WHEN_TESTS`; :func:`holds` applies them to
the facts :func:`profile_facts` derives from a profile. There is no code per
rule: adding a rule means adding a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.domain.model import CONDITIONS
from planner.domain.model import DIETS
from planner.domain.model import FEEDINGS
from planner.domain.model import LAB_TESTS
from planner.domain.model import LIFE_STAGES
from planner.domain.model import MEDICATIONS
from planner.domain.model import SEXES
from planner.domain.model import SYMPTOMS
from planner.domain.model import Profile
from planner.domain.reference import ReferenceDataError
from planner.domain.reference import is_number

Facts = Mapping[str, Any]
When = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class SupplementAdequacy:
    """The smallest supplement that counts as a reliable source:
    ``daily_min_ug`` [µg] every day or ``weekly_min_ug`` [µg] once a week.
    When ``daily_only_when`` holds (pregnancy, breastfeeding) only a daily
    supplement counts as enough."""

    daily_min_ug: float = 10.0
    weekly_min_ug: float = 2000.0
    source: str = ""
    daily_only_when: When = ()
    daily_only_source: str = ""

    def is_met_by(self, dose_ug: float | None, frequency: str) -> bool:
        if frequency == "injection":  # a doctor's treatment (issue 14)
            return True
        if dose_ug is None:
            raise ValueError(f"a {frequency} supplement needs dose_ug")
        minimum = self.daily_min_ug if frequency == "daily" else self.weekly_min_ug
        return dose_ug >= minimum


def profile_facts(
    profile: Profile,
    adequacy: SupplementAdequacy | None = None,
    fortified_food_ids: Collection[str] = (),
    *,
    malabsorption: bool = False,
    intrinsic_factor: bool = True,
    supplement_reaches_target: bool | None = None,
    supplement_best_available: bool = False,
    lab_statuses: Collection[tuple[str, str]] = (),
    diet: str | None = None,
) -> dict[str, Any]:
    """The facts rules look at.

    ``fortified_foods`` is true when the person's own food list
    (``include_foods``) holds a fortified food; ``fortified_food_ids`` comes
    from the food table, which the core does not read itself.

    ``minimum_supplement``: the supplement taken meets the minimum of
    ``supplements.toml [adequate]`` (10 µg daily or 2000 µg weekly).
    ``adequate_supplement``: it is enough on its own: the minimum, daily when
    ``daily_only_when`` holds, and (when ``supplement_reaches_target`` is given,
    as :func:`planner.domain.assessment.assess` does) its absorbed amount
    reaches the person's absorbed target. ``supplement_best_available``: no
    dose option of the person's group reaches the target, and the supplement
    gives at least what the best of them gives (babies and children under the
    higher targets); such a supplement is enough too, whatever the minimum. The
    plan reads the same fact, so the assessment and the plan agree about a
    supplement the person already takes.

    ``intrinsic_factor`` is false when a condition of ``[intrinsic_factor]
    lost_with`` (risk_rules.toml) is present: then food and ordinary supplements
    cannot cover the need, and the supplement rules stay silent.

    ``lab_statuses`` holds ``(test, status)`` of the profile's lab results as
    :mod:`planner.domain.labs` read them.

    ``diet``: the diet as far as B12 sources go, when the assessment finds it
    differs from the one stated (``RiskPolicy.b12_diet``: a vegetarian allergic to
    milk and egg eats as a vegan does); ``stated_diet`` keeps the profile's.
    """
    adequacy = adequacy or SupplementAdequacy()
    supplement = profile.supplement
    facts = {
        "age_years": profile.age_years,
        "diet": diet or profile.diet,
        "stated_diet": profile.diet,
        "sex": profile.sex,
        "life_stage": profile.life_stage,
        "conditions": frozenset(profile.conditions),
        "medications": frozenset(profile.medications),
        "symptoms": frozenset(profile.symptoms),
        "takes_supplement": supplement is not None,
        "minimum_supplement": supplement is not None
        and adequacy.is_met_by(supplement.dose_ug, supplement.frequency),
        "fortified_foods": bool(set(profile.include_foods) & set(fortified_food_ids)),
        "malabsorption": malabsorption,
        "intrinsic_factor": intrinsic_factor,
        "injections": supplement is not None and supplement.is_injection,
        "has_symptoms": bool(profile.symptoms),
        "folic_acid_ug": profile.folic_acid_ug or 0.0,
        "months_without_b12": profile.months_without_b12,
        "feeding": profile.feeding,
        "mother_diet": profile.mother_diet,
        "mother_takes_b12": profile.mother_takes_b12,
        **{f"labs_{status}": frozenset(t for t, s in lab_statuses if s == status)
           for status in ("low", "borderline", "normal", "high")},
    }
    daily_ok = supplement is not None and not (
        supplement.frequency == "weekly" and adequacy.daily_only_when
        and holds(adequacy.daily_only_when, facts))
    facts["adequate_supplement"] = daily_ok and (
        (facts["minimum_supplement"] and supplement_reaches_target is not False)
        or supplement_best_available
    )
    return facts


def _one_of(fact: str) -> Callable[[Facts, Any], bool]:
    return lambda facts, allowed: facts[fact] in allowed


def _any_of(fact: str) -> Callable[[Facts, Any], bool]:
    return lambda facts, wanted: not facts[fact].isdisjoint(wanted)


def _is(fact: str) -> Callable[[Facts, Any], bool]:
    return lambda facts, value: facts[fact] is value


def _at_least(fact: str) -> Callable[[Facts, Any], bool]:
    return lambda facts, minimum: facts[fact] is not None and facts[fact] >= minimum


def _above(fact: str) -> Callable[[Facts, Any], bool]:
    return lambda facts, minimum: facts[fact] is not None and facts[fact] > minimum


def _not_known_true(fact: str) -> Callable[[Facts, Any], bool]:
    """``false`` holds when the fact is false or not given (never soften a flag)."""
    return lambda facts, value: (facts[fact] is True) is value


# key -> (test, kind of value, allowed words for list values)
WHEN_TESTS: dict[str, tuple[Callable[[Facts, Any], bool], str, tuple[str, ...]]] = {
    "diet": (_one_of("diet"), "words", DIETS),
    "sex": (_one_of("sex"), "words", SEXES),
    "life_stage": (_one_of("life_stage"), "words", LIFE_STAGES),
    "conditions_any": (_any_of("conditions"), "words", CONDITIONS),
    "medications_any": (_any_of("medications"), "words", MEDICATIONS),
    "symptoms_any": (_any_of("symptoms"), "words", SYMPTOMS),
    "age_min": (lambda facts, years: facts["age_years"] >= years, "number", ()),
    "age_under": (lambda facts, years: facts["age_years"] < years, "number", ()),
    "supplement": (_is("takes_supplement"), "bool", ()),
    "minimum_supplement": (_is("minimum_supplement"), "bool", ()),
    "adequate_supplement": (_is("adequate_supplement"), "bool", ()),
    "fortified_foods": (_is("fortified_foods"), "bool", ()),
    "malabsorption": (_is("malabsorption"), "bool", ()),
    "intrinsic_factor": (_is("intrinsic_factor"), "bool", ()),
    # issue 14
    "injections": (_is("injections"), "bool", ()),
    "symptoms": (_is("has_symptoms"), "bool", ()),
    "folic_acid_above_ug": (_above("folic_acid_ug"), "number", ()),
    "months_without_b12_min": (_at_least("months_without_b12"), "number", ()),
    "feeding": (_one_of("feeding"), "words", FEEDINGS),
    "feeding_not": (lambda facts, ruled_out: facts["feeding"] not in ruled_out, "words",
                    FEEDINGS),
    "mother_diet": (_one_of("mother_diet"), "words", DIETS),
    "mother_takes_b12": (_not_known_true("mother_takes_b12"), "bool", ()),
    "labs_low_any": (_any_of("labs_low"), "words", LAB_TESTS),
    "labs_borderline_any": (_any_of("labs_borderline"), "words", LAB_TESTS),
    "labs_high_any": (_any_of("labs_high"), "words", LAB_TESTS),
}


def _check_value(key: str, value: Any, where: str) -> Any:
    _, kind, words = WHEN_TESTS[key]
    if kind == "words":
        if not isinstance(value, list) or not value:
            raise ReferenceDataError(f"{where}: when.{key} must be a non-empty list of words")
        unknown = [w for w in value if w not in words]
        if unknown:
            raise ReferenceDataError(
                f"{where}: when.{key} has unknown {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(words)}"
            )
        return frozenset(value)
    if kind == "number":
        if not is_number(value) or not math.isfinite(value):
            raise ReferenceDataError(f"{where}: when.{key} must be a number")
        return float(value)
    if not isinstance(value, bool):
        raise ReferenceDataError(f"{where}: when.{key} must be true or false")
    return value


def parse_when(raw: Any, where: str) -> When:
    """Validate a raw ``when`` table into a tuple of (key, value) conditions."""
    if not isinstance(raw, dict):
        raise ReferenceDataError(
            f"{where}: when must be a table, e.g. when = {{ diet = [\"vegan\"] }}")
    unknown = [k for k in raw if k not in WHEN_TESTS]
    if unknown:
        raise ReferenceDataError(
            f"{where}: unknown condition {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(WHEN_TESTS)}"
        )
    return tuple((key, _check_value(key, value, where)) for key, value in raw.items())


def holds(when: When, facts: Facts) -> bool:
    """Whether every condition of ``when`` holds for ``facts`` (an empty ``when`` always holds)."""
    return all(WHEN_TESTS[key][0](facts, value) for key, value in when)
