"""Scenario documents: validation lists every field error with its path and code."""

from __future__ import annotations

import dataclasses

import pytest

import simulation
from simulation import presets, scenario
from tests.simulation.scenarios import document


def errors_of(doc: dict) -> dict[str, str]:
    with pytest.raises(scenario.InvalidScenario) as caught:
        scenario.parse(doc)
    return {e.path: e.code for e in caught.value.errors}


def test_a_valid_document_parses_with_its_defaults():
    s = scenario.parse(document())
    assert s.horizon_days == 30 and s.replicates == 4 and s.tier_keys() == ["core", "basic"]
    assert s.tiers[1].touch.every_days == 0  # no touch strategy given
    assert s.churn.warning_levels == (3, 7, 14)  # domain.churn's defaults
    assert s.referral.invite_multiplier() == pytest.approx(1.5)  # 1 + 1 x 500 / (500 + 500)
    assert s.to_dict() == document()


def test_every_invalid_field_is_reported_at_once_with_its_path():
    doc = document(horizonDays=0, replicates="many")
    doc["tiers"][0]["share"] = 1.5
    doc["tiers"][1]["key"] = "core"
    doc["market"]["wordOfMouth"] = -0.1
    doc["churn"]["warningLevels"] = [7, 3]
    doc["targets"][0]["metric"] = "happiness"
    assert errors_of(doc) == {
        "horizonDays": "OUT_OF_RANGE", "replicates": "WRONG_TYPE",
        "tiers.0.share": "OUT_OF_RANGE", "tiers.1.key": "DUPLICATE_TIER",
        "tiers": "SHARES_NOT_1", "market.wordOfMouth": "OUT_OF_RANGE",
        "churn.warningLevels.1": "LEVELS_NOT_INCREASING",
        "churn.winBack": "ACTIONS_DO_NOT_MATCH_LEVELS",
        "targets.0.metric": "UNKNOWN_METRIC",
        "campaigns.0.tiers.0": "UNKNOWN_TIER",
    }


def test_missing_sections_and_bad_campaign_days_are_field_errors():
    doc = document()
    del doc["market"]
    doc["campaigns"][0].update(startDay=20, endDay=10)
    doc["targets"][0]["deadlineDay"] = 31
    assert errors_of(doc) == {"market": "REQUIRED", "market.size": "REQUIRED",
                              "market.externalJoinRate": "REQUIRED",
                              "market.wordOfMouth": "REQUIRED",
                              "campaigns.0.endDay": "ENDS_BEFORE_START",
                              "targets.0.deadlineDay": "OUT_OF_RANGE"}


def test_the_error_is_a_domain_error_naming_the_first_field():
    with pytest.raises(scenario.InvalidScenario) as caught:
        scenario.parse(document(seed=-1))
    assert caught.value.code == "INVALID_SCENARIO" and caught.value.field == "seed"


def test_from_database_is_accepted_and_left_for_calibration():
    s = scenario.parse(document(initial={"fromDatabase": True}))
    assert s.initial.from_database and s.initial.population is None
    with pytest.raises(simulation.NeedsCalibration):
        simulation.run(s)


def test_the_three_tier_preset_has_the_domain_targets():
    s = scenario.parse(presets.three_tier())
    assert [(t.key, t.share) for t in s.tiers] == [("core", 0.15), ("potential", 0.35),
                                                   ("basic", 0.5)]
    assert [(t.metric, t.goal, t.deadline_day) for t in s.targets] == [
        ("activityRate", 0.30, 90), ("payingShare", 0.12, 180)]
    assert s.initial.members == 10_000 and s.initial.warm_up_days == 60


def test_targets_may_name_a_tier_or_a_channel_kpi():
    doc = document(targets=[
        {"metric": "activityRateByTier.basic", "goal": 0.3, "deadlineDay": 30},
        {"metric": "newMembersByChannel.douyin", "goal": 5, "deadlineDay": 30}])
    doc["market"]["channels"] = [{"key": "douyin", "joinRate": 0.001, "dailySpendMinor": 100,
                                  "referenceSpendMinor": 100}]
    assert [t.metric for t in scenario.parse(doc).targets] == [
        "activityRateByTier.basic", "newMembersByChannel.douyin"]
    doc["targets"][1]["metric"] = "newMembersByChannel.tiktok"
    assert errors_of(doc) == {"targets.1.metric": "UNKNOWN_METRIC"}


def test_sections_of_the_wrong_type_are_field_errors_not_crashes():
    doc = document(retiering=30)
    doc["market"]["channels"] = 5
    assert errors_of(doc) == {"retiering": "WRONG_TYPE", "market.channels": "WRONG_TYPE"}


def test_paid_channel_keys_are_unique_and_not_the_simulators_own_channels():
    # newMembersByChannel.<key> is one series per key: a paid channel named "organic" or
    # twice "douyin" would silently overwrite another channel's joins
    doc = document()
    channel = {"joinRate": 0.001, "dailySpendMinor": 100, "referenceSpendMinor": 100}
    doc["market"]["channels"] = [dict(channel, key=k) for k in
                                 ("douyin", "organic", "douyin", "referral", "wordOfMouth")]
    assert errors_of(doc) == {f"market.channels.{i}.key": "DUPLICATE_CHANNEL"
                              for i in (1, 2, 3, 4)}


def test_more_tiers_or_channels_than_the_simulator_holds_are_out_of_range():
    doc = document(campaigns=[], targets=[])
    doc["tiers"] = [dict(doc["tiers"][1], key=f"t{i}", share=1 / 65) for i in range(65)]
    doc["market"]["channels"] = [{"key": f"c{i}", "joinRate": 0.0, "dailySpendMinor": 0,
                                  "referenceSpendMinor": 1} for i in range(101)]
    assert errors_of(doc) == {"tiers": "OUT_OF_RANGE", "market.channels": "OUT_OF_RANGE"}
    doc["tiers"], doc["market"]["channels"] = doc["tiers"][:64], doc["market"]["channels"][:100]
    for tier in doc["tiers"]:
        tier["share"] = 1 / 64
    s = scenario.parse(doc)  # the limits themselves run
    result = simulation.run(dataclasses.replace(s, horizon_days=2, replicates=1), workers=1)
    assert result["kpis"]["members"]["p50"][0] > 0
