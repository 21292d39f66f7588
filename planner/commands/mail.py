"""``b12planner send-weekly`` and ``b12planner worker``: the weekly plan emails.

Cron runs ``send-weekly`` once a week; it reads the clock for the default
week (the core never does). Without ``REDIS_URL`` it sends in this process;
with it, it queues one job per subscriber for ``b12planner worker``
processes and waits for them. Either way the exactly-once rules of
:mod:`planner.mail.run` apply, and the exit status is 1 when any email failed
or is in doubt, so cron reports it.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from planner.errors import InvalidInput
from planner.mail import run as weekly
from planner.mail import settings as mail_settings
from planner.pages.forms import parse_week


def _week(ctx, param, value: str | None) -> str:
    try:
        return parse_week(value, date.today(), days=False)
    except InvalidInput as e:
        raise click.BadParameter(e.errors[0]["message"]) from None


class Progress:
    """A line on stderr every ``every`` subscribers and at the last one."""

    def __init__(self, every: int):
        self.every, self.started = max(1, every), time.monotonic()

    def __call__(self, done: int, total: int, summary: weekly.Summary) -> None:
        if done % self.every and done != total:
            return
        elapsed = time.monotonic() - self.started
        c = summary.counts
        click.echo(f"{done}/{total} done in {elapsed:.1f} s: sent {c['sent']}, "
                   f"written {c['written']}, failed {c['failed'] + c['retry']}",
                   err=True)


@click.command("send-weekly")
@click.option("--week", callback=_week, metavar="YYYY-Www",
              help="ISO week to send; default: the current week.")
@click.option("--dry-run", "dry_run", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Write each email as DIR/<week>-<id>.eml; send and record nothing.")
@click.option("--resend-in-doubt", is_flag=True,
              help="Also send emails a stopped run left in doubt (may duplicate one); "
                   "use only when no other run is active.")
@click.option("--progress-every", default=100, show_default=True, metavar="N",
              help="Print a progress line to stderr every N subscribers.")
@click.option("--wait-timeout", type=float, default=None, metavar="SECONDS",
              help="With REDIS_URL: stop waiting for the workers after this long "
                   "(without it the wait still ends when workers die or none runs).")
@with_appcontext
def send_weekly(week: str, dry_run: Path | None, resend_in_doubt: bool,
                progress_every: int, wait_timeout: float | None) -> None:
    """Email this week's plan to every confirmed subscriber not yet sent one."""
    try:
        mail_settings.check_setup(dry_run=dry_run is not None)
    except mail_settings.SetupError as e:
        raise click.UsageError(str(e)) from None
    progress = Progress(progress_every)
    if dry_run is not None:
        summary = weekly.write_dry_run(week, dry_run, progress=progress)
    elif current_app.config.get("REDIS_URL"):
        click.echo(f"queueing on {current_app.config['MAIL_QUEUE']!r} for the workers",
                   err=True)
        summary = weekly.run_with_rq(week, resend_in_doubt=resend_in_doubt,
                                     progress=progress, timeout=wait_timeout)
    else:
        summary = weekly.run_in_process(week, resend_in_doubt=resend_in_doubt,
                                        progress=progress)
    report(summary, dry_run)
    if dry_run is None and not summary.ok:
        sys.exit(1)


def report(summary: weekly.Summary, dry_run: Path | None) -> None:
    for problem in summary.problems[:50]:
        click.echo(f"  {problem}", err=True)
    if len(summary.problems) > 50:
        click.echo(f"  … and {len(summary.problems) - 50} more", err=True)
    if summary.stopped:
        click.echo(summary.stopped, err=True)
    if summary.in_doubt_before:
        click.echo(f"{summary.in_doubt_before} email(s) of this week were left in doubt "
                   "by a stopped run and were not sent again: they may or may not have "
                   "been delivered. Runs of this week exit 1 until "
                   "`send-weekly --resend-in-doubt` sends them again.", err=True)
    if dry_run is not None:
        click.echo(f"dry run: {summary.counts['written']} email(s) written to {dry_run}")
    click.echo(summary.line())
    click.echo(json.dumps(summary.to_dict()), err=True)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker that sends queued weekly emails (needs B12_REDIS_URL)."""
    from redis import Redis
    from rq import Queue
    from rq import SimpleWorker

    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.UsageError("Set B12_REDIS_URL, e.g. redis://localhost:6379/0.")
    try:
        mail_settings.check_setup()
    except mail_settings.SetupError as e:
        raise click.UsageError(str(e)) from None
    connection = Redis.from_url(str(url))
    name = str(current_app.config["MAIL_QUEUE"])
    queue = Queue(name, connection=connection)
    # SimpleWorker runs jobs in this process: the app context and the open SMTP
    # connection are reused by every job instead of a fork per job.
    rq_worker = SimpleWorker([queue], connection=connection)
    # The heartbeat send-weekly watches: a worker killed mid-job is noticed in
    # seconds, and its job's row reported (in doubt if it was being sent).
    stop = weekly.start_heartbeat(Redis.from_url(str(url)), name, rq_worker.name)
    try:
        rq_worker.work(burst=burst, logging_level="WARNING")
    finally:
        stop()
