"""Preset scenarios from DOMAIN.md, as scenario documents (JSON-shaped dicts).

`three_tier`: seed 003's value x engagement community: core 15%, potential 35%, basic 50%,
each tier with its touch strategy; targets "core-community activity rate to 30% within 3
months" (the community's activity rate: members active in the last 30 days / members;
with quota re-tiering on activity the core tier itself is active by construction) and
"member conversion from 5% to 12% within 6 months" (paying share). Rates are daily
probabilities chosen to land in the seeds' ranges (direct conversion a few percent,
20% of members producing most interactions); calibrate from the database for real
numbers. The 10,000 starting members (2.5% payers) live 60 warm-up days under these
rules before day 1, so day 1 starts from the rules' own steady state: about 31% active
in 30 days and 5-6% payers. With these rates both targets are in doubt (roughly 10-20%
probability each), which is what a strategist would want to work on.
"""

from __future__ import annotations

import copy


def three_tier() -> dict:
    """The 15/35/50 community of 10,000 members and a 180-day horizon."""
    return copy.deepcopy(_THREE_TIER)


_THREE_TIER = {
    "name": "Three-tier community (core 15% / potential 35% / basic 50%)",
    "horizonDays": 180,
    "seed": 20260101,
    "replicates": 100,
    "market": {
        "size": 40_000, "externalJoinRate": 0.0001, "wordOfMouth": 0.003,
        "channels": [{"key": "douyin", "joinRate": 0.0001, "dailySpendMinor": 100_000,
                      "referenceSpendMinor": 100_000}],
    },
    "initial": {"members": 10_000, "payingShare": 0.025, "warmUpDays": 60},
    "propensityShape": 1.5,
    "tiers": [
        {"key": "core", "share": 0.15, "activity": 0.017, "conversionHazard": 0.06,
         "churnHazard": 0.0005, "inviteRate": 0.05, "revenuePerActiveDayMinor": 3_000,
         "touch": {"channel": "wechat", "everyDays": 7, "costMinor": 50, "lift": 1.5}},
        {"key": "potential", "share": 0.35, "activity": 0.0065, "conversionHazard": 0.045,
         "churnHazard": 0.001, "inviteRate": 0.03, "revenuePerActiveDayMinor": 1_500,
         "touch": {"channel": "app", "everyDays": 3, "costMinor": 10, "lift": 1.3}},
        {"key": "basic", "share": 0.5, "activity": 0.0033, "conversionHazard": 0.03,
         "churnHazard": 0.002, "inviteRate": 0.01, "revenuePerActiveDayMinor": 800,
         "touch": {"channel": "app", "everyDays": 14, "costMinor": 5, "lift": 1.2}},
    ],
    "referral": {"enabled": True, "rewardMinor": 1_000, "acceptanceRate": 0.25,
                 "responseCurve": {"maxUplift": 1.0, "halfSaturationMinor": 2_000},
                 "inviteeActivityFactor": 0.9},
    "churn": {"enabled": True, "streakGrowth": 0.01, "warningLevels": [3, 7, 14],
              "winBack": [{"costMinor": 5, "effect": 0.005}, {"costMinor": 200, "effect": 0.01},
                          {"costMinor": 1_000, "effect": 0.02}]},
    "badges": {"enabled": True, "streakDays": 7, "activityLift": 1.2},
    "retiering": {"everyDays": 30},
    "campaigns": [
        {"name": "check-in streak month", "startDay": 15, "endDay": 45,
         "tiers": ["potential", "basic"], "conversionUplift": 0.5, "costMinor": 2_000_000},
        {"name": "members' week", "startDay": 120, "endDay": 127, "tiers": ["core", "potential"],
         "conversionUplift": 1.0, "costMinor": 1_000_000},
    ],
    "budget": {"totalMinor": 60_000_000},
    "targets": [
        {"name": "core activity rate 30% within 3 months",
         "metric": "activityRate", "goal": 0.30, "deadlineDay": 90},
        {"name": "conversion 5% -> 12% within 6 months", "metric": "payingShare",
         "goal": 0.12, "deadlineDay": 180},
    ],
}

PRESETS = {"three-tier": three_tier}
