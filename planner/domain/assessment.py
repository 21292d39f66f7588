"""The assessment of a profile: target, flags, risk level and disclaimer.

:func:`assess` is the one entry point; pages, the API, the CLI and the plan
builder all use it, and :meth:`Assessment.to_dict` is the JSON contract of
product.md §4 ("Assessment"), with a few added fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from planner.domain.absorption import absorbed_target_ug
from planner.domain.differential import focus
from planner.domain.facts import profile_facts
from planner.domain.labs import LabReading
from planner.domain.labs import interpret_all
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.reference import Reference
from planner.domain.reference import ReferenceDataError
from planner.domain.risk import Flag
from planner.domain.risk import RiskPolicy
from planner.domain.risk import TreatmentOption
from planner.domain.risk import build_flags
from planner.domain.risk import evaluate_rules
from planner.domain.risk import risk_level
from planner.domain.supplements import RecommendedSupplement
from planner.domain.supplements import choose_supplement
from planner.domain.supplements import dose_options_for
from planner.domain.supplements import option_dose
from planner.domain.supplements import pick_option
from planner.domain.supplements import supplement_absorbed_per_day
from planner.domain.targets import target_row_for

DEFAULT_DISCLAIMER = "This is information, not medical advice."
DEFAULT_BASIS = "{guideline_name} {value_type} for {band}: {intake_ug:g} µg a day."


@dataclass(frozen=True)
class Target:
    """The day's B12 target: ``intake_ug`` [µg/day] as eaten, and ``absorbed_ug``
    [µg/day], what that intake gives when spread over the model's equal meals."""

    guideline: str
    guideline_name: str
    band: str
    intake_ug: float
    absorbed_ug: float
    value_type: str
    status: str
    source: str
    basis: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "guideline": self.guideline,
            "intake_ug": self.intake_ug,
            "absorbed_ug": round(self.absorbed_ug, 3),
            "basis": self.basis,
            "guideline_name": self.guideline_name,
            "band": self.band,
            "value_type": self.value_type,
            "status": self.status,
            "source": self.source,
        }


@dataclass(frozen=True)
class Assessment:
    """What the planner concludes about a profile before any meal is planned.

    ``intrinsic_factor`` is False when a condition removes it (absorption then
    uses the passive line only); ``recommended_supplement`` is set when a
    supplement or malabsorption flag calls for one. ``own_supplement_adequate``
    is the ``adequate_supplement`` fact the rules saw: the supplement the person
    takes is enough on its own for this target. The plan keeps such a supplement
    and replaces one the assessment finds short.
    """

    target: Target
    risk_level: str
    flags: tuple[Flag, ...]
    disclaimer: str
    intrinsic_factor: bool = True
    recommended_supplement: RecommendedSupplement | None = None
    own_supplement_adequate: bool = False
    labs: tuple[LabReading, ...] = ()

    def flag(self, code: str) -> Flag | None:
        """The flag with this code, or None."""
        return next((f for f in self.flags if f.code == code), None)

    @property
    def treatment_first(self) -> TreatmentOption | None:
        """A doctor's treatment with no dose by mouth (injections) that a flag puts
        first among its options: then nothing by mouth is recommended in its place."""
        for f in self.flags:
            first = f.dose_options[0] if f.dose_options else None
            if isinstance(first, TreatmentOption) and first.dose_ug is None:
                return first
        return None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.flags)

    def to_dict(self) -> dict[str, Any]:
        supplement = self.recommended_supplement
        return {
            "target": self.target.to_dict(),
            "risk_level": self.risk_level,
            "flags": [f.to_dict() for f in self.flags],
            "disclaimer": self.disclaimer,
            "intrinsic_factor": self.intrinsic_factor,
            "recommended_supplement": supplement.to_dict() if supplement else None,
            "labs": [reading.to_dict() for reading in self.labs],
        }


def build_target(profile: Profile, reference: Reference) -> Target:
    """The intake and absorbed targets for the profile, with the sentence explaining them."""
    row = target_row_for(profile, reference.targets)
    absorbed = absorbed_target_ug(row.intake_ug, reference.absorption)
    texts = reference.texts or {}
    name = texts.get("guidelines", {}).get(row.guideline, {}).get("name", row.guideline)
    basis = texts.get("target_basis", DEFAULT_BASIS).format(
        guideline_name=name,
        value_type=row.value_type,
        band=row.band,
        intake_ug=row.intake_ug,
        absorbed_ug=absorbed,
        meals=reference.absorption.target_meals,
    )
    if row.note:
        basis += f" Note: {row.note}."
    return Target(
        guideline=row.guideline,
        guideline_name=name,
        band=row.band,
        intake_ug=row.intake_ug,
        absorbed_ug=absorbed,
        value_type=row.value_type,
        status=row.status,
        source=row.source,
        basis=basis,
        note=row.note,
    )


def fortified_ids(foods: Iterable[Food]) -> frozenset[str]:
    """Ids of fortified foods that carry B12."""
    return frozenset(f.food_id for f in foods if f.fortified and f.b12_ug_per_100g > 0)


def _recommendation_reason(
    assessment: Assessment, recommend: frozenset[tuple[str, str]]
) -> str | None:
    """Why a supplement is recommended: the first reason of the first flag calling for one."""
    flag = next((f for f in assessment.flags if (f.code, f.level) in recommend), None)
    return flag.reasons[0] if flag else None


def _own_supplement_reach(profile: Profile, reference: Reference, target: Target,
                          intrinsic_factor: bool) -> tuple[bool | None, bool]:
    """How the supplement the person takes compares with this target: whether it
    reaches the absorbed target on its own (None when they take none), and
    whether no dose option of their group reaches it while theirs gives at least
    as much as the best option (nothing better can be recommended)."""
    own = profile.supplement
    if own is None:
        return None, False
    if own.is_injection:
        return True, False  # treatment a doctor arranged: nothing by mouth is weighed against it
    got = supplement_absorbed_per_day(own.oral_dose_ug, own.frequency, reference.absorption,
                                      intrinsic_factor)
    reaches = got >= target.absorbed_ug - 1e-9
    facts = profile_facts(profile, reference.supplement_adequacy,
                          intrinsic_factor=intrinsic_factor)
    facts["malabsorption"] = any(
        r.flag == "malabsorption" for r in evaluate_rules(facts, reference.rules))
    options = dose_options_for(facts, reference)
    if not options:
        return reaches, False
    best = pick_option(options, target.intake_ug, target.absorbed_ug, reference.absorption,
                       intrinsic_factor)
    best_got = supplement_absorbed_per_day(option_dose(best, target.intake_ug), best.frequency,
                                           reference.absorption, intrinsic_factor)
    return reaches, best_got < target.absorbed_ug - 1e-9 and got >= best_got - 1e-9


def _focus_differential(flag: Flag, profile: Profile, reference: Reference) -> Flag:
    """The differential flag with the rows the symptoms match first, and a plain sentence
    per matching symptom saying which condition it points towards (issue 14)."""
    symptoms = frozenset(profile.symptoms)
    shown = {t.id for t in flag.tables}
    pointers = tuple(p for p in reference.pointers if p.symptom in symptoms and p.table in shown)
    if flag.code != "differential" or not pointers:
        return flag
    tables = tuple(focus(t, pointers, symptoms) for t in flag.tables)
    tables = tuple(sorted(tables, key=lambda t: not any(r.matches for r in t.rows)))
    return replace(
        flag,
        tables=tables,
        pointers=pointers,
        reasons=tuple(dict.fromkeys([*(p.sentence() for p in pointers), *flag.reasons])),
        sources=tuple(dict.fromkeys([*flag.sources, *(p.source for p in pointers)])),
    )


def _say_no_animal_sources(flag: Flag, profile: Profile, policy: RiskPolicy) -> Flag:
    """The supplement flag of a diet whose animal foods the allergies all take out
    (its rules saw a vegan diet) says so first, with the source of that reading."""
    sentence = policy.no_animal_sources_sentence(profile.diet, profile.allergies)
    if flag.code != "supplement" or not sentence:
        return flag
    return replace(flag, reasons=(sentence, *flag.reasons),
                   sources=tuple(dict.fromkeys([*flag.sources,
                                                *policy.no_animal_sources_sources])))


def assess(profile: Profile, reference: Reference, foods: Iterable[Food] = ()) -> Assessment:
    """Assess a validated profile: target, flags from the risk rules, risk level.

    ``foods`` is the food table (or any part of it holding the person's own
    foods); it only tells which of ``profile.include_foods`` are fortified.
    """
    policy = reference.risk_policy
    if policy is None:
        raise ReferenceDataError(
            "the reference has no risk policy; load it with planner.data.loader.load_reference()")
    target = build_target(profile, reference)
    intrinsic_factor = policy.no_if_conditions.isdisjoint(profile.conditions)
    reaches, best_available = _own_supplement_reach(profile, reference, target, intrinsic_factor)
    readings = interpret_all(profile.labs, reference.labs)
    facts: dict[str, Any] = profile_facts(
        profile, reference.supplement_adequacy,
        fortified_ids(f for f in foods if f.sold_in(profile.market)),  # as the plan counts them
        supplement_reaches_target=reaches, supplement_best_available=best_available,
        lab_statuses=[(r.test, r.status) for r in readings], intrinsic_factor=intrinsic_factor,
        diet=policy.b12_diet(profile.diet, profile.allergies),
    )
    fired = evaluate_rules(facts, reference.rules)
    facts["malabsorption"] = any(r.flag == "malabsorption" for r in fired)
    flags = build_flags(fired, policy, reference.differentials, dose_options_for(facts, reference))
    flags = tuple(_focus_differential(f, profile, reference) for f in flags)
    flags = tuple(_say_no_animal_sources(f, profile, policy) for f in flags)
    assessment = Assessment(
        target=target,
        risk_level=risk_level(flags, policy),
        flags=flags,
        disclaimer=(reference.texts or {}).get("disclaimer", DEFAULT_DISCLAIMER),
        intrinsic_factor=intrinsic_factor,
        own_supplement_adequate=bool(facts["adequate_supplement"]),
        labs=readings,
    )
    reason = _recommendation_reason(assessment, policy.recommend_supplement)
    on_injections = profile.supplement is not None and profile.supplement.is_injection
    if reason is None or on_injections:  # issue 14: nothing by mouth on top of injections
        return assessment
    if assessment.treatment_first is not None:  # injections first: no dose by mouth instead
        return assessment
    chosen = choose_supplement(profile, assessment, reference, reason)
    return replace(assessment, recommended_supplement=chosen)
