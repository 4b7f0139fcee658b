from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Node, to_global_id
from api.types import enums
from domain import tiers


@strawberry.type(description="How a tier is contacted.")
class TouchStrategy:
    channel: enums.Channel
    every_days: int = strawberry.field(description="Contact at most once every N days.")
    content: str


@strawberry.type(description="A class of members with its own operating strategy.")
class Tier(Node):
    key: str
    name: str
    rank: int = strawberry.field(description="1 is the top tier.")
    description: str
    benefits: list[str]
    touch_strategy: TouchStrategy
    _pk: strawberry.Private[int]

    @strawberry.field(description="Active members currently in this tier.")
    async def member_count(self, info: strawberry.Info) -> int:
        return await info.context.loaders.tier_member_count.load(self._pk)

    @classmethod
    def from_domain(cls, tier: tiers.Tier) -> Tier:
        return cls(
            id=to_global_id("Tier", tier.id), _pk=tier.id, key=tier.key, name=tier.name,
            rank=tier.rank, description=tier.description, benefits=list(tier.benefits),
            touch_strategy=TouchStrategy(channel=enums.Channel(tier.touch.channel.value),
                                         every_days=tier.touch.every_days,
                                         content=tier.touch.content),
        )


@strawberry.type(description="One change of a member's tier: who, when, why.")
class TierAssignment(Node):
    source: enums.AssignmentSource
    model_version: int | None
    actor: str
    reason: str
    assigned_at: datetime
    _tier_id: strawberry.Private[int | None]
    _previous_tier_id: strawberry.Private[int | None]

    @strawberry.field
    async def tier(self, info: strawberry.Info) -> Tier | None:
        return await _tier(info, self._tier_id)

    @strawberry.field
    async def previous_tier(self, info: strawberry.Info) -> Tier | None:
        return await _tier(info, self._previous_tier_id)

    @classmethod
    def from_domain(cls, assignment: tiers.TierAssignment) -> TierAssignment:
        return cls(
            id=to_global_id("TierAssignment", assignment.id),
            source=enums.AssignmentSource(assignment.source.value),
            model_version=assignment.model_version, actor=assignment.actor,
            reason=assignment.reason, assigned_at=assignment.assigned_at,
            _tier_id=assignment.tier_id, _previous_tier_id=assignment.previous_tier_id,
        )


async def _tier(info: strawberry.Info, tier_id: int | None) -> Tier | None:
    if tier_id is None:
        return None
    tier = await info.context.loaders.tier.load(tier_id)
    return Tier.from_domain(tier) if tier else None
