"""The fast community model: a Mesa model whose members are rows of numpy arrays.

One step is one day. The processes run in this order (see `simulation.processes`):

1. acquisition: prospects join with the Bass hazard p + q M / N, split by channel;
2. referral: members active yesterday invite, invitees accept, rewards are paid;
3. activity: by tier, propensity, touch strategy, streak badge and win-back boost;
   days inactive and streaks are updated;
4. warnings: members reaching a churn-warning level get a win-back action (cost, effect
   on tomorrow's activity);
5. conversion: active never-paying members make a first purchase (tier hazard, raised by
   running campaigns);
6. revenue: active paying members spend their tier's revenue per active day;
7. churn: members leave with a hazard growing with their days inactive;
8. re-tiering: every `retiering.everyDays` days, quotas on the window's spend x activity.

The DataCollector records the day's totals (`domain.kpi.daily.DailyTotals` fields) at
creation (day 0, the starting state) and after every step; `simulation.results` turns
them into KPIs with the product's catalogue.
"""

from __future__ import annotations

from functools import partial

import mesa
import numpy as np

from simulation import processes, retiering
from simulation.population import Population
from simulation.rules import Rules
from simulation.scenario import Scenario

TOTALS = ("members", "new_members", "referred_members", "churned_members", "dau",
          "active_30d", "payers", "new_payers", "revenue_minor", "cost_minor",
          "members_by_tier", "active_30d_by_tier", "joins_by_channel", "warnings",
          "join_hazard")
WINDOW_DAYS = 30


def day_total(model: CommunityModel, name: str):
    """DataCollector reporter: one of the day's totals."""
    return model.totals[name]


class CommunityModel(mesa.Model):
    """A community under one scenario, one day per step (`horizon_days` steps)."""

    def __init__(self, scenario: Scenario, rng=None) -> None:
        super().__init__(rng=rng)
        self.spec = scenario
        self.rules = Rules.of(scenario)
        self.day = 0
        self.joined_from_market = 0
        self.population = Population(capacity=scenario.initial.members + 1024)
        self.tier_members = np.zeros(self.rules.tiers, dtype=np.int64)
        self.payers = 0
        self._populate()
        self.warm_up(scenario.initial.warm_up_days)
        self.totals: dict = {}
        self._count_day(new_members=0, referred=0, churned=0, new_payers=0, revenue=0, cost=0,
                        joins=np.zeros(len(self.rules.channel_keys), np.int64), warnings=0,
                        hazard=0.0)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: partial(day_total, name=name) for name in TOTALS})
        self.datacollector.collect(self)

    # --- set-up --------------------------------------------------------------------------

    def _populate(self) -> None:
        """Starting members: an explicit population (calibration) or `initial.members`
        members placed in tiers by propensity (most active in the top tier, tier shares as
        quotas), a stationary inactivity streak and `initial.payingShare` payers."""
        s, pop, rng = self.spec, self.population, self.rng
        given = s.initial.population
        if given is None:
            n = s.initial.members
            if n == 0:
                return
            propensity = processes.new_propensities(rng, n, s.propensity_shape)
            bounds = np.rint(np.cumsum([t.share for t in s.tiers]) * n).astype(np.int64)
            tier = np.empty(n, dtype=np.int8)
            tier[np.argsort(-propensity, kind="stable")] = np.searchsorted(
                bounds, np.arange(n), side="right")
            p = np.clip(self.rules.activity[tier] * propensity, 1e-6, 1.0)
            days_inactive = np.minimum(rng.geometric(p) - 1, 365)
            paying = rng.random(n) < s.initial.paying_share
        else:
            tier, paying = given.tier.astype(np.int8), given.paying.astype(bool)
            days_inactive, propensity = given.days_inactive, given.propensity.astype(np.float32)
            n = len(tier)
        pop.append(n, tier=tier, paying=paying, days_inactive=days_inactive,
                   active=days_inactive == 0, propensity=propensity,
                   p_active=self.rules.activity[tier] * propensity,
                   churn_base=self.rules.churn[tier])
        self.tier_members += np.bincount(tier, minlength=self.rules.tiers)
        self.payers = int(paying.sum())

    # --- one day -------------------------------------------------------------------------

    def step(self) -> None:
        self.day += 1
        counts = self.live_day(self.day)
        if self.spec.retier_every_days and self.day % self.spec.retier_every_days == 0:
            self.retier()
        self._count_day(**counts)
        pop = self.population
        if pop.n > 4096 and pop.alive_count < pop.n // 2:
            pop.compact()
        self.datacollector.collect(self)
        if self.day >= self.spec.horizon_days:
            self.running = False

    def live_day(self, day: int) -> dict:
        """Processes 1-7 for `day` (0 = a warm-up day: no touches, no campaigns); returns
        the day's counts."""
        s, pop, rules, rng = self.spec, self.population, self.rules, self.rng
        before = pop.n
        prospects = s.market.size - self.joined_from_market
        joins, cost, hazard = processes.acquire(
            pop, rules, rng, prospects=prospects, market_size=s.market.size,
            word_of_mouth=s.market.word_of_mouth, propensity_shape=s.propensity_shape)
        referred, reward_cost = processes.refer(
            pop, rules, rng, prospects=prospects - int(joins.sum()),
            acceptance=s.referral.acceptance_rate, reward_minor=s.referral.reward_minor,
            invitee_factor=s.referral.invitee_activity_factor,
            propensity_shape=s.propensity_shape) if s.referral.enabled else (0, 0)
        new_members = pop.n - before
        self.joined_from_market += new_members
        self.tier_members[rules.tiers - 1] += new_members
        _, touch_cost = processes.be_active(
            pop, rules, rng, day=day, first_new=before, tier_members=self.tier_members,
            badge_days=s.badges.streak_days if s.badges.enabled else None,
            badge_lift=s.badges.activity_lift)
        warnings, win_back_cost = processes.warn(pop, rules)
        new_payers = processes.convert(pop, rules, rng, day=day)
        self.payers += new_payers
        revenue = processes.earn(pop, rules)
        gone = processes.churn_out(pop, rules, rng, streak_growth=s.churn.streak_growth)
        self.tier_members -= np.bincount(pop.tier[gone], minlength=rules.tiers)
        self.payers -= int(pop.paying[gone].sum())
        cost += reward_cost + touch_cost + win_back_cost + int(rules.campaign_cost[day])
        return {"new_members": new_members, "referred": referred, "churned": gone.size,
                "new_payers": new_payers, "revenue": revenue, "cost": cost,
                "joins": np.append(joins, referred), "warnings": warnings, "hazard": hazard}

    def warm_up(self, days: int) -> None:
        """Bring the starting community to the scenario's own steady state: `days` days of
        the processes before day 1 (no touches, campaigns or re-tiering; nothing recorded;
        the re-tiering window starts afresh after them)."""
        for _ in range(days):
            self.live_day(0)
        self.population.window_active_days[:] = 0
        self.population.window_spend_minor[:] = 0

    def retier(self) -> None:
        """Re-tier current members by quotas on the window's spend and active days, then
        start a new window."""
        pop, rules, s = self.population, self.rules, self.spec
        alive = np.flatnonzero(pop.alive)
        tier = retiering.quota_tiers(
            shares=[t.share for t in s.tiers], spend_minor=pop.window_spend_minor[alive],
            active_days=pop.window_active_days[alive], order=alive.astype(np.int32))
        pop.tier[alive] = tier
        lift = np.where(pop.badge[alive], np.float32(s.badges.activity_lift), np.float32(1))
        pop.p_active[alive] = rules.activity[tier] * pop.propensity[alive] * lift
        pop.churn_base[alive] = rules.churn[tier]
        self.tier_members = np.bincount(tier, minlength=rules.tiers).astype(np.int64)
        pop.window_active_days[:] = 0
        pop.window_spend_minor[:] = 0

    def _count_day(self, *, new_members, referred, churned, new_payers, revenue, cost, joins,
                   warnings, hazard) -> None:
        pop = self.population
        recent = pop.days_inactive < WINDOW_DAYS  # churned members are never recent
        # byte-wide passes: key = 2 x tier + recent, then one count per tier
        key = np.left_shift(pop.tier, 1)
        key |= recent.view(np.int8)
        by_tier = np.array([np.count_nonzero(key == 2 * t + 1) for t in range(self.rules.tiers)])
        self.totals = {
            "members": pop.alive_count, "new_members": new_members,
            "referred_members": referred, "churned_members": int(churned),
            "dau": int(np.count_nonzero(pop.active)), "active_30d": int(np.count_nonzero(recent)),
            "payers": self.payers, "new_payers": new_payers, "revenue_minor": revenue,
            "cost_minor": cost, "members_by_tier": self.tier_members.tolist(),
            "active_30d_by_tier": by_tier.tolist(),
            "joins_by_channel": joins.tolist(), "warnings": warnings, "join_hazard": hazard,
        }
