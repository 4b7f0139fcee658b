"""The fast model's set-up: starting members, explicit (calibrated) populations, warm-up."""

from __future__ import annotations

import dataclasses

import numpy as np

import simulation
from simulation.model import CommunityModel
from simulation.scenario import Initial, InitialPopulation, parse
from tests.simulation.scenarios import document


def test_starting_members_fill_the_tier_quotas_most_active_first():
    model = CommunityModel(parse(document(initial={"members": 1000, "payingShare": 0.2})),
                           rng=1)
    pop = model.population
    assert model.tier_members.tolist() == [200, 800]  # shares 0.2 / 0.8
    assert pop.propensity[pop.tier == 0].min() >= pop.propensity[pop.tier == 1].max()
    assert 150 < model.payers < 250  # Binomial(1000, 0.2), 5 standard errors
    assert model.totals["members"] == 1000 and model.totals["new_members"] == 0


def test_a_calibrated_population_is_taken_as_given():
    s = parse(document(initial={"fromDatabase": True}, replicates=2))
    population = InitialPopulation(tier=np.array([0, 1, 1]), paying=np.array([1, 0, 0]),
                                   days_inactive=np.array([0, 5, 40]),
                                   propensity=np.array([1.0, 0.5, 2.0]))
    calibrated = dataclasses.replace(s, initial=Initial(from_database=True,
                                                        population=population))
    model = CommunityModel(calibrated, rng=1)
    assert model.tier_members.tolist() == [1, 2] and model.payers == 1
    assert model.totals["active_30d"] == 2 and model.totals["dau"] == 1
    result = simulation.run(calibrated, workers=1)
    assert result["kpis"]["members"]["p50"][0] >= 2


def test_warm_up_days_run_the_rules_before_day_one_without_recording_them():
    cold = CommunityModel(parse(document(campaigns=[])), rng=4)
    warm = CommunityModel(parse(document(campaigns=[],
                                         initial={"members": 200, "payingShare": 0.1,
                                                  "warmUpDays": 30})), rng=4)
    assert len(warm.datacollector.model_vars["members"]) == 1  # only the day-0 state
    assert warm.joined_from_market > 0  # prospects joined during the warm-up
    assert warm.totals["cost_minor"] == 0 and warm.day == 0
    assert warm.totals["members"] != cold.totals["members"]
    assert warm.population.window_active_days.sum() == 0  # a fresh re-tiering window
