"""KPI trailing-window counts per member, anchored on the latest rollup day

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kpi_member_trailing",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("d1", sa.Integer(), nullable=False),
        sa.Column("d7", sa.Integer(), nullable=False),
        sa.Column("d30", sa.Integer(), nullable=False),
        sa.Column("prior30", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_kpi_member_trailing_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_kpi_member_trailing")),
    )
    # the next refresh rebuilds every rollup, the new one included
    op.execute("DELETE FROM kpi_state")


def downgrade() -> None:
    op.drop_table("kpi_member_trailing")
