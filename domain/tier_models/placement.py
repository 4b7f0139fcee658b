"""Placing members in tiers (`place`): by thresholds, by quotas of the value x
engagement score, or by RFM scores (k-means is in `clustering`), with the percentile and
quintile scores they rank members by.
"""

from __future__ import annotations

import numpy as np

from domain.tier_models.clustering import place_by_kmeans
from domain.tier_models.values import (
    DEFAULT_QUOTA_FEATURES,
    MemberFeatures,
    TierModelKind,
    TierModelSpec,
)


def place(spec: TierModelSpec, features: MemberFeatures) -> np.ndarray:
    """The tier id the model wants for each member (in `features.member_ids` order).
    `spec` must be validated (rules top rank first)."""
    tier_ids = np.array([r.tier_id for r in spec.tiers], dtype=np.int64)
    if len(features) == 0:
        return np.zeros(0, dtype=np.int64)
    index = {TierModelKind.THRESHOLDS: place_by_thresholds, TierModelKind.QUOTAS: place_by_quotas,
             TierModelKind.RFM: place_by_rfm, TierModelKind.KMEANS: place_by_kmeans
             }[spec.kind](spec, features)
    return tier_ids[index]


def place_by_thresholds(spec: TierModelSpec, features: MemberFeatures) -> np.ndarray:
    """Index (0 = top) of the first tier, top rank first, whose every minimum the member
    meets (feature >= minimum); the lowest tier takes everyone else."""
    result = np.full(len(features), len(spec.tiers) - 1, dtype=np.int64)
    for position in range(len(spec.tiers) - 2, -1, -1):  # bottom-up: higher tiers overwrite
        match = np.ones(len(features), dtype=bool)
        for name, minimum in spec.tiers[position].minimums:
            match &= features[name] >= minimum
        result[match] = position
    return result


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Share of members whose value is <= each member's value, in (0, 1]; equal values
    share one rank (so 60% of members with zero spend all get 0.6)."""
    ordered = np.sort(values)
    return np.searchsorted(ordered, values, side="right") / len(values)


def value_engagement_score(features: MemberFeatures, names=DEFAULT_QUOTA_FEATURES
                           ) -> np.ndarray:
    """DOMAIN.md's value x engagement score: the product of the percentile ranks of the
    given features (default: spend in the window x active days in the window)."""
    score = np.ones(len(features))
    for name in names:
        score *= percentile_ranks(features[name])
    return score


def place_by_quotas(spec: TierModelSpec, features: MemberFeatures) -> np.ndarray:
    """Sort members by score descending, ties by member id ascending; the top tier takes
    the first round(n x p1%) members, the next tier up to round(n x (p1 + p2)%), and so on."""
    score = value_engagement_score(features, spec.features or DEFAULT_QUOTA_FEATURES)
    order = np.lexsort((features.member_ids, -score))
    n = len(features)
    bounds = np.rint(np.cumsum([r.percent for r in spec.tiers]) / 100.0 * n).astype(np.int64)
    bounds[-1] = n
    by_position = np.searchsorted(bounds, np.arange(n), side="right")
    result = np.empty(n, dtype=np.int64)
    result[order] = by_position
    return result


def quintile_scores(values: np.ndarray) -> np.ndarray:
    """1-5: 1 + floor(5 x share of members with a strictly smaller value). Equal values get
    the same score, so the result does not depend on row order."""
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    return 1 + (5 * below) // len(values)


def rfm_scores(features: MemberFeatures) -> np.ndarray:
    """Recency (fewer days since last activity scores higher) + frequency (active days in
    the window) + monetary (lifetime spend) quintile scores: 3-15."""
    return (quintile_scores(-features["recency_days"]) + quintile_scores(features["active_days"])
            + quintile_scores(features["spend_minor_lifetime"]))


def place_by_rfm(spec: TierModelSpec, features: MemberFeatures) -> np.ndarray:
    """First tier, top rank first, whose min_score the RFM total reaches; lowest takes the rest."""
    score = rfm_scores(features)
    result = np.full(len(features), len(spec.tiers) - 1, dtype=np.int64)
    for position in range(len(spec.tiers) - 2, -1, -1):
        result[score >= spec.tiers[position].min_score] = position
    return result
