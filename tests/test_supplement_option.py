"""The recommended supplement's dose option (``supplement.label`` in the plan) is in
every rendering: the doctor's part of a dose ("if your doctor agrees; injections are
the alternative", "set by the baby's doctor") never drops out beside the bare dose."""

from __future__ import annotations

import html
import json
import re

import pytest
from click.testing import CliRunner
from mail_support import WEEK
from mail_support import add_subscribers
from mail_support import run_send

from planner.commands.plan import plan as plan_command

pytest_plugins = ["mail_fixtures"]

CASES = {
    "pernicious anaemia": ({"age_years": 60, "sex": "female", "diet": "omnivore",
                            "conditions": ["pernicious_anemia"]}, "if your doctor agrees"),
    "baby": ({"age_years": 0.75, "diet": "vegan"}, "set by the baby's doctor"),
}


def words(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


@pytest.fixture(params=sorted(CASES))
def case(request):
    return CASES[request.param]


def test_the_plan_json_carries_the_option(client, case):
    profile, phrase = case
    supplement = client.post("/api/v1/plan", json=profile).get_json()["supplement"]
    assert supplement["kind"] == "recommended" and phrase in supplement["label"]


def test_the_command_line_prints_the_option(tmp_path, case):
    profile, phrase = case
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile), encoding="utf-8")
    result = CliRunner().invoke(plan_command, [str(path), "--week", WEEK, "--format", "text"])
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    start = line.index("Supplement (recommended):")
    assert phrase in line[start:line.index("Why:", start)]


def test_the_plan_page_shows_the_option_in_the_todo_box_and_the_card(client, case):
    profile, phrase = case
    query = "&".join(f"{k}={v}" for k, v in profile.items() if not isinstance(v, list))
    query += "".join(f"&{k}={x}" for k, v in profile.items() if isinstance(v, list) for x in v)
    page = client.get(f"/plan?{query}").get_data(as_text=True)
    box = words(page[page.index('class="todo"'):page.index("</section>",
                                                           page.index('class="todo"'))])
    card = words(page[page.index('class="card supplement"'):])
    assert phrase in box
    assert "The dose option:" in card and phrase in card


def test_the_handout_shows_the_option(client, case):
    profile, phrase = case
    query = "&".join(f"{k}={v}" for k, v in profile.items() if not isinstance(v, list))
    query += "".join(f"&{k}={x}" for k, v in profile.items() if isinstance(v, list) for x in v)
    page = client.get(f"/plan/handout?{query}").get_data(as_text=True)
    card = words(page[page.index('class="supplement-card"'):])
    assert "(added by the plan: " in card and phrase in card


def test_the_weekly_email_shows_the_option(mail_app, recorder, case):
    profile, phrase = case
    add_subscribers(mail_app, 1, profile=profile)
    assert run_send(mail_app, "--week", WEEK).exit_code == 0
    [msg] = recorder.messages_to("reader00000@example.org")
    for part in (msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()):
        text = words(part)
        assert phrase in text[text.index("SUPPLEMENT") if "SUPPLEMENT" in text else 0:]
