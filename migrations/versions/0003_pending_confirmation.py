"""A confirmation link names the pending profile it confirms, once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Two nullable columns on ``subscribers``, written by hand:

* ``pending_nonce``: a random value drawn each time a confirmation email goes
  out; its hash with the pending profile is signed into the link, and using
  the link clears it, so a link works once and only for that profile;
* ``pending_at``: when the pending profile was stored; it expires with its link.

A pending profile restored from a backup has no nonce: no old link can apply
it, and the next subscribe sends a new one. Nothing is dropped on upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("pending_nonce", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("pending_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("pending_at")
        batch.drop_column("pending_nonce")
