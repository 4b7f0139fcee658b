"""Members and their channel identities (merging two members: domain.merges)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from domain import errors
from domain.clock import require_aware


class Channel(StrEnum):
    """Where a member was acquired, and where an identity lives."""

    WECHAT = "wechat"
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"
    OFFLINE = "offline"
    APP = "app"
    REFERRAL = "referral"


# A referral is how someone arrived, not an account they hold.
IDENTITY_CHANNELS = frozenset(Channel) - {Channel.REFERRAL}


class MemberStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"


class MemberError(errors.DomainError):
    """Base of member failures."""


class MemberNotFound(MemberError, errors.NotFound):
    """No member has that id."""


class InvalidProfile(MemberError, errors.InvalidValue):
    """A profile value is empty, too long or malformed."""


class DuplicateIdentity(MemberError):
    """The (channel, external id) pair already belongs to a member."""

    code = "DUPLICATE_IDENTITY"


class InvalidIdentity(MemberError, errors.InvalidValue):
    """An identity on a channel that holds no accounts, or an empty external id."""


class MemberAlreadyMerged(MemberError):
    """The member was merged into another and can no longer change."""

    code = "MEMBER_MERGED"


class InvalidMerge(MemberError):
    """A member merged into itself, or an undo that would break later merges."""

    code = "INVALID_MERGE"


@dataclass(frozen=True, slots=True)
class IdentityKey:
    channel: Channel
    external_id: str


@dataclass(frozen=True, slots=True)
class Identity:
    id: int
    member_id: int
    channel: Channel
    external_id: str
    created_at: datetime

    @property
    def key(self) -> IdentityKey:
        return IdentityKey(channel=self.channel, external_id=self.external_id)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a member tells us about themselves. Name, email and phone are personal data."""

    display_name: str
    email: str | None = None
    phone: str | None = None
    age_band: str | None = None
    region: str | None = None
    occupation: str | None = None
    interests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    profile: Profile
    channel: Channel
    joined_at: datetime
    first_seen_at: datetime
    status: MemberStatus
    tier_id: int | None
    tier_source: str | None
    merged_into_id: int | None = None
    lifecycle_stage: str | None = None  # a domain.lifecycle.LifecycleStage value
    lifecycle_as_of: date | None = None


@dataclass(frozen=True, slots=True)
class NewMember:
    """A member about to be written; the store assigns the id."""

    profile: Profile
    channel: Channel
    joined_at: datetime
    first_seen_at: datetime
    identities: tuple[IdentityKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Merge:
    id: int
    survivor_id: int
    merged_id: int
    moved_identity_ids: tuple[int, ...]
    actor: str
    reason: str
    merged_at: datetime
    undone_at: datetime | None = None
    # What followed the merge (None on merges recorded before points and badges did).
    points_moved: int | None = None  # the merged member's open points, now the survivor's
    points_returned: int | None = None  # what the undo gave back (moved minus spent/expired)
    added_badge_ids: tuple[int, ...] = ()  # badges copied to the survivor


class MemberOrder(StrEnum):
    """Stable orders: ties on the join time are broken by id."""

    JOINED_AT_ASC = "joined_at_asc"
    JOINED_AT_DESC = "joined_at_desc"


@dataclass(frozen=True, slots=True)
class MemberFilter:
    tier_ids: tuple[int, ...] = ()
    channels: tuple[Channel, ...] = ()
    joined_from: datetime | None = None
    joined_to: datetime | None = None
    search: str | None = None
    include_merged: bool = False
    lifecycle_stages: tuple[str, ...] = ()  # domain.lifecycle.LifecycleStage values


AGE_BANDS = ("<18", "18-24", "25-34", "35-44", "45-54", "55+")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")
MAX_INTERESTS = 20


def validate_profile(profile: Profile) -> Profile:
    """Return the profile trimmed, or raise InvalidProfile naming the field."""
    name = profile.display_name.strip()
    if not name or len(name) > 120:
        raise InvalidProfile(
            f"displayName must be 1-120 characters, got {len(name)}", field="displayName"
        )
    email = (profile.email or "").strip() or None
    if email is not None and (len(email) > 254 or not EMAIL.match(email)):
        raise InvalidProfile(f"email {email!r} is not an address", field="email")
    phone = (profile.phone or "").strip() or None
    if phone is not None and not PHONE.match(phone):
        raise InvalidProfile(f"phone {phone!r} is not a phone number", field="phone")
    if profile.age_band is not None and profile.age_band not in AGE_BANDS:
        raise InvalidProfile(
            f"ageBand {profile.age_band!r} is not one of {', '.join(AGE_BANDS)}", field="ageBand"
        )
    interests = tuple(dict.fromkeys(i.strip().lower() for i in profile.interests if i.strip()))
    if len(interests) > MAX_INTERESTS:
        raise InvalidProfile(
            f"at most {MAX_INTERESTS} interests, got {len(interests)}", field="interests"
        )
    return Profile(
        display_name=name, email=email, phone=phone, age_band=profile.age_band,
        region=(profile.region or "").strip() or None,
        occupation=(profile.occupation or "").strip() or None,
        interests=interests,
    )


def validate_identity(key: IdentityKey, *, field: str = "identities") -> IdentityKey:
    external_id = key.external_id.strip()
    if key.channel not in IDENTITY_CHANNELS:
        raise InvalidIdentity(f"channel {key.channel} holds no accounts", field=field)
    if not external_id or len(external_id) > 128:
        raise InvalidIdentity("externalId must be 1-128 characters", field=field)
    return IdentityKey(channel=key.channel, external_id=external_id)


async def enroll_member(*, uow, profile: Profile, channel: Channel, joined_at: datetime,
                        identities: tuple[IdentityKey, ...] = (), actor: str) -> Member:
    """Create a member with their channel identities, in one transaction."""
    profile = validate_profile(profile)
    joined_at = require_aware(joined_at, field="joinedAt")
    keys = tuple(validate_identity(k) for k in identities)
    if len(set(keys)) != len(keys):
        raise DuplicateIdentity("the same identity is listed twice", field="identities")
    await _ensure_identities_free(uow, keys)
    member_id = await uow.members.add(NewMember(
        profile=profile, channel=channel, joined_at=joined_at, first_seen_at=joined_at,
        identities=keys,
    ))
    await uow.audit.record(actor=actor, action="member.enroll", subject=f"member:{member_id}",
                           detail={"channel": str(channel), "identities": len(keys)})
    await uow.commit()
    return await uow.members.get(member_id)


async def add_identity(*, uow, member_id: int, key: IdentityKey, actor: str) -> Member:
    """Attach one more channel identity to an active member."""
    key = validate_identity(key, field="externalId")
    member = await active_member(uow, member_id, field="memberId")
    await _ensure_identities_free(uow, (key,), field="externalId")
    await uow.members.add_identity(member.id, key, field="externalId")
    await uow.audit.record(actor=actor, action="member.add_identity",
                           subject=f"member:{member.id}", detail={"channel": str(key.channel)})
    await uow.commit()
    return member


async def active_member(uow, member_id: int, *, field: str) -> Member:
    """The member `member_id`; MEMBER_NOT_FOUND or MEMBER_MERGED (naming `field`) if it
    is missing or was merged into another."""
    member = await uow.members.get(member_id)
    if member is None:
        raise MemberNotFound(f"member {member_id} does not exist", field=field)
    if member.status is MemberStatus.MERGED:
        raise MemberAlreadyMerged(
            f"member {member_id} was merged into member {member.merged_into_id}", field=field
        )
    return member


async def _ensure_identities_free(uow, keys: tuple[IdentityKey, ...], *,
                                  field: str = "identities") -> None:
    owners = await uow.members.identity_owners(keys)
    for key in keys:
        if key in owners:
            raise DuplicateIdentity(
                f"{key.channel} identity {key.external_id!r} already belongs to member "
                f"{owners[key]}", field=field,
            )

