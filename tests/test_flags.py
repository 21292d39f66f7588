"""Issue 12, flags: never lost on a refused plan, every rule's own voice, pernicious
anaemia with nerve symptoms, red flags, impossible profiles, and two wording fixes."""

from __future__ import annotations

import copy
import html
import json

import pytest
from click.testing import CliRunner

from foods.loader import load_foods
from planner.api import schemas
from planner.commands.assess import assess as assess_command
from planner.commands.plan import plan as plan_command
from planner.data.loader import load_reference
from planner.data.loader import read_toml
from planner.domain.assessment import assess
from planner.domain.model import SYMPTOMS
from planner.domain.model import Profile
from planner.domain.model import Supplement
from planner.domain.planning import make_plan
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.domain.reference import ReferenceDataError
from planner.domain.risk import parse_policy
from planner.domain.risk import parse_rules

REF = load_reference()
RAW_RULES = read_toml("risk_rules.toml")
RULES = {r.id: r for r in REF.rules}
WEEK = "2025-W07"
TABLE = load_foods()

# Pernicious anaemia with numbness, refusing supplements: no plan can be made (issue 12).
REFUSED = {"age_years": 58, "diet": "omnivore", "conditions": ["pernicious_anemia"],
           "symptoms": ["numbness"], "accept_supplement": False}
NERVE_SYMPTOMS = ("tingling", "numbness", "burning_pain", "weakness", "balance_problems",
                  "vision_problems", "memory_problems", "confusion")


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def query(profile: dict) -> list[tuple[str, str]]:
    """A profile as the form's query arguments (lists as repeated keys)."""
    args = []
    for key, value in profile.items():
        for item in value if isinstance(value, list) else [value]:
            args.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return args


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def with_rules(raw: dict):
    """A reference whose risk rules come from ``raw`` (a changed copy of the data file)."""
    policy = parse_policy(raw, REF.labs)
    rules = parse_rules(raw, policy, [t.id for t in REF.differentials])
    return type(REF)(**{**REF.__dict__, "rules": rules, "risk_policy": policy})


# ---------------------------------------------------------------------------
# 2. Flags are never lost when no plan can be made
# ---------------------------------------------------------------------------


def test_the_422_json_carries_the_full_assessment_with_every_flag(client):
    expected = post(client, "/api/v1/assess", REFUSED).get_json()
    response = post(client, f"/api/v1/plan?week={WEEK}", REFUSED)

    assert response.status_code == 422
    body = response.get_json()
    schemas.Error.model_validate_json(response.get_data())
    assert body["errors"][0]["field"] == "accept_supplement"
    assert body["assessment"] == expected
    codes = [f["code"] for f in body["assessment"]["flags"]]
    assert codes == [f["code"] for f in expected["flags"]]
    assert {"malabsorption", "medical_check"} <= set(codes)
    check = next(f for f in body["assessment"]["flags"] if f["code"] == "medical_check")
    assert check["level"] == "soon"
    assert "nerve_sensations" in check["rules"]


def test_the_422_explanation_fits_a_person_without_intrinsic_factor(client):
    body = post(client, f"/api/v1/plan?week={WEEK}", REFUSED).get_json()
    assert "add foods with B12" not in body["error"]
    assert "will not help" in body["error"]
    assert "doctor's decision" in body["error"]


def test_a_refusal_the_gut_can_fix_still_suggests_foods(client):
    """With intrinsic factor, more B12 food can help, and the message still says so."""
    vegan = {"age_years": 30, "diet": "vegan", "include_foods": ["tofu_firm_nigari", "tempeh"],
             "accept_supplement": False}
    response = post(client, f"/api/v1/plan?week={WEEK}", vegan)
    assert response.status_code == 422
    body = response.get_json()
    assert "add foods with B12" in body["error"]
    assert body["assessment"]["flags"][0]["code"] == "supplement"


def test_errors_without_an_assessment_keep_the_plain_error_shape(client):
    response = post(client, f"/api/v1/plan?week={WEEK}",
                    {"age_years": 30, "diet": "vegan", "include_foods": ["moon_cheese"]})
    assert response.status_code == 422
    assert "assessment" not in response.get_json()


def assert_every_flag_above_the_explanation(text: str, assessment: dict) -> None:
    explanation = text.index("Why no plan could be made")
    for flag in assessment["flags"]:
        for words in (flag["title"], flag["advice"], *flag["reasons"]):
            assert words in text, words
            assert text.index(words) < explanation, words
        for rule in flag["rule_details"]:
            assert rule["advice"] in text, rule["id"]
    assert "add foods with B12" not in text
    assert "doctor's decision" in text[explanation:]


def test_the_422_page_shows_every_flag_above_the_explanation(client):
    assessment = post(client, "/api/v1/assess", REFUSED).get_json()
    response = client.get("/plan", query_string=query({**REFUSED, "week": WEEK}))

    assert response.status_code == 422
    assert_every_flag_above_the_explanation(page_text(response), assessment)


def test_the_422_handout_page_shows_every_flag_above_the_explanation(client):
    assessment = post(client, "/api/v1/assess", REFUSED).get_json()
    response = client.get("/plan/handout", query_string=query({**REFUSED, "week": WEEK}))

    assert response.status_code == 422
    assert_every_flag_above_the_explanation(page_text(response), assessment)


def test_the_plan_command_prints_every_flag_before_the_error(tmp_path):
    path = tmp_path / "refused.json"
    path.write_text(json.dumps(REFUSED), encoding="utf-8")
    result = CliRunner().invoke(plan_command, [str(path), "--week", WEEK])

    assert result.exit_code == 2
    err = result.stderr
    error_line = err.index("error: accept_supplement:")
    for flag in assess(parse_profile(REFUSED), REF).flags:
        assert flag.title in err
        assert err.index(flag.title) < error_line
    assert "add foods with B12" not in err


# ---------------------------------------------------------------------------
# 3. Merged flags keep each rule's voice; the most specific rule speaks first
# ---------------------------------------------------------------------------


def test_an_infant_with_weakness_gets_the_infant_advice_and_keeps_the_general_one():
    flag = assess(Profile(age_years=0.75, diet="omnivore", symptoms=("weakness",)),
                  REF).flag("medical_check")
    infant, general = RULES["symptoms_in_infancy"], RULES["balance_or_weakness"]

    assert (flag.title, flag.advice) == (infant.title, infant.advice)
    assert "poor feeding" in flag.advice and "poor growth" in flag.advice
    details = flag.to_dict()["rule_details"]
    assert [d["id"] for d in details] == ["symptoms_in_infancy", "balance_or_weakness"]
    assert details[1]["advice"] == general.advice
    assert details[1]["reasons"] == list(general.reasons)
    assert details[1]["sources"] == list(general.sources)
    assert flag.to_dict()["rules"] == ["balance_or_weakness", "symptoms_in_infancy"]


def test_a_pregnant_vegan_with_tingling_hears_the_pregnancy_rule_first():
    result = assess(Profile(age_years=30, sex="female", life_stage="pregnant", diet="vegan",
                            symptoms=("tingling",)), REF)
    check = result.flag("medical_check")
    assert check.title == RULES["symptoms_in_pregnancy_or_breastfeeding"].title
    assert check.level == "soon"
    assert [v.id for v in check.voices][1:] == ["nerve_sensations", "plant_based_pregnancy_check"]
    supplement = result.flag("supplement")
    assert supplement.title == RULES["vegan_pregnancy_or_breastfeeding"].title
    # the adult rule's options (a weekly 2000 µg among them) are not for pregnancy
    assert [v.id for v in supplement.voices] == ["vegan_pregnancy_or_breastfeeding"]


PREGNANT_OR_BREASTFEEDING = [
    {"age_years": 30, "sex": "female", "life_stage": stage, "diet": diet, **extra}
    for stage in ("pregnant", "lactating") for diet in ("vegan", "vegetarian")
    for extra in ({}, {"include_foods": ["soy_drink_fortified_unsweetened"]})]


@pytest.mark.parametrize("fields", PREGNANT_OR_BREASTFEEDING,
                         ids=lambda f: "-".join(str(v) for v in f.values()))
def test_pregnancy_and_breastfeeding_hear_no_weekly_dose(fields):
    """§5.1: a daily regimen in pregnancy and breastfeeding. No rule behind the
    supplement flag offers the adult weekly dose, and the level is not softened."""
    profile = parse_profile(fields)
    flag = assess(profile, REF).flag("supplement")
    assert "2000 µg" not in _said(flag) and "week" not in flag.advice.replace(
        "a weekly dose at this time", "")
    assert flag.level == {"vegan": "essential", "vegetarian": "advised"}[fields["diet"]]


def test_breastfeeding_advice_and_plan_agree_on_a_10_microgram_supplement():
    """The plan replaces a 10 µg daily supplement that does not reach the breastfeeding
    target; the flag says a higher daily dose may be needed, not that 10 µg is enough."""
    profile = parse_profile({"age_years": 30, "sex": "female", "life_stage": "lactating",
                             "diet": "vegan",
                             "supplement": {"dose_ug": 10, "frequency": "daily"}})
    flag = assess(profile, REF).flag("supplement")
    plan = make_plan(profile, TABLE, week=WEEK, reference=REF)
    assert plan.supplement.dose_ug > 10 and "replaces" in plan.supplement.reason
    assert "the higher daily dose this plan recommends" in flag.advice


ADULT_DOSES = ("2000 µg once a week", "2000 µg a week", "at least 10 µg every day",
               "10 µg a day")
CHILDREN = [(age, diet, foods) for age in (0.5, 0.75, 2, 3, 8, 13.9)
            for diet, foods in (("vegan", ()), ("vegan", ("soy_drink_fortified_unsweetened",)),
                                ("vegetarian", ()))]
LOW_SUPPLEMENTS = [(0.75, 0.2), (0.75, 0.4), (3, 0.4), (3, 5), (8, 0.4), (8, 5)]


def _said(flag) -> str:
    """Everything a flag says in words (not its sources): its title, advice and
    reasons, and every rule's own, as the pages show them."""
    data = flag.to_dict()
    voices = [data, *data["rule_details"]]
    return " ".join(" ".join([v["title"], v["advice"], *v["reasons"]]) for v in voices)


@pytest.mark.parametrize(("age", "diet", "foods"), CHILDREN)
def test_a_child_hears_a_childs_dose_not_an_adults(age, diet, foods):
    """Under 14 (the supplement groups' children), the diet's supplement flag speaks of
    a daily dose for the child's age; no rule behind it quotes the adult options."""
    profile = Profile(age_years=age, diet=diet, include_foods=foods)
    flag = assess(profile, REF).flag("supplement")
    said = _said(flag)
    assert not [d for d in ADULT_DOSES if d in said.replace(
        "The adult options, such as 2000 µg once a week, are not meant for children.", "")]
    assert all(RULES[rule].specificity == "child" for rule in flag.rule_ids), flag.rule_ids
    assert "dose for the child's age" in flag.advice


@pytest.mark.parametrize(("age", "dose"), LOW_SUPPLEMENTS)
def test_a_child_on_a_low_supplement_hears_a_childs_dose(age, dose):
    profile = Profile(age_years=age, diet="vegan", supplement=Supplement(dose, "daily"))
    flag = assess(profile, REF).flag("supplement")
    assert flag.rule_ids == ("vegan_child_supplement_below_dose",)
    said = _said(flag).replace(
        "The adult options, such as 2000 µg once a week, are not meant for children.", "")
    assert not [d for d in ADULT_DOSES if d in said]


@pytest.mark.parametrize("age", [14, 30, 70])
def test_from_14_the_vegan_society_options_speak(age):
    flag = assess(Profile(age_years=age, diet="vegan"), REF).flag("supplement")
    assert flag.advice == RULES["vegan_without_reliable_source"].advice
    assert "2000 µg once a week" in flag.advice


def test_the_child_rules_keep_the_adult_rules_level():
    for child, adult in (("vegan_child_without_reliable_source", "vegan_without_reliable_source"),
                         ("vegan_child_fortified_foods_only", "vegan_fortified_foods_only"),
                         ("vegetarian_child_without_reliable_source",
                          "vegetarian_without_reliable_source")):
        assert (RULES[child].flag, RULES[child].level) == (RULES[adult].flag, RULES[adult].level)


def test_specificity_is_read_from_the_data_not_from_the_file_order():
    infant = Profile(age_years=0.75, diet="omnivore", symptoms=("weakness",))
    raw = copy.deepcopy(RAW_RULES)
    raw["rule"].reverse()
    assert assess(infant, with_rules(raw)).flag("medical_check").title == \
        RULES["symptoms_in_infancy"].title

    raw = copy.deepcopy(RAW_RULES)
    for row in raw["rule"]:
        if row["id"] == "symptoms_in_infancy":
            row["specificity"] = "general"
        if row["id"] == "balance_or_weakness":
            row["specificity"] = "infant"
    assert assess(infant, with_rules(raw)).flag("medical_check").title == \
        RULES["balance_or_weakness"].title


def test_every_rule_row_names_a_known_specificity():
    for row in RAW_RULES["rule"]:
        assert row["specificity"] in REF.risk_policy.specificity, row["id"]
    raw = copy.deepcopy(RAW_RULES)
    del raw["rule"][0]["specificity"]
    with pytest.raises(ReferenceDataError, match="is not a specificity; choose one of general"):
        with_rules(raw)


def test_a_more_specific_rule_never_softens_the_level():
    check = assess(Profile(age_years=30, sex="female", life_stage="pregnant", diet="omnivore",
                           symptoms=("chest_pain", "fatigue")), REF).flag("medical_check")
    assert check.level == "urgent"
    assert check.title == RULES["red_flags_in_pregnancy_or_breastfeeding"].title
    assert check.voices[0].level == "urgent"


PREGNANT_TINGLING = {"age_years": 30, "sex": "female", "life_stage": "pregnant",
                     "diet": "vegan", "symptoms": ["tingling"]}


def test_the_plan_page_and_handout_show_every_rule_advice(client):
    nerve = RULES["nerve_sensations"]
    for path in ("/plan", "/plan/handout"):
        response = client.get(path, query_string=query({**PREGNANT_TINGLING, "week": WEEK}))
        assert response.status_code == 200, path
        text = page_text(response)
        assert RULES["symptoms_in_pregnancy_or_breastfeeding"].advice in text
        assert nerve.title in text and nerve.advice in text, path


def test_the_assess_command_shows_every_rule_advice(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(PREGNANT_TINGLING), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(path), "--format", "text"])
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    assert RULES["nerve_sensations"].advice in flat
    assert " ".join(RULES["plant_based_pregnancy_check"].advice.split()) in flat


# ---------------------------------------------------------------------------
# 5. Pernicious anaemia
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("symptom", NERVE_SYMPTOMS)
def test_pernicious_anaemia_with_a_nerve_symptom_puts_injections_first(symptom):
    result = assess(Profile(age_years=58, diet="omnivore", conditions=("pernicious_anemia",),
                            symptoms=(symptom,)), REF)
    flag = result.flag("malabsorption")
    first, then = flag.dose_options[:2]
    assert first.label == "injections, arranged by a doctor, urgently"
    assert (then.dose_ug, then.frequency) == (1000, "daily")
    assert then.label.startswith("later, if your doctor chooses it")
    assert flag.title == RULES["pernicious_anaemia_nerve_symptoms"].title
    assert "BNF" in " ".join(flag.reasons) and "British Columbia" in " ".join(flag.reasons)
    assert any("§5.2" in s for s in flag.sources)
    check = result.flag("medical_check")
    assert check.title == RULES["pernicious_anaemia_nerve_symptoms_check"].title
    assert check.level == "soon"
    out = flag.to_dict()["dose_options"]
    assert out[0]["dose_ug"] is None and out[0]["frequency"] is None


def test_pernicious_anaemia_without_nerve_symptoms_keeps_the_oral_option_first():
    flag = assess(Profile(age_years=58, diet="omnivore", conditions=("pernicious_anemia",),
                          symptoms=("fatigue",)), REF).flag("malabsorption")
    assert flag.title == RULES["pernicious_anaemia"].title
    assert "injection" not in flag.dose_options[0].label.split(",")[0]
    assert flag.dose_options[0].dose_ug == 1000


def test_untreated_pernicious_anaemia_is_a_soon_check_even_without_symptoms():
    untreated = assess(Profile(age_years=45, diet="omnivore",
                               conditions=("pernicious_anemia",)), REF)
    check = untreated.flag("medical_check")
    assert check.level == "soon"
    assert check.title == RULES["pernicious_anaemia_untreated"].title
    treated = assess(Profile(age_years=45, diet="omnivore", conditions=("pernicious_anemia",),
                             supplement=Supplement(1000, "daily")), REF)
    assert "pernicious_anaemia_untreated" not in treated.flag("medical_check").rule_ids
    assert treated.flag("medical_check").level == "routine"


# ---------------------------------------------------------------------------
# 8. Red flags and impossible profiles
# ---------------------------------------------------------------------------


def test_medical_check_levels_are_routine_soon_and_urgent():
    assert REF.risk_policy.levels["medical_check"] == ("routine", "soon", "urgent")
    assert {"chest_pain", "breathless_at_rest"} <= set(SYMPTOMS)


@pytest.mark.parametrize("symptom", ["chest_pain", "breathless_at_rest"])
def test_chest_pain_and_breathlessness_at_rest_are_urgent(symptom):
    result = assess(Profile(age_years=45, diet="omnivore", symptoms=(symptom,)), REF)
    check = result.flag("medical_check")
    assert check.level == "urgent"
    assert check.title == "Today: call your doctor or an urgent care line"
    assert "today" in check.advice
    assert result.risk_level == "high"
    assert result.codes[0] == "medical_check"


@pytest.mark.parametrize(("fields", "rule"), [
    ({"age_years": 0.5, "symptoms": ("breathless_at_rest",)}, "red_flags_in_infancy"),
    ({"age_years": 29, "sex": "female", "life_stage": "lactating",
      "symptoms": ("chest_pain",)}, "red_flags_in_pregnancy_or_breastfeeding"),
])
def test_red_flags_speak_to_babies_and_mothers_in_their_own_words(fields, rule):
    check = assess(Profile(diet="omnivore", **fields), REF).flag("medical_check")
    assert check.level == "urgent"
    assert check.title == RULES[rule].title
    assert "red_flag_symptoms" in check.rule_ids


def test_plain_breathlessness_stays_routine_and_severe_nerve_symptoms_together_are_soon():
    breathless = assess(Profile(age_years=45, diet="omnivore",
                                symptoms=("shortness_of_breath",)), REF)
    assert breathless.flag("medical_check").level == "routine"
    combined = assess(Profile(age_years=45, diet="omnivore",
                              symptoms=("balance_problems", "numbness")), REF)
    assert combined.flag("medical_check").level in ("soon", "urgent")


def test_the_form_and_the_openapi_enum_list_the_new_symptoms(client):
    form = page_text(client.get("/"))
    assert 'value="chest_pain"' in form and "Chest pain" in form
    assert 'value="breathless_at_rest"' in form and "Breathless even at rest" in form
    enum = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Symptom"]
    assert {"chest_pain", "breathless_at_rest"} <= set(enum["enum"])


IMPOSSIBLE = [
    ({"age_years": 70, "sex": "male", "life_stage": "pregnant"}, "sex 'male'"),
    ({"age_years": 30, "sex": "male", "life_stage": "lactating"}, "sex 'male'"),
    ({"age_years": 5, "life_stage": "lactating"}, "from 10 years"),
    ({"age_years": 9.5, "sex": "female", "life_stage": "pregnant"}, "from 10 years"),
    ({"age_years": 61, "sex": "female", "life_stage": "pregnant"}, "up to 60 years"),
]
POSSIBLE = [
    {"age_years": 60, "sex": "female", "life_stage": "pregnant"},
    {"age_years": 10, "sex": "female", "life_stage": "lactating"},
    {"age_years": 70, "sex": "female", "life_stage": "lactating"},
    {"age_years": 30, "sex": "unspecified", "life_stage": "pregnant"},
    {"age_years": 70, "sex": "male", "life_stage": "none"},
]


@pytest.mark.parametrize(("fields", "words"), IMPOSSIBLE)
def test_impossible_profiles_are_refused_naming_life_stage(fields, words):
    with pytest.raises(ProfileError) as info:
        parse_profile({"diet": "vegan", **fields})
    [error] = info.value.errors
    assert error["field"] == "life_stage"
    assert words in error["message"]
    assert "choose one of none" in error["message"]


@pytest.mark.parametrize("fields", POSSIBLE)
def test_possible_profiles_at_the_limits_are_accepted(fields):
    assert parse_profile({"diet": "vegan", **fields}).life_stage == fields["life_stage"]


@pytest.mark.parametrize(("fields", "words"), IMPOSSIBLE)
def test_the_api_refuses_impossible_profiles_with_422(client, fields, words):
    for path in ("/api/v1/assess", f"/api/v1/plan?week={WEEK}"):
        response = post(client, path, {"diet": "vegan", **fields})
        assert response.status_code == 422, path
        body = response.get_json()
        schemas.Error.model_validate_json(response.get_data())
        assert body["errors"][0]["field"] == "life_stage"
        assert words in body["error"]


@pytest.mark.parametrize(("fields", "words"), IMPOSSIBLE)
def test_the_form_refuses_impossible_profiles_with_422_next_to_life_stage(client, fields, words):
    response = client.get("/plan", query_string=query({"diet": "vegan", **fields}))
    assert response.status_code == 422
    text = page_text(response)
    assert 'href="#field-life_stage"' in text  # the error summary links to the field
    assert words in text
    assert "<h1>Your B12 plan" not in text


@pytest.mark.parametrize("command", [assess_command, plan_command])
@pytest.mark.parametrize(("fields", "words"), IMPOSSIBLE[:1] + IMPOSSIBLE[2:3] + IMPOSSIBLE[4:])
def test_the_commands_refuse_impossible_profiles_with_exit_2(tmp_path, command, fields, words):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"diet": "vegan", **fields}), encoding="utf-8")
    result = CliRunner().invoke(command, [str(path)])
    assert result.exit_code == 2
    assert "life_stage:" in result.stderr and words in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------------------
# 9. Wording
# ---------------------------------------------------------------------------


def test_small_stores_at_birth_are_said_only_of_babies_of_vegan_or_low_b12_mothers():
    said = [(r.id, reason) for r in REF.rules for reason in r.reasons if "stores" in reason
            and "baby" in reason.lower()]
    assert {rid for rid, _ in said} == {"vegan_pregnancy_or_breastfeeding",
                                        "symptoms_in_infancy"}
    for _, reason in said:
        assert "vegan mother" in reason and "low in B12" in reason
    assert not any(reason.startswith("A baby is born") or reason.startswith("A baby's B12 stores")
                   for _, reason in said)


def test_the_inflammation_link_is_worded_as_the_seed_words_it():
    seed = "000_d2b027377990eb53.txt § How Inflammation and Anemia Contribute to Pain"
    rule = RULES["joint_pain_comparison"]
    inflammation = [r for r in rule.reasons if "inflammation" in r.lower()]
    assert inflammation and all(r.startswith("Some studies suggest") for r in inflammation)
    assert seed in rule.sources
    for other in REF.rules:
        for reason in other.reasons:
            if "inflammation" in reason.lower() and "stomach" not in reason.lower():
                assert "some studies suggest" in reason.lower(), (other.id, reason)


@pytest.mark.parametrize("profile", [
    {"age_years": 58, "diet": "omnivore", "conditions": ["pernicious_anemia"],
     "symptoms": ["numbness"]},
    {"age_years": 30, "diet": "vegan", "conditions": ["pernicious_anemia"]},
    {"age_years": 70, "diet": "omnivore", "medications": ["metformin", "ppi"],
     "conditions": ["ileal_resection"]},
    {"age_years": 34, "diet": "vegan", "sex": "female", "life_stage": "pregnant",
     "conditions": ["gastric_bypass"]},
])
def test_without_intrinsic_factor_no_supplement_rule_talks_over_the_treatment(profile):
    """'Take 10 µg a day' cannot help without intrinsic factor or terminal ileum:
    the malabsorption flag says what does, and no supplement rule contradicts it."""
    result = assess(parse_profile(profile), REF)
    codes = [f.code for f in result.flags]
    assert "malabsorption" in codes
    assert "supplement" not in codes
    if result.treatment_first is not None:  # nerve symptoms: injections first, nothing by mouth
        assert result.treatment_first.label.startswith("injections")
        assert result.recommended_supplement is None
    else:
        assert result.recommended_supplement is not None  # the treatment dose is still there
    nerves = "numbness" in profile.get("symptoms", ())
    assert (result.treatment_first is not None) == nerves


def test_the_supplement_rules_still_speak_when_absorption_is_normal():
    result = assess(parse_profile({"age_years": 58, "diet": "omnivore"}), REF)
    assert [f.code for f in result.flags if f.code == "supplement"] == ["supplement"]


@pytest.mark.parametrize("fields", [
    {"age_years": 40, "diet": "vegan", "symptoms": ["tingling", "fatigue"]},
    {"age_years": 40, "diet": "vegan", "symptoms": ["fatigue"]},
    {"age_years": 30, "diet": "vegetarian", "symptoms": ["joint_pain"]},
])
def test_symptoms_without_a_supplement_hear_test_first_without_losing_the_lead(fields):
    """§4.1 design suggestion [U]: no B12 before a planned test. The caveat joins the
    medical check as one more voice; the rule that raised the check still leads it."""
    check = assess(parse_profile(fields), REF).flag("medical_check")
    ids = [v.id for v in check.voices]
    assert "symptoms_test_before_supplement" in ids
    assert ids[0] != "symptoms_test_before_supplement"
    assert check.title == RULES[ids[0]].title


@pytest.mark.parametrize("fields", [
    {"age_years": 40, "diet": "vegan"},
    {"age_years": 40, "diet": "vegan", "symptoms": ["tingling"],
     "supplement": {"dose_ug": 50, "frequency": "daily"}},
    {"age_years": 40, "diet": "omnivore", "symptoms": ["tingling"]},
    # in pregnancy B12 comes every day, and a baby's dose is the doctor's
    {"age_years": 30, "sex": "female", "life_stage": "pregnant", "diet": "vegan",
     "symptoms": ["tingling"]},
    {"age_years": 0.75, "diet": "vegan", "symptoms": ["weakness"]},
])
def test_the_test_first_caveat_is_only_for_plant_diets_with_symptoms_and_no_supplement(fields):
    result = assess(parse_profile(fields), REF)
    assert all("symptoms_test_before_supplement" not in f.rule_ids for f in result.flags)


def test_the_plan_page_shows_the_test_first_caveat(client):
    response = client.get("/plan", query_string={"age_years": 40, "diet": "vegan",
                                                 "symptoms": "tingling", "week": WEEK})
    text = " ".join(page_text(response).split())
    assert " ".join(RULES["symptoms_test_before_supplement"].advice.split()) in text


@pytest.mark.parametrize("symptom", NERVE_SYMPTOMS)
def test_a_plan_with_injections_first_recommends_nothing_by_mouth_in_their_place(symptom):
    # a dietitian read "Supplement (recommended): 1000 µg daily … covered" under a flag
    # saying that with nerve symptoms treatment starts with injections
    prof = parse_profile({"age_years": 58, "sex": "female", "diet": "vegetarian",
                          "conditions": ["pernicious_anemia"], "symptoms": [symptom]})
    plan = make_plan(prof, TABLE, week=WEEK, reference=REF)
    assert plan.assessment.treatment_first is not None
    assert plan.assessment.recommended_supplement is None
    assert plan.supplement is None
    assert not any(d.supplement_ug for d in plan.days)
    assert plan.summary.days_covered == 0  # food cannot count; the doctor's treatment must
    note = next(n for n in plan.notes if n.startswith("Treatment first: injections"))
    assert "adds no B12 by mouth" in note and "counts no day as covered" in note
    assert not any("The supplement covers" in n for n in plan.notes)
    assert any("treatment your doctor arranges" in n for n in plan.notes)
    # the flag still says it all, first
    assert plan.assessment.flags[0].code == "malabsorption"
    assert plan.assessment.flags[0].dose_options[0].dose_ug is None


def test_without_nerve_symptoms_pernicious_anaemia_keeps_the_oral_dose_in_the_plan():
    prof = parse_profile({"age_years": 58, "sex": "female", "diet": "vegetarian",
                          "conditions": ["pernicious_anemia"], "symptoms": ["fatigue"]})
    plan = make_plan(prof, TABLE, week=WEEK, reference=REF)
    assert plan.assessment.treatment_first is None
    assert plan.supplement is not None and plan.supplement.dose_ug == 1000
    assert not any(n.startswith("Treatment first") for n in plan.notes)
