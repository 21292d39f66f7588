"""Issue 14: lab results, current treatment, folic acid, a loading phase, the
differential symptoms, more causes and babies' feeding, everywhere."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from mail_support import subscribe_and_confirm

from foods.loader import load_foods
from planner.api import schemas
from planner.commands.assess import assess as assess_cli
from planner.commands.plan import plan as plan_cli
from planner.data.loader import load_reference
from planner.domain.assessment import assess
from planner.domain.model import LAB_UNITS
from planner.domain.model import SYMPTOMS
from planner.domain.model import LabResult
from planner.domain.model import Profile
from planner.domain.planning import make_plan
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.mail import views as subscribe_pages
from planner.pages.forms import profile_from_args

pytest_plugins = ["mail_fixtures"]

REF = load_reference()
FOODS = load_foods()
POLICY = REF.risk_policy
DATA = Path(__file__).resolve().parent.parent / "planner" / "data"
WEEK = "2026-W10"


def reading(test: str, value: float, unit: str, **profile):
    """The assessment's reading of one lab result."""
    data = {"age_years": 40, "diet": "omnivore", **profile,
            "labs": [{"test": test, "value": value, "unit": unit}]}
    return assess(parse_profile(data), REF).labs[0]


def level_of(assessment, code):
    flag = assessment.flag(code)
    return None if flag is None else POLICY.rank(code, flag.level)


# ---------------------------------------------------------------------------
# Every threshold row at its edges, in both unit systems
# ---------------------------------------------------------------------------

# (test, value, unit, status under the default scheme): each edge and the step past it.
DEFAULT_EDGES = [
    # serum B12, NICE NG239: <133 low, 133–258 borderline, >258 normal (180 / 350 ng/L)
    ("serum_b12", 132, "pmol/L", "low"), ("serum_b12", 133, "pmol/L", "borderline"),
    ("serum_b12", 258, "pmol/L", "borderline"), ("serum_b12", 259, "pmol/L", "normal"),
    ("serum_b12", 179, "pg/mL", "low"), ("serum_b12", 180, "pg/mL", "borderline"),
    ("serum_b12", 350, "pg/mL", "borderline"), ("serum_b12", 351, "pg/mL", "normal"),
    ("serum_b12", 179, "ng/L", "low"), ("serum_b12", 180, "ng/L", "borderline"),
    ("serum_b12", 350, "ng/L", "borderline"), ("serum_b12", 351, "ng/L", "normal"),
    # holoTC, NICE NG239: <25 low, 25–70 borderline, >70 normal
    ("holotc", 24, "pmol/L", "low"), ("holotc", 25, "pmol/L", "borderline"),
    ("holotc", 70, "pmol/L", "borderline"), ("holotc", 71, "pmol/L", "normal"),
    # MMA: above about 0.28 µmol/L (280 nmol/L) high
    ("mma", 0.28, "µmol/L", "normal"), ("mma", 0.281, "µmol/L", "high"),
    ("mma", 0.28, "umol/L", "normal"), ("mma", 0.281, "umol/L", "high"),
    ("mma", 280, "nmol/L", "normal"), ("mma", 281, "nmol/L", "high"),
    # homocysteine: above 15 µmol/L high
    ("homocysteine", 15, "µmol/L", "normal"), ("homocysteine", 15.1, "µmol/L", "high"),
    ("homocysteine", 15, "umol/L", "normal"), ("homocysteine", 15.1, "umol/L", "high"),
    # folate, WHO 2012: <6.8 nmol/L (3 ng/mL) low, <10 nmol/L borderline
    ("folate", 6.7, "nmol/L", "low"), ("folate", 6.8, "nmol/L", "borderline"),
    ("folate", 9.9, "nmol/L", "borderline"), ("folate", 10, "nmol/L", "normal"),
    ("folate", 2.9, "ng/mL", "low"), ("folate", 3, "ng/mL", "borderline"),
    ("folate", 4.3, "ng/mL", "borderline"), ("folate", 4.42, "ng/mL", "normal"),
]


@pytest.mark.parametrize(("test", "value", "unit", "status"), DEFAULT_EDGES,
                         ids=lambda v: str(v))
def test_every_threshold_row_at_its_edges(test, value, unit, status):
    result = reading(test, value, unit)

    assert result.status == status
    assert result.scheme.source.startswith(
        ("b12-reference.md §4.2", "sources.toml who_2012_folate"))
    item = result.to_dict()
    assert item["status"] == status and item["source"] == result.scheme.source
    assert item["thresholds"]["bands"] and "vary" in item["note"]


CLASSIC_EDGES = [  # the classic cut-off: ≤148 low, >148 to ≤221 borderline, >221 normal
    (148, "pmol/L", "low"), (149, "pmol/L", "borderline"),
    (221, "pmol/L", "borderline"), (222, "pmol/L", "normal"),
    (200, "pg/mL", "low"), (203, "pg/mL", "borderline"),
    (300, "pg/mL", "borderline"), (302, "pg/mL", "normal"),
]


@pytest.mark.parametrize(("value", "unit", "status"), CLASSIC_EDGES, ids=lambda v: str(v))
def test_the_classic_148_cut_off_is_shown_as_an_alternative(value, unit, status):
    result = reading("serum_b12", value, unit)

    [(scheme, alternative)] = result.alternatives
    assert scheme.id == "classic_148" and alternative == status
    assert result.scheme.id == "nice_ng239"  # NICE NG239 stays the default
    assert result.to_dict()["alternatives"][0]["status"] == status


def test_every_band_of_the_data_file_is_reached_by_an_edge_case():
    raw = tomllib.loads((DATA / "labs.toml").read_text("utf-8"))
    for test, row in raw["tests"].items():
        default = {b["status"] for b in row["scheme"][0]["band"]}
        assert default == {s for t, _, _, s in DEFAULT_EDGES if t == test}, test
        assert set(row["units"]) == {u for t, _, u, _ in DEFAULT_EDGES if t == test}, test
        for scheme in row["scheme"]:
            assert scheme["source"].strip()


@settings(max_examples=200, deadline=None)
@given(value=st.floats(0, 27_000, allow_nan=False))
def test_the_same_result_in_pmol_and_pg_gets_the_same_status(value):
    factor = REF.labs.tests["serum_b12"].units["pg/mL"].factor
    in_pg = reading("serum_b12", value, "pg/mL")
    in_pmol = reading("serum_b12", value * factor, "pmol/L")

    assert in_pg.status == in_pmol.status
    assert in_pg.alternatives == in_pmol.alternatives


# ---------------------------------------------------------------------------
# Every bad lab input: 422 / exit 2 naming labs and the item
# ---------------------------------------------------------------------------

BAD_LABS = {
    "unknown test": ([{"test": "ferritin", "value": 50, "unit": "pmol/L"}], "item 1 test"),
    "unknown unit": ([{"test": "serum_b12", "value": 300, "unit": "mg/dL"}], "item 1 unit"),
    "unit of another test": ([{"test": "holotc", "value": 30, "unit": "nmol/L"}], "item 1 unit"),
    "negative value": ([{"test": "mma", "value": -0.1, "unit": "µmol/L"}], "item 1 value"),
    "impossible value": ([{"test": "serum_b12", "value": 90_000, "unit": "pmol/L"}], "item 1 value"),  # noqa: E501  (a case table reads better one case a line)
    "text value": ([{"test": "folate", "value": "low", "unit": "nmol/L"}], "item 1 value"),
    "boolean value": ([{"test": "folate", "value": True, "unit": "nmol/L"}], "item 1 value"),
    "missing value": ([{"test": "folate", "unit": "nmol/L"}], "item 1 value"),
    "missing unit": ([{"test": "folate", "value": 12}], "item 1 unit"),
    "missing test": ([{"value": 12, "unit": "nmol/L"}], "item 1 test"),
    "bad date": ([{"test": "holotc", "value": 30, "unit": "pmol/L", "date": "2026-02-30"}],
                 "item 1 date"),
    "date in another form": ([{"test": "holotc", "value": 30, "unit": "pmol/L", "date": "5/3/26"}],
                             "item 1 date"),
    "unknown key": ([{"test": "holotc", "value": 30, "unit": "pmol/L", "range": "25-70"}],
                    "item 1 range"),
    "second item wrong": ([{"test": "holotc", "value": 30, "unit": "pmol/L"},
                           {"test": "holotc", "value": 30, "unit": "pg/mL"}], "item 2 unit"),
    "not an object": ([300], "item 1"),
    "not a list": ({"test": "holotc", "value": 30, "unit": "pmol/L"}, "labs: must be a list"),
    "too many": ([{"test": "holotc", "value": 30, "unit": "pmol/L"}] * 31, "at most 30"),
}


@pytest.mark.parametrize("case", BAD_LABS, ids=str)
def test_every_bad_lab_input_is_refused_naming_labs_and_the_item(case):
    labs, words = BAD_LABS[case]
    with pytest.raises(ProfileError) as e:
        parse_profile({"age_years": 40, "diet": "vegan", "labs": labs})

    assert {err["field"] for err in e.value.errors} == {"labs"}
    assert any(words in err["message"] for err in e.value.errors), e.value.errors
    assert all(err["message"].startswith("labs: ") for err in e.value.errors)


@pytest.mark.parametrize("case", BAD_LABS, ids=str)
def test_the_api_answers_422_naming_labs_and_the_item(client, case):
    labs, words = BAD_LABS[case]
    for path in ("/api/v1/assess", f"/api/v1/plan?week={WEEK}"):
        response = client.post(path, json={"age_years": 40, "diet": "vegan", "labs": labs})

        assert response.status_code == 422, response.get_data(as_text=True)
        errors = response.get_json()["errors"]
        assert any(e["field"] == "labs" and words in e["message"] for e in errors), errors


@pytest.mark.parametrize("case", ["unknown unit", "negative value", "impossible value", "bad date"])
def test_the_cli_exits_2_naming_labs_and_the_item(tmp_path, case):
    labs, words = BAD_LABS[case]
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"age_years": 40, "diet": "vegan", "labs": labs}), "utf-8")
    for command in (assess_cli, plan_cli):
        result = CliRunner().invoke(command, [str(path)])

        assert result.exit_code == 2, result.output
        assert "labs: " in result.stderr and words in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(("args", "field"), [
    ({"lab_serum_b12_value": "-3", "lab_serum_b12_unit": "pmol/L"}, "lab_serum_b12_value"),
    ({"lab_serum_b12_value": "200", "lab_serum_b12_unit": "mmol/L"}, "lab_serum_b12_unit"),
    ({"lab_holotc_value": "30", "lab_holotc_unit": "pmol/L", "lab_holotc_date": "2026-13-01"},
     "lab_holotc_date"),
    ({"lab_mma_value": "abc", "lab_mma_unit": "nmol/L"}, "lab_mma_value"),
])
def test_the_form_shows_a_bad_lab_input_next_to_its_field(client, args, field):
    response = client.get("/plan", query_string={"age_years": "40", "diet": "vegan", **args})

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="err-{field}"' in html
    assert re.search(r'<details class="section professional" id="professional" open>', html)


# ---------------------------------------------------------------------------
# The rules: low, borderline, high; a normal result never removes a flag
# ---------------------------------------------------------------------------


def test_a_low_result_is_a_soon_check():
    for test, value in (("serum_b12", 100), ("holotc", 20)):
        lab = {"test": test, "value": value, "unit": "pmol/L"}
        result = assess(parse_profile({"age_years": 40, "diet": "omnivore", "labs": [lab]}), REF)
        flag = result.flag("medical_check")
        assert flag.level == "soon" and "lab_low_b12" in flag.rule_ids


def test_a_high_mma_is_a_soon_check_naming_the_kidneys():
    result = assess(parse_profile({"age_years": 40, "diet": "omnivore",
                                   "labs": [{"test": "mma", "value": 450, "unit": "nmol/L"}]}), REF)
    flag = result.flag("medical_check")
    assert flag.level == "soon" and "lab_high_mma" in flag.rule_ids
    assert "kidney" in " ".join(flag.reasons).lower()


def test_a_borderline_result_with_symptoms_is_soon_and_names_the_second_line_test():
    result = assess(parse_profile({
        "age_years": 40, "diet": "omnivore", "symptoms": ["fatigue"],
        "labs": [{"test": "serum_b12", "value": 250, "unit": "pg/mL"}]}), REF)
    flag = result.flag("medical_check")

    assert flag.level == "soon"
    assert flag.title.startswith("A borderline B12 result with symptoms")
    assert [t.code for t in flag.tests][:2] == ["mma", "holotc"]
    assert "MMA" in flag.advice and "holoTC" in flag.advice and "NICE" in flag.advice


def test_a_borderline_result_without_symptoms_is_routine():
    lab = {"test": "holotc", "value": 40, "unit": "pmol/L"}
    result = assess(parse_profile({"age_years": 40, "diet": "omnivore", "labs": [lab]}), REF)
    flag = result.flag("medical_check")
    assert flag.level == "routine" and flag.rule_ids == ("lab_borderline_without_symptoms",)


def test_a_high_homocysteine_alone_is_routine_and_names_folate_and_kidney_function():
    result = assess(parse_profile({"age_years": 40, "diet": "omnivore", "labs": [
        {"test": "homocysteine", "value": 22, "unit": "µmol/L"}]}), REF)
    flag = result.flag("medical_check")

    assert flag.level == "routine" and flag.rule_ids == ("lab_high_homocysteine",)
    assert "folate" in flag.advice and "kidney" in flag.advice


def test_normal_results_do_not_remove_the_flag_nerve_symptoms_raise():
    base = {"age_years": 40, "diet": "vegan", "symptoms": ["tingling", "chest_pain"]}
    normal = [{"test": "serum_b12", "value": 600, "unit": "pmol/L"},
              {"test": "holotc", "value": 100, "unit": "pmol/L"},
              {"test": "mma", "value": 0.1, "unit": "µmol/L"}]
    without = assess(parse_profile(base), REF)
    with_labs = assess(parse_profile({**base, "labs": normal}), REF)

    assert {r.status for r in with_labs.labs} == {"normal"}
    assert with_labs.flag("medical_check").level == without.flag("medical_check").level == "urgent"
    assert with_labs.codes == without.codes
    assert with_labs.risk_level == without.risk_level


LAB_ITEMS = st.builds(
    lambda test, unit_index, value, date: {
        "test": test, "unit": LAB_UNITS[test][unit_index % len(LAB_UNITS[test])],
        "value": value, **({"date": date} if date else {})},
    st.sampled_from(tuple(LAB_UNITS)), st.integers(0, 2),
    st.floats(0, 450, allow_nan=False), st.sampled_from([None, "2026-03-02"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(symptoms=st.lists(st.sampled_from(SYMPTOMS), max_size=4, unique=True),
       labs=st.lists(LAB_ITEMS, max_size=4),
       diet=st.sampled_from(["vegan", "omnivore"]), age=st.sampled_from([0.5, 30, 70]))
def test_interpretation_never_lowers_a_level_symptoms_raised(symptoms, labs, diet, age):
    base = {"age_years": age, "diet": diet, "symptoms": symptoms}
    without = assess(parse_profile(base), REF)
    with_labs = assess(parse_profile({**base, "labs": labs}), REF)

    for flag in without.flags:
        assert level_of(with_labs, flag.code) >= level_of(without, flag.code), flag.code
        assert set(flag.rule_ids) <= set(with_labs.flag(flag.code).rule_ids)
    assert RISK_ORDER.index(with_labs.risk_level) >= RISK_ORDER.index(without.risk_level)
    assert len(with_labs.labs) == len(labs)


RISK_ORDER = ("low", "moderate", "high")


# ---------------------------------------------------------------------------
# Current treatment, folic acid, loading phase
# ---------------------------------------------------------------------------

INJECTIONS = {"age_years": 60, "diet": "vegan",
              "supplement": {"frequency": "injection", "every_weeks": 12, "dose_ug": 1000}}


def test_on_injections_no_oral_supplement_is_added_and_the_schedule_is_shown():
    profile = parse_profile(INJECTIONS)
    plan = make_plan(profile, FOODS, week=WEEK, reference=REF)

    assert plan.supplement is None
    assert all(day.supplement_ug == 0 for day in plan.days)
    [note] = [n for n in plan.notes if n.startswith("B12 injections")]
    assert "every 12 week(s)" in note and "1000 µg" in note
    assert "doctor's" in note and "Food still matters" in note
    assert plan.assessment.flag("supplement").title == "Keep to your injection schedule"
    assert plan.assessment.recommended_supplement is None
    # pernicious anaemia on injections: the doctor's treatment, nothing added by mouth
    pa = assess(parse_profile({**INJECTIONS, "conditions": ["pernicious_anemia"]}), REF, FOODS)
    assert pa.recommended_supplement is None and pa.flag("malabsorption") is not None
    # the same vegan without injections gets a supplement added
    assert make_plan(parse_profile({"age_years": 60, "diet": "vegan"}), FOODS, week=WEEK,
                     reference=REF).supplement is not None


@pytest.mark.parametrize(("supplement", "words"), [
    ({"frequency": "injection"}, "supplement.every_weeks: is required"),
    ({"frequency": "injection", "every_weeks": 0}, "supplement.every_weeks: must be a whole number"),  # noqa: E501  (a case table reads better one case a line)
    ({"frequency": "injection", "every_weeks": 2.5}, "supplement.every_weeks: must be a whole number"),  # noqa: E501  (a case table reads better one case a line)
    ({"frequency": "daily", "dose_ug": 10, "every_weeks": 4}, "only for frequency 'injection'"),
    ({"frequency": "monthly", "dose_ug": 10}, "choose one of daily, weekly, injection"),
])
def test_injection_input_is_checked(supplement, words):
    with pytest.raises(ProfileError) as e:
        parse_profile({"age_years": 60, "diet": "vegan", "supplement": supplement})
    assert any(words in err["message"] for err in e.value.errors), e.value.errors


@pytest.mark.parametrize(("amount", "fires"), [(1000, False), (1000.5, True), (5000, True)])
def test_folic_acid_above_1000_ug_raises_the_masking_flag(amount, fires):
    result = assess(
        parse_profile({"age_years": 40, "diet": "omnivore", "folic_acid_ug": amount}), REF)
    flag = result.flag("medical_check")
    assert (flag is not None and "folic_acid_high_dose" in flag.rule_ids) is fires
    if fires:
        assert "mask" in " ".join(flag.reasons) and "prescribed" in flag.advice
        assert any("§5.3" in s for s in flag.sources)


@pytest.mark.parametrize(("months", "diet", "fires"), [
    (6, "vegan", True), (24, "vegan", True), (5, "vegan", False), (12, "vegetarian", False)])
def test_a_loading_phase_is_offered_first_after_6_months_without_b12(months, diet, fires):
    result = assess(
        parse_profile({"age_years": 30, "diet": diet, "months_without_b12": months}), REF)
    flag = result.flag("supplement")
    options = [o.to_dict() for o in flag.dose_options]
    assert (options[0]["id"] == "loading_2000_daily_2_weeks") is fires
    if fires:
        assert options[0]["dose_ug"] == 2000 and options[0]["frequency"] == "daily"
        assert "2 weeks" in options[0]["label"] and len(options) > 1  # then maintenance
        assert any("VeganHealth" in s and "§5.1" in s for s in flag.sources)


# ---------------------------------------------------------------------------
# Differential symptoms and more causes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("symptom", "table", "condition", "seed"), [
    ("pain_when_walking", "achy_legs", "peripheral arterial disease", "002_1bd04e5ff2319d44.txt"),
    ("morning_stiffness", "joint_pain", "rheumatoid arthritis", "000_d2b027377990eb53.txt"),
    ("joint_swelling", "joint_pain", "rheumatoid arthritis", "000_d2b027377990eb53.txt"),
])
def test_a_differential_symptom_puts_its_rows_first_and_says_where_it_points(
        symptom, table, condition, seed):
    result = assess(parse_profile({"age_years": 55, "diet": "omnivore",
                                   "symptoms": ["leg_pain", "joint_pain", symptom]}), REF)
    flag = result.flag("differential")

    first = flag.tables[0]
    assert first.id == table
    matched = [r for r in first.rows if r.matches]
    assert matched and first.rows[:len(matched)] == tuple(matched)
    assert all(symptom in r.matches for r in matched)
    assert condition in flag.reasons[0] and "doctor's examination decides" in flag.reasons[0]
    assert any(s.startswith(seed) for s in flag.sources)
    assert flag.to_dict()["pointers"][0]["symptom"] == symptom


def test_without_a_differential_symptom_the_tables_keep_their_order():
    result = assess(
        parse_profile({"age_years": 55, "diet": "omnivore", "symptoms": ["leg_pain"]}), REF)
    flag = result.flag("differential")
    assert ([r.feature for r in flag.tables[0].rows]
            == [r.feature for r in REF.differentials[1].rows])
    assert not any(r.matches for t in flag.tables for r in t.rows)


def test_saddle_numbness_is_urgent():
    result = assess(parse_profile({"age_years": 45, "diet": "omnivore",
                                   "symptoms": ["saddle_numbness", "leg_pain"]}), REF)
    flag = result.flag("medical_check")
    assert flag.level == "urgent" and "saddle_numbness" in flag.rule_ids
    assert flag.title.startswith("Now") and "emergency" in flag.advice
    assert result.risk_level == "high"


@pytest.mark.parametrize(("condition", "flag", "source"), [
    ("h_pylori", "supplement", "b12-reference.md §3 Atrophic gastritis, H. pylori"),
    ("pancreatic_insufficiency", "supplement", "b12-reference.md §3 Atrophic gastritis, H. pylori"),
    ("sleeve_gastrectomy", "malabsorption", "ASMBS"),
    ("type1_diabetes", "medical_check", "NICE via Pulse"),
    ("autoimmune_thyroid", "medical_check", "NICE via Pulse"),
])
def test_more_causes_each_raise_their_flag_with_a_source(condition, flag, source):
    result = assess(
        parse_profile({"age_years": 40, "diet": "omnivore", "conditions": [condition]}), REF)
    raised = result.flag(flag)
    assert raised is not None
    assert any(source in s for s in raised.sources)


# ---------------------------------------------------------------------------
# Babies' feeding
# ---------------------------------------------------------------------------

BABY = {"age_years": 0.4, "diet": "vegan", "feeding": "breast", "mother_diet": "vegan",
        "mother_takes_b12": False}


@pytest.mark.parametrize("takes", [False, None])
def test_a_breastfed_baby_of_a_vegan_mother_without_b12(takes):
    data = {**BABY, "mother_takes_b12": takes}
    if takes is None:
        del data["mother_takes_b12"]
    result = assess(parse_profile(data), REF)

    supplement, check = result.flag("supplement"), result.flag("medical_check")
    assert "breastfed_baby_of_vegan_mother_without_b12" in supplement.rule_ids
    assert supplement.title == "The baby needs B12, and so does the mother"
    assert "mother should take B12" in supplement.advice
    assert POLICY.rank("medical_check", check.level) >= POLICY.rank("medical_check", "soon")
    assert "baby's doctor" in check.advice


@pytest.mark.parametrize("field", ["feeding", "mother_diet", "mother_takes_b12"])
def test_baby_fields_are_refused_for_an_adult_with_422(client, field):
    data = {"age_years": 30, "diet": "vegan", field: BABY[field]}
    with pytest.raises(ProfileError) as e:
        parse_profile(data)
    assert e.value.errors[0]["field"] == field and "under 3 years" in e.value.errors[0]["message"]
    response = client.post("/api/v1/assess", json=data)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field
    assert parse_profile({**data, "age_years": 2.5})  # a toddler still breastfed is fine


def test_a_mother_who_takes_b12_or_formula_feeding_lowers_the_risk():
    taking = assess(parse_profile({**BABY, "mother_takes_b12": True}), REF)
    assert "breastfed_baby_of_vegan_mother_without_b12" not in taking.flag("supplement").rule_ids
    formula = assess(parse_profile({**BABY, "feeding": "formula"}), REF)
    voices = {v.id: v for v in formula.flag("supplement").voices}
    assert "formula_fed_baby_of_vegan_mother" in voices
    assert "lower risk" in voices["formula_fed_baby_of_vegan_mother"].advice
    assert "breastfed_baby_of_vegan_mother_check" not in (
        formula.flag("medical_check").rule_ids if formula.flag("medical_check") else ())


# ---------------------------------------------------------------------------
# Everywhere: API (and its OpenAPI document), form, CLI, subscription, handout
# ---------------------------------------------------------------------------

FULL = {
    "age_years": 45, "diet": "vegan", "symptoms": ["pain_when_walking", "tingling"],
    "conditions": ["h_pylori"], "folic_acid_ug": 5000, "months_without_b12": 8,
    "labs": [{"test": "serum_b12", "value": 180, "unit": "pg/mL", "date": "2026-02-10"},
             {"test": "mma", "value": 350, "unit": "nmol/L", "date": "2026-02-10"}],
}
FORM_ARGS = {
    "age_years": "45", "diet": "vegan", "symptoms": ["pain_when_walking", "tingling"],
    "conditions": "h_pylori", "folic_acid_ug": "5000", "months_without_b12": "8",
    "lab_serum_b12_value": "180", "lab_serum_b12_unit": "pg/mL", "lab_serum_b12_date": "2026-02-10",
    "lab_mma_value": "350", "lab_mma_unit": "nmol/L", "lab_mma_date": "2026-02-10",
    "lab_holotc_unit": "pmol/L",  # a select with no value next to it: not a result
}


def check_full(assessment: dict):
    labs = {lab["test"]: lab for lab in assessment["labs"]}
    assert labs["serum_b12"]["status"] == "borderline" and labs["serum_b12"]["date"] == "2026-02-10"
    assert labs["mma"]["status"] == "high"
    rules = {r for f in assessment["flags"] for r in f["rules"]}
    assert {"lab_high_mma", "lab_borderline_serum_b12_with_symptoms", "folic_acid_high_dose",
            "vegan_long_without_b12", "poor_release_from_food", "walking_pain_comparison"} <= rules


def test_every_new_field_through_the_api_validates_against_openapi(client):
    response = client.post("/api/v1/assess", json=FULL)
    assert response.status_code == 200
    schemas.Assessment.model_validate_json(response.data, strict=True)
    check_full(response.get_json())

    plan = client.post(f"/api/v1/plan?week={WEEK}", json={**FULL, **{
        "supplement": {"frequency": "injection", "every_weeks": 8}}})
    assert plan.status_code == 200
    schemas.Plan.model_validate_json(plan.data, strict=True)
    body = plan.get_json()
    assert body["supplement"] is None
    assert body["profile"]["supplement"] == {
        "dose_ug": None, "frequency": "injection", "every_weeks": 8}
    assert body["profile"]["labs"][0] == FULL["labs"][0]
    assert any(n.startswith("B12 injections") for n in body["notes"])

    baby = client.post("/api/v1/assess", json=BABY)
    schemas.Assessment.model_validate_json(baby.data, strict=True)
    schemas.Profile.model_validate({**FULL, **BABY})


def test_the_openapi_document_describes_the_new_fields(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    props = doc["components"]["schemas"]["Profile"]["properties"]
    assert {"labs", "folic_acid_ug", "months_without_b12", "feeding", "mother_diet",
            "mother_takes_b12"} <= set(props)
    text = json.dumps(doc)
    for word in ("injection", "every_weeks", "serum_b12", "pg/mL", "borderline", "saddle_numbness",
                 "h_pylori"):
        assert word in text, word


def test_every_new_field_through_the_form(client):
    response = client.get("/plan", query_string={**FORM_ARGS, "week": WEEK})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Lab results" in html and "2026-02-10" in html and "Borderline" in html
    assert "High-dose folic acid can hide low B12" in html
    assert "In the comparison below" in html
    assert '<tr class="matched"><th scope="row">What it feels like <span class="match">' in html

    injected = client.get("/plan", query_string={
        "age_years": "60", "diet": "vegan", "supplement_frequency": "injection",
        "supplement_every_weeks": "12", "week": WEEK}).get_data(as_text=True)
    assert "injections every 12 week(s)" in injected
    baby = client.get("/plan", query_string={
        "age_years": "0.4", "diet": "vegan", "feeding": "breast", "mother_diet": "vegan",
        "mother_takes_b12": "false", "week": WEEK}).get_data(as_text=True)
    assert "The baby needs B12, and so does the mother" in baby


def test_the_professional_section_is_folded_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<details class="section professional" id="professional">' in html
    assert "<summary>For health professionals</summary>" in html
    for name in ("lab_serum_b12_value", "lab_mma_unit", "lab_folate_date", "folic_acid_ug",
                 "months_without_b12", "feeding", "mother_diet", "mother_takes_b12",
                 "supplement_every_weeks"):
        assert f'name="{name}"' in html, name


def test_form_and_json_give_the_same_profile(app):
    with app.test_request_context():
        from werkzeug.datastructures import MultiDict
        args = MultiDict()
        for key, value in FORM_ARGS.items():
            for item in value if isinstance(value, list) else [value]:
                args.add(key, item)
        assert profile_from_args(args) == parse_profile(FULL)


def test_every_new_field_through_the_cli(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(FULL), "utf-8")
    result = CliRunner().invoke(assess_cli, [str(path)])
    assert result.exit_code == 0, result.output
    check_full(json.loads(result.stdout))

    text = CliRunner().invoke(assess_cli, [str(path), "--format", "text"]).stdout
    assert "Lab results:" in text and "BORDERLINE" in text and "2026-02-10" in text
    assert "Reference ranges vary" in text

    path.write_text(json.dumps(
        {**FULL, "supplement": {"frequency": "injection", "every_weeks": 4}}))
    plan = CliRunner().invoke(plan_cli, [str(path), "--week", WEEK, "--format", "text"])
    assert plan.exit_code == 0, plan.output
    assert "B12 injections: every 4 week(s)" in plan.stdout and "Lab results:" in plan.stdout


def test_the_baby_fields_through_the_cli(tmp_path):
    path = tmp_path / "baby.json"
    path.write_text(json.dumps(BABY), "utf-8")
    out = json.loads(CliRunner().invoke(assess_cli, [str(path)]).stdout)
    rules = {r for f in out["flags"] for r in f["rules"]}
    assert {"breastfed_baby_of_vegan_mother_without_b12",
            "breastfed_baby_of_vegan_mother_check"} <= rules
    path.write_text(json.dumps({**BABY, "feeding": "formula"}), "utf-8")
    text = CliRunner().invoke(assess_cli, [str(path), "--format", "text"]).stdout
    assert "Infant formula contains B12" in text and "lower" in text


def test_the_subscription_profile_keeps_every_new_field(app):
    profile = parse_profile({**FULL, **BABY, "age_years": 0.8,
                             "supplement": {"frequency": "injection", "every_weeks": 12}})
    args = subscribe_pages.profile_args(json.loads(json.dumps(profile.to_dict())))
    with app.test_request_context():
        assert profile_from_args(args) == profile
    assert parse_profile(profile.to_dict()) == profile


def test_a_subscriber_with_labs_is_stored_and_mailed(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "dietitian@example.org",
                          lab_serum_b12_value="120", lab_serum_b12_unit="pmol/L",
                          lab_serum_b12_date="2026-01-15", folic_acid_ug="2000")
    from test_mail_subscribers import profile_of
    stored = profile_of(mail_app, "dietitian@example.org")
    assert stored["labs"] == [{"test": "serum_b12", "value": 120.0, "unit": "pmol/L",
                               "date": "2026-01-15"}]
    assert stored["folic_acid_ug"] == 2000


def test_the_handout_shows_a_small_dated_lab_table(client):
    from urllib.parse import urlencode
    query = urlencode({**FORM_ARGS, "week": WEEK}, doseq=True)
    html = client.get(f"/plan/handout?{query}").get_data(as_text=True)
    start = html.index('<section class="labs"')
    table = html[start:html.index("</section>", start)]
    assert "2026-02-10" in table
    assert "<strong>Borderline</strong>" in table and "<strong>High</strong>" in table
    assert "180 pg/mL" in table and "350 nmol/L" in table
    assert "Reference ranges vary" in table


def test_a_profile_without_the_new_fields_keeps_its_plan_seed():
    from planner.domain.planning import profile_json
    data = json.loads(profile_json(Profile(age_years=30, diet="vegan")))
    assert not {"labs", "folic_acid_ug", "months_without_b12", "feeding", "mother_diet",
                "mother_takes_b12"} & set(data)


def test_lab_results_are_data_with_sources():
    for test in REF.labs.tests.values():
        for unit in test.units.values():
            assert unit.source.strip()
        for scheme in test.schemes:
            assert scheme.source.startswith(("b12-reference.md §4.2", "sources.toml "))
    added = tomllib.loads((DATA / "sources.toml").read_text("utf-8"))["source"]
    for entry in added.values():
        assert entry["title"] and entry["reference"] and entry["status"] in ("P", "S", "U")
    assert LabResult("holotc", 30, "pmol/L").to_dict() == {"test": "holotc", "value": 30,
                                                            "unit": "pmol/L"}
