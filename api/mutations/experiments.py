"""configureExperiment, startExperiment, grantCampaignRewards: thin over
domain.experiment_runs; every expected failure is an ExperimentErrorCode."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types import enums
from api.types.campaigns import Campaign
from api.types.experiments import Experiment, RewardUnit, StopReason
from api.types.scalars import MinorUnits
from domain import experiment_runs, experiments
from domain.access import Permission
from domain.clock import utcnow
from domain.events import EventType

ExperimentErrorCode = error_codes(
    "ExperimentErrorCode", "NO_TARGETS", "NO_VARIANTS", "INVALID_WEIGHT",
    "INVALID_CONTROL_SHARE", "DUPLICATE_VARIANT", "EXPERIMENT_STARTED",
    "EXPERIMENT_NOT_CONFIGURED", "EXPERIMENT_NOT_STARTED", "NO_SCHEDULE", "CAMPAIGN_CLOSED",
    "CAMPAIGN_NOT_RUNNING")


@strawberry.type
class ExperimentUserError(UserError):
    code: ExperimentErrorCode


@strawberry.input
class VariantInput:
    key: str = strawberry.field(description="Stable name, e.g. `coupon-10`; not `control`.")
    weight: int = strawberry.field(description="Positive integer: relative share.")
    reward: int = strawberry.field(description="Per rewarded response, in rewardUnit.")
    name: str = ""
    message: str = ""


@strawberry.input
class ConfigureExperimentInput:
    campaign_id: strawberry.ID
    variants: list[VariantInput]
    control_share: float = strawberry.field(description="Holdout share in [0, 0.5].")
    conversion_event: enums.EventType | None = strawberry.field(
        default=None, description="What counts as a response; default by campaign kind "
                                  "(coupon: PURCHASE, check-in streak: CHECK_IN, "
                                  "win-back: LOGIN, ...).")
    reward_unit: RewardUnit = RewardUnit.MINOR  # type: ignore[valid-type]
    point_value_minor: MinorUnits = MinorUnits(0)
    per_member_limit: int = strawberry.field(default=1,
                                             description="Rewards per member per campaign.")
    global_limit: int | None = strawberry.field(default=None,
                                                description="Rewards per campaign in all.")


@strawberry.input
class StartExperimentInput:
    campaign_id: strawberry.ID
    seed: int | None = strawberry.field(
        default=None, description="0..2^31-1; the same seed gives the same arms. "
                                  "Drawn at random (and kept) when omitted.")


@strawberry.input
class GrantCampaignRewardsInput:
    campaign_id: strawberry.ID
    as_of: datetime | None = strawberry.field(
        default=None, description="Responses before this instant count; default now.")


@strawberry.type
class ArmSize:
    arm: str
    n: int


@strawberry.type(description="What a grant run did. Running out of budget or reaching the "
                             "global limit is reported in stoppedBy, not as an error.")
class RewardRunSummary:
    as_of: datetime
    granted: int
    granted_cost: MinorUnits
    stopped_by: StopReason | None  # type: ignore[valid-type]
    total_granted: int
    total_cost: MinorUnits
    remaining_budget: MinorUnits


@strawberry.type
class ConfigureExperimentPayload:
    campaign: Campaign | None
    experiment: Experiment | None
    user_errors: list[ExperimentUserError]


@strawberry.type
class StartExperimentPayload:
    campaign: Campaign | None
    experiment: Experiment | None
    arm_sizes: list[ArmSize]
    user_errors: list[ExperimentUserError]


@strawberry.type
class GrantCampaignRewardsPayload:
    campaign: Campaign | None
    summary: RewardRunSummary | None
    user_errors: list[ExperimentUserError]


def _spec(input: ConfigureExperimentInput) -> experiments.ExperimentSpec:
    return experiments.ExperimentSpec(
        variants=tuple(experiments.VariantSpec(key=v.key, name=v.name, weight=v.weight,
                                               reward=v.reward, message=v.message)
                       for v in input.variants),
        control_share=input.control_share,
        conversion_event=EventType(input.conversion_event.value) if input.conversion_event
        else None,
        reward_unit=experiments.RewardUnit(input.reward_unit.value),
        point_value_minor=input.point_value_minor, per_member_limit=input.per_member_limit,
        global_limit=input.global_limit)


async def _run(info, use_case):
    return await run(info, permission=Permission.WRITE_COMMUNITY,
                     error_type=ExperimentUserError, codes=ExperimentErrorCode,
                     use_case=use_case)


async def _campaign(info, campaign_id: int) -> Campaign | None:
    found = await info.context.loaders.campaign.load(campaign_id)
    return Campaign.from_domain(found) if found else None


@strawberry.type
class ExperimentMutations:
    @strawberry.mutation(description="Set a campaign's variants, holdout control share, "
                                     "conversion event and reward limits (until started).")
    async def configure_experiment(self, info: strawberry.Info, input: ConfigureExperimentInput
                                   ) -> ConfigureExperimentPayload:
        async def use_case(uow):
            return await experiment_runs.configure_experiment(
                uow=uow, campaign_id=pk_of(input.campaign_id, "Campaign", field="campaignId"),
                spec=_spec(input), actor=info.context.actor, now=utcnow())

        found, errors = await _run(info, use_case)
        if found is None:
            return ConfigureExperimentPayload(campaign=None, experiment=None, user_errors=errors)
        return ConfigureExperimentPayload(campaign=await _campaign(info, found.campaign_id),
                                          experiment=Experiment.from_domain(found),
                                          user_errors=[])

    @strawberry.mutation(description="Assign the campaign's segment to arms, reproducibly "
                                     "from the seed; once only.")
    async def start_experiment(self, info: strawberry.Info, input: StartExperimentInput
                               ) -> StartExperimentPayload:
        async def use_case(uow):
            return await experiment_runs.start_experiment(
                uow=uow, campaign_id=pk_of(input.campaign_id, "Campaign", field="campaignId"),
                seed=input.seed, actor=info.context.actor, now=utcnow())

        started, errors = await _run(info, use_case)
        if started is None:
            return StartExperimentPayload(campaign=None, experiment=None, arm_sizes=[],
                                          user_errors=errors)
        experiment = started.experiment
        return StartExperimentPayload(
            campaign=await _campaign(info, experiment.campaign_id),
            experiment=Experiment.from_domain(experiment),
            arm_sizes=[ArmSize(arm=a, n=n) for a, n in sorted(started.arm_sizes.items())],
            user_errors=[])

    @strawberry.mutation(description="Reward responses not rewarded yet, within the "
                                     "per-member limit, the global limit and the budget.")
    async def grant_campaign_rewards(self, info: strawberry.Info,
                                     input: GrantCampaignRewardsInput
                                     ) -> GrantCampaignRewardsPayload:
        async def use_case(uow):
            return await experiment_runs.grant_campaign_rewards(
                uow=uow, campaign_id=pk_of(input.campaign_id, "Campaign", field="campaignId"),
                as_of=input.as_of or utcnow(), actor=info.context.actor, now=utcnow())

        done, errors = await _run(info, use_case)
        if done is None:
            return GrantCampaignRewardsPayload(campaign=None, summary=None, user_errors=errors)
        return GrantCampaignRewardsPayload(
            campaign=await _campaign(info, done.campaign_id),
            summary=RewardRunSummary(
                as_of=done.as_of, granted=done.granted,
                granted_cost=MinorUnits(done.granted_cost_minor),
                stopped_by=StopReason(done.stopped_by.value) if done.stopped_by else None,
                total_granted=done.total_granted, total_cost=MinorUnits(done.total_cost_minor),
                remaining_budget=MinorUnits(done.remaining_budget_minor)),
            user_errors=[])
