"""Tier models: how members are placed in tiers from their features (pure numpy rules).

A tier model is a kind (THRESHOLDS, QUOTAS, RFM, KMEANS) plus per-tier rules. `place`
takes the members' features and returns, for every member, the id of the tier the
model wants. Nothing here touches the database; `domain.retiering` turns the wanted
tiers into moves (manual protection, humane demotion) and writes them.

Features (`MemberFeatures`) are computed by the store from the `member_days` rollup:
spend_minor (window), spend_minor_lifetime, active_days, posts, comments, check_ins,
logins, purchases (purchase days), recency_days, tenure_days.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from domain import errors

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


class TierModelError(errors.DomainError):
    """Base of tier model failures."""


class TierModelNotFound(TierModelError, errors.NotFound):
    """No tier model has that id."""


class InvalidTierModel(TierModelError, errors.InvalidValue):
    """A parameter out of range (window, grace, percent, k...)."""


class UnknownFeature(TierModelError):
    """A feature name that is not in the feature catalogue."""

    code = "UNKNOWN_FEATURE"


class UnknownTier(TierModelError):
    """A rule names a tier that does not exist."""

    code = "UNKNOWN_TIER"


class DuplicateModelTier(TierModelError):
    """The same tier appears twice in one model."""

    code = "DUPLICATE_TIER"


class TooFewTiers(TierModelError):
    """A model needs at least two tiers to tell members apart."""

    code = "TOO_FEW_TIERS"


class NonMonotoneThresholds(TierModelError):
    """A higher tier asks less than a lower tier for some feature."""

    code = "NON_MONOTONE_THRESHOLDS"


class OverlappingThresholds(TierModelError):
    """A higher tier's rule admits everyone a lower tier's does, so the lower is unreachable."""

    code = "OVERLAPPING_THRESHOLDS"


class QuotasNot100(TierModelError):
    """Quota percentages that do not add up to 100."""

    code = "QUOTAS_NOT_100"


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


# --- validation ------------------------------------------------------------------------


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


# --- placement -------------------------------------------------------------------------


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


def standardise(columns: list[np.ndarray]) -> np.ndarray:
    """log1p of each (non-negative, heavy-tailed) feature, then z-scores; a constant
    feature becomes 0."""
    matrix = np.log1p(np.maximum(np.column_stack(columns).astype(np.float64), 0.0))
    std = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(std > 0, std, 1.0)


def kmeans(points: np.ndarray, k: int, *, seed: int) -> np.ndarray:
    """Centroids of a k-means (Lloyd) fit with k-means++ initialisation, seeded. Fitted on at
    most KMEANS_SAMPLE points drawn with the same seed."""
    rng = np.random.default_rng(seed)
    if len(points) > KMEANS_SAMPLE:
        points = points[np.sort(rng.choice(len(points), KMEANS_SAMPLE, replace=False))]
    centroids = [points[rng.integers(len(points))]]
    closest = ((points - centroids[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = closest.sum()
        pick = rng.choice(len(points), p=closest / total) if total > 0 else rng.integers(
            len(points))
        centroids.append(points[pick])
        closest = np.minimum(closest, ((points - points[pick]) ** 2).sum(axis=1))
    centres = np.array(centroids)
    for _ in range(KMEANS_MAX_ITERATIONS):
        labels = nearest(points, centres)
        moved = centres.copy()
        for c in range(k):
            members = labels == c
            if members.any():  # an empty cluster keeps its centre
                moved[c] = points[members].mean(axis=0)
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres


def nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each point (squared Euclidean distance)."""
    distances = ((points ** 2).sum(axis=1)[:, None] - 2 * points @ centres.T
                 + (centres ** 2).sum(axis=1)[None, :])
    return distances.argmin(axis=1)


def place_by_kmeans(spec: TierModelSpec, features: MemberFeatures) -> np.ndarray:
    """Cluster standardised features into k = number of tiers; order clusters by mean
    spend (window), then mean active days, descending, and map them to tiers top-first."""
    names = spec.features or DEFAULT_KMEANS_FEATURES
    points = standardise([features[n] for n in names])
    k = len(spec.tiers)
    labels = nearest(points, kmeans(points, k, seed=spec.seed))
    spend, days = features["spend_minor"], features["active_days"]
    means = [(spend[labels == c].mean() if (labels == c).any() else -np.inf,
              days[labels == c].mean() if (labels == c).any() else -np.inf, c) for c in range(k)]
    ordered = sorted(means, key=lambda m: (-m[0], -m[1], m[2]))
    position_of = np.empty(k, dtype=np.int64)
    for position, (_, _, cluster) in enumerate(ordered):
        position_of[cluster] = position
    return position_of[labels]
