"""Lifecycle stages and churn signals: per-member summaries from `member_days` in one
GROUP BY, and set-based writes (a driver-level batch into a staging table, then one
INSERT ... SELECT and one UPDATE ... FROM), never a statement per member."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import churn, lifecycle
from domain.clock import utcnow
from domain.members import MemberStatus
from domain.paging import Page, PageRequest
from domain.store.repositories.activity import utc_day
from domain.store.tables import Id, churn_signals, lifecycle_transitions, member_days, members

# A per-transaction scratch table for the changed stages (dropped at the end of the write).
_staging = Table("lifecycle_staging", MetaData(), Column("member_id", Id, primary_key=True),
                 Column("stage", String(16), nullable=False), prefixes=["TEMPORARY"])
REFRESH_CACHE_KIB = -262_144  # SQLite page cache during a refresh: up to 256 MiB
_STAGES = {s.value: s for s in lifecycle.LifecycleStage}
_ACTIONS = {a.value: a for a in churn.WinBackAction}


def _days_before(dialect: str, as_of: date, day):
    """Whole days from `day` (a DATE, or SQLite's 'YYYY-MM-DD' text) to `as_of`, as SQL."""
    if dialect == "postgresql":
        return cast(literal(as_of) - day, Integer)
    return cast(func.julianday(literal(as_of.isoformat())) - func.julianday(day), Integer)


def _risk(row) -> churn.ChurnRisk:
    return churn.ChurnRisk(member_id=row.member_id, level=row.level,
                           days_inactive=row.days_inactive,
                           suggested_action=_ACTIONS[row.suggested_action], as_of=row.as_of)


class LifecycleRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _dialect(self) -> str:
        return self.conn.dialect.name

    @contextlib.asynccontextmanager
    async def refreshing(self) -> AsyncIterator[None]:
        """Around a refresh: serialise refreshes on PostgreSQL (SQLite writers already are:
        BEGIN IMMEDIATE); on SQLite, a page cache big enough for the members table and its
        indexes while a million rows are updated (the default 2 MiB thrashes)."""
        if self._dialect == "postgresql":
            await self.conn.execute(text(
                "LOCK TABLE lifecycle_transitions IN SHARE ROW EXCLUSIVE MODE"))
            yield
            return
        before = (await self.conn.execute(text("PRAGMA cache_size"))).scalar()
        await self.conn.execute(text(f"PRAGMA cache_size={REFRESH_CACHE_KIB}"))
        try:
            yield
        finally:
            await self.conn.execute(text(f"PRAGMA cache_size={int(before)}"))

    async def latest_as_of(self) -> date | None:
        """The day of the newest stored refresh, if any."""
        return (await self.conn.execute(select(func.max(members.c.lifecycle_as_of)))).scalar()

    async def summaries(self, *, as_of: date, activity_days: int,
                        spend_days: int) -> lifecycle.MemberSummaries:
        """Every active member enrolled on or before `as_of`, with their activity up to it:
        one GROUP BY over member_days joined to members, ordered by member id."""
        md, dialect = member_days, self._dialect
        days = lambda expr: _days_before(dialect, as_of, expr)  # noqa: E731
        recent = as_of - timedelta(days=activity_days - 1)
        spend_from = as_of - timedelta(days=spend_days - 1)
        activity = (
            select(md.c.member_id,
                   days(func.min(md.c.day)).label("first"),
                   days(func.max(md.c.day)).label("last"),
                   days(func.max(case((md.c.logins > 0, md.c.day)))).label("login"),
                   func.sum(case((md.c.day >= recent, 1), else_=0)).label("active_days"),
                   func.sum(case((md.c.day >= spend_from, md.c.revenue_minor), else_=0))
                   .label("spend"))
            .where(md.c.day <= as_of).group_by(md.c.member_id).subquery()
        )
        stage = case({s.value: code for code, s in enumerate(lifecycle.STAGES)},
                     value=members.c.lifecycle_stage, else_=lifecycle.UNCLASSIFIED)
        end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
        query = (
            select(members.c.id, stage, func.coalesce(members.c.tier_id, -1),
                   days(utc_day(dialect, members.c.joined_at)),
                   *(func.coalesce(activity.c[name], -1) for name in ("first", "last", "login")),
                   func.coalesce(activity.c.active_days, 0),
                   func.coalesce(activity.c.spend, 0))
            .select_from(members.outerjoin(activity, activity.c.member_id == members.c.id))
            .where(members.c.status == MemberStatus.ACTIVE.value, members.c.joined_at < end)
            .order_by(members.c.id)
        )
        rows = (await self.conn.execute(query)).all()
        # np.array over Row objects is ~25x slower than reading the flattened values.
        table = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64,
                            count=len(rows) * 9).reshape(len(rows), 9)
        return lifecycle.MemberSummaries(
            member_ids=table[:, 0], current_stage=table[:, 1].astype(np.int8),
            tier_ids=table[:, 2], days_since_joined=table[:, 3], days_since_first=table[:, 4],
            days_since_last=table[:, 5], days_since_login=table[:, 6], active_days=table[:, 7],
            spend_minor=table[:, 8],
        )

    async def apply_stages(self, *, member_ids: np.ndarray, stages: np.ndarray,
                           as_of: date) -> int:
        """Record a transition for and store the new stage of each given member (the ones
        whose stage changed), then mark every classified member as computed `as_of`."""
        changed = len(member_ids)
        if changed:
            names = np.array([s.value for s in lifecycle.STAGES], dtype=object)[stages]
            await self.conn.run_sync(lambda sync: _staging.create(sync))
            await self._insert_raw("lifecycle_staging", ("member_id", "stage"),
                                   list(zip(member_ids.tolist(), names.tolist(), strict=True)))
            await self.conn.execute(lifecycle_transitions.insert().from_select(
                ["member_id", "from_stage", "to_stage", "as_of", "recorded_at"],
                select(_staging.c.member_id, members.c.lifecycle_stage, _staging.c.stage,
                       literal(as_of, lifecycle_transitions.c.as_of.type),
                       literal(utcnow(), lifecycle_transitions.c.recorded_at.type))
                .select_from(_staging.join(members, members.c.id == _staging.c.member_id))))
            await self.conn.execute(update(members).where(members.c.id == _staging.c.member_id)
                                    .values(lifecycle_stage=_staging.c.stage))
            await self.conn.run_sync(lambda sync: _staging.drop(sync))
        end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
        await self.conn.execute(
            update(members).where(members.c.status == MemberStatus.ACTIVE.value,
                                  members.c.joined_at < end,
                                  members.c.lifecycle_as_of.is_distinct_from(as_of))
            .values(lifecycle_as_of=as_of))
        return changed

    async def replace_churn_signals(self, *, member_ids: np.ndarray, levels: np.ndarray,
                                    days_inactive: np.ndarray, actions: np.ndarray,
                                    as_of: date) -> None:
        """Make the given warnings the stored ones (all others are removed)."""
        await self.conn.execute(delete(churn_signals))
        names = np.array([a.value for a in churn.ACTIONS], dtype=object)[actions]
        day = as_of if self._dialect == "postgresql" else as_of.isoformat()
        rows = list(zip(member_ids.tolist(), levels.tolist(), days_inactive.tolist(),
                        names.tolist(), [day] * len(member_ids), strict=True))
        await self._insert_raw("churn_signals", ("member_id", "level", "days_inactive",
                                                 "suggested_action", "as_of"), rows)

    async def _insert_raw(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """A driver-level batch insert (executemany on SQLite, COPY on PostgreSQL) in the
        unit of work's transaction; SQLAlchemy's per-row processing is too slow for 10^6."""
        if not rows:
            return
        await self.conn.execute(text("SELECT 1"))  # the transaction must be open first
        raw = (await self.conn.get_raw_connection()).driver_connection
        if self._dialect == "postgresql":
            await raw.copy_records_to_table(table, records=rows, columns=list(columns))
        else:
            marks = ", ".join("?" for _ in columns)
            await raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                                  f"VALUES ({marks})", rows)

    async def stage_counts(self) -> dict[lifecycle.LifecycleStage | None, int]:
        """Active members per stored stage (None: not classified yet)."""
        rows = await self.conn.execute(
            select(members.c.lifecycle_stage, func.count())
            .where(members.c.status == MemberStatus.ACTIVE.value)
            .group_by(members.c.lifecycle_stage))
        return {(_STAGES[s] if s else None): n for s, n in rows}

    async def transitions_of(self, member_ids) -> dict[int, list[lifecycle.Transition]]:
        """Stage changes per member, newest first."""
        ids = list(member_ids)
        rows = await self.conn.execute(
            select(lifecycle_transitions).where(lifecycle_transitions.c.member_id.in_(ids))
            .order_by(lifecycle_transitions.c.as_of.desc(), lifecycle_transitions.c.id.desc()))
        out: dict[int, list[lifecycle.Transition]] = {m: [] for m in ids}
        for r in rows:
            out[r.member_id].append(lifecycle.Transition(
                id=r.id, member_id=r.member_id,
                from_stage=_STAGES[r.from_stage] if r.from_stage else None,
                to_stage=_STAGES[r.to_stage], as_of=r.as_of, recorded_at=r.recorded_at))
        return out

    async def churn_of(self, member_ids) -> dict[int, churn.ChurnRisk]:
        rows = await self.conn.execute(
            select(churn_signals).where(churn_signals.c.member_id.in_(list(member_ids))))
        return {row.member_id: _risk(row) for row in rows}

    async def churn_page(self, *, min_level: int,
                         request: PageRequest) -> Page[churn.ChurnRisk]:
        """Warnings at `min_level` or above: level desc, days inactive desc, member id desc
        (one backward scan of the (level, days_inactive, member_id) index)."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        s = churn_signals.c
        conditions = [s.level >= min_level]
        if request.after is not None:
            level, days, member_id = request.after
            conditions.append(or_(s.level < level,
                                  and_(s.level == level, s.days_inactive < days),
                                  and_(s.level == level, s.days_inactive == days,
                                       s.member_id < member_id)))
        rows = (await self.conn.execute(
            select(churn_signals).where(*conditions)
            .order_by(s.level.desc(), s.days_inactive.desc(), s.member_id.desc())
            .limit(request.first + 1))).all()
        return Page(items=[_risk(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def churn_count(self, *, min_level: int) -> int:
        return (await self.conn.execute(select(func.count()).select_from(churn_signals)
                                        .where(churn_signals.c.level >= min_level))).scalar_one()
