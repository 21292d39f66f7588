"""Issue 12: the weekly email shows every rule behind a merged flag in its own words,
sent through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import html

from mail_support import WEEK
from mail_support import add_subscribers
from mail_support import run_send

from planner.data.loader import load_reference

pytest_plugins = ["mail_fixtures"]

RULES = {r.id: r for r in load_reference().rules}


def test_the_weekly_email_shows_every_rule_advice_of_a_merged_flag(mail_app, recorder):
    profile = {"age_years": 30, "sex": "female", "life_stage": "pregnant", "diet": "vegan",
               "symptoms": ["tingling"]}
    add_subscribers(mail_app, 1, profile=profile)
    assert run_send(mail_app, "--week", WEEK).exit_code == 0

    [msg] = recorder.messages_to("reader00000@example.org")
    text = " ".join(msg.get_body(("plain",)).get_content().split())
    page = " ".join(html.unescape(msg.get_body(("html",)).get_content()).split())
    leading, other = RULES["symptoms_in_pregnancy_or_breastfeeding"], RULES["nerve_sensations"]
    for part in (text, page):
        assert " ".join(leading.advice.split()) in part
        assert other.title in part
        assert " ".join(other.advice.split()) in part
        assert part.index(leading.title) < part.index(other.title)
