"""Daily B12 intake targets by guideline body, age band, sex and life stage.

Rows come from ``planner/data/targets.csv`` (b12-reference.md §1.1), one per
band, each with its value type, evidence status ([P]/[S]/[U]) and source.
:func:`parse_target_rows` turns the raw CSV rows into :class:`TargetRow` values
and checks that every guideline covers every age without gaps, so
:func:`target_row_for` always finds a row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from planner.domain.model import GUIDELINES
from planner.domain.model import LIFE_STAGES
from planner.domain.model import Profile
from planner.domain.reference import ReferenceDataError

STATUSES = ("P", "S", "U")
ROW_SEXES = ("any", "female", "male")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mo|y)\s*$")
_EPS = 1e-9


@dataclass(frozen=True)
class TargetRow:
    """One band of one guideline: ``intake_ug`` [µg/day] for ages
    ``age_from_years`` <= age < ``age_to_years`` (``inf`` = no upper bound)."""

    guideline: str
    band: str
    age_from_years: float
    age_to_years: float
    sex: str
    life_stage: str
    intake_ug: float
    value_type: str
    status: str
    source: str
    note: str = ""

    def fits(self, profile: Profile) -> bool:
        """Whether this row applies to the profile's guideline, stage, sex and age."""
        return (
            self.guideline == profile.guideline
            and self.life_stage == profile.life_stage
            and (self.sex == "any" or profile.sex in (self.sex, "unspecified"))
            and self.age_from_years <= profile.age_years < self.age_to_years
        )


def parse_age_years(text: str, *, open_value: float) -> float:
    """``"6 mo"`` -> 0.5, ``"4 y"`` -> 4.0, blank -> ``open_value``."""
    if not text.strip():
        return open_value
    m = _AGE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an age; write e.g. '6 mo' or '4 y' or leave blank")
    value = float(m.group(1))
    return value / 12.0 if m.group(2) == "mo" else value


def _row(raw: Mapping[str, str], where: str) -> TargetRow:
    def pick(field: str, choices: Iterable[str]) -> str:
        value = (raw.get(field) or "").strip()
        if value not in choices:
            raise ReferenceDataError(
                f"{where}: {field} {value!r} is not valid; choose one of {', '.join(choices)}"
            )
        return value

    source = (raw.get("source") or "").strip()
    if not source:
        raise ReferenceDataError(f"{where}: every target row needs a source")
    try:
        intake = float(raw.get("intake_ug") or "")
        age_from = parse_age_years(raw.get("age_from") or "", open_value=0.0)
        age_to = parse_age_years(raw.get("age_to") or "", open_value=math.inf)
    except ValueError as e:
        raise ReferenceDataError(f"{where}: {e}") from None
    if not intake > 0 or age_to <= age_from:
        raise ReferenceDataError(f"{where}: needs intake_ug > 0 and age_from < age_to")
    return TargetRow(
        guideline=pick("guideline", GUIDELINES),
        band=(raw.get("band") or "").strip(),
        age_from_years=age_from,
        age_to_years=age_to,
        sex=pick("sex", ROW_SEXES),
        life_stage=pick("life_stage", LIFE_STAGES),
        intake_ug=intake,
        value_type=(raw.get("value_type") or "").strip(),
        status=pick("status", STATUSES),
        source=source,
        note=(raw.get("note") or "").strip(),
    )


def _check_coverage(rows: tuple[TargetRow, ...], name: str) -> None:
    """Each guideline, for each sex and life stage, tiles ages 0..inf exactly once."""
    for guideline in GUIDELINES:
        for stage in LIFE_STAGES:
            for sex in ("female", "male"):
                bands = sorted(
                    (r.age_from_years, r.age_to_years)
                    for r in rows
                    if r.guideline == guideline and r.life_stage == stage and r.sex in ("any", sex)
                )
                edge = 0.0
                for start, end in bands:
                    if abs(start - edge) > _EPS:
                        raise ReferenceDataError(
                            f"{name}: {guideline}/{stage}/{sex} has a gap or overlap at "
                            f"{edge:g} years"
                        )
                    edge = end
                if edge != math.inf:
                    raise ReferenceDataError(
                        f"{name}: {guideline}/{stage}/{sex} does not cover ages from {edge:g} years"
                    )


def parse_target_rows(
    raw_rows: Iterable[Mapping[str, str]], name: str = "targets.csv"
) -> tuple[TargetRow, ...]:
    """Validate CSV rows (dicts of text) into target rows; raise ReferenceDataError."""
    rows = tuple(_row(raw, f"{name} line {i}") for i, raw in enumerate(raw_rows, start=2))
    _check_coverage(rows, name)
    return rows


def target_row_for(profile: Profile, rows: Iterable[TargetRow]) -> TargetRow:
    """The target row for a profile.

    Where a band is split by sex (NNR 11–14 y) and the sex is unspecified,
    the higher value is used, so the target is never set too low.
    """
    matching = [r for r in rows if r.fits(profile)]
    if not matching:
        raise ReferenceDataError(
            f"no target for guideline {profile.guideline!r}, life stage "
            f"{profile.life_stage!r}, age {profile.age_years:g}; check targets.csv"
        )
    return max(matching, key=lambda r: r.intake_ug)


def daily_target_ug(profile: Profile, rows: Iterable[TargetRow]) -> float:
    """Intake target [µg/day] for the profile under its chosen guideline."""
    return target_row_for(profile, rows).intake_ug
