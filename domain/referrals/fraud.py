"""Referral fraud checks: each looks at the facts of one join and returns a Flag with its
reason, or None; `ancestors` walks the inviter -> invitee graph the cycle check reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.referrals.values import Fingerprint, Flag, FlagName, ReferralRules


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


def ancestors(inviter_of: Mapping[int, int], member_id: int, *, limit: int = 1000
              ) -> tuple[int, ...]:
    """Who invited `member_id`, who invited them, ... (nearest first; stops at a repeat)."""
    chain: list[int] = []
    current = inviter_of.get(member_id)
    while current is not None and current not in chain and len(chain) < limit:
        chain.append(current)
        current = inviter_of.get(current)
    return tuple(chain)
