"""``b12planner plan``: formats, stdin, the default week and input errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from click.testing import CliRunner

from planner.commands.plan import CSV_COLUMNS
from planner.commands.plan import current_week
from planner.commands.plan import plan

VEGAN = {"age_years": 30, "diet": "vegan", "days": 3}


@pytest.fixture
def cli():
    return CliRunner()


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(VEGAN), encoding="utf-8")
    return path


def test_json_is_the_plan_contract(cli, profile_file):
    result = cli.invoke(plan, [str(profile_file), "--week", "2025-W07"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["week"] == "2025-W07"
    assert [d["date"] for d in data["days"]] == ["2025-02-10", "2025-02-11", "2025-02-12"]
    assert {"profile", "assessment", "days", "supplement", "summary",
            "shopping_list"} <= data.keys()


def test_the_profile_can_come_from_stdin(cli):
    result = cli.invoke(plan, ["-", "--week", "2025-W07"], input=json.dumps(VEGAN))
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["days"]) == 3


def test_text_shows_each_day_the_summary_and_the_disclaimer(cli, profile_file):
    result = cli.invoke(plan, [str(profile_file), "--week", "2025-W07", "--format", "text"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Day 1, Monday 2025-02-10" in out
    assert "Day 3, Wednesday 2025-02-12" in out
    assert "Summary: 3 of 3 days covered" in out
    assert "not medical advice" in out


def test_csv_has_one_row_per_item_and_supplement_dose(cli, profile_file):
    result = cli.invoke(plan, [str(profile_file), "--week", "2025-W07", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    data = json.loads(cli.invoke(plan, [str(profile_file), "--week", "2025-W07"]).stdout)
    items = sum(len(m["ingredients"]) for d in data["days"] for m in d["meals"])
    doses = sum(1 for d in data["days"] if d["supplement_ug"])
    assert len(rows) == items + doses


def test_the_week_defaults_to_the_current_one(cli, profile_file):
    result = cli.invoke(plan, [str(profile_file)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["week"] == current_week(date.today())


def test_current_week_uses_the_iso_year():
    assert current_week(date(2024, 12, 30)) == "2025-W01"
    assert current_week(date(2021, 1, 3)) == "2020-W53"


@pytest.mark.parametrize("week", ["2025-7", "next week", "2025-W54"])
def test_a_bad_week_exits_2_with_the_valid_form(cli, profile_file, week):
    result = cli.invoke(plan, [str(profile_file), "--week", week])
    assert result.exit_code == 2
    assert "YYYY-Www" in result.stderr
    assert "Traceback" not in result.output


def test_bad_json_exits_2_without_a_traceback(cli):
    result = cli.invoke(plan, ["-"], input="{not json")
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_an_invalid_profile_names_the_field(cli):
    result = cli.invoke(plan, ["-"], input=json.dumps({"age_years": 30, "diet": "keto"}))
    assert result.exit_code == 2
    assert "diet: 'keto' is not a diet" in result.stderr
    assert "diet: diet" not in result.stderr  # the field is named once
    assert "vegan" in result.stderr  # the valid choices are listed


def test_unknown_food_ids_name_the_field(cli):
    data = {**VEGAN, "include_foods": ["moon_cheese"]}
    result = cli.invoke(plan, ["-", "--week", "2025-W07"], input=json.dumps(data))
    assert result.exit_code == 2
    assert "include_foods" in result.stderr
    assert "moon_cheese" in result.stderr


def test_a_missing_file_is_a_usage_error(cli, tmp_path):
    result = cli.invoke(plan, [str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
