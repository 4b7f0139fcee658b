"""Campaign experiments: variants and a holdout control, reproducible assignment, results
with uplift and its uncertainty, and rewards granted within limits and the budget.

The pure rules live here (validation, assignment, statistics, reward allocation); the use
cases that read and write the store are in `domain.experiment_runs`.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum

from domain import errors
from domain.campaigns import CampaignKind
from domain.events import EventType

CONTROL = "control"  # the holdout arm's name; no variant may use it
MAX_CONTROL_SHARE = 0.5
MAX_VARIANTS = 20
MAX_WEIGHT = 10_000
MAX_REWARD = 10**9
CONFIDENCE = 0.95
# scipy.stats.norm.ppf(0.975), written out: importing scipy costs the API a second at start,
# so it is imported only where a p-value is computed (a unit test checks the constant).
Z_95 = 1.959963984540054

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


class StopReason(StrEnum):
    BUDGET_EXHAUSTED = "budget_exhausted"
    GLOBAL_LIMIT_REACHED = "global_limit_reached"


# --- errors ---

class ExperimentError(errors.DomainError):
    """Base of experiment failures."""


class InvalidExperiment(ExperimentError, errors.InvalidValue):
    """An experiment field is empty, too long or out of range."""


class NoVariants(ExperimentError):
    """An experiment needs at least one variant besides the control."""

    code = "NO_VARIANTS"


class InvalidWeight(ExperimentError):
    """Variant weights are positive integers."""

    code = "INVALID_WEIGHT"


class InvalidControlShare(ExperimentError):
    """The holdout control share is between 0 and 0.5."""

    code = "INVALID_CONTROL_SHARE"


class DuplicateVariant(ExperimentError):
    """Two variants share a key, or a variant is named after the control arm."""

    code = "DUPLICATE_VARIANT"


class ExperimentStarted(ExperimentError):
    """Variants and settings are frozen once members have been assigned."""

    code = "EXPERIMENT_STARTED"


class ExperimentNotConfigured(ExperimentError):
    """The campaign has no experiment yet (configureExperiment first)."""

    code = "EXPERIMENT_NOT_CONFIGURED"


class ExperimentNotStarted(ExperimentError):
    """Rewards are granted only once members have been assigned (startExperiment)."""

    code = "EXPERIMENT_NOT_STARTED"


class NoTargets(ExperimentError):
    """The campaign targets no tier and no channel, or nobody is in its segment."""

    code = "NO_TARGETS"


class NoSchedule(ExperimentError):
    """Responses are counted in the campaign window: it needs startsAt and endsAt."""

    code = "NO_SCHEDULE"


class CampaignClosed(ExperimentError):
    """Ended and cancelled campaigns get no new experiment or assignment."""

    code = "CAMPAIGN_CLOSED"


# --- design ---

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


# --- assignment ---

def unit_draw(*, seed: int, campaign_id: int, member_id: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, campaign, member).

    The first 8 bytes of BLAKE2b over "seed:campaign:member", as an integer over 2**64:
    the same inputs always give the same number, on every machine and run.
    """
    digest = hashlib.blake2b(f"{seed}:{campaign_id}:{member_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2**64


def arm_for(draw: float, *, control_share: float, variants: Sequence[VariantSpec]) -> str:
    """The arm of a member whose draw is `draw`.

    [0, control_share) is the control; the rest of [0, 1) is cut into consecutive
    intervals proportional to the variants' weights, in their configured order.
    """
    return _arm_picker(control_share, variants)(draw)


def _arm_picker(control_share: float, variants: Sequence[VariantSpec]):
    keys = [v.key for v in variants]
    cumulative = list(itertools.accumulate(v.weight for v in variants))
    scale = cumulative[-1] / (1 - control_share)
    last = len(keys) - 1

    def pick(draw: float) -> str:
        if draw < control_share:
            return CONTROL
        # The first variant whose cumulative weight exceeds the position (min(): float
        # rounding at the very top of [0, 1) stays in the last variant).
        return keys[min(bisect.bisect_right(cumulative, (draw - control_share) * scale), last)]

    return pick


def assign_arms(member_ids: Iterable[int], *, seed: int, campaign_id: int,
                spec: ExperimentSpec) -> list[tuple[int, str]]:
    """(member id, arm) for every member: deterministic in (seed, campaign, member)
    (`unit_draw` mapped by `arm_for`)."""
    pick = _arm_picker(spec.control_share, spec.variants)
    blake2b = hashlib.blake2b
    return [(m, pick(int.from_bytes(blake2b(f"{seed}:{campaign_id}:{m}".encode(),
                                            digest_size=8).digest(), "big") / 2**64))
            for m in member_ids]


# --- the response window ---

@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in UTC; `days` is set when both ends are UTC midnights, so the
    member-day rollup answers exactly (end day exclusive)."""

    start: datetime
    end: datetime

    @property
    def days(self) -> tuple[date, date] | None:
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        if start.time() == time(0) and end.time() == time(0):
            return start.date(), end.date()
        return None


def response_window(*, starts_at: datetime, ends_at: datetime,
                    as_of: datetime | None = None) -> Window:
    """The campaign window [starts_at, ends_at), cut at `as_of` when that is earlier."""
    end = ends_at if as_of is None else max(starts_at, min(ends_at, as_of))
    return Window(start=starts_at, end=end)


# --- results ---

@dataclass(frozen=True, slots=True)
class ArmCounts:
    """What the store counts per arm over the response window."""

    arm: str
    n: int  # members assigned to the arm
    responders: int  # of them, members with at least one conversion event in the window
    revenue_minor: int  # purchase revenue of those responders in the window
    cost_minor: int  # rewards granted to the arm, budget cost


@dataclass(frozen=True, slots=True)
class ArmResult:
    arm: str
    n: int
    responders: int
    conversion_rate: float | None  # responders / n; None when n == 0
    uplift: float | None  # conversion rate minus the control's (absolute)
    relative_uplift: float | None  # uplift / control rate
    ci_low: float | None  # 95% Newcombe interval of the uplift
    ci_high: float | None
    p_value: float | None  # two-sided, two-proportion z-test against the control
    revenue_minor: int
    cost_minor: int
    roi: float | None


def wilson_interval(successes: int, n: int, *, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion successes / n (n > 0)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """95% interval of p1 - p2 by Newcombe's hybrid score method (1998, method 10).

    With Wilson intervals (l1, u1) of p1 and (l2, u2) of p2 and d = p1 - p2:
    low = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
    Chosen over the Wald interval because it stays inside [-1, 1] and keeps its
    coverage with few responders or rates near 0 (typical: 1-3% conversion).
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1)
    l2, u2 = wilson_interval(x2, n2)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of H0: p1 = p2 by the pooled two-proportion z-test.

    z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)) with p = (x1 + x2) / (n1 + n2);
    p-value = 2 P(Z > |z|). When nobody or everybody responded in both arms the
    difference is exactly 0 and the p-value is 1.
    """
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return 1.0
    from scipy import stats

    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return float(2 * stats.norm.sf(abs(z)))


def roi(*, arm: ArmCounts, control: ArmCounts | None) -> float | None:
    """Return on the rewards granted to an arm, or None when nothing was spent.

    ROI = (attributable revenue - cost) / cost, where cost is the budget cost of the
    rewards granted to the arm and attributable revenue is the purchase revenue of the
    arm's responders in the campaign window minus what the arm would have earned at the
    control's revenue per assigned member: R_arm - n_arm * R_control / n_control (all of
    R_arm when there is no control or the control is empty). Revenue in minor units.
    """
    if arm.cost_minor == 0:
        return None
    baseline = 0.0
    if control is not None and control.n > 0:
        baseline = arm.n * control.revenue_minor / control.n
    return (arm.revenue_minor - baseline - arm.cost_minor) / arm.cost_minor


def arm_result(arm: ArmCounts, control: ArmCounts | None) -> ArmResult:
    """One arm's conversion, and (for variants, with a non-empty control) its uplift over
    the control, the 95% Newcombe interval of that uplift and the z-test p-value."""
    rate = arm.responders / arm.n if arm.n else None
    uplift = relative = low = high = p_value = None
    if arm.arm != CONTROL and rate is not None and control is not None and control.n:
        control_rate = control.responders / control.n
        uplift = rate - control_rate
        relative = uplift / control_rate if control_rate else None
        low, high = newcombe_interval(arm.responders, arm.n, control.responders, control.n)
        p_value = two_proportion_p_value(arm.responders, arm.n, control.responders, control.n)
    return ArmResult(arm=arm.arm, n=arm.n, responders=arm.responders, conversion_rate=rate,
                     uplift=uplift, relative_uplift=relative, ci_low=low, ci_high=high,
                     p_value=p_value, revenue_minor=arm.revenue_minor,
                     cost_minor=arm.cost_minor,
                     roi=roi(arm=arm, control=control) if arm.arm != CONTROL else None)


def results(spec: ExperimentSpec, counts: Iterable[ArmCounts]) -> list[ArmResult]:
    """Results for every arm, variants in configured order then the control (arms with
    no assigned member appear with n = 0 when they are configured)."""
    found = {c.arm: c for c in counts}
    arms = [v.key for v in spec.variants] + ([CONTROL] if spec.control_share > 0
                                              or CONTROL in found else [])
    empty = {a: ArmCounts(arm=a, n=0, responders=0, revenue_minor=0, cost_minor=0) for a in arms}
    control = found.get(CONTROL)
    return [arm_result(found.get(a, empty[a]), control) for a in arms]


# --- rewards ---

@dataclass(frozen=True, slots=True)
class Response:
    """The `seq`-th conversion event of a member on a UTC day (the reward's identity)."""

    member_id: int
    arm: str
    day: date
    seq: int


@dataclass(frozen=True, slots=True)
class Grant:
    response: Response
    amount: int  # in the experiment's reward unit
    cost_minor: int


@dataclass(frozen=True, slots=True)
class Granted:
    """What earlier runs granted for the campaign."""

    keys: frozenset[tuple[int, date, int]] = frozenset()  # (member, day, seq)
    per_member: dict[int, int] | None = None
    count: int = 0
    cost_minor: int = 0


@dataclass(frozen=True, slots=True)
class Allocation:
    grants: tuple[Grant, ...]
    stopped_by: StopReason | None  # why granting stopped with responses still waiting


def expand_responses(rows: Iterable[tuple[int, str, date, int]], *,
                     per_member_limit: int) -> list[Response]:
    """Responses from (member, arm, day, conversions) rows, at most `per_member_limit` per
    member-day (more could never be rewarded), ordered by day, member, seq."""
    responses = [Response(member_id=m, arm=arm, day=day, seq=seq)
                 for m, arm, day, conversions in rows
                 for seq in range(1, min(conversions, per_member_limit) + 1)]
    responses.sort(key=lambda r: (r.day, r.member_id, r.seq))
    return responses


def allocate_rewards(responses: Sequence[Response], *, spec: ExperimentSpec,
                     budget_minor: int, granted: Granted) -> Allocation:
    """Which responses to reward now, first come first served (day, member, seq).

    Control responses and responses already rewarded are skipped. A member gets at most
    `per_member_limit` rewards in all; past that their responses are skipped. Granting
    stops at the first response that would take the campaign past `global_limit` rewards
    (GLOBAL_LIMIT_REACHED) or past its budget (BUDGET_EXHAUSTED): later responses wait,
    even cheaper ones, so the order of rewards stays the order of responses.
    """
    per_member = dict(granted.per_member or {})
    count, spent = granted.count, granted.cost_minor
    grants: list[Grant] = []
    variants = {v.key: v for v in spec.variants}
    for response in responses:
        variant = variants.get(response.arm)
        if variant is None or (response.member_id, response.day, response.seq) in granted.keys:
            continue
        if per_member.get(response.member_id, 0) >= spec.per_member_limit:
            continue
        if spec.global_limit is not None and count >= spec.global_limit:
            return Allocation(tuple(grants), StopReason.GLOBAL_LIMIT_REACHED)
        cost = reward_cost_minor(spec, variant)
        if spent + cost > budget_minor:
            return Allocation(tuple(grants), StopReason.BUDGET_EXHAUSTED)
        grants.append(Grant(response=response, amount=variant.reward, cost_minor=cost))
        per_member[response.member_id] = per_member.get(response.member_id, 0) + 1
        count += 1
        spent += cost
    return Allocation(tuple(grants), None)
