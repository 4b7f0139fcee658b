"""Per-member transaction histories for the customer-base models, from the `member_days`
rollup (never from raw events): one GROUP BY, one row per member."""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
from sqlalchemy import BigInteger, Date, Integer, and_, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.models import histories
from domain.store.tables import member_days

Basis = Literal["purchases", "activity"]
_TRANSACTION_DAY = {
    "purchases": member_days.c.purchases > 0,  # a day with at least one purchase
    "activity": member_days.c.events > 0,      # a day with any event
}


class HistoryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _days_between(self, later, earlier):
        if self.conn.dialect.name == "postgresql":
            return later - earlier  # date - date is an integer number of days
        return cast(func.julianday(later) - func.julianday(earlier), Integer)

    async def as_of(self, as_of: date, *, basis: Basis = "purchases") -> histories.Histories:
        """Every member with a transaction day on or before `as_of` (UTC), ordered by
        member id: frequency (transaction days - 1), recency and age in weeks from the
        first transaction day, and the mean revenue of the repeat days (minor units).

        A transaction day is a rollup day with purchases > 0 (`basis="purchases"`), or
        with any event (`basis="activity"`, for communities without purchases; its
        monetary is the revenue of the repeat active days per repeat day)."""
        day = member_days.c.day
        per_member = (
            select(member_days.c.member_id, func.min(day).label("first"),
                   func.max(day).label("last"), func.count().label("days"),
                   cast(func.sum(member_days.c.revenue_minor), BigInteger).label("revenue"))
            .where(_TRANSACTION_DAY[basis], day <= as_of)
            .group_by(member_days.c.member_id)
            .subquery()
        )
        first_day = member_days.alias("first_day")
        as_of_day = literal(as_of, Date)
        statement = (
            select(per_member.c.member_id, per_member.c.days,
                   self._days_between(per_member.c.last, per_member.c.first),
                   self._days_between(as_of_day, per_member.c.first),
                   per_member.c.revenue - first_day.c.revenue_minor)
            .join(first_day, and_(first_day.c.member_id == per_member.c.member_id,
                                  first_day.c.day == per_member.c.first))
            .order_by(per_member.c.member_id)
        )
        rows = (await self.conn.execute(statement)).all()
        columns = np.array(rows, dtype=np.int64).reshape(len(rows), 5)
        return histories.from_days(member_ids=columns[:, 0], transaction_days=columns[:, 1],
                                   first_to_last_days=columns[:, 2],
                                   first_to_as_of_days=columns[:, 3],
                                   repeat_revenue=columns[:, 4])
