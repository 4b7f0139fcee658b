"""Bands, target probabilities, common-random-number comparisons, sweeps and runs."""

from __future__ import annotations

import numpy as np
import pytest

import simulation
from simulation import results
from simulation.scenario import Target, parse
from tests.simulation.scenarios import document


def test_bands_are_mean_and_percentiles_per_day_over_replicates():
    runs = [{"members": np.array([float(v), 10.0 * v])} for v in range(1, 102)]  # 1..101
    band = results.bands(runs)["members"]
    # numpy's linear percentiles of 1..101: p5 = 6, p50 = 51, p95 = 96
    assert band == {"mean": [51.0, 510.0], "p5": [6.0, 60.0], "p50": [51.0, 510.0],
                    "p95": [96.0, 960.0]}


def test_undefined_ratios_are_null_and_left_out_of_the_band():
    runs = [{"payingShare": np.array([np.nan, 0.1])}, {"payingShare": np.array([np.nan, np.nan])},
            {"payingShare": np.array([np.nan, 0.3])}]
    band = results.bands(runs)["payingShare"]
    assert band["mean"] == [None, pytest.approx(0.2)] and band["p50"][0] is None


def test_bands_equal_numpys_nan_percentiles_day_by_day():
    # Days with every replicate defined take the vectorised path, the others leave the
    # undefined replicates out: both agree with np.nanpercentile to the last bit.
    rng = np.random.default_rng(5)
    stack = rng.gamma(2.0, 3.0, size=(7, 300))
    stack[rng.random(stack.shape) < 0.1] = np.nan
    stack[:, :3] = np.nan  # undefined in every replicate: null
    band = results.bands([{"k": row} for row in stack])["k"]
    assert band["p50"][:3] == [None, None, None]
    for q in (5, 50, 95):
        expected = [np.nanpercentile(stack[:, d], q) for d in range(3, 300)]
        assert band[f"p{q}"][3:] == expected
    assert band["mean"][3:] == [np.nanmean(stack[:, d]) for d in range(3, 300)]


def test_target_probability_is_the_share_of_replicates_meeting_it_by_the_deadline():
    target = Target(name="12%", metric="payingShare", goal=0.12, deadline_day=2)
    runs = [{"payingShare": np.array([0.05, v, 0.0])} for v in (0.10, 0.12, 0.13, 0.2)]
    s = parse(document(targets=[{"metric": "payingShare", "goal": 0.12, "deadlineDay": 2}]))
    assert [results.target_met(r["payingShare"], target) for r in runs] == [
        False, True, True, True]  # the value on day 2 decides; later days do not
    assert results.target_probabilities(s, runs)[0]["probability"] == 0.75
    # lower is better for costs: at most the goal meets it
    cost = Target(name="cheap", metric="costMinor", goal=100, deadline_day=1)
    assert results.target_met(np.array([100.0]), cost)
    assert not results.target_met(np.array([101.0]), cost)


def test_a_run_gives_the_result_document_with_members_at_each_day_end():
    s = parse(document(replicates=3))
    seen = []
    result = simulation.run(s, progress=lambda done, total: seen.append((done, total)),
                            workers=1)
    assert result["days"] == list(range(1, 31)) and result["replicates"] == 3
    assert set(result["kpis"]["members"]) == {"mean", "p5", "p50", "p95"}
    assert len(result["kpis"]["activityRateByTier.core"]["p50"]) == 30
    # acquisition split by channel adds up to the new members of every replicate
    by_channel = [result["kpis"][f"newMembersByChannel.{c}"]["mean"]
                  for c in ("organic", "wordOfMouth", "referral")]
    assert np.allclose(np.sum(by_channel, axis=0), result["kpis"]["newMembers"]["mean"])
    assert result["targets"][0]["name"] == "half active"
    assert 0 <= result["targets"][0]["probability"] <= 1
    assert result["budget"]["totalMinor"] == 1_000_000
    assert seen[0] == (0, 90) and seen[-1] == (90, 90) and len(seen) == 91
    # the same scenario gives the same document (seeded replicates)
    assert simulation.run(s, workers=1) == result


def test_a_cancelled_run_stops():
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(simulation.Cancelled):
        simulation.run(parse(document()), cancelled=cancelled, workers=1)
    assert len(calls) == 6


def test_the_process_pool_gives_the_same_replicates_as_one_process(monkeypatch):
    s = parse(document(replicates=4, horizonDays=10, campaigns=[], targets=[]))
    here = results.run_replicates(s, workers=1)
    monkeypatch.setattr(results, "IN_PROCESS_MEMBER_DAYS", 0)
    pooled = results.run_replicates(s, workers=2)
    for a, b in zip(here, pooled, strict=True):
        np.testing.assert_array_equal(a["members"], b["members"])
        np.testing.assert_array_equal(a["revenueMinor"], b["revenueMinor"])


def test_comparing_a_scenario_with_itself_shows_no_difference_thanks_to_common_seeds():
    s = parse(document(replicates=5))
    same = results.compare(s, s, metrics=["members", "revenueMinor"], workers=1)
    assert same["difference"]["members"]["mean"] == [0.0] * 30
    assert same["difference"]["members"]["low"] == [0.0] * 30  # zero-width interval


def test_scenarios_of_different_horizons_are_compared_over_their_common_days():
    short, long = parse(document(replicates=3, horizonDays=20)), parse(document(replicates=3))
    compared = results.compare(short, long, metrics=["members"], workers=1)
    assert compared["days"] == list(range(1, 21))
    # the same rules and seeds: the first 20 days of the longer run are the shorter run
    assert compared["difference"]["members"]["mean"] == [0.0] * 20


def test_a_bigger_referral_reward_brings_more_referred_members():
    base = document(replicates=20, horizonDays=20)
    generous = results.with_value(base, "referral.rewardMinor", 50_000)
    compared = results.compare(parse(base), parse(generous), metrics=["referredMembers"],
                               workers=1)
    difference = compared["difference"]["referredMembers"]
    total = sum(difference["mean"])
    # reward 500 -> x1.5 invitations, 50,000 -> x1.99: about a third more referrals
    assert total > 0 and difference["low"][-1] < difference["mean"][-1] < difference["high"][-1]


def test_setting_a_tier_share_moves_the_difference_to_the_lowest_tier():
    doc = results.with_value(document(), "tiers.0.share", 0.3)
    assert [t["share"] for t in doc["tiers"]] == [0.3, 0.7]
    assert document()["tiers"][0]["share"] == 0.2  # the base is untouched


def test_a_sweep_gives_the_target_probability_at_every_grid_point():
    base = document(replicates=3, horizonDays=20)
    grid = results.sweep(base, {"referral.rewardMinor": [0, 1000],
                                "tiers.0.share": [0.1, 0.2]}, workers=1)
    assert [p["values"] for p in grid] == [
        {"referral.rewardMinor": 0, "tiers.0.share": 0.1},
        {"referral.rewardMinor": 0, "tiers.0.share": 0.2},
        {"referral.rewardMinor": 1000, "tiers.0.share": 0.1},
        {"referral.rewardMinor": 1000, "tiers.0.share": 0.2}]
    assert all(0 <= p["targets"][0]["probability"] <= 1 for p in grid)


def test_a_cancelled_pool_run_stops_without_a_result(monkeypatch):
    monkeypatch.setattr(results, "IN_PROCESS_MEMBER_DAYS", 0)
    s = parse(document(replicates=8, horizonDays=10, campaigns=[], targets=[]))
    with pytest.raises(simulation.Cancelled):
        results.run_replicates(s, workers=2, cancelled=lambda: True)
