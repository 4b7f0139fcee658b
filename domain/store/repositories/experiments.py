"""Campaign experiments in SQL: designs, bulk assignment, responses counted from the
member-day rollup (whole-day windows) or from events, and rewards."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import EventType
from domain.experiments import (
    CONTROL,
    ArmCounts,
    Experiment,
    ExperimentSpec,
    Grant,
    Granted,
    RewardUnit,
    VariantSpec,
    Window,
)
from domain.members import Channel, MemberStatus
from domain.paging import Page, PageRequest
from domain.store.days import as_date
from domain.store.repositories.activity import utc_day
from domain.store.tables import (
    campaign_assignments,
    campaign_experiments,
    campaign_rewards,
    campaign_variants,
    campaigns,
    events,
    member_days,
    members,
)

# Event types the member-day rollup counts, and the column that counts each.
ROLLUP_COLUMNS = {
    EventType.LOGIN: member_days.c.logins, EventType.POST: member_days.c.posts,
    EventType.COMMENT: member_days.c.comments, EventType.LIKE: member_days.c.likes,
    EventType.SHARE: member_days.c.shares, EventType.CHECK_IN: member_days.c.check_ins,
    EventType.PURCHASE: member_days.c.purchases,
    EventType.REFERRAL_INVITE: member_days.c.referral_invites,
}
_ASSIGN_CHUNK = 100_000
_SQLITE_ASSIGN = ("INSERT INTO campaign_assignments (campaign_id, member_id, arm)"
                  " SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]')"
                  " FROM json_each(?)")
_POSTGRES_ASSIGN = text(
    "INSERT INTO campaign_assignments (campaign_id, member_id, arm)"
    " SELECT :campaign_id, m, a FROM unnest(:member_ids, :arms) AS t(m, a)"
).bindparams(bindparam("member_ids", type_=postgresql.ARRAY(BigInteger)),
             bindparam("arms", type_=postgresql.ARRAY(String)))


def uses_rollup(event: EventType, window: Window) -> bool:
    """Whole-day windows over an event type the rollup counts read `member_days`."""
    return window.days is not None and event in ROLLUP_COLUMNS


def _experiment(row, variants: list) -> Experiment:
    return Experiment(
        campaign_id=row.campaign_id,
        spec=ExperimentSpec(
            variants=tuple(VariantSpec(key=v.key, name=v.name, weight=v.weight, reward=v.reward,
                                       message=v.message) for v in variants),
            control_share=row.control_share, conversion_event=EventType(row.conversion_event),
            reward_unit=RewardUnit(row.reward_unit), point_value_minor=row.point_value_minor,
            per_member_limit=row.per_member_limit, global_limit=row.global_limit,
        ),
        seed=row.seed, started_at=row.started_at, configured_at=row.configured_at,
    )


class ExperimentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    # --- design ---

    async def get(self, campaign_id: int) -> Experiment | None:
        return (await self.get_many([campaign_id])).get(campaign_id)

    async def get_many(self, campaign_ids: Iterable[int]) -> dict[int, Experiment]:
        ids = list(campaign_ids)
        rows = (await self.conn.execute(select(campaign_experiments).where(
            campaign_experiments.c.campaign_id.in_(ids)))).all()
        variants = defaultdict(list)
        for v in await self.conn.execute(
                select(campaign_variants).where(campaign_variants.c.campaign_id.in_(ids))
                .order_by(campaign_variants.c.campaign_id, campaign_variants.c.position)):
            variants[v.campaign_id].append(v)
        return {r.campaign_id: _experiment(r, variants[r.campaign_id]) for r in rows}

    async def save(self, campaign_id: int, spec: ExperimentSpec, *, now: datetime) -> None:
        """Write the design of a not yet started experiment (replacing any earlier one)."""
        values = dict(control_share=spec.control_share,
                      conversion_event=str(spec.conversion_event),
                      reward_unit=str(spec.reward_unit), point_value_minor=spec.point_value_minor,
                      per_member_limit=spec.per_member_limit, global_limit=spec.global_limit,
                      configured_at=now)
        insert = (postgresql if self._postgres else sqlite).insert(campaign_experiments)
        await self.conn.execute(insert.values(campaign_id=campaign_id, **values)
                                .on_conflict_do_update(index_elements=["campaign_id"],
                                                       set_=values))
        await self.conn.execute(delete(campaign_variants)
                                .where(campaign_variants.c.campaign_id == campaign_id))
        await self.conn.execute(campaign_variants.insert(), [
            dict(campaign_id=campaign_id, key=v.key, position=i, name=v.name, weight=v.weight,
                 reward=v.reward, message=v.message) for i, v in enumerate(spec.variants)])

    async def mark_started(self, campaign_id: int, *, seed: int, now: datetime) -> bool:
        """Set the seed and start time once; False when another run started it first."""
        result = await self.conn.execute(
            update(campaign_experiments)
            .where(campaign_experiments.c.campaign_id == campaign_id,
                   campaign_experiments.c.started_at.is_(None))
            .values(seed=seed, started_at=now))
        return result.rowcount == 1

    async def lock_campaign(self, campaign_id: int) -> None:
        """Serialise writers of one campaign's experiment until the transaction ends
        (SELECT ... FOR UPDATE on PostgreSQL; SQLite writers already hold the database
        lock from BEGIN IMMEDIATE)."""
        await self.conn.execute(select(campaigns.c.id).where(campaigns.c.id == campaign_id)
                                .with_for_update())

    # --- assignment ---

    async def targeted_member_ids(self, *, tier_ids: Sequence[int],
                                  channels: Sequence[Channel]) -> list[int]:
        """Active members in one of the target tiers (when any) and acquired through one
        of the target channels (when any), by id."""
        conditions = [members.c.status == str(MemberStatus.ACTIVE)]
        if tier_ids:
            conditions.append(members.c.tier_id.in_(list(tier_ids)))
        if channels:
            conditions.append(members.c.channel.in_([str(c) for c in channels]))
        rows = await self.conn.execute(select(members.c.id).where(*conditions)
                                       .order_by(members.c.id))
        return list(rows.scalars())

    async def add_assignments(self, campaign_id: int, arms: Sequence[tuple[int, str]]) -> None:
        """Insert (member, arm) pairs: one statement per 100,000 members, the pairs sent as
        two arrays (PostgreSQL) or one JSON array (SQLite), no per-row binding."""
        for start in range(0, len(arms), _ASSIGN_CHUNK):
            chunk = arms[start:start + _ASSIGN_CHUNK]
            if self._postgres:
                await self.conn.execute(_POSTGRES_ASSIGN, dict(
                    campaign_id=campaign_id, member_ids=[m for m, _ in chunk],
                    arms=[a for _, a in chunk]))
            else:
                await self.conn.exec_driver_sql(_SQLITE_ASSIGN, (campaign_id, json.dumps(chunk)))

    async def arms(self, campaign_id: int) -> dict[int, str]:
        """Every assigned member's arm (for checks and exports, not for the API)."""
        rows = await self.conn.execute(
            select(campaign_assignments.c.member_id, campaign_assignments.c.arm)
            .where(campaign_assignments.c.campaign_id == campaign_id))
        return {member_id: arm for member_id, arm in rows}

    async def assignment_page(self, campaign_id: int, *, arm: str | None,
                              request: PageRequest) -> Page[tuple[int, str]]:
        """(member id, arm) by member id, after the member id in `request.after`."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        query = select(campaign_assignments.c.member_id, campaign_assignments.c.arm).where(
            *self._assignment_filter(campaign_id, arm))
        if request.after is not None:
            query = query.where(campaign_assignments.c.member_id > request.after[0])
        rows = (await self.conn.execute(query.order_by(campaign_assignments.c.member_id)
                                        .limit(request.first + 1))).all()
        return Page(items=[(m, a) for m, a in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def assignment_count(self, campaign_id: int, *, arm: str | None) -> int:
        return (await self.conn.execute(select(func.count()).select_from(campaign_assignments)
                                        .where(*self._assignment_filter(campaign_id, arm)))
                ).scalar_one()

    @staticmethod
    def _assignment_filter(campaign_id: int, arm: str | None) -> list:
        conditions = [campaign_assignments.c.campaign_id == campaign_id]
        if arm is not None:
            conditions.append(campaign_assignments.c.arm == arm)
        return conditions

    async def arm_sizes(self, campaign_id: int) -> dict[str, int]:
        rows = await self.conn.execute(
            select(campaign_assignments.c.arm, func.count())
            .where(campaign_assignments.c.campaign_id == campaign_id)
            .group_by(campaign_assignments.c.arm))
        return {arm: n for arm, n in rows}

    # --- responses and results ---

    def _member_windows(self, windows: dict[int, tuple[EventType, Window]], *, rollup: bool):
        """Per (campaign, member, day): conversions and revenue of assigned members in
        their campaign's window, from the rollup or from events."""
        a = campaign_assignments
        if rollup:
            day, source = member_days.c.day, member_days
            join_on = member_days.c.member_id == a.c.member_id
            in_window = [and_(a.c.campaign_id == cid, day >= w.days[0], day < w.days[1])
                         for cid, (_, w) in windows.items()]
            conversions = case(*[(a.c.campaign_id == cid, ROLLUP_COLUMNS[event])
                                 for cid, (event, _) in windows.items()], else_=0)
            revenue = member_days.c.revenue_minor
        else:
            day, source = utc_day(self.conn.dialect.name), events
            join_on = events.c.member_id == a.c.member_id
            in_window = [and_(a.c.campaign_id == cid, events.c.occurred_at >= w.start,
                              events.c.occurred_at < w.end) for cid, (_, w) in windows.items()]
            conversions = case(*[(and_(a.c.campaign_id == cid, events.c.type == str(event)), 1)
                                 for cid, (event, _) in windows.items()], else_=0)
            revenue = func.coalesce(events.c.amount_minor, 0)
        return (select(a.c.campaign_id, a.c.member_id, a.c.arm, day.label("day"),
                       func.sum(conversions).label("conversions"),
                       func.sum(revenue).label("revenue"))
                .select_from(a.join(source, join_on))
                .where(a.c.campaign_id.in_(list(windows)), or_(*in_window))
                .group_by(a.c.campaign_id, a.c.member_id, a.c.arm, day))

    async def arm_counts(self, windows: dict[int, tuple[EventType, Window]]
                         ) -> dict[int, list[ArmCounts]]:
        """Per campaign and arm: members assigned, responders (members with a conversion
        event in the window), their revenue in the window, and the cost of rewards
        granted. Three statements per backend source for any number of campaigns."""
        if not windows:
            return {}
        ids = list(windows)
        found: dict[tuple[int, str], dict] = defaultdict(
            lambda: dict(n=0, responders=0, revenue_minor=0, cost_minor=0))
        for cid, arm, n in await self.conn.execute(
                select(campaign_assignments.c.campaign_id, campaign_assignments.c.arm,
                       func.count()).where(campaign_assignments.c.campaign_id.in_(ids))
                .group_by(campaign_assignments.c.campaign_id, campaign_assignments.c.arm)):
            found[(cid, arm)]["n"] = n
        for rollup in (True, False):
            part = {cid: (event, w) for cid, (event, w) in windows.items()
                    if uses_rollup(event, w) == rollup}
            if not part:
                continue
            days = self._member_windows(part, rollup=rollup).subquery()
            per_member = (select(days.c.campaign_id, days.c.arm,
                                 func.sum(days.c.conversions).label("conversions"),
                                 func.sum(days.c.revenue).label("revenue"))
                          .group_by(days.c.campaign_id, days.c.member_id, days.c.arm)
                          .subquery())
            rows = await self.conn.execute(
                select(per_member.c.campaign_id, per_member.c.arm, func.count(),
                       func.coalesce(func.sum(per_member.c.revenue), literal(0)))
                .where(per_member.c.conversions > 0)
                .group_by(per_member.c.campaign_id, per_member.c.arm))
            for cid, arm, responders, revenue in rows:
                found[(cid, arm)].update(responders=responders, revenue_minor=int(revenue))
        for cid, arm, cost in await self.conn.execute(
                select(campaign_rewards.c.campaign_id, campaign_rewards.c.arm,
                       func.sum(campaign_rewards.c.cost_minor))
                .where(campaign_rewards.c.campaign_id.in_(ids))
                .group_by(campaign_rewards.c.campaign_id, campaign_rewards.c.arm)):
            found[(cid, arm)]["cost_minor"] = int(cost)
        out: dict[int, list[ArmCounts]] = {cid: [] for cid in ids}
        for (cid, arm), values in found.items():
            out[cid].append(ArmCounts(arm=arm, **values))
        return out

    async def conversion_days(self, campaign_id: int, *, event: EventType, window: Window,
                              per_member_limit: int) -> list[tuple[int, str, date, int]]:
        """(member, arm, day, conversions) of variant (not control) members with at least
        one conversion in the window: each member's first `per_member_limit` such days."""
        days = self._member_windows({campaign_id: (event, window)},
                                    rollup=uses_rollup(event, window)).subquery()
        ranked = select(
            days.c.member_id, days.c.arm, days.c.day, days.c.conversions,
            func.row_number().over(partition_by=days.c.member_id, order_by=days.c.day)
            .label("nth"),
        ).where(days.c.conversions > 0, days.c.arm != CONTROL).subquery()
        rows = await self.conn.execute(
            select(ranked.c.member_id, ranked.c.arm, ranked.c.day, ranked.c.conversions)
            .where(ranked.c.nth <= per_member_limit))
        return [(m, arm, as_date(day), int(n)) for m, arm, day, n in rows]

    # --- rewards ---

    async def granted(self, campaign_id: int) -> Granted:
        rows = (await self.conn.execute(
            select(campaign_rewards.c.member_id, campaign_rewards.c.response_day,
                   campaign_rewards.c.response_seq, campaign_rewards.c.cost_minor)
            .where(campaign_rewards.c.campaign_id == campaign_id))).all()
        per_member: dict[int, int] = defaultdict(int)
        for row in rows:
            per_member[row.member_id] += 1
        return Granted(keys=frozenset((r.member_id, r.response_day, r.response_seq)
                                      for r in rows),
                       per_member=dict(per_member), count=len(rows),
                       cost_minor=sum(r.cost_minor for r in rows))

    async def add_rewards(self, campaign_id: int, grants: Sequence[Grant], *,
                          now: datetime) -> None:
        """Insert granted rewards; the unique (campaign, member, day, seq) key refuses a
        second grant of the same response."""
        if grants:
            await self.conn.execute(campaign_rewards.insert(), [dict(
                campaign_id=campaign_id, member_id=g.response.member_id, arm=g.response.arm,
                response_day=g.response.day, response_seq=g.response.seq, amount=g.amount,
                cost_minor=g.cost_minor, granted_at=now) for g in grants])

    async def reward_totals(self, campaign_id: int) -> tuple[int, int]:
        """(rewards granted, their cost in minor units) for a campaign."""
        count, cost = (await self.conn.execute(
            select(func.count(), func.coalesce(func.sum(campaign_rewards.c.cost_minor), 0))
            .where(campaign_rewards.c.campaign_id == campaign_id))).one()
        return count, int(cost)

