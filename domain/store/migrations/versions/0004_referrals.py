"""referrals: codes, invitations, reward rule sets and rewards

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "referral_rule_sets",
        sa.Column("id", Id, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rewards", sa.JSON(), nullable=False),
        sa.Column("attribution_window_days", sa.Integer(), nullable=False),
        sa.Column("join_grace_hours", sa.Integer(), nullable=False),
        sa.Column("max_joins_per_hour", sa.Integer(), nullable=False),
        sa.Column("max_joins_per_day", sa.Integer(), nullable=False),
        sa.Column("max_invitees_per_fingerprint", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_rule_sets")),
        sa.UniqueConstraint("version", name=op.f("uq_referral_rule_sets_version")),
    )
    op.create_table(
        "referral_codes",
        sa.Column("id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("device_hash", sa.String(64)),
        sa.Column("ip_hash", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_referral_codes_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_referral_codes_code")),
    )
    op.create_index("ix_referral_codes_member_id", "referral_codes", ["member_id"])
    op.create_table(
        "referrals",
        sa.Column("id", Id, nullable=False),
        sa.Column("code_id", Id, nullable=False),
        sa.Column("inviter_id", Id, nullable=False),
        sa.Column("invitee_id", Id),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True)),
        sa.Column("converted_at", sa.DateTime(timezone=True)),
        sa.Column("join_day", sa.Date()),
        sa.Column("window_ends_on", sa.Date()),
        sa.Column("first_purchase_on", sa.Date()),
        sa.Column("rule_version", sa.Integer()),
        sa.Column("device_hash", sa.String(64)),
        sa.Column("ip_hash", sa.String(64)),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("review", sa.String(16), nullable=False),
        sa.Column("review_note", sa.Text()),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("reviewed_by", sa.String(120)),
        sa.CheckConstraint("status IN ('invited', 'joined', 'converted')",
                           name=op.f("ck_referrals_status_known")),
        sa.ForeignKeyConstraint(["code_id"], ["referral_codes.id"],
                                name=op.f("fk_referrals_code_id_referral_codes")),
        sa.ForeignKeyConstraint(["inviter_id"], ["members.id"],
                                name=op.f("fk_referrals_inviter_id_members")),
        sa.ForeignKeyConstraint(["invitee_id"], ["members.id"],
                                name=op.f("fk_referrals_invitee_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("invitee_id", name=op.f("uq_referrals_invitee_id")),
    )
    op.create_index("ix_referrals_inviter_id_joined_at", "referrals",
                    ["inviter_id", "joined_at"])
    op.create_index("ix_referrals_status_id", "referrals", ["status", "id"])
    op.create_table(
        "referral_rewards",
        sa.Column("id", Id, nullable=False),
        sa.Column("referral_id", Id, nullable=False),
        sa.Column("beneficiary", sa.String(16), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("money_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("points >= 0 AND money_minor >= 0",
                           name=op.f("ck_referral_rewards_amounts_non_negative")),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"],
                                name=op.f("fk_referral_rewards_referral_id_referrals")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_referral_rewards_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_rewards")),
        sa.UniqueConstraint("referral_id", "beneficiary", "trigger",
                            name=op.f("uq_referral_rewards_referral_id_beneficiary_trigger")),
    )
    op.create_index("ix_referral_rewards_member_id", "referral_rewards", ["member_id"])
    op.create_index("ix_referral_rewards_status_id", "referral_rewards", ["status", "id"])


def downgrade() -> None:
    op.drop_table("referral_rewards")
    op.drop_table("referrals")
    op.drop_table("referral_codes")
    op.drop_table("referral_rule_sets")
