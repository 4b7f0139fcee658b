"""merges carry points and badges: transfer entry kinds, what a merge moved, and the
merge a badge award was copied by

Revision ID: 0017
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_KINDS = ("'earn', 'spend', 'expire', 'adjust', 'reverse'")
_CHECK = op.f("ck_points_entries_kind_known")


def _replace_kind_check(kinds: str) -> None:
    # SQLite cannot alter a CHECK in place: batch mode recreates the table (named
    # constraints are reflected and carried over; this one is dropped and re-added).
    with op.batch_alter_table("points_entries") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.create_check_constraint(_CHECK, sa.text(f"kind IN ({kinds})"))


def upgrade() -> None:
    _replace_kind_check(f"{_KINDS}, 'transfer_out', 'transfer_in'")
    with op.batch_alter_table("member_merges") as batch:
        batch.add_column(sa.Column("points_moved", sa.BigInteger()))
        batch.add_column(sa.Column("points_returned", sa.BigInteger()))
        batch.add_column(sa.Column("added_badge_ids", sa.JSON()))
    with op.batch_alter_table("badge_awards") as batch:
        batch.add_column(sa.Column("via_merge_id", Id))
        batch.create_foreign_key(op.f("fk_badge_awards_via_merge_id_member_merges"),
                                 "member_merges", ["via_merge_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("badge_awards") as batch:
        batch.drop_constraint(op.f("fk_badge_awards_via_merge_id_member_merges"),
                              type_="foreignkey")
        batch.drop_column("via_merge_id")
    with op.batch_alter_table("member_merges") as batch:
        batch.drop_column("added_badge_ids")
        batch.drop_column("points_returned")
        batch.drop_column("points_moved")
    # Transfers written meanwhile would violate the old CHECK: downgrade refuses then.
    _replace_kind_check(_KINDS)
