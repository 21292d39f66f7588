"""Pages of the weekly email: subscribe, confirm, preferences, unsubscribe.

Every page that changes something is a POST with a CSRF token, except the
one-click unsubscribe POST, which mail programs send on their own (RFC 8058: a
body of ``List-Unsubscribe=One-Click``, no cookies) and which the signed link
alone authorises. The unsubscribe page's own button sends a CSRF token like
every other form, and a POST to that address with neither the token nor the
one-click body gets 400. A subscriber's data is reachable only through a signed link
(:mod:`planner.mail.subscribers`); a bad, expired or changed link gets 400 and
a page saying what to do.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from planner import services
from planner.domain.planning import PlanError
from planner.errors import InvalidInput
from planner.mail import smtp as mail
from planner.mail import subscribers as store
from planner.mail.compose import profile_args
from planner.mail.settings import new_mailer
from planner.mail.settings import settings
from planner.pages import forms
from planner.pages.dates import WEEKDAYS
from planner.pages.dates import day_month
from planner.pages.labels import LABELS
from planner.pages.links import open_link
from planner.pages.profile_form import profile_form_context
from planner.security import csrf_exempt
from planner.store.models import utcnow

bp = Blueprint("subscribe", __name__)

#: The form field and value of an RFC 8058 one-click unsubscribe POST.
ONE_CLICK = ("List-Unsubscribe", "One-Click")
log = logging.getLogger(__name__)

# Labels for the error summary's links: the profile form's, plus the address.
FIELD_LABELS = LABELS["field"] | {"email": "Email address"}


class SubscribeForm(FlaskForm):
    """The address; the profile fields are read by ``forms.profile_from_args``."""

    email = StringField("Email address")


class PreferencesForm(FlaskForm):
    """Only the CSRF token; the profile fields are read as on /subscribe."""


def plan_errors(profile) -> list[dict]:
    """Why no weekly plan can be made for ``profile``, as form errors; [] when one can.

    The same call the plan page makes (``services.build_plan``, i.e. ``make_plan``
    on the shared food table the weekly email uses), for this week: a profile
    it refuses is refused here with 422 and its field named, instead of being
    stored and failing every week.
    """
    try:
        services.build_plan(profile, forms.parse_week(None, services.today()))
    except PlanError as e:
        return [{"field": forms.form_field(err.get("field")) or "",
                 "message": forms.without_field(err)} for err in e.errors]
    return []


def form_context(values: MultiDict, errors: list[dict]) -> dict:
    """What the shared profile fields partial needs, plus the email field's label."""
    return profile_form_context(values, errors, own_foods=False) | {
        "field_labels": FIELD_LABELS}


def notice(title: str, paragraphs: list[str], status: int = 200, links=()):
    """A short page of plain sentences (all escaped by the template)."""
    return render_template("subscribe/notice.html", title=title, paragraphs=paragraphs,
                           links=list(links)), status


def bad_link(e: store.BadToken):
    return notice("This link cannot be used", [
        str(e),
        "Nothing was changed. Every weekly email has fresh links at its end; "
        "or subscribe again with the same address to get a new confirmation link.",
    ], 400, [("Subscribe", url_for("subscribe.subscribe"))])


class HostNotConfigured(RuntimeError):
    """SERVER_NAME is missing, so no link can be mailed (outside debug and testing)."""


def mail_host() -> str:
    """The host name in the confirmation email's link, sender and Message-ID.

    It is the configured ``SERVER_NAME`` (``B12_SERVER_NAME``), never the
    request's Host header: the client chooses that header, and a forged one
    would put another site's address in a link mailed to someone else (who
    would then hand that site their token). Only in debug or testing does the
    request's host stand in when SERVER_NAME is unset.
    """
    server = current_app.config.get("SERVER_NAME")
    if server:
        return str(server).split(":")[0]
    if current_app.debug or current_app.testing:
        return request.host.split(":")[0]
    raise HostNotConfigured("SERVER_NAME is not set: set B12_SERVER_NAME to the site's "
                            "host name so confirmation emails can link to it")


def send_confirmation(subscriber) -> None:
    """Email the confirmation link (raises planner.mail.smtp.MailError)."""
    host = mail_host()
    link = url_for("subscribe.confirm", token=store.make_token(subscriber, "confirm"),
                   _external=True)
    context = {"link": link, "change": subscriber.confirmed_at is not None,
               "hours": store.token_max_age("confirm") // 3600}
    msg = mail.build_message(
        sender=settings("MAIL_FROM") or f"B12 Planner <plans@{host}>",
        to=subscriber.email, subject="Confirm your weekly B12 plan emails",
        text=render_template("email/confirm.txt", **context),
        html=render_template("email/confirm.html", **context),
        message_id=f"<b12.confirm.{subscriber.id}.{utcnow():%Y%m%d%H%M%S%f}@{host}>",
        date=utcnow())
    deadline = float(settings("CONFIRM_SEND_DEADLINE"))
    with new_mailer(deadline=deadline) as smtp:
        smtp.send(msg)


def read_subscription(form: MultiDict) -> tuple[str | None, object, list[dict]]:
    """The address and the profile of a subscribe form, and every problem with them."""
    errors: list[dict] = []
    address = profile = None
    try:
        address = store.check_email(form.get("email", ""))
    except store.InvalidEmail as e:
        errors.append({"field": "email", "message": str(e)})
    try:
        profile = forms.profile_from_args(form, extra=("email", "csrf_token"))
    except InvalidInput as e:
        errors += e.errors
    return address, profile, errors


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe():
    """Subscribe to a weekly plan email: your address and your profile."""
    form = SubscribeForm()
    if request.method == "GET":
        values = request.args
        if request.args.get("plan"):  # "Email me this plan every week": a sealed link
            values = open_link(request.args["plan"])
        return render_template("subscribe/form.html", form=form,
                               **form_context(values, []))
    address, profile, errors = read_subscription(request.form)
    if errors:
        return render_template("subscribe/form.html", form=form,
                               **form_context(request.form, errors)), 400
    errors = plan_errors(profile)
    if errors:
        return render_template("subscribe/form.html", form=form,
                               **form_context(request.form, errors)), 422
    try:
        mail_host()
    except HostNotConfigured:
        log.exception("cannot send confirmation emails")
        return notice("Subscribing is not available", [
            "This server is not set up to send emails yet, so nothing was saved. "
            "Please try again later."], 503)
    interval = float(settings("CONFIRM_RESEND_SECONDS"))
    subscriber, send = store.request_subscription(address, profile, interval)
    if send:
        try:
            send_confirmation(subscriber)
        except mail.MailError:
            store.release_confirmation(subscriber)
            log.exception("confirmation email to subscriber %s failed", subscriber.id)
            return notice("The email could not be sent", [
                "We could not send the confirmation email just now. Nothing will be sent "
                "to you until you confirm, so please try again in a few minutes."], 503)
        except BaseException:  # e.g. gunicorn aborting the worker (SystemExit)
            store.release_confirmation(subscriber)
            raise
    return notice("Check your inbox", [
        "We have sent a link to the address you gave. Open it to confirm; nothing "
        "is sent to you every week until you do.",
        f"The link works for {store.token_max_age('confirm') // 3600} hours. If no email "
        "arrives, check your spam folder, or subscribe again to get a new link.",
    ])


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """Confirm a subscription (or a changed profile) from the emailed link.

    GET only shows the profile the link confirms and a button, so a mail
    scanner that fetches every link changes nothing; the button POSTs (with a
    CSRF token, like every form) and that applies the profile, once.
    """
    try:
        subscriber = store.read_token(token, "confirm")
    except store.BadToken as e:
        return bad_link(e)
    if request.method == "GET":
        return render_template(
            "subscribe/confirm.html", form=PreferencesForm(), token=token,
            change=subscriber.confirmed_at is not None,
            rows=profile_rows(json.loads(subscriber.pending_profile_json)),
            hours=store.token_max_age("confirm") // 3600)
    try:
        store.confirm(subscriber)
    except store.BadToken as e:
        return bad_link(e)
    links = [("Change your profile", url_for(
        "subscribe.preferences", token=store.make_token(subscriber, "preferences")))]
    if subscriber.unsubscribed_at is not None:
        return notice("You are unsubscribed", [
            "This address was unsubscribed after the link was sent, so no weekly "
            "email goes out. Subscribe again if you want the emails."],
            links=[("Subscribe", url_for("subscribe.subscribe"))])
    return notice("You are subscribed", [
        "Your address is confirmed. Each week you will get a fresh meal plan for "
        "the profile shown on the previous page, with a link to change it or to "
        "unsubscribe.",
        first_email_sentence(),
        "The plans are information, not medical advice."], links=links)


def profile_rows(profile: dict) -> list[tuple[str, str]]:
    """(label, value) of each field a stored profile sets, for the confirm page."""
    args = profile_args(profile)
    return [(FIELD_LABELS.get(key, key.replace("_", " ")), ", ".join(args.getlist(key)))
            for key in args.keys()]


def first_email_sentence() -> str:
    """When the first weekly email comes: the next sending day after today
    (``WEEKLY_EMAIL_WEEKDAY``, 0 = Monday, the day of the README's cron line)."""
    today = services.today()
    weekday = int(settings("WEEKLY_EMAIL_WEEKDAY"))
    first = today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    return (f"The weekly emails go out on {WEEKDAYS[weekday]} mornings, so your first one "
            f"comes on {day_month(first)}.")


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    """Change the profile your weekly plan is made for."""
    try:
        subscriber = store.read_token(token, "preferences")
    except store.BadToken as e:
        return bad_link(e)
    page = {"form": PreferencesForm(), "token": token, "subscriber": subscriber,
            "unsubscribe_url": url_for("subscribe.unsubscribe",
                                       token=store.make_token(subscriber, "unsubscribe"))}
    if request.method == "POST":
        try:
            profile = forms.profile_from_args(request.form, extra=("csrf_token",))
        except InvalidInput as e:
            return render_template("subscribe/preferences.html", saved=False, **page,
                                   **form_context(request.form, e.errors)), 400
        errors = plan_errors(profile)
        if errors:
            return render_template("subscribe/preferences.html", saved=False, **page,
                                   **form_context(request.form, errors)), 422
        store.update_profile(subscriber, profile)
    return render_template("subscribe/preferences.html", saved=request.method == "POST",
                           **page, **form_context(profile_args(subscriber.profile), []))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf_exempt  # mail programs POST the RFC 8058 one-click request without a token
def unsubscribe(token: str):
    """Stop the weekly email. GET asks; POST (the button, or a mail program's
    RFC 8058 one-click request) does it."""
    try:
        subscriber = store.read_token(token, "unsubscribe")
    except store.BadToken as e:
        return bad_link(e)
    if request.method == "GET":
        return render_template("subscribe/unsubscribe.html", token=token,
                               done=subscriber.unsubscribed_at is not None)
    one_click = request.form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    if not one_click and current_app.config.get("WTF_CSRF_ENABLED", True):
        current_app.extensions["csrf"].protect()  # the page's button: CSRFError (400)
    store.unsubscribe(subscriber)
    return notice("You are unsubscribed", [
        "No more weekly plan emails will be sent to this address.",
        "Changed your mind? Subscribe again at any time."],
        links=[("Subscribe again", url_for("subscribe.subscribe"))])
