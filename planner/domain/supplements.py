"""Supplement dose options (``supplements.toml``) and the choice of one.

People fall into one group (malabsorption, pregnancy and breastfeeding,
infant, toddler, child, older adult, adult): the first group whose ``when``
holds. Each group has dose options with sources; the recommendation is the
first offered one that reaches the person's absorbed target on its own
(:func:`supplement_absorbed_per_day`), so a 4 µg EFSA/D-A-CH/NNR target gets
the higher daily tier rather than a weekly dose. :func:`choose_supplement` is
what the assessment and the plan builder call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from planner.domain.absorption import AbsorptionParams
from planner.domain.absorption import absorbed_ug
from planner.domain.facts import Facts
from planner.domain.facts import SupplementAdequacy
from planner.domain.facts import When
from planner.domain.facts import holds
from planner.domain.facts import parse_when
from planner.domain.facts import profile_facts
from planner.domain.model import FREQUENCIES
from planner.domain.model import Profile
from planner.domain.model import SupplementDose
from planner.domain.reference import Reference
from planner.domain.reference import ReferenceDataError
from planner.domain.reference import choice_field as _choice
from planner.domain.reference import is_number
from planner.domain.reference import text_field as _text

if TYPE_CHECKING:
    from planner.domain.assessment import Assessment

OPTION_STATUSES = ("P", "S", "U", "design")
DOSE_BASES = ("fixed", "intake_target")


@dataclass(frozen=True)
class SupplementGroup:
    id: str
    when: When
    label: str


@dataclass(frozen=True)
class SupplementOption:
    """A dose option: ``dose_ug`` [µg] per ``frequency`` for one group.

    With ``dose_basis == "intake_target"`` the dose is the person's intake
    target and ``dose_ug`` is unused (0).
    """

    id: str
    group: str
    dose_ug: float
    frequency: str
    label: str
    status: str
    source: str
    when: When = ()
    offer: bool = True
    dose_basis: str = "fixed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dose_ug": self.dose_ug if self.dose_basis == "fixed" else None,
            "frequency": self.frequency,
            "label": self.label,
            "status": self.status,
            "source": self.source,
        }


@dataclass(frozen=True)
class RecommendedSupplement(SupplementDose):
    """The supplement the planner recommends: ``dose_ug`` [µg] taken ``frequency``."""

    label: str = ""
    option_id: str = ""
    status: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.dose_dict(),
            "label": self.label,
            "status": self.status,
        }


# ---------------------------------------------------------------------------
# Parsing and validation (pure; the loader reads the file)
# ---------------------------------------------------------------------------


def parse_adequacy(raw: Mapping[str, Any], name: str = "supplements.toml") -> SupplementAdequacy:
    where = f"{name} [adequate]"
    table = raw.get("adequate", {})
    daily, weekly = table.get("daily_min_ug"), table.get("weekly_min_ug")
    if not all(is_number(v) and v > 0 for v in (daily, weekly)):
        raise ReferenceDataError(f"{where}: daily_min_ug and weekly_min_ug must be numbers above 0")
    daily_only = parse_when(table.get("daily_only_when", {}), where)
    return SupplementAdequacy(
        float(daily), float(weekly), _text(table, "source", where),
        daily_only_when=daily_only,
        daily_only_source=_text(table, "daily_only_source", where) if daily_only else "",
    )


def parse_groups(
    raw: Mapping[str, Any], name: str = "supplements.toml"
) -> tuple[SupplementGroup, ...]:
    groups = tuple(
        SupplementGroup(
            id=_text(g, "id", f"{name} group {i}"),
            when=parse_when(g.get("when", {}), f"{name} group {i}"),
            label=_text(g, "label", f"{name} group {i}"),
        )
        for i, g in enumerate(raw.get("group", []), start=1)
    )
    if not groups or groups[-1].when:
        raise ReferenceDataError(
            f"{name}: the last [[group]] must have an empty when, so everyone has a group")
    return groups


def _option(raw: Mapping[str, Any], group_ids: tuple[str, ...], where: str) -> SupplementOption:
    basis = _choice(raw, "dose_basis", DOSE_BASES, where, default="fixed")
    dose = raw.get("dose_ug", 0)
    fixed_ok = is_number(dose) and math.isfinite(dose) and dose > 0
    if basis == "fixed" and not fixed_ok:
        raise ReferenceDataError(f"{where}: dose_ug must be a number above 0")
    return SupplementOption(
        id=_text(raw, "id", where),
        group=_choice(raw, "group", group_ids, where),
        dose_ug=float(dose) if basis == "fixed" else 0.0,
        frequency=_choice(raw, "frequency", FREQUENCIES, where),
        label=_text(raw, "label", where),
        status=_choice(raw, "status", OPTION_STATUSES, where),
        source=_text(raw, "source", where),
        when=parse_when(raw.get("when", {}), where),
        offer=bool(raw.get("offer", True)),
        dose_basis=basis,
    )


def parse_options(
    raw: Mapping[str, Any], groups: tuple[SupplementGroup, ...], name: str = "supplements.toml"
) -> tuple[SupplementOption, ...]:
    """Every ``[[option]]``; each group must offer at least one option."""
    group_ids = tuple(g.id for g in groups)
    options = tuple(
        _option(o, group_ids, f"{name} option {i} ({o.get('id', '?')})")
        for i, o in enumerate(raw.get("option", []), start=1)
    )
    for group in group_ids:
        if not any(o.group == group and o.offer and not o.when for o in options):
            raise ReferenceDataError(
                f"{name}: group {group!r} needs an offered option without a when")
    return options


# ---------------------------------------------------------------------------
# Choosing
# ---------------------------------------------------------------------------


def group_for(facts: Facts, groups: tuple[SupplementGroup, ...]) -> SupplementGroup | None:
    """The first group whose conditions hold."""
    return next((g for g in groups if holds(g.when, facts)), None)


def dose_options_for(facts: Facts, reference: Reference) -> tuple[SupplementOption, ...]:
    """The offered options for the person's group, recommended one first."""
    group = group_for(facts, reference.supplement_groups)
    if group is None:
        return ()
    return tuple(
        o for o in reference.supplement_options
        if o.group == group.id and o.offer and holds(o.when, facts)
    )


def supplement_absorbed_per_day(
    dose_ug: float, frequency: str, params: AbsorptionParams, intrinsic_factor: bool = True
) -> float:
    """Absorbed B12 a supplement gives per day [µg/day]: one dose on its own
    (crystalline, Model S or the no-IF line), a weekly one through its 7-day average."""
    per_dose = absorbed_ug(dose_ug, params, intrinsic_factor)
    return per_dose if frequency == "daily" else per_dose / 7.0


def option_dose(option: SupplementOption, intake_target_ug: float) -> float:
    """The option's dose [µg]: fixed, or the person's intake target."""
    return intake_target_ug if option.dose_basis == "intake_target" else option.dose_ug


def pick_option(
    options: tuple[SupplementOption, ...], intake_target_ug: float, target_absorbed_ug: float,
    params: AbsorptionParams, intrinsic_factor: bool = True,
) -> SupplementOption:
    """The first option that reaches the absorbed target on its own, else the
    first of those that come closest."""
    def reach(o: SupplementOption) -> float:
        return supplement_absorbed_per_day(option_dose(o, intake_target_ug), o.frequency,
                                           params, intrinsic_factor)

    chosen = next((o for o in options if reach(o) >= target_absorbed_ug - 1e-9), None)
    return chosen if chosen is not None else max(options, key=reach)


def choose_supplement(
    profile: Profile, assessment: Assessment, reference: Reference, reason: str
) -> RecommendedSupplement:
    """The supplement to recommend, by age, life stage and malabsorption: the
    group's first offered option that reaches the absorbed target on its own
    (else the one that comes closest).

    ``reason`` says why (for example, food alone does not cover the target);
    the dose comes from ``supplements.toml`` with its source.
    """
    facts = profile_facts(
        profile,
        reference.supplement_adequacy,
        malabsorption=assessment.flag("malabsorption") is not None,
    )
    options = dose_options_for(facts, reference)
    if not options:
        raise ReferenceDataError(
            "supplements.toml offers no option for this profile; check [[group]]")

    option = pick_option(options, assessment.target.intake_ug, assessment.target.absorbed_ug,
                         reference.absorption, assessment.intrinsic_factor)
    dose = option_dose(option, assessment.target.intake_ug)
    return RecommendedSupplement(
        dose_ug=dose,
        frequency=option.frequency,
        reason=reason,
        source=option.source,
        label=option.label,
        option_id=option.id,
        status=option.status,
    )
