"""Referral reward rules: rule sets as operators write them, checked; which rewards a
trigger grants, the status they start in, review outcomes and who is paid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.referrals.errors import AlreadyReviewed, InvalidReferralRules, NotFlagged
from domain.referrals.values import (
    MAX_MONEY_MINOR,
    MAX_POINTS,
    Beneficiary,
    Decision,
    Referral,
    ReferralRules,
    ReviewState,
    RewardSpec,
    RewardStatus,
    Trigger,
)


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
