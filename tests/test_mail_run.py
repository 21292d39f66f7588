"""``b12planner send-weekly``: one email per confirmed subscriber per week, whatever happens.

Real SMTP server (aiosmtpd), real database made by the migrations; the kill
tests run the command as a separate process and SIGKILL it mid-run.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import threading
import time
from datetime import date

import pytest
from mail_support import NEXT_WEEK
from mail_support import WEEK
from mail_support import add_subscribers
from mail_support import cli_command
from mail_support import cli_env
from mail_support import csrf_token
from mail_support import kill
from mail_support import link_in
from mail_support import run_send
from mail_support import sends
from mail_support import start_cli
from mail_support import subscribe
from mail_support import subscribe_and_confirm
from smtp_server import Recorder
from smtp_server import SmtpServer
from smtp_server import free_port

from planner.mail import subscribers as store
from planner.pages import privacy
from planner.store.db import db
from planner.store.models import Send
from planner.store.models import Subscriber

pytest_plugins = ["mail_fixtures"]


def summary_of(result) -> dict:
    """The JSON summary the command prints last on stderr."""
    lines = [line for line in (result.stderr if hasattr(result, "stderr")
                               else result.output).splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


# ---- the whole journey ------------------------------------------------------------


def test_subscribe_confirm_and_receive_the_weekly_plan(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")

    result = run_send(mail_app, "--week", WEEK)

    assert result.exit_code == 0, result.output
    assert "week 2025-W07, sent 1, skipped 0, failed 0" in result.output
    [msg] = recorder.messages_to("ann@example.org")[1:]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == "Your B12 meal plan for the week of 10 February 2025"  # issue 16
    assert msg["From"] == "B12 Planner <plans@b12.test>"
    assert re.fullmatch(r"<b12\.2025-W07\.1\.[0-9a-f]{20}@b12\.test>", msg["Message-ID"])
    assert msg["Date"]
    unsubscribe = link_in(msg, "/unsubscribe/")
    assert msg["List-Unsubscribe"] == f"<http://b12.test{unsubscribe}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "information, not medical advice" in part
        assert "/preferences/" in part and "/unsubscribe/" in part
        # A sealed link since issue 16: the week and the profile are inside the token.
        [link] = set(re.findall(r"http://b12\.test/plan/t/[A-Za-z0-9_-]+", part))
        with mail_app.app_context():
            answers = privacy.open_pairs(link.rsplit("/", 1)[1])
        assert answers["week"] == "2025-W07" and answers["diet"] == "vegan"
    assert "Breakfast" in text and "Breakfast" in html
    assert "SUPPLEMENT REMINDER" in text  # a vegan profile: B12 needs a reliable source


def test_unconfirmed_addresses_get_nothing_and_a_second_run_sends_nothing(mail_app, mail_client,
                                                                          recorder):
    subscribe(mail_client, "waiting@example.org")
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    add_subscribers(mail_app, 3, confirmed=False)
    before = recorder.count

    first = run_send(mail_app, "--week", WEEK)
    second = run_send(mail_app, "--week", WEEK)

    assert first.exit_code == 0 and second.exit_code == 0
    assert recorder.count == before + 1
    assert len(recorder.messages_to("waiting@example.org")) == 1  # its confirmation only
    assert "sent 0, skipped 1, failed 0" in second.output


def test_next_week_is_a_new_email(mail_app, recorder):
    add_subscribers(mail_app, 2)
    run_send(mail_app, "--week", WEEK)
    run_send(mail_app, "--week", NEXT_WEEK)
    assert recorder.by_recipient() == {"reader00000@example.org": 2,
                                       "reader00001@example.org": 2}


def test_medical_flags_come_first_and_say_what_the_plan_says(mail_app, recorder):
    profile = {"age_years": 70, "diet": "omnivore", "conditions": ["pernicious_anemia"],
               "symptoms": ["tingling", "numbness"]}
    add_subscribers(mail_app, 1, profile=profile)
    run_send(mail_app, "--week", WEEK)

    with mail_app.app_context():
        from planner import services
        from planner.domain.profile import parse_profile

        flags = services.build_plan(parse_profile(profile), WEEK).to_dict()["assessment"]["flags"]
    medical = [f for f in flags if f["code"] in ("malabsorption", "medical_check")]
    assert {f["code"] for f in medical} == {"malabsorption", "medical_check"}
    [msg] = recorder.messages_to("reader00000@example.org")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    read_first = text.index("PLEASE READ FIRST")
    # with nerve symptoms treatment starts with injections: no supplement by mouth is
    # reminded of, the treatment is (in place of the supplement reminder)
    assert "SUPPLEMENT REMINDER" not in text
    assert read_first < text.index("TREATMENT FIRST") < text.index("THE WEEK")
    assert "injections, arranged by a doctor" in text[text.index("TREATMENT FIRST"):]
    for flag in medical:
        assert read_first < text.index(flag["title"]) < text.index("TREATMENT FIRST")
        assert flag["advice"] in text  # word for word, not softened
        assert flag["title"] in html
        for test_name in flag.get("tests") or []:
            assert test_name in text
    assert html.index("Please read first") < html.index("Treatment first")
    assert "Supplement reminder" not in html


def test_identical_profiles_share_one_plan(mail_app, recorder):
    add_subscribers(mail_app, 25)
    add_subscribers(mail_app, 5, start=100, profile={"age_years": 60, "diet": "omnivore"})
    run_send(mail_app, "--week", WEEK)
    cache = mail_app.extensions["planner.plan_cache"]
    assert (cache.misses, cache.hits) == (2, 28)
    assert recorder.count == 30


def test_subscribers_sharing_a_plan_each_get_their_own_links(mail_app, mail_client, recorder):
    emails = add_subscribers(mail_app, 2)
    run_send(mail_app, "--week", WEEK)

    for number, address in enumerate(emails, 1):
        [msg] = recorder.messages_to(address)
        for part in (msg.get_body(("plain",)).get_content(),
                     msg.get_body(("html",)).get_content()):
            assert "b12slot" not in part
        preferences = link_in(msg, "/preferences/")
        assert "/unsubscribe/" in msg["List-Unsubscribe"]
        with mail_app.app_context():
            token = preferences.rsplit("/", 1)[1]
            assert store.read_token(token, "preferences").id == number
        assert preferences in msg.get_body(("html",)).get_content()
        assert mail_client.get(preferences).status_code == 200


def test_one_click_unsubscribe_stops_further_emails(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org")
    subscribe_and_confirm(mail_client, recorder, "bob@example.org")
    run_send(mail_app, "--week", WEEK)
    [weekly] = recorder.messages_to("ann@example.org")[1:]
    target = weekly["List-Unsubscribe"].strip("<>").replace("http://b12.test", "")

    response = mail_client.post(target, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    run_send(mail_app, "--week", NEXT_WEEK)

    assert len(recorder.messages_to("ann@example.org")) == 2  # confirmation + one plan
    assert len(recorder.messages_to("bob@example.org")) == 3


def test_editing_preferences_changes_the_next_plan(mail_app, mail_client, recorder):
    subscribe_and_confirm(mail_client, recorder, "ann@example.org", meals_per_day="3")
    run_send(mail_app, "--week", WEEK)
    first = recorder.messages_to("ann@example.org")[-1]
    assert "Lunch:" in first.get_body(("plain",)).get_content()

    link = link_in(first, "/preferences/")
    page = mail_client.get(link).get_data(as_text=True)
    saved = mail_client.post(link, data={"csrf_token": csrf_token(page), "age_years": "34",
                                    "diet": "vegan", "meals_per_day": "2"})
    assert saved.status_code == 200
    run_send(mail_app, "--week", NEXT_WEEK)

    text = recorder.messages_to("ann@example.org")[-1].get_body(("plain",)).get_content()
    assert "Breakfast:" in text and "Dinner:" in text and "Lunch:" not in text


# ---- failures -----------------------------------------------------------------------


def test_refused_recipients_are_reported_failed_and_the_rest_delivered(make_app,
                                                                       refusing):
    mail_app = make_app(SMTP_PORT=refusing.port)
    emails = add_subscribers(mail_app, 6)
    with mail_app.app_context():
        store.subscribe("gone@example.org", _vegan())
        db.session.execute(db.update(Subscriber).values(confirmed_at=db.func.now()))
        db.session.commit()

    result = run_send(mail_app, "--week", WEEK)

    assert result.exit_code == 1
    assert "sent 5, skipped 0, failed 2" in result.output
    assert "refused: 550" in result.output
    assert refusing.handler.by_recipient() == {e: 1 for e in emails if "00003" not in e}
    statuses = sends(mail_app)
    assert sorted(statuses.values()) == ["failed"] * 2 + ["sent"] * 5
    again = run_send(mail_app, "--week", WEEK)  # refused for good: not tried again
    assert again.exit_code == 0 and "sent 0, skipped 7, failed 0" in again.output


def _vegan():
    from planner.domain.profile import parse_profile

    return parse_profile({"age_years": 34, "diet": "vegan"})


def test_a_temporary_refusal_is_retried_then_left_for_the_next_run(make_app):
    handler = Recorder(defer=["reader00001@example.org"])
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port)
        add_subscribers(mail_app, 3)
        first = run_send(mail_app, "--week", WEEK)
        assert first.exit_code == 1
        assert "sent 2, skipped 0, failed 1 (1 to retry next run)" in first.output
        with mail_app.app_context():
            row = db.session.scalar(db.select(Send).where(Send.subscriber_id == 2))
            assert (row.status, row.attempts) == ("retry", 3)  # 1 + 2 delays
            assert row.last_error.startswith("450")
            db.session.remove()

        handler.defer.clear()
        second = run_send(mail_app, "--week", WEEK)
    assert second.exit_code == 0 and "sent 1, skipped 2, failed 0" in second.output
    assert handler.by_recipient()["reader00001@example.org"] == 1


def test_a_recipient_that_keeps_deferring_ends_up_failed(make_app):
    handler = Recorder(defer=["reader00000@example.org"])
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, MAIL_MAX_ATTEMPTS=4)
        add_subscribers(mail_app, 1)
        run_send(mail_app, "--week", WEEK)
        run_send(mail_app, "--week", WEEK)
        third = run_send(mail_app, "--week", WEEK)
    assert sends(mail_app) == {1: "failed"}
    assert "sent 0, skipped 1, failed 0" in third.output
    assert handler.count == 0


def test_an_unreachable_server_stops_the_run_and_loses_nothing(make_app, recorder, smtp):
    mail_app = make_app(SMTP_PORT=free_port())
    add_subscribers(mail_app, 4)
    result = run_send(mail_app, "--week", WEEK)

    assert result.exit_code == 1
    assert "stopped: cannot use SMTP server" in result.output
    assert summary_of(result)["not_attempted"] == 4
    assert sends(mail_app) == {}

    working = make_app()
    assert run_send(working, "--week", WEEK).exit_code == 0
    assert recorder.count == 4


def test_dry_run_writes_eml_files_and_records_nothing(mail_app, recorder, tmp_path):
    add_subscribers(mail_app, 3)
    out = tmp_path / "out"
    result = run_send(mail_app, "--week", WEEK, "--dry-run", str(out))

    assert result.exit_code == 0
    files = sorted(out.glob("*.eml"))
    assert [f.name for f in files] == [f"2025-W07-000000{i}.eml" for i in (1, 2, 3)]
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "reader00000@example.org" and msg["List-Unsubscribe-Post"]
    assert recorder.count == 0 and sends(mail_app) == {}
    assert run_send(mail_app, "--week", WEEK).exit_code == 0 and recorder.count == 3


def test_the_default_week_is_the_current_iso_week(mail_app, recorder):
    add_subscribers(mail_app, 1)
    result = run_send(mail_app)
    year, week, _ = date.today().isocalendar()
    assert f"week {year}-W{week:02d}, sent 1" in result.output


@pytest.mark.parametrize("week", ["2025-W60", "2025-07", "next"])
def test_a_bad_week_is_a_usage_error(mail_app, recorder, week):
    result = mail_app.test_cli_runner().invoke(
        __import__("planner.commands.mail", fromlist=["x"]).send_weekly, ["--week", week])
    assert result.exit_code == 2 and "--week" in result.output


def test_without_a_server_name_nothing_is_sent(make_app, recorder):
    mail_app = make_app(SERVER_NAME=None)
    add_subscribers(mail_app, 1)
    result = mail_app.test_cli_runner().invoke(
        __import__("planner.commands.mail", fromlist=["x"]).send_weekly, ["--week", WEEK])
    assert result.exit_code == 2 and "B12_SERVER_NAME" in result.output
    assert recorder.count == 0


def test_of_two_simultaneous_claims_exactly_one_wins(mail_app):
    from planner.mail.subscribers import claim

    add_subscribers(mail_app, 1)
    barrier = threading.Barrier(8)
    results = []

    def contender():
        with mail_app.app_context():
            barrier.wait()
            results.append(claim(1, WEEK, "<x@b12.test>"))
            db.session.remove()

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert sends(mail_app) == {1: "sending"}


# ---- killed runs --------------------------------------------------------------------


class Killer:
    """Kills the current sender process at given points of the SMTP dialogue."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.at_mail: set[int] = set()
        self.after_data: set[int] = set()

    def on_mail(self, n: int) -> None:
        if n in self.at_mail and self.proc is not None:
            kill(self.proc)

    def on_data(self, n: int) -> None:
        if n in self.after_data and self.proc is not None:
            kill(self.proc)


def run_killed(env, killer, until=None) -> subprocess.CompletedProcess:
    proc = killer.proc = start_cli(env, "send-weekly", "--week", WEEK)
    if until is not None:
        while not until() and proc.poll() is None:
            time.sleep(0.001)
        kill(proc)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
def test_a_run_killed_at_any_point_and_restarted_sends_each_subscriber_exactly_once(
        make_app, database_url):
    killer = Killer()
    handler = Recorder(delay_mail=0.003, on_mail=killer.on_mail, after_data=killer.on_data)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port)
        emails = add_subscribers(mail_app, 200)
        env = cli_env(database_url, server.port)

        # 1. killed while waiting for the answer to MAIL FROM #40: nothing in doubt
        killer.at_mail = {40}
        assert run_killed(env, killer).returncode == -9
        assert handler.count == 39
        # 2. killed after the server kept message #90 but before it answered: in doubt
        killer.after_data = {90}
        assert run_killed(env, killer).returncode == -9
        assert handler.count == 90
        # 3. killed at whatever point it has reached once 150 messages arrived
        assert run_killed(env, killer, until=lambda: handler.count >= 150).returncode == -9
        # 4. runs to the end
        last = run_killed(env, killer)

    assert last.returncode == 1, last.stderr  # message 90 is in doubt: cron hears of it
    counts = handler.by_recipient()
    assert set(counts) == set(emails)
    assert set(counts.values()) == {1}, {e: n for e, n in counts.items() if n != 1}
    statuses = sends(mail_app)
    assert len(statuses) == 200
    in_doubt = [sid for sid, status in statuses.items() if status == "sending"]
    assert 90 in in_doubt and len(in_doubt) <= 2
    assert summary_of(last)["in_doubt_before"] == len(in_doubt)
    assert "left in doubt" in last.stderr


def test_in_doubt_emails_are_resent_only_when_asked_with_the_same_message_id(
        make_app, database_url):
    killer = Killer()
    handler = Recorder(after_data=killer.on_data)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port)
        add_subscribers(mail_app, 3)
        killer.after_data = {2}
        assert run_killed(cli_env(database_url, server.port), killer).returncode == -9
        assert sends(mail_app) == {1: "sent", 2: "sending"}

        plain = run_send(mail_app, "--week", WEEK)
        assert plain.exit_code == 1  # in doubt: not sent again, and reported
        assert summary_of(plain)["in_doubt_before"] == 1
        assert handler.by_recipient()["reader00001@example.org"] == 1

        resent = run_send(mail_app, "--week", WEEK, "--resend-in-doubt")
    assert resent.exit_code == 0 and "sent 1" in resent.output
    first, second = [m for m in handler.received if m.rcpt_tos == ["reader00001@example.org"]]
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert sends(mail_app) == {1: "sent", 2: "sent", 3: "sent"}


# ---- through RQ workers -------------------------------------------------------------


@pytest.mark.slow
def test_with_redis_the_workers_send_each_email_once_and_report_failures(
        make_app, redis_db, database_url):
    handler = Recorder(refuse=["reader00004@example.org"])
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, REDIS_URL=redis_db)
        emails = add_subscribers(mail_app, 30)
        env = cli_env(database_url, server.port, B12_REDIS_URL=redis_db)
        workers = [subprocess.Popen(cli_command("worker"), env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True) for _ in range(2)]
        try:
            first = run_send(mail_app, "--week", WEEK, "--wait-timeout", "60")
            second = run_send(mail_app, "--week", WEEK, "--wait-timeout", "60")
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.communicate(timeout=30)

    assert first.exit_code == 1, first.output
    assert "queueing on 'b12-mail'" in first.output
    assert "sent 29, skipped 0, failed 1" in first.output
    assert handler.by_recipient() == {e: 1 for e in emails if "00004" not in e}
    assert second.exit_code == 0 and "sent 0, skipped 30, failed 0" in second.output
    assert sorted(sends(mail_app).values()) == ["failed"] + ["sent"] * 29


@pytest.mark.slow
def test_a_burst_worker_drains_jobs_queued_before_it_started(make_app, redis_db,
                                                             database_url):
    from redis import Redis
    from rq import Queue

    from planner.mail.run import send_job

    handler = Recorder()
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, REDIS_URL=redis_db)
        add_subscribers(mail_app, 5)
        queue = Queue("b12-mail", connection=Redis.from_url(redis_db))
        for sid in (1, 2, 3, 4, 5, 1, 2):  # two jobs twice: still one email each
            queue.enqueue(send_job, sid, WEEK)
        env = cli_env(database_url, server.port, B12_REDIS_URL=redis_db)
        done = subprocess.run(cli_command("worker", "--burst"), env=env, timeout=60,
                              capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(handler.by_recipient().values()) == [1] * 5
    assert sorted(sends(mail_app).values()) == ["sent"] * 5


# ---- one recipient's trouble is not the server's (issue 17, finding 2) -----------------

ONE_BAD = "reader00002@example.org"


@pytest.mark.parametrize("trouble", ["refuse", "drop", "stall"])
def test_one_recipient_refused_dropped_or_stalled_does_not_stop_the_run(make_app, trouble):
    handler = Recorder(**{trouble: [ONE_BAD]}, stall_s=3.0)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, SMTP_TIMEOUT=0.5)
        emails = add_subscribers(mail_app, 6)
        first = run_send(mail_app, "--week", WEEK)
        statuses = sends(mail_app)
        again = run_send(mail_app, "--week", WEEK)

    assert first.exit_code == 1, first.output
    summary = summary_of(first)
    assert summary["stopped"] is None
    assert (summary["sent"], summary["failed_total"], summary["not_attempted"]) == (5, 1, 0)
    assert handler.by_recipient() == {e: 1 for e in emails if e != ONE_BAD}
    expected = "failed" if trouble == "refuse" else "retry"  # 550 is for good
    assert statuses.pop(3) == expected and set(statuses.values()) == {"sent"}
    # The next run does not stop at that subscriber either, and sends nothing twice:
    # a drop or stall is tried again (up to MAIL_MAX_ATTEMPTS), a 550 is not.
    assert summary_of(again)["stopped"] is None and summary_of(again)["sent"] == 0
    assert again.exit_code == (1 if trouble != "refuse" else 0)
    assert sends(mail_app)[3] == "failed"


def test_the_same_failure_for_several_recipients_in_a_row_stops_the_run(make_app):
    bad = [f"reader{i:05d}@example.org" for i in (1, 2, 3)]
    handler = Recorder(drop=bad)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, MAIL_MAX_CONSECUTIVE_FAILURES=3)
        add_subscribers(mail_app, 8)
        result = run_send(mail_app, "--week", WEEK)

    assert result.exit_code == 1
    assert "3 recipients in a row" in result.output
    summary = summary_of(result)
    assert (summary["sent"], summary["retry"], summary["not_attempted"]) == (1, 3, 4)
    assert handler.count == 1
    assert sends(mail_app) == {1: "sent", 2: "retry", 3: "retry", 4: "retry"}


# ---- killed during DATA with a slow server (issue 17, finding 9) ------------------------


def test_a_run_killed_during_a_slow_data_leaves_it_in_doubt_and_every_rerun_says_so(
        make_app, database_url):
    killer = Killer()

    def kill_at_second_dot(n: int) -> None:
        if n == 2:
            kill(killer.proc)

    handler = Recorder(slow_data=1.0, on_data_start=kill_at_second_dot)
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port)
        add_subscribers(mail_app, 3)
        assert run_killed(cli_env(database_url, server.port), killer).returncode == -9
        deadline = time.monotonic() + 10
        while handler.discarded < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The server had not kept the message when the sender died: not delivered.
        assert handler.discarded == 1
        assert handler.by_recipient() == {"reader00000@example.org": 1}
        assert sends(mail_app) == {1: "sent", 2: "sending"}

        handler.slow_data = 0
        for _ in range(2):  # every rerun reports it and exits 1, and sends it to nobody
            rerun = run_send(mail_app, "--week", WEEK)
            assert rerun.exit_code == 1, rerun.output
            assert "in doubt 1" in rerun.output and "--resend-in-doubt" in rerun.output
        assert "reader00001@example.org" not in handler.by_recipient()

        resent = run_send(mail_app, "--week", WEEK, "--resend-in-doubt")
    assert resent.exit_code == 0, resent.output
    assert handler.by_recipient()["reader00001@example.org"] == 1
    assert sends(mail_app) == {1: "sent", 2: "sent", 3: "sent"}


# ---- RQ: a worker killed during DATA (issue 17, finding 8) ------------------------------


@pytest.mark.slow
def test_with_redis_a_worker_killed_during_data_is_noticed_and_reported_in_doubt(
        make_app, redis_db, database_url):
    worker: subprocess.Popen | None = None

    def kill_worker_at_second_dot(n: int) -> None:
        if n == 2 and worker is not None:
            kill(worker)

    handler = Recorder(slow_data=1.0, on_data_start=kill_worker_at_second_dot)
    with SmtpServer(handler) as server:
        fast = {"B12_MAIL_WORKER_HEARTBEAT": "0.2", "B12_MAIL_NO_WORKER_WAIT": "2"}
        env = cli_env(database_url, server.port, B12_REDIS_URL=redis_db, **fast)
        mail_app = make_app(SMTP_PORT=server.port, REDIS_URL=redis_db)
        add_subscribers(mail_app, 3)
        worker = subprocess.Popen(cli_command("worker"), env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            started = time.monotonic()
            # No --wait-timeout: the command must still come back, and soon.
            run = subprocess.run(cli_command("send-weekly", "--week", WEEK), env=env,
                                 capture_output=True, text=True, timeout=60)
            elapsed = time.monotonic() - started
        finally:
            kill(worker)
            worker.wait(timeout=10)
        assert worker.returncode == -9
        assert elapsed < 30, elapsed
        assert run.returncode == 1, run.stderr
        summary = summary_of(run)
        assert (summary["sent"], summary["in_doubt"], summary["not_attempted"]) == (1, 1, 1)
        assert "died" in run.stderr and "in doubt" in run.stderr
        assert "no worker has been running" in run.stderr
        assert handler.discarded == 1  # the slow server had not kept it: not delivered
        assert sends(mail_app) == {1: "sent", 2: "sending"}

        # A new worker: the rerun sends the one not attempted, reports the one in
        # doubt and exits 1; --resend-in-doubt is the way on.
        handler.slow_data = 0
        worker = subprocess.Popen(cli_command("worker"), env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            rerun = subprocess.run(cli_command("send-weekly", "--week", WEEK), env=env,
                                   capture_output=True, text=True, timeout=60)
            resent = subprocess.run(cli_command("send-weekly", "--week", WEEK,
                                                "--resend-in-doubt"),
                                    env=env, capture_output=True, text=True, timeout=60)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert rerun.returncode == 1 and summary_of(rerun)["in_doubt_before"] == 1, rerun.stderr
    assert summary_of(rerun)["sent"] == 1
    assert resent.returncode == 0, resent.stderr
    assert sorted(handler.by_recipient().values()) == [1, 1, 1]
    assert sends(mail_app) == {1: "sent", 2: "sent", 3: "sent"}


@pytest.mark.slow
def test_with_redis_one_dropped_recipient_does_not_stop_the_workers(make_app, redis_db,
                                                                    database_url):
    handler = Recorder(drop=[ONE_BAD])
    with SmtpServer(handler) as server:
        mail_app = make_app(SMTP_PORT=server.port, REDIS_URL=redis_db,
                            MAIL_RETRY_DELAYS=[1, 1])
        emails = add_subscribers(mail_app, 6)
        env = cli_env(database_url, server.port, B12_REDIS_URL=redis_db,
                      B12_MAIL_RETRY_DELAYS="[1, 1]")
        worker = subprocess.Popen(cli_command("worker"), env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            result = run_send(mail_app, "--week", WEEK, "--wait-timeout", "60")
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    assert result.exit_code == 1, result.output
    summary = summary_of(result)
    assert (summary["sent"], summary["retry"], summary["not_attempted"]) == (5, 1, 0)
    assert handler.by_recipient() == {e: 1 for e in emails if e != ONE_BAD}
    assert sends(mail_app)[3] == "retry"
