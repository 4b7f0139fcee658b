"""The points ledger, balances, earn rules and benefits in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, and_, any_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.clock import utcnow
from domain.events import EventType
from domain.paging import Page, PageRequest
from domain.points.benefits import Benefit, BenefitSpec, Redemption
from domain.points.rules import (
    Accrual,
    AccrualCandidate,
    EarnRule,
    EarnRules,
    Entry,
    EntryKind,
    TierMultiplier,
)
from domain.store.repositories.activity import members_with_events, utc_day
from domain.store.tables import (
    benefit_redemptions,
    benefits,
    events,
    members,
    points_balances,
    points_earn_rules,
    points_entries,
    points_tier_multipliers,
)

_KINDS = {k.value: k for k in EntryKind}
_CHUNK = 1000  # rows per multi-row INSERT


def _entry(row) -> Entry:
    return Entry(id=row.id, member_id=row.member_id, kind=_KINDS[row.kind], amount=row.amount,
                 idempotency_key=row.idempotency_key, reason=row.reason, actor=row.actor,
                 occurred_at=row.occurred_at, created_at=row.created_at,
                 expires_at=row.expires_at, reverses_entry_id=row.reverses_entry_id,
                 lot_entry_id=row.lot_entry_id, event_id=row.event_id)


def _benefit(row) -> Benefit:
    return Benefit(id=row.id, name=row.name, cost_points=row.cost_points, stock=row.stock,
                   active=row.active, created_at=row.created_at, updated_at=row.updated_at)


def _redemption(row) -> Redemption:
    return Redemption(id=row.id, member_id=row.member_id, benefit_id=row.benefit_id,
                      entry_id=row.entry_id, cost_points=row.cost_points,
                      redeemed_at=row.redeemed_at)


class PointsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self, table):
        return (postgresql if self.conn.dialect.name == "postgresql" else sqlite).insert(table)

    # ----------------------------------------------------------------- entries

    async def insert_entry(self, new) -> int | None:
        """Append one entry; None when its idempotency key (or, for a reversal, the
        reversed entry) is taken already, by a committed or a concurrent writer."""
        statement = (self._insert(points_entries).values(
            member_id=new.member_id, kind=str(new.kind), amount=new.amount,
            idempotency_key=new.idempotency_key, reason=new.reason, actor=new.actor,
            occurred_at=new.occurred_at, created_at=utcnow(),
            expires_at=new.expires_at, reverses_entry_id=new.reverses_entry_id,
            lot_entry_id=new.lot_entry_id, event_id=new.event_id,
        ).on_conflict_do_nothing().returning(points_entries.c.id))
        return (await self.conn.execute(statement)).scalar()

    async def get_entry(self, entry_id: int) -> Entry | None:
        row = (await self.conn.execute(
            select(points_entries).where(points_entries.c.id == entry_id))).first()
        return _entry(row) if row else None

    async def entry_by_key(self, key: str) -> Entry | None:
        row = (await self.conn.execute(
            select(points_entries).where(points_entries.c.idempotency_key == key))).first()
        return _entry(row) if row else None

    async def reversal_of(self, entry_id: int) -> Entry | None:
        row = (await self.conn.execute(select(points_entries).where(
            points_entries.c.reverses_entry_id == entry_id))).first()
        return _entry(row) if row else None

    async def entries_of(self, member_id: int) -> list[Entry]:
        """A member's whole ledger, oldest first (for the FIFO replay)."""
        rows = await self.conn.execute(select(points_entries)
                                       .where(points_entries.c.member_id == member_id)
                                       .order_by(points_entries.c.id))
        return [_entry(row) for row in rows]

    async def lots_credited_by_key_prefix(self, member_id: int, prefix: str) -> list[int]:
        """Ids of the member's transfer_in lots whose idempotency key starts with `prefix`."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self.conn.execute(select(points_entries.c.id).where(
            points_entries.c.member_id == member_id,
            points_entries.c.kind == EntryKind.TRANSFER_IN.value,
            points_entries.c.idempotency_key.like(f"{pattern}%", escape="\\")))
        return list(rows.scalars())

    async def lots_continuing(self, lot_ids) -> set[int]:
        """Ids of the transfer_in lots that continue any of `lot_ids` (any member)."""
        rows = await self.conn.execute(select(points_entries.c.id).where(
            points_entries.c.kind == EntryKind.TRANSFER_IN.value,
            points_entries.c.lot_entry_id.in_(list(lot_ids))))
        return set(rows.scalars())

    async def page(self, member_id: int, request: PageRequest) -> Page[Entry]:
        """A member's entries, newest first (id descending)."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        query = select(points_entries).where(points_entries.c.member_id == member_id)
        if request.after is not None:
            query = query.where(points_entries.c.id < request.after[0])
        rows = (await self.conn.execute(
            query.order_by(points_entries.c.id.desc()).limit(request.first + 1))).all()
        return Page(items=[_entry(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def count(self, member_id: int) -> int:
        return (await self.conn.execute(select(func.count()).select_from(points_entries)
                                        .where(points_entries.c.member_id == member_id))
                ).scalar_one()

    async def ledger_sum(self, member_id: int) -> int:
        return (await self.conn.execute(
            select(func.coalesce(func.sum(points_entries.c.amount), 0))
            .where(points_entries.c.member_id == member_id))).scalar_one()

    # ---------------------------------------------------------------- balances

    async def credit(self, amounts: dict[int, int]) -> None:
        """Add points to balances (creating rows), in the given member order."""
        statement = self._insert(points_balances)
        statement = statement.on_conflict_do_update(
            index_elements=["member_id"],
            set_={"balance": points_balances.c.balance + statement.excluded.balance})
        await self.conn.execute(statement, [{"member_id": m, "balance": amount}
                                            for m, amount in amounts.items()])

    async def debit(self, member_id: int, amount: int) -> bool:
        """Take `amount` only if the balance covers it (one conditional UPDATE, so
        concurrent debits serialise on the row and re-check); False when it does not."""
        result = await self.conn.execute(
            update(points_balances)
            .where(points_balances.c.member_id == member_id, points_balances.c.balance >= amount)
            .values(balance=points_balances.c.balance - amount))
        return result.rowcount == 1

    async def lock_balance(self, member_id: int) -> None:
        """Hold the member's balance row until commit (PostgreSQL; SQLite writers hold
        the database lock already)."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(select(points_balances.c.balance)
                                    .where(points_balances.c.member_id == member_id)
                                    .with_for_update())

    async def lock_member(self, member_id: int) -> None:
        """Hold a share lock on the member's row until commit (PostgreSQL), so a member
        merge in flight (which updates that row) finishes before the caller reads the
        member's status, and a merge waits for the caller's entries before moving the
        points. Writers of one member's points share it; SQLite writers hold the database
        lock already."""
        await self.lock_members([member_id])

    async def lock_members(self, member_ids) -> None:
        """`lock_member` for many members in one statement (in id order)."""
        ids = sorted(set(member_ids))
        if ids and self.conn.dialect.name == "postgresql":
            await self.conn.execute(
                select(members.c.id)
                .where(members.c.id == any_(bindparam("ids", ids,
                                                      type_=postgresql.ARRAY(BigInteger))))
                .order_by(members.c.id).with_for_update(read=True))

    async def balances(self, member_ids) -> dict[int, int]:
        rows = await self.conn.execute(
            select(points_balances.c.member_id, points_balances.c.balance)
            .where(points_balances.c.member_id.in_(list(member_ids))))
        return {member_id: balance for member_id, balance in rows}

    # ------------------------------------------------------------- earn rules

    async def earn_rules(self) -> EarnRules:
        rule_rows = await self.conn.execute(select(points_earn_rules)
                                            .order_by(points_earn_rules.c.event_type))
        rules = tuple(EarnRule(event_type=EventType(r.event_type), points=r.points,
                               daily_cap=r.daily_cap, expiry_days=r.expiry_days)
                      for r in rule_rows)
        multiplier_rows = await self.conn.execute(select(points_tier_multipliers)
                                                  .order_by(points_tier_multipliers.c.tier_id))
        return EarnRules(rules=rules, multipliers=tuple(
            TierMultiplier(tier_id=r.tier_id, permille=r.permille) for r in multiplier_rows))

    async def replace_rules(self, rules: EarnRules, *, now: datetime) -> None:
        await self.conn.execute(delete(points_earn_rules))
        await self.conn.execute(delete(points_tier_multipliers))
        if rules.rules:
            await self.conn.execute(points_earn_rules.insert(), [
                dict(event_type=str(r.event_type), points=r.points, daily_cap=r.daily_cap,
                     expiry_days=r.expiry_days, updated_at=now) for r in rules.rules])
        if rules.multipliers:
            await self.conn.execute(points_tier_multipliers.insert(), [
                dict(tier_id=m.tier_id, permille=m.permille, updated_at=now)
                for m in rules.multipliers])

    async def accrual_candidates(self, types: list[str], *, since: datetime | None,
                                 before: datetime) -> list[AccrualCandidate]:
        """Events of `types` in [since, before), with the member's tier and whether an
        earn entry for the event exists already."""
        earned = exists().where(points_entries.c.event_id == events.c.id,
                                points_entries.c.kind == EntryKind.EARN.value)
        condition = and_(events.c.type.in_(types), events.c.occurred_at < before)
        if since is not None:
            condition = and_(condition, events.c.occurred_at >= since)
        last_day = (before - timedelta(microseconds=1)).astimezone(UTC).date()
        first_day = since.astimezone(UTC).date() if since is not None else None
        condition = and_(condition, events.c.member_id.in_(members_with_events(
            [EventType(t) for t in types], first_day, last_day)))
        if self.conn.dialect.name == "sqlite":  # the period's events by their day (day first)
            day = utc_day("sqlite")
            condition = and_(condition, day <= last_day.isoformat())
            if first_day is not None:
                condition = and_(condition, day >= first_day.isoformat())
        rows = await self.conn.execute(
            select(events.c.id, events.c.member_id, events.c.type, events.c.occurred_at,
                   members.c.tier_id, earned.label("accrued"))
            .join(members, members.c.id == events.c.member_id).where(condition))
        return [AccrualCandidate(event_id=r.id, member_id=r.member_id, event_type=r.type,
                                 occurred_at=r.occurred_at, tier_id=r.tier_id,
                                 accrued=bool(r.accrued)) for r in rows]

    async def insert_accruals(self, accruals: list[Accrual], *, actor: str,
                              now: datetime) -> list[Accrual]:
        """Insert earn entries; return those actually written (a concurrent run may
        have written some of the keys)."""
        by_key = {a.idempotency_key: a for a in accruals}
        written: list[Accrual] = []
        statement = (self._insert(points_entries).on_conflict_do_nothing()
                     .returning(points_entries.c.idempotency_key))
        for start in range(0, len(accruals), _CHUNK):
            rows = [dict(member_id=a.member_id, kind=EntryKind.EARN.value, amount=a.points,
                         idempotency_key=a.idempotency_key, reason=f"{a.event_type} event",
                         actor=actor, occurred_at=a.occurred_at, created_at=now,
                         expires_at=a.expires_at, reverses_entry_id=None, lot_entry_id=None,
                         event_id=a.event_id)
                    for a in accruals[start:start + _CHUNK]]
            keys = (await self.conn.execute(statement, rows)).scalars()
            written += [by_key[key] for key in keys]
        return written

    async def members_with_expired_lots(self, as_of: datetime) -> list[int]:
        """Members with a positive balance and a credit expired by `as_of` that has no
        expire entry yet."""
        lot = points_entries.alias("lot")
        expired = exists().where(points_entries.c.lot_entry_id == lot.c.id,
                                 points_entries.c.kind == EntryKind.EXPIRE.value)
        rows = await self.conn.execute(
            select(lot.c.member_id).distinct()
            .join(points_balances, points_balances.c.member_id == lot.c.member_id)
            .where(points_balances.c.balance > 0, lot.c.amount > 0,
                   lot.c.expires_at <= as_of, ~expired))
        return [member_id for (member_id,) in rows]

    # ---------------------------------------------------------------- benefits

    async def add_benefit(self, spec: BenefitSpec, *, now: datetime) -> int:
        result = await self.conn.execute(benefits.insert().values(
            name=spec.name, cost_points=spec.cost_points, stock=spec.stock, active=spec.active,
            created_at=now, updated_at=now).returning(benefits.c.id))
        return result.scalar_one()

    async def update_benefit(self, benefit_id: int, spec: BenefitSpec, *, now: datetime) -> None:
        await self.conn.execute(update(benefits).where(benefits.c.id == benefit_id).values(
            name=spec.name, cost_points=spec.cost_points, stock=spec.stock, active=spec.active,
            updated_at=now))

    async def get_benefit(self, benefit_id: int) -> Benefit | None:
        row = (await self.conn.execute(
            select(benefits).where(benefits.c.id == benefit_id))).first()
        return _benefit(row) if row else None

    async def get_benefits(self, benefit_ids) -> dict[int, Benefit]:
        rows = await self.conn.execute(select(benefits)
                                       .where(benefits.c.id.in_(list(benefit_ids))))
        return {row.id: _benefit(row) for row in rows}

    async def benefit_page(self, *, active_only: bool, request: PageRequest) -> Page[Benefit]:
        """Benefits, newest first (id descending)."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        query = select(benefits)
        if active_only:
            query = query.where(benefits.c.active.is_(True))
        if request.after is not None:
            query = query.where(benefits.c.id < request.after[0])
        rows = (await self.conn.execute(
            query.order_by(benefits.c.id.desc()).limit(request.first + 1))).all()
        return Page(items=[_benefit(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def benefit_count(self, *, active_only: bool) -> int:
        query = select(func.count()).select_from(benefits)
        if active_only:
            query = query.where(benefits.c.active.is_(True))
        return (await self.conn.execute(query)).scalar_one()

    async def take_stock(self, benefit_id: int) -> bool:
        """One unit less (unlimited stays unlimited); False when none is left."""
        result = await self.conn.execute(
            update(benefits)
            .where(benefits.c.id == benefit_id,
                   or_(benefits.c.stock.is_(None), benefits.c.stock > 0))
            .values(stock=benefits.c.stock - 1))
        return result.rowcount == 1

    async def add_redemption(self, *, member_id: int, benefit_id: int, entry_id: int,
                             cost_points: int, now: datetime) -> int:
        result = await self.conn.execute(benefit_redemptions.insert().values(
            member_id=member_id, benefit_id=benefit_id, entry_id=entry_id,
            cost_points=cost_points, redeemed_at=now).returning(benefit_redemptions.c.id))
        return result.scalar_one()

    async def get_redemption(self, redemption_id: int) -> Redemption | None:
        row = (await self.conn.execute(select(benefit_redemptions).where(
            benefit_redemptions.c.id == redemption_id))).first()
        return _redemption(row) if row else None

    async def redemption_of_entry(self, entry_id: int) -> Redemption | None:
        row = (await self.conn.execute(select(benefit_redemptions).where(
            benefit_redemptions.c.entry_id == entry_id))).first()
        return _redemption(row) if row else None
