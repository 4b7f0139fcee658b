"""Revenue, unit economics and returns. Money is integer minor units (fen/cents);
ratios of money are floats in minor units.

The unit of transaction is the purchase day (see `domain.kpi.conversion`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from domain.kpi import share


def arpu(*, revenue_minor: int, active_members: int) -> float | None:
    """Revenue in the period / members active in the period (minor units per member)."""
    return share(revenue_minor, active_members)


def aov(*, revenue_minor: int, transactions: int) -> float | None:
    """Revenue in the period / transactions (purchase days) in the period."""
    return share(revenue_minor, transactions)


def historical_ltv(revenue_by_age: np.ndarray, *, members_by_age: np.ndarray) -> list[float]:
    """Realised revenue per member by age: entry a = sum over ages 0..a of (revenue
    earned at that age / members who have completed that age by the as-of date), so
    members too young for an age are censored there, not counted as zero.

    Age is counted in calendar months from the cohort's month (the report's cohort is
    the calendar month of first activity, not of sign-up; age 0 is that month).
    `revenue_by_age[a]` is revenue earned at age a by members who have completed age a;
    `members_by_age[a]` counts those members (see `revenue_by_age`)."""
    revenue = np.asarray(revenue_by_age, dtype=float)
    members = np.asarray(members_by_age, dtype=float)
    per_member = np.divide(revenue, members, out=np.zeros_like(revenue), where=members > 0)
    return np.cumsum(per_member).tolist()


def cac(*, acquisition_cost_minor: Mapping[str, int], new_members: Mapping[str, int]
        ) -> dict[str, float | None]:
    """Customer acquisition cost per channel and blended (key "all").

    Per channel: the channel's acquisition spend in the window / members who joined
    through it in the window. Referral money rewards (payable or paid) created in the
    window are the referral channel's spend (counted once, not also as reduced revenue).
    Blended: all spend / all new members. The report's window is the calendar months
    the period touches, up to the end of the as-of day (recorded spend is monthly)."""
    channels = sorted(set(acquisition_cost_minor) | set(new_members))
    out = {c: share(acquisition_cost_minor.get(c, 0), new_members.get(c, 0))
           for c in channels}
    out["all"] = share(sum(acquisition_cost_minor.values()), sum(new_members.values()))
    return out


def ltv_to_cac(*, ltv_minor: float | None, cac_minor: float | None) -> float | None:
    """LTV / CAC (3 or more is the usual bar); None when either is undefined or CAC is 0.

    The report passes the historical LTV at 12 months (or the oldest complete age):
    realised *revenue* per member, not gross profit, so with a gross margin below 1 the
    margin-based ratio is this value x the margin; and the blended CAC of the calendar
    months the period touches, up to the as-of day."""
    if ltv_minor is None or cac_minor is None:
        return None
    return share(ltv_minor, cac_minor)


def cac_payback_months(*, cac_minor: float | None, monthly_arpu_minor: float | None,
                       gross_margin: float) -> float | None:
    """CAC / (monthly ARPU x gross margin): months of margin a new member needs to repay
    their acquisition cost (under 12 is the usual bar)."""
    if cac_minor is None or monthly_arpu_minor is None:
        return None
    return share(cac_minor, monthly_arpu_minor * gross_margin)


def campaign_roi(*, attributed_revenue_minor: int, gross_margin: float,
                 cost_minor: int) -> float | None:
    """(Attributed gross profit - campaign cost) / campaign cost, where attributed gross
    profit = revenue attributed in the campaign's attribution window x gross margin."""
    return share(attributed_revenue_minor * gross_margin - cost_minor, cost_minor)


def revenue_by_age(revenue: list[list[int]], sizes: list[int], *, complete: list[int]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The inputs of `historical_ltv` from a cohort x month revenue table.

    `revenue[c][a]` is the revenue cohort c's members earned in month a of their
    membership (a = 0 is the cohort's first month), `sizes[c]` the cohort's size and
    `complete[c]` how many of its months are complete by the as-of date. Only complete
    months count: age a gets the revenue and the members of the cohorts that have
    completed month a, so a partly elapsed month never reads as low revenue."""
    longest = max(complete, default=0)
    rev, members = np.zeros(longest), np.zeros(longest)
    for row, size, seen in zip(revenue, sizes, complete, strict=True):
        rev[:seen] += np.asarray(row[:seen], dtype=float)
        members[:seen] += size
    return rev, members
