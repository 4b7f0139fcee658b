"""A scenario turned into per-tier and per-day lookup tables, shared by both models.

Both the fast model and the per-agent reference read their parameters from `Rules`,
so they cannot drift apart on what a parameter means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain import churn as churn_rules
from simulation.scenario import Scenario, channel_keys


def join_probability(*, p: float, q: float, members: int, market_size: int) -> float:
    """Bass hazard: the daily probability that one remaining prospect joins,
    p + q x M / N (capped at 1); 0 for an empty market."""
    if market_size <= 0:
        return 0.0
    return min(1.0, p + q * members / market_size)


def paid_join_rate(*, join_rate: float, daily_spend_minor: int,
                   reference_spend_minor: int) -> float:
    """A paid channel's part of p: joinRate x sqrt(spend / referenceSpend), diminishing
    returns (four times the reference spend doubles the channel's rate)."""
    return join_rate * float(np.sqrt(daily_spend_minor / reference_spend_minor))


@dataclass(frozen=True)
class Rules:
    tiers: int
    activity: np.ndarray  # [tier] float32
    conversion: np.ndarray  # [day, tier] float32, campaign uplift applied
    churn: np.ndarray  # [tier] float32 (zeros when churn is off)
    invite: np.ndarray  # [tier] invitations per active member-day, reward response applied
    revenue: np.ndarray  # [tier] int64 minor units per active paying member-day
    touch_every: np.ndarray  # [tier] int (0 = never)
    touch_cost: np.ndarray  # [tier] int64 per member touched
    touch_lift: np.ndarray  # [tier] float32
    channel_keys: tuple[str, ...]  # organic, paid..., wordOfMouth, referral
    channel_p: np.ndarray  # [external channel] part of p
    channel_spend: int  # all channels' spend per day
    warning_levels: tuple[int, ...]
    win_back_cost: np.ndarray  # [level] int64
    win_back_effect: np.ndarray  # [level] float32
    campaign_cost: np.ndarray  # [day] int64, day 0 unused
    touched: np.ndarray  # [day, tier] bool: a touch goes out
    lift: np.ndarray  # [day, tier] float32 activity multiplier (touch lift on touch days)
    warning_of_days: np.ndarray  # [days inactive] warning level reached exactly that day

    @classmethod
    def of(cls, s: Scenario) -> Rules:
        t = s.tiers
        conversion = np.tile(np.array([x.conversion_hazard for x in t], np.float64),
                             (s.horizon_days + 2, 1))
        campaign_cost = np.zeros(s.horizon_days + 2, dtype=np.int64)
        keys = s.tier_keys()
        for c in s.campaigns:
            columns = [keys.index(k) for k in c.tiers]
            conversion[c.start_day:c.end_day + 1, columns] *= 1.0 + c.conversion_uplift
            campaign_cost[c.start_day] += c.cost_minor
        referral_on = s.referral.enabled
        levels = s.churn.warning_levels if s.churn.enabled else ()
        win_back = s.churn.win_back if s.churn.enabled and s.churn.win_back else ()
        return cls(
            tiers=len(t),
            activity=np.array([x.activity for x in t], np.float32),
            conversion=np.minimum(conversion, 1.0).astype(np.float32),
            churn=np.array([x.churn_hazard if s.churn.enabled else 0.0 for x in t], np.float32),
            invite=np.array([x.invite_rate * s.referral.invite_multiplier() if referral_on
                             else 0.0 for x in t]),
            revenue=np.array([x.revenue_per_active_day_minor for x in t], np.int64),
            touch_every=np.array([x.touch.every_days for x in t], np.int64),
            touch_cost=np.array([x.touch.cost_minor for x in t], np.int64),
            touch_lift=np.array([x.touch.lift for x in t], np.float32),
            channel_keys=tuple(channel_keys([c.key for c in s.market.channels])),
            channel_p=np.array([s.market.external_join_rate, *(
                paid_join_rate(join_rate=c.join_rate, daily_spend_minor=c.daily_spend_minor,
                               reference_spend_minor=c.reference_spend_minor)
                for c in s.market.channels)]),
            channel_spend=sum(c.daily_spend_minor for c in s.market.channels),
            warning_levels=tuple(levels),
            win_back_cost=np.array([w.cost_minor for w in win_back] or [0] * len(levels),
                                   np.int64),
            win_back_effect=np.array([w.effect for w in win_back] or [0.0] * len(levels),
                                     np.float32),
            campaign_cost=campaign_cost,
            **_day_tables(s, levels),
        )

    def touched_tiers(self, day: int) -> np.ndarray:
        """Boolean [tier]: tiers whose touch strategy contacts them on `day` (every k days:
        days k, 2k, ...)."""
        return self.touched[day]

    def activity_lift(self, day: int) -> np.ndarray:
        """[tier] activity multiplier on `day`: the touch lift where a touch goes out."""
        return self.lift[day]


def _day_tables(s: Scenario, levels: tuple[int, ...]) -> dict:
    days = np.arange(s.horizon_days + 2)[:, None]
    every = np.array([t.touch.every_days for t in s.tiers])
    touched = (every > 0) & (days % np.maximum(every, 1) == 0) & (days > 0)
    lift = np.where(touched, np.array([t.touch.lift for t in s.tiers], np.float32),
                    np.float32(1.0)).astype(np.float32)
    # the level a member reaches on the day their days inactive equal its threshold
    span = np.arange((levels[-1] if levels else 0) + 1)
    on_threshold = np.isin(span, levels)
    warning_of_days = np.where(on_threshold, churn_rules.warning_levels(span, levels), 0)
    return {"touched": touched, "lift": lift, "warning_of_days": warning_of_days}


def churn_hazard(base: np.ndarray, days_inactive: np.ndarray, streak_growth: float,
                 *, out: np.ndarray | None = None) -> np.ndarray:
    """Daily churn probability: base (tier) hazard x (1 + streakGrowth x days inactive)
    (a value above 1 means certain churn)."""
    if not streak_growth:
        return base
    hazard = out if out is not None else np.empty(len(base), np.float32)
    hazard[:] = days_inactive
    hazard *= np.float32(streak_growth)
    hazard += np.float32(1.0)
    hazard *= base
    return hazard
