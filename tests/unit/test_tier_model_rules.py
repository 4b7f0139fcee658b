"""Tier model rules on hand-computed fixtures (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain import retiering, tier_models
from domain.retiering import TierState
from domain.tier_models import MemberFeatures, TierModelKind, TierModelSpec, TierRule

CORE, POTENTIAL, BASIC = 11, 12, 13
RANKS = {CORE: 1, POTENTIAL: 2, BASIC: 3}
KNOWN = {"spend_minor", "spend_minor_lifetime", "active_days", "posts", "recency_days"}
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def features(**values) -> MemberFeatures:
    n = len(next(iter(values.values())))
    return MemberFeatures(member_ids=np.arange(1, n + 1, dtype=np.int64),
                          values={k: np.asarray(v, dtype=np.float64) for k, v in values.items()})


def thresholds(*rules) -> TierModelSpec:
    return TierModelSpec(kind=TierModelKind.THRESHOLDS, tiers=tuple(rules))


def valid(spec):
    return tier_models.validate(spec, ranks=RANKS, known_features=KNOWN)


def test_thresholds_take_the_first_tier_from_the_top_whose_minimums_all_hold():
    spec = valid(thresholds(
        TierRule(BASIC),
        TierRule(CORE, minimums=(("spend_minor", 1000), ("active_days", 10))),
        TierRule(POTENTIAL, minimums=(("active_days", 5),)),
    ))
    f = features(spend_minor=[5000, 5000, 0, 999], active_days=[12, 6, 20, 4])
    # m1 meets both core minimums; m2 lacks active days for core; m3 lacks spend; m4 nothing.
    assert tier_models.place(spec, f).tolist() == [CORE, POTENTIAL, POTENTIAL, BASIC]


def test_a_higher_tier_asking_less_than_a_lower_one_is_non_monotone():
    with pytest.raises(tier_models.NonMonotoneThresholds) as raised:
        valid(thresholds(TierRule(CORE, minimums=(("active_days", 3),)),
                         TierRule(POTENTIAL, minimums=(("active_days", 5),)), TierRule(BASIC)))
    assert raised.value.code == "NON_MONOTONE_THRESHOLDS"


def test_a_higher_tier_with_the_same_minimums_makes_the_lower_unreachable():
    with pytest.raises(tier_models.OverlappingThresholds):
        valid(thresholds(TierRule(CORE, minimums=(("active_days", 5),)),
                         TierRule(POTENTIAL, minimums=(("active_days", 5),)), TierRule(BASIC)))


@pytest.mark.parametrize(("spec", "error"), [
    (thresholds(TierRule(CORE, minimums=(("karma", 1),)), TierRule(BASIC)),
     tier_models.UnknownFeature),
    (thresholds(TierRule(99, minimums=(("posts", 1),)), TierRule(BASIC)), tier_models.UnknownTier),
    (thresholds(TierRule(CORE, minimums=(("posts", 1),)), TierRule(CORE)),
     tier_models.DuplicateModelTier),
    (thresholds(TierRule(CORE)), tier_models.TooFewTiers),
])
def test_bad_models_are_rejected_with_their_code(spec, error):
    with pytest.raises(error):
        valid(spec)


def quotas(core, potential, basic, **options) -> TierModelSpec:
    return TierModelSpec(kind=TierModelKind.QUOTAS, tiers=(
        TierRule(CORE, percent=core), TierRule(POTENTIAL, percent=potential),
        TierRule(BASIC, percent=basic)), **options)


def test_quotas_that_do_not_add_up_to_100_are_rejected():
    with pytest.raises(tier_models.QuotasNot100) as raised:
        valid(quotas(15, 35, 40))
    assert raised.value.message == "quotas add up to 90%, not 100%"


def test_quota_model_puts_fifteen_percent_in_core_by_value_times_engagement():
    # 20 members: spend and active days both rise with the member id, so the score does.
    f = features(spend_minor=np.arange(20) * 100, active_days=np.arange(20))
    placed = tier_models.place(valid(quotas(15, 35, 50)), f)
    assert placed.tolist() == [BASIC] * 10 + [POTENTIAL] * 7 + [CORE] * 3


def test_quota_ties_are_broken_by_member_id():
    f = features(spend_minor=[0] * 4, active_days=[0] * 4)
    assert tier_models.place(valid(quotas(25, 25, 50)), f).tolist() == [CORE, POTENTIAL,
                                                                         BASIC, BASIC]


def test_value_engagement_score_is_the_product_of_percentile_ranks():
    f = features(spend_minor=[0, 0, 10, 20], active_days=[1, 2, 3, 4])
    # spend ranks: 0.5, 0.5, 0.75, 1; days ranks: 0.25, 0.5, 0.75, 1.
    assert tier_models.value_engagement_score(f).tolist() == [0.125, 0.25, 0.5625, 1.0]


def test_quintile_scores_give_equal_values_equal_scores():
    # Score = 1 + 5 x (members strictly below) // 10: the three zeros have none below.
    assert tier_models.quintile_scores(np.array([0, 0, 0, 5, 9, 1, 2, 3, 4, 6])
                                       ).tolist() == [1, 1, 1, 4, 5, 2, 3, 3, 4, 5]


def test_rfm_maps_total_scores_to_tiers_by_ranges():
    spec = valid(TierModelSpec(kind=TierModelKind.RFM, tiers=(
        TierRule(CORE, min_score=13), TierRule(POTENTIAL, min_score=8), TierRule(BASIC))))
    f = features(recency_days=[0, 1, 2, 3, 4], active_days=[9, 7, 5, 3, 1],
                 spend_minor_lifetime=[900, 700, 500, 300, 100])
    # Scores per member: R = F = M = 5, 4, 3, 2, 1, so totals 15, 12, 9, 6, 3.
    assert tier_models.rfm_scores(f).tolist() == [15, 12, 9, 6, 3]
    assert tier_models.place(spec, f).tolist() == [CORE, POTENTIAL, POTENTIAL, BASIC, BASIC]


def test_rfm_score_ranges_must_fall_from_the_top():
    with pytest.raises(tier_models.OverlappingThresholds):
        valid(TierModelSpec(kind=TierModelKind.RFM, tiers=(
            TierRule(CORE, min_score=8), TierRule(POTENTIAL, min_score=8), TierRule(BASIC))))


def test_kmeans_orders_clusters_by_mean_spend_and_maps_them_top_first():
    rng = np.random.default_rng(1)
    # Three well separated groups of 30: big spenders, regulars, lurkers.
    spend = np.concatenate([rng.normal(50_000, 500, 30), rng.normal(2_000, 50, 30),
                            np.zeros(30)])
    days = np.concatenate([rng.normal(25, 1, 30), rng.normal(12, 1, 30), rng.normal(1, .1, 30)])
    spec = valid(TierModelSpec(kind=TierModelKind.KMEANS, features=("spend_minor",
                                                                    "active_days"), seed=3,
                               tiers=(TierRule(BASIC), TierRule(CORE), TierRule(POTENTIAL))))
    placed = tier_models.place(spec, features(spend_minor=spend, active_days=days))
    assert placed.tolist() == [CORE] * 30 + [POTENTIAL] * 30 + [BASIC] * 30


def test_kmeans_is_reproducible_with_its_seed():
    points = np.random.default_rng(0).normal(size=(500, 2))
    assert np.array_equal(tier_models.kmeans(points, 4, seed=9),
                          tier_models.kmeans(points, 4, seed=9))


def state(tiers, *, manual=None, since=None) -> TierState:
    n = len(tiers)
    return TierState(member_ids=np.arange(1, n + 1), tier_ids=np.array(tiers),
                     manual=np.array(manual or [False] * n),
                     pending_since=np.array(since or [-1] * n))


def test_promotions_apply_at_once_and_demotions_wait_for_the_grace_period():
    now_s = int(NOW.timestamp())
    started_15_days_ago = int((NOW - timedelta(days=15)).timestamp())
    started_3_days_ago = int((NOW - timedelta(days=3)).timestamp())
    current = state([BASIC, CORE, CORE, CORE, 0],
                    since=[-1, -1, started_15_days_ago, started_3_days_ago, -1])
    wanted = np.array([CORE, BASIC, BASIC, POTENTIAL, BASIC])
    result = retiering.decide(wanted=wanted, state=current, ranks=RANKS, now=NOW, grace_days=14)
    # m1 promoted; m2 demotion starts its clock; m3 waited 15 >= 14 days; m4 keeps waiting;
    # m5 had no tier, so any tier is a promotion.
    assert result.new.tolist() == [CORE, CORE, BASIC, CORE, BASIC]
    assert result.pending_since.tolist() == [-1, now_s, -1, started_3_days_ago, -1]


def test_a_run_that_no_longer_wants_the_demotion_clears_the_clock():
    current = state([CORE], since=[int((NOW - timedelta(days=3)).timestamp())])
    result = retiering.decide(wanted=np.array([CORE]), state=current, ranks=RANKS, now=NOW,
                              grace_days=14)
    assert result.new.tolist() == [CORE] and result.pending_since.tolist() == [-1]


def test_zero_grace_demotes_at_once():
    result = retiering.decide(wanted=np.array([BASIC]), state=state([CORE]), ranks=RANKS,
                              now=NOW, grace_days=0)
    assert result.new.tolist() == [BASIC]


def test_manual_assignments_are_never_overridden():
    current = state([BASIC, 0], manual=[True, True])
    result = retiering.decide(wanted=np.array([CORE, CORE]), state=current, ranks=RANKS,
                              now=NOW, grace_days=14)
    assert result.new.tolist() == [BASIC, 0]
    preview = retiering.summarise(result, state=current)
    assert preview.changed == 0 and preview.protected_manual == 2


def test_the_move_matrix_counts_members_per_current_and_new_tier():
    current = state([0, 0, BASIC, CORE])
    result = retiering.decide(wanted=np.array([CORE, BASIC, CORE, CORE]), state=current,
                              ranks=RANKS, now=NOW, grace_days=14)
    assert result.moves() == {(None, CORE): 1, (None, BASIC): 1, (BASIC, CORE): 1,
                              (CORE, CORE): 1}
