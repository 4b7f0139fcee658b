"""Key kpi_member_months by (month, member_id), on SQLite WITHOUT ROWID

An incremental KPI refresh adds to the current month's rows of the changed members:
keyed month first they sit together (a few thousand pages instead of every page of a
table plus its key index), so the refresh reads and writes far fewer pages.

Revision ID: 0016
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = "member_id, month, active_days, purchase_days, revenue_minor"


def _create(name: str, key: tuple[str, str], *, with_rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("member_id", Id, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("purchase_days", sa.Integer(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_kpi_member_months_member_id_members")),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_kpi_member_months")),
        sqlite_with_rowid=with_rowid,
    )


def _rekey(key: tuple[str, str], *, with_rowid: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_kpi_member_months", "kpi_member_months", type_="primary")
        op.create_primary_key("pk_kpi_member_months", "kpi_member_months", list(key))
        return
    # SQLite cannot change a table's key: copy the rows into a new table in key order
    op.rename_table("kpi_member_months", "kpi_member_months_old")
    _create("kpi_member_months", key, with_rowid=with_rowid)
    op.execute(f"INSERT INTO kpi_member_months ({COLUMNS}) SELECT {COLUMNS} "
               f"FROM kpi_member_months_old ORDER BY {', '.join(key)}")
    op.drop_table("kpi_member_months_old")


def upgrade() -> None:
    _rekey(("month", "member_id"), with_rowid=False)


def downgrade() -> None:
    _rekey(("member_id", "month"), with_rowid=True)
