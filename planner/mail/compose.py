"""The weekly email's content: the plan, both parts, the personal links, the message.

A plan is built once per (profile, week) and both templates are rendered once
with stand-ins for the two personal links (:data:`SLOTS`); :func:`compose` puts
in each subscriber's own links. Nothing here writes to the database.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask import current_app
from flask import render_template
from flask import url_for
from markupsafe import escape
from werkzeug.datastructures import MultiDict

from planner import services
from planner.cache import PlanCache
from planner.data.loader import sorted_flags
from planner.domain.profile import parse_profile
from planner.mail import smtp as mail
from planner.mail.settings import settings
from planner.mail.subscribers import make_token
from planner.pages import dates
from planner.pages import privacy
from planner.store.models import Subscriber


def plan_cache() -> PlanCache:
    """Rendered emails by (profile JSON, week), at most ``MAIL_PLAN_CACHE_SIZE`` (at
    least 1): subscribers with the same profile share one plan, so a run builds as
    many plans as there are distinct profiles."""
    cache = current_app.extensions.get("planner.plan_cache")
    if cache is None:
        cache = PlanCache(max(1, int(settings("MAIL_PLAN_CACHE_SIZE"))))
        current_app.extensions["planner.plan_cache"] = cache
    return cache


def build_plan_dict(subscriber: Subscriber, week: str) -> dict:
    """The week's plan for the stored profile, through the one entry point."""
    return services.build_plan(parse_profile(subscriber.profile), week).to_dict()


def message_id(subscriber: Subscriber, week: str) -> str:
    """The same Message-ID every time this subscriber's email for ``week`` is built."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, f"{subscriber.id}:{subscriber.email_key}:{week}".encode(),
                      hashlib.sha256).hexdigest()[:20]
    return f"<b12.{week}.{subscriber.id}.{digest}@{mail_domain()}>"


def mail_domain() -> str:
    server = current_app.config.get("SERVER_NAME")
    if server:
        return str(server).split(":")[0]
    return mail.address(settings("MAIL_FROM")).domain


def personal_links(subscriber: Subscriber) -> dict[str, str]:
    """This subscriber's signed links: preferences and unsubscribe."""
    return {purpose: url_for(f"subscribe.{purpose}", _external=True,
                             token=make_token(subscriber, purpose))
            for purpose in ("preferences", "unsubscribe")}


def plan_url(profile: dict, week: str) -> str:
    """The plan page for a profile and week, as a sealed link: no health data in
    the URL a mail client opens (issue 16; it works for ``PLAN_LINK_MAX_AGE``)."""
    pairs = [*profile_args(profile).items(multi=True), ("week", week)]
    return url_for("views.sealed_plan", _external=True, sealed=privacy.seal_pairs(pairs))


# Stand-ins for the personal links in the cached parts; letters and digits only,
# so escaping leaves them alone and they cannot occur in rendered text by chance.
SLOTS = {"preferences": "b12slot0preferences0c6f1", "unsubscribe": "b12slot0unsubscribe0c6f1"}


def treatment_note(plan: dict) -> str:
    """The plan's note on a doctor's treatment that comes first (a flag whose first
    option has no dose by mouth: injections for nerve symptoms with pernicious
    anaemia), shown where a supplement reminder would be; "" when there is none."""
    for flag in plan["assessment"]["flags"]:
        options = flag.get("dose_options") or []
        if options and options[0].get("dose_ug") is None:
            return next((n for n in plan["notes"] if options[0]["label"] in n), "")
    return ""


def email_parts(subscriber: Subscriber, week: str) -> dict[str, str]:
    """The text and HTML parts for this subscriber's profile and ``week``, cached.

    Everyone with the same profile gets the same plan, so the plan is built
    and both templates are rendered once per (profile, week); only the two
    personal links are put in for each subscriber.
    """
    def build() -> dict[str, str]:
        plan = build_plan_dict(subscriber, week)
        context = {"plan": plan, "week": week, "flags": ordered_flags(plan),
                   "treatment_note": treatment_note(plan),
                   "links": {**SLOTS, "plan": plan_url(subscriber.profile, week)}}
        return {"text": render_template("email/weekly_plan.txt", **context),
                "html": render_template("email/weekly_plan.html", **context)}

    return plan_cache().get_or_build((subscriber.profile_json, week), build)


def compose(subscriber: Subscriber, week: str, now: datetime):
    """The weekly email for ``subscriber``: (message, Message-ID)."""
    parts = email_parts(subscriber, week)
    urls = personal_links(subscriber)
    text, html = parts["text"], parts["html"]
    for purpose, slot in SLOTS.items():
        text = text.replace(slot, urls[purpose])
        html = html.replace(slot, str(escape(urls[purpose])))
    mid = message_id(subscriber, week)
    msg = mail.build_message(
        sender=settings("MAIL_FROM") or f"B12 Planner <plans@{mail_domain()}>",
        to=subscriber.email,
        subject=f"Your B12 meal plan for the {dates.week_of(week, lower=True)}",
        text=text, html=html, message_id=mid, date=now,
        unsubscribe_url=urls["unsubscribe"],
        unsubscribe_mailto=settings("MAIL_UNSUBSCRIBE_MAILTO"))
    return msg, mid


def ordered_flags(plan: dict) -> list[dict]:
    """The plan's flags in the data's order (``flag_order`` in risk_rules.toml:
    medical flags first)."""
    return sorted_flags((plan.get("assessment") or {}).get("flags") or [])


def profile_args(profile: dict) -> MultiDict:
    """A stored profile as form fields (the inverse of ``forms.profile_from_args``)."""
    args = MultiDict()
    for key, value in profile.items():
        if key in ("supplement", "labs"):
            _nested_args(args, key, value)
        elif isinstance(value, list | tuple):
            for item in value:
                args.add(key, item)
        elif isinstance(value, bool):
            args[key] = "true" if value else "false"
        elif value is not None:
            args[key] = _text(value)
    return args


def _nested_args(args: MultiDict, key: str, value) -> None:
    """The supplement object and the lab results (issue 14: one per test) as flat fields."""
    if key == "supplement" and value:
        for part in ("dose_ug", "frequency", "every_weeks"):
            if value.get(part) is not None:
                args[f"supplement_{part}"] = _text(value[part])
    for lab in (value or []) if key == "labs" else []:
        for part in ("value", "unit", "date"):
            if lab.get(part) is not None:
                args[f"lab_{lab['test']}_{part}"] = _text(lab[part])


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
