"""KPI rollups, targets and acquisition spend

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kpi_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("events_watermark", sa.BigInteger(), nullable=False),
        sa.Column("latest_day", sa.Date()),
        sa.Column("refreshed_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_state")),
    )
    op.create_table(
        "kpi_dirty_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_kpi_dirty_days")),
    )
    for name in ("kpi_dirty_members", "kpi_touched_members"):
        op.create_table(
            name,
            sa.Column("member_id", Id, nullable=False),
            sa.PrimaryKeyConstraint("member_id", name=op.f(f"pk_{name}")),
        )
    op.create_table(
        "kpi_activity_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("purchasers", sa.Integer(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        *[sa.Column(c, sa.BigInteger(), nullable=False)
          for c in ("events", "logins", "posts", "comments", "shares", "check_ins")],
        sa.PrimaryKeyConstraint("day", name=op.f("pk_kpi_activity_days")),
    )
    op.create_table(
        "kpi_member_summary",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("first_active", sa.Date(), nullable=False),
        sa.Column("last_active", sa.Date(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("first_purchase", sa.Date()),
        sa.Column("last_purchase", sa.Date()),
        sa.Column("purchase_days", sa.Integer(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("first_purchase_revenue_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_kpi_member_summary_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_kpi_member_summary")),
    )
    op.create_index("ix_kpi_member_summary_first_purchase", "kpi_member_summary",
                    ["first_purchase"])
    op.create_table(
        "kpi_member_months",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("purchase_days", sa.Integer(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_kpi_member_months_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", "month", name=op.f("pk_kpi_member_months")),
    )
    op.create_table(
        "kpi_cohort_months",
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("cohort", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("basis", "cohort", "month", name=op.f("pk_kpi_cohort_months")),
    )
    op.create_table(
        "kpi_targets",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("goal", sa.Float(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        sa.CheckConstraint("deadline > starts_on",
                           name=op.f("ck_kpi_targets_deadline_after_start")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_targets")),
    )
    op.create_table(
        "acquisition_spend",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        sa.CheckConstraint("amount_minor >= 0",
                           name=op.f("ck_acquisition_spend_amount_non_negative")),
        sa.PrimaryKeyConstraint("channel", "month", name=op.f("pk_acquisition_spend")),
    )
    op.create_index("ix_member_days_purchase_day", "member_days", ["day", "member_id"],
                    sqlite_where=sa.text("purchases > 0"),
                    postgresql_where=sa.text("purchases > 0"))


def downgrade() -> None:
    op.drop_index("ix_member_days_purchase_day", table_name="member_days")
    for name in ("acquisition_spend", "kpi_targets", "kpi_cohort_months", "kpi_member_months",
                 "kpi_member_summary", "kpi_activity_days", "kpi_touched_members",
                 "kpi_dirty_members", "kpi_dirty_days", "kpi_state"):
        op.drop_table(name)
