"""Calibration estimators on hand-computed member summaries (no database)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from domain import calibration as cal

AS_OF = date(2026, 3, 31)
WINDOW = cal.Window(as_of=AS_OF, window_days=40, churn_days=10)
START = WINDOW.start.toordinal()  # 2026-02-20
SETTLED = WINDOW.settled_end.toordinal()  # 2026-03-21, 30 days after START - 1
END = AS_OF.toordinal()


def summaries(**overrides) -> cal.MemberSummaries:
    # A: long-standing, active to the end; B: churned (last active START + 9), bought on
    # START + 2; C: joined by referral after the settled part; D: gone before the window
    columns = dict(
        member_id=[1, 2, 3, 4], tier_id=[10, 10, 10, 10],
        channel=["wechat", "app", "referral", "app"],
        joined_day=[START - 100, START - 100, SETTLED + 5, START - 200],
        last_active=[END, START + 9, END - 1, START - 50],
        first_purchase=[-1, START + 2, -1, -1],
        active_days=[20, 4, 2, 0], unpaid_active_days=[20, 2, 2, 0], invites=[4, 0, 1, 0],
        paying_active_days=[0, 2, 0, 0], revenue_minor=[0, 600, 0, 0],
        settled_active_days=[15, 3, 0, 0])
    columns.update(overrides)
    return cal.MemberSummaries(**{k: np.array(v, dtype=object if k == "channel" else np.int64)
                                  for k, v in columns.items()})


def run(s=None, **kwargs):
    return cal.estimate(s or summaries(), window=WINDOW, tier_ids=[10], tier_keys=["only"],
                        min_members=1, **kwargs)


def test_window_bounds():
    assert WINDOW.start == date(2026, 2, 20) and WINDOW.settled_end == date(2026, 3, 21)
    assert SETTLED - START + 1 == 30


def test_rates_by_hand():
    est = run().estimates
    # activity: A 15 of 30 settled days, B 3 of the 9 days before its last active day,
    # C joined after the settled part
    assert est["tiers.only.activity"].value == pytest.approx(18 / 39)
    assert est["tiers.only.activity"].n == 39
    assert est["tiers.only.activity"].se == pytest.approx(math.sqrt(18 / 39 * 21 / 39 / 39))
    # churn: B churned; at risk A 30 + B 10 days, + B's expected silent days 21 / 18
    assert est["tiers.only.churnHazard"].value == pytest.approx(1 / 41)
    # conversion: B's first purchase over the never-paid active days of A, B and C
    assert est["tiers.only.conversionHazard"].value == pytest.approx(1 / 24)
    # invitations per active member-day; C's referral join over the 5 invitations
    assert est["tiers.only.inviteRate"].value == pytest.approx(5 / 26)
    assert est["tiers.only.inviteRate"].se == pytest.approx(math.sqrt(5) / 26)
    assert est["referral.acceptanceRate"].value == pytest.approx(1 / 5)
    assert est["channels.referral"].value == 1.0
    assert est["tiers.only.revenuePerActiveDayMinor"].value == 300


def test_initial_state_is_the_current_members():
    initial = run().initial
    assert initial.member_id.tolist() == [1, 3]  # B churned, D long gone
    assert initial.days_inactive.tolist() == [0, 1]
    assert initial.paying.tolist() == [False, False]
    # A: (15 + 2) / (18/39 x 30 + 2); C has no settled days: the prior mean, 1
    assert initial.propensity[0] == pytest.approx(17 / (18 / 39 * 30 + 2), rel=1e-6)
    assert initial.propensity[1] == pytest.approx(1.0)


def test_members_without_a_tier_count_in_the_lowest():
    s = summaries(tier_id=[10, -1, -1, -1])
    result = cal.estimate(s, window=WINDOW, tier_ids=[10, 20], tier_keys=["top", "low"],
                          min_members=1)
    assert result.estimates["tiers.top.activity"].value == pytest.approx(15 / 30)
    assert result.estimates["tiers.low.activity"].value == pytest.approx(3 / 9)
    assert result.initial.tier.tolist() == [0, 1]


def test_too_few_members_and_unknown_tiers():
    with pytest.raises(cal.NotEnoughData):
        cal.estimate(summaries(), window=WINDOW, tier_ids=[10], tier_keys=["only"])
    with pytest.raises(cal.TiersDoNotMatch):
        run(summaries(tier_id=[10, 99, 10, 10]))


def test_bass_fit_recovers_p_and_q_from_expected_joins():
    n, p, q, members, joined = 10_000, 0.002, 0.3, 500.0, 500.0
    joins, before, cumulative = [], [], []
    for _ in range(40):
        j = (n - joined) * (p + q * members / n)
        joins.append(j)
        before.append(members)
        cumulative.append(joined)
        members += j
        joined += j
    fitted = cal.bass_fit(np.array(joins), np.array(before), np.array(cumulative), n)
    assert fitted[0].value == pytest.approx(p) and fitted[1].value == pytest.approx(q)
    assert cal.bass_fit(np.array(joins[:3]), np.array(before[:3]), np.array(cumulative[:3]),
                        n) is None


def test_binomial_standard_errors():
    assert cal.binomial(0, 0).se == math.inf
    assert cal.binomial(3, 10).se == pytest.approx(math.sqrt(0.3 * 0.7 / 10))
    assert cal.binomial(0, 100).se > 0  # never a zero error on an empty count

