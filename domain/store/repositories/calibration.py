"""Calibration reads: one summary row per member from the `member_days` rollup.

Calibration (`domain.calibration`) needs, per member, a handful of counts over the
observation window and the member's state at its end. One statement computes them in
the database (never loading events or member-day rows): window functions give each
rollup row its member's last active day and first purchase day up to `as_of`, and one
GROUP BY per member sums conditional counts. Day differences (exposures) are left to the pure
estimators, so the SQL stays the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.calibration import MemberSummaries
from domain.store.repositories.activity import utc_day
from domain.store.tables import member_days, members, tiers


class CalibrationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def tier_keys(self) -> dict[int, str]:
        """Tier id -> key."""
        rows = await self.conn.execute(select(tiers.c.id, tiers.c.key))
        return {row.id: row.key for row in rows}

    async def member_summaries(self, *, start: date, settled_end: date,
                               as_of: date) -> MemberSummaries:
        """Per member joined by `as_of` (merged members excluded): tier id, channel, join
        day, last active day and first purchase day (both up to `as_of`), and over the
        window [`start`, `as_of`]: active days, active days while never having paid
        (first-purchase day included), invitations sent, active paying days and their
        revenue; and the active days after the join day in [`start`, `settled_end`]
        before the last active day (or up to `settled_end` when the member was active
        after it) -- the days the activity estimator uses."""
        dialect = self.conn.dialect.name
        joined_day = utc_day(dialect, members.c.joined_at)
        md = member_days
        # one pass over the rollup (in primary-key order): each row with its member's last
        # active and first purchase day up to as_of, as window functions
        days = (select(
            md.c.member_id, md.c.day, md.c.referral_invites, md.c.revenue_minor,
            func.max(md.c.day).over(partition_by=md.c.member_id).label("last_active"),
            func.min(case((md.c.purchases > 0, md.c.day)))
            .over(partition_by=md.c.member_id).label("first_purchase"))
            .where(md.c.day <= as_of).subquery("days"))
        d = days.c
        in_window = d.day >= start
        never_paid = or_(d.first_purchase.is_(None), d.day <= d.first_purchase)
        paying = and_(d.first_purchase.is_not(None), d.day >= d.first_purchase)
        settled = and_(d.day >= start, d.day <= settled_end, d.day > joined_day,
                       or_(d.last_active > settled_end, d.day < d.last_active))

        def count_if(condition):
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        def sum_if(condition, column):
            return func.coalesce(func.sum(case((condition, column), else_=0)), 0)

        statement = (
            select(members.c.id, members.c.tier_id, members.c.channel,
                   joined_day.label("joined_day"), func.max(d.last_active).label("last_active"),
                   func.max(d.first_purchase).label("first_purchase"),
                   count_if(in_window).label("active_days"),
                   count_if(and_(in_window, never_paid)).label("unpaid_active_days"),
                   sum_if(in_window, d.referral_invites).label("invites"),
                   count_if(and_(in_window, paying)).label("paying_active_days"),
                   sum_if(and_(in_window, paying), d.revenue_minor).label("revenue_minor"),
                   count_if(settled).label("settled_active_days"))
            .select_from(members.outerjoin(days, d.member_id == members.c.id))
            .where(members.c.merged_into_id.is_(None), joined_day <= as_of)
            .group_by(members.c.id, members.c.tier_id, members.c.channel, joined_day)
            .order_by(members.c.id))
        rows = (await self.conn.execute(statement)).all()
        return MemberSummaries.of_rows(rows)
