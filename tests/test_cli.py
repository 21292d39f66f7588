"""The ``b12planner`` command as a newcomer meets it (issue 15): ``--help`` on a fresh
clone, a clear message from commands that need the secret, and ``plan``/``assess``
planning from the same layered food table as the app."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from foods.loader import TABLE_COLUMNS as COLUMNS
from planner.app import create_app
from planner.commands.assess import assess
from planner.commands.plan import plan
from planner.domain.profile import parse_profile

ROOT = Path(__file__).resolve().parent.parent
WEEK = "2025-W07"
EVERY_COMMAND = ("assess", "db", "dishes", "foods", "handouts", "handouts-worker", "plan",
                 "routes", "run", "send-weekly", "shell", "subscribers", "worker")


def fresh_env(instance: Path) -> dict[str, str]:
    """No B12_* settings at all, and an empty instance folder (no config.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B12_", "FLASK_"))}
    env["B12_INSTANCE_PATH"] = str(instance)
    return env


def b12planner(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from planner.cli import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_help_on_a_fresh_clone_lists_every_command_without_a_traceback(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    result = b12planner(["--help"], fresh_env(instance), tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""
    listed = result.stdout.split("Commands:", 1)[1]
    listed_names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert set(EVERY_COMMAND) <= listed_names
    assert not (instance / "config.py").exists()


@pytest.mark.parametrize("command", [["routes"], ["db", "current"], ["send-weekly"]])
def test_a_command_that_needs_the_secret_says_so_and_exits_2(tmp_path, command):
    instance = tmp_path / "instance"
    instance.mkdir()
    result = b12planner(command, fresh_env(instance), tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "SECRET_KEY is not set" in result.stderr
    assert "B12_SECRET_KEY" in result.stderr


def test_plan_and_assess_need_no_secret(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"age_years": 34, "diet": "vegan"}))
    result = b12planner(["plan", str(profile), "--week", WEEK], fresh_env(instance), tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["week"] == WEEK


def user_table(tmp_path: Path) -> Path:
    """A user table with one food the shipped table does not have."""
    path = tmp_path / "my_foods.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow({
            "food_id": "house_oat_drink_b12", "name": "House oat drink with B12",
            "group": "plant_drink", "b12_ug_per_100g": "0.9", "serving_g": "240",
            "serving_label": "1 cup (240 ml)", "meals": "breakfast;lunch;dinner;snack",
            "diets": "vegan;vegetarian;pescatarian;omnivore", "allergens": "",
            "fortified": "true", "source": "label:house oat drink test", "evidence": "label",
            "notes": "", "markets": "us"})
    return path


def test_the_plan_command_plans_from_the_apps_layered_table(tmp_path, monkeypatch):
    table = user_table(tmp_path)
    monkeypatch.setenv("B12_USER_FOODS_CSV", str(table))
    monkeypatch.setenv("B12_INSTANCE_PATH", str(tmp_path))
    answers = {"age_years": 34, "diet": "vegan", "include_foods": ["house_oat_drink_b12"]}
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(answers))

    result = CliRunner().invoke(plan, [str(profile), "--week", WEEK])

    assert result.exit_code == 0, result.output
    cli_plan = json.loads(result.stdout)
    used = {i["food_id"] for d in cli_plan["days"] for m in d["meals"] for i in m["ingredients"]}
    assert "house_oat_drink_b12" in used
    # The app, given the same setting, makes the same plan.
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "USER_FOODS_CSV": str(table)})
    from planner import services

    with app.app_context():
        web_plan = services.build_plan(parse_profile(answers), WEEK).to_dict()
    assert web_plan == cli_plan


def test_the_plan_command_refuses_the_user_food_without_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("B12_USER_FOODS_CSV", raising=False)
    monkeypatch.setenv("B12_INSTANCE_PATH", str(tmp_path))
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"age_years": 34, "diet": "vegan",
                                   "include_foods": ["house_oat_drink_b12"]}))
    result = CliRunner().invoke(plan, [str(profile), "--week", WEEK])
    assert result.exit_code == 2
    assert "house_oat_drink_b12" in result.stderr


def test_the_assess_command_reads_the_layered_table(tmp_path, monkeypatch):
    table = user_table(tmp_path)
    monkeypatch.setenv("B12_USER_FOODS_CSV", str(table))
    monkeypatch.setenv("B12_INSTANCE_PATH", str(tmp_path))
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"age_years": 34, "diet": "vegan",
                                   "include_foods": ["house_oat_drink_b12"]}))

    result = CliRunner().invoke(assess, [str(profile)])

    assert result.exit_code == 0, result.output
    assert "food table not loaded" not in result.stderr
    with_table = json.loads(result.stdout)
    monkeypatch.delenv("B12_USER_FOODS_CSV")
    without = json.loads(CliRunner().invoke(assess, [str(profile)]).stdout)
    assert with_table != without  # the user food counts as fortified only with the table
