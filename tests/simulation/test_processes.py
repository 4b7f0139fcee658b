"""Each daily process of the fast model on small cases checked by hand. `FakeRng` draws
expectations (random() is always 0.5), so every count below is arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import processes, retiering
from simulation.population import GONE, Population
from simulation.rules import Rules, join_probability, paid_join_rate
from simulation.scenario import parse
from tests.simulation.scenarios import FakeRng, document


def rules(**overrides) -> Rules:
    return Rules.of(parse(document(**overrides)))


def members(r: Rules, count: int, *, tier: int = 1, days_inactive: int = 0) -> Population:
    pop = Population()
    processes.add_members(pop, r, count=count, tier=tier, channel=0,
                          propensity=np.ones(count, np.float32))
    pop.days_inactive[:] = days_inactive
    pop.max_days_inactive = days_inactive
    return pop


def test_join_probability_is_the_bass_hazard():
    # p + q M / N = 0.01 + 0.1 x 200 / 1000 = 0.03; capped at 1; empty market: 0
    assert join_probability(p=0.01, q=0.1, members=200, market_size=1000) == pytest.approx(0.03)
    assert join_probability(p=0.9, q=0.5, members=1000, market_size=1000) == 1.0
    assert join_probability(p=0.5, q=0.5, members=0, market_size=0) == 0.0
    # four times the reference spend doubles a paid channel's rate
    assert paid_join_rate(join_rate=0.01, daily_spend_minor=400,
                          reference_spend_minor=100) == pytest.approx(0.02)


def test_acquisition_splits_joiners_by_channel_share_of_the_hazard():
    market = {"size": 1000, "externalJoinRate": 0.01, "wordOfMouth": 0.1,
              "channels": [{"key": "douyin", "joinRate": 0.02, "dailySpendMinor": 100,
                            "referenceSpendMinor": 100}]}
    r = rules(market=market)
    pop = members(r, 200)
    # hazard 0.01 + 0.02 + 0.1 x 200/1000 = 0.05; 800 prospects -> 40 joiners, split
    # organic 0.01 : douyin 0.02 : word of mouth 0.02 -> 8 : 16 : 16
    joins, spend, hazard = processes.acquire(pop, r, FakeRng(), prospects=800,
                                             market_size=1000, word_of_mouth=0.1,
                                             propensity_shape=2.0)
    assert hazard == pytest.approx(0.05)
    assert joins.tolist() == [8, 16, 16] and spend == 100
    assert pop.alive_count == 240 and (pop.tier[200:] == 1).all()  # lowest tier
    assert r.channel_keys == ("organic", "douyin", "wordOfMouth", "referral")


def test_referral_invites_from_yesterdays_actives_at_the_rewarded_rate():
    r = rules()  # invite rates 0.05 / 0.01, x 1.5 for a 500 reward at half-saturation 500
    pop = members(r, 100, tier=0)
    pop.active[:40] = True
    joined, cost = processes.refer(pop, r, FakeRng(), prospects=10, acceptance=0.5,
                                   reward_minor=500, invitee_factor=0.5, propensity_shape=2.0)
    # 40 x 0.05 x 1.5 = 3 invitations, half accepted -> round(1.5) = 2 join, 2 x 500 cost
    assert (joined, cost) == (2, 1000)
    assert pop.channel[100:].tolist() == [2, 2]  # organic, wordOfMouth, referral
    assert pop.propensity[100:].tolist() == [0.5, 0.5]  # their own propensity x factor
    # never more than the remaining prospects
    assert processes.refer(pop, r, FakeRng(), prospects=1, acceptance=1.0, reward_minor=500,
                           invitee_factor=1.0, propensity_shape=2.0) == (1, 500)


def test_activity_follows_tier_touch_lift_and_win_back_boost():
    r = rules()  # basic activity 0.2; core 0.5 with a x1.2 touch every 7 days
    pop = members(r, 3, tier=1)
    pop.tier[0] = 0
    pop.p_active[0] = r.activity[0]
    pop.boost[2], pop.boosted = 0.35, np.array([2])  # 0.2 + 0.35 > 0.5: active
    dau, touch_cost = processes.be_active(pop, r, FakeRng(), day=7, first_new=3,
                                          tier_members=np.array([1, 2]), badge_days=None,
                                          badge_lift=1.0)
    # core: 0.5 x 1.2 = 0.6 > 0.5 active; basic 0.2 inactive; boosted member active
    assert pop.active.tolist() == [True, False, True] and dau == 2
    assert touch_cost == 10  # one core member touched at 10
    assert pop.days_inactive.tolist() == [0, 1, 0] and pop.boost[2] == 0


def test_members_who_joined_today_are_active_and_seven_active_days_earn_the_badge():
    r = rules()
    pop = members(r, 2, tier=0)
    pop.p_active[:] = 0.9
    for day in range(1, 4):
        processes.be_active(pop, r, FakeRng(), day=day, first_new=1,
                            tier_members=np.array([2, 0]), badge_days=3, badge_lift=1.1)
    assert pop.active_streak.tolist() == [3, 3] and pop.badge.all()
    assert pop.p_active[0] == pytest.approx(0.99)  # 0.9 x 1.1 from the next day on
    assert pop.window_active_days.tolist() == [3, 3]


def test_warnings_at_3_7_14_days_cost_their_win_back_and_boost_tomorrow():
    r = rules()
    pop = members(r, 5)
    pop.days_inactive[:] = [2, 3, 7, 14, 15]
    warnings, cost = processes.warn(pop, r)
    assert (warnings, cost) == (3, 1 + 10 + 100)
    assert pop.boost.tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0])
    assert sorted(pop.boosted.tolist()) == [1, 2, 3]


def test_conversion_on_active_days_is_raised_by_a_running_campaign():
    r = rules(tiers=[dict(document()["tiers"][0], conversionHazard=0.3),
                     dict(document()["tiers"][1], conversionHazard=0.3)])
    pop = members(r, 4)
    pop.tier[:2] = 0
    pop.active[:] = [True, False, True, True]
    pop.paying[3] = True
    # day 4: hazard 0.3 < 0.5, nobody converts; day 5: the campaign doubles basic to 0.6
    assert processes.convert(pop, r, FakeRng(), day=4) == 0
    assert processes.convert(pop, r, FakeRng(), day=5) == 1
    assert pop.paying.tolist() == [False, False, True, True]


def test_paying_members_earn_their_tier_revenue_on_active_days():
    r = rules()
    pop = members(r, 3)
    pop.tier[0] = 0
    pop.paying[:] = True
    pop.active[:] = [True, True, False]
    assert processes.earn(pop, r) == 300 + 100
    assert pop.window_spend_minor.tolist() == [300, 100, 0]


def test_churn_hazard_grows_with_days_inactive():
    r = rules(tiers=[dict(document()["tiers"][0], churnHazard=0.1),
                     dict(document()["tiers"][1], churnHazard=0.1)])
    pop = members(r, 3)
    pop.days_inactive[:] = [0, 8, 20]
    pop.max_days_inactive = 20
    # 0.1 x (1 + 0.5 d): 0.1, 0.5, 1.1 -> only d=20 exceeds the draw of 0.5
    gone = processes.churn_out(pop, r, FakeRng(), streak_growth=0.5)
    assert gone.tolist() == [2] and pop.alive_count == 2
    assert pop.days_inactive[2] == GONE and not pop.alive[2]
    # a churned member never churns again (its hazard is 0)
    assert processes.churn_out(pop, r, FakeRng(), streak_growth=0.5).tolist() == []


def test_thinned_churn_draws_leave_at_each_members_own_hazard():
    r = rules(tiers=[dict(document()["tiers"][0], churnHazard=0.002),
                     dict(document()["tiers"][1], churnHazard=0.01)])
    pop = members(r, 200_000)
    pop.tier[:100_000] = 0
    pop.churn_base[:100_000] = r.churn[0]
    pop.days_inactive[100_000:] = 10  # basic: 0.01 x (1 + 0.1 x 10) = 0.02
    pop.max_days_inactive = 10  # bound 0.01 x 2 = 0.02 < 0.2: the thinned path
    gone = processes.churn_out(pop, r, np.random.default_rng(5), streak_growth=0.1)
    core, basic = (gone < 100_000).sum(), (gone >= 100_000).sum()
    # expected 200 and 2000; binomial standard errors about 14 and 44, 4.5 of them allowed
    assert abs(core - 200) < 4.5 * 14.1 and abs(basic - 2000) < 4.5 * 44.3


def test_quota_retiering_puts_the_top_share_of_spend_x_activity_in_the_top_tier():
    spend = np.array([0, 500, 100, 0, 900, 0, 0, 0, 0, 300])
    days = np.array([1, 10, 3, 0, 12, 2, 0, 5, 1, 8])
    tiers = retiering.quota_tiers(shares=[0.2, 0.3, 0.5], spend_minor=spend, active_days=days,
                                  order=np.arange(10))
    # members 4 and 1 lead on both features, then 9, 2 and 7
    assert tiers.tolist() == [2, 0, 1, 2, 0, 2, 2, 1, 2, 1]
