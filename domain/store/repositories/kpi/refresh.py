"""The KPI refresh: the entry point (event side, then member side), the full rebuild,
the recompute of changed members from member_days (`_incremental`) and the move of the
trailing windows to the latest day. New events applied as increments (the usual
path) are in increments.py; the member side in member_side.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, and_, case, cast, delete, func, literal, select, union, update

from domain.kpi.inputs import months_between
from domain.kpi.records import RefreshResult
from domain.store.days import as_date
from domain.store.repositories.activity import days_named, utc_day
from domain.store.repositories.kpi.base import (
    _CHUNK,
    _PURCHASE_DAY,
    _TRAILING,
    _TRAILING_SPAN,
    FULL_REBUILD_DAYS,
    KpiBase,
    _sum,
    md,
    months_t,
    summary,
)
from domain.store.tables import (
    events,
    kpi_activity_days,
    kpi_cohort_months,
    kpi_dirty_days,
    kpi_dirty_members,
    kpi_member_state,
    kpi_member_trailing,
    kpi_state,
    kpi_touched_members,
    kpi_trailing_counts,
)


class RefreshMixin(KpiBase):
    """`refresh` and the rebuild / recompute paths of the event side."""

    # --- refresh --------------------------------------------------------------------

    async def refresh(self, *, now: datetime, full: bool = False) -> RefreshResult:
        """Bring every KPI rollup up to date: the event side (`_refresh_events`), then the
        member side (join days, tiers and join days copied into the per-member rows) for
        members added, re-tiered or marked dirty (merges) since the member watermarks."""
        seen = await self.member_marks()
        tops = await self.member_tops()
        dirty_ids = [i for (i,) in await self.conn.execute(select(kpi_dirty_members.c.member_id))]
        result = await self._refresh_events(now=now, full=full)
        if result.full or seen is None:
            await self._rebuild_members()
        else:
            await self._members_changed(seen, tops, dirty_ids)
        values = dict(members_watermark=tops.members, assignments_watermark=tops.assignments,
                      refreshed_at=now)
        statement = self._insert(kpi_member_state).values(id=1, **values)
        await self.conn.execute(statement.on_conflict_do_update(index_elements=["id"],
                                                                set_=values))
        return result

    async def _refresh_events(self, *, now: datetime, full: bool) -> RefreshResult:
        state = await self.state()
        top = await self.max_event_id()
        if state is None or full:
            return await self._rebuild(top, now)
        days = {as_date(d) for (d,) in await self.conn.execute(
            select(utc_day(self.conn.dialect.name)).distinct()
            .where(events.c.id > state.events_watermark, events.c.id <= top))}
        if len(days) > FULL_REBUILD_DAYS:  # a back-fill: most members move
            return await self._rebuild(top, now)
        dirty_days = {as_date(d) for (d,) in await self.conn.execute(
            select(kpi_dirty_days.c.day))}
        days |= dirty_days
        dirty_members = (await self.conn.execute(
            select(func.count()).select_from(kpi_dirty_members))).scalar_one()
        touched = 0
        anchor = state.latest_day
        if dirty_days or dirty_members:
            touched = await self._incremental(sorted(days), new_events=(
                events.c.id > state.events_watermark, events.c.id <= top))
            anchor = None  # rebuild the trailing counts
        elif days:
            touched = await self._apply_new_events(state.events_watermark, top, sorted(days),
                                                   anchor=state.latest_day)
        latest = await self._finish(top, now, anchor=anchor)
        return RefreshResult(full=False, days=len(days), members=touched,
                             events_watermark=top, latest_day=latest)

    async def _finish(self, top: int, now: datetime, *, anchor: date | None = None
                      ) -> date | None:
        """Clear the dirty marks, bring the trailing counts from `anchor` (None: rebuild
        them) to the latest day, and store the state."""
        await self.conn.execute(delete(kpi_dirty_days))
        await self.conn.execute(delete(kpi_dirty_members))
        latest = as_date((await self.conn.execute(
            select(func.max(kpi_activity_days.c.day)))).scalar())
        await self._trailing_to(anchor, latest)
        values = dict(events_watermark=top, latest_day=latest, refreshed_at=now)
        statement = self._insert(kpi_state).values(id=1, **values)
        await self.conn.execute(statement.on_conflict_do_update(index_elements=["id"],
                                                                set_=values))
        return latest

    def _day_totals(self, where):
        return (select(md.c.day, func.count(), _sum(case((_PURCHASE_DAY, 1), else_=0)),
                       cast(_sum(md.c.revenue_minor), BigInteger), _sum(md.c.events),
                       _sum(md.c.logins), _sum(md.c.posts), _sum(md.c.comments),
                       _sum(md.c.shares), _sum(md.c.check_ins))
                .where(where).group_by(md.c.day))

    _DAY_COLUMNS = ["day", "active", "purchasers", "revenue_minor", "events", "logins", "posts",
                    "comments", "shares", "check_ins"]

    def _summaries(self, where):
        purchase_day = case((_PURCHASE_DAY, md.c.day))
        return (select(md.c.member_id, func.min(md.c.day), func.max(md.c.day), func.count(),
                       func.min(purchase_day), func.max(purchase_day),
                       _sum(case((_PURCHASE_DAY, 1), else_=0)),
                       cast(_sum(case((_PURCHASE_DAY, md.c.revenue_minor), else_=0)),
                            BigInteger),
                       literal(0, BigInteger))
                .where(where).group_by(md.c.member_id))

    _SUMMARY_COLUMNS = ["member_id", "first_active", "last_active", "active_days",
                        "first_purchase", "last_purchase", "purchase_days", "revenue_minor",
                        "first_purchase_revenue_minor"]

    def _member_months(self, where):
        month = self._month(md.c.day)
        return (select(md.c.member_id, month, func.count(),
                       _sum(case((_PURCHASE_DAY, 1), else_=0)),
                       cast(_sum(md.c.revenue_minor), BigInteger))
                .where(where).group_by(md.c.member_id, month).order_by(month, md.c.member_id))

    _MONTH_COLUMNS = ["member_id", "month", "active_days", "purchase_days", "revenue_minor"]

    def _contributions(self, where, basis: str):
        """Cohort x month counts (and revenue) of the member-month rows matching `where`."""
        if basis == "activity":
            cohort, condition = self._month(summary.c.first_active), literal(True)
        else:
            cohort, condition = self._month(summary.c.first_purchase), months_t.c.purchase_days > 0
        return (select(literal(basis).label("basis"), cohort.label("cohort"),
                       months_t.c.month, func.count().label("members"),
                       cast(_sum(months_t.c.revenue_minor), BigInteger).label("revenue_minor"))
                .select_from(months_t.join(summary, summary.c.member_id == months_t.c.member_id))
                .where(where, condition).group_by(cohort, months_t.c.month))

    async def _fill_first_purchase_revenue(self, where) -> None:
        revenue = (select(md.c.revenue_minor)
                   .where(md.c.member_id == summary.c.member_id,
                          md.c.day == summary.c.first_purchase).scalar_subquery())
        await self.conn.execute(update(summary)
                                .where(summary.c.first_purchase.is_not(None), where)
                                .values(first_purchase_revenue_minor=revenue))

    async def _rebuild(self, top: int, now: datetime) -> RefreshResult:
        for table in (kpi_cohort_months, months_t, summary, kpi_activity_days):
            await self.conn.execute(delete(table))
        everything = literal(True)
        await self.conn.execute(kpi_activity_days.insert().from_select(
            self._DAY_COLUMNS, self._day_totals(everything)))
        await self.conn.execute(summary.insert().from_select(
            self._SUMMARY_COLUMNS, self._summaries(everything)))
        await self._fill_first_purchase_revenue(everything)
        await self.conn.execute(months_t.insert().from_select(
            self._MONTH_COLUMNS, self._member_months(everything)))
        for basis in ("activity", "purchase"):
            await self.conn.execute(kpi_cohort_months.insert().from_select(
                ["basis", "cohort", "month", "members", "revenue_minor"],
                self._contributions(everything, basis)))
        days = (await self.conn.execute(
            select(func.count()).select_from(kpi_activity_days))).scalar_one()
        touched = (await self.conn.execute(select(func.count()).select_from(summary))).scalar_one()
        latest = await self._finish(top, now)
        return RefreshResult(full=True, days=days, members=touched, events_watermark=top,
                             latest_day=latest)

    async def _incremental(self, days: list[date], *, new_events: tuple = ()) -> int:
        """Recompute the day totals of `days` and, from member_days, the per-member rows
        and cohort cells of the members whose member_days rows changed: those marked
        dirty (merges, undo: every caller marks the members whose rows it changed) and
        those with events matching `new_events`. Members merely active on those days
        keep their rows: a merge of a member active on 300 days recomputes two members
        and 300 days' totals, not everyone active then. Returns the members recomputed."""
        await self.conn.execute(delete(kpi_touched_members))
        for start in range(0, len(days), _CHUNK):
            chunk = days[start:start + _CHUNK]
            await self.conn.execute(delete(kpi_activity_days)
                                    .where(kpi_activity_days.c.day.in_(chunk)))
            await self.conn.execute(kpi_activity_days.insert().from_select(
                self._DAY_COLUMNS, self._day_totals(md.c.day.in_(chunk))))
        sources = [select(kpi_dirty_members.c.member_id)]
        if new_events:
            sources.append(select(events.c.member_id).where(*new_events))
        await self.conn.execute(kpi_touched_members.insert().from_select(
            ["member_id"], union(*sources) if len(sources) > 1 else sources[0]))
        touched = select(kpi_touched_members.c.member_id)
        before = await self._read_contributions(await self._months_of(touched))
        await self.conn.execute(delete(months_t).where(await self._months_of(touched)))
        await self.conn.execute(delete(summary).where(summary.c.member_id.in_(touched)))
        # Their rows of each day on SQLite (day-first key; see rollup_days).
        theirs = and_(md.c.member_id.in_(touched),
                      *days_named(self.conn.dialect.name, md.c.day))
        await self.conn.execute(summary.insert().from_select(
            self._SUMMARY_COLUMNS, self._summaries(theirs)))
        await self._fill_first_purchase_revenue(summary.c.member_id.in_(touched))
        await self._fill_joined_on(summary.c.member_id.in_(touched))
        await self.conn.execute(months_t.insert().from_select(
            self._MONTH_COLUMNS, self._member_months(theirs)))
        after = await self._read_contributions(await self._months_of(touched))
        changes = []
        for key in set(before) | set(after):
            old, new = before.get(key, (0, 0)), after.get(key, (0, 0))
            if old != new:
                changes.append(dict(basis=key[0], cohort=key[1], month=key[2],
                                    members=new[0] - old[0], revenue_minor=new[1] - old[1]))
        if changes:
            statement = self._insert(kpi_cohort_months)
            statement = statement.on_conflict_do_update(
                index_elements=["basis", "cohort", "month"],
                set_={c: kpi_cohort_months.c[c] + statement.excluded[c]
                      for c in ("members", "revenue_minor")})
            await self.conn.execute(statement, changes)
            await self.conn.execute(delete(kpi_cohort_months).where(
                kpi_cohort_months.c.members == 0))
        count = (await self.conn.execute(
            select(func.count()).select_from(kpi_touched_members))).scalar_one()
        await self.conn.execute(delete(kpi_touched_members))
        return count

    async def _months_of(self, member_ids):
        """A condition on kpi_member_months selecting the rows of the members `member_ids`
        (a select) by its (month, member_id) key: each month now stored, with them."""
        first, last = (await self.conn.execute(
            select(func.min(months_t.c.month), func.max(months_t.c.month)))).one()
        months = [] if first is None else months_between(as_date(first), as_date(last))
        return and_(months_t.c.month.in_(months), months_t.c.member_id.in_(member_ids))

    async def _trailing_to(self, anchor: date | None, latest: date | None) -> None:
        """Move the per-member trailing counts from windows ending on `anchor` to windows
        ending on `latest`: each window gains the member-days entering it and loses those
        leaving it (a few days' rows); rebuilt from member_days when there is no anchor,
        the latest day went back, or it moved a whole span."""
        t = kpi_member_trailing
        if latest is None:
            await self.conn.execute(delete(t))
            await self.conn.execute(delete(kpi_trailing_counts))
            return
        if anchor == latest:
            return
        if anchor is None or latest < anchor or (latest - anchor).days >= _TRAILING_SPAN:
            await self.conn.execute(delete(t))
            await self.conn.execute(t.insert().from_select(["member_id", *_TRAILING], select(
                md.c.member_id, *(_sum(case((and_(md.c.day >= latest - timedelta(days=lo),
                                                  md.c.day <= latest - timedelta(days=hi)), 1),
                                            else_=0)) for lo, hi in _TRAILING.values()))
                .where(md.c.day >= latest - timedelta(days=_TRAILING_SPAN - 1),
                       md.c.day <= latest).group_by(md.c.member_id)))
            await self._rebuild_trailing_counts()
            return
        changes, days = [], set()
        for lo, hi in _TRAILING.values():
            old = (anchor - timedelta(days=lo), anchor - timedelta(days=hi))
            new = (latest - timedelta(days=lo), latest - timedelta(days=hi))
            leaving = (old[0], min(old[1], new[0] - timedelta(days=1)))
            entering = (max(new[0], old[1] + timedelta(days=1)), new[1])
            for first, last in (leaving, entering):
                days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
            changes.append(
                _sum(case((and_(md.c.day >= entering[0], md.c.day <= entering[1]), 1),
                          else_=0))
                - _sum(case((and_(md.c.day >= leaving[0], md.c.day <= leaving[1]), 1),
                            else_=0)))
        edge = md.c.day.in_(sorted(days))

        async def move_edges():
            await self._upsert_adding(t, ["member_id"], select(
                md.c.member_id, *changes, self._tier_of(md.c.member_id))
                .where(edge).group_by(md.c.member_id), ["member_id", *_TRAILING, "tier_id"],
                kept=["tier_id"])
            await self.conn.execute(delete(t).where(t.c.d1 == 0, t.c.d7 == 0, t.c.d30 == 0,
                                                    t.c.prior30 == 0))

        await self._moving_trailing(select(md.c.member_id).where(edge).distinct(), move_edges)

    async def _read_contributions(self, where) -> dict[tuple[str, date, date], tuple[int, int]]:
        out = {}
        for basis in ("activity", "purchase"):
            for b, cohort, month, n, revenue in await self.conn.execute(
                    self._contributions(where, basis)):
                out[(b, as_date(cohort), as_date(month))] = (n, int(revenue))
        return out
