"""Periodic re-tiering in the simulator: the value x engagement quota model (DOMAIN.md,
seed 003) over the features of the window since the last re-tiering.

Members are ranked by the product of the percentile ranks of spend and active days
(ties by join order); the top tier takes the first round(n x share1) members, the next
tier up to round(n x (share1 + share2)), and so on.

The placement is the product's own (`domain.tier_models.place_by_quotas`), so the
simulator re-tiers exactly as `applyTierModel` does with a QUOTAS model.
"""

from __future__ import annotations

import numpy as np

from domain import tier_models


def quota_tiers(*, shares: list[float], spend_minor: np.ndarray, active_days: np.ndarray,
                order: np.ndarray) -> np.ndarray:
    """Tier index (0 = top) for each member. `order` is a unique, increasing key per
    member (join order) used to break ties."""
    if len(order) == 0:
        return np.zeros(0, dtype=np.int8)
    spec = tier_models.TierModelSpec(
        kind=tier_models.TierModelKind.QUOTAS,
        tiers=tuple(tier_models.TierRule(tier_id=i, percent=100.0 * s)
                    for i, s in enumerate(shares)))
    features = tier_models.MemberFeatures(
        member_ids=order, values={"spend_minor": spend_minor, "active_days": active_days})
    return tier_models.place_by_quotas(spec, features).astype(np.int8)
