"""Calibration recovers the parameters of a community the simulator generated.

The simulator runs a scenario with known rates (3,000 starting members, 60 days), its
event log is bulk-written into the store, and `calibrate_scenario` estimates the rates
back from the `member_days` rollup. Each estimate must be within 4 of its own standard
errors (derived from its sample size) of the true value."""

from __future__ import annotations

import math

import numpy as np

from domain.store import bulk
from simulation.calibration import calibrate_scenario
from simulation.event_log import member_channel
from tests.simulation.known_community import TRUTH, generate

TIER_FIELDS = ("activity", "conversionHazard", "churnHazard", "inviteRate")


async def test_calibration_recovers_the_simulated_parameters(database):
    community, _, joins, as_of = generate()
    await bulk.write_community(database, community, reason="simulated")
    base = dict(TRUTH, initial={"fromDatabase": True})
    async with database.unit_of_work(write=False) as uow:
        filled, document, result = await calibrate_scenario(uow, base, as_of=as_of,
                                                            window_days=60)
    est = result.estimates
    for path, e in est.items():  # shown with -s: recovered vs true
        print(f"{path:42s} {e.value:10.5f} se {e.se:.5f} n {e.n}")

    def within(path: str, true: float, se_factor: float = 1.0) -> None:
        e = est[path]
        assert e.n > 1000 or path.startswith("market"), (path, e)
        assert abs(e.value - true) <= 4 * e.se * se_factor, (path, e.value, e.se, true)

    for tier in TRUTH["tiers"]:
        for name in TIER_FIELDS:
            within(f"tiers.{tier['key']}.{name}", tier[name])
        revenue = est[f"tiers.{tier['key']}.revenuePerActiveDayMinor"]
        assert revenue.value == tier["revenuePerActiveDayMinor"]
    # the log draws its own invitations (same rate as the model's), so the acceptance
    # ratio also carries the invitation count's Poisson noise: sqrt((1 + a) / (1 - a))
    a = TRUTH["referral"]["acceptanceRate"]
    within("referral.acceptanceRate", a, math.sqrt((1 + a) / (1 - a)))
    within("market.externalJoinRate", TRUTH["market"]["externalJoinRate"])
    within("market.wordOfMouth", TRUTH["market"]["wordOfMouth"])

    # the channel mix is exactly the model's own joins over the 60 days
    by_channel: dict[str, int] = {}
    for key, count in joins.items():
        channel = member_channel(key).value
        by_channel[channel] = by_channel.get(channel, 0) + count
    total = sum(by_channel.values())
    for channel, count in by_channel.items():
        assert est[f"channels.{channel}"].value == count / total

    # the filled scenario: tier rates written in, starting population attached
    tiers = {t["key"]: t for t in document["tiers"]}
    assert tiers["core"]["activity"] == est["tiers.core.activity"].value
    assert document["referral"]["acceptanceRate"] == est["referral.acceptanceRate"].value
    population = filled.initial.population
    assert filled.initial.from_database and population is not None
    assert document["initial"]["members"] == len(population.tier) > 3000
    # nobody in the starting state is silent for the churn window or longer
    assert population.days_inactive.max() < 30
    # starting members keep their tier; joiners are in the lowest
    assert np.bincount(population.tier, minlength=3)[0] <= 600
    assert abs(float(np.mean(population.propensity[population.tier == 0])) - 1.0) < 0.1
