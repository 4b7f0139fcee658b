"""KPI report cache: member-side rollups (join days, trailing counts per tier, join day
and tier copied where the report reads them) and the model-fit cache

Revision ID: 0014
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC_DT = sa.DateTime(timezone=True)
_BUYERS = ("first_purchase", "last_purchase", "purchase_days", "revenue_minor",
           "first_purchase_revenue_minor", "joined_on")


def upgrade() -> None:
    # The new columns start NULL and kpi_member_state empty: the next refresh fills the
    # member-side rollups (KpiRepository._rebuild_members) without a full rebuild.
    op.add_column("kpi_member_summary", sa.Column("joined_on", sa.Date()))
    op.drop_index("ix_kpi_member_summary_first_purchase", table_name="kpi_member_summary")
    op.create_index("ix_kpi_member_summary_buyers", "kpi_member_summary", list(_BUYERS),
                    sqlite_where=sa.text("first_purchase IS NOT NULL"),
                    postgresql_where=sa.text("first_purchase IS NOT NULL"))
    op.create_index("ix_kpi_member_summary_joined_on_unset", "kpi_member_summary",
                    ["joined_on"], sqlite_where=sa.text("joined_on IS NULL"),
                    postgresql_where=sa.text("joined_on IS NULL"))
    op.add_column("kpi_member_trailing", sa.Column("tier_id", sa.BigInteger()))
    op.create_table(
        "kpi_member_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("members_watermark", sa.BigInteger(), nullable=False),
        sa.Column("assignments_watermark", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_member_state")),
    )
    op.create_table(
        "kpi_joined_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("tier_id", sa.BigInteger(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", "tier_id", name=op.f("pk_kpi_joined_days")),
    )
    op.create_table(
        "kpi_trailing_counts",
        sa.Column("tier_id", sa.BigInteger(), nullable=False),
        sa.Column("d30", sa.Integer(), nullable=False),
        sa.Column("in_week", sa.Integer(), nullable=False),
        sa.Column("on_day", sa.Integer(), nullable=False),
        sa.Column("prior", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tier_id", "d30", "in_week", "on_day", "prior",
                                name=op.f("pk_kpi_trailing_counts")),
    )
    op.create_table(
        "kpi_model_fits",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("buyers", sa.BigInteger(), nullable=False),
        sa.Column("bgnbd", sa.JSON(), nullable=False),
        sa.Column("gamma_gamma", sa.JSON()),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_kpi_model_fits")),
    )
    op.create_index("ix_kpi_model_fits_created_at", "kpi_model_fits", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_kpi_model_fits_created_at", table_name="kpi_model_fits")
    for name in ("kpi_model_fits", "kpi_trailing_counts", "kpi_joined_days",
                 "kpi_member_state"):
        op.drop_table(name)
    with op.batch_alter_table("kpi_member_trailing") as batch:
        batch.drop_column("tier_id")
    op.drop_index("ix_kpi_member_summary_joined_on_unset", table_name="kpi_member_summary")
    op.drop_index("ix_kpi_member_summary_buyers", table_name="kpi_member_summary")
    with op.batch_alter_table("kpi_member_summary") as batch:
        batch.drop_column("joined_on")
    op.create_index("ix_kpi_member_summary_first_purchase", "kpi_member_summary",
                    ["first_purchase"])
