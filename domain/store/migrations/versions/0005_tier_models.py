"""versioned tier models and pending (humane) demotions

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tier_models",
        sa.Column("id", Id, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_models")),
        sa.UniqueConstraint("version", name=op.f("uq_tier_models_version")),
    )
    op.create_table(
        "tier_demotion_pending",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_tier_demotion_pending_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_tier_demotion_pending")),
    )


def downgrade() -> None:
    op.drop_table("tier_demotion_pending")
    op.drop_table("tier_models")
