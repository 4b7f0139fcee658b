"""Use cases of campaign experiments: configure, start (assign members), grant rewards,
read results. The rules they apply are in `domain.experiments`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from domain import experiments as rules
from domain.campaigns import Campaign, CampaignNotFound, CampaignStatus
from domain.clock import require_aware
from domain.experiments import Experiment, ExperimentSpec
from domain.points import ledger

CLOSED = (CampaignStatus.ENDED, CampaignStatus.CANCELLED)
GRANTABLE = (CampaignStatus.RUNNING, CampaignStatus.ENDED)
MAX_SEED = 2**31 - 1


class CampaignNotRunning(rules.ExperimentError):
    """Rewards are granted for running or ended campaigns only."""

    code = "CAMPAIGN_NOT_RUNNING"


@dataclass(frozen=True, slots=True)
class StartedExperiment:
    experiment: Experiment
    arm_sizes: dict[str, int]


@dataclass(frozen=True, slots=True)
class RewardRun:
    """What one grantCampaignRewards run did, and where the campaign stands after it."""

    campaign_id: int
    as_of: datetime
    granted: int
    granted_cost_minor: int
    stopped_by: rules.StopReason | None
    total_granted: int
    total_cost_minor: int
    remaining_budget_minor: int


async def _campaign(uow, campaign_id: int) -> Campaign:
    campaign = await uow.campaigns.get(campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"campaign {campaign_id} does not exist", field="campaignId")
    return campaign


def _open(campaign: Campaign) -> None:
    if campaign.status in CLOSED:
        raise rules.CampaignClosed(f"campaign {campaign.id} is {campaign.status}",
                                   field="campaignId")


async def configure_experiment(*, uow, campaign_id: int, spec: ExperimentSpec, actor: str,
                               now: datetime) -> Experiment:
    """Set (or replace) a campaign's variants, control share, conversion event and limits,
    until the experiment starts (then EXPERIMENT_STARTED). Without a conversion event the
    default of the campaign's kind applies (rules.DEFAULT_CONVERSION)."""
    await uow.experiments.lock_campaign(campaign_id)
    campaign = await _campaign(uow, campaign_id)
    _open(campaign)
    spec = rules.validate_spec(spec)
    if spec.conversion_event is None:
        spec = replace(spec, conversion_event=rules.DEFAULT_CONVERSION[campaign.spec.kind])
    existing = await uow.experiments.get(campaign_id)
    if existing is not None and existing.started_at is not None:
        raise rules.ExperimentStarted(
            f"campaign {campaign_id}'s experiment started at {existing.started_at.isoformat()}; "
            "its variants are frozen", field="campaignId")
    await uow.experiments.save(campaign_id, spec, now=now)
    await uow.audit.record(actor=actor, action="experiment.configure",
                           subject=f"campaign:{campaign_id}",
                           detail={"variants": [v.key for v in spec.variants],
                                   "control_share": spec.control_share})
    await uow.commit()
    return await uow.experiments.get(campaign_id)


async def start_experiment(*, uow, campaign_id: int, seed: int | None, actor: str,
                           now: datetime) -> StartedExperiment:
    """Assign every member in the campaign's segment now (active, in a target tier when
    tiers are given, acquired through a target channel when channels are given) to an
    arm drawn from (seed, campaign, member); a random seed is drawn and kept when none is
    given, so the assignment can always be recomputed."""
    await uow.experiments.lock_campaign(campaign_id)
    campaign = await _campaign(uow, campaign_id)
    _open(campaign)
    spec = campaign.spec
    if not spec.target_tier_ids and not spec.target_channels:
        raise rules.NoTargets(f"campaign {campaign_id} targets no tier and no channel",
                              field="campaignId")
    if spec.starts_at is None or spec.ends_at is None:
        raise rules.NoSchedule(f"campaign {campaign_id} needs startsAt and endsAt: responses "
                               "are counted in its window", field="campaignId")
    experiment = await uow.experiments.get(campaign_id)
    if experiment is None:
        raise rules.ExperimentNotConfigured(f"campaign {campaign_id} has no experiment",
                                            field="campaignId")
    if experiment.started_at is not None:
        raise rules.ExperimentStarted(f"campaign {campaign_id}'s experiment already started",
                                      field="campaignId")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED)
    elif not 0 <= seed <= MAX_SEED:
        raise rules.InvalidExperiment(f"seed must be between 0 and {MAX_SEED}, got {seed}",
                                      field="seed")
    member_ids = await uow.experiments.targeted_member_ids(tier_ids=spec.target_tier_ids,
                                                           channels=spec.target_channels)
    if not member_ids:
        raise rules.NoTargets(f"no active member is in campaign {campaign_id}'s segment",
                              field="campaignId")
    arms = rules.assign_arms(member_ids, seed=seed, campaign_id=campaign_id,
                             spec=experiment.spec)
    await uow.experiments.add_assignments(campaign_id, arms)
    if not await uow.experiments.mark_started(campaign_id, seed=seed, now=now):
        raise rules.ExperimentStarted(f"campaign {campaign_id}'s experiment already started",
                                      field="campaignId")
    sizes = await uow.experiments.arm_sizes(campaign_id)
    await uow.audit.record(actor=actor, action="experiment.start",
                           subject=f"campaign:{campaign_id}",
                           detail={"seed": seed, "arms": sizes})
    await uow.commit()
    return StartedExperiment(experiment=await uow.experiments.get(campaign_id), arm_sizes=sizes)


async def grant_campaign_rewards(*, uow, campaign_id: int, as_of: datetime, actor: str,
                                 now: datetime) -> RewardRun:
    """Reward the variant members' responses in [startsAt, min(endsAt, asOf)) not rewarded
    yet, within the per-member limit, the global limit and the budget.

    Runs are idempotent (a response is rewarded once) and serialised per campaign (a lock
    on the campaign row), so concurrent runs never exceed a limit or the budget. Running
    out of budget or reaching the global limit is not an error: the run grants what fits
    and says why it stopped (`stopped_by`).
    """
    as_of = require_aware(as_of, field="asOf")
    await uow.experiments.lock_campaign(campaign_id)
    campaign = await _campaign(uow, campaign_id)
    experiment = await uow.experiments.get(campaign_id)
    if experiment is None:
        raise rules.ExperimentNotConfigured(f"campaign {campaign_id} has no experiment",
                                            field="campaignId")
    if experiment.started_at is None:
        raise rules.ExperimentNotStarted(f"campaign {campaign_id}'s experiment has not started",
                                         field="campaignId")
    if campaign.status not in GRANTABLE:
        raise CampaignNotRunning(f"campaign {campaign_id} is {campaign.status}; rewards are "
                                 "granted while it runs or once it ended", field="campaignId")
    spec = experiment.spec
    window = rules.response_window(starts_at=campaign.spec.starts_at,
                                   ends_at=campaign.spec.ends_at, as_of=as_of)
    rows = await uow.experiments.conversion_days(
        campaign_id, event=spec.conversion_event, window=window,
        per_member_limit=spec.per_member_limit)
    responses = rules.expand_responses(rows, per_member_limit=spec.per_member_limit)
    granted = await uow.experiments.granted(campaign_id)
    allocation = rules.allocate_rewards(responses, spec=spec,
                                        budget_minor=campaign.spec.budget_minor, granted=granted)
    await uow.experiments.add_rewards(campaign_id, allocation.grants, now=now)
    if spec.reward_unit is rules.RewardUnit.POINTS:
        await ledger.credit_rewards(uow=uow, actor=actor, now=now, credits=[
            ledger.RewardCredit(
                member_id=g.response.member_id, points=g.amount,
                key=f"campaign-reward:{campaign_id}:{g.response.member_id}:"
                    f"{g.response.day.isoformat()}:{g.response.seq}",
                reason=f"campaign {campaign_id} ({g.response.arm}) response reward")
            for g in allocation.grants if g.amount > 0])
    cost = sum(g.cost_minor for g in allocation.grants)
    run = RewardRun(
        campaign_id=campaign_id, as_of=as_of, granted=len(allocation.grants),
        granted_cost_minor=cost,
        stopped_by=allocation.stopped_by, total_granted=granted.count + len(allocation.grants),
        total_cost_minor=granted.cost_minor + cost,
        remaining_budget_minor=campaign.spec.budget_minor - granted.cost_minor - cost)
    await uow.audit.record(actor=actor, action="experiment.grant_rewards",
                           subject=f"campaign:{campaign_id}",
                           detail={"as_of": as_of.isoformat(), "granted": run.granted,
                                   "cost_minor": cost,
                                   "stopped_by": str(run.stopped_by) if run.stopped_by else None})
    await uow.commit()
    return run


async def results_of(*, uow, campaign_ids) -> dict[int, list[rules.ArmResult]]:
    """Results of the started experiments among `campaign_ids`, over each campaign's
    whole window [startsAt, endsAt) (events after now do not exist yet)."""
    found = await uow.experiments.get_many(campaign_ids)
    started = {cid: e for cid, e in found.items() if e.started_at is not None}
    campaigns = await uow.campaigns.get_many(list(started))
    windows = {cid: (e.spec.conversion_event,
                     rules.response_window(starts_at=campaigns[cid].spec.starts_at,
                                           ends_at=campaigns[cid].spec.ends_at))
               for cid, e in started.items()
               if campaigns[cid].spec.starts_at and campaigns[cid].spec.ends_at}
    counts = await uow.experiments.arm_counts(windows)
    return {cid: rules.results(started[cid].spec, counts.get(cid, [])) for cid in started}
