"""With churn and referrals off and nobody at the start, acquisition is discrete-time Bass
diffusion: F[t+1] = F[t] + (p + q F[t]) (1 - F[t])."""

from __future__ import annotations

import mesa
import numpy as np

from simulation import results
from simulation.model import CommunityModel
from simulation.scenario import parse
from tests.simulation.scenarios import document

P, Q, N, DAYS = 0.01, 0.3, 20_000, 60


def bass_scenario(replicates: int = 40):
    return parse(document(horizonDays=DAYS, replicates=replicates,
                          market={"size": N, "externalJoinRate": P, "wordOfMouth": Q},
                          initial={"members": 0}, referral={"enabled": False},
                          churn={"enabled": False}, campaigns=[], targets=[]))


def bass_path() -> np.ndarray:
    f = [0.0]
    for _ in range(DAYS):
        f.append(f[-1] + (P + Q * f[-1]) * (1 - f[-1]))
    return np.array(f[1:])


def test_the_hazard_applied_each_day_is_the_bass_step_of_the_realised_fraction():
    # Exact: given the adopters F at the start of a day, the model joins each of the
    # N (1 - F) prospects with probability p + q F, so E[F'] = F + (p + q F)(1 - F).
    model = CommunityModel(bass_scenario(), rng=3)
    while model.running:
        model.step()
    data = model.datacollector.model_vars
    members = np.array(data["members"], dtype=float)
    hazards = np.array(data["join_hazard"][1:])
    start = members[:-1] / N
    np.testing.assert_allclose(hazards, P + Q * start, rtol=1e-12)
    assert (np.diff(members) == np.array(data["new_members"][1:])).all()  # nobody leaves
    # referral.enabled and churn.enabled false switch those processes off
    assert sum(data["referred_members"]) == 0 and sum(data["churned_members"]) == 0
    assert sum(data["warnings"]) == 0


def test_the_mean_adopter_fraction_follows_the_bass_recursion():
    s = bass_scenario()
    runs = results.run_replicates(s, workers=1)
    fraction = np.vstack([r["members"] for r in runs]) / N
    mean = fraction.mean(axis=0)
    standard_error = fraction.std(axis=0, ddof=1) / np.sqrt(len(runs))
    # Tolerance: 4.5 standard errors of the mean (60 days compared at once), plus the
    # Jensen gap q Var(F) <= q / (4 N) of the nonlinear step, under 4e-6 here.
    gap = np.abs(mean - bass_path())
    assert (gap <= 4.5 * standard_error + Q / (4 * N)).all(), gap.max()


def test_the_model_runs_under_mesa_batch_run():
    rows = mesa.batch_run(CommunityModel, parameters={"scenario": bass_scenario()},
                          rng=[1, 2], max_steps=DAYS, data_collection_period=1,
                          number_processes=1, display_progress=False)
    assert len(rows) == 2 * (DAYS + 1)  # day 0 and every day, two seeds
    last = [r for r in rows if r["Step"] == DAYS]
    assert all(0 < r["members"] <= N for r in last)
