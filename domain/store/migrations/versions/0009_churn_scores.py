"""churn models and predictive churn scores

Revision ID: 0009
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "churn_models",
        sa.Column("id", Id, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("bgnbd", sa.JSON(), nullable=False),
        sa.Column("gamma_gamma", sa.JSON(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_models")),
    )
    op.create_table(
        "churn_scores",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("model_id", Id, nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=False),
        sa.Column("expected_transactions", sa.Float(), nullable=False),
        sa.Column("expected_spend_minor", sa.Float(), nullable=False),
        sa.Column("value_lost_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_churn_scores_member_id_members")),
        sa.ForeignKeyConstraint(["model_id"], ["churn_models.id"],
                                name=op.f("fk_churn_scores_model_id_churn_models")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_churn_scores")),
    )
    op.create_index("ix_churn_scores_value_lost_minor_member_id", "churn_scores",
                    ["value_lost_minor", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_churn_scores_value_lost_minor_member_id", table_name="churn_scores")
    op.drop_table("churn_scores")
    op.drop_table("churn_models")
