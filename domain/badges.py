"""Badges along the growth path (DOMAIN.md: explore -> active -> contribute -> lead) and
their idempotent, explainable awards.

A badge is recognition with a benefit; its achievement rule (domain.badge_rules)
says what earns it. `award_badges` evaluates every rule for every active member
as of a UTC day and awards each badge at most once per member, storing the value
reached, the rule as it was then, and the first events that earned it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from domain import errors
from domain.badge_rules import Aggregation, FilterOp, PropertyFilter, Rule, validate_rule
from domain.events import EventType

EVIDENCE_LIMIT = 50  # events kept per award as its explanation
KEY = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class GrowthStage(StrEnum):
    EXPLORE = "explore"  # 探索期
    ACTIVE = "active"  # 活跃期
    CONTRIBUTE = "contribute"  # 贡献期
    LEAD = "lead"  # 领袖期


class BadgeError(errors.DomainError):
    """Base of badge failures."""


class UnknownBadge(BadgeError, errors.NotFound):
    """No badge has that id."""

    code = "UNKNOWN_BADGE"


class DuplicateBadge(BadgeError):
    """Another badge already has this key."""

    code = "DUPLICATE_BADGE"


class InvalidBadge(BadgeError, errors.InvalidValue):
    """A badge field is empty, too long or malformed."""


@dataclass(frozen=True, slots=True)
class BadgeSpec:
    key: str
    name: str
    stage: GrowthStage
    rule: Rule
    description: str = ""
    benefit: str = ""


@dataclass(frozen=True, slots=True)
class Badge:
    id: int
    key: str
    name: str
    stage: GrowthStage
    rule: Rule
    description: str
    benefit: str


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    event_id: int
    external_id: str
    type: EventType
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Award:
    """A badge a member earned: when, with which value, under which rule, by which events."""

    id: int
    member_id: int
    badge_id: int
    awarded_at: datetime
    as_of: date
    value: int
    rule: Rule  # the rule as it was when awarded
    evidence: tuple[EvidenceEvent, ...]  # the first EVIDENCE_LIMIT matching events
    via_merge_id: int | None = None  # copied from a merged member by this member merge


@dataclass(frozen=True, slots=True)
class Qualified:
    """A member whose aggregate reached a badge's goal (from the store's evaluation)."""

    member_id: int
    value: int
    first_day: date | None = None  # for streaks: the longest run's days
    last_day: date | None = None


@dataclass(frozen=True, slots=True)
class AwardRun:
    as_of: date
    awarded: int  # new awards in this run
    by_badge: dict[str, int]  # badge key -> new awards


def badges_to_copy(merged: Sequence[Award], survivor: Sequence[Award]) -> list[int]:
    """Badge ids a merge copies to the survivor: those the merged member holds and the
    survivor lacks, in badge id order."""
    held = {award.badge_id for award in survivor}
    return sorted({award.badge_id for award in merged} - held)


async def copy_awards_for_merge(*, uow, merge_id: int, merged_id: int,
                                survivor_id: int) -> list[int]:
    """Within a merge (no commit): award the survivor the merged member's badges it
    lacks, keeping the original award (time, value, rule, evidence) and recording
    `merge_id` on the copy. Returns the badge ids added."""
    held = await uow.badges.awards_of([merged_id, survivor_id])
    badge_ids = badges_to_copy(held.get(merged_id, []), held.get(survivor_id, []))
    if not badge_ids:
        return []
    return await uow.badges.copy_awards(from_member=merged_id, to_member=survivor_id,
                                        badge_ids=badge_ids, merge_id=merge_id)


async def remove_awards_of_merge(*, uow, merge_id: int, survivor_id: int, as_of: date,
                                 now: datetime) -> tuple[list[int], list[int]]:
    """Within an undo (no commit): remove exactly the awards merge `merge_id` copied to
    the survivor, then award the survivor those of these badges its own events earn as
    of the UTC day `as_of` (as an award run would, with its own evidence), so the undo
    takes away only what the merged member's events had earned. Returns the removed
    badge ids and, among them, those earned again."""
    removed = await uow.badges.remove_merge_awards(member_id=survivor_id, merge_id=merge_id)
    if not removed:
        return [], []
    these = [badge for badge in await uow.badges.list() if badge.id in set(removed)]
    earned = await _award(uow, these, as_of=as_of, member_ids=[survivor_id], now=now)
    return removed, sorted(badge.id for badge in these if earned[badge.key])


async def _award(uow, these: Sequence[Badge], *, as_of: date, member_ids: list[int] | None,
                 now: datetime) -> dict[str, int]:
    """Award each of `these` badges to the members (all active ones, or `member_ids`)
    who reached its goal as of `as_of` and lack it; new awards per badge key."""
    by_badge: dict[str, int] = {}
    for badge in these:
        qualified = await uow.badges.qualifying(badge, as_of=as_of, member_ids=member_ids)
        if qualified:
            await uow.badges.award(badge, qualified, as_of=as_of, now=now)
        by_badge[badge.key] = len(qualified)
    return by_badge


def validate_spec(spec: BadgeSpec) -> BadgeSpec:
    name = spec.name.strip()
    if not name or len(name) > 120:
        raise InvalidBadge("name must be 1-120 characters", field="name")
    if not KEY.match(spec.key):
        raise InvalidBadge(f"key {spec.key!r} must be lower-case letters, digits, '-' or '_' "
                           "(max 64)", field="key")
    if len(spec.benefit) > 500 or len(spec.description) > 2000:
        raise InvalidBadge("benefit is at most 500 and description 2000 characters",
                           field="benefit" if len(spec.benefit) > 500 else "description")
    return BadgeSpec(key=spec.key, name=name, stage=spec.stage, rule=validate_rule(spec.rule),
                     description=spec.description.strip(), benefit=spec.benefit.strip())


async def create_badge(*, uow, spec: BadgeSpec, actor: str) -> Badge:
    spec = validate_spec(spec)
    if await uow.badges.get_by_key(spec.key) is not None:
        raise DuplicateBadge(f"a badge already has key {spec.key!r}", field="key")
    badge_id = await uow.badges.add(spec)
    await uow.audit.record(actor=actor, action="badge.create", subject=f"badge:{badge_id}",
                           detail={"key": spec.key, "rule": spec.rule.to_json()})
    await uow.commit()
    return await uow.badges.get(badge_id)


async def update_badge_rule(*, uow, badge_id: int, rule: Rule, actor: str) -> Badge:
    """Replace a badge's rule. Awards already made keep the rule they were earned under."""
    badge = await uow.badges.get(badge_id)
    if badge is None:
        raise UnknownBadge(f"badge {badge_id} does not exist", field="id")
    rule = validate_rule(rule)
    await uow.badges.set_rule(badge_id, rule)
    await uow.audit.record(actor=actor, action="badge.update_rule", subject=f"badge:{badge_id}",
                           detail={"before": badge.rule.to_json(), "after": rule.to_json()})
    await uow.commit()
    return await uow.badges.get(badge_id)


def default_badges() -> tuple[BadgeSpec, ...]:
    """The growth path of DOMAIN.md as four badges.

    - newbie: any first interaction (one event of any type, all time);
    - active-medal: check-ins on 7 consecutive UTC days;
    - creator: 5 posts an operator marked `featured: true` (quality content);
    - community-partner: 3 invitations that converted, i.e. `referral_invite` events
      that name the member who joined (`invitee_member_id`, as referrals write them).
    """
    return (
        BadgeSpec(key="newbie", name="Newbie 新手徽章", stage=GrowthStage.EXPLORE,
                  rule=Rule(aggregation=Aggregation.COUNT, goal=1),
                  description="First interaction with the community.",
                  benefit="Welcome coupon"),
        BadgeSpec(key="active-medal", name="Active medal 活跃勋章", stage=GrowthStage.ACTIVE,
                  rule=Rule(aggregation=Aggregation.STREAK_DAYS, goal=7,
                            event_types=(EventType.CHECK_IN,)),
                  description="Checked in on 7 consecutive days (UTC).",
                  benefit="Double points for a week"),
        BadgeSpec(key="creator", name="Creator certification 创作者认证",
                  stage=GrowthStage.CONTRIBUTE,
                  rule=Rule(aggregation=Aggregation.COUNT, goal=5,
                            event_types=(EventType.POST,),
                            filters=(PropertyFilter("featured", FilterOp.EQUALS, True),)),
                  description="Five posts featured by the operators as quality content.",
                  benefit="Creator label and priority in the feed"),
        BadgeSpec(key="community-partner", name="Community partner 社区合伙人",
                  stage=GrowthStage.LEAD,
                  rule=Rule(aggregation=Aggregation.COUNT, goal=3,
                            event_types=(EventType.REFERRAL_INVITE,),
                            filters=(PropertyFilter("invitee_member_id", FilterOp.PRESENT),)),
                  description="Three invitations that turned into members.",
                  benefit="Partner programme: co-promotion and 1-on-1 service"),
    )


async def install_default_badges(*, uow, actor: str) -> list[Badge]:
    """Create the default badges whose keys are free; existing ones are left as they are.
    Returns the four badges (found or created). Running it again changes nothing."""
    out: list[Badge] = []
    created: list[str] = []
    for spec in default_badges():
        found = await uow.badges.get_by_key(spec.key)
        if found is None:
            found = await uow.badges.get(await uow.badges.add(validate_spec(spec)))
            created.append(spec.key)
        out.append(found)
    if created:
        await uow.audit.record(actor=actor, action="badge.install_defaults",
                               subject="badges", detail={"created": created})
    await uow.commit()
    return out


async def award_badges(*, uow, as_of: date, member_ids: list[int] | None = None, actor: str,
                       now: datetime) -> AwardRun:
    """Evaluate every badge's rule for active members (all, or `member_ids`) as of the UTC
    day `as_of` (inclusive) and award those who reached the goal and lack the badge.

    Each award stores the value reached, the rule snapshot and up to EVIDENCE_LIMIT of
    the earliest matching events in the period (for a streak: in its longest run).
    Awards are unique per member and badge, so running again awards nothing new.
    """
    if member_ids is not None:
        member_ids = sorted(set(member_ids))
        known = await uow.members.resolve_active(member_ids)
        missing = [m for m in member_ids if known.get(m) != m]
        if missing:
            raise errors.NotFound(f"member {missing[0]} does not exist or was merged",
                                  field="memberIds")
    by_badge = await _award(uow, await uow.badges.list(), as_of=as_of, member_ids=member_ids,
                            now=now)
    total = sum(by_badge.values())
    await uow.audit.record(actor=actor, action="badge.award", subject="badges",
                           detail={"as_of": as_of.isoformat(), "awarded": by_badge,
                                   "members": len(member_ids) if member_ids else "all"})
    await uow.commit()
    return AwardRun(as_of=as_of, awarded=total, by_badge=by_badge)
