from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Node, to_global_id
from api.types import enums
from api.types.experiments import Experiment
from api.types.scalars import MinorUnits
from api.types.tiers import Tier
from domain import campaigns


@strawberry.type(description="A targeted operation with a schedule and a budget.")
class Campaign(Node):
    name: str
    kind: enums.CampaignKind
    status: enums.CampaignStatus
    target_channels: list[enums.Channel]
    starts_at: datetime | None
    ends_at: datetime | None
    budget_minor: MinorUnits
    currency: str
    created_at: datetime
    updated_at: datetime
    _target_tier_ids: strawberry.Private[tuple[int, ...]]
    _pk: strawberry.Private[int]

    @strawberry.field
    async def target_tiers(self, info: strawberry.Info) -> list[Tier]:
        found = await info.context.loaders.tier.load_many(list(self._target_tier_ids))
        return [Tier.from_domain(t) for t in found if t is not None]

    @strawberry.field(description="The campaign's A/B experiment; null until configured.")
    async def experiment(self, info: strawberry.Info) -> Experiment | None:
        found = await info.context.loaders.experiment.load(self._pk)
        return Experiment.from_domain(found) if found else None

    @classmethod
    def from_domain(cls, campaign: campaigns.Campaign) -> Campaign:
        spec = campaign.spec
        return cls(
            id=to_global_id("Campaign", campaign.id), name=spec.name,
            kind=enums.CampaignKind(spec.kind.value),
            status=enums.CampaignStatus(campaign.status.value),
            target_channels=[enums.Channel(c.value) for c in spec.target_channels],
            starts_at=spec.starts_at, ends_at=spec.ends_at, budget_minor=spec.budget_minor,
            currency=spec.currency, created_at=campaign.created_at,
            updated_at=campaign.updated_at, _target_tier_ids=spec.target_tier_ids,
            _pk=campaign.id,
        )
