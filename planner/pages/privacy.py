"""Sealed links: a plan's answers in a URL without any of them readable.

The profile form, the handout details form and the batch upload are POSTs,
so a person's medicines, conditions, symptoms, a client's name and notes are
never in a request line. The pages that must be linkable (the plan page to
bookmark, its JSON/CSV/iCalendar twins, the handout and its PDF, the "change
your answers" and "email me this plan" links) carry the answers as one opaque
token instead: the form's fields as compact JSON, compressed, then encrypted
and authenticated with Fernet (AES-128-CBC and HMAC-SHA256) under a key
derived from ``SECRET_KEY`` with HKDF. Access logs, browser history and
``Referer`` headers then hold only ciphertext.

A token carries its creation time; it is refused after ``PLAN_LINK_MAX_AGE``
seconds (30 days by default) with 410, and any token that was not made with
this server's key (edited, truncated, another server's) with 404.
"""

from __future__ import annotations

import base64
import json
import time
import zlib

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from werkzeug.datastructures import MultiDict

#: How long a sealed link works by default [s] (30 days).
DEFAULT_MAX_AGE = 30 * 24 * 3600
#: HKDF ``info``: keys for other purposes derived from the same secret differ.
KEY_INFO = b"b12planner sealed plan link v1"
#: Longest token accepted [characters]; a full profile seals to well under this.
MAX_TOKEN_CHARS = 8000


class BadLink(Exception):
    """A sealed link that cannot be opened; ``expired`` tells the two cases apart."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _fernet(secret: str | bytes) -> Fernet:
    raw = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(raw)
    return Fernet(base64.urlsafe_b64encode(key))


def _secret() -> str:
    secret = current_app.config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("SECRET_KEY is not set; sealed links need it")
    return secret


def max_age() -> int:
    return int(current_app.config.get("PLAN_LINK_MAX_AGE", DEFAULT_MAX_AGE))


def seal_pairs(pairs, *, secret: str | None = None, now: float | None = None) -> str:
    """A token holding the (name, value) pairs, in order; blank values are left out."""
    data = [[str(k), str(v)] for k, v in pairs if str(v).strip()]
    packed = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)
    fernet = _fernet(secret or _secret())
    token = fernet.encrypt_at_time(packed, int(time.time() if now is None else now))
    return token.decode("ascii").rstrip("=")


def open_pairs(token: str, *, secret: str | None = None, now: float | None = None,
               ttl: int | None = None) -> MultiDict:
    """The pairs sealed in ``token`` as a MultiDict; :class:`BadLink` when it cannot be."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise BadLink(expired=False)
    raw = (token + "=" * (-len(token) % 4)).encode("ascii", "replace")
    fernet = _fernet(secret or _secret())
    now = time.time() if now is None else now
    try:
        made = fernet.extract_timestamp(raw)  # checks the HMAC first
        packed = fernet.decrypt(raw)
    except InvalidToken:
        raise BadLink(expired=False) from None
    if now - made > (max_age() if ttl is None else ttl):
        raise BadLink(expired=True)
    try:
        data = json.loads(zlib.decompress(packed))
        return MultiDict([(str(k), str(v)) for k, v in data])
    except (ValueError, TypeError, zlib.error):
        raise BadLink(expired=False) from None
