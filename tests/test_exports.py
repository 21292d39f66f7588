"""planner/pages/exports.py: the plan as CSV and iCalendar, from a real plan."""

from __future__ import annotations

import csv
import io

import pytest

from foods.loader import load_foods
from planner.data.loader import load_reference
from planner.domain.planning import make_plan
from planner.domain.profile import parse_profile
from planner.pages import exports

WEEK = "2025-W07"


@pytest.fixture(scope="module")
def plan() -> dict:
    profile = parse_profile({"age_years": 34, "diet": "vegan", "days": 7})
    return make_plan(profile, load_foods(), week=WEEK, reference=load_reference()).to_dict()


def test_the_csv_has_the_header_and_one_row_per_ingredient_and_supplement_day(plan):
    rows = list(csv.DictReader(io.StringIO(exports.plan_csv(plan, WEEK))))
    assert tuple(rows[0].keys()) == exports.CSV_COLUMNS
    ingredients = sum(len(m["ingredients"]) for d in plan["days"] for m in d["meals"])
    supplement_days = sum(1 for d in plan["days"] if d["supplement_ug"])
    assert len(rows) == ingredients + supplement_days
    assert {r["date"] for r in rows} <= {d["date"] for d in plan["days"]}
    first_day = plan["days"][0]
    first_meal = first_day["meals"][0]
    first_item = first_meal["ingredients"][0]
    row = rows[0]
    assert (row["day"], row["meal"], row["food_id"]) == (
        str(first_day["day"]), first_meal["meal"], first_item["food_id"])
    assert float(row["b12_ug"]) == pytest.approx(first_item["b12_ug"])
    assert row["day_covered"] == str(first_day["covered"]).lower()


def test_the_ics_is_crlf_folded_and_has_an_event_per_meal(plan):
    text = exports.plan_ics(plan, WEEK)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    meals = sum(len(d["meals"]) for d in plan["days"])
    supplement_days = sum(1 for d in plan["days"] if d["supplement_ug"])
    assert text.count("BEGIN:VEVENT") == meals + supplement_days
    # The first meal of the plan starts on the week's Monday (2025-02-10).
    assert "DTSTART:20250210T" in text


def test_the_ics_is_the_same_for_the_same_plan_and_week(plan):
    assert exports.plan_ics(plan, WEEK) == exports.plan_ics(plan, WEEK)
    uids = [line for line in exports.plan_ics(plan, WEEK).split("\r\n")
            if line.startswith("UID:")]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize(("text", "escaped"), [
    ("a;b,c", "a\\;b\\,c"),
    ("back\\slash", "back\\\\slash"),
    ("one\r\ntwo\nthree", "one\\ntwo\\nthree"),
])
def test_ics_text_is_escaped(text, escaped):
    assert exports.ics_escape(text) == escaped


def test_folding_never_splits_a_character():
    line = "DESCRIPTION:" + "µ" * 80
    folded = exports.fold(line)
    pieces = folded.split("\r\n ")
    assert "".join(pieces) == line
    assert all(len(p.encode("utf-8")) <= 75 for p in pieces)
