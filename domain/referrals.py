"""Referral rules: codes, the invitation lifecycle, reward rules and fraud checks.

Plain values in, plain values out; the use cases that read and write them live in
`domain/referral_program.py`, the K-factor in `domain/referral_kfactor.py`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain import errors

# No 0/O, 1/I/L: a code read aloud or copied from a poster cannot be mistyped into another.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8  # 31^8 ~ 8.5e11 codes: guessing one at random is hopeless


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


# --- errors ---

class ReferralError(errors.DomainError):
    """Base of referral failures."""


class UnknownCode(ReferralError, errors.NotFound):
    """No referral code is spelled like that."""

    code = "UNKNOWN_CODE"


class CodeExpired(ReferralError):
    """The code's expiry has passed, or it was replaced by a newer code."""

    code = "CODE_EXPIRED"


class OwnCode(ReferralError):
    """A member used their own code."""

    code = "OWN_CODE"


class AlreadyReferred(ReferralError):
    """The invitee already joined through a referral; a member is referred once."""

    code = "ALREADY_REFERRED"


class InviteeTooOld(ReferralError):
    """The invitee joined before the inviter, or too long before using the code."""

    code = "INVITEE_TOO_OLD"


class CodeExists(ReferralError):
    """The member already has an active code (pass replaceExisting to replace it)."""

    code = "CODE_EXISTS"


class NotFlagged(ReferralError):
    """Only a referral held for review can be reviewed."""

    code = "NOT_FLAGGED"


class AlreadyReviewed(ReferralError):
    """The referral was approved or rejected before; a review is final."""

    code = "ALREADY_REVIEWED"


class InvalidReferralRules(ReferralError, errors.InvalidValue):
    """A reward rule set with a bad amount, window, limit or a repeated reward."""


class ReferralNotFound(ReferralError, errors.NotFound):
    """No referral has that id."""


class InvalidReferralInput(ReferralError, errors.InvalidValue):
    """A fingerprint or an expiry that cannot be used."""


# --- values ---

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


# --- codes ---

def new_code() -> str:
    """A random code of CODE_LENGTH characters from the unambiguous CODE_ALPHABET."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a user typed, as stored: upper case, without spaces or dashes."""
    return re.sub(r"[\s\-]", "", text).upper()


def check_code_usable(code: ReferralCode, *, now: datetime) -> None:
    """Raise CodeExpired for a code past its expiry or replaced by a newer one."""
    if code.revoked_at is not None:
        raise CodeExpired(f"code {code.code} was replaced on {code.revoked_at.isoformat()}",
                          field="code")
    if code.expires_at is not None and code.expires_at <= now:
        raise CodeExpired(f"code {code.code} expired at {code.expires_at.isoformat()}",
                          field="code")


# --- hashing of contact facts ---

def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def fingerprint_of(*, device_id: str | None, ip: str | None) -> Fingerprint:
    """Hash a device id and an IP address (validated, normalised) into a Fingerprint."""
    device = (device_id or "").strip()
    if len(device) > 200:
        raise InvalidReferralInput("deviceId must be at most 200 characters",
                                   field="fingerprint.deviceId")
    ip_text = (ip or "").strip()
    if ip_text:
        try:
            ip_text = ipaddress.ip_address(ip_text).compressed
        except ValueError:
            raise InvalidReferralInput(f"ip {ip!r} is not an IP address",
                                       field="fingerprint.ip") from None
    return Fingerprint(device_hash=_hash("device", device) if device else None,
                       ip_hash=_hash("ip", ip_text) if ip_text else None)


def contact_hashes(*, email: str | None, phone: str | None,
                   external_ids: Iterable[str] = ()) -> frozenset[str]:
    """Hashes of a member's e-mail (lower case), phone (digits only) and channel account
    ids: two members sharing any of them are likely one person."""
    found = set()
    if email and email.strip():
        found.add(_hash("email", email.strip().lower()))
    digits = re.sub(r"\D", "", phone or "")
    if digits:
        found.add(_hash("phone", digits))
    found.update(_hash("account", e.strip()) for e in external_ids if e.strip())
    return frozenset(found)


# --- the invitee must be new ---

def check_invitee_new(*, invitee_joined_at: datetime, inviter_joined_at: datetime,
                      used_at: datetime, rules: ReferralRules) -> None:
    """Raise InviteeTooOld unless the invitee is a new member brought by this code.

    New means: joined no earlier than the inviter, and no more than
    `rules.join_grace_hours` before using the code (enrolment and code entry happen
    in one sign-up, so a few hours cover app retries; a member of last month is not
    a referral).
    """
    if invitee_joined_at < inviter_joined_at:
        raise InviteeTooOld(
            f"the invitee joined at {invitee_joined_at.isoformat()}, before the inviter "
            f"({inviter_joined_at.isoformat()})", field="inviteeMemberId")
    grace = timedelta(hours=rules.join_grace_hours)
    if invitee_joined_at < used_at - grace:
        raise InviteeTooOld(
            f"the invitee joined at {invitee_joined_at.isoformat()}, more than "
            f"{rules.join_grace_hours} h before using the code", field="inviteeMemberId")


def window_end(joined_at: datetime, rules: ReferralRules) -> date:
    """The first UTC day whose purchases no longer convert: the join day plus the
    attribution window (30 days: the join day and the 29 days after it count)."""
    return joined_at.date() + timedelta(days=rules.attribution_window_days)


# --- fraud checks: each returns a Flag with its reason, or None ---

@dataclass(frozen=True, slots=True)
class FraudFacts:
    """What the fraud rules look at for one join, gathered by the use case."""

    inviter_id: int
    invitee_id: int
    inviter_contacts: frozenset[str]
    invitee_contacts: frozenset[str]
    inviter_fingerprints: tuple[Fingerprint, ...]
    invitee_fingerprint: Fingerprint
    # Fingerprints of the inviter's earlier invitees (this join not included).
    sibling_fingerprints: tuple[Fingerprint, ...]
    # Join times of the inviter's earlier invitees, and this join's time.
    sibling_joins: tuple[datetime, ...]
    joined_at: datetime
    # The inviter's own inviter, that one's inviter, ... (nearest first).
    inviter_ancestors: tuple[int, ...] = field(default=())


def self_referral(facts: FraudFacts) -> Flag | None:
    """Same person on both sides: the same member, or a shared e-mail, phone or channel
    account (compared as hashes)."""
    if facts.inviter_id == facts.invitee_id:
        return Flag(FlagName.SELF_REFERRAL, f"member {facts.inviter_id} invited themselves")
    shared = facts.inviter_contacts & facts.invitee_contacts
    if shared:
        return Flag(FlagName.SELF_REFERRAL,
                    f"invitee {facts.invitee_id} shares {len(shared)} contact detail(s) "
                    f"(e-mail, phone or account) with inviter {facts.inviter_id}")
    return None


def shared_fingerprint(facts: FraudFacts) -> Flag | None:
    """The invitee used a device or IP address the inviter used (for the code or their
    own sign-up)."""
    mine = facts.invitee_fingerprint
    for theirs in facts.inviter_fingerprints:
        for kind, a, b in (("device", mine.device_hash, theirs.device_hash),
                           ("IP address", mine.ip_hash, theirs.ip_hash)):
            if a is not None and a == b:
                return Flag(FlagName.SHARED_FINGERPRINT,
                            f"invitee {facts.invitee_id} used the same {kind} as inviter "
                            f"{facts.inviter_id}")
    return None


def fingerprint_cluster(facts: FraudFacts, rules: ReferralRules) -> Flag | None:
    """More than `max_invitees_per_fingerprint` of one inviter's invitees (this one
    included) share a device or an IP address."""
    mine = facts.invitee_fingerprint
    limit = rules.max_invitees_per_fingerprint
    for kind, attr in (("device", "device_hash"), ("IP address", "ip_hash")):
        value = getattr(mine, attr)
        if value is None:
            continue
        same = 1 + sum(1 for f in facts.sibling_fingerprints if getattr(f, attr) == value)
        if same > limit:
            return Flag(FlagName.FINGERPRINT_CLUSTER,
                        f"{same} invitees of inviter {facts.inviter_id} share one {kind} "
                        f"(limit {limit})")
    return None


def velocity(facts: FraudFacts, rules: ReferralRules) -> Flag | None:
    """More than `max_joins_per_hour` joins for one inviter in the hour up to this join,
    or more than `max_joins_per_day` in the 24 hours up to it (this join included)."""
    for span, limit, label in ((timedelta(hours=1), rules.max_joins_per_hour, "hour"),
                               (timedelta(days=1), rules.max_joins_per_day, "24 hours")):
        start = facts.joined_at - span
        joins = 1 + sum(1 for t in facts.sibling_joins if start < t <= facts.joined_at)
        if joins > limit:
            return Flag(FlagName.VELOCITY,
                        f"inviter {facts.inviter_id} had {joins} invitees join within one "
                        f"{label} (limit {limit})")
    return None


def cycle(facts: FraudFacts) -> Flag | None:
    """The invitee already sits above the inviter in the inviter -> invitee graph
    (B invited A and now A invites B; or B -> C -> A and A invites B)."""
    if facts.invitee_id in facts.inviter_ancestors:
        chain = facts.inviter_ancestors[:facts.inviter_ancestors.index(facts.invitee_id) + 1]
        path = " -> ".join(str(m) for m in (*reversed(chain), facts.inviter_id,
                                             facts.invitee_id))
        return Flag(FlagName.CYCLE, f"referrals would form a cycle {path}")
    return None


def fraud_flags(facts: FraudFacts, rules: ReferralRules) -> tuple[Flag, ...]:
    """Every fraud rule's flag for this join, in a fixed order (empty: looks genuine)."""
    found = (self_referral(facts), shared_fingerprint(facts),
             fingerprint_cluster(facts, rules), velocity(facts, rules), cycle(facts))
    return tuple(f for f in found if f is not None)


# --- rewards ---

class Recipients(StrEnum):
    """Who a reward rule pays, as an operator states it."""

    REFERRER = "referrer"
    INVITEE = "invitee"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class RewardRule:
    """A reward as an operator writes it; BOTH becomes one reward per beneficiary."""

    trigger: Trigger
    recipients: Recipients
    points: int = 0
    money_minor: int = 0


def expand_rewards(rules: Iterable[RewardRule]) -> tuple[RewardSpec, ...]:
    """One RewardSpec per beneficiary of each rule, checked; errors name the rule's index
    (`rewards.<i>`) in the operator's list."""
    specs: list[RewardSpec] = []
    for index, rule in enumerate(rules):
        who = ((Beneficiary.REFERRER, Beneficiary.INVITEE) if rule.recipients is Recipients.BOTH
               else (Beneficiary(rule.recipients.value),))
        for beneficiary in who:
            spec = RewardSpec(trigger=rule.trigger, beneficiary=beneficiary,
                              points=rule.points, money_minor=rule.money_minor)
            _check_reward(spec, specs, where=f"rewards.{index}")
            specs.append(spec)
    return tuple(specs)


def _check_reward(reward: RewardSpec, earlier: list[RewardSpec], *, where: str) -> None:
    if not 0 <= reward.points <= MAX_POINTS:
        raise InvalidReferralRules(f"points must be 0-{MAX_POINTS}, got {reward.points}",
                                   field=f"{where}.points")
    if not 0 <= reward.money_minor <= MAX_MONEY_MINOR:
        raise InvalidReferralRules(
            f"moneyMinor must be 0-{MAX_MONEY_MINOR}, got {reward.money_minor}",
            field=f"{where}.moneyMinor")
    if reward.points == 0 and reward.money_minor == 0:
        raise InvalidReferralRules("a reward needs points or money", field=where)
    if any((e.trigger, e.beneficiary) == (reward.trigger, reward.beneficiary)
           for e in earlier):
        raise InvalidReferralRules(
            f"{reward.beneficiary} is rewarded twice on {reward.trigger}", field=where)


def check_rules(rules: ReferralRules) -> ReferralRules:
    """Return the rule set if every amount, window and limit is in range and no
    (trigger, beneficiary) pair is rewarded twice; raise InvalidReferralRules naming
    the field otherwise."""
    for index, reward in enumerate(rules.rewards):
        _check_reward(reward, list(rules.rewards[:index]), where=f"rewards.{index}")
    for name, low, high in (("attribution_window_days", 1, 365), ("join_grace_hours", 0, 720),
                            ("max_joins_per_hour", 1, 10_000),
                            ("max_joins_per_day", 1, 100_000),
                            ("max_invitees_per_fingerprint", 1, 10_000)):
        value = getattr(rules, name)
        if not low <= value <= high:
            camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
            raise InvalidReferralRules(f"{camel} must be {low}-{high}, got {value}",
                                       field=camel)
    if rules.max_joins_per_day < rules.max_joins_per_hour:
        raise InvalidReferralRules("maxJoinsPerDay is below maxJoinsPerHour",
                                   field="maxJoinsPerDay")
    if len(rules.currency) != 3 or not rules.currency.isalpha():
        raise InvalidReferralRules(f"currency {rules.currency!r} is not an ISO 4217 code",
                                   field="currency")
    return rules


def rewards_for(rules: ReferralRules, trigger: Trigger) -> tuple[RewardSpec, ...]:
    """The rewards a rule set grants when `trigger` happens."""
    return tuple(r for r in rules.rewards if r.trigger is trigger)


def reward_status(review: ReviewState) -> RewardStatus:
    """The status a new reward starts in: held while a flagged referral waits for review,
    rejected after a rejection, payable otherwise."""
    return {ReviewState.PENDING: RewardStatus.HELD,
            ReviewState.REJECTED: RewardStatus.REJECTED}.get(review, RewardStatus.PAYABLE)


def review_outcome(referral: Referral, decision: Decision) -> tuple[ReviewState, RewardStatus]:
    """The referral's review state and what its held rewards become; raise NotFlagged or
    AlreadyReviewed when there is nothing (left) to decide."""
    if referral.review is ReviewState.NONE:
        raise NotFlagged(f"referral {referral.id} has no fraud flag to review", field="id")
    if referral.review is not ReviewState.PENDING:
        raise AlreadyReviewed(f"referral {referral.id} was already {referral.review}",
                              field="id")
    if decision is Decision.APPROVE:
        return ReviewState.APPROVED, RewardStatus.PAYABLE
    return ReviewState.REJECTED, RewardStatus.REJECTED


def beneficiary_member(referral: Referral, beneficiary: Beneficiary) -> int:
    """The member a reward goes to."""
    if beneficiary is Beneficiary.REFERRER:
        return referral.inviter_id
    assert referral.invitee_id is not None, "only a joined referral earns rewards"
    return referral.invitee_id


def ancestors(inviter_of: Mapping[int, int], member_id: int, *, limit: int = 1000
              ) -> tuple[int, ...]:
    """Who invited `member_id`, who invited them, ... (nearest first; stops at a repeat)."""
    chain: list[int] = []
    current = inviter_of.get(member_id)
    while current is not None and current not in chain and len(chain) < limit:
        chain.append(current)
        current = inviter_of.get(current)
    return tuple(chain)
