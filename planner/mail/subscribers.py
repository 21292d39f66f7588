"""The subscription store: addresses, signed links and the weekly due list.

Functions here take the session (``db.session``) implicitly and commit their
own short transaction, so a page or a command never leaves half a change.

Signed links: :func:`make_token` signs ``{"id", "v"}`` (subscriber id and
``token_version``) with itsdangerous' ``URLSafeTimedSerializer``, one salt per
purpose, so a confirmation link cannot be used to unsubscribe or edit.
:func:`read_token` checks signature, purpose, age (``TOKEN_MAX_AGE[purpose]``
seconds) and version, and raises :class:`BadToken` with a plain message.

A confirmation link also signs ``"p"``, a hash of the pending profile and of
``pending_nonce``, a random value drawn for that one email. The link applies
that exact profile or nothing: a later subscribe for the address (which gets
its own email, to the address) makes older links stale, and using the link
clears the nonce, so it works once. A pending profile expires with its link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from planner.domain.model import Profile
from planner.domain.profile import canonical_profile_json as profile_json
from planner.mail.settings import max_attempts
from planner.store.db import db
from planner.store.models import FAILED
from planner.store.models import RETRY
from planner.store.models import SENDING
from planner.store.models import SENT
from planner.store.models import Send
from planner.store.models import Subscriber
from planner.store.models import utcnow

PURPOSES = ("confirm", "preferences", "unsubscribe")

# Seconds a link stays valid. Weekly emails carry fresh preference and
# unsubscribe links; the unsubscribe link still works for a year so an old
# email can always be used to leave.
TOKEN_MAX_AGE = {"confirm": 3 * 24 * 3600, "preferences": 90 * 24 * 3600,
                 "unsubscribe": 365 * 24 * 3600}

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit minus the angle brackets
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class BadToken(Exception):
    """A link that is not valid: tampered, for another purpose, expired or voided."""


class InvalidEmail(ValueError):
    """The text is not one plain email address; the message says why."""


def check_email(text: str) -> str:
    """The address in ``text`` (surrounding spaces removed), or InvalidEmail.

    Accepts exactly one plain ``local@domain`` address in ASCII: no display
    name, no comments, no quoted local part, no second address. Control
    characters (CR, LF, NUL…), commas, semicolons, angle brackets and inner
    spaces are refused outright, so nothing typed here can add a mail header
    or a recipient.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidEmail("enter your email address")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidEmail("must be one address on a single line "
                           "(line breaks and control characters are not allowed)")
    address = text.strip(" ")
    if any(c in address for c in ",;<>\"()[]\\ \t"):
        raise InvalidEmail("must be one plain address like name@example.org, "
                           "without a name, spaces, commas or brackets")
    if len(address) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"is longer than {MAX_EMAIL_LENGTH} characters")
    if not address.isascii():
        raise InvalidEmail("use the plain ASCII form of the address "
                           "(for international domains, the xn-- form)")
    local, at, domain = address.rpartition("@")
    if not at or not local or "@" in local:
        raise InvalidEmail("must contain exactly one @, like name@example.org")
    if len(local) > 64 or not _LOCAL.match(local):
        raise InvalidEmail("the part before the @ is not a valid mailbox name")
    labels = domain.split(".")
    if (len(labels) < 2 or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):
        raise InvalidEmail("the part after the @ is not a valid domain name, "
                           "like example.org")
    return address


def email_key(address: str) -> str:
    """The form two addresses are compared in: lower case."""
    return address.lower()


# ---- signed links ---------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}; one of {PURPOSES}")
    secret = current_app.config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("SECRET_KEY is not set; set B12_SECRET_KEY to sign email links")
    return URLSafeTimedSerializer(secret, salt=f"b12planner.{purpose}")


def token_max_age(purpose: str) -> int:
    configured = current_app.config.get("TOKEN_MAX_AGE") or {}
    return int(configured.get(purpose, TOKEN_MAX_AGE[purpose]))


def pending_digest(subscriber: Subscriber) -> str | None:
    """The hash a confirmation link signs: this pending profile, this email only."""
    if not subscriber.pending_profile_json or not subscriber.pending_nonce:
        return None
    text = f"{subscriber.pending_nonce}:{subscriber.pending_profile_json}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def make_token(subscriber: Subscriber, purpose: str) -> str:
    data = {"id": subscriber.id, "v": subscriber.token_version}
    if purpose == "confirm":  # without a pending profile, a link nothing accepts
        data["p"] = pending_digest(subscriber)
    return _serializer(purpose).dumps(data)


def read_token(token: str, purpose: str) -> Subscriber:
    """The subscriber a link is for; BadToken when it cannot be trusted."""
    try:
        data = _serializer(purpose).loads(token, max_age=token_max_age(purpose))
    except SignatureExpired:
        raise BadToken("This link has expired.") from None
    except BadSignature:
        raise BadToken("This link is not valid. It may have been cut short "
                       "or changed when it was copied.") from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise BadToken("This link is not valid.")
    subscriber = db.session.get(Subscriber, data["id"])
    if subscriber is None or subscriber.token_version != data.get("v"):
        raise BadToken("This link is no longer valid; a newer email replaced it.")
    if purpose == "confirm":
        digest = pending_digest(subscriber)
        if digest is None or not hmac.compare_digest(digest, str(data.get("p", ""))):
            raise BadToken("This link has already been used, or a newer confirmation "
                           "email to this address replaced it.")
    return subscriber


# ---- changes, each one transaction --------------------------------------------------


def subscribe(address: str, profile: Profile) -> Subscriber:
    """:func:`request_subscription` without the limit on emails; the subscriber."""
    return request_subscription(address, profile)[0]


def request_subscription(address: str, profile: Profile, min_interval_s: float = 0.0
                         ) -> tuple[Subscriber, bool]:
    """Record a subscription request for ``address``: (subscriber, send).

    ``send`` is True when a confirmation email must go out now; the caller
    sends it (or calls :func:`release_confirmation` when it could not). The
    page answers the same in every case, so it never tells whether the address
    was known.

    The profile is only ever *pending*: it becomes the subscriber's profile
    when the link of the email sent for it is used (:func:`confirm`). So
    nobody can change someone else's plan by typing their address, confirmed
    or not. At most one confirmation email goes out per ``min_interval_s``
    seconds and address; a request inside that interval changes nothing at all
    (no email would carry its link), so an earlier link keeps working.

    * a new address: a new, unconfirmed subscriber;
    * a known address: the new pending profile and a fresh nonce, which makes
      earlier confirmation links stale;
    * an address that had unsubscribed: starts again unconfirmed, with a new
      ``token_version`` so links from the old subscription stop working.

    The same address in any letter case never gives a second row.
    """
    key = email_key(address)
    text = profile_json(profile)
    drop_expired_pending()
    for attempt in (1, 2):
        now = utcnow()
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == key))
        if subscriber is None:
            subscriber = Subscriber(email=address, email_key=key, profile_json=text,
                                    pending_profile_json=text, pending_nonce=_nonce(),
                                    pending_at=now, confirm_sent_at=now)
            db.session.add(subscriber)
            try:
                db.session.commit()
                return subscriber, True
            except IntegrityError:  # the same new address sent twice at the same moment
                db.session.rollback()
                if attempt == 2:
                    raise
                continue
        values = {"confirm_sent_at": now, "pending_profile_json": text,
                  "pending_nonce": _nonce(), "pending_at": now}
        if subscriber.unsubscribed_at is not None:
            values |= {"unsubscribed_at": None, "confirmed_at": None, "email": address,
                       "token_version": Subscriber.token_version + 1}
        elif subscriber.confirmed_at is None:
            values["email"] = address
        # Claim the one email of this interval and store the change in one UPDATE.
        result = db.session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber.id,
                   or_(Subscriber.confirm_sent_at.is_(None),
                       Subscriber.confirm_sent_at < now - timedelta(seconds=min_interval_s)))
            .values(**values).execution_options(synchronize_session=False))
        db.session.commit()
        db.session.expire(subscriber)
        return subscriber, result.rowcount == 1
    raise AssertionError("unreachable")


def _nonce() -> str:
    return secrets.token_hex(16)


def drop_expired_pending() -> int:
    """Forget pending profiles whose confirmation link has expired; how many."""
    cutoff = utcnow() - timedelta(seconds=token_max_age("confirm"))
    result = db.session.execute(
        update(Subscriber).where(Subscriber.pending_at < cutoff)
        .values(pending_profile_json=None, pending_nonce=None, pending_at=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def confirm(subscriber: Subscriber) -> None:
    """Use a confirmation link (already checked by :func:`read_token`).

    Applies the pending profile the link was made for and confirms the
    address, in one UPDATE that only succeeds while the link's nonce is
    current: a second use, or a race of two, raises BadToken. An unsubscribed
    address stays unsubscribed.
    """
    nonce, text = subscriber.pending_nonce, subscriber.pending_profile_json
    confirmed_at = subscriber.confirmed_at
    if confirmed_at is None and subscriber.unsubscribed_at is None:
        confirmed_at = utcnow()
    result = db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber.id, Subscriber.pending_nonce == nonce,
               Subscriber.token_version == subscriber.token_version)
        .values(profile_json=text, pending_profile_json=None, pending_nonce=None,
                pending_at=None, confirmed_at=confirmed_at)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire(subscriber)
    if result.rowcount != 1:
        raise BadToken("This link has already been used.")


def release_confirmation(subscriber: Subscriber) -> None:
    """The confirmation email could not be sent: allow the next request to try."""
    db.session.rollback()  # whatever the interrupted request left half done
    db.session.execute(update(Subscriber).where(Subscriber.id == subscriber.id)
                       .values(confirm_sent_at=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def update_profile(subscriber: Subscriber, profile: Profile) -> None:
    """Save a profile edited through the preferences link (the link proves the owner)."""
    subscriber.profile_json = profile_json(profile)
    subscriber.pending_profile_json = None
    subscriber.pending_nonce = None
    subscriber.pending_at = None
    db.session.commit()


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop the weekly email; repeating it changes nothing (RFC 8058 retries)."""
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = utcnow()
        db.session.commit()


def due_ids(week: str, max_attempts: int) -> list[int]:
    """Ids of active subscribers still owed ``week``'s email, in id order.

    Owed means: no ``sends`` row for the week, or a ``retry`` row with fewer
    than ``max_attempts`` attempts. Rows that are ``sent``, ``failed`` or
    ``sending`` (in doubt after a crash; see planner.mail.run) are not due.
    """
    settled = exists().where(
        Send.subscriber_id == Subscriber.id, Send.week == week,
        or_(Send.status != RETRY, Send.attempts >= max_attempts))
    query = (select(Subscriber.id)
             .where(Subscriber.confirmed_at.is_not(None),
                    Subscriber.unsubscribed_at.is_(None), ~settled)
             .order_by(Subscriber.id))
    return list(db.session.scalars(query))


def count_by_status(week: str) -> dict[str, int]:
    rows = db.session.execute(
        select(Send.status, func.count()).where(Send.week == week).group_by(Send.status))
    return {status: n for status, n in rows}


# ---- send rows: the claim and its record (planner.mail.run) -------------------------


def send_row(subscriber_id: int, week: str) -> Send | None:
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
    row = send_row(subscriber_id, week)
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


def active_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Subscriber).where(
        Subscriber.confirmed_at.is_not(None), Subscriber.unsubscribed_at.is_(None)))


def in_doubt_count(week: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Send).where(
        Send.week == week, Send.status == SENDING))
