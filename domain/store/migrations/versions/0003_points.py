"""points ledger, balances, earn rules, benefits and redemptions

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "points_entries",
        sa.Column("id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("reverses_entry_id", Id),
        sa.Column("lot_entry_id", Id),
        sa.Column("event_id", Id),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_points_entries_amount_non_zero")),
        sa.CheckConstraint("kind IN ('earn', 'spend', 'expire', 'adjust', 'reverse')",
                           name=op.f("ck_points_entries_kind_known")),
        _fk("points_entries", "member_id", "members"),
        _fk("points_entries", "reverses_entry_id", "points_entries"),
        _fk("points_entries", "lot_entry_id", "points_entries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_entries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_points_entries_idempotency_key")),
        sa.UniqueConstraint("reverses_entry_id",
                            name=op.f("uq_points_entries_reverses_entry_id")),
    )
    op.create_index("ix_points_entries_member_id_id", "points_entries", ["member_id", "id"])
    op.create_index("ix_points_entries_event_id", "points_entries", ["event_id"])
    op.create_index("ix_points_entries_lot_entry_id", "points_entries", ["lot_entry_id"])
    op.create_index("ix_points_entries_expires_at", "points_entries", ["expires_at"])
    op.create_table(
        "points_balances",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_points_balances_balance_non_negative")),
        _fk("points_balances", "member_id", "members"),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_points_balances")),
    )
    op.create_table(
        "points_earn_rules",
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("daily_cap", sa.Integer()),
        sa.Column("expiry_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_type", name=op.f("pk_points_earn_rules")),
    )
    op.create_table(
        "points_tier_multipliers",
        sa.Column("tier_id", Id, nullable=False),
        sa.Column("permille", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("permille > 0",
                           name=op.f("ck_points_tier_multipliers_permille_positive")),
        _fk("points_tier_multipliers", "tier_id", "tiers"),
        sa.PrimaryKeyConstraint("tier_id", name=op.f("pk_points_tier_multipliers")),
    )
    op.create_table(
        "benefits",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.Integer()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cost_points > 0", name=op.f("ck_benefits_cost_positive")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_benefits_stock_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefits")),
    )
    op.create_table(
        "benefit_redemptions",
        sa.Column("id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("benefit_id", Id, nullable=False),
        sa.Column("entry_id", Id, nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        _fk("benefit_redemptions", "member_id", "members"),
        _fk("benefit_redemptions", "benefit_id", "benefits"),
        _fk("benefit_redemptions", "entry_id", "points_entries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_redemptions")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_benefit_redemptions_entry_id")),
    )
    op.create_index("ix_benefit_redemptions_member_id", "benefit_redemptions", ["member_id"])
    op.create_index("ix_benefit_redemptions_benefit_id", "benefit_redemptions", ["benefit_id"])


def downgrade() -> None:
    op.drop_table("benefit_redemptions")
    op.drop_table("benefits")
    op.drop_table("points_tier_multipliers")
    op.drop_table("points_earn_rules")
    op.drop_table("points_balances")
    op.drop_table("points_entries")
