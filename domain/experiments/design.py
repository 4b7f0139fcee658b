"""An experiment's design: variants with weights and rewards, the holdout control share,
the conversion event and reward limits; checked and normalised, and what a reward costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from domain.campaigns import CampaignKind
from domain.events import EventType
from domain.experiments.errors import (
    DuplicateVariant,
    InvalidControlShare,
    InvalidExperiment,
    InvalidWeight,
    NoVariants,
)

CONTROL = "control"  # the holdout arm's name; no variant may use it
MAX_CONTROL_SHARE = 0.5
MAX_VARIANTS = 20
MAX_WEIGHT = 10_000
MAX_REWARD = 10**9

# What counts as a response when the experiment does not say (a configurable default).
DEFAULT_CONVERSION: dict[CampaignKind, EventType] = {
    CampaignKind.CHECK_IN_STREAK: EventType.CHECK_IN,
    CampaignKind.TOPIC: EventType.POST,
    CampaignKind.LIVE_SESSION: EventType.LIVE_JOIN,
    CampaignKind.COURSE: EventType.COURSE_COMPLETE,
    CampaignKind.MEETUP: EventType.MEETUP_ATTEND,
    CampaignKind.COUPON: EventType.PURCHASE,
    CampaignKind.REFERRAL: EventType.REFERRAL_INVITE,
    CampaignKind.WIN_BACK: EventType.LOGIN,
}


class RewardUnit(StrEnum):
    MINOR = "minor"  # money (coupon value, cash) in the campaign's currency, minor units
    POINTS = "points"  # points; each costs `point_value_minor` against the budget


@dataclass(frozen=True, slots=True)
class VariantSpec:
    key: str
    name: str
    weight: int  # relative share of the non-control members
    reward: int  # per rewarded response, in the experiment's reward unit
    message: str = ""


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    variants: tuple[VariantSpec, ...]
    control_share: float
    conversion_event: EventType | None  # None: DEFAULT_CONVERSION of the campaign's kind
    reward_unit: RewardUnit = RewardUnit.MINOR
    point_value_minor: int = 0  # budget cost of one point when reward_unit is POINTS
    per_member_limit: int = 1  # rewards per member per campaign
    global_limit: int | None = None  # rewards per campaign; None: only the budget caps


@dataclass(frozen=True, slots=True)
class Experiment:
    campaign_id: int
    spec: ExperimentSpec
    seed: int | None
    started_at: datetime | None
    configured_at: datetime

    def variant(self, key: str) -> VariantSpec | None:
        return next((v for v in self.spec.variants if v.key == key), None)


def _key(value: str, field: str) -> str:
    key = value.strip().lower()
    if not key or len(key) > 64 or not all(c.isalnum() or c in "-_" for c in key):
        raise InvalidExperiment(f"variant key {value!r} must be 1-64 letters, digits, - or _",
                                field=field)
    return key


def validate_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """Check an experiment design and normalise it (trimmed, lower-case keys).

    At least one variant (NO_VARIANTS), at most MAX_VARIANTS; keys unique and not
    "control" (DUPLICATE_VARIANT); weights integers in 1..MAX_WEIGHT (INVALID_WEIGHT);
    control share in [0, 0.5] (INVALID_CONTROL_SHARE); rewards, limits and the point
    value non-negative (INVALID_VALUE), the per-member limit at least 1.
    """
    if not spec.variants:
        raise NoVariants("an experiment needs at least one variant", field="variants")
    if len(spec.variants) > MAX_VARIANTS:
        raise InvalidExperiment(f"at most {MAX_VARIANTS} variants, got {len(spec.variants)}",
                                field="variants")
    if not (0 <= spec.control_share <= MAX_CONTROL_SHARE) or math.isnan(spec.control_share):
        raise InvalidControlShare(
            f"control share must be between 0 and {MAX_CONTROL_SHARE}, got {spec.control_share}",
            field="controlShare")
    variants, seen = [], set()
    for index, variant in enumerate(spec.variants):
        field = f"variants.{index}"
        key = _key(variant.key, f"{field}.key")
        if key == CONTROL or key in seen:
            raise DuplicateVariant(f"variant key {key!r} is used twice or names the control arm",
                                   field=f"{field}.key")
        seen.add(key)
        if not 1 <= variant.weight <= MAX_WEIGHT:
            raise InvalidWeight(f"weight must be between 1 and {MAX_WEIGHT}, got {variant.weight}",
                                field=f"{field}.weight")
        if not 0 <= variant.reward <= MAX_REWARD:
            raise InvalidExperiment(f"reward must be between 0 and {MAX_REWARD}, got "
                                    f"{variant.reward}", field=f"{field}.reward")
        name = variant.name.strip() or key
        if len(name) > 120 or len(variant.message) > 2000:
            raise InvalidExperiment("name is at most 120 characters, message 2000",
                                    field=f"{field}.name")
        variants.append(replace(variant, key=key, name=name))
    if spec.per_member_limit < 1:
        raise InvalidExperiment(f"per-member limit must be at least 1, got "
                                f"{spec.per_member_limit}", field="perMemberLimit")
    if spec.global_limit is not None and spec.global_limit < 0:
        raise InvalidExperiment(f"global limit must not be negative, got {spec.global_limit}",
                                field="globalLimit")
    if spec.point_value_minor < 0:
        raise InvalidExperiment(f"point value must not be negative, got "
                                f"{spec.point_value_minor}", field="pointValueMinor")
    return replace(spec, variants=tuple(variants))


def reward_cost_minor(spec: ExperimentSpec, variant: VariantSpec) -> int:
    """What one reward of `variant` costs against the campaign budget, in minor units."""
    if spec.reward_unit is RewardUnit.POINTS:
        return variant.reward * spec.point_value_minor
    return variant.reward
