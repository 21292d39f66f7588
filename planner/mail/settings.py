"""The mail settings: their defaults (next to the feature that owns them; listed in
the README's settings table) and the checks a run makes before sending anything."""

from __future__ import annotations

from flask import current_app

from planner.mail import smtp as mail

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
    "WEEKLY_EMAIL_WEEKDAY": 0,  # the cron day of send-weekly (0 = Monday), as pages say it
}


class SetupError(RuntimeError):
    """A setting the run needs is missing; the message says which."""


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
