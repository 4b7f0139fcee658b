from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Node, to_global_id
from api.types import enums
from api.types.tiers import Tier
from domain import retiering, tier_models


async def _tier(info: strawberry.Info, tier_id: int | None) -> Tier | None:
    if tier_id is None:
        return None
    found = await info.context.loaders.tier.load(tier_id)
    return Tier.from_domain(found) if found else None


@strawberry.type(description="A member feature at or above which a THRESHOLDS tier matches.")
class FeatureMinimum:
    feature: str
    minimum: float


@strawberry.type(description="One tier's rule in a tier model.")
class TierModelTier:
    minimums: list[FeatureMinimum] = strawberry.field(description="THRESHOLDS: all must hold.")
    percent: float | None = strawberry.field(description="QUOTAS: share of members.")
    min_score: int | None = strawberry.field(description="RFM: lowest total score (3-15).")
    _tier_id: strawberry.Private[int]

    @strawberry.field
    async def tier(self, info: strawberry.Info) -> Tier | None:
        return await _tier(info, self._tier_id)


@strawberry.type(description="A versioned rule set placing members in tiers; one is active.")
class TierModel(Node):
    kind: enums.TierModelKind
    version: int
    active: bool
    created_by: str
    created_at: datetime
    window_days: int = strawberry.field(description="Window of windowed features, in days.")
    grace_days: int = strawberry.field(description="Days a demotion waits before it applies.")
    features: list[str] = strawberry.field(description="QUOTAS score / KMEANS features; "
                                                       "empty: the kind's defaults.")
    seed: int
    tiers: list[TierModelTier] = strawberry.field(description="Top rank first.")

    @classmethod
    def from_domain(cls, model: tier_models.TierModel) -> TierModel:
        spec = model.spec
        return cls(
            id=to_global_id("TierModel", model.id), kind=enums.TierModelKind(spec.kind.value),
            version=model.version, active=model.active, created_by=model.created_by,
            created_at=model.created_at, window_days=spec.window_days,
            grace_days=spec.grace_days, features=list(spec.features), seed=spec.seed,
            tiers=[TierModelTier(minimums=[FeatureMinimum(feature=f, minimum=v)
                                           for f, v in rule.minimums],
                                 percent=rule.percent, min_score=rule.min_score,
                                 _tier_id=rule.tier_id) for rule in spec.tiers],
        )


@strawberry.type(description="How many members go from one tier to another (null: no tier).")
class TierMove:
    count: int
    _from: strawberry.Private[int | None]
    _to: strawberry.Private[int | None]

    @strawberry.field
    async def from_tier(self, info: strawberry.Info) -> Tier | None:
        return await _tier(info, self._from)

    @strawberry.field
    async def to_tier(self, info: strawberry.Info) -> Tier | None:
        return await _tier(info, self._to)


@strawberry.type(description="Members in a tier (null: no tier) before and after the run.")
class TierCount:
    before: int
    after: int
    _tier_id: strawberry.Private[int | None]

    @strawberry.field
    async def tier(self, info: strawberry.Info) -> Tier | None:
        return await _tier(info, self._tier_id)


@strawberry.type(description="What a tier model run does, in numbers.")
class TierModelRun:
    members: int = strawberry.field(description="Active members evaluated.")
    changed: int = strawberry.field(description="Members whose tier changes.")
    held_by_grace: int = strawberry.field(
        description="Members the model would demote who keep their tier for now.")
    protected_manual: int = strawberry.field(
        description="Members the model would move who keep a manually assigned tier.")
    moves: list[TierMove] = strawberry.field(description="Current tier x new tier, stays "
                                                         "included.")
    tier_counts: list[TierCount]

    @classmethod
    def from_domain(cls, preview: retiering.Preview) -> TierModelRun:
        keys = sorted(preview.before.keys() | preview.after.keys(),
                      key=lambda t: (t is None, t or 0))
        return cls(
            members=preview.members, changed=preview.changed,
            held_by_grace=preview.held_by_grace, protected_manual=preview.protected_manual,
            moves=[TierMove(count=n, _from=a, _to=b) for (a, b), n in sorted(
                preview.moves.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or 0,
                                                       kv[0][1] is None, kv[0][1] or 0))],
            tier_counts=[TierCount(before=preview.before.get(t, 0),
                                   after=preview.after.get(t, 0), _tier_id=t) for t in keys],
        )


@strawberry.type(description="A member feature tier models can use.")
class MemberFeature:
    name: str
    description: str
