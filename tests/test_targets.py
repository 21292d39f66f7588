"""Intake targets by guideline, age band, sex and life stage, and the absorbed target."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.data.loader import load_reference
from planner.data.loader import read_csv
from planner.domain.absorption import absorbed_target_ug
from planner.domain.assessment import build_target
from planner.domain.model import GUIDELINES
from planner.domain.model import LIFE_STAGES
from planner.domain.model import SEXES
from planner.domain.model import Profile
from planner.domain.reference import ReferenceDataError
from planner.domain.targets import STATUSES
from planner.domain.targets import daily_target_ug
from planner.domain.targets import parse_age_years
from planner.domain.targets import parse_target_rows
from planner.domain.targets import target_row_for

REF = load_reference()


def target(age, guideline="us", life_stage="none", sex="unspecified") -> float:
    profile = Profile(age_years=age, diet="omnivore", guideline=guideline,
                      life_stage=life_stage, sex=sex)
    return daily_target_ug(profile, REF.targets)


@pytest.mark.parametrize(
    ("guideline", "age", "life_stage", "sex", "expected_ug"),
    [
        # adults
        ("us", 30, "none", "unspecified", 2.4),
        ("us", 75, "none", "female", 2.4),
        ("us", 30, "pregnant", "female", 2.6),
        ("us", 30, "lactating", "female", 2.8),
        ("efsa", 30, "none", "male", 4.0),
        ("efsa", 30, "pregnant", "female", 4.5),
        ("efsa", 30, "lactating", "female", 5.0),
        ("dach", 70, "none", "male", 4.0),
        ("dach", 30, "lactating", "female", 5.5),
        ("nnr", 40, "none", "female", 4.0),
        ("uk", 30, "none", "male", 1.5),
        ("uk", 30, "pregnant", "female", 1.5),
        ("uk", 30, "lactating", "female", 2.0),
        ("who", 66, "none", "male", 2.4),
        ("who", 30, "pregnant", "female", 2.6),
        # infants
        ("us", 0, "none", "unspecified", 0.4),
        ("us", 0.25, "none", "unspecified", 0.4),
        ("us", 0.75, "none", "unspecified", 0.5),
        ("efsa", 0.75, "none", "unspecified", 1.5),
        ("dach", 0.2, "none", "unspecified", 0.5),
        ("dach", 0.5, "none", "unspecified", 1.4),
        ("uk", 0.3, "none", "unspecified", 0.3),
        ("nnr", 0.9, "none", "unspecified", 1.5),
        # children
        ("us", 1, "none", "unspecified", 0.9),
        ("us", 3.9, "none", "unspecified", 0.9),
        ("us", 4, "none", "unspecified", 1.2),
        ("us", 8, "none", "unspecified", 1.2),
        ("us", 9, "none", "unspecified", 1.8),
        ("us", 13, "none", "unspecified", 1.8),
        ("efsa", 2, "none", "unspecified", 1.5),
        ("efsa", 8, "none", "unspecified", 2.5),
        ("dach", 5, "none", "unspecified", 2.0),
        ("nnr", 5, "none", "unspecified", 1.7),
        ("uk", 2, "none", "unspecified", 0.5),
        ("uk", 5, "none", "unspecified", 0.8),
        ("uk", 9, "none", "unspecified", 1.0),
        ("who", 8, "none", "unspecified", 1.8),
        # adolescents
        ("us", 14, "none", "unspecified", 2.4),
        ("us", 18.9, "none", "unspecified", 2.4),
        ("efsa", 12, "none", "unspecified", 3.5),
        ("efsa", 16, "none", "unspecified", 4.0),
        ("dach", 11, "none", "unspecified", 3.5),
        ("dach", 14, "none", "unspecified", 4.0),
        ("uk", 12, "none", "unspecified", 1.2),
        ("uk", 16, "none", "unspecified", 1.5),
        ("who", 12, "none", "unspecified", 2.4),
    ],
)
def test_target_matches_the_reference_table(guideline, age, life_stage, sex, expected_ug):
    assert target(age, guideline, life_stage, sex) == pytest.approx(expected_ug)


def test_nnr_splits_11_to_14_by_sex_and_uses_the_higher_value_when_sex_is_unspecified():
    assert target(12, "nnr", sex="female") == 3.5
    assert target(12, "nnr", sex="male") == 3.0
    assert target(12, "nnr", sex="unspecified") == 3.5


def test_the_us_adult_absorbed_target_is_about_1_2_ug():
    assert absorbed_target_ug(2.4, REF.absorption) == pytest.approx(1.2, abs=0.05)


def test_an_assessment_target_carries_intake_absorbed_basis_and_source():
    t = build_target(Profile(age_years=30, diet="vegan"), REF)
    assert (t.guideline, t.intake_ug) == ("us", 2.4)
    assert t.absorbed_ug == pytest.approx(1.218, abs=0.01)
    assert "2.4 µg" in t.basis and "3 equal meals" in t.basis
    assert "IOM 1998" in t.source and t.status == "P"


def test_the_over_50_row_carries_the_iom_footnote():
    t = build_target(Profile(age_years=60, diet="omnivore"), REF)
    assert "fortified foods or a supplement" in t.basis


def test_efsa_has_no_value_below_7_months_and_says_which_value_it_uses_instead():
    row = target_row_for(Profile(age_years=0.2, diet="omnivore", guideline="efsa"), REF.targets)
    assert row.intake_ug == 0.4
    assert "IOM" in row.source and "EFSA" in row.note


def test_every_row_has_a_source_a_status_and_a_positive_value():
    assert len(REF.targets) >= 60
    for row in REF.targets:
        assert row.source.strip()
        assert row.status in STATUSES
        assert row.intake_ug > 0


@given(
    age=st.floats(min_value=0, max_value=120),
    guideline=st.sampled_from(GUIDELINES),
    life_stage=st.sampled_from(LIFE_STAGES),
    sex=st.sampled_from(SEXES),
)
def test_every_profile_gets_exactly_one_target(age, guideline, life_stage, sex):
    profile = Profile(age_years=age, diet="vegan", guideline=guideline,
                      life_stage=life_stage, sex=sex)
    rows = [r for r in REF.targets if r.fits(profile)]
    assert 1 <= len(rows) <= 2  # two only for a sex-split band with sex unspecified
    assert target_row_for(profile, REF.targets).intake_ug > 0


@pytest.mark.parametrize(("text", "years"), [("6 mo", 0.5), ("4 mo", 4 / 12), ("19 y", 19.0)])
def test_ages_in_the_table_are_written_in_months_or_years(text, years):
    assert parse_age_years(text, open_value=math.inf) == pytest.approx(years)


def test_a_blank_age_is_open():
    assert parse_age_years("", open_value=math.inf) == math.inf


def _rows_with(**changes):
    rows = read_csv("targets.csv")
    first = dict(rows[0], **changes)
    return [first, *rows[1:]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": ""}, "needs a source"),
        ({"guideline": "fda"}, "guideline 'fda' is not valid; choose one of us, efsa"),
        ({"status": "X"}, "status 'X' is not valid; choose one of P, S, U"),
        ({"life_stage": "teen"}, "life_stage 'teen' is not valid"),
        ({"age_to": "5 mo"}, "gap or overlap"),
        ({"age_from": "six months"}, "is not an age"),
        ({"intake_ug": "-1"}, "intake_ug > 0"),
    ],
)
def test_a_broken_target_table_is_rejected_with_a_clear_message(changes, message):
    with pytest.raises(ReferenceDataError, match=message):
        parse_target_rows(_rows_with(**changes))


def test_a_guideline_that_stops_before_old_age_is_rejected():
    rows = [r for r in read_csv("targets.csv")
            if not (r["guideline"] == "uk" and r["band"].startswith("adults"))]
    with pytest.raises(ReferenceDataError, match="uk/none/.* does not cover ages from 19"):
        parse_target_rows(rows)
