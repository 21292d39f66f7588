"""Pydantic models of the JSON API, and the OpenAPI 3.1 document built from them.

The models describe the shapes; they are not the validators. Profiles are
checked by :func:`planner.domain.profile.parse_profile` (its messages name the
field and the valid choices), and responses are the domain's ``to_dict()``.
``tests/test_openapi.py`` validates real responses against these models, so
a change on either side that breaks the contract fails there.

Enumerations come from the domain vocabularies (``planner.domain.model``,
``planner.domain.risk``, ``planner.domain.targets``) and the food groups file;
no list is typed twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic.json_schema import models_json_schema

from foods.loader import load_groups
from planner.config import DEFAULTS
from planner.domain import model
from planner.domain import profile as profile_rules
from planner.domain import risk
from planner.domain import targets
from planner.domain.week import WEEK
from planner.domain.week import WEEK_YEARS
from planner.errors import MAX_LISTED_ERRORS
from planner.pages.catalog import MAX_QUERY_CHARS

REF = "#/components/schemas/{model}"
SampleDate = date  # a field named ``date`` would hide the type inside a model
MAX_LIST = DEFAULTS["MAX_LIST_VALUES"]


def vocabulary(name: str, words) -> type[StrEnum]:
    """A string enum named ``name`` holding ``words`` (a domain tuple)."""
    return StrEnum(name, {w: w for w in words})


Sex = vocabulary("Sex", model.SEXES)
LifeStage = vocabulary("LifeStage", model.LIFE_STAGES)
Diet = vocabulary("Diet", model.DIETS)
Guideline = vocabulary("Guideline", model.GUIDELINES)
Market = vocabulary("Market", model.PROFILE_MARKETS)
Allergen = vocabulary("Allergen", model.ALLERGENS)
Medication = vocabulary("Medication", model.MEDICATIONS)
Condition = vocabulary("Condition", model.CONDITIONS)
Symptom = vocabulary("Symptom", model.SYMPTOMS)
Frequency = vocabulary("Frequency", model.FREQUENCIES)
SupplementFrequency = vocabulary("SupplementFrequency", model.SUPPLEMENT_FREQUENCIES)
Feeding = vocabulary("Feeding", model.FEEDINGS)
LabTest = vocabulary("LabTest", model.LAB_TESTS)
LabUnit = vocabulary("LabUnit", dict.fromkeys(u for us in model.LAB_UNITS.values() for u in us))
LabStatus = vocabulary("LabStatus", model.LAB_STATUSES)
MealKind = vocabulary("MealKind", model.MEALS)
MealName = vocabulary("MealName", dict.fromkeys(n for ns in model.MEAL_NAMES.values() for n in ns))
Evidence = vocabulary("Evidence", model.EVIDENCE)
Tier = vocabulary("Tier", model.TIERS)
FoodGroup = vocabulary("FoodGroup", tuple(load_groups()))
FlagCode = vocabulary("FlagCode", risk.FLAG_CODES)
RiskLevel = vocabulary("RiskLevel", risk.RISK_LEVELS)
TargetSex = vocabulary("TargetSex", targets.ROW_SEXES)
EvidenceStatus = vocabulary("EvidenceStatus", targets.STATUSES)

FoodId = Annotated[str, Field(pattern=profile_rules.FOOD_ID.pattern)]
Ug = Annotated[float, Field(ge=0, description="micrograms [µg]")]
# Week 53 exists only in some years: the server accepts it there, the schema leaves it out.
WEEK_PATTERN = WEEK.pattern.replace("5[0-3]", "5[0-2]")
Week = Annotated[str, Field(pattern=WEEK.pattern, description="ISO week, e.g. 2025-W07")]


def _list(item: Any) -> Any:
    return Annotated[list[item], Field(max_length=MAX_LIST)] | None


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- request -------------------------------------------------------------------------


class Supplement(Model):
    """A B12 supplement the person already takes, or B12 injections (``frequency``
    ``injection`` with ``every_weeks``; the dose is then optional)."""

    dose_ug: Annotated[float, Field(gt=0, le=profile_rules.SUPPLEMENT_MAX_UG)] | None = None
    frequency: SupplementFrequency
    every_weeks: Annotated[int, Field(ge=1, le=profile_rules.INJECTION_MAX_EVERY_WEEKS,
                                      description="weeks between injections; only with "
                                      "frequency injection")] | None = None


class LabResult(Model):
    """A lab result as the lab reported it. Units by test: serum_b12 pmol/L, pg/mL or
    ng/L; holotc pmol/L; mma µmol/L (umol/L) or nmol/L; homocysteine µmol/L (umol/L);
    folate nmol/L or ng/mL. Values from 0 up to an input bound per unit."""

    test: LabTest
    value: Annotated[float, Field(ge=0)]
    unit: LabUnit
    date: SampleDate | None = Field(None, description="date of the sample, YYYY-MM-DD; shown only")




class Profile(Model):
    """A person's profile (product.md §4). ``null`` for an optional field means its default."""

    age_years: Annotated[float, Field(ge=0, le=profile_rules.AGE_MAX_YEARS)]
    diet: Diet
    sex: Sex | None = Sex.unspecified
    life_stage: LifeStage | None = LifeStage("none")
    guideline: Guideline | None = Guideline.us
    meals_per_day: Annotated[int, Field(ge=2, le=5)] | None = 3
    days: Annotated[int, Field(ge=1, le=14)] | None = 7
    allergies: _list(Allergen) = None
    exclude_foods: _list(FoodId) = None
    include_foods: _list(FoodId) = Field(
        None, description="the B12 foods the person buys: the meals' B12 then comes "
        "only from these (a fortified ingredient is swapped for a named food of the "
        "same group), and specialty foods (game, organ meats, ...) appear only when "
        "named here")
    medications: _list(Medication) = None
    conditions: _list(Condition) = None
    symptoms: _list(Symptom) = None
    supplement: Supplement | None = None
    accept_supplement: bool | None = Field(
        True, description="false: the person does not want a supplement; a plan food "
        "cannot cover is then refused with 422 naming this field")
    market: Market | None = Field(
        None, description="where the person shops (us, uk, eu): the plan and the lists "
        "of good sources use only foods sold there. null: from the guideline (us → us, "
        "uk → uk, efsa/dach/nnr → eu, who → any, which uses only foods sold everywhere)")
    labs: Annotated[list[LabResult], Field(max_length=profile_rules.LABS_MAX)] | None = None
    folic_acid_ug: Annotated[float, Field(ge=0, le=profile_rules.FOLIC_ACID_MAX_UG,
                                          description="folic acid taken a day [µg]")] | None = None
    months_without_b12: Annotated[int, Field(
        ge=0, le=profile_rules.MONTHS_WITHOUT_B12_MAX,
        description="months without any reliable B12 source (no fortified foods, no "
        "supplement, no animal foods)")] | None = None
    feeding: Feeding | None = Field(None, description="a baby's feeding")
    mother_diet: Diet | None = Field(None, description="a baby's mother's diet")
    mother_takes_b12: bool | None = Field(None, description="whether a baby's mother takes B12")
    include_dishes: _list(FoodId) = Field(
        None, description="dish ids the person likes (b12planner dishes list); the plan "
        "prefers them. Unknown ids: 422 naming this field")
    exclude_dishes: _list(FoodId) = Field(
        None, description="dish ids never to plan. Unknown ids: 422 naming this field")


# ---- responses -----------------------------------------------------------------------


class ResolvedProfile(Model):
    """The profile as the planner used it, every default filled in."""

    age_years: float
    sex: Sex
    life_stage: LifeStage
    diet: Diet
    guideline: Guideline
    meals_per_day: int
    days: int
    allergies: list[Allergen]
    exclude_foods: list[str]
    include_foods: list[str]
    medications: list[Medication]
    conditions: list[Condition]
    symptoms: list[Symptom]
    supplement: Supplement | None
    accept_supplement: bool
    market: Market
    labs: list[LabResult]
    folic_acid_ug: float | None
    months_without_b12: int | None
    feeding: Feeding | None
    mother_diet: Diet | None
    mother_takes_b12: bool | None
    include_dishes: list[str]
    exclude_dishes: list[str]


class Target(Model):
    guideline: Guideline
    intake_ug: Ug
    absorbed_ug: Ug
    basis: str
    guideline_name: str
    band: str
    value_type: str
    status: EvidenceStatus
    source: str


class DoseOption(Model):
    id: str
    dose_ug: Ug | None = Field(description="null when the dose is the person's intake "
                               "target, or for injections, whose dose a doctor sets")
    frequency: Frequency | None = Field(description="null for injections, whose schedule "
                                        "a doctor sets")
    label: str
    status: str
    source: str


class DifferentialRow(Model):
    feature: str
    cells: list[str]
    source: str
    matches: list[Symptom] | None = Field(None, description="the profile's symptoms this "
                                          "row matches; such rows come first")


class SymptomPointer(Model):
    symptom: Symptom
    table: str
    features: list[str]
    condition: str
    wording: str
    points_to: str
    source: str


class LabBand(Model):
    status: LabStatus
    range: str


class LabThresholds(Model):
    id: str
    name: str
    bands: list[LabBand]
    source: str


class LabAlternative(LabThresholds):
    status: LabStatus


class LabReading(Model):
    """A lab result read against typical thresholds; the lab's own range comes first."""

    test: LabTest
    label: str
    value: float
    unit: LabUnit
    date: SampleDate | None
    compared_value: float = Field(
        description="the value in compared_unit, rounded as labs report it")
    compared_unit: LabUnit
    status: LabStatus
    thresholds: LabThresholds
    source: str
    unit_source: str
    alternatives: list[LabAlternative]
    note: str = Field(description="ranges vary by lab; the reporting lab's range comes first")


class DifferentialTable(Model):
    id: str
    title: str
    columns: list[str]
    rows: list[DifferentialRow]
    source: str


Specificity = vocabulary("Specificity", risk.SPECIFICITY)


class RuleDetail(Model):
    """One rule behind a flag, in its own words."""

    id: str
    level: str
    specificity: Specificity = Field(description="who the rule speaks to; the most "
                                     "specific rule at the flag's level gives its title")
    title: str
    advice: str
    reasons: list[str]
    sources: list[str] = Field(min_length=1)


class Flag(Model):
    code: FlagCode
    level: str = Field(description="levels per flag are in planner/data/risk_rules.toml")
    title: str
    reasons: list[str]
    advice: str
    sources: list[str] = Field(min_length=1)
    tests: list[str]
    rules: list[str] = Field(description="ids of the rules that raised the flag")
    rule_details: list[RuleDetail] = Field(
        min_length=1, description="every rule that raised the flag, with its own title, "
        "advice, reasons and sources; the first is the one whose title and advice the "
        "flag carries")
    dose_options: list[DoseOption] | None = Field(None, description="present when not empty")
    tables: list[DifferentialTable] | None = Field(None, description="present when not empty")
    pointers: list[SymptomPointer] | None = Field(None, description="differential: the "
                                                 "condition each matching symptom points to")


class RecommendedSupplement(Model):
    dose_ug: Ug
    frequency: Frequency
    reason: str
    source: str
    label: str
    status: str


class Assessment(Model):
    target: Target
    risk_level: RiskLevel
    flags: list[Flag]
    disclaimer: str
    intrinsic_factor: bool
    recommended_supplement: RecommendedSupplement | None
    labs: list[LabReading] = Field(description="one item per lab result of the profile")


class PlanIngredient(Model):
    """One ingredient of a meal's dish, scaled to the person."""

    food_id: str
    name: str
    grams: Annotated[float, Field(ge=0, description="grams [g]")]
    household: str = Field(description="the amount as people measure it: ml for drinks, "
                           "eggs as a count, else grams with the food's own measure")
    b12_ug: Ug
    source: str
    fortified: bool


class PlanDish(Model):
    id: str = Field(description="a dish_id of the library (b12planner dishes list)")
    name: str


class PlanMeal(Model):
    """One meal: a dish and its ingredients; ``b12_ug`` is their sum and
    ``absorbed_ug`` what the meal gives as one dose."""

    meal: MealName
    dish: PlanDish
    ingredients: list[PlanIngredient]
    b12_ug: Ug
    absorbed_ug: Ug


class PlanDay(Model):
    day: Annotated[int, Field(ge=1)]
    date: date
    weekday: str
    meals: list[PlanMeal]
    supplement_ug: Ug
    b12_ug: Ug
    absorbed_ug: Ug
    covered: bool
    food_b12_ug: Ug
    food_absorbed_ug: Ug
    supplement_absorbed_ug: Ug
    counted_absorbed_ug: Ug


class PlanSupplement(Model):
    dose_ug: Ug
    frequency: Frequency
    reason: str
    source: str
    kind: Literal["own", "recommended"]
    label: str
    absorbed_ug_per_dose: Ug


class PlanSummary(Model):
    avg_intake_ug: Ug
    avg_absorbed_ug: Ug
    covered: bool
    days_covered: int
    days: int
    days_covered_by_food: int
    avg_food_intake_ug: Ug
    avg_food_absorbed_ug: Ug


class ShoppingItem(Model):
    """An ingredient for the whole plan: ``grams`` is exactly the sum over the meals."""

    food_id: str
    name: str
    servings: float = Field(description="the total in the food table's servings")
    grams: Annotated[float, Field(ge=0, description="total grams [g] over the plan's meals")]
    household: str = Field(description="the total as bought: l or ml for drinks, a count "
                           "of eggs, the dry weight of pasta, rice and pulses with the "
                           "cooked weight beside it, else g or kg")
    aisle: str = Field(description="where it is in a shop (foods/groups.csv aisle)")
    meals: int
    dry_grams: Annotated[float, Field(ge=0)] | None = Field(
        description="what is cooked at home (pasta, rice, pulses), as bought dry [g] "
        "(foods/dry_weights.csv); null: bought as eaten")


class PlanTarget(Model):
    intake_ug: Ug
    absorbed_ug: Ug


class LabelCheck(Model):
    """A fortified food the plan counts: what its label must show for the plan to hold."""

    food_id: str
    name: str
    serving_label: str
    min_ug_per_serving: Ug
    min_ug_per_100g: Ug
    typical: bool = Field(description="the row is a typical level for the market, "
                          "not a particular product")
    text: str


class Plan(Model):
    """A week's plan (product.md §4 "Plan"); the same dict as ``/plan.json``."""

    profile: ResolvedProfile
    assessment: Assessment
    week: Week
    target: PlanTarget
    days: list[PlanDay]
    supplement: PlanSupplement | None
    summary: PlanSummary
    shopping_list: list[ShoppingItem]
    food_plan_chases_b12: bool = Field(
        True, description="false when the supplement covers the target on its own: the "
        "meals are then chosen for variety and safety, not for their B12")
    notes: list[str]
    label_checks: list[LabelCheck]
    disclaimer: str
    no_food_plan: str | None = Field(
        None, description="Set (the reason, in plain words) when the plan has no meals: "
        "babies under about 6 months live on breast milk or formula")


class Food(Model):
    food_id: str
    name: str
    group: FoodGroup
    b12_ug_per_100g: Ug
    serving_g: Annotated[float, Field(gt=0, description="grams [g]")]
    serving_label: str
    b12_ug_per_serving: Ug
    meals: list[MealKind]
    diets: list[Diet]
    allergens: list[Allergen]
    fortified: bool
    source: str
    evidence: Evidence
    notes: str
    counts_as_source: bool
    markets: list[Market] = Field(description="markets where this B12 figure holds; "
                                  "any: the same everywhere")
    tier: Tier
    tier_reason: str


class FoodList(Model):
    count: int
    foods: list[Food]


class GuidelineName(Model):
    code: Guideline
    name: str


class TargetRow(Model):
    guideline: Guideline
    guideline_name: str
    band: str
    age_from_years: float
    age_to_years: float | None = Field(description="null: no upper bound")
    sex: TargetSex
    life_stage: LifeStage
    intake_ug: Ug
    absorbed_ug: Ug
    value_type: str
    status: EvidenceStatus
    source: str
    note: str


class TargetTable(Model):
    guidelines: list[GuidelineName]
    targets: list[TargetRow]


class ErrorItem(Model):
    field: str | None = Field(description="the field at fault, or null")
    message: str


class Error(Model):
    """Every error of the API (product.md §4)."""

    ok: Literal[False]
    status: int
    error: str
    errors: list[ErrorItem] = Field(max_length=MAX_LISTED_ERRORS,
                                    description=f"at most {MAX_LISTED_ERRORS}; see more_errors")
    more_errors: Annotated[int, Field(ge=1)] | None = Field(
        None, description="how many more errors there were than listed (present when any)")
    assessment: Assessment | None = Field(
        None, description="present on a 422 when the profile is valid but no plan can "
        "be made for it: the full assessment, every flag included")


# ---- the OpenAPI document ------------------------------------------------------------

MODELS = (Profile, Assessment, Plan, FoodList, TargetTable, Error)


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_TEXT = {
    400: "Malformed JSON, a body that is not an object, or bad query parameters",
    413: "Body larger than 1 MB",
    415: "Content-Type is not application/json",
    422: "The profile breaks the contract (including impossible combinations, such as "
         "a pregnant man, named by life_stage), or no plan can be made for it; then the "
         "body carries the full assessment with every flag",
    429: "Too many requests from this client address (planner.ratelimit); wait the "
         "seconds in Retry-After",
}


def _rate_limited() -> dict:
    """The 429 every operation may answer, with its Retry-After header."""
    return {**_json(_ref("Error"), ERROR_TEXT[429]), "headers": {"Retry-After": {
        "description": "seconds to wait before the next request",
        "schema": {"type": "integer", "minimum": 0}}}}


def _operation(summary: str, description: str, ok: tuple[str, str], errors: tuple[int, ...],
               body: bool = False, parameters: tuple[dict, ...] = ()) -> dict:
    op: dict = {"summary": summary, "description": description,
                "responses": {"200": _json(_ref(ok[0]), ok[1])}}
    for status in errors:
        op["responses"][str(status)] = _json(_ref("Error"), ERROR_TEXT[status])
    op["responses"]["429"] = _rate_limited()
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref("Profile")}}}
    if parameters:
        op["parameters"] = list(parameters)
    return op


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _or_empty(schema: dict, meaning: str) -> dict:
    """A query parameter that may also be given empty (as an HTML form sends it)."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}],
            "description": f"empty means {meaning}"}


def _with_food_ids(schemas: dict, food_ids: Sequence[str]) -> None:
    """Name the table's food ids as the only valid items of the profile's food lists."""
    schemas["FoodId"] = {"type": "string", "enum": list(food_ids),
                         "description": "a food_id of the composition table (GET /api/v1/foods)"}
    for field in ("include_foods", "exclude_foods"):
        branch = schemas["Profile"]["properties"][field]["anyOf"][0]
        branch["items"] = _ref("FoodId")


def openapi_document(food_ids: Sequence[str] = ()) -> dict:
    """The OpenAPI 3.1 document of ``/api/v1``, generated from the models above.

    ``food_ids`` (the loaded table's ids) become the enum of the profile's
    ``include_foods`` and ``exclude_foods``; without them the id pattern stays.
    """
    _, top = models_json_schema([(m, "validation") for m in MODELS], ref_template=REF)
    if food_ids:
        _with_food_ids(top["$defs"], food_ids)
    body_errors = (400, 413, 415, 422)
    week = _query("week", _or_empty({"type": "string", "pattern": WEEK_PATTERN},
                                    "the server's current week"),
                  f"ISO week of the plan, e.g. 2025-W07, years {WEEK_YEARS[0]} to "
                  f"{WEEK_YEARS[1]} (week 53 is also accepted in years that have one); "
                  "default: the server's current week")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "B12 Planner API",
            "version": "1.0.0",
            "description": "Plan vitamin B12 intake from a real food table, with risk "
                           "flags from cited sources. Information, not medical advice.",
        },
        "paths": {
            "/api/v1/assess": {"post": _operation(
                "Assess a profile",
                "Daily target, risk level and flags (with reasons and sources).",
                ("Assessment", "The assessment"), body_errors, body=True)},
            "/api/v1/plan": {"post": _operation(
                "Plan a week",
                "A plan of B12 sources per meal for the profile's days, from the Monday "
                "of the week. Same profile and week give the same plan. The API is "
                "stateless: it plans from the shared table (GET /api/v1/foods) only; "
                "foods people enter at /foods/mine belong to their browser's cookie "
                "and are a feature of the web pages.",
                ("Plan", "The plan"), body_errors, body=True, parameters=(week,))},
            "/api/v1/foods": {"get": _operation(
                "List foods", "The composition table, richest in B12 per serving first.",
                ("FoodList", "Matching foods"), (400,), parameters=(
                    _query("diet", _or_empty(_ref("Diet"), "any diet"),
                           "only foods that fit this diet"),
                    _query("group", _or_empty(_ref("FoodGroup"), "every group"),
                           "only this food group"),
                    _query("market", _or_empty(_ref("Market"), "every market"),
                           "only foods sold in this market (rows marked any, or naming "
                           "it); any: only foods sold everywhere"),
                    _query("q", {"type": "string", "maxLength": MAX_QUERY_CHARS},
                           "words that must all appear in the name, id or group")))},
            "/api/v1/targets": {"get": _operation(
                "Intake targets",
                "Every guideline's daily intake by age band and life stage, with its "
                "source and the absorbed target it gives.",
                ("TargetTable", "The target table"), ())},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document"),
                              "429": _rate_limited()}}},
        },
        "components": {"schemas": top["$defs"]},
    }
