"""The JSON API under /api/v1: happy paths and every error path, always the one error shape."""

from __future__ import annotations

import json

import pytest

from planner.api import schemas
from planner.domain import model

WEEK = "2025-W07"
VEGAN = {"age_years": 34, "diet": "vegan",
         "include_foods": ["soy_drink_fortified_unsweetened", "total_whole_grain"]}


def post(client, path, body, **kwargs):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kwargs)


def assert_error(response, status: int, field: str | None = None, words: str = "") -> dict:
    """The response is the API's error shape with ``status``, naming ``field``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    schemas.Error.model_validate(body, strict=True)
    assert body["ok"] is False and body["status"] == status and body["error"]
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    text = json.dumps(body, ensure_ascii=False)
    assert words in text, text
    return body


# ---- happy paths ---------------------------------------------------------------------


def test_assess_returns_target_flags_and_disclaimer(client):
    response = post(client, "/api/v1/assess", VEGAN)

    assert response.status_code == 200
    body = response.get_json()
    assert body["target"]["intake_ug"] == 2.4 and body["target"]["guideline"] == "us"
    assert body["risk_level"] in ("low", "moderate", "high")
    assert any(f["code"] == "supplement" for f in body["flags"])
    assert all(f["sources"] and f["reasons"] for f in body["flags"])
    assert "not medical advice" in body["disclaimer"]


def test_plan_takes_the_week_from_the_query(client):
    response = post(client, f"/api/v1/plan?week={WEEK}", VEGAN)

    body = response.get_json()
    assert response.status_code == 200
    assert body["week"] == WEEK
    assert [d["date"] for d in body["days"]][:2] == ["2025-02-10", "2025-02-11"]
    assert len(body["days"]) == 7 and len(body["days"][0]["meals"]) == 3


def test_same_profile_and_week_give_the_same_plan(client):
    first = post(client, f"/api/v1/plan?week={WEEK}", VEGAN).get_json()
    again = post(client, f"/api/v1/plan?week={WEEK}", VEGAN).get_json()

    assert first == again


def test_plan_without_week_uses_the_current_week(client, monkeypatch):
    from datetime import date

    from planner import services

    monkeypatch.setattr(services, "today", lambda: date(2026, 1, 1))  # ISO week 2026-W01

    body = post(client, "/api/v1/plan", VEGAN).get_json()

    assert body["week"] == "2026-W01"


def test_foods_filters_like_the_page(client):
    body = client.get("/api/v1/foods?diet=vegan&group=plant_drink&q=soy").get_json()

    assert body["count"] == len(body["foods"]) > 0
    assert all("vegan" in f["diets"] and f["group"] == "plant_drink" and "soy" in f["name"].lower()
               for f in body["foods"])
    per_serving = [f["b12_ug_per_serving"] for f in body["foods"]]
    assert per_serving == sorted(per_serving, reverse=True)


def test_targets_list_every_guideline_with_sources(client):
    body = client.get("/api/v1/targets").get_json()

    assert {g["code"] for g in body["guidelines"]} == set(model.GUIDELINES)
    assert {row["guideline"] for row in body["targets"]} == set(model.GUIDELINES)
    assert all(row["source"] for row in body["targets"])
    adult_us = [r for r in body["targets"] if r["guideline"] == "us" and r["age_to_years"] is None
                and r["life_stage"] == "none"]
    assert adult_us and adult_us[0]["intake_ug"] == 2.4


# ---- 400: the body or the query cannot be used -------------------------------------


@pytest.mark.parametrize(("raw", "words"), [
    (b'{"age_years": 30,', "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"age_years": NaN, "diet": "vegan"}', "not a JSON number"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"vegan"', "must be a JSON object"),
    (b"null", "must be a JSON object"),
])
def test_malformed_or_non_object_bodies_are_400(client, raw, words):
    for path in ("/api/v1/assess", "/api/v1/plan"):
        response = client.post(path, data=raw, content_type="application/json")
        assert_error(response, 400, "body", words)


@pytest.mark.parametrize("query", ["week=2025-W99", "week=next", "week=2025-07-01",
                                   "week=3000-W01", "colour=red"])
def test_bad_query_parameters_are_400(client, query):
    response = post(client, f"/api/v1/plan?{query}", VEGAN)

    assert_error(response, 400, query.split("=")[0])


@pytest.mark.parametrize(("query", "field"), [("diet=carnivore", "diet"), ("group=sweets", "group"),
                                              ("q=" + "x" * 101, "q"), ("colour=red", "colour"),
                                              ("diet=vegan&diet=omnivore", "diet")])
def test_bad_food_filters_are_400(client, query, field):
    assert_error(client.get(f"/api/v1/foods?{query}"), 400, field)


# ---- 413 and 415 -----------------------------------------------------------------------


def test_bodies_over_one_megabyte_are_413(client):
    body = {"age_years": 30, "diet": "vegan", "allergies": ["soy"] * 300_000}

    response = post(client, "/api/v1/plan", body)

    assert_error(response, 413, "body", "1 MB")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_other_content_types_are_415(client, content_type):
    response = client.post("/api/v1/assess", data=json.dumps(VEGAN), content_type=content_type)

    assert_error(response, 415, "Content-Type", "application/json")


def test_json_with_a_charset_parameter_is_accepted(client):
    response = client.post("/api/v1/assess", data=json.dumps(VEGAN),
                           content_type="application/json; charset=utf-8")

    assert response.status_code == 200


# ---- 422: the profile breaks the contract, or no plan can be made -------------------


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"age_years": 121}, "age_years", "from 0 to 120"),
    ({"age_years": "30"}, "age_years", "must be a number"),
    ({"age_years": True}, "age_years", "must be a number"),
    ({"age_years": None}, "age_years", "is required"),
    ({"diet": "carnivore"}, "diet", "vegan, vegetarian, pescatarian, omnivore"),
    ({"diet": ["vegan"]}, "diet", "choose one of"),
    ({"sex": "other"}, "sex", "female, male, unspecified"),
    ({"life_stage": "retired"}, "life_stage", "none, pregnant, lactating"),
    ({"guideline": "fda"}, "guideline", "us, efsa, dach, nnr, uk, who"),
    ({"meals_per_day": 2.5}, "meals_per_day", "whole number from 2 to 5"),
    ({"days": 15}, "days", "1 to 14"),
    ({"allergies": "soy"}, "allergies", "must be a list"),
    ({"allergies": ["nuts"]}, "allergies", "tree_nut"),
    ({"medications": ["aspirin"]}, "medications", "metformin"),
    ({"conditions": ["flu"]}, "conditions", "pernicious_anemia"),
    ({"symptoms": ["itch"]}, "symptoms", "tingling"),
    ({"include_foods": [1, 2]}, "include_foods", "must be a string"),
    ({"supplement": {"dose_ug": 10}}, "supplement.frequency", "required"),
    ({"supplement": {"dose_ug": 0, "frequency": "daily"}}, "supplement.dose_ug", "above 0"),
    ({"supplement": {"dose_ug": 10, "frequency": "monthly"}}, "supplement.frequency", "daily, weekly"),  # noqa: E501  (a case table reads better one case a line)
    ({"supplement": 10}, "supplement", "object"),
    ({"favourite_colour": "red"}, "favourite_colour", "not a profile field"),
    ({"week": WEEK}, "week", "not a profile field"),
])
def test_profiles_breaking_the_contract_are_422_naming_the_field(client, change, field, words):
    for path in ("/api/v1/assess", f"/api/v1/plan?week={WEEK}"):
        assert_error(post(client, path, {**VEGAN, **change}), 422, field, words)


def test_every_problem_is_reported_at_once(client):
    body = assert_error(
        post(client, "/api/v1/assess", {"age_years": -1, "diet": "x", "sex": 3}), 422)

    assert {e["field"] for e in body["errors"]} == {"age_years", "diet", "sex"}


def test_ten_thousand_allergies_are_422_with_one_short_message(client):
    body = {"age_years": 30, "diet": "vegan", "allergies": ["nuts"] * 10_000}

    response = post(client, "/api/v1/plan", body)

    error = assert_error(response, 422, "allergies", "10000 values")
    assert len(error["errors"]) == 1 and len(response.data) < 1000


def test_unknown_food_ids_are_422(client):
    response = post(client, f"/api/v1/plan?week={WEEK}",
                    {**VEGAN, "include_foods": ["no_such_food"]})

    assert_error(response, 422, "include_foods", "no_such_food")


# ---- 404 and 405 -----------------------------------------------------------------------


def test_unknown_api_paths_are_json_404(client):
    assert_error(client.get("/api/v1/nothing"), 404)
    assert_error(client.get("/api/v2/plan"), 404)


def test_wrong_methods_are_json_405_with_allow(client):
    response = client.get("/api/v1/plan")

    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]
    assert_error(client.delete("/api/v1/foods"), 405)


def test_error_summary_names_the_field_once(client):
    body = assert_error(post(client, "/api/v1/assess", {"age_years": 30, "diet": "keto"}), 422)

    assert body["error"].startswith("diet: 'keto' is not a diet")
    assert not body["error"].startswith("diet: diet:")
