"""Tiers, their touch strategies, and the history of who was placed in which tier."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain import errors
from domain.members import Channel, MemberAlreadyMerged, MemberNotFound, MemberStatus


class AssignmentSource(StrEnum):
    MANUAL = "manual"  # an operator decided; automatic runs leave it alone
    MODEL = "model"  # a tier model run decided (model_version says which)


class TierError(errors.DomainError):
    """Base of tier failures."""


class TierNotFound(TierError, errors.NotFound):
    """No tier has that id."""


class InvalidTier(TierError, errors.InvalidValue):
    """A tier field is empty, too long or out of range."""


class DuplicateTier(TierError):
    """Another tier already has this key or rank."""

    code = "DUPLICATE_TIER"


@dataclass(frozen=True, slots=True)
class TouchStrategy:
    """How a tier is contacted: on which channel, how often, with what."""

    channel: Channel
    every_days: int
    content: str


@dataclass(frozen=True, slots=True)
class TierSpec:
    key: str
    name: str
    rank: int
    description: str
    benefits: tuple[str, ...]
    touch: TouchStrategy


@dataclass(frozen=True, slots=True)
class Tier:
    id: int
    key: str
    name: str
    rank: int  # 1 is the top tier
    description: str
    benefits: tuple[str, ...]
    touch: TouchStrategy


@dataclass(frozen=True, slots=True)
class TierAssignment:
    id: int
    member_id: int
    tier_id: int | None
    previous_tier_id: int | None
    source: AssignmentSource
    model_version: int | None
    actor: str
    reason: str
    assigned_at: datetime


KEY = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def validate_spec(spec: TierSpec) -> TierSpec:
    name = spec.name.strip()
    if not name or len(name) > 120:
        raise InvalidTier("name must be 1-120 characters", field="name")
    if not KEY.match(spec.key):
        raise InvalidTier(
            f"key {spec.key!r} must be lower-case letters, digits, '-' or '_' (max 64)",
            field="key",
        )
    if not 1 <= spec.rank <= 100:
        raise InvalidTier(f"rank must be between 1 and 100, got {spec.rank}", field="rank")
    if not 1 <= spec.touch.every_days <= 365:
        raise InvalidTier(
            f"touch frequency must be every 1-365 days, got {spec.touch.every_days}",
            field="touchStrategy.everyDays",
        )
    benefits = tuple(b.strip() for b in spec.benefits if b.strip())
    return TierSpec(key=spec.key, name=name, rank=spec.rank, description=spec.description.strip(),
                    benefits=benefits, touch=spec.touch)


async def create_tier(*, uow, spec: TierSpec, actor: str) -> Tier:
    spec = validate_spec(spec)
    await _ensure_unique(uow, spec, tier_id=None)
    tier_id = await uow.tiers.add(spec)
    await uow.audit.record(actor=actor, action="tier.create", subject=f"tier:{tier_id}",
                           detail={"key": spec.key, "rank": spec.rank})
    await uow.commit()
    return await uow.tiers.get(tier_id)


async def update_tier(*, uow, tier_id: int, spec: TierSpec, actor: str) -> Tier:
    if await uow.tiers.get(tier_id) is None:
        raise TierNotFound(f"tier {tier_id} does not exist", field="id")
    spec = validate_spec(spec)
    await _ensure_unique(uow, spec, tier_id=tier_id)
    await uow.tiers.update(tier_id, spec)
    await uow.audit.record(actor=actor, action="tier.update", subject=f"tier:{tier_id}",
                           detail={"key": spec.key, "rank": spec.rank})
    await uow.commit()
    return await uow.tiers.get(tier_id)


async def assign_tier(*, uow, member_id: int, tier_id: int | None, actor: str, reason: str,
                      now: datetime) -> TierAssignment:
    """Manually place a member in a tier (None removes them from any tier), with history."""
    await uow.tiers.lock_moves(member_id=member_id)  # the previous tier read next stays true
    member = await uow.members.get(member_id)
    if member is None:
        raise MemberNotFound(f"member {member_id} does not exist", field="memberId")
    if member.status is MemberStatus.MERGED:
        raise MemberAlreadyMerged(f"member {member_id} was merged into member "
                                  f"{member.merged_into_id}", field="memberId")
    if tier_id is not None and await uow.tiers.get(tier_id) is None:
        raise TierNotFound(f"tier {tier_id} does not exist", field="tierId")
    reason = reason.strip()
    if not reason:
        raise InvalidTier("a manual assignment needs a reason", field="reason")
    assignment_id = await uow.tiers.assign(
        member_id=member_id, tier_id=tier_id, previous_tier_id=member.tier_id,
        source=AssignmentSource.MANUAL, model_version=None, actor=actor, reason=reason, at=now,
    )
    await uow.commit()
    return await uow.tiers.get_assignment(assignment_id)


async def _ensure_unique(uow, spec: TierSpec, *, tier_id: int | None) -> None:
    for existing in await uow.tiers.list():
        if existing.id == tier_id:
            continue
        if existing.key == spec.key:
            raise DuplicateTier(f"tier {existing.id} already has key {spec.key!r}", field="key")
        if existing.rank == spec.rank:
            raise DuplicateTier(f"tier {existing.id} already has rank {spec.rank}", field="rank")
