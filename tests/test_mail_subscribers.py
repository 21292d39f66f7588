"""The subscription pages, driven like a browser, with CSRF on and a real SMTP server."""

from __future__ import annotations

import json
import re

import pytest
from itsdangerous import TimestampSigner
from mail_support import VEGAN
from mail_support import confirm
from mail_support import csrf_token
from mail_support import link_in
from mail_support import subscribe
from mail_support import subscribe_and_confirm
from sqlalchemy import select

from planner.mail import subscribers as store
from planner.store.db import db
from planner.store.models import Subscriber

pytest_plugins = ["mail_fixtures"]


def subscribers(mail_app) -> list[Subscriber]:
    with mail_app.app_context():
        rows = list(db.session.scalars(select(Subscriber).order_by(Subscriber.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def profile_of(mail_app, email: str) -> dict:
    row = next(s for s in subscribers(mail_app) if s.email_key == email.lower())
    return json.loads(row.profile_json)


def test_subscribing_sends_a_confirmation_link_and_the_link_confirms(mail_app, mail_client,
                                                                     recorder):
    response = subscribe(mail_client, "ann@example.org")

    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    [row] = subscribers(mail_app)
    assert row.confirmed_at is None
    [msg] = recorder.messages_to("ann@example.org")
    assert msg["Subject"] == "Confirm your weekly B12 plan emails"
    assert {p.get_content_type() for p in msg.iter_parts()} == {"text/plain", "text/html"}
    assert "not medical advice" in msg.get_body(("plain",)).get_content()
    link = link_in(msg, "/confirm/")
    assert link in msg.get_body(("html",)).get_content()

    shown = mail_client.get(link)  # a GET (a mail scanner's, say) only shows a button
    assert shown.status_code == 200 and "<button" in shown.text
    assert subscribers(mail_app)[0].confirmed_at is None
    page = confirm(mail_client, link)
    assert page.status_code == 200 and "You are subscribed" in page.get_data(as_text=True)
    assert subscribers(mail_app)[0].confirmed_at is not None
    # The link works once; using it again changes nothing and says why.
    again = mail_client.post(link, data={"csrf_token": csrf_token(shown.text)})
    assert again.status_code == 400 and "already been used" in again.text
    assert mail_client.get(link).status_code == 400


def test_the_page_is_the_same_whether_or_not_the_address_is_known(mail_app, mail_client, recorder):
    first = subscribe(mail_client, "ann@example.org").get_data(as_text=True)
    again = subscribe(mail_client, "ann@example.org").get_data(as_text=True)
    other = subscribe(mail_client, "bob@example.org").get_data(as_text=True)
    confirm(mail_client, link_in(recorder.messages_to("bob@example.org")[0], "/confirm/"))
    confirmed = subscribe(mail_client, "bob@example.org").get_data(as_text=True)

    assert first == again == other == confirmed


def test_the_same_address_in_any_case_is_one_subscriber_whose_profile_is_updated(
        mail_app, mail_client, recorder):
    subscribe(mail_client, "Ann@Example.org", age_years="34")
    subscribe(mail_client, "ann@example.ORG", age_years="71", diet="vegetarian")

    [row] = subscribers(mail_app)
    assert row.email == "ann@example.ORG"
    assert len(recorder.messages_to("ann@example.org")) == 2  # confirmation sent again
    # The new profile waits for the link of the email sent for it.
    assert json.loads(row.pending_profile_json)["age_years"] == 71
    confirm(mail_client, link_in(recorder.messages_to("ann@example.org")[-1], "/confirm/"))
    assert profile_of(mail_app, "ann@example.org")["age_years"] == 71
    assert profile_of(mail_app, "ann@example.org")["diet"] == "vegetarian"


def test_a_burst_of_requests_sends_one_confirmation_per_interval(make_app, recorder):
    mail_client = make_app(CONFIRM_RESEND_SECONDS=60).test_client()
    pages = {subscribe(mail_client, "ann@example.org").get_data(as_text=True)
             for _ in range(5)}

    assert len(pages) == 1  # the same answer every time
    assert len(recorder.messages_to("ann@example.org")) == 1


def test_a_confirmed_subscribers_profile_changes_only_through_the_emailed_link(
        mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    subscribe(mail_client, "ann@example.org", age_years="80")

    assert profile_of(mail_app, "ann@example.org")["age_years"] == 34
    msg = recorder.messages_to("ann@example.org")[-1]
    assert "change the profile" in msg.get_body(("plain",)).get_content()
    confirm(mail_client, link_in(msg, "/confirm/"))
    assert profile_of(mail_app, "ann@example.org")["age_years"] == 80


def test_a_form_without_its_csrf_token_gets_400_and_changes_nothing(mail_app, mail_client,
                                                                    recorder):
    response = mail_client.post("/subscribe", data={"email": "ann@example.org", **VEGAN})

    assert response.status_code == 400
    assert subscribers(mail_app) == []
    assert recorder.count == 0


def test_a_form_with_a_wrong_csrf_token_gets_400(mail_app, mail_client, recorder):
    mail_client.get("/subscribe")
    response = mail_client.post("/subscribe", data={"csrf_token": "forged", "email":
                                               "ann@example.org", **VEGAN})
    assert response.status_code == 400
    assert subscribers(mail_app) == []


@pytest.mark.parametrize("address", [
    "a@b.com\r\nBcc: x@y.com",
    "a@b.com\nBcc: x@y.com",
    "a@b.com\r\nSubject: hi\r\n\r\nbody",
    "a@b.com, c@d.com",
    "a@b.com;c@d.com",
    "Ann <a@b.com>",
    "a@b.com\x00",
    "a" * 250 + "@b.com",
])
def test_header_injection_attempts_in_the_address_are_refused(mail_app, mail_client, recorder,
                                                              address):
    response = subscribe(mail_client, address)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="err-email"' in page and 'href="#field-email"' in page
    assert subscribers(mail_app) == []
    assert recorder.count == 0


def test_profile_errors_are_shown_next_to_their_fields_with_status_400(mail_app, mail_client,
                                                                       recorder):
    response = subscribe(mail_client, "ann@example.org", age_years="500", diet="carnivore")

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="err-age_years"' in page and 'id="err-diet"' in page
    assert 'value="ann@example.org"' in page  # what was typed is kept
    assert subscribers(mail_app) == [] and recorder.count == 0


def test_user_text_is_escaped_on_the_page(mail_app, mail_client):
    response = subscribe(mail_client, "<script>alert(1)</script>@x.org")
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_unsubscribe_asks_on_get_and_acts_on_post_without_csrf(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    with mail_app.app_context():
        link = "/unsubscribe/" + store.make_token(db.session.get(Subscriber, 1),
                                                  "unsubscribe")
    page = mail_client.get(link)
    assert page.status_code == 200
    assert re.search(r'<form method="post" action="' + re.escape(link), page.text)
    assert subscribers(mail_app)[0].unsubscribed_at is None  # a GET alone changes nothing

    one_click = mail_client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert subscribers(mail_app)[0].unsubscribed_at is not None
    assert mail_client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_preferences_show_the_profile_and_save_it_with_csrf(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org", allergies="soy",
                          supplement_dose_ug="10", supplement_frequency="daily")
    with mail_app.app_context():
        link = "/preferences/" + store.make_token(db.session.get(Subscriber, 1),
                                                  "preferences")
    page = mail_client.get(link).get_data(as_text=True)
    assert re.search(r'name="age_years"[^>]*\svalue="34"', page)
    assert re.search(r'value="soy"\s+checked', page)
    assert re.search(r'<option value="daily" selected>', page)

    no_token = mail_client.post(link, data={"age_years": "50", "diet": "omnivore"})
    assert no_token.status_code == 400
    assert profile_of(mail_app, "ann@example.org")["diet"] == "vegan"

    bad = mail_client.post(link, data={"csrf_token": csrf_token(page), "age_years": "-3",
                                  "diet": "omnivore"})
    assert bad.status_code == 400 and 'id="err-age_years"' in bad.get_data(as_text=True)
    assert profile_of(mail_app, "ann@example.org")["diet"] == "vegan"

    saved = mail_client.post(link, data={"csrf_token": csrf_token(page), "age_years": "50",
                                    "diet": "omnivore", "meals_per_day": "2"})
    assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
    profile = profile_of(mail_app, "ann@example.org")
    assert (profile["diet"], profile["age_years"], profile["meals_per_day"]) == (
        "omnivore", 50, 2)


@pytest.mark.parametrize("path", ["/confirm/", "/preferences/", "/unsubscribe/"])
@pytest.mark.parametrize("kind", ["garbage", "tampered", "expired", "other purpose"])
def test_bad_expired_or_tampered_links_get_400_and_a_clear_page(mail_app, mail_client, recorder,
                                                                monkeypatch, path, kind):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    purpose = path.strip("/")
    subscribe(mail_client, "ann@example.org", age_years="80")  # a change waiting for its link
    with mail_app.app_context():
        subscriber = db.session.get(Subscriber, 1)
        if kind == "garbage":
            token = "nonsense"
        elif kind == "tampered":
            good = store.make_token(subscriber, purpose)
            payload = good.split(".")[0]
            token = good.replace(payload, "eyJpZCI6MiwidiI6MX0", 1)  # {"id":2,"v":1}
        elif kind == "expired":
            real = TimestampSigner.get_timestamp
            age = store.token_max_age(purpose) + 60
            monkeypatch.setattr(TimestampSigner, "get_timestamp",
                                lambda self: real(self) - age)
            token = store.make_token(subscriber, purpose)
            monkeypatch.undo()
        else:
            other = "preferences" if purpose != "preferences" else "confirm"
            token = store.make_token(subscriber, other)
    form = {"csrf_token": csrf_token(mail_client.get("/subscribe").get_data(as_text=True)),
            **VEGAN}
    for method in ("get", "post"):
        response = getattr(mail_client, method)(path + token, data=form)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "This link cannot be used" in page
        assert ("expired" in page) == (kind == "expired")
    assert subscribers(mail_app)[0].unsubscribed_at is None
    assert profile_of(mail_app, "ann@example.org")["age_years"] == 34


def test_subscribing_again_after_unsubscribing_voids_the_old_links(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    with mail_app.app_context():
        old = store.make_token(db.session.get(Subscriber, 1), "preferences")
    mail_client.post("/unsubscribe/" + _unsubscribe_token(mail_app),
                     data={"List-Unsubscribe": "One-Click"})
    subscribe(mail_client, "ann@example.org")

    assert mail_client.get("/preferences/" + old).status_code == 400
    assert subscribers(mail_app)[0].confirmed_at is None


def _unsubscribe_token(mail_app) -> str:
    with mail_app.app_context():
        return store.make_token(db.session.get(Subscriber, 1), "unsubscribe")


def test_the_json_api_is_not_blocked_by_csrf(mail_app, mail_client):
    response = mail_client.post("/api/v1/plan", json={"profile": {"age_years": 30,
                                                             "diet": "omnivore"}})
    assert response.status_code != 400 or "CSRF" not in response.get_data(as_text=True)
    assert response.status_code in (200, 422)


def test_a_failing_smtp_server_gives_a_plain_503_page(make_app, smtp):
    mail_app = make_app(SMTP_PORT=1)  # nothing listens there
    mail_client = mail_app.test_client()
    response = subscribe(mail_client, "ann@example.org")
    assert response.status_code == 503
    assert "could not be sent" in response.get_data(as_text=True)


# ---- the hijack sequence of issue 17 ---------------------------------------------------


def _rewind_confirmation_clock(mail_app, email: str) -> None:
    """As if the last confirmation email went out over a minute ago."""
    from datetime import timedelta

    with mail_app.app_context():
        row = db.session.scalar(select(Subscriber).where(Subscriber.email_key == email))
        row.confirm_sent_at = row.confirm_sent_at - timedelta(seconds=120)
        db.session.commit()
        db.session.remove()


def test_a_stranger_cannot_set_a_subscribers_profile(make_app, recorder):
    mail_app = make_app(CONFIRM_RESEND_SECONDS=60)
    victim, attacker = mail_app.test_client(), mail_app.test_client()
    victim_page = subscribe(victim, "vic@example.org", diet="vegan", allergies="soy")
    [first] = recorder.messages_to("vic@example.org")
    l1 = link_in(first, "/confirm/")

    # The attacker types the same address with another profile: same answer, no
    # new email, and nothing stored changes (the victim's link still holds).
    hijack = subscribe(attacker, "vic@example.org", age_years="40", diet="omnivore")
    assert hijack.status_code == 200 and hijack.text == victim_page.text
    assert len(recorder.messages_to("vic@example.org")) == 1
    [row] = subscribers(mail_app)
    assert json.loads(row.pending_profile_json)["diet"] == "vegan"

    # A mail scanner fetching the link changes nothing; the page shows the profile.
    shown = attacker.get(l1)
    assert shown.status_code == 200 and "vegan" in shown.text and "soy" in shown.text
    assert subscribers(mail_app)[0].confirmed_at is None

    assert "You are subscribed" in confirm(victim, l1).text
    stored = profile_of(mail_app, "vic@example.org")
    assert (stored["diet"], stored["allergies"]) == ("vegan", ["soy"])

    # After confirmation: the attacker's profile waits for a new link sent to the
    # victim's address, and the old link (used once) cannot apply it.
    _rewind_confirmation_clock(mail_app, "vic@example.org")
    subscribe(attacker, "vic@example.org", age_years="40", diet="omnivore")
    second = recorder.messages_to("vic@example.org")[-1]
    assert len(recorder.messages_to("vic@example.org")) == 2
    for method in (attacker.get, attacker.post, victim.get):
        assert method(l1, data={"csrf_token": csrf_token(shown.text)}).status_code == 400
    l2 = link_in(second, "/confirm/")
    assert attacker.get(l2).status_code == 200  # prefetched: still nothing changes
    stored = profile_of(mail_app, "vic@example.org")
    assert (stored["diet"], stored["allergies"]) == ("vegan", ["soy"])


def test_a_confirmation_link_applies_only_the_profile_it_was_sent_for(mail_app, mail_client,
                                                                      recorder):
    subscribe(mail_client, "ann@example.org", age_years="34")
    l1 = link_in(recorder.messages_to("ann@example.org")[-1], "/confirm/")
    subscribe(mail_client, "ann@example.org", age_years="71")
    l2 = link_in(recorder.messages_to("ann@example.org")[-1], "/confirm/")

    stale = mail_client.get(l1)
    assert stale.status_code == 400 and "newer confirmation email" in stale.text
    assert "71" in mail_client.get(l2).text
    confirm(mail_client, l2)
    assert profile_of(mail_app, "ann@example.org")["age_years"] == 71
    assert mail_client.get(l2).status_code == 400


def test_a_pending_change_expires_with_its_link(make_app, recorder):
    import time

    mail_app = make_app(TOKEN_MAX_AGE={"confirm": 1})
    client = mail_app.test_client()
    subscribe_and_confirm(client, recorder, "ann@example.org")
    subscribe(client, "ann@example.org", age_years="80")
    link = link_in(recorder.messages_to("ann@example.org")[-1], "/confirm/")
    page = client.get(link)
    time.sleep(2.2)

    late = client.post(link, data={"csrf_token": csrf_token(page.text)})
    assert late.status_code == 400 and "expired" in late.text
    assert profile_of(mail_app, "ann@example.org")["age_years"] == 34
    with mail_app.app_context():
        assert store.drop_expired_pending() == 1
        db.session.remove()
    [row] = subscribers(mail_app)
    assert row.pending_profile_json is None and row.pending_nonce is None


# ---- profiles no plan can be made for (issue 17, finding 7) ----------------------------

UNPLANNABLE = [
    ({"include_foods": "no_such_food"}, "include_foods"),
    ({"accept_supplement": "false", "include_foods": "tempeh"}, "accept_supplement"),
]


@pytest.mark.parametrize(("fields", "field"), UNPLANNABLE)
def test_subscribe_refuses_a_profile_no_plan_can_be_made_for(mail_app, mail_client, recorder,
                                                              fields, field):
    plan = mail_client.get("/plan", query_string={**VEGAN, **fields})
    response = subscribe(mail_client, "ann@example.org", **fields)

    assert plan.status_code == response.status_code == 422
    assert f'id="err-{field}"' in response.text and f'href="#field-{field}"' in response.text
    assert "Check your inbox" not in response.text
    assert subscribers(mail_app) == [] and recorder.count == 0


@pytest.mark.parametrize(("fields", "field"), UNPLANNABLE)
def test_preferences_refuse_a_profile_no_plan_can_be_made_for(mail_app, mail_client, recorder,
                                                               fields, field):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    with mail_app.app_context():
        link = "/preferences/" + store.make_token(db.session.get(Subscriber, 1),
                                                  "preferences")
    page = mail_client.get(link).text
    before = profile_of(mail_app, "ann@example.org")
    response = mail_client.post(link, data={"csrf_token": csrf_token(page), **VEGAN,
                                            **fields})

    assert response.status_code == 422 and f'id="err-{field}"' in response.text
    assert "Saved" not in response.text
    assert profile_of(mail_app, "ann@example.org") == before


# ---- a slow or silent SMTP server (issue 17, finding 6) --------------------------------


def _confirm_sent_at(mail_app):
    return subscribers(mail_app)[0].confirm_sent_at


def test_smtp_waits_default_to_ten_seconds(app):
    assert app.config["SMTP_TIMEOUT"] == 10
    assert app.config["CONFIRM_SEND_DEADLINE"] <= 10


def test_a_silent_smtp_server_costs_subscribe_a_503_within_the_deadline(make_app):
    import time

    from smtp_server import Recorder
    from smtp_server import SmtpServer

    handler = Recorder(stall=["ann@example.org"], stall_s=8.0)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, SMTP_TIMEOUT=6,
                            CONFIRM_SEND_DEADLINE=1, CONFIRM_RESEND_SECONDS=60)
        client = mail_app.test_client()
        started = time.monotonic()
        response = subscribe(client, "ann@example.org")
        elapsed = time.monotonic() - started

        assert response.status_code == 503 and "could not be sent" in response.text
        assert elapsed < 3, elapsed  # the deadline, not SMTP_TIMEOUT per wait
        assert _confirm_sent_at(mail_app) is None  # released: the next try may send
        handler.stall.clear()
        assert subscribe(client, "ann@example.org").status_code == 200
    assert len(handler.messages_to("ann@example.org")) == 1


def test_a_worker_aborted_mid_send_releases_the_confirmation(make_app):
    import signal

    from smtp_server import Recorder
    from smtp_server import SmtpServer

    def abort(signum, frame):  # what gunicorn's worker does on its timeout (SIGABRT)
        raise SystemExit(1)

    handler = Recorder(stall=["ann@example.org"], stall_s=5.0)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, CONFIRM_RESEND_SECONDS=60)
        client = mail_app.test_client()
        token = csrf_token(client.get("/subscribe").text)
        previous = signal.signal(signal.SIGALRM, abort)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            with pytest.raises(SystemExit):
                client.post("/subscribe", data={"csrf_token": token,
                                                "email": "ann@example.org", **VEGAN})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert _confirm_sent_at(mail_app) is None
        handler.stall.clear()
        assert subscribe(client, "ann@example.org").status_code == 200
    assert len(handler.messages_to("ann@example.org")) == 1
