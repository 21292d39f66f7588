"""Absorption that matches the person (issue 12, point 4) and supplement consistency
(point 7): food-group bioavailability and the food-bound half as data, no food
coverage without intrinsic factor or terminal ileum, assessment and plan agreeing
about an own supplement, the higher daily tier for 4 µg targets, and a daily
regimen in pregnancy and breastfeeding."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from foods.loader import load_foods
from planner.commands.plan import plan as plan_command
from planner.data.loader import food_group_keys
from planner.data.loader import load_reference
from planner.data.loader import read_toml
from planner.domain.absorption import absorbed_ug
from planner.domain.absorption import meal_absorbed_ug
from planner.domain.assessment import assess
from planner.domain.bioavailability import item_factors
from planner.domain.bioavailability import parse_bioavailability
from planner.domain.facts import profile_facts
from planner.domain.model import GUIDELINES
from planner.domain.planning import InfeasiblePlan
from planner.domain.planning import absorption_factors
from planner.domain.planning import make_plan
from planner.domain.profile import parse_profile
from planner.domain.reference import ReferenceDataError
from planner.pages import references

ROOT = Path(__file__).resolve().parents[1]
REF = load_reference()
PARAMS = REF.absorption
TABLE = REF.bioavailability
FOODS = load_foods()
BY_ID = {f.food_id: f for f in FOODS}
WEEK = "2025-W07"
RAW = read_toml("absorption.toml")


def profile(**fields):
    return parse_profile({"age_years": 40, "diet": "omnivore", **fields})


def single(food, servings: float, prof) -> float:
    """Absorbed B12 [µg] from one food alone in a meal, for this person."""
    (fraction, scale), = absorption_factors(prof, (food,), REF)
    dose = food.b12_ug_per_serving * servings
    return meal_absorbed_ug([(dose, fraction, scale)], PARAMS)


# ---------------------------------------------------------------------------
# The data: one row per food group, each with its source
# ---------------------------------------------------------------------------


def test_every_food_group_has_exactly_one_bioavailability_row_with_a_source():
    groups = [row["group"] for row in csv.DictReader((ROOT / "foods" / "groups.csv").open())]
    assert food_group_keys() == tuple(groups)
    named = [g for row in TABLE.rows for g in row.groups]
    assert sorted(named) == sorted(groups)
    for row in TABLE.rows:
        assert row.source.startswith("b12-reference.md §")
        assert row.status in ("P", "S", "U", "design")
        assert 0 <= row.fraction <= 1


def test_the_food_bound_half_is_tagged_unconfirmed_as_the_reference_does():
    assert TABLE.reduction_factor == 0.5
    assert TABLE.reduction_status == "U"
    assert "[U]" in TABLE.reduction_source and "§2.3" in TABLE.reduction_source
    for case in TABLE.reduction_cases:
        assert case.source.startswith("b12-reference.md §") and case.reason


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw: raw["bioavailability"].pop(), "missing other_plant"),
    (lambda raw: raw["bioavailability"][1].update(fraction=1.3), "from 0 to 1"),
    (lambda raw: raw["bioavailability"][0].update(fraction=0.5), "fraction must be 1.0"),
    (lambda raw: raw["bioavailability"][1].update(groups=["egg", "beef"]), "more than one"),
    (lambda raw: raw["food_bound_reduction"]["applies"][0].update(when={"age_over": 3}),
     "unknown condition"),
])
def test_a_wrong_bioavailability_row_names_the_file_and_the_fix(change, message):
    raw = json.loads(json.dumps(RAW))
    change(raw)
    with pytest.raises(ReferenceDataError, match=message):
        parse_bioavailability(raw, food_group_keys())


# ---------------------------------------------------------------------------
# One test per bioavailability row
# ---------------------------------------------------------------------------


def _food_of(groups) -> object:
    return next(f for f in FOODS if f.group in groups and not f.fortified
                and f.b12_ug_per_100g > 0 and f.counts_as_source)


@pytest.mark.parametrize("row", TABLE.rows, ids=lambda r: "+".join(r.groups))
def test_each_row_gives_its_share_and_never_more_than_model_s(row):
    person = profile()
    candidates = [f for f in FOODS if f.group in row.groups and f.b12_ug_per_100g > 0]
    if row.form == "crystalline" or row.fraction == 0:
        # crystalline groups: every source row follows Model S exactly
        for food in candidates:
            if food.counts_as_source:
                dose = food.b12_ug_per_serving
                assert single(food, 1, person) == pytest.approx(absorbed_ug(dose, PARAMS))
        if row.fraction == 0:  # algae, tempeh: never a source at all
            assert all(not f.counts_as_source for f in FOODS if f.group in row.groups)
        return
    food = _food_of(row.groups)
    for servings in (0.5, 1, 2):
        dose = food.b12_ug_per_serving * servings
        got = single(food, servings, person)
        model_s = absorbed_ug(dose, PARAMS)
        assert got <= model_s + 1e-12  # never more than crystalline B12 at that dose
        assert got == pytest.approx(min(row.fraction * dose, model_s))


def test_one_egg_counts_at_about_30_percent_not_model_s():
    egg = BY_ID["egg_hard_boiled"]  # 0.56 µg: Model S alone would give about 53 %
    dose = egg.b12_ug_per_serving
    got = single(egg, 1, profile())
    assert got / dose == pytest.approx(0.30)
    assert absorbed_ug(dose, PARAMS) / dose > 0.5


def test_eggs_in_a_plan_count_at_30_percent():
    prof = profile(diet="vegetarian", include_foods=["egg_hard_boiled", "egg_fried"])
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    egg_meals = [m for d in plan.days for m in d.meals if m.items]
    assert egg_meals
    for meal in egg_meals:
        assert meal.absorbed_ug == pytest.approx(0.30 * meal.b12_ug)


def test_fish_counts_at_42_percent_of_a_small_dose_and_model_s_above_it():
    tuna = BY_ID["tuna_light_canned_water"]
    small = 1.0 / tuna.b12_ug_per_serving  # servings giving 1 µg: Model S gives 49 %
    food = replace(tuna, serving_g=tuna.serving_g * small)
    assert single(food, 1, profile()) == pytest.approx(0.42)
    big = replace(tuna, serving_g=tuna.serving_g * 10 * small)  # 10 µg: Model S 13 %
    assert single(big, 1, profile()) == pytest.approx(absorbed_ug(10, PARAMS))


def test_liver_at_38_ug_is_dose_limited_like_the_studies():
    liver = BY_ID["beef_liver_braised"]
    servings = 38 / liver.b12_ug_per_serving
    food = replace(liver, serving_g=liver.serving_g * servings)
    got = single(food, 1, profile())
    # Doets 2013: 4.5 % at 38 µg; Heyssel 1966: 11 % on average, at most 18 %
    assert 0.040 <= got / 38 <= 0.11


def test_a_fortified_food_is_crystalline_whatever_its_group():
    milk = BY_ID["milk_2_percent"]
    fortified = replace(milk, fortified=True)
    assert item_factors((milk, fortified), TABLE, profile_facts(profile())) == (
        (0.5, 1.0), (1.0, 1.0))


amounts = st.floats(min_value=0.01, max_value=300, allow_nan=False)
shares = st.sampled_from(sorted({r.fraction for r in TABLE.rows} | {1.0}))


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.tuples(amounts, shares, st.sampled_from([0.5, 1.0])),
                      min_size=1, max_size=4),
       intrinsic_factor=st.booleans())
def test_a_meal_never_beats_model_s_and_is_subadditive(items, intrinsic_factor):
    got = meal_absorbed_ug(items, PARAMS, intrinsic_factor)
    total = sum(d for d, _, _ in items)
    assert got <= absorbed_ug(total, PARAMS, intrinsic_factor) + 1e-9
    assert got <= sum(meal_absorbed_ug([it], PARAMS, intrinsic_factor) for it in items) + 1e-9
    assert got >= 0


# ---------------------------------------------------------------------------
# Food-bound B12 at half; crystalline unchanged
# ---------------------------------------------------------------------------


HALVING = [
    ("age 65", {"age_years": 65}),
    ("age 80", {"age_years": 80}),
    ("PPI", {"medications": ["ppi"]}),
    ("H2 blocker", {"medications": ["h2_blocker"]}),
    ("metformin", {"medications": ["metformin"]}),
    ("atrophic gastritis", {"conditions": ["atrophic_gastritis"]}),
    ("low stomach acid", {"conditions": ["low_stomach_acid"]}),
]


@pytest.mark.parametrize(("name", "fields"), HALVING, ids=[h[0] for h in HALVING])
def test_food_bound_b12_is_halved_and_crystalline_unchanged(name, fields):
    person = profile(**fields)
    healthy = profile()
    for food_id in ("pollock_alaska_cooked", "egg_hard_boiled", "milk_2_percent",
                    "beef_ground_85_lean_patty_broiled"):
        food = BY_ID[food_id]
        assert single(food, 1, person) == pytest.approx(0.5 * single(food, 1, healthy))
    cereal = next(f for f in FOODS if f.fortified and f.group == "cereal")
    assert single(cereal, 1, person) == pytest.approx(
        absorbed_ug(cereal.b12_ug_per_serving, PARAMS))


def test_no_half_at_64_without_those_medicines_or_conditions():
    food = BY_ID["pollock_alaska_cooked"]
    assert single(food, 2, profile(age_years=64, medications=["colchicine"],
                                   conditions=["celiac_disease"])) == pytest.approx(
        absorbed_ug(2 * food.b12_ug_per_serving, PARAMS))


def test_the_80_year_old_on_a_ppi_gets_half_of_model_s_from_pollock():
    prof = profile(age_years=80, medications=["ppi"], include_foods=["pollock_alaska_cooked"])
    pollock = BY_ID["pollock_alaska_cooked"]
    assert 2 * pollock.b12_ug_per_serving == pytest.approx(6.22, abs=0.01)  # 2 × 3 oz
    assert single(pollock, 2, prof) == pytest.approx(0.5 * absorbed_ug(6.222, PARAMS), rel=1e-3)
    assert single(pollock, 2, prof) < 0.62  # not 1.227
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    for meal in (m for d in plan.days for m in d.meals if m.items):
        assert meal.absorbed_ug == pytest.approx(0.5 * absorbed_ug(meal.b12_ug, PARAMS))
    assert plan.supplement is not None and plan.supplement.absorbed_ug_per_dose == pytest.approx(
        absorbed_ug(plan.supplement.dose_ug, PARAMS))  # crystalline: in full
    assert any("50 %" in n and "no study" in n for n in plan.notes)


def test_the_80_year_old_on_a_ppi_refusing_supplements_cannot_live_on_pollock():
    prof = profile(age_years=80, medications=["ppi"], accept_supplement=False,
                   include_foods=["pollock_alaska_cooked"])
    with pytest.raises(InfeasiblePlan) as err:
        make_plan(prof, FOODS, week=WEEK, reference=REF)
    assert err.value.field == "accept_supplement"


def test_the_80_year_old_on_a_ppi_is_planned_on_fortified_foods_counted_in_full():
    prof = profile(age_years=80, medications=["ppi"], accept_supplement=False)
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assert plan.summary.covered
    for meal in (m for d in plan.days for m in d.meals if m.items):
        if all(i.fortified for i in meal.items):
            assert meal.absorbed_ug == pytest.approx(absorbed_ug(meal.b12_ug, PARAMS))


# ---------------------------------------------------------------------------
# No intrinsic factor or no terminal ileum: food never covers a day
# ---------------------------------------------------------------------------

NO_IF = ["pernicious_anemia", "gastrectomy", "gastric_bypass", "ileal_resection",
         "crohns_disease"]
GOOD_FOODS = ["total_whole_grain", "soy_drink_fortified_unsweetened", "clams_cooked_moist_heat",
              "beef_liver_braised"]


@pytest.mark.parametrize("condition", NO_IF)
def test_without_if_or_ileum_food_never_covers_a_day(condition):
    foods = [i for i in GOOD_FOODS if i in BY_ID]
    prof = profile(conditions=[condition], include_foods=foods)
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assert plan.assessment.intrinsic_factor is False
    assert plan.summary.days_covered_by_food == 0
    assert plan.supplement is not None
    per_day = 7 if plan.supplement.frequency == "weekly" else 1
    share = plan.supplement.absorbed_ug_per_dose / per_day
    for day in plan.days:
        assert day.counted_absorbed_ug == pytest.approx(share)
    refused = replace(prof, accept_supplement=False)
    with pytest.raises(InfeasiblePlan):
        make_plan(refused, FOODS, week=WEEK, reference=REF)


@pytest.mark.parametrize("condition", NO_IF)
def test_no_output_says_the_foods_cover_the_target_without_if(condition, client):
    args = {"age_years": "45", "diet": "omnivore", "week": WEEK, "conditions": condition}
    page = client.get(f"/plan?{urlencode(args)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "foods cover" not in html and "added by the plan" in html
    handout = client.get(f"/plan/handout?{urlencode(args)}")
    assert handout.status_code == 200
    assert "foods cover" not in handout.get_data(as_text=True)
    refused = client.get(f"/plan?{urlencode({**args, 'accept_supplement': 'false'})}")
    assert refused.status_code == 422
    assert "foods cover" not in refused.get_data(as_text=True)
    result = CliRunner().invoke(
        plan_command, ["-", "--format", "text", "--week", WEEK],
        input=json.dumps({"age_years": 45, "diet": "omnivore", "conditions": [condition]}))
    assert result.exit_code == 0, result.stderr
    assert "foods cover" not in result.stdout and "(0 by food alone)" in result.stdout


# ---------------------------------------------------------------------------
# Guideline consistency: the assessment and the plan agree about an own supplement
# ---------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guideline=st.sampled_from(GUIDELINES),
       diet=st.sampled_from(["vegan", "vegetarian", "omnivore"]),
       age=st.sampled_from([2, 8, 12, 25, 40, 58, 70]),
       stage=st.sampled_from(["none", "none", "pregnant", "lactating"]),
       dose=st.sampled_from([1, 5, 10, 25, 50, 100, 250, 1000, 2000, 2500]),
       frequency=st.sampled_from(["daily", "weekly"]),
       own_list=st.booleans(),
       condition=st.sampled_from([None, None, "pernicious_anemia", "atrophic_gastritis"]))
def test_assessment_and_plan_agree_about_the_supplement_already_taken(
        guideline, diet, age, stage, dose, frequency, own_list, condition):
    fields = {"age_years": age if stage == "none" else 30, "diet": diet, "guideline": guideline,
              "supplement": {"dose_ug": dose, "frequency": frequency}}
    if stage != "none":
        fields.update(life_stage=stage, sex="female")
    if own_list:
        fields["include_foods"] = ["tofu_firm_nigari"]  # nothing to eat: supplement alone
    if condition:
        fields["conditions"] = [condition]
    prof = parse_profile(fields)
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assessment = plan.assessment
    says_keep = "vegan_keep_supplement" in {r for f in assessment.flags for r in f.rule_ids}
    if assessment.own_supplement_adequate or says_keep:
        assert plan.supplement.kind == "own"
    if plan.supplement.kind == "recommended":
        # replaced: the assessment does not call it enough, and asks for something else
        assert not assessment.own_supplement_adequate and not says_keep
        assert "replaces the" in plan.supplement.reason
    if not assessment.own_supplement_adequate and assessment.recommended_supplement is not None:
        # the assessment finds it short and recommends: the plan does not silently keep it
        assert plan.supplement.kind == "recommended"
        rec = assessment.recommended_supplement
        assert (plan.supplement.dose_ug, plan.supplement.frequency) == (rec.dose_ug, rec.frequency)


@pytest.mark.parametrize("guideline", ["efsa", "dach"])
def test_a_10_ug_daily_supplement_under_a_4_ug_target_is_not_called_enough_and_is_raised(guideline):
    prof = profile(diet="vegan", guideline=guideline, include_foods=["tofu_firm_nigari"],
                   supplement={"dose_ug": 10, "frequency": "daily"})
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assessment = plan.assessment
    flag = assessment.flag("supplement")
    assert "meets one of the Vegan Society" not in flag.advice
    assert "vegan_supplement_below_target" in flag.rule_ids
    assert assessment.risk_level != "low"
    assert plan.supplement.kind == "recommended"
    assert plan.supplement.frequency == "daily" and plan.supplement.dose_ug > 10
    assert "replaces the 10 µg daily" in plan.supplement.reason
    assert (assessment.recommended_supplement.dose_ug,
            assessment.recommended_supplement.frequency) == (plan.supplement.dose_ug, "daily")


@pytest.mark.parametrize("guideline", ["efsa", "dach", "nnr"])
@pytest.mark.parametrize("age", [30, 60])
def test_4_ug_targets_get_the_higher_daily_tier_not_a_weekly_dose(guideline, age):
    prof = profile(age_years=age, diet="vegan", guideline=guideline)
    assessment = assess(prof, REF, FOODS)
    rec = assessment.recommended_supplement
    assert rec.frequency == "daily" and 25 <= rec.dose_ug <= 100
    assert "VeganHealth" in rec.source and "25–100" in rec.source
    assert absorbed_ug(rec.dose_ug, PARAMS) >= assessment.target.absorbed_ug
    plan = make_plan(replace(prof, include_foods=("tofu_firm_nigari",)), FOODS, week=WEEK,
                     reference=REF)
    assert (plan.supplement.dose_ug, plan.supplement.frequency) == (rec.dose_ug, "daily")


def test_a_child_taking_the_best_dose_for_the_group_is_told_to_keep_it_and_keeps_it():
    # EFSA 11–14 y: 3.5 µg; the children's 15 µg a day is the group's best option
    prof = profile(age_years=12, diet="vegan", guideline="efsa",
                   supplement={"dose_ug": 15, "frequency": "daily"})
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assert plan.assessment.own_supplement_adequate
    assert "vegan_keep_supplement" in plan.assessment.flag("supplement").rule_ids
    assert plan.supplement.kind == "own"


def test_us_targets_keep_the_vegan_society_10_ug():
    rec = assess(profile(diet="vegan"), REF, FOODS).recommended_supplement
    assert (rec.dose_ug, rec.frequency) == (10, "daily")


# ---------------------------------------------------------------------------
# Pregnancy and breastfeeding: a daily regimen by default
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["pregnant", "lactating"])
@pytest.mark.parametrize("guideline", GUIDELINES)
@pytest.mark.parametrize("own", [None, {"dose_ug": 2000, "frequency": "weekly"},
                                 {"dose_ug": 2500, "frequency": "weekly"}])
def test_pregnant_and_breastfeeding_vegans_get_a_daily_regimen(stage, guideline, own):
    prof = profile(age_years=30, sex="female", life_stage=stage, diet="vegan",
                   guideline=guideline, supplement=own)
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assert plan.supplement.frequency == "daily"
    assert plan.assessment.recommended_supplement.frequency == "daily"
    assert not plan.assessment.own_supplement_adequate
    if own is not None:
        assert "daily dose is preferred" in plan.supplement.reason
        rules = {r for f in plan.assessment.flags for r in f.rule_ids}
        assert "vegan_keep_supplement" not in rules


def test_a_pregnant_vegan_taking_enough_daily_keeps_her_supplement():
    prof = profile(age_years=30, sex="female", life_stage="pregnant", diet="vegan",
                   supplement={"dose_ug": 50, "frequency": "daily"})
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    assert plan.assessment.own_supplement_adequate
    assert plan.supplement.kind == "own"


def test_the_about_page_lists_every_bioavailability_row_with_its_source(client):
    page = client.get("/about")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Share of food B12 absorbed, by food group" in html
    for row in TABLE.rows:
        # rendered as /about renders every citation since issue 16 (numbered references)
        assert str(references.cite_html(row.source, numbered=True)) in html
        if row.form == "food_bound":
            assert f"{row.fraction * 100:g} %" in html
    assert "50 % of its share (unconfirmed)" in html  # status words since issue 16
    assert "crohns disease" in html  # no terminal ileum: counted like no intrinsic factor


@pytest.mark.parametrize("fields", [
    {"diet": "vegetarian", "include_foods": ["egg_hard_boiled", "milk_2_percent"]},
    {"age_years": 70, "medications": ["metformin"]},
    {"diet": "pescatarian", "include_foods": ["pollock_alaska_cooked", "tuna_light_canned_water"]},
])
def test_the_optimiser_scores_the_same_absorbed_amounts_the_plan_reports(fields):
    prof = profile(**fields)
    plan = make_plan(prof, FOODS, week=WEEK, reference=REF)
    short = sum(d.food_absorbed_ug < plan.target_absorbed_ug - 1e-9 for d in plan.days)
    assert plan.score.uncovered_days == short
    assert plan.score.intake_ug == pytest.approx(sum(d.food_b12_ug for d in plan.days))
