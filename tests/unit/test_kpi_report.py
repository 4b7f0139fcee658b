"""New KPI functions (hand-computed) and property tests of the report assembly."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from domain.kpi import activity, hidden, money
from domain.kpi import report as kpi_report
from domain.kpi.inputs import CohortMatrix, FundingInputs, months_between
from domain.kpi.records import ModelFits
from domain.kpi.targets import TargetStatus
from domain.models import bgnbd, gamma_gamma, histories


def test_stickiness_from_totals():
    # DAU 2, 4, 0 over 3 days: mean 2; MAU 4 -> 0.5
    assert activity.stickiness_from_totals(dau_sum=6, days=3, monthly_active=4) == 0.5
    assert activity.stickiness_from_totals(dau_sum=0, days=0, monthly_active=4) is None
    assert activity.stickiness_from_totals(dau_sum=0, days=3, monthly_active=0) is None


def test_revenue_by_age_counts_only_complete_months():
    # cohort A (10 members) completed 2 months: 100, 50; cohort B (5) completed 1: 40
    revenue, members = money.revenue_by_age([[100, 50, 7], [40, 3]], [10, 5], complete=[2, 1])
    assert revenue.tolist() == [140, 50] and members.tolist() == [15, 10]
    assert money.historical_ltv(revenue, members_by_age=members) == pytest.approx(
        [140 / 15, 140 / 15 + 5])


def test_hidden_groups():
    assert hidden(3, 10) and not hidden(10, 10) and not hidden(0, 10) and not hidden(3, None)


def test_target_projection_is_the_line_through_baseline_and_current():
    target = kpi_report.TargetInput(id=1, name="t", metric="paying_share", baseline=0.05,
                                    goal=0.12, starts_on=date(2025, 1, 1),
                                    deadline=date(2025, 1, 31))
    # 10 days in: 0.05 -> 0.08, slope 0.003/day, at day 30: 0.14 >= 0.12
    on = kpi_report.assess_target(target, 0.08, date(2025, 1, 11))
    assert on.projected == pytest.approx(0.14) and on.status == TargetStatus.ON_TRACK
    off = kpi_report.assess_target(target, 0.055, date(2025, 1, 11))
    assert off.status == TargetStatus.OFF_TRACK  # projected 0.065
    assert kpi_report.assess_target(target, None, date(2025, 1, 11)).status == \
        TargetStatus.NO_DATA
    assert kpi_report.assess_target(target, 0.13, date(2025, 2, 1)).status == TargetStatus.MET


def _random_inputs(rng: np.random.Generator) -> FundingInputs:
    as_of = date(2025, 6, 15)
    months = months_between(date(2025, 1, 1), as_of)
    sizes = rng.integers(0, 50, len(months))
    active, revenue = [], []
    cohorts = []
    for c, size in enumerate(sizes):
        if size == 0:
            continue
        span = len(months) - c
        row = [int(size)] + [int(rng.integers(0, size + 1)) for _ in range(span - 1)]
        active.append(row)
        revenue.append([int(rng.integers(0, 10_000)) for _ in range(span)])
        cohorts.append(months[c])
    matrix = CohortMatrix(cohorts=cohorts, active=active, revenue=revenue)
    total = int(sizes.sum()) + int(rng.integers(0, 20))
    days = [as_of - timedelta(days=57 - i) for i in range(58)]
    series = [int(x) for x in rng.integers(0, 30, len(days))]
    n = len(months)
    return FundingInputs(
        as_of=as_of, start=as_of - timedelta(days=29), end=as_of, members_total=total,
        members_by_channel={"wechat": total}, members_by_tier={"core": total},
        new_members=0, new_by_channel={}, days=days, daily_active=series,
        daily_purchasers=series, daily_revenue=series, daily_events=series,
        daily_content=series, dau=1, wau=2, mau=3, power_curve=[3] + [0] * 29,
        active_by_tier={"core": 3}, churn_window_days=30, churn_at_start=0, churn_lost=0,
        payers=0, non_paying_at_start=0, converted=0, period_active=3, period_purchasers=0,
        period_repeaters=0, period_revenue=0, period_transactions=0, member_content=0,
        all_content=0, months=months, month_members=[total] * n, month_new=[0] * n,
        month_active=[1] * n, month_revenue=[1] * n, month_transactions=[0] * n,
        month_dau_sum=[1] * n, month_days=[30] * n, activity_cohorts=matrix,
        purchase_cohorts=matrix, spend_by_channel={}, acquired_by_channel={})


@pytest.mark.parametrize("seed", range(20))
def test_report_properties_on_random_inputs(seed):
    inputs = _random_inputs(np.random.default_rng(seed))
    report = kpi_report.assemble(inputs, options=kpi_report.Options())
    sizes = [c.size for c in report.cohort_retention]
    assert sum(sizes) == sum(r[0] for r in inputs.activity_cohorts.active)
    assert sum(sizes) <= report.members_total
    for cohort in report.cohort_retention:
        assert cohort.rates[0] == 1
        assert all(0 <= r <= 1 for r in cohort.rates)
    assert all(0 <= r <= 1 for r in report.retention_curve)
    assert report.ltv.historical == sorted(report.ltv.historical)  # cumulative, revenue >= 0
    suppressed = kpi_report.assemble(inputs, options=kpi_report.Options(min_group_size=25))
    for row in suppressed.cohort_retention:
        assert row.suppressed == (row.size is None) and (row.suppressed or row.size >= 25)


def test_predictive_ltv_over_grouped_buyers_equals_the_per_buyer_sum():
    """Buyers grouped by (x, t_x, T) with their mean spend give the per-buyer fits and the
    per-buyer sum of expected value (spend is affine in the mean for a given x)."""
    rng = np.random.default_rng(4)
    x, t_x, age = bgnbd.simulate_bgnbd(bgnbd.BgNbdParams(r=0.8, alpha=6.0, a=0.9, b=3.0),
                                       n=3_000, T=rng.integers(10, 40, 3_000) / 1.0, rng=rng)
    t_x, age = bgnbd.discretise_days(t_x, age_days=np.round(age * 7), rng=rng)
    monetary = gamma_gamma.simulate_gamma_gamma(
        gamma_gamma.GammaGammaParams(p=6.0, q=4.0, gamma=900.0), frequency=x, rng=rng)
    buyers = histories.Histories(member_ids=np.arange(len(x)), frequency=x, recency=t_x,
                                 age=age, monetary=monetary)
    grouped = histories.group(buyers)
    assert len(grouped) == len(buyers) and len(grouped.frequency) < len(buyers)
    options = kpi_report.Options(horizon_weeks=26.0, annual_discount_rate=0.1)
    mean, total, fit, spend_fit, reason = kpi_report.predictive_ltv(grouped, options)
    assert reason is None
    per_buyer_fit = bgnbd.fit(x, t_x, age)
    per_buyer_spend = gamma_gamma.fit(x, monetary)
    assert fit.params.as_array() == pytest.approx(per_buyer_fit.params.as_array(), rel=1e-6)
    assert spend_fit.params.as_array() == pytest.approx(per_buyer_spend.params.as_array(),
                                                        rel=1e-6)
    values = gamma_gamma.predictive_ltv(fit.params, spend_fit.params, frequency=x,
                                        recency=t_x, age=age, monetary=monetary,
                                        horizon_weeks=26.0, annual_discount_rate=0.1)
    assert total == pytest.approx(values.sum(), rel=1e-10)
    assert mean == pytest.approx(values.mean(), rel=1e-10)
    # the same fits given (as stored ones are) skip fitting and give the same values
    again = kpi_report.predictive_ltv(grouped, options,
                                      fits=ModelFits(bgnbd=fit, gamma_gamma=spend_fit))
    assert again == (mean, total, fit, spend_fit, None)


def _hand_inputs(**changes) -> FundingInputs:
    """A small hand-made input set (as of mid-June, the period the 30 days to as-of)."""
    as_of = date(2025, 6, 15)
    months = months_between(date(2025, 4, 1), as_of)
    days = [as_of - timedelta(days=57 - i) for i in range(58)]
    zeros = [0] * len(days)
    empty = CohortMatrix(cohorts=[], active=[], revenue=[])
    base = dict(
        as_of=as_of, start=as_of - timedelta(days=29), end=as_of, members_total=100,
        members_by_channel={"wechat": 100}, members_by_tier={"core": 100},
        new_members=0, new_by_channel={}, days=days, daily_active=zeros,
        daily_purchasers=zeros, daily_revenue=zeros, daily_events=zeros,
        daily_content=zeros, dau=0, wau=0, mau=0, power_curve=[0] * 30,
        active_by_tier={}, churn_window_days=30, churn_at_start=0, churn_lost=0,
        payers=0, non_paying_at_start=0, converted=0, period_active=0, period_purchasers=0,
        period_repeaters=0, period_revenue=0, period_transactions=0, member_content=0,
        all_content=0, months=months, month_members=[100] * 3, month_new=[0] * 3,
        month_active=[0] * 3, month_revenue=[0] * 3, month_transactions=[0] * 3,
        month_dau_sum=[0] * 3, month_days=[30, 31, 15], activity_cohorts=empty,
        purchase_cohorts=empty, spend_by_channel={}, acquired_by_channel={})
    base.update(changes)
    return FundingInputs(**base)


def test_funnel_steps_share_one_cohort_and_one_window():
    # 100 members; 30 active in the period, 12 of them bought in it, 3 of those on >= 2
    # days. 50 members have bought at some time and 40 were active in the 30 days, but
    # neither count belongs to the period's funnel (50 payers out of 40 active would
    # read as a 125 % step). Steps: 30/100, 12/30, 3/12.
    inputs = _hand_inputs(mau=40, payers=50, period_active=30, period_purchasers=12,
                          period_repeaters=3, start=date(2025, 6, 1), end=date(2025, 6, 15),
                          days=[date(2025, 6, 1) - timedelta(days=28 - i) for i in range(43)],
                          daily_active=[0] * 43, daily_purchasers=[0] * 43,
                          daily_revenue=[0] * 43, daily_events=[0] * 43,
                          daily_content=[0] * 43)
    report = kpi_report.assemble(inputs, options=kpi_report.Options())
    assert report.funnel_steps == [100, 30, 12, 3]
    assert report.funnel == pytest.approx([0.3, 0.4, 0.25])


def test_cohort_retention_censors_the_partly_elapsed_as_of_month():
    # As of 15 June: April's cohort (10 members) had 6 active in May and 2 so far in
    # June; May's (8) 3 so far in June; June's own cohort has 5 members so far. Half of
    # June is not observed, so June is censored for April and May (2/10 would read as
    # a drop); June's cohort keeps its month 0 (100 % by construction).
    matrix = CohortMatrix(cohorts=[date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1)],
                          active=[[10, 6, 2], [8, 3], [5]],
                          revenue=[[100, 60, 20], [80, 30], [50]])
    report = kpi_report.assemble(_hand_inputs(activity_cohorts=matrix,
                                              purchase_cohorts=matrix),
                                 options=kpi_report.Options())
    for rows in (report.cohort_retention, report.purchase_retention):
        assert [(c.cohort_start.month, c.size, c.rates) for c in rows] == [
            (4, 10, [1.0, 0.6]), (5, 8, [1.0]), (6, 5, [1.0])]
    # month 1 pools only April (May's month 1 is June): 6 / 10
    assert report.retention_curve == pytest.approx([1.0, 0.6])
    # on the last day of June every month is complete and June counts
    done = kpi_report.assemble(_hand_inputs(activity_cohorts=matrix, as_of=date(2025, 6, 30),
                                            start=date(2025, 6, 1), end=date(2025, 6, 30),
                                            days=[date(2025, 6, 1) - timedelta(days=28 - i)
                                                  for i in range(58)]),
                               options=kpi_report.Options())
    assert [c.rates for c in done.cohort_retention] == [[1.0, 0.6, 0.2], [1.0, 0.375], [1.0]]
