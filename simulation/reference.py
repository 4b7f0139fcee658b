"""The reference model: the same rules as `CommunityModel`, one Mesa agent per member.

Slow (a Python call per member per day) and kept deliberately plain, so that the rules
can be read in one place; `tests/simulation/test_reference_agreement.py` shows the fast
model agrees with it. Randomness comes only from the model's generator (`self.rng`).
Re-tiering uses the same quota code as the fast model.
"""

from __future__ import annotations

from functools import partial

import mesa
import numpy as np

from domain import churn as churn_rules
from simulation import retiering
from simulation.model import TOTALS, WINDOW_DAYS, day_total
from simulation.rules import Rules, join_probability
from simulation.scenario import Scenario


class MemberAgent(mesa.Agent):
    """One member: tier, own activity propensity, paying or not, streaks."""

    def __init__(self, model: ReferenceModel, *, tier: int, propensity: float,
                 days_inactive: int = 0, paying: bool = False, joined_today: bool = True,
                 channel: int = 0) -> None:
        super().__init__(model)
        self.tier = tier
        self.propensity = propensity
        self.days_inactive = days_inactive
        self.active = days_inactive == 0 and not joined_today
        self.paying = paying
        self.joined_today = joined_today
        self.channel = channel
        self.streak = 0
        self.badge = False
        self.boost = 0.0
        self.window_active_days = 0
        self.window_spend_minor = 0

    def invite(self) -> None:
        """Active yesterday: send Poisson(tier invite rate) invitations."""
        if self.active:
            self.model.invitations += int(self.model.rng.poisson(
                self.model.rules.invite[self.tier]))

    def step(self) -> None:
        """Activity, warnings, conversion, revenue and churn for one day."""
        self.be_active()
        self.warn()
        self.convert_and_spend()
        self.maybe_leave()

    def be_active(self) -> None:
        model, rules = self.model, self.model.rules
        if self.joined_today:
            self.active, self.joined_today = True, False
        else:
            p = rules.activity[self.tier] * self.propensity
            p *= model.badge_lift if self.badge else 1.0
            p *= model.lift_today[self.tier]
            self.active = model.rng.random() < p + self.boost
        self.boost = 0.0
        self.days_inactive = 0 if self.active else self.days_inactive + 1
        self.streak = self.streak + 1 if self.active else 0
        if model.badge_days and self.streak == model.badge_days:
            self.badge = True
        self.window_active_days += self.active

    def warn(self) -> None:
        levels = self.model.rules.warning_levels
        if self.days_inactive in levels:
            level = int(churn_rules.warning_levels(np.array([self.days_inactive]), levels)[0])
            self.boost = float(self.model.rules.win_back_effect[level - 1])
            self.model.today["cost_minor"] += int(self.model.rules.win_back_cost[level - 1])
            self.model.today["warnings"] += 1

    def convert_and_spend(self) -> None:
        model, rules = self.model, self.model.rules
        if self.active and not self.paying:
            if model.rng.random() < rules.conversion[model.calendar_day][self.tier]:
                self.paying = True
                model.payers += 1
                model.today["new_payers"] += 1
        if self.active and self.paying:
            spend = int(rules.revenue[self.tier])
            self.window_spend_minor += spend
            model.today["revenue_minor"] += spend

    def maybe_leave(self) -> None:
        rules = self.model.rules
        hazard = rules.churn[self.tier] * (1 + self.model.streak_growth * self.days_inactive)
        if hazard and self.model.rng.random() < hazard:
            self.model.payers -= self.paying
            self.model.today["churned_members"] += 1
            self.remove()


class ReferenceModel(mesa.Model):
    """`CommunityModel`'s rules, agent by agent."""

    def __init__(self, scenario: Scenario, rng=None) -> None:
        super().__init__(rng=rng)
        self.spec = scenario
        self.rules = Rules.of(scenario)
        self.day = 0
        self.joined_from_market = 0
        self.payers = 0
        self.badge_days = scenario.badges.streak_days if scenario.badges.enabled else 0
        self.badge_lift = scenario.badges.activity_lift
        self.streak_growth = scenario.churn.streak_growth
        self.lift_today = np.ones(self.rules.tiers)
        self._populate()
        for _ in range(scenario.initial.warm_up_days):  # as CommunityModel.warm_up
            self.live_day(0)
        for agent in self.agents:
            agent.window_active_days = agent.window_spend_minor = 0
        self.today = self._no_counts()
        self.totals = self._totals()
        self.datacollector = mesa.DataCollector(
            model_reporters={name: partial(day_total, name=name) for name in TOTALS})
        self.datacollector.collect(self)

    def _populate(self) -> None:
        s = self.spec
        given = s.initial.population
        if given is not None:  # a calibrated community, member by member (as CommunityModel)
            for tier, paying, days, propensity in zip(given.tier, given.paying,
                                                      given.days_inactive, given.propensity,
                                                      strict=True):
                self.payers += bool(paying)
                MemberAgent(self, tier=int(tier), propensity=float(propensity),
                            days_inactive=int(days), paying=bool(paying), joined_today=False)
            return
        n = s.initial.members
        propensity = self.rng.gamma(s.propensity_shape, 1.0 / s.propensity_shape, size=n)
        bounds = np.rint(np.cumsum([t.share for t in s.tiers]) * n).astype(np.int64)
        tier = np.empty(n, dtype=np.intp)
        tier[np.argsort(-propensity.astype(np.float32), kind="stable")] = np.searchsorted(
            bounds, np.arange(n), side="right")
        for i in range(n):
            p = min(max(self.rules.activity[tier[i]] * propensity[i], 1e-6), 1.0)
            days = min(int(self.rng.geometric(p)) - 1, 365)
            paying = bool(self.rng.random() < s.initial.paying_share)
            self.payers += paying
            MemberAgent(self, tier=int(tier[i]), propensity=float(propensity[i]),
                        days_inactive=days, paying=paying, joined_today=False)

    def _no_counts(self) -> dict:
        return {"new_members": 0, "referred_members": 0, "churned_members": 0,
                "new_payers": 0, "revenue_minor": 0, "cost_minor": 0, "warnings": 0,
                "join_hazard": 0.0, "joins_by_channel": [0] * len(self.rules.channel_keys)}

    def new_member(self, channel: int, factor: float = 1.0) -> None:
        shape = self.spec.propensity_shape
        MemberAgent(self, tier=self.rules.tiers - 1, channel=channel,
                    propensity=float(self.rng.gamma(shape, 1.0 / shape)) * factor)
        self.joined_from_market += 1
        self.today["new_members"] += 1
        self.today["joins_by_channel"][channel] += 1

    def step(self) -> None:
        self.day += 1
        self.live_day(self.day)
        if self.spec.retier_every_days and self.day % self.spec.retier_every_days == 0:
            self.retier()
        self.totals = self._totals()
        self.datacollector.collect(self)
        if self.day >= self.spec.horizon_days:
            self.running = False

    def live_day(self, day: int) -> None:
        """Acquisition, referral, then every member's day (0 = a warm-up day)."""
        rules = self.rules
        self.calendar_day = day
        self.today = self._no_counts()
        self.acquire()
        if self.spec.referral.enabled:
            self.invitations = 0
            self.agents.shuffle_do("invite")
            self.accept_invitations()
        self.lift_today = rules.activity_lift(day)
        touched = rules.touched_tiers(day)
        self.today["cost_minor"] += sum(int(rules.touch_cost[a.tier]) for a in self.agents
                                        if touched[a.tier])
        self.today["cost_minor"] += int(rules.campaign_cost[day]) + rules.channel_spend
        self.agents.shuffle_do("step")

    def acquire(self) -> None:
        """Each remaining prospect joins with the Bass hazard; one channel draw each."""
        m = self.spec.market
        prospects = m.size - self.joined_from_market
        hazard = join_probability(p=float(self.rules.channel_p.sum()), q=m.word_of_mouth,
                                  members=len(self.agents), market_size=m.size)
        parts = np.append(self.rules.channel_p,
                          m.word_of_mouth * len(self.agents) / max(m.size, 1))
        for _ in range(self.rng.binomial(prospects, hazard) if prospects else 0):
            self.new_member(channel=int(self.rng.choice(len(parts), p=parts / parts.sum())))
        self.today["join_hazard"] = hazard

    def accept_invitations(self) -> None:
        r = self.spec.referral
        prospects = self.spec.market.size - self.joined_from_market
        accepted = min(int(self.rng.binomial(self.invitations, r.acceptance_rate)), prospects)
        for _ in range(accepted):
            self.new_member(channel=len(self.rules.channel_keys) - 1,
                            factor=r.invitee_activity_factor)
        self.today["referred_members"] += accepted
        self.today["cost_minor"] += accepted * r.reward_minor

    def retier(self) -> None:
        members = sorted(self.agents, key=lambda a: a.unique_id)
        tiers = retiering.quota_tiers(
            shares=[t.share for t in self.spec.tiers],
            spend_minor=np.array([a.window_spend_minor for a in members]),
            active_days=np.array([a.window_active_days for a in members]),
            order=np.array([a.unique_id for a in members]))
        for agent, tier in zip(members, tiers, strict=True):
            agent.tier = int(tier)
            agent.window_active_days = agent.window_spend_minor = 0

    def _totals(self) -> dict:
        tiers = self.rules.tiers
        members_by_tier, active_by_tier = [0] * tiers, [0] * tiers
        for a in self.agents:
            members_by_tier[a.tier] += 1
            active_by_tier[a.tier] += a.days_inactive < WINDOW_DAYS
        return {**self.today, "members": len(self.agents),
                "dau": sum(a.active for a in self.agents), "active_30d": sum(active_by_tier),
                "payers": self.payers, "members_by_tier": members_by_tier,
                "active_30d_by_tier": active_by_tier}
