"""The weekly email run: every confirmed subscriber gets one plan email per ISO week.

Exactly once, and what is left of "exactly"
--------------------------------------------

Each (subscriber, week) has at most one row in ``sends``
(``UNIQUE(subscriber_id, week)``). A message goes out like this:

1. compose the message (plan, links, both parts); read nothing but the database;
2. over the open SMTP connection: ``MAIL FROM``, ``RCPT TO``, ``DATA`` and the
   whole body, *without* the final ``.``; until that dot the server delivers
   nothing, and a dropped connection makes it discard the message;
3. **claim**: insert the row with status ``sending`` (or move a ``retry`` row
   to ``sending``) and COMMIT. If the insert hits the unique constraint,
   another run owns this message: drop the connection, the server discards it;
4. send the final ``.``; the server answers 250 when it has taken the message;
5. mark the row ``sent`` and COMMIT, at once, before anything else happens.

A run killed (SIGKILL, power off of the client, OOM) before step 3 has
committed leaves no row, and nothing was delivered: the next run sends it.
A run killed after step 5 leaves ``sent``: the next run skips it. The
residual window is **from the COMMIT of the claim (3) to the COMMIT of
``sent`` (5)**: writing three bytes, the server's processing of the message
and its reply travelling back, and one UPDATE with its commit. A run killed
inside that window leaves the row ``sending`` and the sender cannot tell
whether the message was delivered: if the kill came in the microseconds
between the claim's commit and the write of the dot, it was not; if the dot
reached the server, that is up to the server (one that had queued the message
delivers it, one still processing it may discard it when the connection
drops). The same holds when the connection breaks after the dot without an
answer (:class:`planner.mail.smtp.InDoubt`).

Such a row is *in doubt*. By default it is not sent again (at most one email,
at the price of possibly none for that one subscriber that week) and every
run of that week reports it and exits 1; ``send-weekly --resend-in-doubt``
sends those again with the same Message-ID (at least one email; mailbox
providers that collapse duplicate Message-IDs show one). Only one message per running sender can be
in doubt at a time, since each sender sends one message at a time. With
SQLite in WAL mode a commit survives the process being killed; after a power
loss of the database host the last commits may be lost, and the rows they
wrote follow the same rules (a lost claim means the message is sent again).

Failures
--------

* The server refuses a recipient or a message with 5xx: the row becomes
  ``failed`` and is reported; the run goes on.
* A 4xx refusal: the row becomes ``retry`` (``attempts`` counted); the run
  tries those again at its end after the delays in ``MAIL_RETRY_DELAYS``,
  and later runs try again until ``MAIL_MAX_ATTEMPTS`` attempts in all, then
  the row becomes ``failed``.
* The connection drops or stalls past ``SMTP_TIMEOUT`` while one message is
  on its way (before the dot): that subscriber's row becomes ``retry`` like a
  4xx, the next message opens a new connection, and the run goes on.
* The SMTP server cannot be used at all (no connection, TLS or login failure,
  sender refused): the same message is tried again after each delay in
  ``MAIL_RETRY_DELAYS``; if it still fails the run stops (nothing else could
  be sent either) and reports how many were not attempted. No row is
  written for those, so nothing is lost.
* ``MAIL_MAX_CONSECUTIVE_FAILURES`` recipients in a row refused, dropped or
  stalled: the trouble is the server's, not theirs, so the run stops there
  and reports the rest as not attempted (their rows keep the status written).

With ``REDIS_URL`` set the same :func:`deliver` runs inside RQ jobs, one per
subscriber (see :func:`send_job` and :func:`run_with_rq`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask import render_template
from flask import url_for
from markupsafe import escape
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from planner.mail import smtp as mail
from planner.pages import dates
from planner.store.db import db
from planner.store.models import FAILED
from planner.store.models import RETRY
from planner.store.models import SENDING
from planner.store.models import SENT
from planner.store.models import Send
from planner.store.models import Subscriber
from planner.store.models import utcnow

# Outcomes of one subscriber in one run.
OUTCOMES = ("sent", "skipped", "failed", "retry", "in_doubt", "written")

MAIL_DEFAULTS = {
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_STARTTLS": False,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_TIMEOUT": 10,  # [s] each network wait
    # [s] the whole confirmation email sent while a /subscribe request waits; well
    # under gunicorn's --timeout (30 s by default), so a silent SMTP server costs
    # the request a 503, never the worker.
    "CONFIRM_SEND_DEADLINE": 10,
    "MAIL_FROM": None,  # "B12 Planner <plans@example.org>"; required to send
    "MAIL_UNSUBSCRIBE_MAILTO": None,  # an address that unsubscribes its senders, if any
    "MAIL_RETRY_DELAYS": [2, 10, 30],  # [s] waits before each retry within a run
    "MAIL_MAX_ATTEMPTS": 5,  # attempts per subscriber and week, over all runs
    "MAIL_PLAN_CACHE_SIZE": 512,  # plans kept per process, by (profile, week)
    "REDIS_URL": None,  # set to send through RQ workers
    "MAIL_QUEUE": "b12-mail",
    "MAIL_WORKER_HEARTBEAT": 2,  # [s] how often a worker says it is alive (dead after 5x)
    "MAIL_NO_WORKER_WAIT": 60,  # [s] send-weekly waits this long for a worker to show up
    "CONFIRM_RESEND_SECONDS": 60,  # at most one confirmation email per address in this time
    "MAIL_MAX_CONSECUTIVE_FAILURES": 5,  # recipients in a row failing stop the run
}


class SetupError(RuntimeError):
    """A setting the run needs is missing; the message says which."""


@dataclass
class Summary:
    """Counts of one run, and the problems to report."""

    week: str
    total: int = 0  # active subscribers
    due: int = 0  # of those, still owed this week's email when the run began
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    problems: list[str] = field(default_factory=list)
    not_attempted: int = 0
    in_doubt_before: int = 0  # rows left "sending" by earlier runs
    stopped: str | None = None

    def add(self, outcome: str, problem: str | None = None) -> None:
        self.counts[outcome] += 1
        if problem:
            self.problems.append(problem)

    @property
    def failed(self) -> int:
        return self.counts["failed"] + self.counts["retry"] + self.not_attempted

    @property
    def in_doubt(self) -> int:
        """Rows of this week left ``sending``: by this run, or by an earlier one."""
        return self.counts["in_doubt"] + self.in_doubt_before

    @property
    def ok(self) -> bool:
        """Nothing failed, nothing stopped, and nothing of this week is in doubt
        (``--resend-in-doubt`` is the way on from a row left in doubt)."""
        return self.failed == 0 and self.in_doubt == 0 and not self.stopped

    def line(self) -> str:
        c = self.counts
        notes = [f"{n} {what}" for n, what in ((c["retry"], "to retry next run"),
                                                (self.not_attempted, "not attempted"))
                 if n]
        failed = f"failed {self.failed}" + (f" ({', '.join(notes)})" if notes else "")
        parts = [f"week {self.week}", f"sent {c['sent']}",
                 f"skipped {self.total - self.due + c['skipped']}", failed]
        if c["written"]:
            parts.insert(1, f"written {c['written']}")
        if c["in_doubt"] or self.in_doubt_before:
            parts.append(f"in doubt {c['in_doubt'] + self.in_doubt_before}")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"week": self.week, "total": self.total, "due": self.due, **self.counts,
                "failed_total": self.failed, "not_attempted": self.not_attempted,
                "in_doubt_before": self.in_doubt_before, "stopped": self.stopped}


# ---- configuration ------------------------------------------------------------------


def register_mail_config(app) -> None:
    """Fill in the mail settings the app's config does not set."""
    for key, value in MAIL_DEFAULTS.items():
        app.config.setdefault(key, value)


def settings(name: str):
    return current_app.config.get(name, MAIL_DEFAULTS.get(name))


def retry_delays() -> list[float]:
    raw = settings("MAIL_RETRY_DELAYS")
    if isinstance(raw, str):
        raw = [x for x in raw.replace(",", " ").split() if x]
    return [float(x) for x in (raw or [])]


def max_attempts() -> int:
    return max(1, int(settings("MAIL_MAX_ATTEMPTS")))


def max_consecutive_failures() -> int:
    return max(1, int(settings("MAIL_MAX_CONSECUTIVE_FAILURES")))


def check_setup(*, dry_run: bool = False) -> None:
    """Fail before sending anything when links or the sender cannot be made."""
    missing = []
    if not current_app.config.get("SERVER_NAME"):
        missing.append("B12_SERVER_NAME (the site's host name, for the links in emails)")
    if not current_app.config.get("SECRET_KEY"):
        missing.append("B12_SECRET_KEY (signs the links)")
    if not dry_run and not settings("MAIL_FROM"):
        missing.append("B12_MAIL_FROM (the From address)")
    if missing:
        raise SetupError("Set " + "; ".join(missing) + ".")
    try:
        mail.address(settings("MAIL_FROM") or "check@example.org")
    except ValueError:
        raise SetupError(f"B12_MAIL_FROM {settings('MAIL_FROM')!r} is not an "
                         "address") from None


def new_mailer(deadline: float | None = None) -> mail.SmtpMailer:
    return mail.SmtpMailer.from_config(current_app.config, deadline=deadline)


# ---- composing ------------------------------------------------------------------


class PlanCache:
    """Rendered plans by (profile JSON, week), least recently used dropped first.

    Subscribers with the same profile share one plan, so a run builds as many
    plans as there are distinct profiles, and keeps at most ``size`` in memory.
    """

    def __init__(self, size: int):
        self.size = max(1, size)
        self._plans: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, profile_json: str, week: str, build: Callable[[], dict]) -> dict:
        """The cached value for (profile, week), or ``build()``'s, now cached."""
        key = (profile_json, week)
        plan = self._plans.get(key)
        if plan is not None:
            self.hits += 1
            self._plans.move_to_end(key)
            return plan
        self.misses += 1
        plan = build()
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan


def plan_cache() -> PlanCache:
    cache = current_app.extensions.get("planner.cache")
    if cache is None:
        cache = PlanCache(int(settings("MAIL_PLAN_CACHE_SIZE")))
        current_app.extensions["planner.cache"] = cache
    return cache


def build_plan_dict(subscriber: Subscriber, week: str) -> dict:
    """The week's plan for the stored profile, through the one entry point."""
    from planner import services
    from planner.domain.profile import parse_profile

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
    from planner.mail.subscribers import make_token

    return {purpose: url_for(f"subscribe.{purpose}", _external=True,
                             token=make_token(subscriber, purpose))
            for purpose in ("preferences", "unsubscribe")}


def plan_url(profile: dict, week: str) -> str:
    """The plan page for a profile and week, as a sealed link: no health data in
    the URL a mail client opens (issue 16; it works for ``PLAN_LINK_MAX_AGE``)."""
    from planner import privacy
    from planner.mail.views import profile_args

    pairs = [*profile_args(profile).items(multi=True), ("week", week)]
    return url_for("views.sealed_plan", _external=True, sealed=privacy.seal_pairs(pairs))


# Stand-ins for the personal links in the cached parts; letters and digits only,
# so escaping leaves them alone and they cannot occur in rendered text by chance.
SLOTS = {"preferences": "b12slot0preferences0c6f1", "unsubscribe": "b12slot0unsubscribe0c6f1"}


def email_parts(subscriber: Subscriber, week: str) -> dict[str, str]:
    """The text and HTML parts for this subscriber's profile and ``week``, cached.

    Everyone with the same profile gets the same plan, so the plan is built
    and both templates are rendered once per (profile, week); only the two
    personal links are put in for each subscriber.
    """
    def build() -> dict[str, str]:
        plan = build_plan_dict(subscriber, week)
        context = {"plan": plan, "week": week, "flags": ordered_flags(plan),
                   "links": {**SLOTS, "plan": plan_url(subscriber.profile, week)}}
        return {"text": render_template("email/weekly_plan.txt", **context),
                "html": render_template("email/weekly_plan.html", **context)}

    return plan_cache().get(subscriber.profile_json, week, build)


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
        to=subscriber.email, subject=f"Your B12 meal plan for the {dates.week_of(week, lower=True)}",
        text=text, html=html, message_id=mid, date=now,
        unsubscribe_url=urls["unsubscribe"],
        unsubscribe_mailto=settings("MAIL_UNSUBSCRIBE_MAILTO"))
    return msg, mid


# Medical flags come first in every email, in this order; the rest keep theirs.
MEDICAL_FIRST = ("malabsorption", "medical_check")


def ordered_flags(plan: dict) -> list[dict]:
    flags = list((plan.get("assessment") or {}).get("flags") or [])
    rank = {code: i for i, code in enumerate(MEDICAL_FIRST)}
    return sorted(flags, key=lambda f: rank.get(f.get("code"), len(rank)))


# ---- the claim and its record ------------------------------------------------------


def _send_row(subscriber_id: int, week: str) -> Send | None:
    return db.session.scalar(select(Send).where(Send.subscriber_id == subscriber_id,
                                                Send.week == week))


def claim(subscriber_id: int, week: str, mid: str, *, resend_in_doubt: bool = False,
          in_doubt_since: datetime | None = None) -> bool:
    """Take the right to send this email, in its own committed transaction.

    True when this caller owns it: a new ``sending`` row, or a ``retry`` row
    (fewer than MAIL_MAX_ATTEMPTS attempts) moved to ``sending``; with
    ``resend_in_doubt`` also a ``sending`` row whose claim time is still
    ``in_doubt_since`` (so two runs cannot both take it over).
    """
    now = utcnow()
    try:
        db.session.execute(insert(Send).values(
            subscriber_id=subscriber_id, week=week, status=SENDING, attempts=1,
            message_id=mid, claimed_at=now, updated_at=now))
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
    where = [Send.subscriber_id == subscriber_id, Send.week == week]
    if resend_in_doubt and in_doubt_since is not None:
        where += [Send.status == SENDING, Send.claimed_at == in_doubt_since]
    else:
        where += [Send.status == RETRY, Send.attempts < max_attempts()]
    result = db.session.execute(
        update(Send).where(*where).values(
            status=SENDING, attempts=Send.attempts + 1, message_id=mid,
            claimed_at=now, updated_at=now, last_error=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def mark_sent(subscriber_id: int, week: str) -> None:
    now = utcnow()
    db.session.execute(
        update(Send).where(Send.subscriber_id == subscriber_id, Send.week == week)
        .values(status=SENT, sent_at=now, updated_at=now, last_error=None)
        .execution_options(synchronize_session=False))
    db.session.commit()


def record_failure(subscriber_id: int, week: str, error: str, *, permanent: bool,
                   claimed: bool) -> str:
    """Write a refusal; returns the row's new status (``failed`` or ``retry``).

    ``claimed``: the row is ours in ``sending`` (the refusal came after the
    claim, to the final dot). Otherwise the refusal came at RCPT, before any
    claim: a new row is written, or an existing ``retry`` row counts one more
    attempt.
    """
    error = error[:1000]
    now = utcnow()
    if not claimed:
        status = FAILED if permanent or max_attempts() <= 1 else RETRY
        try:
            db.session.execute(insert(Send).values(
                subscriber_id=subscriber_id, week=week, status=status, attempts=1,
                last_error=error, updated_at=now))
            db.session.commit()
            return status
        except IntegrityError:
            db.session.rollback()
    row = _send_row(subscriber_id, week)
    if row is None or row.status not in (SENDING, RETRY):
        db.session.rollback()
        return row.status if row is not None else FAILED
    if not claimed:
        row.attempts += 1
    row.status = FAILED if permanent or row.attempts >= max_attempts() else RETRY
    row.last_error = error
    row.updated_at = now
    db.session.commit()
    return row.status


def note_in_doubt(subscriber_id: int, week: str, error: str) -> None:
    db.session.execute(
        update(Send).where(Send.subscriber_id == subscriber_id, Send.week == week,
                           Send.status == SENDING)
        .values(last_error=f"in doubt: {error}"[:1000], updated_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()


# ---- one subscriber ---------------------------------------------------------------


def _plan_errors() -> tuple[type[Exception], ...]:
    from planner.domain.planning import PlanError
    from planner.domain.profile import ProfileError

    return (ProfileError, PlanError)


@dataclass
class Result:
    outcome: str
    problem: str | None = None
    smtp_failure: bool = False  # refused, dropped or stalled by the SMTP server


def deliver(subscriber_id: int, week: str, smtp: mail.SmtpMailer, *,
            resend_in_doubt: bool = False, now: Callable[[], datetime] = utcnow) -> Result:
    """Compose, claim and send one subscriber's email for ``week``.

    Raises :class:`planner.mail.smtp.Unreachable` when the SMTP server cannot be
    used at all (nothing delivered, nothing recorded); the caller decides
    whether to wait and call again. A connection that drops or stalls while
    this message is on its way makes the row ``retry``, like a 4xx.
    """
    plan_errors = _plan_errors()
    try:
        subscriber = db.session.get(Subscriber, subscriber_id)
        if subscriber is None or not subscriber.active:
            return Result("skipped")
        existing = _send_row(subscriber_id, week)
        in_doubt_since = None
        if existing is not None:
            if existing.status == SENDING and resend_in_doubt:
                in_doubt_since = existing.claimed_at
            elif existing.status != RETRY or existing.attempts >= max_attempts():
                return Result("skipped")
        try:
            msg, mid = compose(subscriber, week, now())
        except plan_errors as e:  # a stored profile the planner no longer accepts
            status = record_failure(subscriber_id, week, f"cannot build the plan: {e}",
                                    permanent=True, claimed=False)
            return Result("failed" if status == FAILED else "retry",
                          f"subscriber {subscriber_id}: cannot build the plan ({e})")
        claimed = False

        def take() -> bool:
            nonlocal claimed
            claimed = claim(subscriber_id, week, mid, resend_in_doubt=resend_in_doubt,
                            in_doubt_since=in_doubt_since)
            return claimed

        try:
            smtp.send(msg, before_commit=take)  # envelope: the From and To headers
        except mail.Aborted:
            return Result("skipped")
        except mail.Refused as e:
            status = record_failure(subscriber_id, week, str(e), permanent=e.permanent,
                                    claimed=claimed)
            outcome = "failed" if status == FAILED else "retry"
            return Result(outcome, f"subscriber {subscriber_id}: refused: {e}", True)
        except mail.Unreachable:
            raise
        except mail.ConnectionTrouble as e:  # dropped or stalled before the dot
            status = record_failure(subscriber_id, week, str(e), permanent=False,
                                    claimed=False)
            outcome = "failed" if status == FAILED else "retry"
            return Result(outcome, f"subscriber {subscriber_id}: {e}", True)
        except mail.InDoubt as e:
            note_in_doubt(subscriber_id, week, str(e))
            return Result("in_doubt", f"subscriber {subscriber_id}: in doubt: {e}")
        mark_sent(subscriber_id, week)
        return Result("sent")
    finally:
        db.session.remove()


def deliver_with_retries(subscriber_id: int, week: str, smtp: mail.SmtpMailer, *,
                         resend_in_doubt: bool = False,
                         sleep: Callable[[float], None] = time.sleep) -> Result:
    """:func:`deliver`, waiting and trying again while the server is unreachable.

    Raises Unreachable once every delay in MAIL_RETRY_DELAYS is used up.
    """
    delays = retry_delays()
    for attempt in range(len(delays) + 1):
        try:
            return deliver(subscriber_id, week, smtp, resend_in_doubt=resend_in_doubt)
        except mail.Unreachable:
            smtp.close()
            if attempt == len(delays):
                raise
            sleep(delays[attempt])
    raise AssertionError("unreachable")


# ---- a whole run ------------------------------------------------------------------


def active_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Subscriber).where(
        Subscriber.confirmed_at.is_not(None), Subscriber.unsubscribed_at.is_(None)))


def in_doubt_count(week: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Send).where(
        Send.week == week, Send.status == SENDING))


def start_summary(week: str, due: list[int], resend_in_doubt: bool) -> Summary:
    summary = Summary(week=week, total=active_count(), due=len(due))
    if not resend_in_doubt:
        summary.in_doubt_before = in_doubt_count(week)
    db.session.remove()
    return summary


def due_for_run(week: str, resend_in_doubt: bool) -> list[int]:
    from planner.mail.subscribers import due_ids

    ids = due_ids(week, max_attempts())
    if resend_in_doubt:
        doubtful = db.session.scalars(select(Send.subscriber_id).where(
            Send.week == week, Send.status == SENDING))
        ids = sorted(set(ids) | set(doubtful))
    db.session.remove()
    return ids


def run_in_process(week: str, *, resend_in_doubt: bool = False,
                   progress: Callable[[int, int, Summary], None] | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> Summary:
    """Send ``week``'s email to everyone owed it, one message at a time."""
    due = due_for_run(week, resend_in_doubt)
    summary = start_summary(week, due, resend_in_doubt)
    to_retry: list[int] = []
    streak, limit = 0, max_consecutive_failures()
    with new_mailer() as smtp:
        for done, subscriber_id in enumerate(due, 1):
            try:
                result = deliver_with_retries(subscriber_id, week, smtp,
                                              resend_in_doubt=resend_in_doubt, sleep=sleep)
            except mail.Unreachable as e:
                summary.stopped = f"stopped: {e}"
                summary.not_attempted = len(due) - done + 1
                break
            if result.outcome == "retry":
                to_retry.append(subscriber_id)
            else:
                summary.add(result.outcome, result.problem)
            if progress:
                progress(done, len(due), summary)
            if result.smtp_failure:
                streak += 1
            elif result.outcome == "sent":
                streak = 0
            if streak >= limit:
                summary.stopped = (f"stopped: {streak} recipients in a row were refused, "
                                   "dropped or stalled by the SMTP server "
                                   f"(MAIL_MAX_CONSECUTIVE_FAILURES={limit})")
                summary.not_attempted = len(due) - done
                break
        to_retry = _retry_at_end(to_retry, week, smtp, summary, sleep)
        for subscriber_id in to_retry:
            row = _send_row(subscriber_id, week)
            summary.add("retry" if row is not None and row.status == RETRY else "failed",
                        f"subscriber {subscriber_id}: "
                        f"{row.last_error if row is not None else 'not sent'}")
        db.session.remove()
    return summary


def _retry_at_end(to_retry: list[int], week: str, smtp: mail.SmtpMailer, summary: Summary,
                  sleep: Callable[[float], None]) -> list[int]:
    """Try the ``retry`` ones again after each delay; those still owed at the end."""
    for delay in retry_delays():
        if not to_retry or summary.stopped:
            break
        sleep(delay)
        again, to_retry = to_retry, []
        for n, subscriber_id in enumerate(again):
            try:
                result = deliver_with_retries(subscriber_id, week, smtp, sleep=sleep)
            except mail.Unreachable as e:
                summary.stopped = f"stopped: {e}"
                to_retry += again[n:]
                break
            if result.outcome == "retry":
                to_retry.append(subscriber_id)
            else:
                summary.add(result.outcome, result.problem)
    return to_retry


def write_dry_run(week: str, directory: Path,
                  progress: Callable[[int, int, Summary], None] | None = None) -> Summary:
    """Write the emails a run would send as ``.eml`` files; record and send nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    due = due_for_run(week, False)
    summary = start_summary(week, due, False)
    for done, subscriber_id in enumerate(due, 1):
        subscriber = db.session.get(Subscriber, subscriber_id)
        msg, _ = compose(subscriber, week, utcnow())
        (directory / f"{week}-{subscriber_id:07d}.eml").write_bytes(mail.message_bytes(msg))
        summary.add("written")
        db.session.remove()
        if progress:
            progress(done, len(due), summary)
    return summary


# ---- through RQ -------------------------------------------------------------------


def _worker_mailer() -> mail.SmtpMailer:
    """One SMTP connection per worker process, reused by its jobs."""
    smtp = current_app.extensions.get("planner.worker_mailer")
    if smtp is None:
        smtp = new_mailer()
        current_app.extensions["planner.worker_mailer"] = smtp
    return smtp


def send_job(subscriber_id: int, week: str, resend_in_doubt: bool = False) -> dict:
    """RQ job: the same claim-send-mark as a run in process, for one subscriber.

    Runs in ``b12planner worker`` (an app context is active). Returns the
    outcome; temporary refusals are tried again after MAIL_RETRY_DELAYS
    inside the job.
    """
    smtp = _worker_mailer()
    delays = retry_delays()
    down = current_app.extensions.get("planner.worker_smtp_down")
    if down and time.monotonic() < down[0]:
        # The server was unreachable moments ago: do not wait through every
        # retry again for each queued job; a later run sends these.
        return {"outcome": "not_attempted", "problem": f"subscriber {subscriber_id}: "
                                                      f"{down[1]}"}
    try:
        for attempt in range(len(delays) + 1):
            result = deliver_with_retries(subscriber_id, week, smtp,
                                          resend_in_doubt=resend_in_doubt)
            if result.outcome != "retry" or attempt == len(delays):
                break
            time.sleep(delays[attempt])
    except mail.ConnectionTrouble as e:
        current_app.extensions["planner.worker_smtp_down"] = (
            time.monotonic() + max(sum(delays), 1.0), str(e))
        return {"outcome": "not_attempted", "problem": f"subscriber {subscriber_id}: {e}"}
    return {"outcome": result.outcome, "problem": result.problem}


# A worker process says it is alive by keeping this key (one per worker) fresh:
# ``b12planner worker`` refreshes it every MAIL_WORKER_HEARTBEAT seconds from a
# thread, and it expires HEARTBEAT_MISSES times that after the last refresh. A
# worker killed outright (SIGKILL, OOM) stops refreshing it, so send-weekly
# learns within seconds that the job that worker had started will never end.
ALIVE_KEY = "b12planner:alive:{queue}:{worker}"
HEARTBEAT_MISSES = 5


def heartbeat_interval() -> float:
    return max(0.05, float(settings("MAIL_WORKER_HEARTBEAT")))


def start_heartbeat(connection, queue: str, worker: str) -> Callable[[], None]:
    """Keep this worker's alive key fresh from a daemon thread; returns ``stop``."""
    import threading

    interval = heartbeat_interval()
    key = ALIVE_KEY.format(queue=queue, worker=worker)
    ttl_ms = int(interval * HEARTBEAT_MISSES * 1000)
    stopped = threading.Event()

    def beat() -> None:
        while True:
            try:
                connection.set(key, "1", px=ttl_ms)
            except Exception:  # Redis away for a moment: the next beat tries again
                pass
            if stopped.wait(interval):
                break
        try:
            connection.delete(key)
        except Exception:
            pass

    connection.set(key, "1", px=ttl_ms)
    threading.Thread(target=beat, name="b12-heartbeat", daemon=True).start()
    return stopped.set


def _alive(connection, queue: str, worker: str | None) -> bool:
    return bool(worker) and bool(connection.exists(ALIVE_KEY.format(queue=queue,
                                                                      worker=worker)))


def _any_worker_alive(connection, queue: str) -> bool:
    pattern = ALIVE_KEY.format(queue=queue, worker="*")
    return next(iter(connection.scan_iter(match=pattern, count=100)), None) is not None


def _record_job(summary: Summary, job_id: str, job) -> bool:
    """Add a finished job's outcome to ``summary``; False while it is still to come."""
    from rq.job import JobStatus

    status = job.get_status(refresh=False) if job is not None else None
    if status == JobStatus.FINISHED:
        value = job.return_value() or {}
        outcome = value.get("outcome", "failed")
        if outcome == "not_attempted":
            summary.not_attempted += 1
            summary.problems.append(value.get("problem") or "not attempted")
        else:
            summary.add(outcome, value.get("problem"))
        return True
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, None):
        _record_from_row(summary, job, f"job {job_id} {status or 'lost'}")
        return True
    return False


def _record_from_row(summary: Summary, job, what: str) -> None:
    """A job that ended without an answer: what its ``sends`` row says happened."""
    try:
        subscriber_id, week = int(job.args[0]), str(job.args[1])
    except (AttributeError, IndexError, TypeError, ValueError):
        summary.add("failed", f"{what}: see the worker's log")
        return
    row = _send_row(subscriber_id, week)
    status = row.status if row is not None else None
    db.session.remove()
    if status == SENDING:
        note_in_doubt(subscriber_id, week, what)
        db.session.remove()
        summary.add("in_doubt", f"subscriber {subscriber_id}: in doubt: {what} while "
                                "its email was being handed to the SMTP server; it may or "
                                "may not have been delivered (see --resend-in-doubt)")
    elif status == SENT:
        summary.add("sent")
    elif status in (FAILED, RETRY):
        summary.add("failed" if status == FAILED else "retry",
                    f"subscriber {subscriber_id}: {row.last_error or what}")
    else:
        summary.not_attempted += 1
        summary.problems.append(f"subscriber {subscriber_id}: {what} before sending; "
                                "nothing was sent, the next run sends it")


def run_with_rq(week: str, *, resend_in_doubt: bool = False,
                progress: Callable[[int, int, Summary], None] | None = None,
                timeout: float | None = None, poll: float = 0.2) -> Summary:
    """Queue one job per subscriber owed the email, wait for all, and summarise.

    The wait is bounded without ``timeout`` too: a started job whose worker
    stopped beating (killed) is settled from its ``sends`` row at once (a
    ``sending`` row is in doubt), and when no worker has been alive for
    MAIL_NO_WORKER_WAIT seconds the jobs still queued are cancelled and
    reported as not attempted (the next run sends them).
    """
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    due = due_for_run(week, resend_in_doubt)
    summary = start_summary(week, due, resend_in_doubt)
    connection = Redis.from_url(str(settings("REDIS_URL")))
    queue_name = str(settings("MAIL_QUEUE"))
    queue = Queue(queue_name, connection=connection)
    job_timeout = int(float(settings("SMTP_TIMEOUT")) * 4 + sum(retry_delays()) * 2 + 60)
    pending: list[str] = []
    for chunk_start in range(0, len(due), 500):
        jobs = [Queue.prepare_data(send_job, args=(sid, week, resend_in_doubt),
                                   timeout=job_timeout, result_ttl=24 * 3600,
                                   description=f"weekly email {week} #{sid}")
                for sid in due[chunk_start:chunk_start + 500]]
        pending += [job.id for job in queue.enqueue_many(jobs)]
    deadline = None if timeout is None else time.monotonic() + timeout
    no_worker_wait = float(settings("MAIL_NO_WORKER_WAIT"))
    last_worker_seen = time.monotonic()
    done = 0
    while pending:
        still: list[Job] = []
        for start in range(0, len(pending), 500):
            ids = pending[start:start + 500]
            jobs = Job.fetch_many(ids, connection=connection)
            for job_id, job in zip(ids, jobs, strict=True):
                if not _settle(summary, job_id, job, connection, queue_name):
                    still.append(job)
                    continue
                done += 1
                if progress:
                    progress(done, len(due), summary)
        pending = [job.id for job in still]
        if not pending:
            break
        if _any_worker_alive(connection, queue_name):
            last_worker_seen = time.monotonic()
        elif time.monotonic() - last_worker_seen > no_worker_wait:
            _give_up(summary, still, connection,
                     f"stopped waiting: no worker has been running for {no_worker_wait:g} s "
                     "(start `b12planner worker`)")
            break
        if deadline is not None and time.monotonic() > deadline:
            _give_up(summary, still, connection, "stopped waiting after --wait-timeout")
            break
        time.sleep(poll)
    return summary


def _settle(summary: Summary, job_id: str, job, connection, queue_name: str) -> bool:
    """Record ``job`` if it has ended, or if its worker died; False while it runs or waits."""
    from rq.job import JobStatus

    if _record_job(summary, job_id, job):
        return True
    if (job.get_status(refresh=False) != JobStatus.STARTED
            or _alive(connection, queue_name, job.worker_name)):
        return False
    job.refresh()  # it may have finished since it was fetched
    if not _record_job(summary, job_id, job):
        _record_from_row(summary, job, f"the worker {job.worker_name} died (job {job_id})")
    return True


def _give_up(summary: Summary, jobs: list, connection, why: str) -> None:
    """Stop waiting: cancel the jobs no worker has started; count the rest honestly."""
    from rq.job import JobStatus

    queued = running = 0
    for job in jobs:
        job.refresh()
        if _record_job(summary, job.id, job):
            continue
        if job.get_status(refresh=False) == JobStatus.STARTED:
            running += 1
        else:
            job.cancel()
            queued += 1
    summary.not_attempted += queued + running
    parts = [f"{queued} not started (cancelled; the next run sends them)"] if queued else []
    if running:
        parts.append(f"{running} still running in a worker (the next run reports them)")
    summary.stopped = f"{why}: " + "; ".join(parts) if parts else why
