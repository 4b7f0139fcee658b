"""The daily KPI catalogue on a three-day fixture computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from domain.kpi import daily


def totals() -> daily.DailyTotals:
    a = np.array
    return daily.DailyTotals(
        members=a([0, 10, 20]), new_members=a([0, 10, 12]), referred_members=a([0, 2, 3]),
        churned_members=a([0, 0, 2]), dau=a([0, 6, 5]), active_30d=a([0, 8, 10]),
        payers=a([0, 1, 4]), new_payers=a([0, 1, 3]), revenue_minor=a([0, 100, 250]),
        cost_minor=a([50, 70, 80]), members_by_tier={"core": a([0, 2, 4])},
        active_30d_by_tier={"core": a([0, 2, 3])})


def test_ratios_use_the_product_kpi_functions_and_are_nan_without_members():
    kpis = daily.compute(totals())
    # activity rate 8/10, 10/20; paying share 1/10, 4/20; day 1 has no members
    np.testing.assert_allclose(kpis["activityRate"], [np.nan, 0.8, 0.5])
    np.testing.assert_allclose(kpis["payingShare"], [np.nan, 0.1, 0.2])
    np.testing.assert_allclose(kpis["activityRateByTier.core"], [np.nan, 1.0, 0.75])


def test_counts_and_running_totals():
    kpis = daily.compute(totals())
    assert kpis["members"].tolist() == [0, 10, 20]
    assert kpis["cumulativeCostMinor"].tolist() == [50, 120, 200]
    assert kpis["cumulativeRevenueMinor"].tolist() == [0, 100, 350]
    assert set(kpis) == set(daily.names(["core"]))


def test_every_kpi_says_what_it_counts_and_which_way_is_better():
    for name, kpi in daily.CATALOGUE.items():
        assert kpi.__doc__ and len(kpi.__doc__) > 20, name
    assert daily.higher_is_better("payingShare")
    assert daily.higher_is_better("activityRateByTier.core")
    assert not daily.higher_is_better("cumulativeCostMinor")
    assert daily.names(["core", "basic"])[-2:] == ["activityRateByTier.core",
                                                  "activityRateByTier.basic"]


@pytest.mark.parametrize("name", ["members", "dau", "revenueMinor"])
def test_count_kpis_pass_the_totals_through(name):
    assert len(daily.compute(totals())[name]) == 3
