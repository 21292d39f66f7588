"""Query arguments (the profile form, bookmarked plan URLs) → a validated Profile.

The form submits with GET using the profile's own field names (product.md §4),
lists as repeated keys (``allergies=soy&allergies=milk``) and the supplement
as two flat fields, ``supplement_dose_ug`` and ``supplement_frequency``. This
module only turns text into the JSON-like dict the contract describes
(numbers become numbers, blanks are dropped); :func:`parse_profile` does all
the checking, and its messages are mapped back to the form's field names.
The handout and subscription forms reuse :func:`profile_from_args`, passing
their own extra field names.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable
from datetime import date

from flask import current_app
from werkzeug.datastructures import MultiDict

from planner.domain.model import LAB_TESTS
from planner.domain.model import Profile
from planner.domain.profile import ImpossibleProfile
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.domain.week import WEEK_YEARS
from planner.domain.week import in_week_years
from planner.domain.week import is_week
from planner.domain.week import week_of
from planner.errors import InvalidInput
from planner.numbers import parse_number
from planner.numbers import without_ug_unit

_FIELDS = {f.name: f for f in dataclasses.fields(Profile)}
#: Lab results, flattened for HTML: one result per test, ``lab_<test>_value``,
#: ``lab_<test>_unit`` and ``lab_<test>_date`` (issue 14).
LAB_PARTS = ("value", "unit", "date")
LAB_FIELDS = {f"lab_{test}_{part}": (test, part) for test in LAB_TESTS for part in LAB_PARTS}
#: Profile fields given as repeated keys.
LIST_FIELDS = tuple(n for n, f in _FIELDS.items() if f.default == () and n != "labs")
#: Profile fields whose text is converted to a number before parsing.
NUMBER_FIELDS = tuple(n for n, f in _FIELDS.items() if f.type in ("float", "int"))
NUMBER_FIELDS += ("folic_acid_ug", "months_without_b12")
#: The nested supplement object, flattened for HTML: form field → key in ``supplement``.
SUPPLEMENT_FIELDS = {"supplement_dose_ug": "dose_ug", "supplement_frequency": "frequency",
                     "supplement_every_weeks": "every_weeks"}
NUMBER_FIELDS += ("supplement_dose_ug", "supplement_every_weeks",
                  *(f"lab_{test}_value" for test in LAB_TESTS))
#: Profile fields given as yes/no; the form sends ``true`` or ``false``.
BOOLEAN_FIELDS = tuple(n for n, f in _FIELDS.items() if f.type == "bool") + ("mother_takes_b12",)
BOOLEAN_WORDS = {"true": True, "false": False}
#: Every profile field as the form names it.
FORM_FIELDS = (tuple(n for n in _FIELDS if n not in ("supplement", "labs"))
               + tuple(SUPPLEMENT_FIELDS) + tuple(LAB_FIELDS))
#: Default of each optional profile field, for pre-selecting the form's choices.
PROFILE_DEFAULTS = {n: f.default for n, f in _FIELDS.items()
                    if f.default is not dataclasses.MISSING}
#: Fields of the plan request that are not part of the profile.
PLAN_FIELDS = ("week",)

#: A day as ``<input type=date>`` sends it, ``YYYY-MM-DD``; it stands for its ISO week.
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def current_week(today: date) -> str:
    """The ISO week of ``today`` as ``YYYY-Www``."""
    return week_of(today)


def week_from_args(args: MultiDict, today: date, days: bool = True) -> str:
    """:func:`parse_week` of the ``week`` argument, which may be given once only."""
    values = [v for v in args.getlist("week") if v.strip()]
    if len(values) > 1:
        raise InvalidInput([{"field": "week", "message": f"give one value, not {len(values)}"}])
    return parse_week(values[0] if values else None, today, days)


def parse_week(text: str | None, today: date, days: bool = True) -> str:
    """A valid ``YYYY-Www`` week, or the week of ``today`` when blank. With ``days``
    (the pages' date picker), a day ``YYYY-MM-DD`` stands for its week; the JSON API
    passes False and takes ISO weeks only."""
    text = (text or "").strip()
    if not text:
        return current_week(today)
    if days and DAY.match(text):  # the form's date picker: any day picks its ISO week
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None and in_week_years(day):
            return week_of(day)
    valid = is_week(text)
    if not valid and not days:
        raise InvalidInput([{"field": "week", "message": (
            f"{text!r} is not an ISO week; write it as YYYY-Www, e.g. "
            f"{current_week(today)}, with a year from {WEEK_YEARS[0]} to {WEEK_YEARS[1]}")}])
    if not valid:
        raise InvalidInput([{"field": "week", "message": (
            f"{text!r} is not a day or an ISO week; pick a day (YYYY-MM-DD, e.g. "
            f"{today.isoformat()}) or write the week as YYYY-Www, e.g. "
            f"{current_week(today)}, with a year from {WEEK_YEARS[0]} to {WEEK_YEARS[1]}")}])
    return text


def _number(text: str) -> int | float | None:
    """``"3"`` → 3, ``"2.5"`` → 2.5; None when not a number in ASCII digits.

    A huge one (``1`` and 309 zeros, 5,000 digits) is ±inf, which
    ``parse_profile`` refuses with the field's range (:mod:`planner.numbers`).
    """
    return parse_number(text)


def visible(text: str) -> bool:
    """Whether ``text`` has a character one can see: a letter, digit, punctuation
    or symbol (not only spaces, zero-width or other format characters)."""
    return any(unicodedata.category(c)[0] in "LNPS" for c in text)


def form_field(field: str | None) -> str | None:
    """A field name from ``parse_profile`` as the form names it.

    ``allergies[3]`` → ``allergies``; ``supplement.dose_ug`` → ``supplement_dose_ug``.
    """
    if not field:
        return field
    name = re.split(r"[\[]", field, maxsplit=1)[0]
    for flat, key in SUPPLEMENT_FIELDS.items():
        if name in (f"supplement.{key}", f"supplement_{key}"):
            return flat
    return name


def _place(key: str, value, data: dict, supplement: dict, labs: dict[str, dict]) -> None:
    """Put one form value where the contract has it: the supplement object, a lab
    result (``lab_<test>_<part>``) or the profile itself."""
    if key in SUPPLEMENT_FIELDS:
        supplement[SUPPLEMENT_FIELDS[key]] = value
    elif key in LAB_FIELDS:
        test, part = LAB_FIELDS[key]
        labs.setdefault(test, {"test": test})[part] = value
    else:
        data[key] = value


def _values(args: MultiDict, key: str) -> list[str]:
    """The non-blank values of ``key``; micrograms may come with their unit ("0.6 mcg")."""
    values = [v.strip() for v in args.getlist(key) if v.strip()]
    return [without_ug_unit(v) for v in values] if key.endswith("_ug") else values


def _read_args(args: MultiDict, extra: set[str]) -> tuple[dict, list[dict]]:
    """The contract-shaped dict of the usable arguments, and the problems found
    with the others (unknown or repeated fields, text where a number belongs)."""
    data: dict = {}
    supplement: dict = {}
    labs: dict[str, dict] = {}
    errors: list[dict] = []
    for key in args:
        if key in extra:
            continue
        problem = _read_arg(key, _values(args, key), extra, data, supplement, labs)
        if problem:
            errors.append({"field": key, "message": problem})
    if supplement:
        data["supplement"] = supplement
    # the unit is a select that always sends a value: a test counts once it has a value or a date
    filled = [labs[t] for t in LAB_TESTS if t in labs and ({"value", "date"} & set(labs[t]))]
    if filled:
        data["labs"] = filled
    return data, errors


def _read_arg(key: str, values: list[str], extra: set[str], data: dict, supplement: dict,
              labs: dict[str, dict]) -> str | None:
    """Put one argument's values where they belong; the problem with them, if any."""
    if key not in FORM_FIELDS:
        return ("is not a field of the profile; valid fields are "
                f"{', '.join(FORM_FIELDS + tuple(sorted(extra)))}")
    if key in LIST_FIELDS:
        data[key] = values
        return None
    if len(values) > 1:
        return f"give one value, not {len(values)}"
    if not values:
        return None
    if key in NUMBER_FIELDS and _number(values[0]) is None:
        return f"{values[0][:40]!r} is not a number"
    if key in BOOLEAN_FIELDS:
        if values[0].lower() not in BOOLEAN_WORDS:
            return f"{values[0][:40]!r} is not a choice; choose true or false"
        data[key] = BOOLEAN_WORDS[values[0].lower()]
        return None
    value = _number(values[0]) if key in NUMBER_FIELDS else values[0]
    _place(key, value, data, supplement, labs)
    return None


def _lab_error(error: dict, data: dict) -> dict:
    """A ``labs`` error (``labs: item 2 unit: …``) on the form field of that test and part."""
    m = re.match(r"^labs: item (\d+) (value|unit|date)?:? ?(.*)$", error["message"])
    items = data.get("labs") or []
    if not m or not 0 < int(m.group(1)) <= len(items):
        return {"field": "labs", "message": without_field(error)}
    test = items[int(m.group(1)) - 1].get("test")
    part = m.group(2) or "value"
    return {"field": f"lab_{test}_{part}", "message": m.group(3)}


def profile_from_args(args: MultiDict, extra: Iterable[str] = ()) -> Profile:
    """A validated Profile from form or query arguments.

    ``extra`` names arguments that belong to the caller's form (``week``,
    ``csrf_token``…) and are skipped. Raises :class:`InvalidInput` (status
    400) listing every problem at once, each naming a form field; status 422
    when every field is valid but some cannot be true together (a pregnant
    man: :class:`~planner.domain.profile.ImpossibleProfile`, naming ``life_stage``).
    """
    status = 400
    data, errors = _read_args(args, set(extra))
    for problem in too_many_values(data, current_app.config["MAX_LIST_VALUES"]):
        del data[problem["field"]]
        errors.append({"field": problem["field"], "message": without_field(problem)})
    try:
        profile = parse_profile(data)
    except ProfileError as e:
        if isinstance(e, ImpossibleProfile) and not errors:
            status = 422
        seen = {err["field"] for err in errors}
        errors += [_lab_error(err, data) if err.get("field") == "labs" else
                   {"field": form_field(err.get("field")), "message": without_field(err)}
                   for err in e.errors if form_field(err.get("field")) not in seen]
    if errors:
        raise InvalidInput(errors, status=status)
    return profile


def without_field(error: dict) -> str:
    """The message without its leading ``field:``; the form shows it next to the field."""
    prefix = f"{error.get('field')}: "
    message = error["message"]
    return message[len(prefix):] if message.startswith(prefix) else message


def too_many_values(data: dict, limit: int) -> list[dict]:
    """Errors for list fields of a profile dict holding more than ``limit`` items."""
    return [{"field": key, "message": f"{key}: has {len(data[key])} values; at most "
                                      f"{limit} are accepted"}
            for key in LIST_FIELDS if isinstance(data.get(key), list) and len(data[key]) > limit]


def plan_request_from_args(args: MultiDict, today: date) -> tuple[Profile, str]:
    """The profile and week of a ``/plan`` request; every problem reported at once."""
    errors: list[dict] = []
    statuses: list[int] = []
    profile = week = None
    try:
        profile = profile_from_args(args, extra=PLAN_FIELDS)
    except InvalidInput as e:
        errors += e.errors
        statuses.append(e.status)
    try:
        week = week_from_args(args, today)
    except InvalidInput as e:
        errors += e.errors
        statuses.append(e.status)
    if errors:
        raise InvalidInput(errors, status=statuses[0] if len(statuses) == 1 else 400)
    return profile, week


def errors_by_field(errors: Iterable[dict]) -> dict[str, list[str]]:
    """``{field: [messages]}`` for showing each message next to its field."""
    grouped: dict[str, list[str]] = {}
    for e in errors:
        grouped.setdefault(e.get("field") or "", []).append(e["message"])
    return grouped
