"""Tables of the subscription store: who subscribed, and what was sent each week.

Two tables, changed only through ``migrations/``:

* ``subscribers``: one row per address. ``email_key`` (the address in lower
  case) is unique, so ``A@x.org`` and ``a@x.org`` are one subscriber.
  ``token_version`` is part of every signed link; raising it voids the links
  sent before.
* ``sends``: one row per subscriber and ISO week, ``UNIQUE(subscriber_id,
  week)``. The row is the claim that makes a weekly email go out at most once
  (see :mod:`planner.mail.run` for the states and what happens after a crash).

And one table of foods people enter from a product label (``/foods/mine``):

* ``user_foods``: one row per food, owned by the browser whose signed session
  cookie holds ``owner_key`` (there are no accounts). ``food_id``
  (``mine_<hex>``) is unique across owners; :mod:`planner.own_foods.store` turns a
  row into a :class:`~planner.domain.model.Food` with the table loader's checks.
"""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from planner.store.db import db

# States of a ``sends`` row (planner.mail.run explains the transitions).
SENDING = "sending"  # claimed; the message may be at the SMTP server
SENT = "sent"  # the SMTP server accepted it
RETRY = "retry"  # a temporary failure; a later run tries again
FAILED = "failed"  # refused for good, or too many attempts
SEND_STATES = (SENDING, SENT, RETRY, FAILED)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Subscriber(db.Model):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    email_key: Mapped[str] = mapped_column(sa.String(254), unique=True)
    profile_json: Mapped[str] = mapped_column(sa.Text)
    # A profile sent through /subscribe: it becomes profile_json only when the
    # link of the confirmation email sent for it is used (planner.mail.subscribers).
    pending_profile_json: Mapped[str | None] = mapped_column(sa.Text)
    # Drawn afresh for each confirmation email; the link signs a hash of it and
    # the pending profile, and using the link clears it (one use, one profile).
    pending_nonce: Mapped[str | None] = mapped_column(sa.String(32))
    # When the pending profile was stored; it expires with its link.
    pending_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    token_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # When the last confirmation email went out (at most one per CONFIRM_RESEND_SECONDS).
    confirm_sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 default=utcnow, onupdate=utcnow)

    @property
    def profile(self) -> dict:
        """The stored profile as the JSON object ``parse_profile`` accepts."""
        return json.loads(self.profile_json)

    @property
    def active(self) -> bool:
        """Confirmed and not unsubscribed: gets the weekly email."""
        return self.confirmed_at is not None and self.unsubscribed_at is None

    def __repr__(self) -> str:
        return f"<Subscriber {self.id}>"  # no address: reprs end up in logs


class Send(db.Model):
    __tablename__ = "sends"
    __table_args__ = (
        sa.UniqueConstraint("subscriber_id", "week"),
        sa.CheckConstraint(f"status IN {SEND_STATES!r}", name="status"),
        sa.Index("ix_sends_week_status", "week", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(sa.String(8))  # ISO week, "2025-W07"
    status: Mapped[str] = mapped_column(sa.String(16))
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Send {self.subscriber_id} {self.week} {self.status}>"


class UserFood(db.Model):
    """A food someone entered from its label; B12 is kept per serving, as printed."""

    __tablename__ = "user_foods"
    __table_args__ = (
        sa.CheckConstraint("serving_g > 0", name="serving_g_positive"),
        sa.CheckConstraint("b12_ug_per_serving >= 0", name="b12_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    food_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    food_group: Mapped[str] = mapped_column(sa.String(40))
    serving_g: Mapped[float] = mapped_column(sa.Float)
    serving_label: Mapped[str] = mapped_column(sa.String(60))
    b12_ug_per_serving: Mapped[float] = mapped_column(sa.Float)
    diets: Mapped[str] = mapped_column(sa.String(100))  # ";"-separated, as in the table
    allergens: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    meals: Mapped[str] = mapped_column(sa.String(60))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                 default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<UserFood {self.food_id}>"  # no owner key: reprs end up in logs
