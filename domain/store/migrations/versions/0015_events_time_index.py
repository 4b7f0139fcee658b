"""Drop the events' index on occurred_at alone

Every read of a period's events goes through the member_days rollup to the members,
then the (member_id, occurred_at) index; the index on time alone only cost every
insert a fifth of its work.

Revision ID: 0015
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_occurred_at", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
