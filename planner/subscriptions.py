"""The subscription store: addresses, signed links and the weekly due list.

Functions here take the session (``db.session``) implicitly and commit their
own short transaction, so a page or a command never leaves half a change.

Signed links: :func:`make_token` signs ``{"id", "v"}`` (subscriber id and
``token_version``) with itsdangerous' ``URLSafeTimedSerializer``, one salt per
purpose, so a confirmation link cannot be used to unsubscribe or edit.
:func:`read_token` checks signature, purpose, age (``TOKEN_MAX_AGE[purpose]``
seconds) and version, and raises :class:`BadToken` with a plain message.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from planner.db import db
from planner.domain.model import Profile
from planner.models import RETRY
from planner.models import Send
from planner.models import Subscriber
from planner.models import utcnow

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


def profile_json(profile: Profile) -> str:
    """Canonical JSON of a profile: equal profiles give equal text (plans are cached by it)."""
    return json.dumps(profile.to_dict(), sort_keys=True, separators=(",", ":"))


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


def make_token(subscriber: Subscriber, purpose: str) -> str:
    return _serializer(purpose).dumps({"id": subscriber.id, "v": subscriber.token_version})


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
    return subscriber


# ---- changes, each one transaction --------------------------------------------------


def subscribe(address: str, profile: Profile) -> Subscriber:
    """Record a subscription request for ``address``; the caller then emails a
    confirmation link (every case gets one, so the page never tells whether
    the address was known).

    * a new address: a new, unconfirmed subscriber;
    * a known, unconfirmed address: its profile is replaced;
    * an address that had unsubscribed: starts again unconfirmed, with a new
      ``token_version`` so links from the old subscription stop working;
    * a confirmed, active address: the profile waits in
      ``pending_profile_json`` until the link is used, so nobody can change
      someone else's plan by typing their address.

    The same address in any letter case never gives a second row.
    """
    key = email_key(address)
    text = profile_json(profile)
    for attempt in (1, 2):
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == key))
        if subscriber is None:
            subscriber = Subscriber(email=address, email_key=key, profile_json=text)
            db.session.add(subscriber)
        elif subscriber.active:
            subscriber.pending_profile_json = text
        else:
            if subscriber.unsubscribed_at is not None:
                subscriber.unsubscribed_at = None
                subscriber.confirmed_at = None
                subscriber.token_version += 1
            subscriber.email = address
            subscriber.profile_json = text
            subscriber.pending_profile_json = None
        try:
            db.session.commit()
            return subscriber
        except IntegrityError:  # the same new address sent twice at the same moment
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def confirm(subscriber: Subscriber) -> bool:
    """Use a confirmation link; True when it changed something.

    Confirms a new subscription, or applies a profile waiting for this
    confirmation. An unsubscribed address stays unsubscribed.
    """
    changed = False
    if subscriber.unsubscribed_at is None and subscriber.confirmed_at is None:
        subscriber.confirmed_at = utcnow()
        changed = True
    if subscriber.pending_profile_json:
        subscriber.profile_json = subscriber.pending_profile_json
        subscriber.pending_profile_json = None
        changed = True
    if changed:
        db.session.commit()
    return changed


def claim_confirmation(subscriber: Subscriber, min_interval_s: float) -> bool:
    """True when a confirmation email may go out now, and note it as sent.

    At most one per ``min_interval_s`` seconds and address, decided in one
    UPDATE so a burst of requests cannot flood someone's inbox through the form.
    """
    now = utcnow()
    result = db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber.id,
               or_(Subscriber.confirm_sent_at.is_(None),
                   Subscriber.confirm_sent_at < now - timedelta(seconds=min_interval_s)))
        .values(confirm_sent_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def release_confirmation(subscriber: Subscriber) -> None:
    """The confirmation email could not be sent: allow the next request to try."""
    db.session.execute(update(Subscriber).where(Subscriber.id == subscriber.id)
                       .values(confirm_sent_at=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def update_profile(subscriber: Subscriber, profile: Profile) -> None:
    """Save a profile edited through the preferences link (the link proves the owner)."""
    subscriber.profile_json = profile_json(profile)
    subscriber.pending_profile_json = None
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
    ``sending`` (in doubt after a crash; see planner.weekly) are not due.
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

