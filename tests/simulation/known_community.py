"""A community with known parameters: the simulator's own event log (see
`simulation.event_log`), for calibration tests."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np

from simulation import event_log
from simulation.model import CommunityModel
from simulation.scenario import Initial, InitialPopulation, parse

START = datetime(2026, 1, 1, tzinfo=UTC)
TRUTH = {
    "horizonDays": 60, "seed": 11, "replicates": 1,
    "market": {"size": 60_000, "externalJoinRate": 0.0002, "wordOfMouth": 0.004},
    "initial": {"members": 3000},
    "propensityShape": 1e6,  # every member exactly at the tier's rate
    "tiers": [
        {"key": "core", "share": 0.2, "activity": 0.6, "conversionHazard": 0.02,
         "churnHazard": 0.003, "inviteRate": 0.05, "revenuePerActiveDayMinor": 3000},
        {"key": "potential", "share": 0.3, "activity": 0.4, "conversionHazard": 0.01,
         "churnHazard": 0.004, "inviteRate": 0.03, "revenuePerActiveDayMinor": 1500},
        {"key": "basic", "share": 0.5, "activity": 0.25, "conversionHazard": 0.005,
         "churnHazard": 0.006, "inviteRate": 0.02, "revenuePerActiveDayMinor": 800},
    ],
    "referral": {"enabled": True, "acceptanceRate": 0.3, "inviteeActivityFactor": 1.0},
    "churn": {"enabled": True, "streakGrowth": 0.0},
}


def truth(**overrides) -> dict:
    doc = copy.deepcopy(TRUTH)
    doc.update(copy.deepcopy(overrides))
    return doc


def known_scenario(document: dict, *, members: int):
    """The scenario with `members` starting members split 20/30/50 over the tiers, 10%
    paying, all active on day 0, propensity 1."""
    n = members
    rng = np.random.default_rng(5)
    counts = [n // 5, 3 * n // 10, n - n // 5 - 3 * n // 10]
    population = InitialPopulation(
        tier=np.repeat(np.arange(3), counts).astype(np.int8), paying=rng.random(n) < 0.1,
        days_inactive=np.zeros(n, np.int64), propensity=np.ones(n, np.float32))
    return dataclasses.replace(parse(document), initial=Initial(members=n,
                                                                population=population))


def generate(document: dict | None = None, *, members: int = 3000):
    """(community, scenario, the model's joins per simulated channel over days
    1..horizon, as_of)."""
    document = document or truth()
    scenario = known_scenario(document, members=members)
    community = event_log.community(scenario, start=START, invite_seed=3)
    model = CommunityModel(scenario, rng=scenario.seed)  # the same run, for its totals
    joins = np.zeros(len(model.rules.channel_keys), np.int64)
    while model.running:
        model.step()
        joins += np.array(model.totals["joins_by_channel"])
    as_of = (START + timedelta(days=scenario.horizon_days)).date()
    return community, scenario, dict(zip(model.rules.channel_keys, joins.tolist(),
                                         strict=True)), as_of
