"""Campaigns and their status lifecycle: draft -> scheduled -> running -> ended/cancelled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from domain import errors
from domain.clock import require_aware
from domain.members import Channel


class CampaignKind(StrEnum):
    CHECK_IN_STREAK = "check_in_streak"
    TOPIC = "topic"
    LIVE_SESSION = "live_session"
    COURSE = "course"
    MEETUP = "meetup"
    COUPON = "coupon"
    REFERRAL = "referral"
    WIN_BACK = "win_back"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    ENDED = "ended"
    CANCELLED = "cancelled"


TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED}),
    CampaignStatus.SCHEDULED: frozenset(
        {CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.CANCELLED}
    ),
    CampaignStatus.RUNNING: frozenset({CampaignStatus.ENDED, CampaignStatus.CANCELLED}),
    CampaignStatus.ENDED: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}

MAX_BUDGET_MINOR = 10**13  # 100 billion in major units: beyond that it is a typo


class CampaignError(errors.DomainError):
    """Base of campaign failures."""


class CampaignNotFound(CampaignError, errors.NotFound):
    """No campaign has that id."""


class InvalidCampaign(CampaignError, errors.InvalidValue):
    """A campaign field is empty, negative or out of order."""


class CampaignWithoutTargets(CampaignError):
    """A campaign must target at least one tier or channel segment."""

    code = "NO_TARGETS"


class InvalidTransition(CampaignError):
    """The campaign cannot move from its current status to the one asked for."""

    code = "INVALID_TRANSITION"


class UnknownTargetTier(CampaignError, errors.NotFound):
    """A target tier id names no tier."""


class CampaignNotEditable(CampaignError):
    """Only draft and scheduled campaigns can be edited."""

    code = "NOT_EDITABLE"


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    name: str
    kind: CampaignKind
    target_tier_ids: tuple[int, ...]
    target_channels: tuple[Channel, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    budget_minor: int
    currency: str = "CNY"


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    spec: CampaignSpec
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime


def validate_spec(spec: CampaignSpec) -> CampaignSpec:
    name = spec.name.strip()
    if not name or len(name) > 200:
        raise InvalidCampaign("name must be 1-200 characters", field="name")
    if not spec.target_tier_ids and not spec.target_channels:
        raise CampaignWithoutTargets(
            "a campaign needs at least one target tier or channel", field="targetTierIds"
        )
    if not 0 <= spec.budget_minor <= MAX_BUDGET_MINOR:
        raise InvalidCampaign(
            f"budget must be between 0 and {MAX_BUDGET_MINOR} minor units, "
            f"got {spec.budget_minor}", field="budgetMinor",
        )
    if len(spec.currency) != 3 or not spec.currency.isalpha():
        raise InvalidCampaign(f"currency {spec.currency!r} is not an ISO 4217 code",
                              field="currency")
    starts = require_aware(spec.starts_at, field="startsAt") if spec.starts_at else None
    ends = require_aware(spec.ends_at, field="endsAt") if spec.ends_at else None
    if starts and ends and ends <= starts:
        raise InvalidCampaign(
            f"endsAt {ends.isoformat()} is not after startsAt {starts.isoformat()}",
            field="endsAt",
        )
    return replace(spec, name=name, starts_at=starts, ends_at=ends,
                   currency=spec.currency.upper(),
                   target_tier_ids=tuple(dict.fromkeys(spec.target_tier_ids)),
                   target_channels=tuple(dict.fromkeys(spec.target_channels)))


def check_transition(campaign: Campaign, to: CampaignStatus) -> None:
    """Raise InvalidTransition unless `campaign` may move to `to`."""
    if to not in TRANSITIONS[campaign.status]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[campaign.status])) or "none"
        raise InvalidTransition(
            f"campaign {campaign.id} is {campaign.status}; it cannot become {to} "
            f"(allowed: {allowed})", field="status",
        )
    if to is CampaignStatus.SCHEDULED and (campaign.spec.starts_at is None
                                           or campaign.spec.ends_at is None):
        raise InvalidTransition(
            f"campaign {campaign.id} needs startsAt and endsAt before it is scheduled",
            field="status",
        )


async def create_campaign(*, uow, spec: CampaignSpec, actor: str, now: datetime) -> Campaign:
    spec = validate_spec(spec)
    await _ensure_tiers_exist(uow, spec.target_tier_ids)
    campaign_id = await uow.campaigns.add(spec, status=CampaignStatus.DRAFT, now=now)
    await uow.audit.record(actor=actor, action="campaign.create",
                           subject=f"campaign:{campaign_id}", detail={"kind": str(spec.kind)})
    await uow.commit()
    return await uow.campaigns.get(campaign_id)


async def update_campaign(*, uow, campaign_id: int, spec: CampaignSpec, actor: str,
                          now: datetime) -> Campaign:
    campaign = await _get(uow, campaign_id)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise CampaignNotEditable(f"campaign {campaign_id} is {campaign.status}", field="id")
    spec = validate_spec(spec)
    await _ensure_tiers_exist(uow, spec.target_tier_ids)
    if campaign.status is CampaignStatus.SCHEDULED and (spec.starts_at is None
                                                        or spec.ends_at is None):
        raise InvalidCampaign("a scheduled campaign keeps its schedule", field="startsAt")
    await uow.campaigns.update(campaign_id, spec, now=now)
    await uow.audit.record(actor=actor, action="campaign.update",
                           subject=f"campaign:{campaign_id}", detail={})
    await uow.commit()
    return await uow.campaigns.get(campaign_id)


async def change_status(*, uow, campaign_id: int, to: CampaignStatus, actor: str,
                        now: datetime) -> Campaign:
    campaign = await _get(uow, campaign_id)
    check_transition(campaign, to)
    changed = await uow.campaigns.set_status(campaign_id, expected=campaign.status, to=to,
                                             actor=actor, now=now)
    if not changed:  # another request moved it between our read and our write
        raise InvalidTransition(f"campaign {campaign_id} changed status concurrently; retry",
                                field="status")
    await uow.commit()
    return await uow.campaigns.get(campaign_id)


async def _get(uow, campaign_id: int) -> Campaign:
    campaign = await uow.campaigns.get(campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"campaign {campaign_id} does not exist", field="id")
    return campaign


async def _ensure_tiers_exist(uow, tier_ids: tuple[int, ...]) -> None:
    known = {t.id for t in await uow.tiers.list()}
    for tier_id in tier_ids:
        if tier_id not in known:
            raise UnknownTargetTier(f"tier {tier_id} does not exist", field="targetTierIds")
