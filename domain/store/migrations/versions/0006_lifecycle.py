"""lifecycle stages on members, their transitions, and churn signals

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # batch mode: SQLite cannot add indexes/columns to a table in every form in place.
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("lifecycle_stage", sa.String(16), nullable=True))
        batch.add_column(sa.Column("lifecycle_as_of", sa.Date(), nullable=True))
        batch.create_index("ix_members_lifecycle_stage_joined_at",
                           ["lifecycle_stage", "joined_at"])
    op.create_table(
        "lifecycle_transitions",
        sa.Column("id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("from_stage", sa.String(16), nullable=True),
        sa.Column("to_stage", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_lifecycle_transitions_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_transitions")),
    )
    op.create_index("ix_lifecycle_transitions_member_id_as_of", "lifecycle_transitions",
                    ["member_id", "as_of"])
    op.create_table(
        "churn_signals",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("days_inactive", sa.Integer(), nullable=False),
        sa.Column("suggested_action", sa.String(32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_churn_signals_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_churn_signals")),
    )
    op.create_index("ix_churn_signals_level_days_inactive_member_id", "churn_signals",
                    ["level", "days_inactive", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_churn_signals_level_days_inactive_member_id", table_name="churn_signals")
    op.drop_table("churn_signals")
    op.drop_index("ix_lifecycle_transitions_member_id_as_of",
                  table_name="lifecycle_transitions")
    op.drop_table("lifecycle_transitions")
    with op.batch_alter_table("members") as batch:
        batch.drop_index("ix_members_lifecycle_stage_joined_at")
        batch.drop_column("lifecycle_as_of")
        batch.drop_column("lifecycle_stage")
