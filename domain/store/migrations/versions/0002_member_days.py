"""member-day activity rollup

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = ("events", "logins", "posts", "comments", "likes", "shares", "check_ins",
          "purchases")


def upgrade() -> None:
    op.create_table(
        "member_days",
        sa.Column("member_id", Id, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("referral_invites", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_member_days_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", "day", name=op.f("pk_member_days")),
    )
    op.create_index("ix_member_days_day_member_id", "member_days", ["day", "member_id"])
    # Backfill from the events already stored (UTC day of occurred_at).
    day = ("CAST(timezone('UTC', occurred_at) AS DATE)"
           if op.get_bind().dialect.name == "postgresql" else "substr(occurred_at, 1, 10)")
    counted = ", ".join(f"sum(CASE WHEN type = '{t}' THEN 1 ELSE 0 END)" for t in (
        "login", "post", "comment", "like", "share", "check_in", "purchase"))
    op.execute(
        "INSERT INTO member_days (member_id, day, events, logins, posts, comments, likes,"
        " shares, check_ins, purchases, revenue_minor, referral_invites)"
        f" SELECT member_id, {day}, count(*), {counted}, coalesce(sum(amount_minor), 0),"
        " sum(CASE WHEN type = 'referral_invite' THEN 1 ELSE 0 END)"
        f" FROM events GROUP BY member_id, {day}"
    )


def downgrade() -> None:
    op.drop_index("ix_member_days_day_member_id", table_name="member_days")
    op.drop_table("member_days")
