"""Tier models: how members are placed in tiers from their features (pure numpy rules).

A tier model is a kind (THRESHOLDS, QUOTAS, RFM, KMEANS) plus per-tier rules. `place`
takes the members' features and returns, for every member, the id of the tier the
model wants. Nothing here touches the database; `domain.retiering` turns the wanted
tiers into moves (manual protection, humane demotion) and writes them.

Features (`MemberFeatures`) are computed by the store from the `member_days` rollup:
spend_minor (window), spend_minor_lifetime, active_days, posts, comments, check_ins,
logins, purchases (purchase days), recency_days, tenure_days.

The parts: `values` (kinds, defaults, the spec and features), `errors`, `validation`,
`placement` (`place`: thresholds, quotas, RFM) and `clustering` (k-means).
"""

from domain.tier_models.clustering import (
    kmeans,
    nearest,
    place_by_kmeans,
    standardise,
)
from domain.tier_models.errors import (
    DuplicateModelTier,
    InvalidTierModel,
    NonMonotoneThresholds,
    OverlappingThresholds,
    QuotasNot100,
    TierModelError,
    TierModelNotFound,
    TooFewTiers,
    UnknownFeature,
    UnknownTier,
)
from domain.tier_models.placement import (
    percentile_ranks,
    place,
    place_by_quotas,
    place_by_rfm,
    place_by_thresholds,
    quintile_scores,
    rfm_scores,
    value_engagement_score,
)
from domain.tier_models.validation import validate
from domain.tier_models.values import (
    DEFAULT_GRACE_DAYS,
    DEFAULT_KMEANS_FEATURES,
    DEFAULT_QUOTA_FEATURES,
    DEFAULT_WINDOW_DAYS,
    KMEANS_MAX_ITERATIONS,
    KMEANS_SAMPLE,
    RFM_FEATURES,
    MemberFeatures,
    TierModel,
    TierModelKind,
    TierModelSpec,
    TierRule,
)

__all__ = [
    "DEFAULT_GRACE_DAYS",
    "DEFAULT_KMEANS_FEATURES",
    "DEFAULT_QUOTA_FEATURES",
    "DEFAULT_WINDOW_DAYS",
    "DuplicateModelTier",
    "InvalidTierModel",
    "KMEANS_MAX_ITERATIONS",
    "KMEANS_SAMPLE",
    "MemberFeatures",
    "NonMonotoneThresholds",
    "OverlappingThresholds",
    "QuotasNot100",
    "RFM_FEATURES",
    "TierModel",
    "TierModelError",
    "TierModelKind",
    "TierModelNotFound",
    "TierModelSpec",
    "TierRule",
    "TooFewTiers",
    "UnknownFeature",
    "UnknownTier",
    "kmeans",
    "nearest",
    "percentile_ranks",
    "place",
    "place_by_kmeans",
    "place_by_quotas",
    "place_by_rfm",
    "place_by_thresholds",
    "quintile_scores",
    "rfm_scores",
    "standardise",
    "validate",
    "value_engagement_score",
]
