from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types import enums
from api.types.campaigns import Campaign
from api.types.scalars import MinorUnits
from domain import campaigns
from domain.access import Permission
from domain.clock import utcnow
from domain.members import Channel

CampaignErrorCode = error_codes("CampaignErrorCode", "NO_TARGETS", "INVALID_TRANSITION",
                                "NOT_EDITABLE")


@strawberry.type
class CampaignUserError(UserError):
    code: CampaignErrorCode


@strawberry.input
class CampaignFields:
    name: str
    kind: enums.CampaignKind
    budget_minor: MinorUnits = strawberry.field(description="Budget in minor units.")
    target_tier_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    target_channels: list[enums.Channel] = strawberry.field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    currency: str = "CNY"


@strawberry.input
class CreateCampaignInput(CampaignFields):
    """A new draft campaign: the shared campaign fields, no id."""


@strawberry.input
class UpdateCampaignInput(CampaignFields):
    id: strawberry.ID


@strawberry.input
class ChangeCampaignStatusInput:
    id: strawberry.ID
    status: enums.CampaignStatus


@strawberry.type
class CampaignPayload:
    campaign: Campaign | None
    user_errors: list[CampaignUserError]


def _spec(input: CampaignFields) -> campaigns.CampaignSpec:
    return campaigns.CampaignSpec(
        name=input.name, kind=campaigns.CampaignKind(input.kind.value),
        target_tier_ids=tuple(pk_of(t, "Tier", field="targetTierIds")
                              for t in input.target_tier_ids),
        target_channels=tuple(Channel(c.value) for c in input.target_channels),
        starts_at=input.starts_at, ends_at=input.ends_at, budget_minor=input.budget_minor,
        currency=input.currency,
    )


async def _payload(info, use_case) -> CampaignPayload:
    campaign, errors = await run(info, permission=Permission.WRITE_COMMUNITY,
                                 error_type=CampaignUserError, codes=CampaignErrorCode,
                                 use_case=use_case)
    return CampaignPayload(campaign=Campaign.from_domain(campaign) if campaign else None,
                           user_errors=errors)


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(description="Create a draft campaign.")
    async def create_campaign(self, info: strawberry.Info,
                              input: CreateCampaignInput) -> CampaignPayload:
        return await _payload(info, lambda uow: campaigns.create_campaign(
            uow=uow, spec=_spec(input), actor=info.context.actor, now=utcnow()))

    @strawberry.mutation(description="Edit a draft or scheduled campaign.")
    async def update_campaign(self, info: strawberry.Info,
                              input: UpdateCampaignInput) -> CampaignPayload:
        return await _payload(info, lambda uow: campaigns.update_campaign(
            uow=uow, campaign_id=pk_of(input.id, "Campaign", field="id"), spec=_spec(input),
            actor=info.context.actor, now=utcnow()))

    @strawberry.mutation(description="Move a campaign along draft -> scheduled -> running -> "
                                     "ended, or cancel it; other moves are INVALID_TRANSITION.")
    async def change_campaign_status(self, info: strawberry.Info,
                                     input: ChangeCampaignStatusInput) -> CampaignPayload:
        return await _payload(info, lambda uow: campaigns.change_status(
            uow=uow, campaign_id=pk_of(input.id, "Campaign", field="id"),
            to=campaigns.CampaignStatus(input.status.value), actor=info.context.actor,
            now=utcnow()))
