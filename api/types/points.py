"""Points ledger, balances, benefits and earn rules as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Connection, Node, connection, decode_cursor, to_global_id
from api.types import enums
from api.types.tiers import Tier
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest
from domain.points import benefits, rules

PointsEntryKind = enums.mirror(rules.EntryKind, "PointsEntryKind",
                               "EARN, SPEND, EXPIRE, ADJUST, REVERSE, or TRANSFER_OUT / "
                               "TRANSFER_IN: a lot moved by a member merge or its undo.")


@strawberry.type(description="One append-only line of a member's points ledger. Credits "
                             "are positive, debits negative.")
class PointsEntry(Node):
    kind: PointsEntryKind
    amount: int
    reason: str
    actor: str
    idempotency_key: str
    occurred_at: datetime = strawberry.field(
        description="When the points were earned or spent (the event's time for accruals).")
    created_at: datetime = strawberry.field(description="When the line was written.")
    expires_at: datetime | None = strawberry.field(
        description="Credits only: when the unspent remainder expires (null: never).")
    reverses_entry_id: strawberry.ID | None = strawberry.field(
        description="For REVERSE: the entry it undoes.")

    @classmethod
    def from_domain(cls, entry: rules.Entry) -> PointsEntry:
        return cls(
            id=to_global_id("PointsEntry", entry.id),
            kind=PointsEntryKind(entry.kind.value), amount=entry.amount, reason=entry.reason,
            actor=entry.actor, idempotency_key=entry.idempotency_key,
            occurred_at=entry.occurred_at, created_at=entry.created_at,
            expires_at=entry.expires_at,
            reverses_entry_id=(to_global_id("PointsEntry", entry.reverses_entry_id)
                               if entry.reverses_entry_id else None),
        )


@strawberry.type(description="A member's points: the balance and the ledger behind it.")
class PointsAccount:
    _member_id: strawberry.Private[int]

    @strawberry.field(description="Points available now; never negative, always the sum of "
                                  "the ledger's amounts.")
    async def balance(self, info: strawberry.Info) -> int:
        return await info.context.loaders.points_balance.load(self._member_id)

    @strawberry.field(description="Ledger entries, newest first.")
    async def entries(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                      after: str | None = None) -> Connection[PointsEntry]:
        db = info.context.db
        key = decode_cursor(after, "points-entries", (int,)) if after else None
        request = PageRequest(first=first, after=key)
        async with db.unit_of_work(write=False) as uow:
            page = await uow.points.page(self._member_id, request)

        async def count() -> int:
            async with db.unit_of_work(write=False) as uow:
                return await uow.points.count(self._member_id)

        return connection([PointsEntry.from_domain(e) for e in page.items],
                          [(e.id,) for e in page.items], kind="points-entries",
                          has_next=page.has_next, after=after, count=count)


@strawberry.type(description="Something members redeem points for.")
class Benefit(Node):
    name: str
    cost_points: int
    stock: int | None = strawberry.field(description="Units left; null is unlimited.")
    active: bool = strawberry.field(description="Inactive benefits cannot be redeemed.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, benefit: benefits.Benefit) -> Benefit:
        return cls(id=to_global_id("Benefit", benefit.id), name=benefit.name,
                   cost_points=benefit.cost_points, stock=benefit.stock, active=benefit.active,
                   created_at=benefit.created_at, updated_at=benefit.updated_at)


@strawberry.type(description="A benefit redeemed by a member, paid by one SPEND entry.")
class BenefitRedemption(Node):
    cost_points: int
    redeemed_at: datetime
    _benefit_id: strawberry.Private[int]
    _entry: strawberry.Private[rules.Entry]

    @strawberry.field
    async def benefit(self, info: strawberry.Info) -> Benefit | None:
        found = await info.context.loaders.benefit.load(self._benefit_id)
        return Benefit.from_domain(found) if found else None

    @strawberry.field(description="The SPEND entry that paid for it.")
    def entry(self) -> PointsEntry:
        return PointsEntry.from_domain(self._entry)

    @classmethod
    def from_domain(cls, redemption: benefits.Redemption, entry: rules.Entry
                    ) -> BenefitRedemption:
        return cls(id=to_global_id("BenefitRedemption", redemption.id),
                   cost_points=redemption.cost_points, redeemed_at=redemption.redeemed_at,
                   _benefit_id=redemption.benefit_id, _entry=entry)


@strawberry.type(description="Points per event of a type, with an optional daily cap.")
class EarnRule:
    event_type: enums.EventType
    points: int = strawberry.field(description="Before the tier multiplier.")
    daily_cap: int | None = strawberry.field(
        description="At most this many events of the type earn per member and UTC day "
                    "(null: no cap).")
    expiry_days: int = strawberry.field(description="Accrued points expire after this many "
                                                    "days.")


@strawberry.type(description="Earned points are multiplied by the member's tier multiplier "
                             "(rounded down).")
class TierMultiplier:
    multiplier: float
    _tier_id: strawberry.Private[int]

    @strawberry.field
    async def tier(self, info: strawberry.Info) -> Tier | None:
        found = await info.context.loaders.tier.load(self._tier_id)
        return Tier.from_domain(found) if found else None


@strawberry.type(description="The earn rules and tier multipliers accruals use.")
class EarnRules:
    rules: list[EarnRule]
    tier_multipliers: list[TierMultiplier]

    @classmethod
    def from_domain(cls, earn_rules: rules.EarnRules) -> EarnRules:
        return cls(
            rules=[EarnRule(event_type=enums.EventType(r.event_type.value), points=r.points,
                            daily_cap=r.daily_cap, expiry_days=r.expiry_days)
                   for r in earn_rules.rules],
            tier_multipliers=[TierMultiplier(multiplier=m.factor, _tier_id=m.tier_id)
                              for m in earn_rules.multipliers],
        )
