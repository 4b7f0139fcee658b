"""A campaign's experiment: design and results per arm (aggregates: every role that reads
campaigns, investors included, may read them), and the assignments (member rows: only
roles that read members)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.relay import Connection, connection, decode_cursor
from api.types import enums
from api.types.members import Member
from api.types.scalars import MinorUnits
from domain import experiments
from domain.access import Permission
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest

RewardUnit = enums.mirror(experiments.RewardUnit, "RewardUnit",
                          "MINOR: money in minor units; POINTS: points, each costing "
                          "pointValueMinor against the budget.")
StopReason = enums.mirror(experiments.StopReason, "RewardStopReason",
                          "Why a grant run stopped with responses still unrewarded.")


@strawberry.type(description="One arm of an experiment besides the holdout control.")
class Variant:
    key: str
    name: str
    weight: int = strawberry.field(description="Relative share of the non-control members.")
    reward: int = strawberry.field(description="Per rewarded response, in the reward unit.")
    message: str

    @classmethod
    def from_domain(cls, v: experiments.VariantSpec) -> Variant:
        return cls(key=v.key, name=v.name, weight=v.weight, reward=v.reward, message=v.message)


@strawberry.type(description="An arm's outcome over the campaign window; the control's "
                             "comparison fields are null.")
class ArmResult:
    arm: str = strawberry.field(description="A variant key, or `control`.")
    n: int = strawberry.field(description="Members assigned.")
    responders: int = strawberry.field(description="Assigned members with a conversion "
                                                   "event in [startsAt, endsAt).")
    conversion_rate: float | None = strawberry.field(description="responders / n.")
    uplift: float | None = strawberry.field(description="Conversion rate minus the "
                                                        "control's (absolute).")
    relative_uplift: float | None = strawberry.field(description="uplift / control rate.")
    ci_low: float | None = strawberry.field(description="95% Newcombe interval of uplift.")
    ci_high: float | None
    p_value: float | None = strawberry.field(description="Two-sided two-proportion z-test.")
    revenue: MinorUnits = strawberry.field(description="Revenue of the arm's responders "
                                                       "in the window.")
    cost: MinorUnits = strawberry.field(description="Budget cost of rewards granted.")
    roi: float | None = strawberry.field(
        description="(revenue - n x control revenue per member - cost) / cost; null at cost 0.")

    @classmethod
    def from_domain(cls, r: experiments.ArmResult) -> ArmResult:
        return cls(arm=r.arm, n=r.n, responders=r.responders,
                   conversion_rate=r.conversion_rate, uplift=r.uplift,
                   relative_uplift=r.relative_uplift, ci_low=r.ci_low, ci_high=r.ci_high,
                   p_value=r.p_value, revenue=MinorUnits(r.revenue_minor),
                   cost=MinorUnits(r.cost_minor), roi=r.roi)


@strawberry.type(description="A member's arm in an experiment.")
class CampaignAssignment:
    member: Member
    arm: str = strawberry.field(description="A variant key, or `control`.")


@strawberry.type(description="Variants, holdout control and reward limits of a campaign.")
class Experiment:
    variants: list[Variant]
    control_share: float
    conversion_event: enums.EventType
    reward_unit: RewardUnit  # type: ignore[valid-type]
    point_value_minor: MinorUnits
    per_member_limit: int
    global_limit: int | None
    seed: int | None
    started_at: datetime | None
    configured_at: datetime
    _campaign_id: strawberry.Private[int]

    @strawberry.field(description="Per arm, variants first; empty until started.")
    async def results(self, info: strawberry.Info) -> list[ArmResult]:
        found = await info.context.loaders.experiment_results.load(self._campaign_id)
        return [ArmResult.from_domain(r) for r in found]

    @strawberry.field(description="Assigned members by member id, optionally of one arm "
                                  "(needs member access: not for investors).")
    async def assignments(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                          after: str | None = None, arm: str | None = None
                          ) -> Connection[CampaignAssignment]:
        context = info.context
        context.require(Permission.READ_MEMBERS)
        kind = f"assignments:{self._campaign_id}"
        request = PageRequest(first=first,
                              after=decode_cursor(after, kind, (int,)) if after else None)
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.experiments.assignment_page(self._campaign_id, arm=arm,
                                                         request=request)
        found = await context.loaders.member.load_many([m for m, _ in page.items])
        nodes = [CampaignAssignment(member=Member.from_domain(m, personal=context.personal),
                                    arm=a) for m, (_, a) in zip(found, page.items, strict=True)]

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.experiments.assignment_count(self._campaign_id, arm=arm)

        return connection(nodes, [(m,) for m, _ in page.items], kind=kind,
                          has_next=page.has_next, after=after, count=count)

    @classmethod
    def from_domain(cls, e: experiments.Experiment) -> Experiment:
        spec = e.spec
        return cls(variants=[Variant.from_domain(v) for v in spec.variants],
                   control_share=spec.control_share,
                   conversion_event=enums.EventType(spec.conversion_event.value),
                   reward_unit=_mirror(RewardUnit, spec.reward_unit),
                   point_value_minor=MinorUnits(spec.point_value_minor),
                   per_member_limit=spec.per_member_limit, global_limit=spec.global_limit,
                   seed=e.seed, started_at=e.started_at, configured_at=e.configured_at,
                   _campaign_id=e.campaign_id)


def _mirror(api_enum: type[Enum], value: Enum) -> Enum:
    return api_enum(value.value)
