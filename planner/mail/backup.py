"""Subscribers to CSV and back, for backups (``b12planner subscribers export|import``).

The file
--------

UTF-8 CSV with a header line and one subscriber per row:

==================  ==================================================================
``id``              the row's id in the database it came from (keeps old links valid)
``email``           the address, as typed when subscribing
``profile``         the profile as JSON (product.md §4)
``pending_profile`` a profile waiting for its confirmation link, as JSON, or empty
``confirmed_at``    ISO 8601 time with zone, or empty when never confirmed
``unsubscribed_at`` ISO 8601 time with zone, or empty while subscribed
``created_at``      ISO 8601 time with zone
``token_version``   the version signed into the subscriber's links (1, 2, …)
``sends``           the weekly emails' states, ``2025-W07=sent;2025-W08=failed``
==================  ==================================================================

It holds personal data (addresses and health details): :func:`write_csv` creates
it readable by its owner only (mode 0600), through a temporary file renamed
into place, so an interrupted export never leaves half a file. A cell a
spreadsheet would run as a formula (an address like ``=cmd|…@example.org``)
gets an apostrophe in front, which the import takes off again
(:mod:`planner.pages.spreadsheet`).

Importing
---------

:func:`read_csv` checks every row with the checks the web form uses
(``subscriptions.check_email`` for the address; ``parse_profile``, the list
limit and the food table for the profiles), plus the dates, versions and
sends, and reports every problem as ``line N: field: message``. :func:`import_rows`
then writes all rows in one transaction, or nothing. Each row is matched to
the store by address (any letter case), so importing twice never duplicates:

* a new address is added with its state from the file, under its old ``id``
  when that id is free (links in emails sent before the backup keep working
  after a restore into an empty database), else under a new id (its old links
  then stop working; the next weekly email brings new ones);
* a known address takes the file's address spelling, profile, pending profile
  and confirmation time. It keeps its id, and its ``token_version`` becomes the
  larger of the two, so links voided before or after the backup stay void;
* an import never turns an unsubscribed address back on: if either the store
  or the file says unsubscribed, the address stays unsubscribed (the earlier
  time is kept);
* sends are merged: a week already in the store keeps the store's row; a week
  only in the file is added with the file's state, so a restore never makes
  ``send-weekly`` email a week that was already sent.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from planner.domain.planning import PlanError
from planner.domain.planning import check_food_ids
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.domain.week import is_week
from planner.mail import subscribers as store
from planner.numbers import loads_json
from planner.numbers import parse_number
from planner.pages import forms
from planner.pages import spreadsheet
from planner.pages.spreadsheet import original_cell
from planner.store.db import db
from planner.store.models import SEND_STATES
from planner.store.models import Send
from planner.store.models import Subscriber

COLUMNS = ("id", "email", "profile", "pending_profile", "confirmed_at", "unsubscribed_at",
           "created_at", "token_version", "sends")
REQUIRED_COLUMNS = ("email", "profile")
FILE_MODE = 0o600
#: Largest id or token version a file may give (a database integer column).
MAX_WHOLE = 2**31 - 1


class BackupError(Exception):
    """The file cannot be imported; ``errors`` lists every problem, one per line."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was imported")


@dataclass
class Row:
    """One subscriber read from the file and checked."""

    line: int
    id: int | None
    email: str
    profile_json: str
    pending_profile_json: str | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    created_at: datetime | None
    token_version: int
    sends: dict[str, str] = field(default_factory=dict)


# ---- export -------------------------------------------------------------------------


def _time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive times; they are stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def export_rows() -> list[dict[str, str]]:
    """Every subscriber as a CSV row, in id order, read in one statement."""
    query = (select(Subscriber, Send.week, Send.status)
             .outerjoin(Send, Send.subscriber_id == Subscriber.id)
             .order_by(Subscriber.id, Send.week))
    rows: dict[int, dict[str, str]] = {}
    sends: dict[int, list[str]] = {}
    for subscriber, week, status in db.session.execute(query):
        if subscriber.id not in rows:
            rows[subscriber.id] = {
                "id": str(subscriber.id), "email": subscriber.email,
                "profile": subscriber.profile_json,
                "pending_profile": subscriber.pending_profile_json or "",
                "confirmed_at": _time(subscriber.confirmed_at),
                "unsubscribed_at": _time(subscriber.unsubscribed_at),
                "created_at": _time(subscriber.created_at),
                "token_version": str(subscriber.token_version),
            }
            sends[subscriber.id] = []
        if week is not None:
            sends[subscriber.id].append(f"{week}={status}")
    for subscriber_id, row in rows.items():
        row["sends"] = ";".join(sends[subscriber_id])
    db.session.rollback()
    return list(rows.values())


def write_csv(rows: Iterable[dict[str, str]], path: Path, *, overwrite: bool = False) -> int:
    """Write ``rows`` to ``path`` with mode 0600, atomically; returns the row count."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --force to replace it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = spreadsheet.DictWriter(f, fieldnames=COLUMNS, reversible=True)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


# ---- reading and checking ---------------------------------------------------------------


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 time, like "
                         "2025-02-10T07:00:00+00:00") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value[:40]!r} has no time zone; add one, like +00:00")
    return parsed.astimezone(UTC)


def _check_profile(value: str) -> str:
    """The canonical JSON of a valid profile, or ValueError naming the profile field."""
    try:
        data = loads_json(value)
    except ValueError as e:
        raise ValueError(f"is not valid JSON ({e})") from None
    problems = forms.too_many_values(data, current_app.config["MAX_LIST_VALUES"]) \
        if isinstance(data, dict) else []
    try:
        if problems:
            raise ProfileError(problems)
        profile = parse_profile(data)
        check_food_ids(profile, current_app.extensions["planner.foods"])
    except (ProfileError, PlanError) as e:
        raise ValueError("; ".join(err["message"] for err in e.errors)) from None
    return store.profile_json(profile)


def _whole(value: str, alternative: str) -> int:
    number = parse_number(value.strip()) if value.strip().isascii() else None
    if not isinstance(number, int) or number < 1 or number > MAX_WHOLE:
        raise ValueError(f"{value[:20]!r} is not a whole number from 1 to {MAX_WHOLE} "
                         f"{alternative}")
    return number


def _parse_sends(value: str) -> dict[str, str]:
    sends: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(";"))):
        week, _, status = item.partition("=")
        if not is_week(week) or status not in SEND_STATES:
            raise ValueError(f"{item[:40]!r} is not WEEK=STATE, like 2025-W07=sent, with a "
                             f"state out of {', '.join(SEND_STATES)}")
        if week in sends:
            raise ValueError(f"the week {week} is listed twice")
        sends[week] = status
    return sends


def _check_row(line: int, raw: dict[str, str], errors: list[str]) -> Row | None:
    found: dict = {}

    def check(column: str, parse):
        try:
            found[column] = parse(raw.get(column) or "")
        except (ValueError, store.InvalidEmail) as e:
            errors.append(f"line {line}: {column}: {e}")

    check("id", lambda v: _whole(v, "or empty") if v.strip() else None)
    check("email", store.check_email)
    check("profile", _check_profile)
    check("pending_profile", lambda v: _check_profile(v) if v.strip() else None)
    for column in ("confirmed_at", "unsubscribed_at", "created_at"):
        check(column, _parse_time)
    check("token_version", lambda v: _whole(v, "(empty means 1)") if v.strip() else 1)
    check("sends", _parse_sends)
    if len(found) < len(COLUMNS):
        return None
    return Row(line=line, id=found["id"], email=found["email"],
               profile_json=found["profile"], pending_profile_json=found["pending_profile"],
               confirmed_at=found["confirmed_at"], unsubscribed_at=found["unsubscribed_at"],
               created_at=found["created_at"], token_version=found["token_version"],
               sends=found["sends"])


def _check_header(header: list[str]) -> None:
    errors = []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown:
        errors.append(f"line 1: unknown column(s) {', '.join(map(repr, unknown))}; "
                      f"the columns are {', '.join(COLUMNS)}")
    if missing:
        errors.append(f"line 1: missing column(s) {', '.join(missing)}")
    if errors:
        raise BackupError(errors)


def read_csv(data: bytes) -> list[Row]:
    """Every row of the file, checked; BackupError listing every problem otherwise."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BackupError([f"the file is not UTF-8 text (byte {e.start})"]) from None
    reader = csv.DictReader(io.StringIO(content, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise BackupError([f"line 1: {e}"]) from None
    _check_header(header)
    errors: list[str] = []
    rows: list[Row] = []
    first_line_of: dict[str, int] = {}
    line = reader.line_num + 1
    try:
        for raw in reader:
            raw = {k: original_cell(v) if isinstance(v, str) else v for k, v in raw.items()}
            if None in raw:
                errors.append(f"line {line}: has more cells than the header")
            row = _check_row(line, raw, errors)
            if row is not None:
                key = store.email_key(row.email)
                if key in first_line_of:
                    errors.append(f"line {line}: email: the same address as line "
                                  f"{first_line_of[key]}")
                first_line_of.setdefault(key, line)
                rows.append(row)
            line = reader.line_num + 1
    except csv.Error as e:
        errors.append(f"line {line}: {e}")
    ids = [r.id for r in rows if r.id is not None]
    if len(ids) != len(set(ids)):
        errors.append("id: the same id appears on more than one line")
    if errors:
        raise BackupError(errors)
    return rows


# ---- importing ---------------------------------------------------------------------------


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    sends_added: int = 0


def import_rows(rows: list[Row]) -> ImportResult:
    """Write ``rows`` into the store in one transaction (see the module docstring)."""
    result = ImportResult()
    try:
        existing = {s.email_key: s for s in db.session.scalars(select(Subscriber))}
        taken_ids = {s.id for s in existing.values()}
        known_sends = set(db.session.execute(select(Send.subscriber_id, Send.week)))
        for row in rows:
            key = store.email_key(row.email)
            subscriber = existing.get(key)
            if subscriber is None:
                subscriber = Subscriber(email=row.email, email_key=key,
                                        profile_json=row.profile_json,
                                        pending_profile_json=row.pending_profile_json,
                                        confirmed_at=row.confirmed_at,
                                        unsubscribed_at=row.unsubscribed_at,
                                        token_version=row.token_version)
                if row.created_at is not None:
                    subscriber.created_at = row.created_at
                if row.id is not None and row.id not in taken_ids:
                    subscriber.id = row.id
                    taken_ids.add(row.id)
                db.session.add(subscriber)
                existing[key] = subscriber
                result.added += 1
            else:
                subscriber.email = row.email
                subscriber.profile_json = row.profile_json
                subscriber.pending_profile_json = row.pending_profile_json
                subscriber.confirmed_at = row.confirmed_at
                stops = [t for t in (subscriber.unsubscribed_at, row.unsubscribed_at) if t]
                subscriber.unsubscribed_at = min(stops, key=_aware) if stops else None
                subscriber.token_version = max(subscriber.token_version, row.token_version)
                result.updated += 1
            if row.sends:
                db.session.flush()  # the subscriber's id
                for week, status in row.sends.items():
                    if (subscriber.id, week) in known_sends:
                        continue
                    db.session.add(Send(subscriber_id=subscriber.id, week=week,
                                        status=status, attempts=1))
                    known_sends.add((subscriber.id, week))
                    result.sends_added += 1
        db.session.flush()
        _advance_id_sequence()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _advance_id_sequence() -> None:
    """PostgreSQL: rows inserted with their old ids do not move the id sequence, so
    move it past them (SQLite takes the largest id + 1 by itself)."""
    if db.engine.dialect.name != "postgresql":
        return
    largest = db.session.scalar(select(func.max(Subscriber.id)))
    if largest:
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
                                ":largest)"), {"largest": largest})
