"""Points mutations: awards, redemptions, reversals, benefits, earn rules, accrual, expiry."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types.members import Member
from api.types.points import Benefit, BenefitRedemption, EarnRules, PointsEntry
from domain.access import Permission
from domain.clock import require_aware, utcnow
from domain.points import benefits, ledger, rules

PointsErrorCode = error_codes(
    "PointsErrorCode", "INSUFFICIENT_POINTS", "IDEMPOTENCY_KEY_REUSED", "OUT_OF_STOCK",
    "BENEFIT_INACTIVE", "ALREADY_REVERSED", "NOT_REVERSIBLE", "UNKNOWN_EVENT_TYPE",
    "NEGATIVE_POINTS", "INVALID_MULTIPLIER", "DUPLICATE_RULE", "MEMBER_MERGED")


@strawberry.type
class PointsUserError(UserError):
    code: PointsErrorCode


@strawberry.enum(description="What an operator may award: EARN (expires) or ADJUST "
                             "(a correction of either sign; credits never expire).")
class AwardKind(Enum):
    EARN = "earn"
    ADJUST = "adjust"


@strawberry.input
class AwardPointsInput:
    member_id: strawberry.ID
    amount: int = strawberry.field(description="Positive for EARN; either sign for ADJUST.")
    reason: str
    idempotency_key: str = strawberry.field(
        description="Same key and amount again: the first entry is returned, counted once.")
    kind: AwardKind = AwardKind.ADJUST
    expires_in_days: int | None = strawberry.field(
        default=None, description=f"EARN only; default {rules.DEFAULT_EXPIRY_DAYS}.")


@strawberry.type
class PointsEntryPayload:
    entry: PointsEntry | None
    member: Member | None
    user_errors: list[PointsUserError]


@strawberry.input
class RedeemBenefitInput:
    member_id: strawberry.ID
    benefit_id: strawberry.ID
    idempotency_key: str


@strawberry.type
class RedeemBenefitPayload:
    redemption: BenefitRedemption | None
    member: Member | None
    user_errors: list[PointsUserError]


@strawberry.input
class ReversePointsEntryInput:
    entry_id: strawberry.ID
    reason: str


@strawberry.input
class CreateBenefitInput:
    name: str
    cost_points: int
    stock: int | None = strawberry.field(default=None, description="null: unlimited.")
    active: bool = True


@strawberry.input
class UpdateBenefitInput:
    id: strawberry.ID
    name: str
    cost_points: int
    stock: int | None = strawberry.field(default=None, description="null: unlimited.")
    active: bool = True


@strawberry.type
class BenefitPayload:
    benefit: Benefit | None
    user_errors: list[PointsUserError]


@strawberry.input
class EarnRuleInput:
    event_type: str = strawberry.field(description="An event type, e.g. `check_in`.")
    points: int
    daily_cap: int | None = strawberry.field(
        default=None, description="Events per member and UTC day that earn; null: no cap.")
    expiry_days: int = rules.DEFAULT_EXPIRY_DAYS


@strawberry.input
class TierMultiplierInput:
    tier_id: strawberry.ID
    multiplier: float = strawberry.field(description="e.g. 1.5; must be positive.")


@strawberry.input
class SetEarnRulesInput:
    rules: list[EarnRuleInput]
    tier_multipliers: list[TierMultiplierInput] = strawberry.field(default_factory=list)


@strawberry.type
class SetEarnRulesPayload:
    earn_rules: EarnRules | None
    user_errors: list[PointsUserError]


@strawberry.input
class AccruePointsInput:
    as_of: datetime | None = strawberry.field(default=None,
                                              description="Events before it; default now.")
    since: datetime | None = strawberry.field(
        default=None, description="From the UTC day of this time; default all events.")


@strawberry.type
class AccruePointsPayload:
    examined: int | None = strawberry.field(description="Events of rule types looked at.")
    written: int | None = strawberry.field(description="Earn entries written by this call.")
    points: int | None
    members: int | None
    user_errors: list[PointsUserError]


@strawberry.input
class ExpirePointsInput:
    as_of: datetime | None = strawberry.field(default=None, description="Default now.")


@strawberry.type
class ExpirePointsPayload:
    written: int | None = strawberry.field(description="Expire entries written by this call.")
    points: int | None
    members: int | None
    user_errors: list[PointsUserError]


def _run(info, use_case):
    return run(info, permission=Permission.WRITE_COMMUNITY, error_type=PointsUserError,
               codes=PointsErrorCode, use_case=use_case)


def _member_id(value: str) -> int:
    return pk_of(value, "Member", field="memberId")


def _benefit_spec(input: CreateBenefitInput | UpdateBenefitInput) -> benefits.BenefitSpec:
    return benefits.BenefitSpec(name=input.name, cost_points=input.cost_points,
                                stock=input.stock, active=input.active)


async def _member(info, member_id: int | None) -> Member | None:
    if member_id is None:
        return None
    found = await info.context.loaders.member.load(member_id)
    return Member.from_domain(found, personal=info.context.personal) if found else None


def _time(value: datetime | None, field: str) -> datetime:
    return utcnow() if value is None else require_aware(value, field=field)


@strawberry.type
class PointsMutations:
    @strawberry.mutation(description="Credit (EARN/ADJUST) or debit (negative ADJUST) a "
                                     "member's points, with a reason.")
    async def award_points(self, info: strawberry.Info,
                           input: AwardPointsInput) -> PointsEntryPayload:
        entry, errors = await _run(info, lambda uow: ledger.award_points(
            uow=uow, member_id=_member_id(input.member_id), amount=input.amount,
            kind=rules.EntryKind(input.kind.value), reason=input.reason,
            idempotency_key=input.idempotency_key, actor=info.context.actor, now=utcnow(),
            expiry_days=input.expires_in_days))
        return PointsEntryPayload(entry=PointsEntry.from_domain(entry) if entry else None,
                                  member=await _member(info, entry and entry.member_id),
                                  user_errors=errors)

    @strawberry.mutation(description="Spend a benefit's cost and take one unit of its stock; "
                                     "a retry with the same key returns the same redemption.")
    async def redeem_benefit(self, info: strawberry.Info,
                             input: RedeemBenefitInput) -> RedeemBenefitPayload:
        async def use_case(uow):
            redemption = await ledger.redeem_benefit(
                uow=uow, member_id=_member_id(input.member_id),
                benefit_id=pk_of(input.benefit_id, "Benefit", field="benefitId"),
                idempotency_key=input.idempotency_key, actor=info.context.actor, now=utcnow())
            return redemption, await uow.points.get_entry(redemption.entry_id)

        result, errors = await _run(info, use_case)
        redemption, entry = result or (None, None)
        return RedeemBenefitPayload(
            redemption=BenefitRedemption.from_domain(redemption, entry) if redemption else None,
            member=await _member(info, redemption and redemption.member_id), user_errors=errors)

    @strawberry.mutation(description="Append the opposite of an entry (once per entry).")
    async def reverse_points_entry(self, info: strawberry.Info,
                                   input: ReversePointsEntryInput) -> PointsEntryPayload:
        entry, errors = await _run(info, lambda uow: ledger.reverse_entry(
            uow=uow, entry_id=pk_of(input.entry_id, "PointsEntry", field="entryId"),
            reason=input.reason, actor=info.context.actor, now=utcnow()))
        return PointsEntryPayload(entry=PointsEntry.from_domain(entry) if entry else None,
                                  member=await _member(info, entry and entry.member_id),
                                  user_errors=errors)

    @strawberry.mutation(description="Add a benefit to the catalogue.")
    async def create_benefit(self, info: strawberry.Info,
                             input: CreateBenefitInput) -> BenefitPayload:
        benefit, errors = await _run(info, lambda uow: benefits.create_benefit(
            uow=uow, spec=_benefit_spec(input), actor=info.context.actor, now=utcnow()))
        return BenefitPayload(benefit=Benefit.from_domain(benefit) if benefit else None,
                              user_errors=errors)

    @strawberry.mutation(description="Change a benefit; `stock` is set outright (restock).")
    async def update_benefit(self, info: strawberry.Info,
                             input: UpdateBenefitInput) -> BenefitPayload:
        benefit, errors = await _run(info, lambda uow: benefits.update_benefit(
            uow=uow, benefit_id=pk_of(input.id, "Benefit", field="id"),
            spec=_benefit_spec(input), actor=info.context.actor, now=utcnow()))
        return BenefitPayload(benefit=Benefit.from_domain(benefit) if benefit else None,
                              user_errors=errors)

    @strawberry.mutation(description="Replace the earn rules and tier multipliers.")
    async def set_earn_rules(self, info: strawberry.Info,
                             input: SetEarnRulesInput) -> SetEarnRulesPayload:
        def multipliers():
            return [rules.TierMultiplier(
                tier_id=pk_of(m.tier_id, "Tier", field=f"tierMultipliers.{i}.tierId"),
                permille=rules.to_permille(m.multiplier,
                                          field=f"tierMultipliers.{i}.multiplier"))
                for i, m in enumerate(input.tier_multipliers)]

        found, errors = await _run(info, lambda uow: ledger.set_earn_rules(
            uow=uow, earn_rules=[rules.EarnRule(event_type=r.event_type, points=r.points,
                                                daily_cap=r.daily_cap,
                                                expiry_days=r.expiry_days)
                                 for r in input.rules],
            multipliers=multipliers(), actor=info.context.actor, now=utcnow()))
        return SetEarnRulesPayload(earn_rules=EarnRules.from_domain(found) if found else None,
                                   user_errors=errors)

    @strawberry.mutation(description="Turn stored events into EARN entries per the earn "
                                     "rules; idempotent (each event earns once).")
    async def accrue_points(self, info: strawberry.Info,
                            input: AccruePointsInput | None = None) -> AccruePointsPayload:
        input = input or AccruePointsInput()
        report, errors = await _run(info, lambda uow: ledger.accrue_points(
            uow=uow, as_of=_time(input.as_of, "asOf"),
            since=_time(input.since, "since") if input.since else None,
            actor=info.context.actor, now=utcnow()))
        if report is None:
            return AccruePointsPayload(examined=None, written=None, points=None, members=None,
                                       user_errors=errors)
        return AccruePointsPayload(examined=report.examined, written=report.written,
                                   points=report.points, members=report.members, user_errors=[])

    @strawberry.mutation(description="Expire the unspent remainder of lots expired by asOf; "
                                     "idempotent.")
    async def expire_points(self, info: strawberry.Info,
                            input: ExpirePointsInput | None = None) -> ExpirePointsPayload:
        input = input or ExpirePointsInput()
        report, errors = await _run(info, lambda uow: ledger.expire_points(
            uow=uow, as_of=_time(input.as_of, "asOf"), actor=info.context.actor, now=utcnow()))
        if report is None:
            return ExpirePointsPayload(written=None, points=None, members=None,
                                       user_errors=errors)
        return ExpirePointsPayload(written=report.written, points=report.points,
                                   members=report.members, user_errors=[])
