"""KPI rollup state and dirty marks: the event and member watermarks of the last
refresh, and the days and members the next refresh must recompute.
"""

from __future__ import annotations

from sqlalchemy import func, select

from domain.store.days import as_date
from domain.store.repositories.kpi.base import KpiBase, KpiState, MemberMarks
from domain.store.tables import (
    events,
    kpi_dirty_days,
    kpi_dirty_members,
    kpi_member_state,
    kpi_state,
    members,
    tier_assignments,
)


class StateMixin(KpiBase):
    """The rollups' state, watermarks and dirty marks."""

    # --- state and dirty marks ------------------------------------------------------

    async def state(self) -> KpiState | None:
        row = (await self.conn.execute(select(kpi_state).where(kpi_state.c.id == 1))).first()
        if row is None:
            return None
        return KpiState(events_watermark=row.events_watermark,
                        latest_day=as_date(row.latest_day), refreshed_at=row.refreshed_at)

    async def max_event_id(self) -> int:
        return (await self.conn.execute(select(func.max(events.c.id)))).scalar() or 0

    async def member_marks(self) -> MemberMarks | None:
        """The member watermarks of the last refresh (None: never refreshed)."""
        row = (await self.conn.execute(select(kpi_member_state)
                                       .where(kpi_member_state.c.id == 1))).first()
        return MemberMarks(row.members_watermark, row.assignments_watermark) if row else None

    async def member_tops(self) -> MemberMarks:
        """The largest member id and tier-assignment id now (primary-key reads)."""
        members_top = (await self.conn.execute(select(func.max(members.c.id)))).scalar()
        assignments_top = (await self.conn.execute(
            select(func.max(tier_assignments.c.id)))).scalar()
        return MemberMarks(members_top or 0, assignments_top or 0)

    async def members_behind(self) -> bool:
        """Were members added or re-tiered since the last refresh (or never refreshed)?"""
        seen = await self.member_marks()
        if seen is None:
            return True
        tops = await self.member_tops()
        return tops.members > seen.members or tops.assignments > seen.assignments

    async def mark_dirty(self, *, days=(), member_ids=()) -> None:
        """Have the next refresh recompute these days and members (call it where
        member_days rows change other than by new events: merges, undo, erasure)."""
        for table, column, values in ((kpi_dirty_days, "day", sorted(set(days))),
                                      (kpi_dirty_members, "member_id", sorted(set(member_ids)))):
            if values:
                statement = self._insert(table).on_conflict_do_nothing()
                await self.conn.execute(statement, [{column: v} for v in values])
