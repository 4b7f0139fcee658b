"""The fast model agrees with the per-agent reference model: for every process switched on,
the daily KPI means over many seeds differ by no more than the standard errors allow."""

from __future__ import annotations

import dataclasses

import numpy as np

from simulation import results
from simulation.model import CommunityModel
from simulation.reference import ReferenceModel
from simulation.scenario import Initial, InitialPopulation, parse
from tests.simulation.scenarios import document

SEEDS = 40
KPIS = ("members", "newMembers", "referredMembers", "churnedMembers", "dau",
        "activeMembers30d", "payingMembers", "revenueMinor", "costMinor",
        "activityRateByTier.core", "newMembersByChannel.organic",
        "newMembersByChannel.wordOfMouth", "newMembersByChannel.referral")


def means_and_errors(core: str, s) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    runs = results.run_replicates(s, seeds=range(SEEDS), core=core, workers=1)
    out = {}
    for name in KPIS:
        stack = np.vstack([r[name] for r in runs])
        out[name] = (stack.mean(axis=0), stack.std(axis=0, ddof=1) / np.sqrt(SEEDS))
    return out


def test_fast_and_reference_models_agree_on_daily_kpi_means():
    tiers = document()["tiers"]
    tiers[1]["touch"] = {"channel": "app", "everyDays": 2, "costMinor": 5, "lift": 2.0}
    s = parse(document(horizonDays=20, initial={"members": 100, "payingShare": 0.1,
                                                      "warmUpDays": 5},
                       market={"size": 200, "externalJoinRate": 0.005, "wordOfMouth": 0.05},
                       tiers=tiers))
    fast, reference = means_and_errors("fast", s), means_and_errors("reference", s)
    for name in KPIS:
        (mean_f, se_f), (mean_r, se_r) = fast[name], reference[name]
        # Two independent sets of 40 seeds: the difference of means has standard error
        # sqrt(se_f^2 + se_r^2); 4.5 of them bounds 20 days x 13 KPIs compared at once
        # (and a 1e-9 floor for days where both are constant).
        bound = 4.5 * np.sqrt(se_f ** 2 + se_r ** 2) + 1e-9
        worst = np.max(np.abs(mean_f - mean_r) / bound)
        assert worst <= 1, f"{name}: off by {worst:.2f} of the bound"


def test_the_reference_model_runs_a_closed_community_without_a_market():
    s = parse(document(horizonDays=5, campaigns=[], targets=[],
                       market={"size": 0, "externalJoinRate": 0.01, "wordOfMouth": 0.1}))
    for core in ("fast", "reference"):
        run = results.run_replicate(s, seed=3, core=core)
        assert run["newMembers"].sum() == 0, core  # nobody left to join
        assert run["members"][-1] == 200 - run["churnedMembers"].sum(), core


def test_the_reference_model_starts_from_a_calibrated_population_as_given():
    s = parse(document(initial={"fromDatabase": True}, horizonDays=5, campaigns=[],
                       targets=[]))
    population = InitialPopulation(tier=np.array([0, 1, 1]), paying=np.array([1, 0, 0]),
                                   days_inactive=np.array([0, 5, 40]),
                                   propensity=np.array([1.0, 0.5, 2.0]))
    calibrated = dataclasses.replace(s, initial=Initial(
        members=3, paying_share=1 / 3, from_database=True, population=population))
    fast, reference = CommunityModel(calibrated, rng=1), ReferenceModel(calibrated, rng=1)
    for model in (fast, reference):
        t = model.totals
        assert (t["members_by_tier"], t["payers"], t["active_30d"], t["dau"]) == (
            [1, 2], 1, 2, 1), type(model).__name__
    assert sorted((a.tier, a.paying, a.days_inactive, a.propensity)
                  for a in reference.agents) == [(0, True, 0, 1.0), (1, False, 5, 0.5),
                                                 (1, False, 40, 2.0)]
