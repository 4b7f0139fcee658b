"""Lifecycle stages and churn warnings on hand-computed summaries, every boundary included."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from domain import churn, lifecycle
from domain.churn import WinBackAction as A
from domain.lifecycle import LifecyclePolicy
from domain.lifecycle import LifecycleStage as S


def summaries(rows):
    """rows: (first, last, login, active_days, spend[, joined, tier]) per member."""
    n = len(rows)
    col = lambda i, default=0: np.array([r[i] if len(r) > i else default  # noqa: E731
                                         for r in rows], dtype=np.int64)
    return lifecycle.MemberSummaries(
        member_ids=np.arange(1, n + 1), current_stage=np.full(n, -1, dtype=np.int8),
        tier_ids=col(6, -1), days_since_joined=col(5, 100), days_since_first=col(0),
        days_since_last=col(1), days_since_login=col(2), active_days=col(3),
        spend_minor=col(4))


def stages(rows, policy=lifecycle.DEFAULT_POLICY):
    return [lifecycle.STAGES[c] for c in lifecycle.classify(summaries(rows), policy)]


def test_a_member_who_never_interacted_is_a_prospect():
    assert stages([(-1, -1, -1, 0, 0)]) == [S.PROSPECT]


def test_first_interaction_within_thirty_days_is_new_and_the_thirtieth_day_is_not():
    # first 29 days ago = as_of - 29, the oldest day of the 30-day window.
    assert stages([(29, 29, 29, 1, 0), (30, 1, 1, 2, 0), (0, 0, 0, 1, 0)]) == [
        S.NEW, S.DORMANT, S.NEW]


def test_active_needs_four_active_days_in_the_last_thirty():
    assert stages([(200, 0, 0, 4, 0), (200, 0, 0, 3, 0)]) == [S.ACTIVE, S.DORMANT]


def test_silence_of_thirty_to_eighty_nine_days_is_dormant_and_ninety_is_churned():
    assert stages([(300, 29, 29, 4, 0), (300, 30, 30, 0, 0), (300, 89, 89, 0, 0),
                   (300, 90, 90, 0, 0)]) == [S.ACTIVE, S.DORMANT, S.DORMANT, S.CHURNED]


def test_high_value_is_active_with_spend_at_the_threshold():
    rows = [(200, 0, 0, 4, 50_000), (200, 0, 0, 4, 49_999), (200, 0, 0, 3, 90_000),
            (10, 0, 0, 4, 50_000)]
    # Top-share off so only the threshold counts; a new big spender is high value already.
    policy = LifecyclePolicy(high_value_top_share=0.0)
    assert stages(rows, policy) == [S.HIGH_VALUE, S.ACTIVE, S.DORMANT, S.HIGH_VALUE]


def test_top_share_of_spenders_is_high_value_with_ties_at_the_cutoff_included():
    spend = [100, 200, 300, 300, 400, 0, 0]  # 5 spenders: top 40% = 2 members, cutoff 300
    rows = [(200, 0, 0, 5, s) for s in spend]
    result = stages(rows, LifecyclePolicy(high_value_top_share=0.4))
    assert result == [S.ACTIVE, S.ACTIVE, S.HIGH_VALUE, S.HIGH_VALUE, S.HIGH_VALUE,
                      S.ACTIVE, S.ACTIVE]
    assert lifecycle.top_share_cutoff(np.array(spend), 0.4) == 300
    assert lifecycle.top_share_cutoff(np.array(spend), 0.1) == float("inf")  # floor(0.5) = 0
    assert lifecycle.top_share_cutoff(np.zeros(3), 1.0) == float("inf")


def test_churned_wins_over_a_big_old_spend():
    assert stages([(400, 95, 95, 0, 1_000_000)]) == [S.CHURNED]


def test_counts_have_every_stage():
    codes = np.array([0, 0, 2, 5, -1], dtype=np.int8)
    assert lifecycle.counts(codes) == {S.PROSPECT: 2, S.NEW: 0, S.ACTIVE: 1, S.HIGH_VALUE: 0,
                                       S.DORMANT: 0, S.CHURNED: 1}


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"active_min_days": 0}, "NON_POSITIVE_DAYS", "policy.activeMinDays"),
    ({"churned_after_days": -5}, "NON_POSITIVE_DAYS", "policy.churnedAfterDays"),
    ({"dormant_after_days": 90}, "INVALID_WINDOWS", "policy.dormantAfterDays"),
    ({"active_min_days": 31}, "INVALID_WINDOWS", "policy.activeMinDays"),
    ({"new_within_days": 31}, "INVALID_WINDOWS", "policy.newWithinDays"),
    ({"high_value_top_share": 1.5}, "INVALID_VALUE", "policy.highValueTopShare"),
    ({"high_value_spend_minor": 0}, "INVALID_VALUE", "policy.highValueSpendMinor"),
])
def test_incoherent_lifecycle_policies_are_refused_with_a_code(change, code, field):
    with pytest.raises(lifecycle.LifecycleError) as caught:
        lifecycle.validate_policy(LifecyclePolicy(**change))
    assert (caught.value.code, caught.value.field) == (code, field)


def test_as_of_may_not_be_in_the_future_nor_before_the_last_refresh():
    today = date(2026, 5, 1)
    lifecycle.check_as_of(today, today=today, last=today)
    with pytest.raises(lifecycle.AsOfInFuture):
        lifecycle.check_as_of(date(2026, 5, 2), today=today, last=None)
    with pytest.raises(lifecycle.AsOfBeforeLastRefresh):
        lifecycle.check_as_of(date(2026, 4, 30), today=today, last=today)


def test_warning_levels_start_on_the_threshold_day():
    days = np.array([-1, 0, 2, 3, 6, 7, 13, 14, 400])
    assert churn.warning_levels(days, (3, 7, 14)).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3]


def test_days_inactive_count_logins_by_default_and_joining_when_never_logged_in():
    s = summaries([(20, 1, 10, 1, 0, 40), (-1, -1, -1, 0, 0, 5), (20, 2, -1, 1, 0, 30)])
    assert churn.days_inactive(s, churn.ChurnPolicy()).tolist() == [10, 5, 30]
    anything = churn.ChurnPolicy(any_activity_counts=True)
    assert churn.days_inactive(s, anything).tolist() == [1, 5, 2]


def test_suggested_action_follows_the_tier_ladder_or_the_default_one():
    policy = churn.default_policy(tier_keys={"core", "basic"})
    assert policy.tier_actions == {"core": (A.PERSONALISED_PUSH, A.PRIORITY_ACCESS,
                                            A.ONE_ON_ONE_CONTACT)}
    levels = np.array([0, 1, 2, 3, 2, 3])
    keys = np.array(["core", "core", "core", "core", "basic", None], dtype=object)
    codes = churn.suggested_actions(levels, keys, policy)
    assert [churn.ACTIONS[c] if c >= 0 else None for c in codes] == [
        None, A.PERSONALISED_PUSH, A.PRIORITY_ACCESS, A.ONE_ON_ONE_CONTACT, A.COUPON,
        A.PRIORITY_ACCESS]


def test_default_ladders_stretch_to_more_levels_and_skip_absent_tiers():
    policy = churn.default_policy(tier_keys=(), warning_after_days=(1, 2, 3, 4))
    assert policy.actions == (*churn.DEFAULT_LADDER, A.PRIORITY_ACCESS)
    assert policy.tier_actions == {}
    assert churn.default_policy(tier_keys=(), warning_after_days=(5,)).actions == (
        A.PERSONALISED_PUSH,)


@pytest.mark.parametrize(("policy", "code", "field"), [
    (churn.ChurnPolicy(warning_after_days=(3, 3, 14)), "LEVELS_NOT_INCREASING",
     "churn.warningAfterDays.1"),
    (churn.ChurnPolicy(warning_after_days=(7, 3, 14)), "LEVELS_NOT_INCREASING",
     "churn.warningAfterDays.1"),
    (churn.ChurnPolicy(warning_after_days=(0, 7, 14)), "NON_POSITIVE_DAYS",
     "churn.warningAfterDays.0"),
    (churn.ChurnPolicy(tier_actions={"gold": churn.DEFAULT_LADDER}), "UNKNOWN_TIER",
     "churn.tierActions.0.tierKey"),  # the input field (was churn.tierActions.gold)
    (churn.ChurnPolicy(tier_actions={"core": churn.DEFAULT_LADDER, "gold": (A.COUPON,)}),
     "UNKNOWN_TIER", "churn.tierActions.1.tierKey"),
    (churn.ChurnPolicy(tier_actions={"core": (A.COUPON,)}), "ACTIONS_DO_NOT_MATCH_LEVELS",
     "churn.tierActions.0.actions"),
    (churn.ChurnPolicy(actions=(A.COUPON,)), "ACTIONS_DO_NOT_MATCH_LEVELS", "churn.actions"),
    (churn.ChurnPolicy(warning_after_days=()), "INVALID_VALUE", "churn.warningAfterDays"),
])
def test_incoherent_churn_policies_are_refused_with_a_code(policy, code, field):
    with pytest.raises(churn.ChurnError) as caught:
        churn.validate_policy(policy, tier_keys={"core"})
    assert (caught.value.code, caught.value.field) == (code, field)
