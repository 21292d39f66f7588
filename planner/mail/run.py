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

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from planner.domain.planning import PlanError
from planner.domain.profile import ProfileError
from planner.mail import smtp as mail
from planner.mail.compose import compose
from planner.mail.settings import max_attempts
from planner.mail.settings import max_consecutive_failures
from planner.mail.settings import new_mailer
from planner.mail.settings import retry_delays
from planner.mail.settings import settings
from planner.mail.subscribers import active_count
from planner.mail.subscribers import claim
from planner.mail.subscribers import due_ids
from planner.mail.subscribers import in_doubt_count
from planner.mail.subscribers import mark_sent
from planner.mail.subscribers import note_in_doubt
from planner.mail.subscribers import record_failure
from planner.mail.subscribers import send_row
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


# ---- one subscriber ---------------------------------------------------------------


def _plan_errors() -> tuple[type[Exception], ...]:
    return (ProfileError, PlanError)


@dataclass
class Result:
    outcome: str
    problem: str | None = None
    smtp_failure: bool = False  # refused, dropped or stalled by the SMTP server


def _still_due(subscriber_id: int, week: str, resend_in_doubt: bool
               ) -> tuple[bool, datetime | None]:
    """(whether this week's email is still to send, the claim time of an in-doubt row
    taken over with ``resend_in_doubt``): no row yet, a ``retry`` row with attempts
    left, or an in-doubt row when asked."""
    existing = send_row(subscriber_id, week)
    if existing is None:
        return True, None
    if existing.status == SENDING and resend_in_doubt:
        return True, existing.claimed_at
    return existing.status == RETRY and existing.attempts < max_attempts(), None


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
        due, in_doubt_since = _still_due(subscriber_id, week, resend_in_doubt)
        if not due:
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


def start_summary(week: str, due: list[int], resend_in_doubt: bool) -> Summary:
    summary = Summary(week=week, total=active_count(), due=len(due))
    if not resend_in_doubt:
        summary.in_doubt_before = in_doubt_count(week)
    db.session.remove()
    return summary


def due_for_run(week: str, resend_in_doubt: bool) -> list[int]:
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
            row = send_row(subscriber_id, week)
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
    row = send_row(subscriber_id, week)
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
    pending = _enqueue(queue, due, week, resend_in_doubt)
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


def _enqueue(queue, due: list[int], week: str, resend_in_doubt: bool) -> list[str]:
    """One ``send_job`` per subscriber, queued 500 at a time; the job ids."""
    from rq import Queue

    job_timeout = int(float(settings("SMTP_TIMEOUT")) * 4 + sum(retry_delays()) * 2 + 60)
    pending: list[str] = []
    for chunk_start in range(0, len(due), 500):
        jobs = [Queue.prepare_data(send_job, args=(sid, week, resend_in_doubt),
                                   timeout=job_timeout, result_ttl=24 * 3600,
                                   description=f"weekly email {week} #{sid}")
                for sid in due[chunk_start:chunk_start + 500]]
        pending += [job.id for job in queue.enqueue_many(jobs)]
    return pending


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
