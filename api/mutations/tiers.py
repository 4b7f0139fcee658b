from __future__ import annotations

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types import enums
from api.types.members import Member
from api.types.tiers import Tier, TierAssignment
from domain import tiers
from domain.access import Permission
from domain.clock import utcnow
from domain.members import Channel

TierErrorCode = error_codes("TierErrorCode", "DUPLICATE_TIER", "MEMBER_MERGED")


@strawberry.type
class TierUserError(UserError):
    code: TierErrorCode


@strawberry.input
class TouchStrategyInput:
    channel: enums.Channel
    every_days: int
    content: str = ""


@strawberry.input
class CreateTierInput:
    key: str = strawberry.field(description="Stable machine name, e.g. `core`.")
    name: str
    rank: int = strawberry.field(description="1 is the top tier; unique.")
    touch_strategy: TouchStrategyInput
    description: str = ""
    benefits: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateTierInput:
    id: strawberry.ID
    key: str
    name: str
    rank: int
    touch_strategy: TouchStrategyInput
    description: str = ""
    benefits: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class TierPayload:
    tier: Tier | None
    user_errors: list[TierUserError]


@strawberry.input
class AssignTierInput:
    member_id: strawberry.ID
    tier_id: strawberry.ID | None = strawberry.field(
        description="null removes the member from any tier.")
    reason: str


@strawberry.type
class AssignTierPayload:
    assignment: TierAssignment | None
    member: Member | None
    user_errors: list[TierUserError]


def _spec(input: CreateTierInput | UpdateTierInput) -> tiers.TierSpec:
    touch = input.touch_strategy
    return tiers.TierSpec(
        key=input.key, name=input.name, rank=input.rank, description=input.description,
        benefits=tuple(input.benefits),
        touch=tiers.TouchStrategy(channel=Channel(touch.channel.value),
                                  every_days=touch.every_days, content=touch.content),
    )


def _run(info, use_case):
    return run(info, permission=Permission.WRITE_COMMUNITY, error_type=TierUserError,
               codes=TierErrorCode, use_case=use_case)


@strawberry.type
class TierMutations:
    @strawberry.mutation(description="Create a tier with its touch strategy.")
    async def create_tier(self, info: strawberry.Info, input: CreateTierInput) -> TierPayload:
        tier, errors = await _run(info, lambda uow: tiers.create_tier(
            uow=uow, spec=_spec(input), actor=info.context.actor))
        return TierPayload(tier=Tier.from_domain(tier) if tier else None, user_errors=errors)

    @strawberry.mutation(description="Change a tier's name, rank, benefits or strategy.")
    async def update_tier(self, info: strawberry.Info, input: UpdateTierInput) -> TierPayload:
        tier, errors = await _run(info, lambda uow: tiers.update_tier(
            uow=uow, tier_id=pk_of(input.id, "Tier", field="id"), spec=_spec(input),
            actor=info.context.actor))
        return TierPayload(tier=Tier.from_domain(tier) if tier else None, user_errors=errors)

    @strawberry.mutation(description="Manually place a member in a tier, with a reason. "
                                     "Automatic tier models never override it.")
    async def assign_tier(self, info: strawberry.Info,
                          input: AssignTierInput) -> AssignTierPayload:
        async def use_case(uow):
            member_id = pk_of(input.member_id, "Member", field="memberId")
            tier_id = pk_of(input.tier_id, "Tier", field="tierId") if input.tier_id else None
            assignment = await tiers.assign_tier(
                uow=uow, member_id=member_id, tier_id=tier_id, actor=info.context.actor,
                reason=input.reason, now=utcnow())
            return assignment, await uow.members.get(member_id)

        result, errors = await _run(info, use_case)
        assignment, member = result or (None, None)
        return AssignTierPayload(
            assignment=TierAssignment.from_domain(assignment) if assignment else None,
            member=Member.from_domain(member, personal=info.context.personal)
            if member else None,
            user_errors=errors,
        )
