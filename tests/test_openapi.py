"""The OpenAPI document: valid 3.1, complete, built from the domain vocabularies, and true
to what the server does (real responses validate against the response models)."""

from __future__ import annotations

import json
import tempfile

import pytest
import schemathesis
from flask import jsonify
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from schemathesis import checks

from foods.loader import load_groups
from planner import create_app
from planner import services
from planner.api import schemas
from planner.domain import model
from planner.domain.planning import PlanError
from planner.domain.profile import parse_profile
from planner.domain.profile import possible_profile

WEEK = "2025-W07"
# Profiles chosen so every optional part of the responses appears at least once:
# dose options (supplement, malabsorption), differential tables, medical tests,
# an own weekly supplement, several meals, life stages and guidelines.
PROFILES = [
    {"age_years": 34, "diet": "vegan",
     "include_foods": ["soy_drink_fortified_unsweetened", "total_whole_grain"]},
    {"age_years": 67, "diet": "omnivore", "symptoms": ["joint_pain", "leg_pain", "tingling"],
     "medications": ["metformin", "ppi"], "guideline": "efsa"},
    {"age_years": 45, "diet": "pescatarian", "allergies": ["shellfish", "fish"],
     "conditions": ["pernicious_anemia"], "meals_per_day": 5, "days": 3},
    {"age_years": 29, "diet": "vegetarian", "sex": "female", "life_stage": "pregnant",
     "guideline": "dach", "meals_per_day": 2, "days": 14},
    {"age_years": 40, "diet": "vegan", "supplement": {"dose_ug": 2000, "frequency": "weekly"}},
    {"age_years": 0.5, "diet": "omnivore", "guideline": "uk", "sex": None, "allergies": None},
]


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi_3_1(document):
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    assert document["openapi"] == "3.1.0"
    assert list(OPENAPI_31_VALIDATOR.iter_errors(document)) == []


def test_every_ref_resolves(document):
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    names = {ref.removeprefix("#/components/schemas/") for ref in refs}
    assert all(ref.startswith("#/components/schemas/") for ref in refs)
    assert names <= set(document["components"]["schemas"])


def test_every_api_route_is_documented_and_nothing_else(app, document):
    served = {(rule.rule, method.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}

    assert served == documented


def test_body_operations_document_every_error_status(document):
    for path in ("/api/v1/assess", "/api/v1/plan"):
        operation = document["paths"][path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Profile"}
        assert set(operation["responses"]) == {"200", "400", "413", "415", "422", "429"}
        for status in ("400", "413", "415", "422", "429"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}


def test_enums_are_the_domain_vocabularies(app, document):
    components = document["components"]["schemas"]
    expected = {"Diet": model.DIETS, "Sex": model.SEXES, "LifeStage": model.LIFE_STAGES,
                "Guideline": model.GUIDELINES, "Allergen": model.ALLERGENS,
                "Medication": model.MEDICATIONS, "Condition": model.CONDITIONS,
                "Symptom": model.SYMPTOMS, "Frequency": model.FREQUENCIES,
                "FoodGroup": tuple(load_groups())}

    for name, words in expected.items():
        assert components[name]["enum"] == list(words), name
    assert components["FoodId"]["enum"] == [f.food_id for f in app.extensions["planner.foods"]]
    profile = components["Profile"]
    assert profile["additionalProperties"] is False
    assert set(profile["required"]) == {"age_years", "diet"}
    assert set(profile["properties"]) == set(model.Profile(age_years=1, diet="vegan").to_dict())


def test_query_parameters_carry_their_enums(document):
    listed = document["paths"]["/api/v1/foods"]["get"]["parameters"]
    parameters = {p["name"]: p["schema"] for p in listed}

    assert parameters["diet"]["anyOf"][0] == {"$ref": "#/components/schemas/Diet"}
    assert parameters["group"]["anyOf"][0] == {"$ref": "#/components/schemas/FoodGroup"}
    week = document["paths"]["/api/v1/plan"]["post"]["parameters"][0]
    assert week["name"] == "week" and week["in"] == "query"


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_valid_for_the_model_are_accepted_by_parse_profile(profile):
    schemas.Profile.model_validate(profile)

    parse_profile(profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_real_assessments_and_plans_validate_against_the_response_models(client, profile):
    assessment = client.post("/api/v1/assess", json=profile)
    plan = client.post(f"/api/v1/plan?week={WEEK}", json=profile)

    assert assessment.status_code == plan.status_code == 200
    schemas.Assessment.model_validate_json(assessment.data, strict=True)
    schemas.Plan.model_validate_json(plan.data, strict=True)


def any_valid_profile(food_ids: list[str]):
    """Every field of the contract, in any valid combination (include/exclude ids
    from the table; the plan builder refuses unknown ids with a 422)."""
    def words(vocabulary):
        return st.lists(st.sampled_from(vocabulary), max_size=3)

    return st.fixed_dictionaries(
        {"age_years": st.one_of(st.integers(0, 120), st.floats(0, 120)),
         "diet": st.sampled_from(model.DIETS)},
        optional={
            "sex": st.sampled_from(model.SEXES), "life_stage": st.sampled_from(model.LIFE_STAGES),
            "guideline": st.sampled_from(model.GUIDELINES), "meals_per_day": st.integers(2, 5),
            "days": st.integers(1, 14), "allergies": words(model.ALLERGENS),
            "include_foods": words(food_ids), "exclude_foods": words(food_ids),
            "medications": words(model.MEDICATIONS), "conditions": words(model.CONDITIONS),
            "symptoms": words(model.SYMPTOMS),
            "supplement": st.none() | st.fixed_dictionaries({
                "dose_ug": st.floats(0.01, 10_000),
                "frequency": st.sampled_from(model.FREQUENCIES)})
            | st.fixed_dictionaries({"frequency": st.just("injection"),  # issue 14
                                     "every_weeks": st.integers(1, 26)}),
            # issue 14: what a dietitian brings
            "labs": st.lists(st.sampled_from(tuple(model.LAB_UNITS)).flatmap(
                lambda test: st.fixed_dictionaries({
                    "test": st.just(test), "unit": st.sampled_from(model.LAB_UNITS[test]),
                    "value": st.floats(0, 400)}, optional={"date": st.just("2026-01-31")})),
                max_size=3),
            "folic_acid_ug": st.floats(0, 10_000), "months_without_b12": st.integers(0, 60),
            "feeding": st.sampled_from(model.FEEDINGS), "mother_diet": st.sampled_from(model.DIETS),
            "mother_takes_b12": st.booleans(),
        }).filter(possible_profile)  # a pregnant man is refused (issue 12)


def test_the_plan_and_assessment_of_any_valid_profile_are_well_formed(app):
    food_ids = [f.food_id for f in app.extensions["planner.foods"]]

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=any_valid_profile(food_ids), week=st.integers(1, 52))
    def check(data, week):
        profile = parse_profile(data)
        with app.test_request_context():
            try:
                plan = services.build_plan(profile, f"2025-W{week:02d}")
            except PlanError as e:  # e.g. only excluded or allergenic foods are left
                assert e.errors and all(err["message"] for err in e.errors)
                return
            body = jsonify(plan.to_dict()).get_data()
            assessment = jsonify(services.build_assessment(profile).to_dict()).get_data()
        checked = schemas.Plan.model_validate_json(body, strict=True)
        schemas.Assessment.model_validate_json(assessment, strict=True)
        assert len(checked.days) == profile.days
        assert [d.day for d in checked.days] == list(range(1, profile.days + 1))
        # issue 12: under about 6 months the plan has no meals at all, and says why
        meals = [] if checked.no_food_plan else list(model.MEAL_NAMES[profile.meals_per_day])
        assert all([m.meal for m in d.meals] == meals for d in checked.days)
        assert bool(checked.no_food_plan) == (profile.age_years < 0.5)
        assert checked.summary.days_covered == sum(d.covered for d in checked.days)
        assert json.loads(body)["profile"] == profile.to_dict()

    check()


def test_optional_response_parts_are_exercised_by_the_profiles(client):
    flags = [f for p in PROFILES
             for f in client.post("/api/v1/assess", json=p).get_json()["flags"]]

    assert any(f.get("dose_options") for f in flags)
    assert any(f.get("tables") for f in flags)
    assert any(f["tests"] for f in flags)


def test_foods_and_targets_validate_against_their_models(client):
    schemas.FoodList.model_validate_json(client.get("/api/v1/foods").data, strict=True)
    schemas.FoodList.model_validate_json(client.get("/api/v1/foods?diet=vegan&q=soy").data,
                                         strict=True)
    schemas.TargetTable.model_validate_json(client.get("/api/v1/targets").data, strict=True)


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("post", "/api/v1/plan", {"data": "{", "content_type": "application/json"}, 400),
    ("post", "/api/v1/plan", {"data": "x" * (1024 * 1024 + 1), "content_type": "application/json"},
     413),
    ("post", "/api/v1/assess", {"data": "{}", "content_type": "text/plain"}, 415),
    ("post", "/api/v1/assess", {"json": {"diet": "keto"}}, 422),
    ("get", "/api/v1/foods?diet=keto", {}, 400),
    ("get", "/api/v1/missing", {}, 404),
    ("get", "/api/v1/assess", {}, 405),
])
def test_error_responses_validate_against_the_error_model(client, method, path, kwargs, status):
    response = getattr(client, method)(path, **kwargs)

    assert response.status_code == status
    error = schemas.Error.model_validate_json(response.data, strict=True)
    assert error.status == status


def test_documented_week_pattern_is_what_the_server_accepts(client):
    import re

    pattern = re.compile(schemas.WEEK_PATTERN)
    for week, documented in (("2025-W07", True), ("1900-W01", True), ("2999-W52", True),
                             ("2025-W00", False), ("2025-W54", False), ("1899-W10", False)):
        assert bool(pattern.match(week)) is documented
        status = client.post(f"/api/v1/plan?week={week}", json=PROFILES[0]).status_code
        assert (status == 200) is documented, week


# ---- generated requests (schemathesis): schema and server agree ------------------------

# Every documented operation (read from the document the server serves, so a new one is
# covered without editing this file), valid and invalid requests, a bounded number of
# examples each. The checks, per response: no 5xx; a status the operation documents; the
# documented Content-Type; a body that validates against the documented schema.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]
GENERATED = settings(max_examples=30, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))


def generated_cases() -> list[tuple[str, str]]:
    """(label, mode) for every documented operation: ``positive`` for all, ``negative``
    for those that take input (there is nothing to get wrong in the others' requests)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": tmp})
        paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    cases = []
    for path, item in paths.items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            cases.append((label, "positive"))
            if operation.get("requestBody") or operation.get("parameters"):
                cases.append((label, "negative"))
    return cases


@pytest.mark.parametrize(("label", "mode"), generated_cases())
def test_generated_requests_get_documented_answers(app, label, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    seen = []

    @GENERATED
    @given(case=strategy)
    def check(case):
        response = case.call_and_validate(checks=CHECKS)
        seen.append(response.status_code)

    check()
    assert seen, "no request was generated"
    if mode == "positive" and method == "POST":
        assert 200 in seen, f"no generated valid request to {label} succeeded: {sorted(set(seen))}"
    if mode == "negative" and operation.body:
        assert set(seen) - {200}, f"no generated invalid request to {label} was refused"


def test_document_is_deterministic(client):
    first = client.get("/api/v1/openapi.json").data
    again = client.get("/api/v1/openapi.json").data

    assert json.loads(first) == json.loads(again)
