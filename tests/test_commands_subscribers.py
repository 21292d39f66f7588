"""The subscriber store survives crashes, and ``b12planner subscribers export|import``
backs it up and restores it: every state kept, upserts by address, all or nothing,
bad rows reported by line and field, the file readable by its owner only."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC
from datetime import datetime

import pytest
from mail_support import add_subscribers
from mail_support import cli_env
from mail_support import kill
from mail_support import start_cli
from sqlalchemy import delete
from sqlalchemy import select

from planner.commands.subscribers import subscribers
from planner.domain.profile import parse_profile
from planner.mail import subscribers as store
from planner.store.db import db
from planner.store.models import Send
from planner.store.models import Subscriber

pytest_plugins = ["mail_fixtures"]

VEGAN = {"age_years": 34, "diet": "vegan"}
OMNIVORE = {"age_years": 67, "diet": "omnivore", "medications": ["metformin"],
            "supplement": {"dose_ug": 250, "frequency": "weekly"}}


def run(app, *args):
    return app.test_cli_runner().invoke(subscribers, list(map(str, args)))


def populate(app) -> None:
    """One subscriber in each state the store knows, with send history."""
    with app.app_context():
        ann = store.subscribe("Ann@Example.org", parse_profile(VEGAN))
        store.confirm(ann)
        store.subscribe("bob@example.org", parse_profile(OMNIVORE))  # never confirmed
        cid = store.subscribe("cid@example.org", parse_profile(VEGAN))
        store.confirm(cid)
        store.subscribe("cid@example.org", parse_profile(OMNIVORE))  # waits in pending
        dee = store.subscribe("dee@example.org", parse_profile(VEGAN))
        store.confirm(dee)
        store.unsubscribe(dee)
        dee = store.subscribe("dee@example.org", parse_profile(OMNIVORE))  # token_version 2
        store.confirm(dee)
        store.unsubscribe(dee)
        db.session.add_all([Send(subscriber_id=ann.id, week="2025-W07", status="sent",
                                 attempts=1),
                            Send(subscriber_id=ann.id, week="2025-W08", status="failed",
                                 attempts=5),
                            Send(subscriber_id=cid.id, week="2025-W07", status="sending",
                                 attempts=1)])
        db.session.commit()


def aware(value):
    return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC))


def state(app) -> dict[str, tuple]:
    """What a backup must keep, by address."""
    with app.app_context():
        sends: dict[int, list] = {}
        for send in db.session.scalars(select(Send).order_by(Send.week)):
            sends.setdefault(send.subscriber_id, []).append((send.week, send.status))
        found = {s.email_key: (s.id, s.email, s.profile_json, s.pending_profile_json,
                               aware(s.confirmed_at), aware(s.unsubscribed_at),
                               aware(s.created_at), s.token_version, sends.get(s.id, []))
                 for s in db.session.scalars(select(Subscriber))}
        db.session.remove()
    return found


def empty_the_store(app) -> None:
    with app.app_context():
        db.session.execute(delete(Send))
        db.session.execute(delete(Subscriber))
        db.session.commit()


def test_export_then_import_into_an_empty_store_restores_every_state(mail_app, tmp_path):
    populate(mail_app)
    before = state(mail_app)
    path = tmp_path / "subscribers.csv"

    exported = run(mail_app, "export", path)

    assert exported.exit_code == 0, exported.output
    assert "exported 4 subscriber(s)" in exported.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["email"] for r in rows] == ["Ann@Example.org", "bob@example.org",
                                          "cid@example.org", "dee@example.org"]
    assert rows[0]["sends"] == "2025-W07=sent;2025-W08=failed"
    assert json.loads(rows[2]["pending_profile"])["diet"] == "omnivore"

    empty_the_store(mail_app)
    restored = run(mail_app, "import", path)

    assert restored.exit_code == 0, restored.output
    assert "4 added, 0 updated, 3 weekly send record(s) added" in restored.output
    assert state(mail_app) == before  # ids, versions, times and sends included

    again = run(mail_app, "import", path)  # upsert: nothing duplicated or changed
    assert "0 added, 4 updated, 0 weekly send record(s) added" in again.output
    assert state(mail_app) == before
    with mail_app.app_context():  # new ids continue after the restored ones
        assert store.subscribe("zed@example.org", parse_profile(VEGAN)).id == 5


def test_importing_over_a_live_store_upserts_by_address_and_never_resubscribes(mail_app,
                                                                              tmp_path):
    populate(mail_app)
    path = tmp_path / "backup.csv"
    run(mail_app, "export", path)
    with mail_app.app_context():  # after the backup: ann leaves, bob's links are voided
        store.unsubscribe(db.session.scalar(select(Subscriber).filter_by(email_key="ann@example.org")))
        bob = db.session.scalar(select(Subscriber).filter_by(email_key="bob@example.org"))
        bob.token_version = 7
        db.session.commit()
    rows = list(csv.DictReader(path.open(newline="")))
    rows[1]["email"] = "BOB@example.org"
    rows.append({**rows[0], "id": "99", "email": "eve@example.org", "sends": ""})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)

    result = run(mail_app, "import", path)

    assert result.exit_code == 0, result.output
    assert "1 added, 4 updated" in result.output
    after = state(mail_app)
    assert len(after) == 5
    assert after["ann@example.org"][5] is not None  # still unsubscribed
    assert after["bob@example.org"][1] == "BOB@example.org"
    assert after["bob@example.org"][7] == 7  # the larger token version wins
    assert after["eve@example.org"][0] == 99  # its id was free
    with mail_app.app_context():  # new ids continue after it (PostgreSQL: the sequence)
        assert store.subscribe("zed@example.org", parse_profile(VEGAN)).id == 100


BAD_FILE = """\
id,email,profile,pending_profile,confirmed_at,unsubscribed_at,created_at,token_version,sends
1,ann@example.org,"{""age_years"": 34, ""diet"": ""vegan""}",,,,,1,
2,"ann@x.org
Bcc: eve@x.org","{""age_years"": 34, ""diet"": ""vegan""}",,,,,1,
3,bob@example.org,"{""age_years"": 34, ""diet"": ""keto""}",,,,,1,
4,cid@example.org,"{""age_years"": 34, ""diet"": ""vegan""}",,2025-02-10 07:00,,,1,
5,ANN@example.org,"{""age_years"": 34, ""diet"": ""vegan""}",,,,,1,
6,dee@example.org,"{""age_years"": 34, ""diet"": ""vegan"", ""include_foods"": [""caviar""]}",,,,,1,
7,eve@example.org,"{""age_years"": 34,",,,,,0,2025-W07=lost
"""


def test_bad_rows_are_reported_by_line_and_field_and_nothing_is_written(mail_app, tmp_path):
    populate(mail_app)
    before = state(mail_app)
    path = tmp_path / "bad.csv"
    path.write_text(BAD_FILE)

    result = run(mail_app, "import", path)

    assert result.exit_code == 1
    out = result.output
    assert "line 3: email: must be one address on a single line" in out  # line 3-4: 2 lines
    assert "line 5: profile: diet: 'keto' is not a diet; choose one of vegan" in out
    assert "line 6: confirmed_at: '2025-02-10 07:00' has no time zone" in out
    assert "line 7: email: the same address as line 2" in out
    assert "line 8: profile: include_foods: unknown food id(s) caviar" in out
    assert "line 9: profile: is not valid JSON" in out
    assert "line 9: token_version: '0' is not a whole number from 1" in out
    assert "line 9: sends: '2025-W07=lost' is not WEEK=STATE" in out
    assert "8 problem(s); nothing was imported" in out
    assert state(mail_app) == before
    assert run(mail_app, "import", "--check", path).exit_code == 1


@pytest.mark.parametrize(("content", "message"), [
    ("email,profile,colour\n", "line 1: unknown column(s) 'colour'"),
    ("id,email\n", "line 1: missing column(s) profile"),
    (b"email,profile\n\xff\xfe\n", "the file is not UTF-8 text"),
])
def test_a_file_of_the_wrong_shape_is_refused(mail_app, tmp_path, content, message):
    path = tmp_path / "wrong.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())

    result = run(mail_app, "import", path)

    assert result.exit_code == 1 and message in result.output


def test_export_replaces_a_file_only_with_force_and_always_as_0600(mail_app, tmp_path):
    populate(mail_app)
    (tmp_path / "backups").mkdir()
    path = tmp_path / "backups" / "old.csv"
    path.write_text("old")
    path.chmod(0o644)

    refused = run(mail_app, "export", path)
    replaced = run(mail_app, "export", "--force", path)

    assert refused.exit_code == 2 and "--force" in refused.output
    assert replaced.exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("id,email,profile")
    assert [p.name for p in path.parent.iterdir()] == ["old.csv"]  # no temporary file left


# ---- crashes ----------------------------------------------------------------------------


def sqlite_path(database_url: str) -> str:
    assert database_url.startswith("sqlite:///")
    return database_url.removeprefix("sqlite:///")


def check_sound(database_url: str) -> sqlite3.Connection:
    """The file opens after the crash and SQLite finds nothing wrong in it."""
    connection = sqlite3.connect(sqlite_path(database_url))
    assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    return connection


WRITER = """
import itertools
from sqlalchemy import select
from planner import create_app
from planner.mail import subscribers as store
from planner.store.db import db
from planner.domain.profile import parse_profile
from planner.store.models import Subscriber

app = create_app()
with app.app_context():
    people = list(db.session.scalars(select(Subscriber).order_by(Subscriber.id)))
    for person in people:
        store.unsubscribe(person)
    print("ready", flush=True)
    for n in itertools.count():
        for person in people:  # each call is one transaction over several columns
            person = store.subscribe(person.email, parse_profile(
                {"age_years": n % 100, "diet": "vegan"}))
            store.confirm(person)
            store.unsubscribe(person)
"""


def test_a_writer_killed_mid_write_leaves_a_sound_store_of_whole_rows(make_app, database_url,
                                                                      smtp):
    app = make_app()
    add_subscribers(app, 20)
    writer = subprocess.Popen([sys.executable, "-c", WRITER],
                              env=cli_env(database_url, smtp.port), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        time.sleep(1.0)
    finally:
        kill(writer)
        writer.wait(timeout=10)

    connection = check_sound(database_url)
    rows = connection.execute("SELECT profile_json, pending_profile_json, token_version, "
                              "confirmed_at, unsubscribed_at FROM subscribers").fetchall()
    assert len(rows) == 20
    assert max(row[2] for row in rows) > 2, "killed before it wrote much"
    for profile_json, pending_json, version, confirmed_at, unsubscribed_at in rows:
        profile = parse_profile(json.loads(profile_json))  # whole, valid JSON
        if pending_json is None:  # confirm() applied the pending profile in one transaction
            assert profile.age_years == (version - 2) % 100
        else:  # killed between subscribe() and confirm(): the new profile waits, whole,
            # written with its version; the profile in use is the one before
            assert parse_profile(json.loads(pending_json)).age_years == (version - 2) % 100
            assert profile.age_years == ((version - 3) % 100 if version > 2 else 34)
        assert confirmed_at is not None or unsubscribed_at is None


def test_an_import_killed_midway_leaves_all_rows_old_or_all_new(make_app, database_url, smtp,
                                                                tmp_path):
    app = make_app()
    with app.app_context():
        old = store.profile_json(parse_profile(VEGAN))
        now = datetime.now(UTC)
        db.session.add_all(Subscriber(email=f"r{i:05d}@example.org",
                                      email_key=f"r{i:05d}@example.org", profile_json=old,
                                      confirmed_at=now) for i in range(1000))
        db.session.commit()
    new = store.profile_json(parse_profile(OMNIVORE))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "profile", "confirmed_at"])
    writer.writerows([f"r{i:05d}@example.org", new, now.isoformat()] for i in range(3000))
    path = tmp_path / "restore.csv"
    path.write_text(buffer.getvalue())
    env = cli_env(database_url, smtp.port)

    def outcome() -> str:
        connection = check_sound(database_url)
        count, = connection.execute("SELECT count(*) FROM subscribers").fetchone()
        profiles = {p for p, in connection.execute("SELECT profile_json FROM subscribers")}
        connection.close()
        if (count, profiles) == (1000, {old}):
            return "old"
        assert (count, profiles) == (3000, {new}), (count, len(profiles))
        return "new"

    seen = []
    for delay in (0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 4.0, 8.0):
        proc = start_cli(env, "subscribers", "import", str(path))
        line = proc.stderr.readline()  # printed once every row is checked
        assert "writing them in one transaction" in line, line + proc.stderr.read()
        time.sleep(delay)
        kill(proc)
        proc.wait(timeout=30)
        seen.append(outcome())
        if seen[-1] == "new":
            break
    assert seen[0] == "old", "the import ended before the first kill"
    assert seen[-1] == "new", "the import never finished; raise the last delay"
