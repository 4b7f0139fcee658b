"""Validating a tier model against the tiers and the feature catalogue (`validate`),
with the rules of each kind: monotone, non-overlapping thresholds, quotas adding up to
100%, falling RFM scores, k-means features.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from domain.tier_models.errors import (
    DuplicateModelTier,
    InvalidTierModel,
    NonMonotoneThresholds,
    OverlappingThresholds,
    QuotasNot100,
    TooFewTiers,
    UnknownFeature,
    UnknownTier,
)
from domain.tier_models.values import DEFAULT_KMEANS_FEATURES, TierModelKind, TierModelSpec


def validate(spec: TierModelSpec, *, ranks: Mapping[int, int],
             known_features: Collection[str]) -> TierModelSpec:
    """Check a model against the tiers (id -> rank) and the feature catalogue; return it
    with its rules ordered top rank first. Raises a TierModelError naming the field."""
    if not 1 <= spec.window_days <= 3660:
        raise InvalidTierModel(f"windowDays must be 1-3660, got {spec.window_days}",
                               field="windowDays")
    if not 0 <= spec.grace_days <= 365:
        raise InvalidTierModel(f"graceDays must be 0-365, got {spec.grace_days}",
                               field="graceDays")
    for index, name in enumerate(spec.feature_names()):
        if name not in known_features:
            raise UnknownFeature(f"unknown feature {name!r}; known: "
                                 f"{', '.join(sorted(known_features))}", field=f"features.{index}")
    seen: set[int] = set()
    for index, rule in enumerate(spec.tiers):
        if rule.tier_id not in ranks:
            raise UnknownTier(f"tier {rule.tier_id} does not exist", field=f"tiers.{index}.tierId")
        if rule.tier_id in seen:
            raise DuplicateModelTier(f"tier {rule.tier_id} appears twice",
                                     field=f"tiers.{index}.tierId")
        seen.add(rule.tier_id)
    if len(spec.tiers) < 2:
        raise TooFewTiers(f"a model needs at least 2 tiers, got {len(spec.tiers)}",
                          field="tiers")
    rules = tuple(sorted(spec.tiers, key=lambda r: ranks[r.tier_id]))
    spec = TierModelSpec(kind=spec.kind, tiers=rules, features=spec.features,
                         window_days=spec.window_days, grace_days=spec.grace_days,
                         seed=spec.seed)
    {TierModelKind.THRESHOLDS: _validate_thresholds, TierModelKind.QUOTAS: _validate_quotas,
     TierModelKind.RFM: _validate_rfm, TierModelKind.KMEANS: _validate_kmeans}[spec.kind](spec)
    return spec


def _validate_thresholds(spec: TierModelSpec) -> None:
    *upper, lowest = spec.tiers
    if lowest.minimums:
        raise InvalidTierModel(f"the lowest tier ({lowest.tier_id}) is the catch-all and takes "
                               "no minimums", field="tiers.minimums")
    for rule in upper:
        if not rule.minimums:
            raise OverlappingThresholds(f"tier {rule.tier_id} has no minimums, so every "
                                        "member matches it and the tiers below are unreachable",
                                        field="tiers.minimums")
        names = [f for f, _ in rule.minimums]
        if len(set(names)) != len(names):
            raise InvalidTierModel(f"tier {rule.tier_id} names a feature twice",
                                   field="tiers.minimums")
    for i, high in enumerate(upper):
        for low in upper[i + 1:]:
            high_min, low_min = dict(high.minimums), dict(low.minimums)
            for name in high_min.keys() & low_min.keys():
                if high_min[name] < low_min[name]:
                    raise NonMonotoneThresholds(
                        f"tier {high.tier_id} asks {name} >= {high_min[name]:g}, less than "
                        f"lower tier {low.tier_id} ({low_min[name]:g})", field="tiers.minimums")
            # The higher tier asks nothing the lower does not: the lower can never match.
            if all(low_min.get(n, -math.inf) >= v for n, v in high_min.items()):
                raise OverlappingThresholds(
                    f"tier {high.tier_id} admits every member tier {low.tier_id} does",
                    field="tiers.minimums")


def _validate_quotas(spec: TierModelSpec) -> None:
    percents = [r.percent for r in spec.tiers]
    if any(p is None or p < 0 for p in percents):
        raise InvalidTierModel("every quota tier needs a percent >= 0", field="tiers.percent")
    total = sum(percents)
    if abs(total - 100.0) > 1e-6:
        raise QuotasNot100(f"quotas add up to {total:g}%, not 100%", field="tiers.percent")


def _validate_rfm(spec: TierModelSpec) -> None:
    *upper, _lowest = spec.tiers
    scores = [r.min_score for r in upper]
    if any(s is None or not 3 <= s <= 15 for s in scores):
        raise InvalidTierModel("every RFM tier but the lowest needs a minScore of 3-15",
                               field="tiers.minScore")
    if any(a <= b for a, b in zip(scores, scores[1:], strict=False)):
        raise OverlappingThresholds(f"RFM minScores must fall strictly from the top tier "
                                    f"down, got {scores}", field="tiers.minScore")


def _validate_kmeans(spec: TierModelSpec) -> None:
    if len(spec.features or DEFAULT_KMEANS_FEATURES) < 1:
        raise InvalidTierModel("k-means needs at least one feature", field="features")
