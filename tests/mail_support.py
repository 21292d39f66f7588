"""Helpers of the weekly-email tests: the app's config, driving the pages like a
browser, quick subscribers, and the CLI as a separate process. The fixtures
are in tests/mail_fixtures.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from planner.commands.mail import send_weekly
from planner.domain.profile import parse_profile

REPO = Path(__file__).resolve().parent.parent
SERVER_NAME = "b12.test"
MAIL_FROM = "B12 Planner <plans@b12.test>"
SECRET = "test-secret-for-mail"
WEEK = "2025-W07"
NEXT_WEEK = "2025-W08"
VEGAN = {"age_years": "34", "diet": "vegan"}


def mail_config(tmp_path, database_url: str, smtp_port: int, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SERVER_NAME": SERVER_NAME,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_port,
        "SMTP_TIMEOUT": 5,
        "MAIL_FROM": MAIL_FROM,
        "MAIL_RETRY_DELAYS": [0.01, 0.02],
        "MAIL_MAX_ATTEMPTS": 5,
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": True,
        "CONFIRM_RESEND_SECONDS": 0,
    }
    config.update(overrides)
    return config


# ---- driving the pages ---------------------------------------------------------------


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert m, "the page has no CSRF token field"
    return m.group(1)


def subscribe(client, email: str, **profile) -> object:
    """Fill in /subscribe as a browser would (token scraped from the form)."""
    token = csrf_token(client.get("/subscribe").get_data(as_text=True))
    fields = {**VEGAN, **profile}
    return client.post("/subscribe", data={"csrf_token": token, "email": email, **fields})


def link_in(message, path: str) -> str:
    """The first link in ``message``'s plain-text part whose path starts with ``path``."""
    text = message.get_body(("plain",)).get_content()
    m = re.search(rf"https?://{re.escape(SERVER_NAME)}({re.escape(path)}[^\s]+)", text)
    assert m, f"no {path} link in:\n{text}"
    return m.group(1)


def confirm(client, link: str):
    """Open a confirmation link and press its button, as a person would."""
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def subscribe_and_confirm(client, recorder, email: str, **profile) -> None:
    before = len(recorder.messages_to(email))
    assert subscribe(client, email, **profile).status_code == 200
    messages = recorder.messages_to(email)
    assert len(messages) == before + 1
    assert confirm(client, link_in(messages[-1], "/confirm/")).status_code == 200


def add_subscribers(app, n: int, *, confirmed: bool = True, start: int = 0,
                    profile: dict | None = None) -> list[str]:
    """``n`` subscribers straight through the store (fast), addresses returned."""
    from planner.mail import subscribers as store
    from planner.store.db import db
    from planner.store.models import Subscriber
    from planner.store.models import utcnow

    parsed = parse_profile(profile or {"age_years": 34, "diet": "vegan"})
    emails = [f"reader{i:05d}@example.org" for i in range(start, start + n)]
    with app.app_context():
        text = store.profile_json(parsed)
        now = utcnow()
        db.session.add_all(Subscriber(email=e, email_key=e, profile_json=text,
                                      confirmed_at=now if confirmed else None)
                           for e in emails)
        db.session.commit()
    return emails


def run_send(app, *args: str):
    """``b12planner send-weekly ARGS`` in process, on ``app``."""
    return app.test_cli_runner().invoke(send_weekly, list(args), catch_exceptions=False)


def sends(app, week: str = WEEK) -> dict[int, str]:
    from sqlalchemy import select

    from planner.store.db import db
    from planner.store.models import Send

    with app.app_context():
        rows = db.session.execute(select(Send.subscriber_id, Send.status)
                                  .where(Send.week == week)).all()
        db.session.remove()
    return dict(rows)


# ---- the CLI as a separate process (kill tests, RQ workers) --------------------------


def cli_env(database_url: str, smtp_port: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B12_")}
    env.update({
        "B12_SECRET_KEY": SECRET,
        "B12_DATABASE_URL": database_url,
        "B12_SERVER_NAME": SERVER_NAME,
        "B12_SMTP_HOST": "127.0.0.1",
        "B12_SMTP_PORT": str(smtp_port),
        "B12_SMTP_TIMEOUT": "5",
        "B12_MAIL_FROM": MAIL_FROM,
        "B12_MAIL_RETRY_DELAYS": "[0.01, 0.02]",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from planner.cli import main; main()", *args]


def start_cli(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(cli_command(*args), env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill(proc: subprocess.Popen) -> None:
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
