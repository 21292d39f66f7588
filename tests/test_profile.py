"""Profile validation: every kind of bad input is rejected with the field named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.domain.model import ALLERGENS
from planner.domain.model import CONDITIONS
from planner.domain.model import DIETS
from planner.domain.model import FREQUENCIES
from planner.domain.model import GUIDELINES
from planner.domain.model import LIFE_STAGES
from planner.domain.model import MEDICATIONS
from planner.domain.model import SEXES
from planner.domain.model import SYMPTOMS
from planner.domain.model import Profile
from planner.domain.model import Supplement
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.domain.profile import possible_profile

VALID = {"age_years": 30, "diet": "vegan"}


def errors_for(data) -> list[dict]:
    with pytest.raises(ProfileError) as info:
        parse_profile(data)
    return info.value.errors


def only_error(data) -> dict:
    errors = errors_for(data)
    assert len(errors) == 1, errors
    return errors[0]


def test_the_two_required_fields_are_enough_and_the_rest_get_defaults():
    profile = parse_profile(VALID)
    assert profile == Profile(age_years=30, diet="vegan")
    assert (profile.guideline, profile.meals_per_day, profile.days) == ("us", 3, 7)
    assert profile.supplement is None


def test_a_full_profile_parses_into_its_values():
    profile = parse_profile({
        "age_years": 67.5, "sex": "female", "life_stage": "none", "diet": "vegetarian",
        "guideline": "efsa", "meals_per_day": 4, "days": 14, "allergies": ["milk", "soy"],
        "exclude_foods": ["tofu_firm"], "include_foods": ["soy_drink_fortified_eu"],
        "medications": ["metformin"], "conditions": ["celiac_disease"],
        "symptoms": ["fatigue"], "supplement": {"dose_ug": 2000, "frequency": "weekly"},
    })
    assert profile.allergies == ("milk", "soy")
    assert profile.supplement == Supplement(dose_ug=2000, frequency="weekly")
    assert profile.meal_names == ("breakfast", "lunch", "dinner", "snack")


def test_lists_drop_duplicates_and_keep_their_order():
    profile = parse_profile({**VALID, "symptoms": ["numbness", "fatigue", "numbness"]})
    assert profile.symptoms == ("numbness", "fatigue")


def test_null_means_not_given_for_optional_fields():
    profile = parse_profile({**VALID, "sex": None, "symptoms": None, "supplement": None})
    assert profile == Profile(age_years=30, diet="vegan")


def test_a_whole_float_is_accepted_where_a_whole_number_is_asked():
    assert parse_profile({**VALID, "meals_per_day": 3.0}).meals_per_day == 3


def test_to_dict_parses_back_to_the_same_profile():
    profile = parse_profile({**VALID, "symptoms": ["tingling"],
                             "supplement": {"dose_ug": 10, "frequency": "daily"}})
    assert parse_profile(profile.to_dict()) == profile


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**VALID, "diet": "vegn"}, "diet",
         "diet: 'vegn' is not a diet; choose one of vegan, vegetarian, pescatarian, omnivore"),
        ({**VALID, "sex": "f"}, "sex", "sex: 'f' is not a sex; choose one of female, male, unspecified"),
        ({**VALID, "life_stage": "breastfeeding"}, "life_stage",
         "life_stage: 'breastfeeding' is not a life stage; choose one of none, pregnant, lactating"),
        ({**VALID, "guideline": "fda"}, "guideline", "guideline: 'fda' is not a guideline; choose one of us, efsa"),
        ({**VALID, "diet": 3}, "diet", "diet: this value is not a diet; choose one of vegan"),
        ({**VALID, "allergies": ["nuts"]}, "allergies", "allergies: 'nuts' is not an allergy; choose from milk, egg"),
        ({**VALID, "medications": ["aspirin"]}, "medications", "'aspirin' is not a medication; choose from metformin, ppi"),
        ({**VALID, "conditions": ["flu"]}, "conditions", "'flu' is not a condition; choose from pernicious_anemia"),
        ({**VALID, "symptoms": ["tingle"]}, "symptoms", "'tingle' is not a symptom; choose from tingling"),
        ({**VALID, "colour": "blue"}, "colour", "colour: not a profile field; choose from age_years, sex"),
        ({"diet": "vegan"}, "age_years", "age_years: is required (a number from 0 to 120)"),
        ({"age_years": 30}, "diet", "diet: is required (one of vegan, vegetarian, pescatarian, omnivore)"),
        ({"age_years": None, "diet": "vegan"}, "age_years", "age_years: is required"),
        ({**VALID, "age_years": "30"}, "age_years", "age_years: must be a number from 0 to 120"),
        ({**VALID, "age_years": True}, "age_years", "age_years: must be a number from 0 to 120"),
        ({**VALID, "age_years": -1}, "age_years", "age_years: must be a number from 0 to 120"),
        ({**VALID, "age_years": 121}, "age_years", "age_years: must be a number from 0 to 120"),
        ({**VALID, "age_years": float("nan")}, "age_years", "must be a number from 0 to 120"),
        ({**VALID, "meals_per_day": 6}, "meals_per_day", "meals_per_day: must be a whole number from 2 to 5"),
        ({**VALID, "meals_per_day": 1}, "meals_per_day", "meals_per_day: must be a whole number from 2 to 5"),
        ({**VALID, "meals_per_day": 2.5}, "meals_per_day", "must be a whole number from 2 to 5"),
        ({**VALID, "meals_per_day": False}, "meals_per_day", "must be a whole number from 2 to 5"),
        ({**VALID, "days": 0}, "days", "days: must be a whole number from 1 to 14"),
        ({**VALID, "days": 15}, "days", "days: must be a whole number from 1 to 14"),
        ({**VALID, "symptoms": "tingling"}, "symptoms", "symptoms: must be a list of strings"),
        ({**VALID, "symptoms": [1]}, "symptoms", "symptoms: every item must be a string"),
        ({**VALID, "include_foods": ["Soy Milk"]}, "include_foods",
         "include_foods: 'Soy Milk' is not a food id; use lowercase letters, digits and underscores"),
        ({**VALID, "exclude_foods": ["tofu-firm"]}, "exclude_foods", "'tofu-firm' is not a food id"),
        ({**VALID, "exclude_foods": {"tofu": 1}}, "exclude_foods", "must be a list of strings"),
        ({**VALID, "supplement": 10}, "supplement", "supplement: must be null or an object with dose_ug and frequency"),
        ({**VALID, "supplement": {"dose_ug": 0, "frequency": "daily"}}, "supplement.dose_ug",
         "supplement.dose_ug: must be a number above 0 and at most 10000"),
        ({**VALID, "supplement": {"dose_ug": 10001, "frequency": "daily"}}, "supplement.dose_ug",
         "must be a number above 0 and at most 10000"),
        ({**VALID, "supplement": {"dose_ug": True, "frequency": "daily"}}, "supplement.dose_ug",
         "must be a number above 0"),
        ({**VALID, "supplement": {"dose_ug": 10, "frequency": "monthly"}}, "supplement.frequency",
         "supplement.frequency: 'monthly' is not a frequency; choose one of daily, weekly"),
        ({**VALID, "supplement": {"dose_ug": 10}}, "supplement.frequency", "supplement.frequency: is required"),
        ({**VALID, "supplement": {"dose_ug": 10, "frequency": "daily", "brand": "x"}},
         "supplement.brand", "supplement.brand: not a supplement field; choose from dose_ug, frequency"),
    ],
)
def test_bad_input_is_rejected_with_the_field_named(data, field, message):
    error = only_error(data)
    assert error["field"] == field
    assert message in error["message"]


@pytest.mark.parametrize("data", [None, [], "vegan", 30])
def test_a_profile_must_be_an_object(data):
    assert only_error(data) == {"field": "profile", "message": "profile: must be a JSON object"}


def test_all_problems_are_reported_at_once():
    errors = errors_for({"diet": "vegn", "days": 99, "symptoms": ["tingle", "itch"], "x": 1})
    fields = [e["field"] for e in errors]
    assert sorted(fields) == ["age_years", "days", "diet", "symptoms", "symptoms", "x"]


def test_the_error_text_lists_every_problem():
    with pytest.raises(ProfileError) as info:
        parse_profile({"diet": "vegn"})
    assert "diet: 'vegn' is not a diet" in str(info.value)
    assert "age_years: is required" in str(info.value)


valid_profiles = st.fixed_dictionaries(
    {"age_years": st.one_of(st.integers(0, 120), st.floats(0, 120)),
     "diet": st.sampled_from(DIETS)},
    optional={
        "sex": st.sampled_from(SEXES),
        "life_stage": st.sampled_from(LIFE_STAGES),
        "guideline": st.sampled_from(GUIDELINES),
        "meals_per_day": st.integers(2, 5),
        "accept_supplement": st.booleans(),
        "days": st.integers(1, 14),
        "allergies": st.lists(st.sampled_from(ALLERGENS)),
        "include_foods": st.lists(st.from_regex(r"[a-z0-9_]{1,20}", fullmatch=True)),
        "exclude_foods": st.lists(st.from_regex(r"[a-z0-9_]{1,20}", fullmatch=True)),
        "medications": st.lists(st.sampled_from(MEDICATIONS)),
        "conditions": st.lists(st.sampled_from(CONDITIONS)),
        "symptoms": st.lists(st.sampled_from(SYMPTOMS)),
        "supplement": st.none() | st.fixed_dictionaries({
            "dose_ug": st.floats(0.01, 10_000), "frequency": st.sampled_from(FREQUENCIES)}),
    },
).filter(possible_profile)  # a pregnant man is refused (issue 12)


@given(data=valid_profiles)
def test_any_valid_profile_parses_and_survives_a_round_trip(data):
    profile = parse_profile(data)
    assert parse_profile(profile.to_dict()) == profile
    for field in ("allergies", "symptoms", "include_foods"):
        assert list(getattr(profile, field)) == list(dict.fromkeys(data.get(field, [])))


@given(data=valid_profiles, field=st.sampled_from(["diet", "sex", "life_stage", "guideline"]),
       junk=st.text(min_size=1).filter(lambda s: s not in DIETS + SEXES + LIFE_STAGES + GUIDELINES))
def test_any_unknown_word_is_rejected_and_names_the_field(data, field, junk):
    error = only_error({**data, field: junk})
    assert error["field"] == field
    assert "choose one of" in error["message"]


# ---- any input at all: a Profile, or a ProfileError naming fields ---------------------

CONTRACT_FIELDS = tuple(Profile.__dataclass_fields__)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=10)
junk_profiles = st.dictionaries(st.sampled_from(CONTRACT_FIELDS) | st.text(max_size=15),
                                json_values, max_size=8)


def named_field(error: dict, data) -> str:
    """The input key an error is about: ``supplement.dose_ug`` → ``supplement``."""
    field = error["field"]
    assert isinstance(field, str), error
    assert error["message"].startswith(f"{field}:"), error
    top = field.split(".", 1)[0] if field.startswith("supplement.") else field
    assert top in data or top in CONTRACT_FIELDS or top == "profile", (top, data)
    return top


@given(data=junk_profiles | json_values)
def test_any_json_value_gives_a_profile_or_a_profile_error_naming_each_field(data):
    try:
        profile = parse_profile(data)
    except ProfileError as e:
        assert e.errors
        for error in e.errors:
            named_field(error, data if isinstance(data, dict) else {})
        return
    assert isinstance(data, dict) and set(data) <= set(CONTRACT_FIELDS)
    assert parse_profile(profile.to_dict()) == profile


_NUMBER_FIELDS = ("age_years", "meals_per_day", "days")
_WORD_FIELDS = ("diet", "sex", "life_stage", "guideline")
_LIST_FIELDS = ("allergies", "include_foods", "exclude_foods", "medications", "conditions",
                "symptoms")
_not_number = st.text() | st.booleans() | st.lists(st.integers(), max_size=2) | st.dictionaries(
    st.text(max_size=3), st.integers(), max_size=2)
_not_string = (st.integers() | st.floats() | st.booleans()
               | st.lists(st.text(max_size=5), max_size=2) | st.dictionaries(
                   st.text(max_size=3), st.text(max_size=3), max_size=2))
WRONG_TYPES = {
    **dict.fromkeys(_NUMBER_FIELDS, _not_number),
    **dict.fromkeys(_WORD_FIELDS, _not_string),
    **dict.fromkeys(_LIST_FIELDS, st.text() | st.integers() | st.booleans()
                    | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)
                    | st.lists(st.integers() | st.booleans() | st.lists(st.text(), max_size=1),
                               min_size=1, max_size=3)),
    "supplement": st.text() | st.integers() | st.booleans() | st.lists(st.integers(),
                                                                       max_size=2),
}
OUT_OF_VOCABULARY = {"allergies": ALLERGENS, "medications": MEDICATIONS,
                     "conditions": CONDITIONS, "symptoms": SYMPTOMS}


@given(data=valid_profiles, field=st.sampled_from(sorted(WRONG_TYPES)), choice=st.data())
def test_a_value_of_the_wrong_type_is_rejected_naming_its_field(data, field, choice):
    wrong = choice.draw(WRONG_TYPES[field])

    errors = errors_for({**data, field: wrong})

    assert {e["field"] for e in errors} == {field}


@given(data=valid_profiles, key=st.text(min_size=1, max_size=30).filter(
    lambda k: k not in CONTRACT_FIELDS), value=json_values)
def test_an_unknown_key_is_rejected_naming_it(data, key, value):
    error = only_error({**data, key: value})

    assert error["field"] == key
    assert "not a profile field; choose from age_years" in error["message"]


@given(data=valid_profiles, field=st.sampled_from(sorted(OUT_OF_VOCABULARY)), choice=st.data())
def test_an_unknown_list_value_is_rejected_naming_its_field(data, field, choice):
    words = OUT_OF_VOCABULARY[field]
    junk = choice.draw(st.text(min_size=1, max_size=20).filter(lambda w: w not in words))

    error = only_error({**data, field: [*words[:1], junk]})

    assert error["field"] == field
    assert repr(junk) in error["message"] and "choose from" in error["message"]
