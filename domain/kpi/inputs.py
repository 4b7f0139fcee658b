"""The aggregate inputs of the funding report, in one value.

`FundingInputs` is what the store's producer (`KpiRepository.funding_inputs`, SQL over
the KPI rollups and `member_days`) and a simulator fill; `domain.kpi.report` turns it
into KPIs. Plain ints, dates and lists, so two producers can be compared for equality.

Conventions (every KPI's docstring refers to them):
- days are UTC days; the *as-of day* is inclusive; windows are calendar windows of whole
  days ending on the as-of day (the last 7 days for WAU, the last 30 for MAU);
- the *period* [start, end] (both inclusive, end <= as-of) is the window of flows:
  revenue, transactions, new members, conversion, repeat purchase, UGC;
- an *active member* had at least one event of any type that day;
- a *transaction* is a purchase day (all purchases of one member on one UTC day);
- a *member* is a member record that has not been merged into another, counted from
  its join time (`joined_at`); tier is the member's current tier, channel the
  acquisition channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

TRAILING_DAYS = 28  # history the anomaly rule needs before the period
WINDOW_DAYS = 30  # MAU, activity rate and power-user window
WEEK_DAYS = 7
NO_TIER = "none"


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_between(first: date, last: date) -> list[date]:
    """Month starts from first's month to last's month, inclusive."""
    out, month = [], month_start(first)
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


@dataclass(frozen=True)
class CohortMatrix:
    """`active[c][k]`: members of cohort c active (or purchasing) in the k-th calendar
    month after the cohort's month, for k up to the as-of month (later months are
    censored and absent); `revenue[c][k]` their revenue in that month (minor units).
    `active[c][0]` is the cohort's size."""

    cohorts: list[date] = field(default_factory=list)
    active: list[list[int]] = field(default_factory=list)
    revenue: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True)
class FundingInputs:
    as_of: date
    start: date  # period start (inclusive)
    end: date  # period end (inclusive)
    # members joined by the end of the as-of day
    members_total: int
    members_by_channel: dict[str, int]
    members_by_tier: dict[str, int]  # tier key, or NO_TIER
    # members joined in the period
    new_members: int
    new_by_channel: dict[str, int]
    # daily series over [start - TRAILING_DAYS, end]
    days: list[date]
    daily_active: list[int]
    daily_purchasers: list[int]  # = transactions that day
    daily_revenue: list[int]
    daily_events: list[int]
    daily_content: list[int]  # posts + comments
    # trailing windows ending on the as-of day
    dau: int
    wau: int
    mau: int  # 30 days
    power_curve: list[int]  # [d-1]: members active on exactly d of the 30 days
    active_by_tier: dict[str, int]  # active in the 30 days, by current tier
    churn_window_days: int
    churn_at_start: int  # active in the window before (as_of - w)
    churn_lost: int  # of them, not active in the window ending on the as-of day
    # conversion
    payers: int  # first purchase on or before the as-of day
    non_paying_at_start: int  # joined before start, no purchase before start
    converted: int  # of them, first purchase in the period
    # the period
    period_active: int
    period_purchasers: int  # members with >= 1 purchase day in the period
    period_repeaters: int  # members with >= 2 purchase days in the period
    period_revenue: int
    period_transactions: int
    member_content: int  # posts + comments in the period
    all_content: int  # posts + comments + shares in the period
    # calendar months from the first with activity to the as-of month
    months: list[date]
    month_members: list[int]  # joined by the month's end (or the as-of day)
    month_new: list[int]
    month_active: list[int]  # MAU of the calendar month (days up to as-of)
    month_revenue: list[int]
    month_transactions: list[int]
    month_dau_sum: list[int]  # sum of DAU over the month's days up to as-of
    month_days: list[int]  # those days
    activity_cohorts: CohortMatrix
    purchase_cohorts: CohortMatrix
    # acquisition over the calendar months the period touches (up to the as-of day)
    spend_by_channel: dict[str, int]  # recorded spend + referral money rewards
    acquired_by_channel: dict[str, int]

    @property
    def period_days(self) -> list[date]:
        return self.days[TRAILING_DAYS:]
