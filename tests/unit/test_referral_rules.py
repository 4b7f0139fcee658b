"""Referral rules on hand-computed fixtures: codes, newness, fraud flags, rewards, K-factor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import referral_kfactor, referrals
from domain.referrals import (
    DEFAULT_RULES,
    Beneficiary,
    Decision,
    Fingerprint,
    FlagName,
    FraudFacts,
    Recipients,
    ReferralRules,
    ReferralStatus,
    ReviewState,
    RewardRule,
    RewardSpec,
    RewardStatus,
    Trigger,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DEVICE = referrals.fingerprint_of(device_id="phone-1", ip=None)
IP = referrals.fingerprint_of(device_id=None, ip="203.0.113.7")


def facts(**overrides) -> FraudFacts:
    base = dict(inviter_id=1, invitee_id=2, inviter_contacts=frozenset({"a"}),
                invitee_contacts=frozenset({"b"}), inviter_fingerprints=(),
                invitee_fingerprint=Fingerprint(), sibling_fingerprints=(), sibling_joins=(),
                joined_at=NOW, inviter_ancestors=())
    base.update(overrides)
    return FraudFacts(**base)


def code(**overrides) -> referrals.ReferralCode:
    base = dict(id=1, member_id=1, code="ABCD2345", created_at=NOW - timedelta(days=1),
                expires_at=None, revoked_at=None)
    base.update(overrides)
    return referrals.ReferralCode(**base)


# --- codes ---

def test_codes_use_only_unambiguous_characters():
    drawn = {referrals.new_code() for _ in range(200)}
    assert len(drawn) == 200  # 31^8 codes: a repeat in 200 draws would be a broken RNG
    assert all(len(c) == 8 and set(c) <= set(referrals.CODE_ALPHABET) for c in drawn)
    assert not set("01OIL") & set(referrals.CODE_ALPHABET)


def test_typed_codes_are_normalised():
    assert referrals.normalise_code(" abcd-2345 ") == "ABCD2345"


def test_a_code_expires_at_its_expiry_and_when_replaced():
    referrals.check_code_usable(code(expires_at=NOW + timedelta(seconds=1)), now=NOW)
    with pytest.raises(referrals.CodeExpired, match="expired at"):
        referrals.check_code_usable(code(expires_at=NOW), now=NOW)
    with pytest.raises(referrals.CodeExpired, match="replaced"):
        referrals.check_code_usable(code(revoked_at=NOW - timedelta(hours=1)), now=NOW)
    assert code().is_active(NOW) and not code(expires_at=NOW).is_active(NOW)


# --- the invitee must be new; the window ---

def test_an_invitee_who_joined_before_the_inviter_is_too_old():
    with pytest.raises(referrals.InviteeTooOld, match="before the inviter"):
        referrals.check_invitee_new(invitee_joined_at=NOW - timedelta(days=2),
                                    inviter_joined_at=NOW - timedelta(days=1), used_at=NOW,
                                    rules=DEFAULT_RULES)


def test_an_invitee_may_have_joined_up_to_the_grace_period_before_using_the_code():
    old = NOW - timedelta(days=30)
    referrals.check_invitee_new(invitee_joined_at=NOW - timedelta(hours=24),
                                inviter_joined_at=old, used_at=NOW, rules=DEFAULT_RULES)
    with pytest.raises(referrals.InviteeTooOld, match="more than 24 h"):
        referrals.check_invitee_new(invitee_joined_at=NOW - timedelta(hours=24, seconds=1),
                                    inviter_joined_at=old, used_at=NOW, rules=DEFAULT_RULES)


def test_the_attribution_window_counts_the_join_day_and_the_next_days():
    late_evening = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    assert referrals.window_end(late_evening, DEFAULT_RULES) == date(2026, 4, 9)
    week = replace(DEFAULT_RULES, attribution_window_days=7)
    assert referrals.window_end(late_evening, week) == date(2026, 3, 17)


def test_statuses_only_move_forward_one_step():
    assert referrals.TRANSITIONS == {
        ReferralStatus.INVITED: {ReferralStatus.JOINED},
        ReferralStatus.JOINED: {ReferralStatus.CONVERTED},
        ReferralStatus.CONVERTED: set()}


# --- fraud rules ---

def test_self_referral_by_the_same_member():
    flag = referrals.self_referral(facts(invitee_id=1))
    assert flag.name is FlagName.SELF_REFERRAL and "invited themselves" in flag.explanation


def test_self_referral_by_a_shared_email_phone_or_account():
    inviter = referrals.contact_hashes(email="Li.Wei@Example.com", phone="+86 138-0000-0001",
                                       external_ids=["wx-1"])
    same_email = referrals.contact_hashes(email=" li.wei@example.com", phone=None)
    same_phone = referrals.contact_hashes(email="x@example.com", phone="86 138 0000 0001")
    same_account = referrals.contact_hashes(email=None, phone=None, external_ids=["wx-1"])
    other = referrals.contact_hashes(email="x@example.com", phone="+86 139 0000 0002")
    for invitee in (same_email, same_phone, same_account):
        flag = referrals.self_referral(facts(inviter_contacts=inviter,
                                             invitee_contacts=invitee))
        assert flag is not None and "1 contact detail" in flag.explanation
    assert referrals.self_referral(facts(inviter_contacts=inviter,
                                         invitee_contacts=other)) is None


def test_a_device_or_ip_shared_with_the_inviter_is_flagged():
    ipv6 = referrals.fingerprint_of(device_id=None, ip="2001:DB8:0::1")
    same_v6 = referrals.fingerprint_of(device_id="other", ip="2001:db8::1")
    cases = [(DEVICE, DEVICE, "same device"), (IP, IP, "same IP address"),
             (ipv6, same_v6, "same IP address")]
    for inviter, invitee, words in cases:
        flag = referrals.shared_fingerprint(facts(inviter_fingerprints=(inviter,),
                                                  invitee_fingerprint=invitee))
        assert flag.name is FlagName.SHARED_FINGERPRINT and words in flag.explanation
    # Unknown devices on both sides are not "the same".
    assert referrals.shared_fingerprint(facts(inviter_fingerprints=(Fingerprint(),),
                                              invitee_fingerprint=Fingerprint())) is None
    assert referrals.shared_fingerprint(facts(inviter_fingerprints=(DEVICE,),
                                              invitee_fingerprint=IP)) is None


def test_an_invalid_ip_is_refused():
    with pytest.raises(referrals.InvalidReferralInput) as raised:
        referrals.fingerprint_of(device_id=None, ip="300.1.1.1")
    assert raised.value.field == "fingerprint.ip"


def test_too_many_invitees_of_one_inviter_on_one_ip_are_a_cluster():
    limit_3 = DEFAULT_RULES  # max_invitees_per_fingerprint = 3
    two_before = facts(invitee_fingerprint=IP, sibling_fingerprints=(IP, IP, DEVICE))
    assert referrals.fingerprint_cluster(two_before, limit_3) is None  # 2 + this = 3
    three_before = facts(invitee_fingerprint=IP, sibling_fingerprints=(IP, IP, IP))
    flag = referrals.fingerprint_cluster(three_before, limit_3)
    assert flag.explanation == "4 invitees of inviter 1 share one IP address (limit 3)"


def test_velocity_counts_joins_in_the_last_hour_and_day():
    five_in_hour = tuple(NOW - timedelta(minutes=10 * k) for k in range(5))
    flag = referrals.velocity(facts(sibling_joins=five_in_hour), DEFAULT_RULES)  # limit 5
    assert flag.explanation == "inviter 1 had 6 invitees join within one hour (limit 5)"
    # Exactly one hour ago is outside the hour.
    edge = (*five_in_hour[:4], NOW - timedelta(hours=1))
    assert referrals.velocity(facts(sibling_joins=edge), DEFAULT_RULES) is None
    day = tuple(NOW - timedelta(hours=2, minutes=k) for k in range(20))
    flag = referrals.velocity(facts(sibling_joins=day), DEFAULT_RULES)  # limit 20 a day
    assert flag.explanation == "inviter 1 had 21 invitees join within one 24 hours (limit 20)"


def test_a_referral_back_up_the_chain_is_a_cycle():
    direct = referrals.cycle(facts(inviter_id=2, invitee_id=1, inviter_ancestors=(1,)))
    assert direct.explanation == "referrals would form a cycle 1 -> 2 -> 1"
    longer = referrals.cycle(facts(inviter_id=3, invitee_id=1, inviter_ancestors=(2, 1)))
    assert longer.explanation == "referrals would form a cycle 1 -> 2 -> 3 -> 1"
    assert referrals.cycle(facts(inviter_id=3, invitee_id=4, inviter_ancestors=(2, 1))) is None


def test_ancestors_follow_the_inviter_chain_and_stop_at_a_loop():
    assert referrals.ancestors({3: 2, 2: 1}, 3) == (2, 1)
    assert referrals.ancestors({1: 2, 2: 1}, 1) == (2, 1)
    assert referrals.ancestors({}, 5) == ()


def test_fraud_flags_lists_every_rule_that_fired_in_order():
    found = referrals.fraud_flags(facts(invitee_id=1, inviter_fingerprints=(DEVICE,),
                                        invitee_fingerprint=DEVICE), DEFAULT_RULES)
    assert [f.name for f in found] == [FlagName.SELF_REFERRAL, FlagName.SHARED_FINGERPRINT]
    assert referrals.fraud_flags(facts(), DEFAULT_RULES) == ()


# --- reward rules ---

def test_both_recipients_become_one_reward_each():
    specs = referrals.expand_rewards([
        RewardRule(Trigger.JOIN, Recipients.INVITEE, points=50),
        RewardRule(Trigger.FIRST_PURCHASE, Recipients.BOTH, money_minor=1000)])
    assert specs == (RewardSpec(Trigger.JOIN, Beneficiary.INVITEE, points=50),
                     RewardSpec(Trigger.FIRST_PURCHASE, Beneficiary.REFERRER, money_minor=1000),
                     RewardSpec(Trigger.FIRST_PURCHASE, Beneficiary.INVITEE, money_minor=1000))
    assert referrals.rewards_for(DEFAULT_RULES, Trigger.FIRST_PURCHASE) == (
        RewardSpec(Trigger.FIRST_PURCHASE, Beneficiary.REFERRER, points=200),)


@pytest.mark.parametrize(("rules", "field", "words"), [
    ([RewardRule(Trigger.JOIN, Recipients.BOTH, points=1),
      RewardRule(Trigger.JOIN, Recipients.INVITEE, points=1)], "rewards.1", "twice"),
    ([RewardRule(Trigger.JOIN, Recipients.REFERRER)], "rewards.0", "points or money"),
    ([RewardRule(Trigger.JOIN, Recipients.REFERRER, points=-1)], "rewards.0.points", "0-"),
    ([RewardRule(Trigger.JOIN, Recipients.REFERRER, money_minor=10**9)],
     "rewards.0.moneyMinor", "0-"),
])
def test_bad_reward_rules_name_the_rule(rules, field, words):
    with pytest.raises(referrals.InvalidReferralRules, match=words) as raised:
        referrals.expand_rewards(rules)
    assert raised.value.field == field


@pytest.mark.parametrize(("change", "field"), [
    ({"attribution_window_days": 0}, "attributionWindowDays"),
    ({"max_joins_per_hour": 0}, "maxJoinsPerHour"),
    ({"max_joins_per_hour": 30, "max_joins_per_day": 20}, "maxJoinsPerDay"),
    ({"currency": "YUAN"}, "currency"),
])
def test_bad_windows_and_limits_name_the_field(change, field):
    with pytest.raises(referrals.InvalidReferralRules) as raised:
        referrals.check_rules(replace(DEFAULT_RULES, **change))
    assert raised.value.field == field
    assert referrals.check_rules(DEFAULT_RULES) is DEFAULT_RULES


def test_rewards_start_held_while_a_review_is_pending():
    assert referrals.reward_status(ReviewState.NONE) is RewardStatus.PAYABLE
    assert referrals.reward_status(ReviewState.PENDING) is RewardStatus.HELD
    assert referrals.reward_status(ReviewState.APPROVED) is RewardStatus.PAYABLE
    assert referrals.reward_status(ReviewState.REJECTED) is RewardStatus.REJECTED


def _referral(review: ReviewState) -> referrals.Referral:
    return referrals.Referral(
        id=7, code_id=1, code="ABCD2345", inviter_id=1, invitee_id=2,
        status=ReferralStatus.JOINED, invited_at=NOW, joined_at=NOW, converted_at=None,
        first_purchase_on=None, window_ends_on=date(2026, 4, 9), rule_version=0, flags=(),
        review=review, review_note=None, reviewed_at=None, reviewed_by=None)


def test_a_review_decides_a_pending_referral_once():
    pending = _referral(ReviewState.PENDING)
    assert referrals.review_outcome(pending, Decision.APPROVE) == (ReviewState.APPROVED,
                                                                   RewardStatus.PAYABLE)
    assert referrals.review_outcome(pending, Decision.REJECT) == (ReviewState.REJECTED,
                                                                  RewardStatus.REJECTED)
    with pytest.raises(referrals.NotFlagged):
        referrals.review_outcome(_referral(ReviewState.NONE), Decision.APPROVE)
    with pytest.raises(referrals.AlreadyReviewed, match="already approved"):
        referrals.review_outcome(_referral(ReviewState.APPROVED), Decision.REJECT)
    assert referrals.beneficiary_member(pending, Beneficiary.REFERRER) == 1
    assert referrals.beneficiary_member(pending, Beneficiary.INVITEE) == 2


# --- K-factor ---

def test_k_factor_is_invitations_per_inviter_times_acceptance():
    row = referral_kfactor.k_factor(referral_kfactor.CohortCounts(
        cohort="2026-01", inviters=4, invitations=10, joined=3, converted=1))
    assert row.invitations_per_inviter == 2.5  # 10 / 4
    assert row.acceptance_rate == 0.3  # 3 / 10
    assert row.k_factor == 0.75  # 2.5 x 0.3 = 3 / 4
    assert row.converted_per_inviter == 0.25  # 1 / 4


def test_k_factor_of_an_empty_cohort_is_unknown_not_zero():
    row = referral_kfactor.k_factor(referral_kfactor.CohortCounts(
        cohort="2026-02", inviters=0, invitations=0, joined=0, converted=0))
    assert (row.invitations_per_inviter, row.acceptance_rate, row.k_factor,
            row.converted_per_inviter) == (None, None, None, None)


def test_the_default_rules_reward_the_invitee_on_join_and_the_referrer_on_purchase():
    assert DEFAULT_RULES.version == 0 and DEFAULT_RULES.attribution_window_days == 30
    assert [(r.trigger, r.beneficiary, r.points) for r in DEFAULT_RULES.rewards] == [
        (Trigger.JOIN, Beneficiary.INVITEE, 50),
        (Trigger.FIRST_PURCHASE, Beneficiary.REFERRER, 200)]
    assert isinstance(DEFAULT_RULES, ReferralRules)
