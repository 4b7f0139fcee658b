"""Every KPI formula on small fixtures computed by hand (the arithmetic is in comments)."""

from __future__ import annotations

import numpy as np
import pytest

from domain.kpi import activity, anomalies, content, conversion, growth, money, retention
from domain.kpi.targets import TargetStatus, assess, linear_projection


def test_stickiness_averages_every_day_of_the_month_including_quiet_ones():
    # 30 days: 10 days with 6 actives, 20 days with none -> mean DAU 2; MAU 8 -> 0.25.
    dau = np.array([6] * 10 + [0] * 20)
    assert activity.stickiness(daily_active=dau, monthly_active=8) == pytest.approx(0.25)
    assert activity.stickiness(daily_active=dau, monthly_active=0) is None
    assert activity.stickiness(daily_active=np.array([]), monthly_active=3) is None


def test_activity_rate_and_power_user_curve():
    assert activity.activity_rate(active=3, members=10) == 0.3
    assert activity.activity_rate(active=0, members=0) is None
    # Members active on 1, 1, 3 and 7 days of a 7-day window.
    assert activity.power_user_curve(np.array([1, 1, 3, 7]), window_days=7) == \
        [2, 0, 1, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="1..7"):
        activity.power_user_curve(np.array([0, 2]), window_days=7)


def test_cmgr_compounds_rather_than_averaging_monthly_rates():
    # 100 -> 121 over two months is 10% a month compounded.
    assert growth.cmgr([100, 150, 121]) == pytest.approx(0.10)
    # The mean of month-on-month rates would say (50% - 19.3%) / 2 = 15.3%.
    assert growth.cmgr([100]) is None
    assert growth.cmgr([0, 50]) is None


def test_conversion_repeat_rate_and_funnel():
    assert conversion.paying_share(payers=5, members=100) == 0.05
    assert conversion.period_conversion(converted=7, non_paying_at_start=70) == 0.1
    assert conversion.repeat_purchase_rate(repeaters=3, purchasers=12) == 0.25
    assert conversion.repeat_purchase_rate(repeaters=0, purchasers=0) is None
    # 1000 visited -> 200 joined -> 50 bought: 20% then 25%.
    assert conversion.funnel([1000, 200, 50]) == [0.2, 0.25]
    assert conversion.funnel([0, 0]) == [None]


def test_cohort_retention_censors_months_the_as_of_date_has_not_reached():
    active = np.array([
        [10, 5, 2],  # January cohort: three months observed
        [4, 1, 0],  # February cohort: two months observed (the 0 is censored)
        [0, 0, 0],  # March: nobody first active -> no row
    ])
    rows = retention.cohort_retention(active, observable=np.array([3, 2, 1]))
    assert [(r.cohort, r.size, r.rates) for r in rows] == [
        (0, 10, [1.0, 0.5, 0.2]),
        (1, 4, [1.0, 0.25]),
    ]
    # Month 1 pools both cohorts: (5 + 1) / (10 + 4); month 2 only January's: 2 / 10.
    assert retention.retention_curve(rows) == pytest.approx([1.0, 6 / 14, 0.2])
    assert retention.retention_curve([]) == []


def test_churn_rate():
    assert retention.churn_rate(lost=12, at_start=80) == 0.15
    assert retention.churn_rate(lost=0, at_start=0) is None


def test_arpu_aov_and_historical_ltv():
    assert money.arpu(revenue_minor=50_000, active_members=40) == 1250
    assert money.aov(revenue_minor=50_000, transactions=20) == 2500
    assert money.aov(revenue_minor=0, transactions=0) is None
    # Month 0: 1000 over 10 members = 100; month 1: 600 over 6 members who reached it =
    # 100; month 2: nobody old enough yet -> adds 0. Cumulative: 100, 200, 200.
    assert money.historical_ltv(np.array([1000, 600, 0]), members_by_age=np.array([10, 6, 0])) \
        == [100.0, 200.0, 200.0]


def test_cac_per_channel_and_blended_with_referral_rewards_as_cost():
    cost = {"douyin": 35_000, "referral": 6_000}
    joined = {"douyin": 10, "referral": 4, "offline": 6}
    assert money.cac(acquisition_cost_minor=cost, new_members=joined) == {
        "douyin": 3500.0, "offline": 0.0, "referral": 1500.0,
        "all": 41_000 / 20,  # 2050 fen
    }
    assert money.cac(acquisition_cost_minor={"wechat": 100}, new_members={})["wechat"] is None


def test_ltv_to_cac_and_payback():
    assert money.ltv_to_cac(ltv_minor=10_500, cac_minor=3_500) == 3.0
    assert money.ltv_to_cac(ltv_minor=None, cac_minor=3_500) is None
    # CAC 3500 / (ARPU 1000 a month x 50% margin) = 7 months.
    assert money.cac_payback_months(cac_minor=3500, monthly_arpu_minor=1000,
                                    gross_margin=0.5) == 7.0
    assert money.cac_payback_months(cac_minor=3500, monthly_arpu_minor=0,
                                    gross_margin=0.5) is None


def test_campaign_roi():
    # Revenue 100,000 x 40% margin = 40,000 profit; (40,000 - 10,000) / 10,000 = 3.
    assert money.campaign_roi(attributed_revenue_minor=100_000, gross_margin=0.4,
                              cost_minor=10_000) == 3.0
    assert money.campaign_roi(attributed_revenue_minor=5, gross_margin=1.0,
                              cost_minor=0) is None


def test_ugc_share():
    assert content.ugc_share(member_content=45, all_content=60) == 0.75
    assert content.ugc_share(member_content=0, all_content=0) is None


def test_linear_projection_extends_the_least_squares_line():
    # y = 2x + 1 plus noise (+.5, -.5, -.5, +.5), which sums to zero and is orthogonal to
    # x, so least squares recovers the line exactly: 21 at x = 10.
    assert linear_projection(np.array([0, 1, 2, 3]), np.array([1.5, 2.5, 4.5, 7.5]),
                             at_day=10) == pytest.approx(21.0)
    assert linear_projection(np.array([5]), np.array([0.3]), at_day=90) == 0.3


def test_target_status_from_the_projection_and_after_the_deadline():
    days = np.array([0, 30, 60])
    # Activity 10% -> 30% goal by day 90; rising 5 points a month reaches 25%:
    # 15 of the 20-point gap = 75% -> off track; 6 points a month reaches 28% (90%) ->
    # at risk; 7 points reaches 31% -> on track.
    def status(per_month):
        values = 0.10 + per_month * days / 30
        return assess(baseline=0.10, goal=0.30, days=days, values=values, as_of_day=60,
                      deadline_day=90).status
    assert status(0.05) is TargetStatus.OFF_TRACK
    assert status(0.06) is TargetStatus.AT_RISK
    assert status(0.07) is TargetStatus.ON_TRACK
    # Lower is better: churn from 20% to 10%, falling 4 points a month -> 8% at day 90.
    churn = assess(baseline=0.20, goal=0.10, days=days, values=np.array([0.20, 0.16, 0.12]),
                   as_of_day=60, deadline_day=90, higher_is_better=False)
    assert churn.status is TargetStatus.ON_TRACK and churn.projected == pytest.approx(0.08)
    late = assess(baseline=0.05, goal=0.12, days=days, values=np.array([0.05, 0.08, 0.11]),
                  as_of_day=200, deadline_day=180)
    assert (late.status, late.current) == (TargetStatus.MISSED, 0.11)
    empty = assess(baseline=0.05, goal=0.12, days=np.array([]), values=np.array([]),
                   as_of_day=10, deadline_day=180)
    assert empty.status is TargetStatus.NO_DATA


def test_three_sigma_flags_only_days_far_from_the_trailing_mean():
    # 28 days alternating 10 and 12: mean 11, sample std sqrt(28/27) ~ 1.018; 3 sigma
    # ~ 3.05. 14 is 3 away (not flagged), 15 is 4 away (flagged).
    history = [10, 12] * 14
    assert anomalies.three_sigma(np.array([*history, 14])) == []
    found = anomalies.three_sigma(np.array([*history, 15]))
    assert [(a.index, a.value, a.trailing_mean) for a in found] == [(28, 15.0, 11.0)]
    assert found[0].trailing_std == pytest.approx((28 / 27) ** 0.5)
    # A flat history flags any change, and not an unchanged day.
    assert [a.index for a in anomalies.three_sigma(np.array([5] * 28 + [5, 6]))] == [29]
