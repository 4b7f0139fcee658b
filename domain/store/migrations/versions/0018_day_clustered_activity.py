"""Key member_days by (day, member_id), on SQLite WITHOUT ROWID; SQLite indexes events by
(UTC day, member_id) instead of (member_id, occurred_at)

New events fall on a few recent days: keyed day first, the rollup rows and index entries
they write sit on a few leaf pages instead of one page per member spread over
member-ordered b-trees, so an import writes (and commits) far fewer pages. PostgreSQL
only swaps which of the two orders is the key and keeps its events index.

Revision ID: 0018
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = ("member_id", "day", "events", "logins", "posts", "comments", "likes", "shares",
           "check_ins", "purchases", "revenue_minor", "referral_invites")
_INTEGERS = ("events", "logins", "posts", "comments", "likes", "shares", "check_ins",
             "purchases")
_EVENTS_DAY = "ix_events_day_member_id"


def _create(key: tuple[str, str], *, with_rowid: bool) -> None:
    op.create_table(
        "member_days",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in _INTEGERS],
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("referral_invites", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_member_days_member_id_members")),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_member_days")),
        sqlite_with_rowid=with_rowid,
    )


def _rebuild_sqlite(key: tuple[str, str], *, with_rowid: bool) -> None:
    # SQLite cannot change a table's key: copy the rows into a new table in key order
    op.rename_table("member_days", "member_days_old")
    # the old table's indexes keep their names: drop them before recreating
    op.drop_index("ix_member_days_purchase_day", table_name="member_days_old")
    if with_rowid is False:
        op.drop_index("ix_member_days_day_member_id", table_name="member_days_old")
    _create(key, with_rowid=with_rowid)
    columns = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO member_days ({columns}) SELECT {columns} "
               f"FROM member_days_old ORDER BY {', '.join(key)}")
    op.drop_table("member_days_old")
    op.create_index("ix_member_days_purchase_day", "member_days", ["day", "member_id"],
                    sqlite_where=sa.text("purchases > 0"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_member_days", "member_days", type_="primary")
        op.create_primary_key("pk_member_days", "member_days", ["day", "member_id"])
        op.drop_index("ix_member_days_day_member_id", table_name="member_days")
        op.create_index("ix_member_days_member_id_day", "member_days", ["member_id", "day"])
        return
    op.drop_index("ix_events_member_id_occurred_at", table_name="events")
    op.create_index(_EVENTS_DAY, "events",
                    [sa.text("substr(occurred_at, 1, 10)"), "member_id"])
    _rebuild_sqlite(("day", "member_id"), with_rowid=False)
    _restat(_EVENTS_DAY)


def _restat(events_index: str) -> None:
    """The statistics of the dropped table stay under its name and would describe the
    new key wrongly: where a database has statistics (ANALYZE), renew those of the
    rebuilt table and new index."""
    if op.get_bind().exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is None:
        return
    op.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'member_days'")
    op.execute("ANALYZE member_days")
    op.execute(f"ANALYZE {events_index}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_member_days_member_id_day", table_name="member_days")
        op.create_index("ix_member_days_day_member_id", "member_days", ["day", "member_id"])
        op.drop_constraint("pk_member_days", "member_days", type_="primary")
        op.create_primary_key("pk_member_days", "member_days", ["member_id", "day"])
        return
    _rebuild_sqlite(("member_id", "day"), with_rowid=True)
    op.create_index("ix_member_days_day_member_id", "member_days", ["day", "member_id"])
    op.drop_index(_EVENTS_DAY, table_name="events")
    op.create_index("ix_events_member_id_occurred_at", "events", ["member_id", "occurred_at"])
    _restat("ix_events_member_id_occurred_at")
