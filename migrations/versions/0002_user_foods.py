"""Foods people enter from a product label.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Compared with ``flask db migrate`` output from planner/store/models.py, then written
by hand: only a new table and its index; ``subscribers`` and ``sends`` are not
touched by either direction. Constraint and index names follow
planner.store.db.NAMING_CONVENTION.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_foods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_key", sa.String(length=64), nullable=False),
        sa.Column("food_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("food_group", sa.String(length=40), nullable=False),
        sa.Column("serving_g", sa.Float(), nullable=False),
        sa.Column("serving_label", sa.String(length=60), nullable=False),
        sa.Column("b12_ug_per_serving", sa.Float(), nullable=False),
        sa.Column("diets", sa.String(length=100), nullable=False),
        sa.Column("allergens", sa.String(length=200), server_default="", nullable=False),
        sa.Column("meals", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("serving_g > 0", name=op.f("ck_user_foods_serving_g_positive")),
        sa.CheckConstraint("b12_ug_per_serving >= 0",
                           name=op.f("ck_user_foods_b12_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_foods")),
        sa.UniqueConstraint("food_id", name=op.f("uq_user_foods_food_id")),
    )
    op.create_index("ix_user_foods_owner_key", "user_foods", ["owner_key"], unique=False)


def downgrade():
    # Deletes every food people entered; subscribers and sends stay as they are.
    op.drop_index("ix_user_foods_owner_key", table_name="user_foods")
    op.drop_table("user_foods")
