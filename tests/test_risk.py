"""Risk rules from the documents, the interpreter that applies them, and the assessment."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from planner.data.loader import load_reference
from planner.data.loader import read_toml
from planner.domain.assessment import assess
from planner.domain.labs import parse_lab_table
from planner.domain.model import ALLERGENS
from planner.domain.model import CONDITIONS
from planner.domain.model import DIETS
from planner.domain.model import FREQUENCIES
from planner.domain.model import GUIDELINES
from planner.domain.model import LIFE_STAGES
from planner.domain.model import MEDICATIONS
from planner.domain.model import SEXES
from planner.domain.model import SYMPTOMS
from planner.domain.model import Food
from planner.domain.model import LabResult
from planner.domain.model import Profile
from planner.domain.model import Supplement
from planner.domain.profile import parse_profile
from planner.domain.profile import possible_profile
from planner.domain.reference import ReferenceDataError
from planner.domain.risk import RISK_LEVELS
from planner.domain.risk import parse_policy
from planner.domain.risk import parse_rules
from planner.domain.supplements import choose_supplement

REF = load_reference()
POLICY = REF.risk_policy
RAW_RULES = read_toml("risk_rules.toml")
RULES = {rule.id: rule for rule in REF.rules}
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
NEURO = ("tingling", "numbness", "burning_pain", "balance_problems", "vision_problems",
         "weakness", "memory_problems", "confusion")
ALL_TESTS = ["serum B12 (total B12)", "methylmalonic acid (MMA)", "homocysteine",
             "active B12 (holotranscobalamin, holoTC)"]

FORTIFIED_DRINK = Food(
    food_id="fortified_test_drink", name="Fortified test drink", group="plant_drink",
    b12_ug_per_100g=0.4, serving_g=250, serving_label="1 glass", meals=frozenset({"breakfast"}),
    diets=frozenset(DIETS), allergens=frozenset({"soy"}), fortified=True,
    source="label:test", evidence="label",
)
FOODS = (FORTIFIED_DRINK,)


def flag_of(assessment, code):
    return assessment.flag(code)


def rank(code, level):
    return POLICY.rank(code, level)


# ---------------------------------------------------------------------------
# One case per rule row, built from the row's own `when`
# ---------------------------------------------------------------------------


def _supplement_for(when: dict) -> Supplement | None:
    if when.get("injections") is True:
        return Supplement(dose_ug=None, frequency="injection", every_weeks=12)
    if when.get("minimum_supplement") is True:
        return Supplement(dose_ug=10, frequency="daily")  # meets the minimum
    if when.get("adequate_supplement") is True:
        return Supplement(dose_ug=10, frequency="daily")
    if when.get("supplement") is True:
        return Supplement(dose_ug=1, frequency="daily")  # taken, but below the options
    return None


def profile_for(when: dict) -> Profile:
    """The smallest change to a healthy 30-year-old omnivore that meets ``when``."""
    fields: dict = {"age_years": 30, "diet": "omnivore"}
    for key in ("diet", "sex", "life_stage"):
        if key in when:
            fields[key] = when[key][0]
    for key, field in (("conditions_any", "conditions"), ("medications_any", "medications"),
                       ("symptoms_any", "symptoms")):
        if key in when:
            fields[field] = (when[key][0],)
    if "age_min" in when:
        fields["age_years"] = when["age_min"]
    if "age_under" in when:
        fields["age_years"] = when["age_under"] - 0.5
    if when.get("fortified_foods") is True:
        fields["include_foods"] = (FORTIFIED_DRINK.food_id,)
    if when.get("minimum_supplement") is True and when.get("adequate_supplement") is False:
        fields["guideline"] = "efsa"  # 10 µg a day meets the minimum but not a 4 µg target
    fields.update(_issue14_fields(when, fields))
    return Profile(**fields, supplement=_supplement_for(when))


def _issue14_fields(when: dict, fields: dict) -> dict:
    """Issue 14 keys: a lab result of the named test inside the named band, and so on."""
    fields = dict(fields)
    labs = []
    for key in ("labs_low_any", "labs_borderline_any", "labs_high_any"):
        if key in when:
            test = when[key][0]
            value, unit = LAB_EXAMPLES[(test, key.split("_")[1])]
            labs.append(LabResult(test=test, value=value, unit=unit))
    fields["labs"] = tuple(labs)
    if when.get("symptoms") is True and "symptoms" not in fields:
        fields["symptoms"] = ("fatigue",)
    if "folic_acid_above_ug" in when:
        fields["folic_acid_ug"] = when["folic_acid_above_ug"] + 1
    if "months_without_b12_min" in when:
        fields["months_without_b12"] = int(when["months_without_b12_min"])
    for key in ("feeding", "mother_diet"):
        if key in when:
            fields[key] = when[key][0]
    if "mother_takes_b12" in when:
        fields["mother_takes_b12"] = when["mother_takes_b12"]
    return fields


# A value inside each band of labs.toml, in the unit the lab reports (issue 14).
LAB_EXAMPLES = {
    ("serum_b12", "low"): (100, "pmol/L"), ("serum_b12", "borderline"): (200, "pmol/L"),
    ("holotc", "low"): (10, "pmol/L"), ("holotc", "borderline"): (40, "pmol/L"),
    ("mma", "high"): (500, "nmol/L"), ("homocysteine", "high"): (20, "µmol/L"),
    ("folate", "low"): (2, "ng/mL"),
}


@pytest.mark.parametrize("row", RAW_RULES["rule"], ids=lambda row: row["id"])
def test_each_rule_fires_its_flag_at_its_level_with_its_source(row):
    rule = RULES[row["id"]]
    result = assess(profile_for(row["when"]), REF, FOODS)

    flag = flag_of(result, rule.flag)
    assert flag is not None, f"{rule.id} did not raise {rule.flag}"
    assert rule.id in flag.rule_ids
    assert rank(rule.flag, flag.level) >= rank(rule.flag, rule.level)
    assert set(rule.sources) <= set(flag.sources)
    assert set(rule.reasons) <= set(flag.reasons)


def test_a_healthy_omnivore_fires_no_rule_at_all():
    result = assess(Profile(age_years=30, diet="omnivore"), REF)
    assert result.flags == ()
    assert result.risk_level == "low"
    assert result.recommended_supplement is None
    assert result.intrinsic_factor is True


def test_there_are_rules_for_every_flag_code_and_enough_of_them():
    assert len(REF.rules) >= 30
    assert {r.flag for r in REF.rules} == set(POLICY.flag_order)


@pytest.mark.parametrize(
    ("words", "vocabulary"),
    [("conditions_any", CONDITIONS), ("medications_any", MEDICATIONS), ("symptoms_any", SYMPTOMS)],
)
def test_every_word_of_the_vocabulary_is_used_by_some_rule(words, vocabulary):
    used = {w for rule in REF.rules for key, value in rule.when if key == words for w in value}
    assert used == set(vocabulary)


# ---------------------------------------------------------------------------
# Realistic profiles: the flags each must and must not get
# ---------------------------------------------------------------------------

CASES = [
    # (name, profile fields, must have {code: level}, must not have codes, extra checks)
    ("healthy omnivore 30", {"age_years": 30, "diet": "omnivore"},
     {}, {"malabsorption", "medical_check", "supplement", "differential"}),
    ("vegan 30 without supplement", {"age_years": 30, "diet": "vegan"},
     {"supplement": "essential"}, {"malabsorption", "medical_check"}),
    ("vegan 30 taking 10 ug daily", {"age_years": 30, "diet": "vegan",
                                    "supplement": Supplement(10, "daily")},
     {"supplement": "consider"}, {"medical_check", "malabsorption"}),
    ("vegan 30 taking 250 ug weekly", {"age_years": 30, "diet": "vegan",
                                      "supplement": Supplement(250, "weekly")},
     {"supplement": "advised"}, {"medical_check"}),
    ("vegan 30 with fortified soy drink", {"age_years": 30, "diet": "vegan",
                                          "include_foods": ("fortified_test_drink",)},
     {"supplement": "advised"}, {"medical_check"}),
    ("omnivore 70 on metformin", {"age_years": 70, "diet": "omnivore",
                                  "medications": ("metformin",)},
     {"supplement": "advised", "medical_check": "routine"}, {"malabsorption"}),
    ("vegan 30 with tingling", {"age_years": 30, "diet": "vegan", "symptoms": ("tingling",)},
     {"medical_check": "soon", "supplement": "essential"}, {"malabsorption"}),
    ("omnivore 62 with pernicious anaemia", {"age_years": 62, "diet": "omnivore",
                                            "conditions": ("pernicious_anemia",)},
     {"malabsorption": "advised", "medical_check": "soon"}, {"differential"}),
    ("omnivore 45 with leg pain", {"age_years": 45, "diet": "omnivore",
                                   "symptoms": ("leg_pain",)},
     {"differential": "info", "medical_check": "routine"}, {"supplement", "malabsorption"}),
    ("pregnant vegan 28", {"age_years": 28, "diet": "vegan", "life_stage": "pregnant",
                           "sex": "female", "supplement": Supplement(10, "daily")},
     {"supplement": "essential", "medical_check": "routine"}, {"malabsorption"}),
    ("breastfeeding vegetarian 31 without fortified foods",
     {"age_years": 31, "diet": "vegetarian", "life_stage": "lactating"},
     {"supplement": "advised"}, {"medical_check", "malabsorption"}),
    ("vegetarian 40 with fortified foods", {"age_years": 40, "diet": "vegetarian",
                                            "include_foods": ("fortified_test_drink",)},
     {}, {"supplement", "medical_check", "malabsorption"}),
    ("omnivore 45 on a PPI", {"age_years": 45, "diet": "omnivore", "medications": ("ppi",)},
     {"supplement": "advised", "medical_check": "routine"}, {"malabsorption"}),
    ("omnivore 22 using nitrous oxide", {"age_years": 22, "diet": "omnivore",
                                         "medications": ("nitrous_oxide",)},
     {"medical_check": "soon"}, {"supplement", "malabsorption"}),
    ("omnivore 40 after gastric bypass", {"age_years": 40, "diet": "omnivore",
                                          "conditions": ("gastric_bypass",)},
     {"malabsorption": "advised", "medical_check": "routine"}, {"differential"}),
    ("pescatarian 35 who is tired", {"age_years": 35, "diet": "pescatarian",
                                     "symptoms": ("fatigue",)},
     {"medical_check": "routine"}, {"supplement", "malabsorption"}),
    ("omnivore 50 with sore tongue and low mood", {"age_years": 50, "diet": "omnivore",
                                                   "symptoms": ("sore_tongue", "depression")},
     {"medical_check": "routine"}, {"supplement"}),
    ("vegan child 6 without supplement", {"age_years": 6, "diet": "vegan"},
     {"supplement": "essential"}, {"medical_check"}),
    ("vegan 55 taking 10 ug daily", {"age_years": 55, "diet": "vegan",
                                     "supplement": Supplement(10, "daily")},
     {"supplement": "consider"}, {"medical_check"}),
    ("omnivore 38 with Crohn's disease", {"age_years": 38, "diet": "omnivore",
                                          "conditions": ("crohns_disease",)},
     {"malabsorption": "advised", "medical_check": "routine"}, set()),
]


@pytest.mark.parametrize(("name", "fields", "must", "must_not"), CASES, ids=[c[0] for c in CASES])
def test_realistic_profiles_get_the_flags_they_should(name, fields, must, must_not):
    result = assess(Profile(**fields), REF, FOODS)
    levels = {f.code: f.level for f in result.flags}
    assert {code: levels.get(code) for code in must} == must
    assert not (must_not & set(levels))


def test_vegan_with_tingling_is_sent_to_a_doctor_soon_with_the_four_tests():
    result = assess(Profile(age_years=30, diet="vegan", symptoms=("tingling",)), REF)
    check = result.flag("medical_check")
    assert check.level == "soon"
    assert [t.label for t in check.tests] == ALL_TESTS
    assert result.risk_level == "high"
    assert result.codes[0] == "medical_check"


def test_pernicious_anaemia_means_no_intrinsic_factor_and_a_high_dose_for_the_doctor_to_decide():
    result = assess(Profile(age_years=62, diet="omnivore", conditions=("pernicious_anemia",)), REF)
    assert result.intrinsic_factor is False
    assert result.codes[0] == "malabsorption"
    assert "doctor" in result.flag("malabsorption").advice
    assert "injection" in result.flag("malabsorption").advice
    supplement = result.recommended_supplement
    assert (supplement.dose_ug, supplement.frequency) == (1000, "daily")
    assert "NICE NG239" in supplement.source


@pytest.mark.parametrize("condition", ["pernicious_anemia", "gastric_bypass", "gastrectomy",
                                       "ileal_resection", "crohns_disease"])
def test_conditions_that_remove_intrinsic_factor(condition):
    result = assess(Profile(age_years=50, diet="omnivore", conditions=(condition,)), REF)
    assert result.intrinsic_factor is False


@pytest.mark.parametrize("condition", ["celiac_disease", "atrophic_gastritis"])
def test_conditions_that_keep_intrinsic_factor(condition):
    result = assess(Profile(age_years=50, diet="omnivore", conditions=(condition,)), REF)
    assert result.intrinsic_factor is True


@pytest.mark.parametrize("symptom", ["leg_pain", "joint_pain"])
def test_pain_brings_both_comparison_tables_with_their_seed_sources(symptom):
    result = assess(Profile(age_years=45, diet="omnivore", symptoms=(symptom,)), REF)
    flag = result.flag("differential")
    assert {t.id for t in flag.tables} == {"joint_pain", "achy_legs"}
    data = flag.to_dict()["tables"]
    columns = {c for t in data for c in t["columns"]}
    assert {"Osteoarthritis", "Rheumatoid arthritis", "Sciatica",
            "Peripheral arterial disease (PAD)"} <= columns
    for table in flag.tables:
        assert all(row.source.startswith(("000_", "002_")) for row in table.rows)
        assert all(len(row.cells) == len(table.columns) for row in table.rows)


def test_gastric_bypass_offers_the_nice_dose_first_and_the_asmbs_schedule():
    result = assess(Profile(age_years=40, diet="omnivore", conditions=("gastric_bypass",)), REF)
    options = [o.id for o in result.flag("malabsorption").dose_options]
    assert options == ["malabsorption_oral_high_dose", "after_bariatric_surgery"]


def test_nitrous_oxide_asks_for_homocysteine_first():
    result = assess(Profile(age_years=22, diet="omnivore", medications=("nitrous_oxide",)), REF)
    assert result.flag("medical_check").tests[0].code == "homocysteine"


def test_one_flag_per_code_at_the_highest_level_with_reasons_and_sources_merged():
    profile = Profile(age_years=70, diet="vegan", medications=("metformin", "ppi"),
                      symptoms=("fatigue", "numbness"))
    result = assess(profile, REF)
    codes = [f.code for f in result.flags]
    assert len(codes) == len(set(codes))
    check = result.flag("medical_check")
    assert check.level == "soon"
    assert {"anaemia_signs", "nerve_sensations", "long_term_medicines"} <= set(check.rule_ids)
    assert len(check.reasons) == len(set(check.reasons))
    assert RULES["anaemia_signs"].sources[0] in check.sources
    supplement = result.flag("supplement")
    assert supplement.level == "essential"
    assert {"vegan_without_reliable_source", "over_50", "metformin"} <= set(supplement.rule_ids)


def test_flags_come_medical_first():
    profile = Profile(age_years=60, diet="vegan", conditions=("pernicious_anemia",),
                      symptoms=("leg_pain",))
    # without intrinsic factor no supplement rule speaks (the malabsorption flag does)
    assert assess(profile, REF).codes == ("malabsorption", "medical_check", "differential")
    profile = Profile(age_years=60, diet="vegan", symptoms=("leg_pain", "numbness"))
    assert assess(profile, REF).codes == ("medical_check", "supplement", "differential")


@pytest.mark.parametrize(
    ("fields", "dose_ug", "frequency"),
    [
        ({"age_years": 30, "diet": "vegan"}, 10, "daily"),
        ({"age_years": 70, "diet": "omnivore"}, 10, "daily"),
        ({"age_years": 28, "diet": "vegan", "life_stage": "pregnant"}, 10, "daily"),
        ({"age_years": 2, "diet": "vegan"}, 10, "daily"),
        ({"age_years": 8, "diet": "vegan"}, 15, "daily"),
        ({"age_years": 0.5, "diet": "vegan"}, 0.5, "daily"),  # the infant AI, set by a doctor
        ({"age_years": 40, "diet": "omnivore", "conditions": ("ileal_resection",)}, 1000, "daily"),
    ],
)
def test_recommended_supplement_follows_age_life_stage_and_malabsorption(fields, dose_ug,
                                                                         frequency):
    supplement = assess(Profile(**fields), REF).recommended_supplement
    assert (supplement.dose_ug, supplement.frequency) == (dose_ug, frequency)
    assert supplement.source and supplement.reason


def test_no_recommended_supplement_when_the_supplement_flag_is_only_consider():
    result = assess(Profile(age_years=30, diet="omnivore", medications=("metformin",)), REF)
    assert result.flag("supplement").level == "consider"
    assert result.recommended_supplement is None


def test_choose_supplement_gives_the_plan_builder_a_dose_with_its_reason_and_source():
    profile = Profile(age_years=30, diet="omnivore")
    result = assess(profile, REF)
    chosen = choose_supplement(profile, result, REF, reason="Food alone does not cover the target")
    assert (chosen.dose_ug, chosen.frequency) == (10, "daily")
    assert chosen.reason == "Food alone does not cover the target"
    assert "Vegan Society" in chosen.source
    assert chosen.to_dict()["dose_ug"] == 10


def test_the_unconfirmed_older_adult_high_dose_is_documented_but_never_offered():
    row = next(o for o in REF.supplement_options if o.id == "older_adult_high_dose")
    assert row.status == "U" and row.offer is False
    result = assess(Profile(age_years=80, diet="omnivore"), REF)
    assert "older_adult_high_dose" not in [o.id for o in result.flag("supplement").dose_options]


def test_the_disclaimer_says_this_is_not_medical_advice():
    assert "not medical advice" in assess(Profile(age_years=30, diet="omnivore"), REF).disclaimer


# ---------------------------------------------------------------------------
# Sources and data validation
# ---------------------------------------------------------------------------


ADDED_SOURCES = tomllib.loads(
    (Path(__file__).resolve().parent.parent / "planner" / "data" / "sources.toml")
    .read_text("utf-8"))


def _all_citations():
    for rule in REF.rules:
        yield from rule.sources
    for option in REF.supplement_options:
        yield option.source
    for table in REF.differentials:
        yield table.source
        yield from (row.source for row in table.rows)
    yield from POLICY.no_if_sources


def test_every_rule_supplement_and_table_row_has_a_source():
    for rule in REF.rules:
        assert rule.sources and all(s.strip() for s in rule.sources), rule.id
        assert rule.reasons and rule.advice and rule.title, rule.id
    for option in REF.supplement_options:
        assert option.source.strip(), option.id
    assert REF.supplement_adequacy.source


def test_every_citation_names_a_seed_file_or_the_reference():
    for citation in _all_citations():
        added = re.match(r"^sources\.toml ([a-z0-9_]+):", citation)  # issue 14: added sources
        if added:
            assert added.group(1) in ADDED_SOURCES["source"], citation
            continue
        assert re.match(r"^(00[02]_[0-9a-f]{16}\.txt § |b12-reference\.md §)", citation), citation


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared seed documents are not on this machine")
def test_every_seed_citation_points_at_a_real_section_heading():
    for citation in _all_citations():
        m = re.match(r"^(00[02]_[0-9a-f]{16}\.txt) § (.+)$", citation)
        if m:
            headings = (SEEDS / m.group(1)).read_text(encoding="utf-8").splitlines()
            assert m.group(2) in headings, citation


def _broken(mutate):
    raw = copy.deepcopy(RAW_RULES)
    mutate(raw)
    policy = parse_policy(raw, REF.labs)
    return parse_rules(raw, policy, [t.id for t in REF.differentials])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["rule"][0].update(flag="urgent"),
         "'urgent' is not a flag; choose one of malabsorption, medical_check"),
        (lambda raw: raw["rule"][0].update(level="maybe"),
         "'maybe' is not a supplement level; choose one of consider, advised, essential"),
        (lambda raw: raw["rule"][0].update(source=[]), "source must not be empty"),
        (lambda raw: raw["rule"][0].update(source=[" "]), "source must be a list of non-empty texts"),  # noqa: E501  (a case table reads better one case a line)
        (lambda raw: raw["rule"][0].update(when={"conditions_any": ["scurvy"]}),
         "unknown 'scurvy'; choose from pernicious_anemia"),
        (lambda raw: raw["rule"][0].update(when={"colour": ["blue"]}),
         "unknown condition 'colour'"),
        (lambda raw: raw["rule"][0].update(tests=["x_ray"]), "'x_ray' is not a test"),
        (lambda raw: raw["rule"][0].update(tables=["knees"]), "'knees' is not a differential table"),  # noqa: E501  (a case table reads better one case a line)
        (lambda raw: raw["rule"][1].update(id=raw["rule"][0]["id"]), "is used twice"),
        (lambda raw: raw["intrinsic_factor"].update(lost_with=["scurvy"]), "'scurvy' is not a condition"),  # noqa: E501  (a case table reads better one case a line)
        (lambda raw: raw["flags"]["supplement"]["risk"].update(essential="dire"),
         "'dire' is not a risk level"),
        (lambda raw: raw["policy"].update(tests=["serum_b12", "x_ray"]),
         "'x_ray' is not a lab test of labs.toml; choose one of serum_b12"),
        (lambda raw: raw["policy"].update(tests=[]), "tests must not be empty"),
        (lambda raw: raw["no_animal_sources"].update(vegetarian=["milk", "pollen"]),
         "'pollen' is not a known allergen; choose one of milk"),
        (lambda raw: raw["no_animal_sources"].update(frugivore=["milk"]),
         "'frugivore' is not a diet; choose one of vegan"),
        (lambda raw: raw["no_animal_sources"].update(reason="A vegan diet applies."),
         "[no_animal_sources]: reason must be a sentence holding {allergens} and {diet}"),
        (lambda raw: raw["no_animal_sources"].update(source=[]), "source must not be empty"),
    ],
)
def test_broken_rule_data_is_rejected_with_a_clear_message(mutate, message):
    with pytest.raises(ReferenceDataError, match=re.escape(message)):
        _broken(mutate)


def test_a_flags_tests_are_described_once_in_the_lab_table():
    policy = REF.risk_policy
    assert [t.code for t in policy.tests] == list(RAW_RULES["policy"]["tests"])
    assert all(t is REF.labs.tests[t.code] for t in policy.tests)
    assert "tests" not in RAW_RULES  # no second list of labels beside labs.toml
    flag = assess(Profile(age_years=40, diet="vegan", symptoms=("tingling",)), REF).flag(
        "medical_check")
    assert flag.to_dict()["tests"] == [REF.labs.tests[t.code].label for t in flag.tests]


def test_a_lab_test_without_its_source_is_refused():
    raw = read_toml("labs.toml")
    del raw["tests"]["mma"]["source"]
    with pytest.raises(ReferenceDataError, match=re.escape(
            "labs.toml [tests.mma]: source must be non-empty text")):
        parse_lab_table(raw)


def test_a_new_rule_needs_only_a_new_row():
    raw = copy.deepcopy(RAW_RULES)
    raw["rule"].append({
        "id": "test_only_rule", "when": {"diet": ["pescatarian"], "age_min": 80},
        "flag": "supplement", "level": "consider", "specificity": "general",
        "title": "Test", "advice": "Test.",
        "reasons": ["A test row."], "source": ["b12-reference.md §3 test"],
    })
    policy = parse_policy(raw, REF.labs)
    rules = parse_rules(raw, policy, [t.id for t in REF.differentials])
    ref = type(REF)(**{**REF.__dict__, "rules": rules, "risk_policy": policy})
    assert "test_only_rule" in assess(Profile(age_years=85, diet="pescatarian"), ref).flag(
        "supplement").rule_ids
    assert "test_only_rule" not in assess(Profile(age_years=79, diet="pescatarian"), ref).flag(
        "supplement").rule_ids


# ---------------------------------------------------------------------------
# Properties over any valid profile
# ---------------------------------------------------------------------------

ALLOWED_LEVELS = {code: set(levels) for code, levels in POLICY.levels.items()}
CONTRACT_FLAG_KEYS = {"code", "level", "title", "reasons", "advice", "sources"}


def words(vocabulary):
    return st.lists(st.sampled_from(vocabulary), max_size=4)


profile_data = st.fixed_dictionaries(
    {"age_years": st.one_of(st.integers(0, 120), st.floats(0, 120)),
     "diet": st.sampled_from(DIETS)},
    optional={
        "sex": st.sampled_from(SEXES),
        "life_stage": st.sampled_from(LIFE_STAGES),
        "guideline": st.sampled_from(GUIDELINES),
        "meals_per_day": st.integers(2, 5),
        "accept_supplement": st.booleans(),
        "days": st.integers(1, 14),
        "allergies": words(ALLERGENS),
        "include_foods": st.lists(st.sampled_from(["fortified_test_drink", "apple", "salmon"])),
        "exclude_foods": st.lists(st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True), max_size=3),
        "medications": words(MEDICATIONS),
        "conditions": words(CONDITIONS),
        "symptoms": words(SYMPTOMS),
        "supplement": st.none() | st.fixed_dictionaries({
            "dose_ug": st.floats(0.5, 10_000),
            "frequency": st.sampled_from(FREQUENCIES),
        }),
    },
).filter(possible_profile)  # a pregnant man is refused (issue 12), not assessed


@settings(max_examples=200, deadline=None)
@given(data=profile_data)
def test_any_valid_profile_gets_a_well_formed_assessment(data):
    result = assess(parse_profile(data), REF, FOODS)
    out = json.loads(json.dumps(result.to_dict()))

    assert {"target", "risk_level", "flags", "disclaimer"} <= set(out)
    assert {"guideline", "intake_ug", "absorbed_ug", "basis"} <= set(out["target"])
    assert 0 < out["target"]["absorbed_ug"] <= out["target"]["intake_ug"]
    assert out["risk_level"] in RISK_LEVELS
    assert out["disclaimer"]
    codes = [f["code"] for f in out["flags"]]
    assert codes == [c for c in POLICY.flag_order if c in codes]  # ordered, one per code
    for flag in out["flags"]:
        assert CONTRACT_FLAG_KEYS <= set(flag)
        assert flag["level"] in ALLOWED_LEVELS[flag["code"]]
        assert flag["reasons"] and flag["sources"] and flag["title"] and flag["advice"]
        assert isinstance(flag.get("tests", []), list)
    expected_risk = max((POLICY.risk_by_level[(f["code"], f["level"])] for f in out["flags"]),
                        key=RISK_LEVELS.index, default="low")
    assert out["risk_level"] == expected_risk


@settings(max_examples=200, deadline=None)
@given(data=profile_data, symptom=st.sampled_from(NEURO))
def test_adding_a_nerve_symptom_never_lowers_the_medical_check(data, symptom):
    before = assess(parse_profile(data), REF, FOODS)
    after_data = {**data, "symptoms": [*data.get("symptoms", []), symptom]}
    after = assess(parse_profile(after_data), REF, FOODS)

    old = before.flag("medical_check")
    new = after.flag("medical_check")
    assert new is not None and rank("medical_check", new.level) >= rank("medical_check", "soon")
    if old is not None:
        assert rank("medical_check", new.level) >= rank("medical_check", old.level)
    assert RISK_LEVELS.index(after.risk_level) >= RISK_LEVELS.index(before.risk_level)


# ---------------------------------------------------------------------------
# Allergies that take out every animal food of a diet (risk_rules.toml
# [no_animal_sources]): a dietitian read "Milk, cheese and eggs give some B12"
# in the plan of a vegetarian allergic to milk and egg.


def _supplement_flag(**fields):
    return assess(Profile(**{"age_years": 38, "sex": "female", **fields}), REF).flag("supplement")


@pytest.mark.parametrize(("diet", "allergies"), [
    ("vegetarian", ("milk", "egg")),
    ("vegetarian", ("milk", "egg", "peanut", "gluten")),
    ("pescatarian", ("milk", "egg", "fish", "shellfish")),
])
def test_allergies_that_take_out_every_animal_source_bring_the_vegan_advice(diet, allergies):
    flag = _supplement_flag(diet=diet, allergies=allergies)
    vegan = _supplement_flag(diet="vegan")
    assert flag.level == "essential" == vegan.level
    assert flag.rule_ids == vegan.rule_ids == ("vegan_without_reliable_source",)
    assert flag.reasons[0].startswith("Allergies to ")
    assert f"leave this {diet} diet with no animal food that holds B12" in flag.reasons[0]
    for allergen in REF.risk_policy.no_animal_sources[diet]:
        assert allergen in flag.reasons[0]
    assert flag.reasons[1:] == vegan.reasons
    assert any("b12-reference.md §3 Vegan diet" in s for s in flag.sources)
    # pregnancy: the vegan rule for pregnancy, not the vegetarian one
    pregnant = _supplement_flag(diet=diet, allergies=allergies, life_stage="pregnant")
    assert pregnant.rule_ids == _supplement_flag(diet="vegan", life_stage="pregnant").rule_ids


@pytest.mark.parametrize(("diet", "allergies"), [
    ("vegetarian", ("milk",)),
    ("vegetarian", ("egg", "fish", "shellfish")),
    ("pescatarian", ("milk", "egg")),
    ("omnivore", ("milk", "egg", "fish", "shellfish")),
])
def test_a_diet_with_animal_sources_left_keeps_its_own_advice(diet, allergies):
    flag = _supplement_flag(diet=diet, allergies=allergies)
    plain = _supplement_flag(diet=diet)
    assert (flag and flag.rule_ids) == (plain and plain.rule_ids)
    assert not flag or not flag.reasons[0].startswith("Allergies to ")


# ---------------------------------------------------------------------------
# A formula-fed baby: every infant formula contains B12 (a dietitian read
# "no reliable source without fortified foods or a supplement", level essential,
# and a supplement for a formula-fed vegan 9-month-old).


def _baby(**fields):
    return assess(Profile(**{"age_years": 0.75, "sex": "female", **fields}), REF)


@pytest.mark.parametrize("diet", ["vegan", "vegetarian"])
def test_a_formula_fed_baby_has_a_reliable_source_in_the_formula(diet):
    got = _baby(diet=diet, feeding="formula")
    flag = got.flag("supplement")
    assert flag.level == "consider"
    assert flag.rule_ids == ("formula_fed_baby_on_a_plant_diet",)
    assert "Infant formula contains B12" == flag.title
    assert any("us_cfr_infant_formula" in s for s in flag.sources)
    assert got.recommended_supplement is None


@pytest.mark.parametrize("feeding", ["breast", "mixed", "solids", None])
def test_a_vegan_baby_not_on_formula_alone_still_needs_a_reliable_source(feeding):
    got = _baby(diet="vegan", **({"feeding": feeding} if feeding else {}))
    flag = got.flag("supplement")
    assert flag.level == "essential"
    assert "vegan_child_without_reliable_source" in flag.rule_ids
    assert got.recommended_supplement is not None


def test_formula_keeps_its_own_rule_for_a_vegan_mother():
    flag = _baby(diet="vegan", feeding="formula", mother_diet="vegan").flag("supplement")
    assert flag.rule_ids[0] == "formula_fed_baby_of_vegan_mother"
    assert "formula_fed_baby_on_a_plant_diet" in flag.rule_ids
    assert flag.level == "consider"


def test_a_fortified_food_of_another_market_does_not_soften_the_vegan_flag():
    # the plan does not count a food whose figure holds for another market, so the
    # assessment may not count it as a reliable source either
    from foods.loader import load_foods

    foods = load_foods()
    eu_only = Profile(age_years=34, diet="vegan", guideline="us",
                      include_foods=("soy_drink_fortified_eu",))
    assert not next(f for f in foods if f.food_id == "soy_drink_fortified_eu").sold_in(
        eu_only.market)
    flag = assess(eu_only, REF, foods).flag("supplement")
    assert flag.level == "essential"
    assert flag.rule_ids == ("vegan_without_reliable_source",)
    # sold where the person shops, it counts
    eu = Profile(age_years=34, diet="vegan", guideline="efsa",
                 include_foods=("soy_drink_fortified_eu",))
    assert assess(eu, REF, foods).flag("supplement").rule_ids == ("vegan_fortified_foods_only",)
