"""The member side of the KPI refresh: join days (kpi_joined_days), tiers and join days
copied into the per-member rows, and the trailing counts per tier.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, case, delete, func, literal, select, update
from sqlalchemy.schema import CreateTable

from domain.store.days import as_date, midnight
from domain.store.repositories.kpi.base import (
    _CHUNK,
    _COUNT_KEYS,
    FULL_REBUILD_DAYS,
    KpiBase,
    MemberMarks,
    _runs,
    moving,
    summary,
)
from domain.store.tables import (
    kpi_joined_days,
    kpi_member_trailing,
    kpi_trailing_counts,
    member_merges,
    members,
    tier_assignments,
)


class MemberSideMixin(KpiBase):
    """Join days, tiers and the trailing counts per tier."""

    # --- member side: join days, tiers and join days copied for the report -------------

    def _tier_of(self, member_id):
        """The member's current tier id, as a scalar subquery."""
        return select(members.c.tier_id).where(members.c.id == member_id).scalar_subquery()

    async def _fill_joined_on(self, where) -> None:
        """kpi_member_summary.joined_on of the rows matching `where`: the member's UTC join
        day, NULL when merged into another."""
        joined_on = (select(self._joined_day())
                     .where(members.c.id == summary.c.member_id,
                            members.c.status == "active").scalar_subquery())
        await self.conn.execute(update(summary).where(where).values(joined_on=joined_on))

    def _counts_key(self):
        t = kpi_member_trailing.c
        return (func.coalesce(t.tier_id, literal(0)), t.d30, case((t.d7 > 0, 1), else_=0),
                case((t.d1 > 0, 1), else_=0), case((t.prior30 > 0, 1), else_=0))

    async def _add_trailing_counts(self, sign: int) -> None:
        """Add (sign 1) or take away (-1) the kpi_trailing_counts contributions of the
        trailing rows of the `moving` members."""
        t = kpi_member_trailing
        key = self._counts_key()
        await self._upsert_adding(kpi_trailing_counts, _COUNT_KEYS, select(
            *key, func.count() * sign)
            .select_from(t.join(moving, moving.c.member_id == t.c.member_id)).group_by(*key),
            [*_COUNT_KEYS, "members"])

    async def _moving_trailing(self, member_ids, change) -> None:
        """Run `change()`, which rewrites the kpi_member_trailing rows of (only) the members
        `member_ids` selects (distinct), and move kpi_trailing_counts by those members'
        contributions before and after."""
        await self.conn.execute(CreateTable(moving, if_not_exists=True))
        await self.conn.execute(delete(moving))
        await self.conn.execute(moving.insert().from_select(["member_id"], member_ids))
        await self._add_trailing_counts(-1)
        await change()
        await self._add_trailing_counts(1)
        await self.conn.execute(delete(kpi_trailing_counts).where(
            kpi_trailing_counts.c.members == 0))
        await self.conn.execute(delete(moving))

    async def _rebuild_trailing_counts(self, *, fill_tiers: bool = True) -> None:
        """kpi_trailing_counts from every trailing row (after setting each row's tier)."""
        t = kpi_member_trailing
        if fill_tiers:
            await self.conn.execute(update(t).values(tier_id=self._tier_of(t.c.member_id)))
        await self.conn.execute(delete(kpi_trailing_counts))
        key = self._counts_key()
        await self.conn.execute(kpi_trailing_counts.insert().from_select(
            [*_COUNT_KEYS, "members"], select(*key, func.count()).group_by(*key)))

    async def _insert_joined(self, where) -> None:
        """kpi_joined_days rows of the members matching `where` (merged ones left out)."""
        day = self._joined_day()
        tier = func.coalesce(members.c.tier_id, literal(0))
        merged = (select(member_merges.c.id)
                  .where(member_merges.c.merged_id == members.c.id,
                         member_merges.c.undone_at.is_(None)).exists())
        await self.conn.execute(kpi_joined_days.insert().from_select(
            ["day", "channel", "tier_id", "members"],
            select(day, members.c.channel, tier, func.count()).where(where, ~merged)
            .group_by(day, members.c.channel, tier)))

    async def _rebuild_members(self) -> None:
        """Every member-side rollup from members: join days, the summaries' join days, the
        trailing rows' tiers and the trailing counts."""
        await self.conn.execute(delete(kpi_joined_days))
        await self._insert_joined(literal(True))
        await self._fill_joined_on(literal(True))
        await self._rebuild_trailing_counts()

    async def _members_changed(self, seen: MemberMarks, tops: MemberMarks,
                               dirty_ids: list[int]) -> None:
        """Members added (id above the watermark), re-tiered (tier assignments above
        theirs) or dirty (merges, undo): their trailing rows take their current tier and
        the join days of all of them are recounted. The summaries of dirty members were
        recomputed (join day included) by the event side."""
        retiered = (select(tier_assignments.c.member_id)
                    .where(tier_assignments.c.id > seen.assignments,
                           tier_assignments.c.id <= tops.assignments))
        if tops.assignments > seen.assignments:
            t = kpi_member_trailing

            async def retier():
                await self.conn.execute(update(t).where(t.c.member_id.in_(
                    select(moving.c.member_id))).values(tier_id=self._tier_of(t.c.member_id)))

            await self._moving_trailing(retiered.distinct(), retier)
        day = self._joined_day()
        days: set[date] = set()
        sources = []
        if tops.members > seen.members:
            sources.append(members.c.id > seen.members)
        if tops.assignments > seen.assignments:
            sources.append(members.c.id.in_(retiered))
        sources += [members.c.id.in_(dirty_ids[i:i + _CHUNK])
                    for i in range(0, len(dirty_ids), _CHUNK)]
        for where in sources:
            days |= {as_date(d) for (d,) in await self.conn.execute(
                select(day).where(where).distinct())}
        if len(days) > FULL_REBUILD_DAYS:
            await self.conn.execute(delete(kpi_joined_days))
            await self._insert_joined(literal(True))
            return
        for first, last in _runs(sorted(days)):
            await self.conn.execute(delete(kpi_joined_days).where(
                kpi_joined_days.c.day >= first, kpi_joined_days.c.day <= last))
            await self._insert_joined(and_(members.c.joined_at >= midnight(first),
                                           members.c.joined_at < midnight(
                                               last + timedelta(days=1))))
