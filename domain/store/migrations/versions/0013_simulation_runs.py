"""Simulation runs (jobs)

Revision ID: 0013
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "simulation_runs",
        sa.Column("id", Id, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scenario", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("started_at", UTC_DT),
        sa.Column("finished_at", UTC_DT),
        sa.Column("cancel_requested_at", UTC_DT),
        sa.Column("worker", sa.String(200)),
        sa.Column("heartbeat_at", UTC_DT),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_simulation_runs_status_known")),
        sa.CheckConstraint("progress >= 0 AND progress <= 1",
                           name=op.f("ck_simulation_runs_progress_fraction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulation_runs")),
    )
    op.create_index("ix_simulation_runs_status", "simulation_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_simulation_runs_status", table_name="simulation_runs")
    op.drop_table("simulation_runs")
