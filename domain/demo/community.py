"""The shape of a generated demo community: numpy columns, not objects.

A community of 20,000 members has about a million events; holding them as
column arrays (one entry per row) keeps generation and bulk writing fast.
Times are whole seconds from `Community.start` (00:00 UTC of the first day).
Members are indexed in join order; the store gives them ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from domain.events import EventType
from domain.members import Channel
from domain.tiers import TierSpec

# Column codes index these tuples (channel code 0 is CHANNELS[0], and so on).
CHANNELS: tuple[Channel, ...] = tuple(Channel)
EVENT_TYPES: tuple[EventType, ...] = (
    EventType.LOGIN, EventType.POST, EventType.COMMENT, EventType.LIKE, EventType.SHARE,
    EventType.CHECK_IN, EventType.PURCHASE, EventType.REFERRAL_INVITE, EventType.REFERRAL_JOIN,
)
# Interactions are what the "20% of members make 80% of interactions" rule counts:
# content and reactions, not logins, check-ins, purchases or referrals.
INTERACTION_TYPES = (EventType.POST, EventType.COMMENT, EventType.LIKE, EventType.SHARE)
DAY = 86_400


def channel_code(channel: Channel) -> int:
    return CHANNELS.index(channel)


def type_code(kind: EventType) -> int:
    return EVENT_TYPES.index(kind)


@dataclass(frozen=True, slots=True)
class Profiles:
    """Profile fields per member, in member order (plain lists: they become rows)."""

    display_name: list[str]
    email: list[str | None]
    phone: list[str | None]
    age_band: list[str]
    region: list[str]
    occupation: list[str]
    interests: list[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Members:
    joined: np.ndarray  # int64 seconds, non-decreasing (members are in join order)
    first_seen: np.ndarray  # int64 seconds, <= joined
    channel: np.ndarray  # int8 channel code of acquisition
    inviter: np.ndarray  # int32 member index of the inviter, -1 when not referred
    profiles: Profiles

    def __len__(self) -> int:
        return len(self.joined)


@dataclass(frozen=True, slots=True)
class Identities:
    member: np.ndarray  # int32 member index
    channel: np.ndarray  # int8 channel code
    created: np.ndarray  # int64 seconds
    external_id: list[str]

    def __len__(self) -> int:
        return len(self.member)


@dataclass(frozen=True, slots=True)
class Events:
    """Events in time order (ties by member index)."""

    member: np.ndarray  # int32 member index
    type: np.ndarray  # int8 event type code
    at: np.ndarray  # int64 seconds
    amount_minor: np.ndarray  # int64 fen; meaningful for purchases only (0 elsewhere)
    channel: np.ndarray  # int8 channel code
    related: np.ndarray  # int32: referral_join -> inviter, referral_invite -> invitee or -1
    topic: np.ndarray  # int16 index into TOPICS for posts, -1 elsewhere

    def __len__(self) -> int:
        return len(self.member)


@dataclass(frozen=True, slots=True)
class Assignments:
    """Tier model runs: who was placed in which tier (index into `Community.tiers`)."""

    member: np.ndarray  # int32
    tier: np.ndarray  # int8
    previous: np.ndarray  # int8, -1 when the member had no tier
    at: np.ndarray  # int64 seconds

    def __len__(self) -> int:
        return len(self.member)


@dataclass(frozen=True, slots=True)
class Community:
    seed: int
    start: datetime  # 00:00 UTC of the first day
    days: int
    members: Members
    identities: Identities
    tiers: tuple[TierSpec, ...]  # best tier first
    tier_of: np.ndarray  # int8 final tier per member
    assignments: Assignments
    events: Events

    @property
    def end(self) -> datetime:
        """00:00 UTC after the last day: every time in the community is before it."""
        return self.start + timedelta(days=self.days)

    def epoch_seconds(self, offsets: np.ndarray) -> np.ndarray:
        """Offsets from `start` as Unix seconds."""
        return offsets.astype(np.int64) + int(self.start.timestamp())

    def event_external_id(self, row: int) -> str:
        return f"demo-s{self.seed}-{row:08d}"

    def referral_code(self, inviter: int) -> str:
        return f"INV{self.seed}-{inviter:06d}"
