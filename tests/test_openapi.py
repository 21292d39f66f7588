"""The OpenAPI document: valid 3.1, complete, built from the domain vocabularies, and true
to what the server does (real responses validate against the response models)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from foods.loader import load_groups
from planner import schemas
from planner.domain import model
from planner.domain.profile import parse_profile

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
        assert set(operation["responses"]) == {"200", "400", "413", "415", "422"}
        for status in ("400", "413", "415", "422"):
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
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/foods"]["get"]["parameters"]}

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

SMOKE = settings(max_examples=15, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("label", ["POST /api/v1/assess", "POST /api/v1/plan",
                                   "GET /api/v1/foods"])
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_generated_requests_get_documented_answers(app, label, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().label == label)
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @SMOKE
    @given(case=strategy)
    def check(case):
        case.call_and_validate()  # no 5xx, documented status, body matches its schema

    check()


def test_document_is_deterministic(client):
    first = client.get("/api/v1/openapi.json").data
    again = client.get("/api/v1/openapi.json").data

    assert json.loads(first) == json.loads(again)
