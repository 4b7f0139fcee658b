"""Conservation laws of the fast model, checked day by day over several seeds: every member
is counted once (in a tier, as churned, or as joined), and the running payer count is the
population's own."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.model import CommunityModel
from simulation.population import Population
from simulation.scenario import parse
from tests.simulation.scenarios import document


def test_rows_reused_after_compaction_start_as_fresh_members():
    pop = Population(capacity=16)
    pop.append(6000, tier=0, paying=True, active=True, badge=True, boost=0.3,
               active_streak=9, window_active_days=5, window_spend_minor=700, days_inactive=0)
    pop.alive[::2] = False  # half of them churned
    pop.alive_count = 3000
    pop.compact()
    pop.append(10, tier=1, days_inactive=-1)
    new = slice(3000, 3010)
    assert pop.n == 3010
    assert not pop.paying[new].any() and not pop.active[new].any()
    assert not pop.badge[new].any() and not pop.boost[new].any()
    assert not pop.active_streak[new].any() and not pop.window_active_days[new].any()
    assert not pop.window_spend_minor[new].any()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_members_and_payers_are_conserved_day_by_day_through_compactions(seed):
    # heavy churn so that the population is compacted (more than half of the rows gone)
    doc = document(horizonDays=40, campaigns=[], targets=[],
                   initial={"members": 5000, "payingShare": 0.3},
                   market={"size": 20_000, "externalJoinRate": 0.01, "wordOfMouth": 0.05})
    for tier in doc["tiers"]:
        tier["churnHazard"] = 0.05
    model = CommunityModel(parse(doc), rng=seed)
    compactions, members = 0, model.totals["members"]
    for _ in range(40):
        rows = model.population.n
        model.step()
        pop, t = model.population, model.totals
        compactions += pop.n < rows
        alive = pop.alive
        assert t["members"] == members + t["new_members"] - t["churned_members"]
        members = t["members"]
        assert t["members"] == int(alive.sum()) == sum(t["members_by_tier"])
        assert t["members_by_tier"] == np.bincount(pop.tier[alive], minlength=2).tolist()
        assert t["payers"] == int(pop.paying[alive].sum())
        assert t["dau"] <= t["active_30d"] <= t["members"] and t["payers"] <= t["members"]
        # every joiner is counted once, under one channel; referrals are the last channel
        assert sum(t["joins_by_channel"]) == t["new_members"]
        assert t["joins_by_channel"][-1] == t["referred_members"]
    assert compactions >= 1
