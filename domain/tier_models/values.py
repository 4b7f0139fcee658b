"""Tier model values: the defaults and feature sets per kind, the kinds, a model's
per-tier rules and spec (with its stored JSON form), a stored model, and the members'
features a model places them by (`MemberFeatures`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

DEFAULT_WINDOW_DAYS = 30
DEFAULT_GRACE_DAYS = 14
DEFAULT_QUOTA_FEATURES = ("spend_minor", "active_days")  # value x engagement
DEFAULT_KMEANS_FEATURES = ("spend_minor", "active_days", "posts", "comments", "check_ins",
                           "logins")
RFM_FEATURES = ("recency_days", "active_days", "spend_minor_lifetime")
KMEANS_SAMPLE = 100_000  # members the centroids are fitted on; all are then assigned
KMEANS_MAX_ITERATIONS = 100


class TierModelKind(StrEnum):
    THRESHOLDS = "thresholds"
    QUOTAS = "quotas"
    RFM = "rfm"
    KMEANS = "kmeans"



@dataclass(frozen=True, slots=True)
class TierRule:
    """One tier's part of a model: minimums (THRESHOLDS), percent (QUOTAS) or
    min_score (RFM, total of the three quintile scores, 3-15). KMEANS needs none."""

    tier_id: int
    minimums: tuple[tuple[str, float], ...] = ()
    percent: float | None = None
    min_score: int | None = None


@dataclass(frozen=True, slots=True)
class TierModelSpec:
    kind: TierModelKind
    tiers: tuple[TierRule, ...]
    features: tuple[str, ...] = ()  # QUOTAS score / KMEANS space; defaults per kind
    window_days: int = DEFAULT_WINDOW_DAYS
    grace_days: int = DEFAULT_GRACE_DAYS
    seed: int = 0

    def feature_names(self) -> tuple[str, ...]:
        """The features this model reads (what the store must compute)."""
        if self.kind is TierModelKind.THRESHOLDS:
            names = [f for rule in self.tiers for f, _ in rule.minimums]
        elif self.kind is TierModelKind.QUOTAS:
            names = list(self.features or DEFAULT_QUOTA_FEATURES)
        elif self.kind is TierModelKind.RFM:
            names = list(RFM_FEATURES)
        else:
            names = [*(self.features or DEFAULT_KMEANS_FEATURES), "spend_minor", "active_days"]
        return tuple(dict.fromkeys(names))

    def to_parameters(self) -> dict:
        """The JSON stored with a model version."""
        return {
            "tiers": [{"tier_id": r.tier_id, "minimums": [list(m) for m in r.minimums],
                       "percent": r.percent, "min_score": r.min_score} for r in self.tiers],
            "features": list(self.features), "window_days": self.window_days,
            "grace_days": self.grace_days, "seed": self.seed,
        }

    @classmethod
    def from_parameters(cls, kind: str, parameters: Mapping) -> TierModelSpec:
        rules = tuple(TierRule(tier_id=r["tier_id"],
                               minimums=tuple((f, float(v)) for f, v in r["minimums"]),
                               percent=r["percent"], min_score=r["min_score"])
                      for r in parameters["tiers"])
        return cls(kind=TierModelKind(kind), tiers=rules, features=tuple(parameters["features"]),
                   window_days=parameters["window_days"], grace_days=parameters["grace_days"],
                   seed=parameters["seed"])


@dataclass(frozen=True, slots=True)
class TierModel:
    """A stored, versioned tier model."""

    id: int
    version: int
    spec: TierModelSpec
    active: bool
    created_by: str
    created_at: object  # datetime (UTC)


@dataclass(frozen=True, slots=True)
class MemberFeatures:
    """Features of the active members: ids ascending, one array per feature, same order."""

    member_ids: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.member_ids)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]
