"""Small scenario documents for simulation tests."""

from __future__ import annotations

import copy

import numpy as np

BASE = {
    "horizonDays": 30,
    "seed": 7,
    "replicates": 4,
    "market": {"size": 1000, "externalJoinRate": 0.01, "wordOfMouth": 0.1},
    "initial": {"members": 200, "payingShare": 0.1},
    "tiers": [
        {"key": "core", "share": 0.2, "activity": 0.5, "conversionHazard": 0.05,
         "churnHazard": 0.002, "inviteRate": 0.05, "revenuePerActiveDayMinor": 300,
         "touch": {"channel": "wechat", "everyDays": 7, "costMinor": 10, "lift": 1.2}},
        {"key": "basic", "share": 0.8, "activity": 0.2, "conversionHazard": 0.02,
         "churnHazard": 0.01, "inviteRate": 0.01, "revenuePerActiveDayMinor": 100},
    ],
    "referral": {"enabled": True, "rewardMinor": 500, "acceptanceRate": 0.5,
                 "responseCurve": {"maxUplift": 1.0, "halfSaturationMinor": 500}},
    "churn": {"enabled": True, "streakGrowth": 0.05,
              "winBack": [{"costMinor": 1, "effect": 0.1}, {"costMinor": 10, "effect": 0.2},
                          {"costMinor": 100, "effect": 0.3}]},
    "badges": {"enabled": True, "streakDays": 3, "activityLift": 1.3},
    "retiering": {"everyDays": 10},
    "campaigns": [{"name": "push", "startDay": 5, "endDay": 15, "tiers": ["basic"],
                   "conversionUplift": 1.0, "costMinor": 5000}],
    "budget": {"totalMinor": 1_000_000},
    "targets": [{"name": "half active", "metric": "activityRate", "goal": 0.5,
                 "deadlineDay": 20}],
}


def document(**overrides) -> dict:
    """BASE with top-level fields replaced."""
    doc = copy.deepcopy(BASE)
    doc.update(copy.deepcopy(overrides))
    return doc


class FakeRng:
    """A generator whose draws are their expectations (rounded), so processes can be
    checked by hand: random() is always 0.5 (a probability above 0.5 happens)."""

    def random(self, size=None, dtype=float):
        return np.full(size, 0.5, dtype=dtype)

    def binomial(self, n, p):
        return int(round(n * p))

    def poisson(self, lam):
        return np.rint(np.asarray(lam)).astype(np.int64)

    def multinomial(self, n, pvals):
        return np.rint(n * np.asarray(pvals)).astype(np.int64)

    def gamma(self, shape, scale, size=None):
        return np.ones(size)
