"""The absorption model against the published dose-absorption points and the
Vegan Society's three options (product.md §3, b12-reference.md §2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.data.loader import load_reference
from planner.data.loader import read_toml
from planner.domain.absorption import absorbed_from_doses
from planner.domain.absorption import absorbed_target_ug
from planner.domain.absorption import absorbed_ug

PARAMS = load_reference().absorption
DATA = read_toml("absorption.toml")
OBSERVED = DATA["observed"]
OBSERVED_NO_IF = DATA["observed_no_if"]
US_ADULT_ABSORBED_UG = absorbed_target_ug(2.4, PARAMS)

# Tolerances. The published least-squares fit of Model S (b12-reference.md §2.3) has an
# RMS log error of 0.157 and a largest miss of 0.23 log units, with unrounded parameters;
# the shipped parameters are rounded. Carmel (2008) stresses that individual variation is
# wide, and two sources disagree at 1 µg (0.56 vs about 0.5). So each point may miss by
# 0.30 log units (about -26 %/+35 %), and the RMS over all points must stay within 0.20,
# so the fit as a whole cannot drift unnoticed. Without intrinsic factor the law is a plain
# proportion (1.2-1.3 % of any dose), so those points must match within 15 %.
MAX_LOG_ERROR = 0.30
MAX_RMS_LOG_ERROR = 0.20
NO_IF_REL_TOLERANCE = 0.15


def _log_error(point) -> float:
    return math.log(absorbed_ug(point["dose_ug"], PARAMS)) - math.log(point["absorbed_ug"])


@pytest.mark.parametrize("point", OBSERVED, ids=lambda p: f"{p['dose_ug']}ug-{p['source'][:12]}")
def test_model_reproduces_each_observed_point_within_0_30_log_units(point):
    assert point["source"].strip()
    assert abs(_log_error(point)) <= MAX_LOG_ERROR


def test_model_fits_the_observed_points_with_rms_log_error_at_most_0_20():
    rms = math.sqrt(sum(_log_error(p) ** 2 for p in OBSERVED) / len(OBSERVED))
    assert rms <= MAX_RMS_LOG_ERROR


@pytest.mark.parametrize("point", OBSERVED_NO_IF, ids=lambda p: f"{p['dose_ug']}ug")
def test_without_intrinsic_factor_model_matches_carmel_within_15_percent(point):
    modelled = absorbed_ug(point["dose_ug"], PARAMS, intrinsic_factor=False)
    assert modelled == pytest.approx(point["absorbed_ug"], rel=NO_IF_REL_TOLERANCE)


# The Vegan Society's options (b12-reference.md §5.1) against the US absorbed target.


@pytest.mark.parametrize(
    "meals_ug",
    [(1.0, 1.0, 1.0), (1.5, 1.5), (1.0, 1.0, 1.5), (0.8, 1.0, 1.2)],
    ids=["3x1ug", "2x1.5ug", "1+1+1.5ug", "0.8+1+1.2ug"],
)
def test_fortified_foods_two_or_three_times_a_day_totalling_3ug_are_covered(meals_ug):
    assert sum(meals_ug) >= 3
    assert absorbed_from_doses(meals_ug, PARAMS) >= US_ADULT_ABSORBED_UG


def test_10ug_once_a_day_is_covered():
    assert absorbed_ug(10, PARAMS) >= US_ADULT_ABSORBED_UG


def test_2000ug_once_a_week_is_covered_through_the_7_day_average():
    week = [2000.0] + [0.0] * 6
    assert sum(absorbed_ug(d, PARAMS) for d in week) / 7 >= US_ADULT_ABSORBED_UG


def test_the_rda_eaten_in_one_single_dose_is_not_covered():
    assert absorbed_ug(2.4, PARAMS) < US_ADULT_ABSORBED_UG


def test_3ug_in_one_meal_is_not_covered_which_is_why_the_option_says_two_or_three_times():
    assert absorbed_ug(3.0, PARAMS) < US_ADULT_ABSORBED_UG


def test_the_us_absorbed_target_matches_iom_50_percent_assumption():
    assert US_ADULT_ABSORBED_UG == pytest.approx(1.2, abs=0.05)


def test_no_dose_absorbs_nothing():
    assert absorbed_ug(0, PARAMS) == 0
    assert absorbed_ug(-1, PARAMS) == 0


doses = st.floats(min_value=0, max_value=100_000, allow_nan=False)


@given(a=doses, b=doses, intrinsic_factor=st.booleans())
def test_absorption_never_falls_as_the_dose_rises(a, b, intrinsic_factor):
    low, high = sorted((a, b))
    assert absorbed_ug(low, PARAMS, intrinsic_factor) <= absorbed_ug(high, PARAMS, intrinsic_factor)


@given(dose=doses, intrinsic_factor=st.booleans())
def test_absorption_is_never_more_than_the_dose(dose, intrinsic_factor):
    assert 0 <= absorbed_ug(dose, PARAMS, intrinsic_factor) <= dose


@given(dose=doses)
def test_losing_intrinsic_factor_never_raises_absorption(dose):
    assert absorbed_ug(dose, PARAMS, intrinsic_factor=False) <= absorbed_ug(dose, PARAMS)


@given(a=doses, b=doses)
def test_splitting_a_dose_over_two_meals_never_absorbs_less(a, b):
    split = absorbed_from_doses([a, b], PARAMS)
    assert split >= absorbed_ug(a + b, PARAMS) - 1e-9
