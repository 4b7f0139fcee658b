"""Badges and their awards; rules evaluated with set-based SQL.

Every rule goes through one shape: a per-member, per-UTC-day subquery of matching
events (`hits`, `amount`) - read from the member_days rollup when only event types
matter, from raw events when properties or amounts do - then one aggregate per
member (sum, count of days, sum of amounts, or the longest run of consecutive days
by gaps-and-islands), kept when it reaches the goal and the member lacks the badge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    extract,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.badge_rules import Aggregation, FilterOp, PropertyFilter, Rule, period
from domain.badges import (
    EVIDENCE_LIMIT,
    Award,
    Badge,
    BadgeSpec,
    EvidenceEvent,
    GrowthStage,
    Qualified,
)
from domain.clock import utcnow
from domain.events import EventType
from domain.store.days import as_date, midnight
from domain.store.repositories.activity import days_named, members_with_events, utc_day
from domain.store.tables import badge_awards, badges, events, member_days

_ROLLUP_COLUMNS = {
    EventType.LOGIN: "logins", EventType.POST: "posts", EventType.COMMENT: "comments",
    EventType.LIKE: "likes", EventType.SHARE: "shares", EventType.CHECK_IN: "check_ins",
    EventType.PURCHASE: "purchases", EventType.REFERRAL_INVITE: "referral_invites",
}
_CHUNK = 500  # member ids per IN list


def _badge(row) -> Badge:
    return Badge(id=row.id, key=row.key, name=row.name, stage=GrowthStage(row.stage),
                 rule=Rule.from_json(row.rule), description=row.description,
                 benefit=row.benefit)


def _award(row) -> Award:
    return Award(
        id=row.id, member_id=row.member_id, badge_id=row.badge_id, awarded_at=row.awarded_at,
        as_of=as_date(row.as_of), value=row.value, rule=Rule.from_json(row.rule),
        evidence=tuple(EvidenceEvent(event_id=e["id"], external_id=e["external_id"],
                                     type=EventType(e["type"]),
                                     occurred_at=datetime.fromisoformat(e["occurred_at"]))
                       for e in row.evidence),
        via_merge_id=row.via_merge_id,
    )




class BadgeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _dialect(self) -> str:
        return self.conn.dialect.name

    # --- badges ---

    async def add(self, spec: BadgeSpec) -> int:
        now = utcnow()
        result = await self.conn.execute(badges.insert().values(
            key=spec.key, name=spec.name, stage=str(spec.stage), description=spec.description,
            benefit=spec.benefit, rule=spec.rule.to_json(), created_at=now, updated_at=now,
        ).returning(badges.c.id))
        return result.scalar_one()

    async def set_rule(self, badge_id: int, rule: Rule) -> None:
        await self.conn.execute(update(badges).where(badges.c.id == badge_id)
                                .values(rule=rule.to_json(), updated_at=utcnow()))

    async def get(self, badge_id: int) -> Badge | None:
        row = (await self.conn.execute(select(badges).where(badges.c.id == badge_id))).first()
        return _badge(row) if row else None

    async def get_by_key(self, key: str) -> Badge | None:
        row = (await self.conn.execute(select(badges).where(badges.c.key == key))).first()
        return _badge(row) if row else None

    async def get_many(self, badge_ids) -> dict[int, Badge]:
        rows = await self.conn.execute(select(badges).where(badges.c.id.in_(list(badge_ids))))
        return {row.id: _badge(row) for row in rows}

    async def list(self) -> list[Badge]:
        rows = await self.conn.execute(select(badges).order_by(badges.c.id))
        return [_badge(row) for row in rows]

    async def award_counts(self, badge_ids) -> dict[int, int]:
        rows = await self.conn.execute(
            select(badge_awards.c.badge_id, func.count())
            .where(badge_awards.c.badge_id.in_(list(badge_ids)))
            .group_by(badge_awards.c.badge_id))
        return {badge_id: count for badge_id, count in rows}

    # --- awards ---

    async def awards_of(self, member_ids) -> dict[int, list[Award]]:
        """Each member's awards, oldest first, for many members in one statement."""
        rows = await self.conn.execute(
            select(badge_awards).where(badge_awards.c.member_id.in_(list(member_ids)))
            .order_by(badge_awards.c.member_id, badge_awards.c.awarded_at, badge_awards.c.id))
        out: dict[int, list[Award]] = {}
        for row in rows:
            out.setdefault(row.member_id, []).append(_award(row))
        return out

    async def qualifying(self, badge: Badge, *, as_of: date,
                         member_ids: Sequence[int] | None = None) -> list[Qualified]:
        """Members (all active ones, or `member_ids`) whose aggregate under the badge's
        rule reaches its goal as of `as_of` and who do not hold the badge yet."""
        out: list[Qualified] = []
        for chunk in _chunks(member_ids):
            statement = self._qualifying(badge, as_of=as_of, member_ids=chunk)
            for row in await self.conn.execute(statement):
                out.append(Qualified(member_id=row.member_id, value=int(row.value),
                                     first_day=as_date(row.first_day),
                                     last_day=as_date(row.last_day)))
        out.sort(key=lambda q: q.member_id)
        return out

    async def award(self, badge: Badge, qualified: Sequence[Qualified], *, as_of: date,
                    now: datetime) -> None:
        """Store awards for `qualified` with their evidence; a member who already holds
        the badge (a concurrent run got there first) keeps the award they have."""
        evidence = await self._evidence(badge, as_of=as_of,
                                        member_ids=[q.member_id for q in qualified])
        rule = badge.rule.to_json()
        rows = [dict(member_id=q.member_id, badge_id=badge.id, awarded_at=now, as_of=as_of,
                     value=q.value, rule=rule, evidence=evidence.get(q.member_id, []))
                for q in qualified]
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        statement = dialect.insert(badge_awards).on_conflict_do_nothing(
            index_elements=["member_id", "badge_id"])
        for start in range(0, len(rows), _CHUNK):
            await self.conn.execute(statement, rows[start:start + _CHUNK])

    async def copy_awards(self, *, from_member: int, to_member: int, badge_ids: Sequence[int],
                          merge_id: int) -> list[int]:
        """Copy `from_member`'s awards of `badge_ids` to `to_member` as they are (time,
        value, rule, evidence), marked as copied by member merge `merge_id`; a badge
        `to_member` holds by now (an award run got there first) is kept as it is. Returns
        the badge ids copied."""
        source = badge_awards.alias("source")
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        statement = dialect.insert(badge_awards).from_select(
            ["member_id", "badge_id", "awarded_at", "as_of", "value", "rule", "evidence",
             "via_merge_id"],
            select(literal(to_member, BigInteger()), source.c.badge_id, source.c.awarded_at,
                   source.c.as_of, source.c.value, source.c.rule, source.c.evidence,
                   literal(merge_id, BigInteger()))
            .where(source.c.member_id == from_member, source.c.badge_id.in_(list(badge_ids)))
            .order_by(source.c.badge_id))
        rows = await self.conn.execute(
            statement.on_conflict_do_nothing(index_elements=["member_id", "badge_id"])
            .returning(badge_awards.c.badge_id))
        return sorted(rows.scalars())

    async def remove_merge_awards(self, *, member_id: int, merge_id: int) -> list[int]:
        """Delete the member's awards copied by merge `merge_id`; their badge ids."""
        rows = await self.conn.execute(
            delete(badge_awards)
            .where(badge_awards.c.member_id == member_id, badge_awards.c.via_merge_id == merge_id)
            .returning(badge_awards.c.badge_id))
        return sorted(rows.scalars())

    # --- SQL for rules ---

    def _matching_days(self, badge: Badge, *, as_of: date, member_ids):
        """(member_id, day, hits, amount) of each member-day with matching events, for
        members who lack the badge."""
        rule = badge.rule
        first, last = period(rule, as_of)
        if rule.needs_raw_events:
            day = utc_day(self._dialect).label("day")
            where = [*self._event_conditions(rule), events.c.occurred_at
                     < midnight(last + timedelta(days=1))]
            if first is not None:
                where.append(events.c.occurred_at >= midnight(first))
            member = events.c.member_id
            if member_ids is None:  # the period's members, then their events by index
                where.append(member.in_(members_with_events(rule.event_types, first, last)))
                if self._dialect == "sqlite":  # events of the period's days (day first)
                    where.append(utc_day("sqlite") <= last.isoformat())
                    if first is not None:
                        where.append(utc_day("sqlite") >= first.isoformat())
            else:  # these members' events on each day (see rollup_days)
                where.extend(days_named(self._dialect, utc_day(self._dialect), first, last,
                                        name="raw_days"))
            amount = func.coalesce(func.sum(cast(events.c.amount_minor, BigInteger)),
                                   literal(0))
            query = (select(member.label("member_id"), day, func.count().label("hits"),
                            amount.label("amount"))
                     .group_by(member, day))
        else:
            columns = [member_days.c[_ROLLUP_COLUMNS[t]] for t in rule.event_types] \
                or [member_days.c.events]
            hits = columns[0]
            for column in columns[1:]:
                hits = hits + column
            member = member_days.c.member_id
            where = [hits > 0, member_days.c.day <= last]
            if first is not None:
                where.append(member_days.c.day >= first)
            if member_ids is not None:  # these members' rows of each day (see rollup_days)
                where.extend(days_named(self._dialect, member_days.c.day, first, last,
                                        name="rollup_days"))
            query = select(member.label("member_id"), member_days.c.day.label("day"),
                           hits.label("hits"), member_days.c.revenue_minor.label("amount"))
        if member_ids is not None:
            where.append(member.in_(member_ids))
        where.append(~exists().where(badge_awards.c.badge_id == badge.id,
                                     badge_awards.c.member_id == member))
        return query.where(*where).subquery("matching_days")

    def _event_conditions(self, rule: Rule) -> list:
        where = []
        if rule.event_types:
            where.append(events.c.type.in_([t.value for t in rule.event_types]))
        if rule.min_amount_minor is not None:
            where.append(events.c.amount_minor >= rule.min_amount_minor)
        where.extend(self._property_condition(f) for f in rule.filters)
        return where

    def _property_condition(self, f: PropertyFilter):
        """A JSON property test that never fails on a value of another type."""
        if self._dialect == "postgresql":
            # Bind the key as text: a JSON-typed operand would be serialised to '"key"'.
            key = literal(f.property, String)
            kind = func.json_typeof(events.c.properties.op("->", return_type=String)(key))
            text = events.c.properties.op("->>", return_type=String)(key)
            types = {"bool": "boolean", "num": "number", "str": "string"}
        else:
            path = f'$."{f.property}"'
            kind = func.json_type(events.c.properties, path)
            text = func.json_extract(events.c.properties, path)
            types = {"num": ("integer", "real"), "str": "text"}
        if f.op is FilterOp.PRESENT:
            return and_(kind.is_not(None), kind != "null")
        value = f.value
        if isinstance(value, bool):
            if self._dialect == "postgresql":
                return and_(kind == "boolean", text == ("true" if value else "false"))
            return kind == ("true" if value else "false")
        if isinstance(value, str):
            return and_(kind == types["str"], text == value)
        number = (kind == types["num"] if self._dialect == "postgresql"
                  else kind.in_(types["num"]))
        # CASE keeps PostgreSQL from casting a non-number (no short-circuit in AND).
        as_number = case((number, cast(text, Float)), else_=null())
        return as_number >= value if f.op is FilterOp.AT_LEAST else as_number == value

    def _day_number(self, column):
        if self._dialect == "postgresql":
            return cast(extract("epoch", column) / 86400, Integer)
        return cast(func.julianday(column), Integer)

    def _qualifying(self, badge: Badge, *, as_of: date, member_ids):
        rule = badge.rule
        days = self._matching_days(badge, as_of=as_of, member_ids=member_ids)
        if rule.aggregation is Aggregation.STREAK_DAYS:
            return self._streaks(days, goal=rule.goal)
        value = {Aggregation.COUNT: func.sum(days.c.hits),
                 Aggregation.DISTINCT_DAYS: func.count(),
                 Aggregation.SUM_AMOUNT: func.sum(days.c.amount)}[rule.aggregation]
        return (select(days.c.member_id, value.label("value"),
                       null().label("first_day"), null().label("last_day"))
                .group_by(days.c.member_id).having(value >= rule.goal))

    def _streaks(self, days, *, goal: int):
        """Longest run of consecutive days per member (earliest on a tie): consecutive
        days share `day number - row number`, so each run is one group."""
        island = (self._day_number(days.c.day)
                  - func.row_number().over(partition_by=days.c.member_id,
                                           order_by=days.c.day))
        numbered = select(days.c.member_id, days.c.day, island.label("island")).subquery()
        runs = (select(numbered.c.member_id, func.count().label("value"),
                       func.min(numbered.c.day).label("first_day"),
                       func.max(numbered.c.day).label("last_day"))
                .group_by(numbered.c.member_id, numbered.c.island)
                .having(func.count() >= goal).subquery())
        best = func.row_number().over(partition_by=runs.c.member_id,
                                      order_by=(runs.c.value.desc(), runs.c.first_day))
        ranked = select(runs, best.label("position")).subquery()
        return select(ranked.c.member_id, ranked.c.value, ranked.c.first_day,
                      ranked.c.last_day).where(ranked.c.position == 1)

    async def _evidence(self, badge: Badge, *, as_of: date,
                        member_ids: Sequence[int]) -> dict[int, list[dict]]:
        """The earliest matching events in the period per member (for a streak: in its
        longest run), at most EVIDENCE_LIMIT, or `goal` for a count."""
        rule = badge.rule
        limit = EVIDENCE_LIMIT
        if rule.aggregation is Aggregation.COUNT:
            limit = min(limit, rule.goal)
        first, last = period(rule, as_of)
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(member_ids):
            where = [*self._event_conditions(rule), events.c.member_id.in_(chunk),
                     events.c.occurred_at < midnight(last + timedelta(days=1))]
            if first is not None:
                where.append(events.c.occurred_at >= midnight(first))
            # these members' events on each day of the period (see rollup_days)
            where.extend(days_named(self._dialect, utc_day(self._dialect), first, last,
                                    name="evidence_days"))
            source = events
            if rule.aggregation is Aggregation.STREAK_DAYS:
                runs = self._qualifying(badge, as_of=as_of, member_ids=chunk).subquery()
                source = events.join(runs, runs.c.member_id == events.c.member_id)
                day = utc_day(self._dialect)
                where.append(and_(day >= runs.c.first_day, day <= runs.c.last_day))
            position = func.row_number().over(partition_by=events.c.member_id,
                                              order_by=(events.c.occurred_at, events.c.id))
            ranked = (select(events.c.id, events.c.member_id, events.c.external_id,
                             events.c.type, events.c.occurred_at, position.label("position"))
                      .select_from(source).where(*where).subquery())
            rows = await self.conn.execute(
                select(ranked).where(ranked.c.position <= limit)
                .order_by(ranked.c.member_id, ranked.c.position))
            for row in rows:
                out.setdefault(row.member_id, []).append({
                    "id": row.id, "external_id": row.external_id, "type": row.type,
                    "occurred_at": row.occurred_at.isoformat()})
        return out


def _chunks(member_ids: Sequence[int] | None):
    if member_ids is None:
        yield None
        return
    ids = list(member_ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]

