"""The daily KPI catalogue: one definition per daily series, shared by the funding report
and the simulator.

Inputs are `DailyTotals`: plain per-day aggregate arrays (one entry per UTC day, oldest
first) that the store fills from the `member_days` rollup and the simulator fills from
its member state. Each KPI is a function of those totals whose docstring states the
numerator, the denominator, the window and the as-of day; ratios call the pure KPI
functions of `domain.kpi` day by day, so a projection and a report share every formula.
A ratio that is not defined on a day (zero denominator) is NaN in the series.

Names are camelCase; per-tier KPIs are `<name>.<tierKey>` (e.g. `activityRateByTier.core`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from domain.kpi import activity, conversion

WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class DailyTotals:
    """Per-day aggregates, all arrays of the same length (one entry per day).

    members: members at the end of the day (joined, not churned); new_members: joined that
    day (all channels), referred_members: of them, joined through a referral;
    churned_members: left that day; dau: members with at least one event that day;
    active_30d: members (at the end of the day) with an event in the 30 days ending that
    day; payers: members (at the end of the day) with at least one purchase so far;
    new_payers: first purchases that day; revenue_minor / cost_minor: money in and out that
    day. `members_by_tier` / `active_30d_by_tier`: the same two counts per tier key;
    `new_members_by_channel`: new members per acquisition channel key."""

    members: np.ndarray
    new_members: np.ndarray
    referred_members: np.ndarray
    churned_members: np.ndarray
    dau: np.ndarray
    active_30d: np.ndarray
    payers: np.ndarray
    new_payers: np.ndarray
    revenue_minor: np.ndarray
    cost_minor: np.ndarray
    members_by_tier: Mapping[str, np.ndarray] = field(default_factory=dict)
    active_30d_by_tier: Mapping[str, np.ndarray] = field(default_factory=dict)
    new_members_by_channel: Mapping[str, np.ndarray] = field(default_factory=dict)


def _ratio(rule: Callable[..., float | None], **series: np.ndarray) -> np.ndarray:
    """`rule` applied day by day (keyword arguments taken from `series`); None -> NaN."""
    days = len(next(iter(series.values())))
    values = (rule(**{k: v[d].item() for k, v in series.items()}) for d in range(days))
    return np.fromiter((np.nan if v is None else v for v in values), dtype=float, count=days)


def members(t: DailyTotals) -> np.ndarray:
    """Members at the end of the day: joined on or before it and not churned by its end."""
    return t.members


def new_members(t: DailyTotals) -> np.ndarray:
    """Members who joined that day, through any channel (referrals included)."""
    return t.new_members


def referred_members(t: DailyTotals) -> np.ndarray:
    """Members who joined that day through an accepted referral invitation."""
    return t.referred_members


def churned_members(t: DailyTotals) -> np.ndarray:
    """Members who left that day (churned)."""
    return t.churned_members


def dau(t: DailyTotals) -> np.ndarray:
    """Daily active members: members with at least one event (any type) that UTC day."""
    return t.dau


def active_members_30d(t: DailyTotals) -> np.ndarray:
    """Members at the end of the day with at least one event in the 30 days ending that day
    (the day itself included)."""
    return t.active_30d


def activity_rate(t: DailyTotals) -> np.ndarray:
    """`activity.activity_rate`: members active in the 30 days ending that day / members at
    the end of that day."""
    return _ratio(lambda active, members: activity.activity_rate(active=active, members=members),
                  active=t.active_30d, members=t.members)


def paying_members(t: DailyTotals) -> np.ndarray:
    """Members at the end of the day with at least one purchase on or before it."""
    return t.payers


def new_payers(t: DailyTotals) -> np.ndarray:
    """Members whose first purchase fell on that day."""
    return t.new_payers


def paying_share(t: DailyTotals) -> np.ndarray:
    """`conversion.paying_share`: members with at least one purchase up to that day /
    members at the end of that day."""
    return _ratio(lambda payers, members: conversion.paying_share(payers=payers,
                                                                  members=members),
                  payers=t.payers, members=t.members)


def revenue_minor(t: DailyTotals) -> np.ndarray:
    """Revenue that day, minor units."""
    return t.revenue_minor


def cost_minor(t: DailyTotals) -> np.ndarray:
    """Operating cost that day, minor units: channel spend, referral rewards, touches,
    win-back actions and campaigns."""
    return t.cost_minor


def cumulative_revenue_minor(t: DailyTotals) -> np.ndarray:
    """Revenue from the first day of the series up to and including that day."""
    return np.cumsum(t.revenue_minor)


def cumulative_cost_minor(t: DailyTotals) -> np.ndarray:
    """Cost from the first day of the series up to and including that day."""
    return np.cumsum(t.cost_minor)


CATALOGUE: dict[str, Callable[[DailyTotals], np.ndarray]] = {
    "members": members,
    "newMembers": new_members,
    "referredMembers": referred_members,
    "churnedMembers": churned_members,
    "dau": dau,
    "activeMembers30d": active_members_30d,
    "activityRate": activity_rate,
    "payingMembers": paying_members,
    "newPayers": new_payers,
    "payingShare": paying_share,
    "revenueMinor": revenue_minor,
    "costMinor": cost_minor,
    "cumulativeRevenueMinor": cumulative_revenue_minor,
    "cumulativeCostMinor": cumulative_cost_minor,
}
"""Every KPI over the whole community, by name."""

BY_TIER = "activityRateByTier"
"""Per tier: `activity.activity_rate` of the tier's members (tier as of that day): members
of the tier active in the 30 days ending that day / members of the tier at its end."""

BY_CHANNEL = "newMembersByChannel"
"""Per acquisition channel: members who joined that day through the channel (the
denominator of the channel's CAC)."""

LOWER_IS_BETTER = frozenset({"churnedMembers", "costMinor", "cumulativeCostMinor"})


def names(tier_keys: list[str], channel_keys: list[str] = ()) -> list[str]:
    """Every KPI name for a community with these tiers and channels: catalogue order,
    then per tier, then per channel."""
    return [*CATALOGUE, *(f"{BY_TIER}.{key}" for key in tier_keys),
            *(f"{BY_CHANNEL}.{key}" for key in channel_keys)]


def compute(t: DailyTotals) -> dict[str, np.ndarray]:
    """Every KPI's daily series (float arrays) from the totals."""
    out = {name: np.asarray(kpi(t), dtype=float) for name, kpi in CATALOGUE.items()}
    for key, tier_members in t.members_by_tier.items():
        out[f"{BY_TIER}.{key}"] = _ratio(
            lambda active, members: activity.activity_rate(active=active, members=members),
            active=t.active_30d_by_tier[key], members=tier_members)
    for key, joined in t.new_members_by_channel.items():
        out[f"{BY_CHANNEL}.{key}"] = np.asarray(joined, dtype=float)
    return out


def higher_is_better(name: str) -> bool:
    """Whether a larger value of the KPI is the good direction (targets use it)."""
    return name.split(".")[0] not in LOWER_IS_BETTER
