"""The fast model's daily processes, vectorised over the member arrays.

Each function advances one process for one day and returns what it counted (members,
money in minor units). `CommunityModel.step` calls them in this order:
acquire -> refer -> be_active -> warn -> convert -> earn -> churn_out (-> retier).
All randomness comes from the `rng` passed in (the model's generator).
"""

from __future__ import annotations

import numpy as np

from simulation.population import GONE, Population
from simulation.rules import Rules, churn_hazard, join_probability


def new_propensities(rng: np.random.Generator, count: int, shape: float) -> np.ndarray:
    """Activity propensities of new members: Gamma(shape, 1/shape), mean 1 (a smaller
    shape spreads members further apart)."""
    return rng.gamma(shape, 1.0 / shape, size=count).astype(np.float32)


def add_members(pop: Population, rules: Rules, *, count: int, tier: int, channel,
                propensity: np.ndarray) -> None:
    """Members who join today, in tier `tier`; their join day is an active day (signing up
    is an event), so they are active today without drawing. `channel`: one index or one
    per member."""
    pop.append(count, tier=tier, channel=channel, propensity=propensity,
               p_active=rules.activity[tier] * propensity, churn_base=rules.churn[tier],
               days_inactive=-1)


def acquire(pop: Population, rules: Rules, rng: np.random.Generator, *, prospects: int,
            market_size: int, word_of_mouth: float, propensity_shape: float
            ) -> tuple[np.ndarray, int, float]:
    """Every remaining prospect joins with the Bass hazard p + q M / N, where p sums the
    organic rate and the paid channels' rates and M counts current members. Joiners are
    split over the channels in proportion to their part of the hazard. Returns joins per
    external channel (organic, paid..., word of mouth), the channels' spend and the hazard
    applied."""
    p_parts = np.append(rules.channel_p, word_of_mouth * pop.alive_count / max(market_size, 1))
    hazard = join_probability(p=float(rules.channel_p.sum()), q=word_of_mouth,
                              members=pop.alive_count, market_size=market_size)
    joins = rng.binomial(prospects, hazard) if prospects and hazard else 0
    by_channel = np.zeros(len(p_parts), dtype=np.int64)
    if joins:
        by_channel = rng.multinomial(joins, p_parts / p_parts.sum())
        add_members(pop, rules, count=int(joins), tier=rules.tiers - 1,
                    channel=np.repeat(np.arange(len(p_parts)), by_channel),
                    propensity=new_propensities(rng, int(joins), propensity_shape))
    return by_channel, rules.channel_spend, hazard


def refer(pop: Population, rules: Rules, rng: np.random.Generator, *, prospects: int,
          acceptance: float, reward_minor: int, invitee_factor: float,
          propensity_shape: float) -> tuple[int, int]:
    """Members active yesterday send Poisson(invite rate of their tier) invitations each;
    each invitation is accepted with probability `acceptance` (at most the remaining
    prospects join). Invitees join the lowest tier with their own propensity x
    `invitee_factor`; each accepted invitation costs the reward. Returns (joined, cost)."""
    if not rules.invite.any():
        return 0, 0
    inviters = np.bincount(pop.tier[pop.active], minlength=rules.tiers)
    invitations = int(rng.poisson(inviters * rules.invite).sum())
    accepted = min(int(rng.binomial(invitations, acceptance)) if invitations else 0, prospects)
    if accepted:
        propensity = new_propensities(rng, accepted, propensity_shape) * np.float32(
            invitee_factor)
        add_members(pop, rules, count=accepted, tier=rules.tiers - 1,
                    channel=len(rules.channel_keys) - 1, propensity=propensity)
    return accepted, accepted * reward_minor


def be_active(pop: Population, rules: Rules, rng: np.random.Generator, *, day: int,
              first_new: int, tier_members: np.ndarray, badge_days: int | None,
              badge_lift: float) -> tuple[int, int]:
    """Members (joined before today) are active with probability min(1, tier activity x
    propensity x badge lift x touch lift (touch days) + win-back boost); members who joined
    today are active. Updates days inactive, active streaks, the streak badge (which
    multiplies the member's activity by `badge_lift` from the next day on) and the
    window's active days. Returns (dau, touch cost)."""
    m = first_new
    p = pop.p_active[:m]
    if rules.touched[day].any():
        p = p * rules.lift[day][pop.tier[:m]]
    draws = rng.random(m, dtype=np.float32)
    np.less(draws, p, out=pop.active[:m])
    boosted = pop.boosted[pop.boosted < m]  # yesterday's win-back actions
    pop.active[boosted] = draws[boosted] < p[boosted] + pop.boost[boosted]
    pop.boost[boosted] = 0
    pop.boosted = boosted[:0]
    pop.active[m:] = True
    inactive = ~pop.active
    pop.days_inactive += 1
    pop.days_inactive *= inactive
    pop.max_days_inactive += 1
    pop.active_streak += 1
    pop.active_streak *= pop.active
    if badge_days:
        earned = np.flatnonzero(pop.active_streak == badge_days)
        earned = earned[~pop.badge[earned]]
        pop.badge[earned] = True
        pop.p_active[earned] *= np.float32(badge_lift)
    pop.window_active_days += pop.active
    touch_cost = int((tier_members * rules.touch_cost)[rules.touched[day]].sum())
    return int(np.count_nonzero(pop.active)), touch_cost


def warn(pop: Population, rules: Rules) -> tuple[int, int]:
    """Members whose days inactive reach a warning level today get that level's warning
    (`domain.churn.warning_levels`, tabulated in `Rules.warning_of_days`) and its
    win-back action: the action's cost, and its effect added to their activity
    probability tomorrow. Returns (warnings, cost)."""
    levels = rules.warning_levels
    if not levels:
        return 0, 0
    d = pop.days_inactive
    on_threshold = d == levels[0]
    for threshold in levels[1:]:
        on_threshold |= d == threshold
    warned = np.flatnonzero(on_threshold)
    level = rules.warning_of_days[d[warned]] - 1
    pop.boost[warned] = rules.win_back_effect[level]
    pop.boosted = warned
    return int(warned.size), int(rules.win_back_cost[level].sum())


def convert(pop: Population, rules: Rules, rng: np.random.Generator, *, day: int) -> int:
    """Active members who have never paid make a first purchase with their tier's
    conversion hazard (raised by campaigns running that day). Returns new payers."""
    candidates = np.flatnonzero(pop.active & ~pop.paying)
    hazard = rules.conversion[day][pop.tier[candidates]]
    converted = candidates[rng.random(candidates.size, dtype=np.float32) < hazard]
    pop.paying[converted] = True
    return int(converted.size)


def earn(pop: Population, rules: Rules) -> int:
    """Paying members spend their tier's revenue per active day on each active day (it
    counts as spend for re-tiering). Returns the day's revenue."""
    buyers = np.flatnonzero(pop.active & pop.paying)
    spend = rules.revenue[pop.tier[buyers]]
    pop.window_spend_minor[buyers] += spend
    return int(spend.sum())


THINNING_LIMIT = 0.2  # above this bound on the hazard, draw for every member instead


def churn_out(pop: Population, rules: Rules, rng: np.random.Generator, *,
              streak_growth: float) -> np.ndarray:
    """Current members leave with the churn hazard of their tier, growing with their days
    inactive (`rules.churn_hazard`). Returns the indices of those who left.

    Hazards are small, so instead of one draw per member this thins: with `bound` >= every
    member's hazard, each member is a candidate with probability `bound` (a Binomial
    count of distinct random rows), and a candidate leaves with probability hazard /
    bound, so each member leaves with exactly its hazard."""
    if not rules.churn.any():
        return np.zeros(0, dtype=np.int64)
    bound = float(rules.churn.max()) * (1.0 + streak_growth * pop.max_days_inactive)
    if bound >= THINNING_LIMIT:
        hazard = churn_hazard(pop.churn_base, pop.days_inactive, streak_growth,
                              out=pop.scratch())
        gone = np.flatnonzero(rng.random(pop.n, dtype=np.float32) < hazard)
    else:
        candidates = np.sort(rng.choice(pop.n, size=rng.binomial(pop.n, bound),
                                        replace=False))
        hazard = churn_hazard(pop.churn_base[candidates], pop.days_inactive[candidates],
                              streak_growth)
        gone = candidates[rng.random(candidates.size) * bound < hazard]
    pop.alive[gone] = False
    pop.active[gone] = False
    pop.p_active[gone] = 0
    pop.churn_base[gone] = 0
    pop.boost[gone] = 0
    pop.days_inactive[gone] = GONE
    pop.alive_count -= gone.size
    return gone
