"""Placing members by k-means (`place_by_kmeans`): standardised features, a seeded
k-means++ fit on a sample, and clusters mapped to tiers by mean spend and active days.
"""

from __future__ import annotations

import numpy as np

from domain.tier_models.values import (
    DEFAULT_KMEANS_FEATURES,
    KMEANS_MAX_ITERATIONS,
    KMEANS_SAMPLE,
    MemberFeatures,
    TierModelSpec,
)


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
