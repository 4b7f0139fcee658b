"""Periodic re-tiering in the simulator: the value x engagement quota model (DOMAIN.md,
seed 003) over the features of the window since the last re-tiering.

Members are ranked by the product of the percentile ranks of spend and active days
(ties by join order); the top tier takes the first round(n x share1) members, the next
tier up to round(n x (share1 + share2)), and so on.

When the product's tier-model code (`domain.tier_models`) is present, its
`place_by_quotas` does the placement, so the simulator re-tiers exactly as the product
does; `_place_by_quotas` is the same rule kept until then.
"""

from __future__ import annotations

import numpy as np

try:  # the product's tier models (merged from the tier-models branch)
    from domain import tier_models
except ImportError:  # pragma: no cover - depends on what main holds
    tier_models = None


def quota_tiers(*, shares: list[float], spend_minor: np.ndarray, active_days: np.ndarray,
                order: np.ndarray) -> np.ndarray:
    """Tier index (0 = top) for each member. `order` is a unique, increasing key per
    member (join order) used to break ties."""
    if len(order) == 0:
        return np.zeros(0, dtype=np.int8)
    if tier_models is not None:
        spec = tier_models.TierModelSpec(
            kind=tier_models.TierModelKind.QUOTAS,
            tiers=tuple(tier_models.TierRule(tier_id=i, percent=100.0 * s)
                        for i, s in enumerate(shares)))
        features = tier_models.MemberFeatures(
            member_ids=order, values={"spend_minor": spend_minor, "active_days": active_days})
        return tier_models.place_by_quotas(spec, features).astype(np.int8)
    return _place_by_quotas(shares=shares, spend_minor=spend_minor, active_days=active_days,
                            order=order)


def _percentile_ranks(values: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    return np.searchsorted(ordered, values, side="right") / len(values)


def _place_by_quotas(*, shares: list[float], spend_minor: np.ndarray, active_days: np.ndarray,
                     order: np.ndarray) -> np.ndarray:
    score = _percentile_ranks(spend_minor) * _percentile_ranks(active_days)
    ranked = np.lexsort((order, -score))
    n = len(order)
    bounds = np.rint(np.cumsum(shares) * n).astype(np.int64)
    bounds[-1] = n
    result = np.empty(n, dtype=np.int8)
    result[ranked] = np.searchsorted(bounds, np.arange(n), side="right")
    return result
