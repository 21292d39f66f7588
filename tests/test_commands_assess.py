"""``b12planner assess PATH``: JSON or text out, clear errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.commands.assess import assess

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTRACT = {"target", "risk_level", "flags", "disclaimer"}


@pytest.fixture
def cli():
    return CliRunner()


def write(tmp_path: Path, data, name="profile.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_prints_the_assessment_as_indented_json(cli, tmp_path):
    result = cli.invoke(assess, [write(tmp_path, {"age_years": 30, "diet": "vegan"})])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert CONTRACT <= set(out)
    assert out["target"]["intake_ug"] == 2.4
    assert out["flags"][0]["code"] == "supplement"
    assert result.stdout.startswith('{\n  "target"')


def test_reads_the_profile_from_stdin_with_a_dash(cli):
    profile = json.dumps({"age_years": 70, "diet": "omnivore", "medications": ["metformin"]})
    result = cli.invoke(assess, ["-"], input=profile)
    assert result.exit_code == 0, result.output
    codes = {f["code"]: f["level"] for f in json.loads(result.stdout)["flags"]}
    assert codes == {"medical_check": "routine", "supplement": "advised"}


def test_text_format_is_readable_and_keeps_the_disclaimer(cli, tmp_path):
    profile = {"age_years": 30, "diet": "vegan", "symptoms": ["tingling"]}
    result = cli.invoke(assess, [write(tmp_path, profile), "--format", "text"])
    assert result.exit_code == 0, result.output
    assert "Risk level: high" in result.stdout
    assert "Medical check (soon): See a doctor soon about nerve symptoms" in result.stdout
    assert "methylmalonic acid (MMA)" in result.stdout
    assert "not medical advice" in result.stdout


def test_text_format_shows_the_comparison_tables_for_leg_pain(cli, tmp_path):
    profile = {"age_years": 50, "diet": "omnivore", "symptoms": ["leg_pain"]}
    result = cli.invoke(assess, [write(tmp_path, profile), "--format", "text"])
    assert "Sciatica:" in result.stdout and "Rheumatoid arthritis:" in result.stdout


def test_own_fortified_foods_are_recognised_from_the_food_table(cli, tmp_path):
    # a US profile: a food of its own market (one of another market is not counted)
    profile = {"age_years": 30, "diet": "vegan",
               "include_foods": ["soy_drink_fortified_unsweetened"]}
    out = json.loads(cli.invoke(assess, [write(tmp_path, profile)]).stdout)
    supplement = next(f for f in out["flags"] if f["code"] == "supplement")
    assert supplement["level"] == "advised"
    assert supplement["rules"] == ["vegan_fortified_foods_only"]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"age_years": 30, "diet": "vegn"},
         "diet: 'vegn' is not a diet; choose one of vegan, vegetarian, pescatarian, omnivore"),
        ({"diet": "vegan"}, "age_years: is required"),
        ({"age_years": 30, "diet": "vegan", "symptoms": ["tingle"]},
         "symptoms: 'tingle' is not a symptom; choose from tingling"),
        ({"age_years": 30, "diet": "vegan", "supplement": {"dose_ug": 10, "frequency": "hourly"}},
         "supplement.frequency: 'hourly' is not a frequency; choose one of daily, weekly"),
        ([1, 2], "profile: must be a JSON object"),
    ],
)
def test_an_invalid_profile_exits_2_naming_the_field_and_choices(cli, tmp_path, profile, expected):
    result = cli.invoke(assess, [write(tmp_path, profile)])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_all_problems_are_listed_on_stderr(cli, tmp_path):
    result = cli.invoke(assess, [write(tmp_path, {"diet": "vegn", "days": 40})])
    assert result.exit_code == 2
    for field in ("age_years", "diet", "days"):
        assert f"{field}:" in result.stderr


@pytest.mark.parametrize("text", ["{not json", "", "\x00"])
def test_input_that_is_not_json_exits_2_without_a_traceback(cli, tmp_path, text):
    result = cli.invoke(assess, [write(tmp_path, text)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_input_that_is_not_utf8_exits_2(cli, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"diet": "végan"}'.encode("latin-1"))
    result = cli.invoke(assess, [str(path)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


def test_a_missing_file_is_a_usage_error(cli, tmp_path):
    result = cli.invoke(assess, [str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "No such file" in result.stderr


@pytest.mark.parametrize("name", ["vegan.json", "older_omnivore.json", "pernicious_anaemia.json"])
def test_the_example_profiles_assess_cleanly(cli, name):
    result = cli.invoke(assess, [str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output
    assert CONTRACT <= set(json.loads(result.stdout))


def test_the_pernicious_anaemia_example_is_flagged_for_treatment(cli):
    out = json.loads(cli.invoke(assess, [str(EXAMPLES / "pernicious_anaemia.json")]).stdout)
    assert [f["code"] for f in out["flags"]][:2] == ["malabsorption", "medical_check"]
    assert out["intrinsic_factor"] is False
    assert out["risk_level"] == "high"


SEED_FILE = r"\b00[02]_[0-9a-f]{16}\.txt"


@pytest.mark.parametrize("profile", [
    {"age_years": 58, "sex": "female", "diet": "vegetarian",
     "conditions": ["pernicious_anemia"], "symptoms": ["tingling"]},
    {"age_years": 38, "sex": "female", "diet": "vegetarian"},
])
def test_text_shows_sources_by_their_titles_not_internal_file_names(cli, tmp_path, profile):
    # a dietitian read "002_1bd04e5ff2319d44.txt § Common Causes …" in the text output
    import re

    from planner.commands.plan import plan

    path = write(tmp_path, profile)
    said = cli.invoke(assess, [path, "--format", "text"])
    planned = cli.invoke(plan, [path, "--format", "text", "--week", "2026-W10"])
    assert said.exit_code == 0 and planned.exit_code == 0, (said.output, planned.output)
    for out in (said.output, planned.output):
        assert not re.search(SEED_FILE, out), out
    assert "source document “" in said.output  # the seed documents by their titles
    assert "<https://" in said.output  # with their links
    assert not re.search(r"<https://[^>\s]*\s", said.output)  # links kept whole on one line
    # the JSON keeps the machine citations
    raw = cli.invoke(assess, [path])
    assert re.search(SEED_FILE, raw.output)
