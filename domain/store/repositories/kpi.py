"""KPI rollups and the funding report's inputs: SQL over `member_days` and the rollups,
never over raw events (except the events-id watermark scan, a primary-key range).

The rollups (see tables.py, `# --- kpi ---`) are kept by `refresh`: it finds the days
whose member_days rows changed (days of events added since the watermark, plus days and
members marked dirty), recomputes those days' totals, recomputes the per-member summary
and month rows of the members active on them, and moves the cohort x month counts by the
difference of those members' contributions before and after.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    true,
    type_coerce,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateTable

from domain.kpi.inputs import (
    NO_TIER,
    TRAILING_DAYS,
    WEEK_DAYS,
    WINDOW_DAYS,
    CohortMatrix,
    FundingInputs,
    month_start,
    months_between,
    next_month,
)
from domain.kpi.records import ModelFits, RefreshResult, StoredTarget
from domain.models import histories as model_histories
from domain.models.bgnbd import BgNbdFit, BgNbdParams
from domain.models.gamma_gamma import GammaGammaFit, GammaGammaParams
from domain.referrals import RewardStatus
from domain.store.repositories.activity import _aggregate, utc_day
from domain.store.tables import (
    Id,
    acquisition_spend,
    campaign_experiments,
    campaigns,
    events,
    kpi_activity_days,
    kpi_cohort_months,
    kpi_dirty_days,
    kpi_dirty_members,
    kpi_joined_days,
    kpi_member_months,
    kpi_member_state,
    kpi_member_summary,
    kpi_member_trailing,
    kpi_model_fits,
    kpi_state,
    kpi_targets,
    kpi_touched_members,
    kpi_trailing_counts,
    member_days,
    member_merges,
    members,
    referral_rewards,
    tier_assignments,
    tiers,
)

# member_days columns added up into the day totals, in kpi_activity_days order after
# active and purchasers, and the increments a refresh keeps per changed cell
_DAY_COLUMNS_ADDED = ("revenue_minor", "events", "logins", "posts", "comments", "shares",
                      "check_ins")
_CELL_ADDITIVE = (*_DAY_COLUMNS_ADDED, "purchases")
# The changed member-day cells of one incremental refresh: a temporary table (per
# connection, never in the schema), filled and emptied inside the refresh.
new_cells = Table(
    "kpi_new_cells", MetaData(),
    Column("member_id", BigInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("month", Date, nullable=False),
    Column("new_cell", Integer, nullable=False),  # 1: the cell did not exist before
    Column("new_purchase", Integer, nullable=False),  # 1: first purchase of the day
    Column("bought", Integer, nullable=False),  # 1: a purchase day now
    Column("revenue_now", BigInteger, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in _CELL_ADDITIVE),
    prefixes=["TEMPORARY"],
)
# The members whose kpi_member_trailing rows one step changes (kpi_trailing_counts moves
# by their contributions before and after): a temporary table like kpi_new_cells.
moving = Table(
    "kpi_trailing_moving", MetaData(),
    Column("member_id", BigInteger, primary_key=True),
    prefixes=["TEMPORARY"],
)
_COUNT_KEYS = ["tier_id", "d30", "in_week", "on_day", "prior"]
FITS_KEPT = 20  # model fits kept in kpi_model_fits (the latest)
# The trailing windows kept per member, as (first, last) days before the anchor day.
_TRAILING = {"d1": (0, 0), "d7": (WEEK_DAYS - 1, 0), "d30": (WINDOW_DAYS - 1, 0),
             "prior30": (2 * WINDOW_DAYS - 1, WINDOW_DAYS)}
_TRAILING_SPAN = 2 * WINDOW_DAYS
# The changed members of one incremental refresh, read once: the aggregate of their new
# cells (kpi_new_cells), their kpi_member_summary and kpi_member_trailing values before
# (NULL: no row) and the tier they are counted under; a temporary table like kpi_new_cells.
new_members = Table(
    "kpi_new_members", MetaData(),
    Column("member_id", Id, primary_key=True),
    Column("first_active", Date, nullable=False),
    Column("last_active", Date, nullable=False),
    Column("active_days", Integer, nullable=False),  # new cells
    Column("first_purchase", Date),  # of the new cells now purchase days
    Column("last_purchase", Date),
    Column("purchase_days", Integer, nullable=False),  # new purchase days
    Column("revenue_minor", BigInteger, nullable=False),  # added purchase-day revenue
    Column("first_purchase_revenue_minor", BigInteger),  # revenue of first_purchase's cell
    Column("first_active_before", Date),
    Column("first_purchase_before", Date),
    # new cells inside the trailing windows ending on the anchor day, and the row before
    *(Column(name, Integer, nullable=False) for name in _TRAILING),
    *(Column(f"{name}_before", Integer) for name in _TRAILING),
    Column("tier_id", BigInteger),
    prefixes=["TEMPORARY"],
)
# The changed (member, month) cells of one incremental refresh: the increments, the
# kpi_member_months row before (had_row 0: none) and the member's cohort months.
new_months = Table(
    "kpi_new_months", MetaData(),
    Column("member_id", Id, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("active_days", Integer, nullable=False),
    Column("purchase_days", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("had_row", Integer, nullable=False),
    Column("purchase_days_before", Integer, nullable=False),
    Column("revenue_before", BigInteger, nullable=False),
    Column("cohort", Date, nullable=False),
    Column("buyer_cohort", Date),
    prefixes=["TEMPORARY"],
    sqlite_with_rowid=False,
)
FULL_REBUILD_DAYS = 62  # more days than this with new events (or join days): rebuild instead
_CHUNK = 500
md = member_days
summary = kpi_member_summary
months_t = kpi_member_months
# literal 0, not a bound parameter: SQLite then reads the partial purchase-day index alone
_PURCHASE_DAY = md.c.purchases > literal_column("0")


@dataclass(frozen=True, slots=True)
class KpiState:
    events_watermark: int
    latest_day: date | None
    refreshed_at: datetime


@dataclass(frozen=True, slots=True)
class MemberMarks:
    """The largest member id and tier-assignment id (the member-side watermarks)."""

    members: int
    assignments: int


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _sum(expr):
    return func.coalesce(func.sum(expr), literal(0))


@dataclass(frozen=True, slots=True)
class _Joined:
    """Member counts per (channel, tier id, join day)."""

    counts: dict[tuple[str, int | None, date], int]

    def by(self, part: int, *, since: date | None = None, until: date) -> dict:
        """Counts of members who joined in [since, until], by channel (part 0), tier id
        (1) or join month (2)."""
        out: dict = defaultdict(int)
        for key, n in self.counts.items():
            day = key[2]
            if day <= until and (since is None or day >= since):
                out[month_start(day) if part == 2 else key[part]] += n
        return {k: v for k, v in out.items() if v}


class KpiRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _pg(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def _month(self, column):
        """The first day of the column's calendar month, as a Date."""
        if self._pg:
            return cast(func.date_trunc("month", column), Date)
        return type_coerce(func.substr(column, 1, 7).concat("-01"), Date)

    def _insert(self, table):
        return (postgresql if self._pg else sqlite).insert(table)

    # --- state and dirty marks ------------------------------------------------------

    async def state(self) -> KpiState | None:
        row = (await self.conn.execute(select(kpi_state).where(kpi_state.c.id == 1))).first()
        if row is None:
            return None
        return KpiState(events_watermark=row.events_watermark,
                        latest_day=_as_date(row.latest_day), refreshed_at=row.refreshed_at)

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
        days = {_as_date(d) for (d,) in await self.conn.execute(
            select(utc_day(self.conn.dialect.name)).distinct()
            .where(events.c.id > state.events_watermark, events.c.id <= top))}
        if len(days) > FULL_REBUILD_DAYS:  # a back-fill: most members move
            return await self._rebuild(top, now)
        dirty_days = {_as_date(d) for (d,) in await self.conn.execute(
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
            touched = await self._apply_new_events(state.events_watermark, top,
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
        latest = _as_date((await self.conn.execute(
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
        await self.conn.execute(summary.insert().from_select(
            self._SUMMARY_COLUMNS, self._summaries(md.c.member_id.in_(touched))))
        await self._fill_first_purchase_revenue(summary.c.member_id.in_(touched))
        await self._fill_joined_on(summary.c.member_id.in_(touched))
        await self.conn.execute(months_t.insert().from_select(
            self._MONTH_COLUMNS, self._member_months(md.c.member_id.in_(touched))))
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
        months = [] if first is None else months_between(_as_date(first), _as_date(last))
        return and_(months_t.c.month.in_(months), months_t.c.member_id.in_(member_ids))

    async def _apply_new_events(self, watermark: int, top: int, *, anchor: date | None
                                ) -> int:
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
        are recomputed from member_days instead (`_incremental`)."""
        for table in (new_cells, new_members, new_months):
            await self.conn.execute(CreateTable(table, if_not_exists=True))
            await self.conn.execute(delete(table))
        await self._fill_new_cells(watermark, top)
        c = new_cells.c
        await self._upsert_adding(kpi_activity_days, ["day"], select(
            c.day, _sum(c.new_cell), _sum(c.new_purchase),
            *(_sum(c[col]) for col in _DAY_COLUMNS_ADDED)).group_by(c.day),
            ["day", "active", "purchasers", *_DAY_COLUMNS_ADDED])
        await self._fill_new_members(anchor)
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
        await self._fill_new_months()
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

    async def _fill_new_cells(self, watermark: int, top: int) -> None:
        """kpi_new_cells: the member-day cells of the events with id in (watermark, top],
        with their increments and state now."""
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
            .join(md, and_(md.c.member_id == delta.c.member_id, md.c.day == delta.c.day))))

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
        return [i for (i,) in await self.conn.execute(select(n.member_id).where(
            (self._month(n.first_active) < self._month(n.first_active_before))
            | (self._month(n.first_purchase) < self._month(n.first_purchase_before))))]

    async def _fill_new_months(self) -> None:
        """kpi_new_months from the new cells of the members left in kpi_new_members, the
        member-month rows before and the members' cohorts."""
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
                                                   mt.month == pm.month)))))

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
        without one; the activity columns of every other row; the purchase columns (and
        the first purchase's revenue when the first purchase day is a new cell) only of
        rows with a new purchase day, so the buyers' index moves only for those."""
        n, s_ = new_members.c, summary.c
        statement = self._insert(summary)
        ex = statement.excluded
        least, greatest = (func.least, func.greatest) if self._pg else (func.min, func.max)
        await self.conn.execute(statement.from_select(self._SUMMARY_COLUMNS, select(
            n.member_id, n.first_active, n.last_active, n.active_days, n.first_purchase,
            n.last_purchase, n.purchase_days, n.revenue_minor,
            func.coalesce(n.first_purchase_revenue_minor, 0)).where(true()))
            .on_conflict_do_update(index_elements=["member_id"], set_=dict(
                first_active=least(s_.first_active, ex.first_active),
                last_active=greatest(s_.last_active, ex.last_active),
                active_days=s_.active_days + ex.active_days)))
        first_is_new = (s_.first_purchase.is_(None)) | (n.first_purchase <= s_.first_purchase)
        await self.conn.execute(update(summary).where(
            s_.member_id == n.member_id, n.first_active_before.is_not(None),
            n.first_purchase.is_not(None)).values(
            first_purchase=least(func.coalesce(s_.first_purchase, n.first_purchase),
                                 n.first_purchase),
            last_purchase=greatest(func.coalesce(s_.last_purchase, n.last_purchase),
                                   n.last_purchase),
            purchase_days=s_.purchase_days + n.purchase_days,
            revenue_minor=s_.revenue_minor + n.revenue_minor,
            first_purchase_revenue_minor=case(
                (first_is_new, n.first_purchase_revenue_minor),
                else_=s_.first_purchase_revenue_minor)))
        await self._fill_joined_on(summary.c.joined_on.is_(None))  # new rows (partial index)

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

    async def _upsert_adding(self, table, keys: list[str], query, columns: list[str], *,
                             kept: tuple | list = ()) -> None:
        """INSERT the query's rows; on a key conflict add the other columns to the row's
        (but leave the `kept` ones as they are)."""
        # (a WHERE before ON CONFLICT: SQLite cannot parse `FROM t ON CONFLICT` otherwise)
        statement = self._insert(table).from_select(columns, query.where(true()))
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=keys, set_={col: table.c[col] + statement.excluded[col]
                                       for col in columns if col not in keys
                                       and col not in kept}))

    async def _read_contributions(self, where) -> dict[tuple[str, date, date], tuple[int, int]]:
        out = {}
        for basis in ("activity", "purchase"):
            for b, cohort, month, n, revenue in await self.conn.execute(
                    self._contributions(where, basis)):
                out[(b, _as_date(cohort), _as_date(month))] = (n, int(revenue))
        return out

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
            days |= {_as_date(d) for (d,) in await self.conn.execute(
                select(day).where(where).distinct())}
        if len(days) > FULL_REBUILD_DAYS:
            await self.conn.execute(delete(kpi_joined_days))
            await self._insert_joined(literal(True))
            return
        for first, last in _runs(sorted(days)):
            await self.conn.execute(delete(kpi_joined_days).where(
                kpi_joined_days.c.day >= first, kpi_joined_days.c.day <= last))
            await self._insert_joined(and_(members.c.joined_at >= _midnight(first),
                                           members.c.joined_at < _midnight(
                                               last + timedelta(days=1))))

    # --- inputs of the funding report -------------------------------------------------

    async def has_dirty(self) -> bool:
        for table in (kpi_dirty_days, kpi_dirty_members):
            if (await self.conn.execute(select(literal(1)).select_from(table).limit(1))).first():
                return True
        return False

    async def tier_keys(self) -> set[str]:
        return {k for (k,) in await self.conn.execute(select(tiers.c.key))}

    async def experiment_campaigns(self) -> dict[int, str]:
        """Campaigns with a started experiment: id -> name."""
        rows = await self.conn.execute(
            select(campaigns.c.id, campaigns.c.name)
            .select_from(campaigns.join(campaign_experiments,
                                        campaign_experiments.c.campaign_id == campaigns.c.id))
            .where(campaign_experiments.c.started_at.is_not(None)).order_by(campaigns.c.id))
        return {i: n for i, n in rows}

    async def _joined(self, *, until: date) -> _Joined:
        """Members (not merged away) who joined by the end of `until`, counted per
        channel, tier and UTC join day, from kpi_joined_days (kept by the refresh): every
        count by join date the report needs."""
        j = kpi_joined_days.c
        return _Joined({(channel, tier_id or None, _as_date(day)): n
                        for day, channel, tier_id, n in await self.conn.execute(
                            select(j.day, j.channel, j.tier_id, j.members)
                            .where(j.day <= until, j.members != 0))})

    def _joined_day(self):
        if self._pg:
            return cast(func.timezone("UTC", members.c.joined_at), Date)
        return func.substr(members.c.joined_at, 1, 10)

    async def _tier_keys(self) -> dict[int | None, str]:
        keys: dict[int | None, str] = {None: NO_TIER}
        keys.update({i: k for i, k in await self.conn.execute(select(tiers.c.id, tiers.c.key))})
        return keys

    async def funding_inputs(self, *, as_of: date, start: date, end: date,
                             churn_window_days: int = WINDOW_DAYS) -> FundingInputs:
        """Every aggregate the funding report needs, as of the end of `as_of` (UTC), with
        the period [start, end] (start <= end <= as_of). Reads the rollups (refreshed by
        the caller), member_days over short windows, members by index."""
        tier_keys = await self._tier_keys()
        state = await self.state()
        latest = state.latest_day if state else None

        def by_tier(counts: dict) -> dict[str, int]:
            out: dict[str, int] = defaultdict(int)
            for tier_id, n in counts.items():
                out[tier_keys.get(tier_id, NO_TIER)] += n
            return dict(out)

        joined = await self._joined(until=as_of)
        by_channel = joined.by(0, until=as_of)
        by_tier_ = by_tier(joined.by(1, until=as_of))
        new_by_channel = joined.by(0, since=start, until=end)

        # daily series
        first_day = start - timedelta(days=TRAILING_DAYS)
        days = [first_day + timedelta(days=i) for i in range((end - first_day).days + 1)]
        index = {d: i for i, d in enumerate(days)}
        series = np.zeros((5, len(days)), dtype=np.int64)
        ad = kpi_activity_days.c
        for row in await self.conn.execute(
                select(ad.day, ad.active, ad.purchasers, ad.revenue_minor, ad.events,
                       ad.posts + ad.comments).where(ad.day >= first_day, ad.day <= end)):
            series[:, index[_as_date(row[0])]] = row[1:]
        shares = (await self.conn.execute(select(_sum(ad.shares)).where(
            ad.day >= start, ad.day <= end))).scalar_one()

        # trailing windows (one scan of member_days over the longest window)
        if as_of == latest and churn_window_days == WINDOW_DAYS:  # kept by the refresh
            window = await self._trailing_kept(tier_keys)
        else:
            window = await self._trailing(as_of, churn_window_days, tier_keys)

        # conversion
        payers = (await self.conn.execute(select(func.count()).where(
            summary.c.first_purchase <= as_of))).scalar_one()
        joined_before_start = sum(joined.by(0, until=start - timedelta(days=1)).values())
        paid_before = await self._payers_joined_before(start, purchase_before=start)
        converted = await self._converted(start, end)

        # the period
        period_active = (window["mau"] if (start, end) == (as_of - timedelta(days=29), as_of)
                         else await self._distinct_active(start, end))
        buyers = (select(md.c.member_id, func.count().label("n"))
                  .where(_PURCHASE_DAY, md.c.day >= start, md.c.day <= end)
                  .group_by(md.c.member_id).subquery())
        purchasers, repeaters = (await self.conn.execute(
            select(func.count(), _sum(case((buyers.c.n >= 2, 1), else_=0)))
            .select_from(buyers))).one()
        period = series[:, TRAILING_DAYS:]

        # months
        months, month_stats = await self._months(as_of, latest, joined)
        activity_cohorts, purchase_cohorts = await self._cohorts(as_of, latest, months)

        # acquisition
        spend_from = month_start(start)
        spend_to = next_month(month_start(end))
        spend = await self._spend(spend_from, spend_to)
        acquired = joined.by(0, since=spend_from, until=min(spend_to - timedelta(days=1), as_of))

        return FundingInputs(
            as_of=as_of, start=start, end=end,
            members_total=sum(by_channel.values()), members_by_channel=by_channel,
            members_by_tier=by_tier_, new_members=sum(new_by_channel.values()),
            new_by_channel=new_by_channel, days=days,
            daily_active=series[0].tolist(), daily_purchasers=series[1].tolist(),
            daily_revenue=series[2].tolist(), daily_events=series[3].tolist(),
            daily_content=series[4].tolist(),
            dau=window["dau"], wau=window["wau"], mau=window["mau"],
            power_curve=window["curve"], active_by_tier=window["by_tier"],
            churn_window_days=churn_window_days, churn_at_start=window["at_start"],
            churn_lost=window["lost"],
            payers=payers, non_paying_at_start=joined_before_start - paid_before,
            converted=converted, period_active=period_active,
            period_purchasers=int(purchasers), period_repeaters=int(repeaters),
            period_revenue=int(period[2].sum()), period_transactions=int(period[1].sum()),
            member_content=int(period[4].sum()), all_content=int(period[4].sum()) + int(shares),
            months=months, **month_stats,
            activity_cohorts=activity_cohorts, purchase_cohorts=purchase_cohorts,
            spend_by_channel=spend, acquired_by_channel=acquired,
        )

    async def _trailing_kept(self, tier_keys) -> dict:
        """`_trailing` for the latest day and the default churn window, from the trailing
        counts per tier the refresh keeps (kpi_trailing_counts: a few hundred rows)."""
        c = kpi_trailing_counts.c
        rows = [(tier_id or None, d30, n, n * in_week, n * on_day, n * prior,
                 n * prior * (d30 == 0))
                for tier_id, d30, in_week, on_day, prior, n in await self.conn.execute(
                    select(c.tier_id, c.d30, c.in_week, c.on_day, c.prior, c.members))]
        return self._window_counts(rows, tier_keys)

    @staticmethod
    def _window_counts(rows, tier_keys) -> dict:
        curve = [0] * WINDOW_DAYS
        by_tier: dict[str, int] = defaultdict(int)
        out = dict(dau=0, wau=0, at_start=0, lost=0)
        for tier_id, d30_days, n, wau, dau, at_start, lost_n in rows:
            out["wau"] += int(wau)
            out["dau"] += int(dau)
            out["at_start"] += int(at_start)
            out["lost"] += int(lost_n)
            if d30_days:
                curve[d30_days - 1] += n
                by_tier[tier_keys.get(tier_id, NO_TIER)] += n
        return dict(out, mau=sum(curve), curve=curve, by_tier=dict(by_tier))

    async def _trailing(self, as_of: date, w: int, tier_keys) -> dict:
        lo = as_of - timedelta(days=max(WINDOW_DAYS, 2 * w) - 1)
        d30 = as_of - timedelta(days=WINDOW_DAYS - 1)
        d7 = as_of - timedelta(days=WEEK_DAYS - 1)
        recent = as_of - timedelta(days=w - 1)
        start = as_of - timedelta(days=w)
        before = start - timedelta(days=w - 1)

        def days_since(since, until=as_of):
            return _sum(case((and_(md.c.day >= since, md.c.day <= until), 1), else_=0))

        per_member = (select(md.c.member_id, days_since(d30).label("d30"),
                             days_since(d7).label("d7"), days_since(as_of).label("d1"),
                             days_since(recent).label("recent"),
                             days_since(before, start).label("prior"))
                      .where(md.c.day >= lo, md.c.day <= as_of)
                      .group_by(md.c.member_id).subquery())
        wau_flag = case((per_member.c.d7 > 0, 1), else_=0)
        dau_flag = case((per_member.c.d1 > 0, 1), else_=0)
        prior = case((per_member.c.prior > 0, 1), else_=0)
        lost = case((and_(per_member.c.prior > 0, per_member.c.recent == 0), 1), else_=0)
        rows = await self.conn.execute(
            select(members.c.tier_id, per_member.c.d30, func.count(), _sum(wau_flag),
                   _sum(dau_flag), _sum(prior), _sum(lost))
            .select_from(per_member.join(members, members.c.id == per_member.c.member_id))
            .group_by(members.c.tier_id, per_member.c.d30))
        return self._window_counts(rows, tier_keys)

    async def _distinct_active(self, start: date, end: date) -> int:
        return (await self.conn.execute(select(func.count(md.c.member_id.distinct())).where(
            md.c.day >= start, md.c.day <= end))).scalar_one()

    async def _payers_joined_before(self, joined_before: date, *, purchase_before: date) -> int:
        """Members (not merged away) who joined before `joined_before` with a first
        purchase before `purchase_before` (the summary's join day: no members join)."""
        return (await self.conn.execute(
            select(func.count()).where(summary.c.first_purchase < purchase_before,
                                       summary.c.joined_on < joined_before))).scalar_one()

    async def _converted(self, start: date, end: date) -> int:
        """Members (not merged away) who joined before `start` with a first purchase in
        [start, end]."""
        return (await self.conn.execute(
            select(func.count()).where(summary.c.first_purchase >= start,
                                       summary.c.first_purchase <= end,
                                       summary.c.joined_on < start))).scalar_one()

    async def _months(self, as_of: date, latest: date | None, joined: _Joined
                      ) -> tuple[list[date], dict]:
        first = _as_date((await self.conn.execute(
            select(func.min(kpi_activity_days.c.day)))).scalar())
        if first is None or first > as_of:
            return [], dict(month_members=[], month_new=[], month_active=[], month_revenue=[],
                            month_transactions=[], month_dau_sum=[], month_days=[])
        months = months_between(first, as_of)
        slot = {m: i for i, m in enumerate(months)}
        n = len(months)
        new, active, revenue, transactions, dau_sum = (np.zeros(n, dtype=np.int64)
                                                       for _ in range(5))
        ad = kpi_activity_days.c
        month = self._month(ad.day)
        for m, t, s in await self.conn.execute(
                select(month, _sum(ad.purchasers), _sum(ad.active))
                .where(ad.day <= as_of).group_by(month)):
            if _as_date(m) in slot:
                transactions[slot[_as_date(m)]] = t
                dau_sum[slot[_as_date(m)]] = s
        for m, count, rev in await self._month_active(as_of, latest, months):
            active[slot[m]] += count
            revenue[slot[m]] += rev
        joined_before = sum(joined.by(0, until=months[0] - timedelta(days=1)).values())
        for m, count in joined.by(2, since=months[0], until=as_of).items():
            new[slot[m]] = count
        totals = joined_before + np.cumsum(new)
        day_counts = [(min(next_month(m) - timedelta(days=1), as_of) - m).days + 1
                      for m in months]
        return months, dict(month_members=totals.tolist(), month_new=new.tolist(),
                            month_active=active.tolist(), month_revenue=revenue.tolist(),
                            month_transactions=transactions.tolist(),
                            month_dau_sum=dau_sum.tolist(), month_days=day_counts)

    async def _month_active(self, as_of, latest, months):
        """(month, active members, revenue) per month up to the as-of month."""
        c = kpi_cohort_months.c
        rows = [(_as_date(m), int(n), int(r)) for m, n, r in await self.conn.execute(
            select(c.month, _sum(c.members), _sum(c.revenue_minor))
            .where(c.basis == "activity", c.month <= month_start(as_of)).group_by(c.month))]
        if not self._as_of_month_partial(as_of, latest):
            return rows
        current = month_start(as_of)
        rows = [r for r in rows if r[0] != current]
        n, revenue = (await self.conn.execute(
            select(func.count(md.c.member_id.distinct()), _sum(md.c.revenue_minor))
            .where(md.c.day >= current, md.c.day <= as_of))).one()
        return [*rows, (current, int(n), int(revenue))]

    @staticmethod
    def _as_of_month_partial(as_of: date, latest: date | None) -> bool:
        """Do the rollups hold days after the as-of day inside its month?"""
        return latest is not None and latest > as_of and as_of != next_month(
            month_start(as_of)) - timedelta(days=1)

    async def _cohorts(self, as_of: date, latest: date | None, months: list[date]
                       ) -> tuple[CohortMatrix, CohortMatrix]:
        current = month_start(as_of)
        c = kpi_cohort_months.c
        cells: dict[str, dict[tuple[date, date], tuple[int, int]]] = {
            "activity": {}, "purchase": {}}
        for basis, cohort, month, n, revenue in await self.conn.execute(
                select(c.basis, c.cohort, c.month, c.members, c.revenue_minor)
                .where(c.month <= current, c.cohort <= current)):
            cells[basis][(_as_date(cohort), _as_date(month))] = (n, int(revenue))
        if self._as_of_month_partial(as_of, latest):
            for basis, first_col, where in (
                    ("activity", summary.c.first_active, literal(True)),
                    ("purchase", summary.c.first_purchase, _PURCHASE_DAY)):
                cells[basis] = {k: v for k, v in cells[basis].items() if k[1] != current}
                per_member = (select(md.c.member_id, _sum(md.c.revenue_minor).label("rev"))
                              .where(where, md.c.day >= current, md.c.day <= as_of)
                              .group_by(md.c.member_id).subquery())
                cohort = self._month(first_col)
                for cohort_month, n, revenue in await self.conn.execute(
                        select(cohort, func.count(), _sum(per_member.c.rev))
                        .select_from(per_member.join(
                            summary, summary.c.member_id == per_member.c.member_id))
                        .group_by(cohort)):
                    cells[basis][(_as_date(cohort_month), current)] = (n, int(revenue))
        out = []
        for basis in ("activity", "purchase"):
            cohorts = sorted({k[0] for k in cells[basis] if k[0] == k[1]})
            matrix = CohortMatrix(cohorts=cohorts, active=[], revenue=[])
            for cohort in cohorts:
                span = months_between(cohort, as_of)
                matrix.active.append([cells[basis].get((cohort, m), (0, 0))[0] for m in span])
                matrix.revenue.append([cells[basis].get((cohort, m), (0, 0))[1] for m in span])
            out.append(matrix)
        return out[0], out[1]

    async def _spend(self, first_month: date, end_month: date) -> dict[str, int]:
        """Recorded acquisition spend of the months in [first_month, end_month), plus
        referral money rewards (payable or paid) created in them, in channel 'referral'."""
        spend: dict[str, int] = defaultdict(int)
        s = acquisition_spend.c
        for channel, amount in await self.conn.execute(
                select(s.channel, _sum(s.amount_minor))
                .where(s.month >= first_month, s.month < end_month).group_by(s.channel)):
            spend[channel] += int(amount)
        r = referral_rewards.c
        referral = (await self.conn.execute(select(_sum(r.money_minor)).where(
            r.status.in_([RewardStatus.PAYABLE.value, RewardStatus.PAID.value]),
            r.created_at >= _midnight(first_month), r.created_at < _midnight(end_month)))
        ).scalar_one()
        if referral:
            spend["referral"] += int(referral)
        return {k: v for k, v in spend.items() if v}

    # --- model histories ---------------------------------------------------------------

    async def purchase_histories(self, as_of: date) -> model_histories.Histories | None:
        """Buyers' purchase histories up to `as_of` from the per-member summary, or None
        when the summary holds days after `as_of` (the caller then reads member_days)."""
        state = await self.state()
        if state is None or (state.latest_day is not None and state.latest_day > as_of):
            return None
        s = summary.c
        rows = (await self.conn.execute(
            select(s.member_id, s.purchase_days,
                   self._days_between(s.first_purchase, s.last_purchase),
                   self._days_between(s.first_purchase, literal(as_of, Date)),
                   s.revenue_minor - s.first_purchase_revenue_minor)
            .where(s.first_purchase.is_not(None)).order_by(s.member_id))).all()
        columns = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(len(rows), 5).T
        return model_histories.from_days(
            member_ids=columns[0], transaction_days=columns[1],
            first_to_last_days=columns[2], first_to_as_of_days=columns[3],
            repeat_revenue=columns[4])

    async def purchase_groups(self, as_of: date) -> model_histories.Grouped | None:
        """Buyers' purchase histories up to `as_of`, grouped by (x, t_x, T) in SQL (one
        covering-index pass), plus each repeat buyer's (x, repeat revenue) for the spend
        model; None when the summary holds days after `as_of`."""
        state = await self.state()
        if state is None or (state.latest_day is not None and state.latest_day > as_of):
            return None
        s = summary.c
        repeat_revenue = s.revenue_minor - s.first_purchase_revenue_minor
        key = (s.first_purchase, s.last_purchase, s.purchase_days)
        triples = (await self.conn.execute(
            select(s.purchase_days, self._days_between(s.first_purchase, s.last_purchase),
                   self._days_between(s.first_purchase, literal(as_of, Date)), func.count(),
                   _sum(repeat_revenue))
            .where(s.first_purchase.is_not(None)).group_by(*key))).all()
        spend = (await self.conn.execute(
            select(s.purchase_days, repeat_revenue)
            .where(s.first_purchase.is_not(None), s.purchase_days > 1))).all()
        t, r = _int_columns(triples, 5), _int_columns(spend, 2)
        return model_histories.grouped_from_days(
            transaction_days=t[0], first_to_last_days=t[1], first_to_as_of_days=t[2],
            count=t[3], repeat_revenue=t[4], spend_transaction_days=r[0],
            spend_repeat_revenue=r[1])

    async def model_fits(self, fingerprint: str) -> ModelFits | None:
        """The fits stored for data with this fingerprint."""
        row = (await self.conn.execute(select(kpi_model_fits).where(
            kpi_model_fits.c.fingerprint == fingerprint))).first()
        return _fits(row) if row else None

    async def latest_model_fits(self) -> ModelFits | None:
        """The most recently stored fits (a starting point for the next fit)."""
        row = (await self.conn.execute(select(kpi_model_fits).order_by(
            kpi_model_fits.c.created_at.desc()).limit(1))).first()
        return _fits(row) if row else None

    async def store_model_fits(self, fits: ModelFits, *, fingerprint: str, as_of: date,
                               buyers: int, now: datetime) -> None:
        """Keep the fits of data with this fingerprint (and only the latest FITS_KEPT)."""
        await self.conn.execute(self._insert(kpi_model_fits).values(
            fingerprint=fingerprint, as_of=as_of, buyers=buyers,
            bgnbd=_fit_json(fits.bgnbd, fits.bgnbd.params.as_array()),
            gamma_gamma=_fit_json(fits.gamma_gamma, fits.gamma_gamma.params.as_array()),
            created_at=now).on_conflict_do_nothing())
        kept = (select(kpi_model_fits.c.fingerprint)
                .order_by(kpi_model_fits.c.created_at.desc()).limit(FITS_KEPT))
        await self.conn.execute(delete(kpi_model_fits).where(
            kpi_model_fits.c.fingerprint.not_in(kept.scalar_subquery())))

    def _days_between(self, first, last):
        """Whole days from the Date `first` to the Date `last`, as SQL."""
        if self._pg:
            return last - first
        return cast(func.julianday(last) - func.julianday(first), Integer)

    # --- targets and spend ---------------------------------------------------------------

    async def add_target(self, *, name: str, metric: str, baseline: float, goal: float,
                         starts_on: date, deadline: date, now: datetime) -> StoredTarget:
        result = await self.conn.execute(kpi_targets.insert().values(
            name=name, metric=metric, baseline=baseline, goal=goal, starts_on=starts_on,
            deadline=deadline, created_at=now, updated_at=now).returning(kpi_targets.c.id))
        return StoredTarget(id=result.scalar_one(), name=name, metric=metric,
                            baseline=baseline, goal=goal, starts_on=starts_on,
                            deadline=deadline)

    async def get_target(self, target_id: int) -> StoredTarget | None:
        row = (await self.conn.execute(select(kpi_targets)
                                       .where(kpi_targets.c.id == target_id))).first()
        return _target(row) if row else None

    async def targets(self) -> list[StoredTarget]:
        rows = await self.conn.execute(select(kpi_targets).order_by(kpi_targets.c.id))
        return [_target(r) for r in rows]

    async def update_target(self, target: StoredTarget, *, now: datetime) -> None:
        await self.conn.execute(update(kpi_targets).where(kpi_targets.c.id == target.id).values(
            name=target.name, metric=target.metric, baseline=target.baseline, goal=target.goal,
            starts_on=target.starts_on, deadline=target.deadline, updated_at=now))

    async def delete_target(self, target_id: int) -> None:
        await self.conn.execute(delete(kpi_targets).where(kpi_targets.c.id == target_id))

    async def record_spend(self, *, channel: str, month: date, amount_minor: int,
                           now: datetime) -> None:
        """Set (not add to) the channel's acquisition spend for the month."""
        values = dict(amount_minor=amount_minor, updated_at=now)
        statement = self._insert(acquisition_spend).values(channel=channel, month=month,
                                                            **values)
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=["channel", "month"], set_=values))


def _int_columns(rows, width: int) -> np.ndarray:
    """Integer result rows as `width` column arrays (numpy reads the rows' values in one
    pass: no tuple per row)."""
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width)
    return flat.reshape(len(rows), width).T


def _fit_json(fit, params: np.ndarray) -> dict:
    return dict(params=[float(v) for v in params], log_likelihood=float(fit.log_likelihood),
                n=int(fit.n), converged=bool(fit.converged), iterations=int(fit.iterations),
                message=str(fit.message))


def _fits(row) -> ModelFits:
    b, g = row.bgnbd, row.gamma_gamma
    return ModelFits(
        bgnbd=BgNbdFit(params=BgNbdParams(*b["params"]), log_likelihood=b["log_likelihood"],
                       n=b["n"], converged=b["converged"], iterations=b["iterations"],
                       message=b["message"]),
        gamma_gamma=GammaGammaFit(params=GammaGammaParams(*g["params"]),
                                  log_likelihood=g["log_likelihood"], n=g["n"],
                                  converged=g["converged"], iterations=g["iterations"],
                                  message=g["message"]))


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _target(row) -> StoredTarget:
    return StoredTarget(id=row.id, name=row.name, metric=row.metric, baseline=row.baseline,
                        goal=row.goal, starts_on=_as_date(row.starts_on),
                        deadline=_as_date(row.deadline))
