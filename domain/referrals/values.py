"""Referral values: the statuses of invitations, rewards and reviews, the fraud flags'
names, and the plain records (codes, referrals, rewards, rule sets) the rules take and
return; the built-in default rule set and the reward amount limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class ReferralStatus(StrEnum):
    INVITED = "invited"
    JOINED = "joined"
    CONVERTED = "converted"


# The only moves; the store's conditional updates (WHERE status = ...) enforce them.
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.INVITED: frozenset({ReferralStatus.JOINED}),
    ReferralStatus.JOINED: frozenset({ReferralStatus.CONVERTED}),
    ReferralStatus.CONVERTED: frozenset(),
}


class Trigger(StrEnum):
    JOIN = "join"
    FIRST_PURCHASE = "first_purchase"


class Beneficiary(StrEnum):
    REFERRER = "referrer"
    INVITEE = "invitee"


class RewardStatus(StrEnum):
    HELD = "held"  # the referral is flagged and waits for review
    PAYABLE = "payable"  # may be paid (the points ledger picks up points rewards)
    PAID = "paid"
    REJECTED = "rejected"  # a reviewer rejected the referral


class ReviewState(StrEnum):
    NONE = "none"  # no fraud flag: nothing to review
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class FlagName(StrEnum):
    SELF_REFERRAL = "self_referral"
    SHARED_FINGERPRINT = "shared_fingerprint"
    FINGERPRINT_CLUSTER = "fingerprint_cluster"
    VELOCITY = "velocity"
    CYCLE = "cycle"

@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Hashes of the device id and IP a code was used from (raw values are not kept)."""

    device_hash: str | None = None
    ip_hash: str | None = None


@dataclass(frozen=True, slots=True)
class ReferralCode:
    id: int
    member_id: int
    code: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    fingerprint: Fingerprint = Fingerprint()

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class Flag:
    name: FlagName
    explanation: str


@dataclass(frozen=True, slots=True)
class Referral:
    id: int
    code_id: int
    code: str
    inviter_id: int
    invitee_id: int | None
    status: ReferralStatus
    invited_at: datetime
    joined_at: datetime | None
    converted_at: datetime | None  # when processing saw the first purchase
    first_purchase_on: date | None  # the UTC day of that purchase
    window_ends_on: date | None  # exclusive: purchases from this day on do not count
    rule_version: int | None
    flags: tuple[Flag, ...]
    review: ReviewState
    review_note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    fingerprint: Fingerprint = Fingerprint()


@dataclass(frozen=True, slots=True)
class Reward:
    id: int
    referral_id: int
    beneficiary: Beneficiary
    member_id: int
    trigger: Trigger
    rule_version: int
    points: int
    money_minor: int
    currency: str
    status: RewardStatus
    created_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReferralFilter:
    """Which referrals a list shows; every given condition must hold."""

    statuses: tuple[ReferralStatus, ...] = ()
    inviter_id: int | None = None
    reviews: tuple[ReviewState, ...] = ()


@dataclass(frozen=True, slots=True)
class RewardSpec:
    """One reward of a rule set: on `trigger`, give `beneficiary` points and/or money."""

    trigger: Trigger
    beneficiary: Beneficiary
    points: int = 0
    money_minor: int = 0


@dataclass(frozen=True, slots=True)
class ReferralRules:
    """A version of the referral programme: rewards, attribution window, fraud limits."""

    rewards: tuple[RewardSpec, ...]
    attribution_window_days: int = 30
    join_grace_hours: int = 24
    max_joins_per_hour: int = 5
    max_joins_per_day: int = 20
    max_invitees_per_fingerprint: int = 3
    currency: str = "CNY"
    version: int = 0  # 0: the built-in defaults, used until a rule set is stored
    created_at: datetime | None = None


DEFAULT_RULES = ReferralRules(rewards=(
    RewardSpec(trigger=Trigger.JOIN, beneficiary=Beneficiary.INVITEE, points=50),
    RewardSpec(trigger=Trigger.FIRST_PURCHASE, beneficiary=Beneficiary.REFERRER, points=200),
))
MAX_POINTS = 1_000_000
MAX_MONEY_MINOR = 10_000_000  # 100,000.00 per reward: beyond that it is a typo
MAX_REVIEW_NOTE = 2_000  # characters of a reviewer's note on a flagged referral
