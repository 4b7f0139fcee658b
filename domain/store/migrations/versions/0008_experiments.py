"""campaign experiments: design, variants, assignments, rewards

Revision ID: 0008
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _campaign_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                   name=op.f(f"fk_{table}_campaign_id_campaigns"))


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                   name=op.f(f"fk_{table}_member_id_members"))


def upgrade() -> None:
    op.create_table(
        "campaign_experiments",
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("control_share", sa.Float(), nullable=False),
        sa.Column("conversion_event", sa.String(32), nullable=False),
        sa.Column("reward_unit", sa.String(16), nullable=False),
        sa.Column("point_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("global_limit", sa.Integer(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("configured_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("control_share >= 0 AND control_share <= 0.5",
                           name=op.f("ck_campaign_experiments_control_share_range")),
        sa.CheckConstraint("per_member_limit >= 1",
                           name=op.f("ck_campaign_experiments_per_member_limit_positive")),
        _campaign_fk("campaign_experiments"),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_experiments")),
    )
    op.create_table(
        "campaign_variants",
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("reward", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint("weight > 0", name=op.f("ck_campaign_variants_weight_positive")),
        sa.CheckConstraint("reward >= 0", name=op.f("ck_campaign_variants_reward_non_negative")),
        _campaign_fk("campaign_variants"),
        sa.PrimaryKeyConstraint("campaign_id", "key", name=op.f("pk_campaign_variants")),
    )
    op.create_table(
        "campaign_assignments",
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        _campaign_fk("campaign_assignments"),
        _member_fk("campaign_assignments"),
        sa.PrimaryKeyConstraint("campaign_id", "member_id", name=op.f("pk_campaign_assignments")),
    )
    op.create_index("ix_campaign_assignments_member_id", "campaign_assignments", ["member_id"])
    op.create_table(
        "campaign_rewards",
        sa.Column("id", Id, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("response_day", sa.Date(), nullable=False),
        sa.Column("response_seq", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        _campaign_fk("campaign_rewards"),
        _member_fk("campaign_rewards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_rewards")),
        sa.UniqueConstraint("campaign_id", "member_id", "response_day", "response_seq",
                            name=op.f("uq_campaign_rewards_campaign_id_member_id_response_day_"
                                      "response_seq")),
    )


def downgrade() -> None:
    op.drop_table("campaign_rewards")
    op.drop_index("ix_campaign_assignments_member_id", table_name="campaign_assignments")
    op.drop_table("campaign_assignments")
    op.drop_table("campaign_variants")
    op.drop_table("campaign_experiments")
