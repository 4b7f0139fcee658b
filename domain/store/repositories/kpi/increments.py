"""The KPI refresh's usual path: events added since the watermark applied to the rollups
as increments, in set-based SQL over the scratch tables (kpi_new_cells,
kpi_new_members, kpi_new_months; see base.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import BigInteger, Integer, and_, case, delete, func, literal, select, text
from sqlalchemy.schema import CreateTable

from domain.kpi.inputs import month_start
from domain.store.repositories.activity import _aggregate
from domain.store.repositories.kpi.base import (
    _CELL_ADDITIVE,
    _CHUNK,
    _COUNT_KEYS,
    _DAY_COLUMNS_ADDED,
    _TRAILING,
    KpiBase,
    _sum,
    md,
    months_t,
    new_cells,
    new_members,
    new_months,
    summary,
)
from domain.store.tables import (
    events,
    kpi_activity_days,
    kpi_cohort_months,
    kpi_member_trailing,
    kpi_trailing_counts,
    members,
)


class IncrementsMixin(KpiBase):
    """New events as increments (`_apply_new_events`)."""

    async def _apply_new_events(self, watermark: int, top: int, days: list[date], *,
                                anchor: date | None) -> int:
        """Add the events with id in (watermark, top] to the rollups as increments, in
        set-based SQL over the changed member-day cells (no row comes to Python).

        Nothing but those events changed member_days since the last refresh (no dirty
        marks), so each changed cell's increment is the events' own aggregate and its
        state before is its state now minus the increment: a cell is new when all its
        events are new, a purchase day is new when all its purchases are. The changed
        members' and member-months' increments and rows before are read once into
        scratch tables (kpi_new_members, kpi_new_months); day totals, member months,
        cohort cells, summaries and trailing rows move by exact differences. Members
        whose activity or purchase cohort moves to an earlier month (a back-dated event)
        are recomputed from member_days instead (`_incremental`). `days`: the UTC days of
        the new events."""
        for table in (new_cells, new_members, new_months):
            await self.conn.execute(CreateTable(table, if_not_exists=True))
            await self.conn.execute(delete(table))
        if self._pg:  # hash tables of ~200,000 cells and members stay in memory
            await self.conn.execute(text("SET LOCAL work_mem = '64MB'"))
            await self.conn.execute(text("SET LOCAL jit = off"))
        await self._fill_new_cells(watermark, top, days)
        await self._analyze(new_cells)
        c = new_cells.c
        await self._upsert_adding(kpi_activity_days, ["day"], select(
            c.day, _sum(c.new_cell), _sum(c.new_purchase),
            *(_sum(c[col]) for col in _DAY_COLUMNS_ADDED)).group_by(c.day),
            ["day", "active", "purchasers", *_DAY_COLUMNS_ADDED])
        await self._fill_new_members(anchor)
        await self._analyze(new_members)
        touched = (await self.conn.execute(
            select(func.count()).select_from(new_members))).scalar_one()
        if not touched:
            return 0
        if anchor is not None:  # moved members' new cells count in the trailing windows
            await self._add_to_trailing()
        moved = await self._moved_members()
        for start in range(0, len(moved), _CHUNK):
            await self.conn.execute(delete(new_members).where(
                new_members.c.member_id.in_(moved[start:start + _CHUNK])))
        await self._fill_new_months(sorted({month_start(day) for day in days}))
        await self._add_to_cohorts()
        n = new_months.c
        await self._upsert_adding(months_t, ["member_id", "month"], select(
            n.member_id, n.month, n.active_days, n.purchase_days, n.revenue_minor),
            self._MONTH_COLUMNS)
        await self._add_to_summaries()
        for table in (new_cells, new_members, new_months):
            await self.conn.execute(delete(table))
        if moved:
            await self.mark_dirty(member_ids=moved)
            await self._incremental([])
        return touched

    async def _analyze(self, table) -> None:
        """Statistics of a scratch table just filled (PostgreSQL plans its joins from them:
        without, it guesses 200 rows and probes the per-member tables row by row)."""
        if self._pg:
            await self.conn.execute(text(f"ANALYZE {table.name}"))

    async def _fill_new_cells(self, watermark: int, top: int, days: list[date]) -> None:
        """kpi_new_cells: the member-day cells of the events with id in (watermark, top],
        on `days`, with their increments and state now (member_days read by its day-first
        key for those days only)."""
        delta = _aggregate(self.conn.dialect.name,
                           and_(events.c.id > watermark, events.c.id <= top)).subquery()
        await self.conn.execute(new_cells.insert().from_select(
            ["member_id", "day", "month", "new_cell", "new_purchase", "bought",
             "revenue_now", *_CELL_ADDITIVE],
            select(delta.c.member_id, md.c.day, self._month(md.c.day),
                   case((md.c.events == delta.c.events, 1), else_=0),
                   case((and_(md.c.purchases > 0, md.c.purchases == delta.c.purchases), 1),
                        else_=0),
                   case((md.c.purchases > 0, 1), else_=0), md.c.revenue_minor,
                   *(delta.c[col] for col in _CELL_ADDITIVE))
            .join(md, and_(md.c.member_id == delta.c.member_id, md.c.day == delta.c.day,
                           md.c.day.in_(days)))))

    async def _fill_new_members(self, anchor: date | None) -> None:
        """kpi_new_members from the new cells (one grouped pass in member order), the
        summary and trailing rows before, and the tier of members without a trailing row
        (trailing columns 0 / NULL without an anchor)."""
        c, s, t = new_cells.c, summary.c, kpi_member_trailing.c
        purchase_day = case((c.bought == 1, c.day))

        def in_window(lo: int, hi: int):
            if anchor is None:
                return literal(0)
            return _sum(case((and_(c.new_cell == 1, c.day >= anchor - timedelta(days=lo),
                                   c.day <= anchor - timedelta(days=hi)), 1), else_=0))

        per_member = (select(
            c.member_id, func.min(c.day).label("first_active"),
            func.max(c.day).label("last_active"), _sum(c.new_cell).label("active_days"),
            func.min(purchase_day).label("first_purchase"),
            func.max(purchase_day).label("last_purchase"),
            _sum(c.new_purchase).label("purchase_days"),
            _sum(case((c.new_purchase == 1, c.revenue_now),
                      (c.bought == 1, c.revenue_minor), else_=0)).label("revenue_minor"),
            *(in_window(lo, hi).label(name) for name, (lo, hi) in _TRAILING.items()))
            .group_by(c.member_id).subquery())
        m = per_member.c
        first_revenue = (select(c.revenue_now).where(c.member_id == m.member_id,
                                                     c.day == m.first_purchase)
                         .scalar_subquery())
        trailing = [t[name] for name in _TRAILING]
        tier = (case((t.member_id.is_(None), self._tier_of(m.member_id)), else_=t.tier_id)
                if anchor is not None else literal(None, BigInteger))
        if anchor is None:
            trailing = [literal(None, Integer)] * len(_TRAILING)
        await self.conn.execute(new_members.insert().from_select(
            [*(col.name for col in m), "first_purchase_revenue_minor", "first_active_before",
             "first_purchase_before", *(f"{name}_before" for name in _TRAILING), "tier_id"],
            select(*m, case((m.first_purchase.is_not(None), first_revenue)), s.first_active,
                   s.first_purchase, *trailing, tier)
            .select_from(per_member.outerjoin(summary, s.member_id == m.member_id)
                         .outerjoin(kpi_member_trailing, t.member_id == m.member_id))))

    async def _moved_members(self) -> list[int]:
        """Changed members whose activity or purchase cohort moves to an earlier month."""
        n = new_members.c
        # an earlier month is an earlier day: the day comparison first skips the month
        # expressions for nearly every member (new events are mostly on the latest days)
        return [i for (i,) in await self.conn.execute(select(n.member_id).where(
            and_(n.first_active < n.first_active_before,
                 self._month(n.first_active) < self._month(n.first_active_before))
            | and_(n.first_purchase < n.first_purchase_before,
                   self._month(n.first_purchase) < self._month(n.first_purchase_before))))]

    async def _fill_new_months(self, months: list[date]) -> None:
        """kpi_new_months from the new cells of the members left in kpi_new_members, the
        member-month rows before (read by the month-first key: the new cells' `months`)
        and the members' cohorts."""
        c, n, mt = new_cells.c, new_members.c, months_t.c
        per_month = (select(c.member_id, c.month, _sum(c.new_cell).label("d_active"),
                            _sum(c.new_purchase).label("d_purchase"),
                            _sum(c.revenue_minor).label("d_revenue"))
                     .group_by(c.member_id, c.month).subquery())
        pm = per_month.c
        await self.conn.execute(new_months.insert().from_select(
            [col.name for col in new_months.c],
            select(pm.member_id, pm.month, pm.d_active, pm.d_purchase, pm.d_revenue,
                   case((mt.member_id.is_(None), 0), else_=1),
                   func.coalesce(mt.purchase_days, 0), func.coalesce(mt.revenue_minor, 0),
                   self._month(func.coalesce(n.first_active_before, n.first_active)),
                   self._month(func.coalesce(n.first_purchase_before, n.first_purchase)))
            .select_from(per_month.join(new_members, n.member_id == pm.member_id)
                         .outerjoin(months_t, and_(mt.member_id == pm.member_id,
                                                   mt.month == pm.month,
                                                   mt.month.in_(months))))))

    async def _add_to_cohorts(self) -> None:
        """Move the cohort cells by the changed member-months: a member counts in a month
        from its first active (purchase) day in it, with all its (purchase-day) revenue."""
        n = new_months.c
        columns = ["basis", "cohort", "month", "members", "revenue_minor"]
        await self._upsert_adding(kpi_cohort_months, ["basis", "cohort", "month"], select(
            literal("activity"), n.cohort, n.month,
            _sum(case((n.had_row == 0, 1), else_=0)), _sum(n.revenue_minor))
            .group_by(n.cohort, n.month), columns)
        await self._upsert_adding(kpi_cohort_months, ["basis", "cohort", "month"], select(
            literal("purchase"), n.buyer_cohort, n.month,
            _sum(case((and_(n.purchase_days_before == 0, n.purchase_days > 0), 1), else_=0)),
            _sum(case((n.purchase_days_before > 0, n.revenue_minor),
                      (n.purchase_days > 0, n.revenue_before + n.revenue_minor), else_=0)))
            .where(n.buyer_cohort.is_not(None)).group_by(n.buyer_cohort, n.month), columns)
        await self.conn.execute(delete(kpi_cohort_months).where(
            kpi_cohort_months.c.members == 0))

    async def _add_to_summaries(self) -> None:
        """Add the changed members' increments to their summaries: new rows for members
        without one (with their join day); the activity columns of every other row; the
        purchase columns (and the first purchase's revenue when the first purchase day is
        a new cell) only of rows with a new purchase day, so the buyers' index moves only
        for those. Two upserts, each row written once: the rows without a new purchase
        day, then the others."""
        n, s_ = new_members.c, summary.c
        least, greatest = (func.least, func.greatest) if self._pg else (func.min, func.max)
        had_row, bought = n.first_active_before.is_not(None), n.first_purchase.is_not(None)
        joined_on = (select(self._joined_day())
                     .where(members.c.id == n.member_id, members.c.status == "active")
                     .scalar_subquery())
        for rows, with_purchases in ((~had_row | ~bought, False), (had_row & bought, True)):
            statement = self._insert(summary)
            ex = statement.excluded
            values = dict(first_active=least(s_.first_active, ex.first_active),
                          last_active=greatest(s_.last_active, ex.last_active),
                          active_days=s_.active_days + ex.active_days)
            if with_purchases:
                first_is_new = s_.first_purchase.is_(None) | (ex.first_purchase
                                                               <= s_.first_purchase)
                values.update(
                    first_purchase=least(func.coalesce(s_.first_purchase, ex.first_purchase),
                                         ex.first_purchase),
                    last_purchase=greatest(func.coalesce(s_.last_purchase, ex.last_purchase),
                                           ex.last_purchase),
                    purchase_days=s_.purchase_days + ex.purchase_days,
                    revenue_minor=s_.revenue_minor + ex.revenue_minor,
                    first_purchase_revenue_minor=case(
                        (first_is_new, ex.first_purchase_revenue_minor),
                        else_=s_.first_purchase_revenue_minor))
            await self.conn.execute(statement.from_select(
                [*self._SUMMARY_COLUMNS, "joined_on"], select(
                    n.member_id, n.first_active, n.last_active, n.active_days,
                    n.first_purchase, n.last_purchase, n.purchase_days, n.revenue_minor,
                    func.coalesce(n.first_purchase_revenue_minor, 0),
                    case((~had_row, joined_on))).where(rows))
                .on_conflict_do_update(index_elements=["member_id"], set_=values))
        # rows still without a join day (members merged away: NULL again)
        await self._fill_joined_on(summary.c.joined_on.is_(None))

    async def _add_to_trailing(self) -> None:
        """Add the changed members' new cells inside the trailing windows (kpi_new_members)
        to their trailing rows, and move kpi_trailing_counts by the difference: one grouped
        pass reads each one's key before (its row) and after (its row plus the
        increments)."""
        n = new_members.c
        changed = (n.d30 > 0) | (n.prior30 > 0)  # a new cell in the span is in one of them

        def flag(count):
            return case((count > 0, 1), else_=0)

        before = [n[f"{name}_before"] for name in _TRAILING]
        after = [func.coalesce(b, 0) + n[name] for b, name in zip(before, _TRAILING,
                                                                  strict=True)]
        d1, d7, d30, prior30 = before
        a1, a7, a30, aprior = after
        key = (func.coalesce(n.tier_id, literal(0)), d30, flag(d7), flag(d1), flag(prior30),
               a30, flag(a7), flag(a1), flag(aprior))
        delta: dict[tuple, int] = defaultdict(int)
        for tier_id, d30_, week, day, prior, *after_key, count in await self.conn.execute(
                select(*key, func.count()).where(changed).group_by(*key)):
            if d30_ is not None:  # the member had a row: its contribution before
                delta[(tier_id, d30_, week, day, prior)] -= count
            delta[(tier_id, *after_key)] += count
        await self._upsert_adding(kpi_member_trailing, ["member_id"], select(
            n.member_id, *(n[name] for name in _TRAILING), n.tier_id).where(changed),
            ["member_id", *_TRAILING, "tier_id"], kept=["tier_id"])
        changes = [dict(zip(_COUNT_KEYS, k, strict=True), members=count)
                   for k, count in delta.items() if count]
        if changes:
            statement = self._insert(kpi_trailing_counts)
            await self.conn.execute(statement.on_conflict_do_update(
                index_elements=_COUNT_KEYS,
                set_={"members": kpi_trailing_counts.c.members + statement.excluded.members}),
                changes)
            await self.conn.execute(delete(kpi_trailing_counts).where(
                kpi_trailing_counts.c.members == 0))
