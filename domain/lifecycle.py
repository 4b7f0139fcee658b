"""Lifecycle stages (生命周期): prospect -> new -> active -> high-value, plus dormant and churned.

A member's stage on a UTC day `as_of` is derived from their activity in the
`member_days` rollup up to and including that day (an *interaction* is any
recorded event; a login counts) and from their enrolment. The windows are a
`LifecyclePolicy`; its defaults are:

| stage       | rule (checked in this order, first match wins)                           |
|-------------|---------------------------------------------------------------------------|
| prospect    | enrolled, no interaction yet                                              |
| churned     | last interaction >= 90 days before as_of                                  |
| high_value  | active (below) and 90-day spend >= 500.00 (50,000 minor units) or in the  |
|             | top 15% of 90-day spend among members who spent anything in those 90 days |
| new         | first interaction within the last 30 days (as_of - 29 .. as_of)           |
| active      | interacted on >= 4 of the last 30 days (about once a week)                |
| dormant     | everything else: last interaction 30-89 days ago, or a fading member who   |
|             | interacted in the last 30 days on fewer than 4 days and is not new        |

"The last N days" always means the N UTC days ending with `as_of` (inclusive);
"days since" counts whole UTC days (`as_of - day`), so a member last seen the
day before `as_of` has 1 day since their last interaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import numpy as np

from domain import churn, errors


class LifecycleStage(StrEnum):
    PROSPECT = "prospect"
    NEW = "new"
    ACTIVE = "active"
    HIGH_VALUE = "high_value"
    DORMANT = "dormant"
    CHURNED = "churned"


# Stage codes in the numpy rule are indexes into this tuple; -1 is "not classified yet".
STAGES: tuple[LifecycleStage, ...] = tuple(LifecycleStage)
CODE = {stage: code for code, stage in enumerate(STAGES)}
UNCLASSIFIED = -1


class LifecycleError(errors.DomainError):
    """Base of lifecycle failures."""


class InvalidLifecyclePolicy(LifecycleError, errors.InvalidValue):
    """A policy value out of range (share outside 0..1, negative spend threshold)."""


class NonPositiveDays(LifecycleError):
    """A window or a warning threshold of zero or fewer days."""

    code = "NON_POSITIVE_DAYS"


class InvalidWindows(LifecycleError):
    """Windows that contradict each other (dormant not before churned, and so on)."""

    code = "INVALID_WINDOWS"


EARLIEST_AS_OF = date(1970, 1, 1)


class AsOfInFuture(LifecycleError):
    """Stages cannot be computed for a day after today (UTC)."""

    code = "AS_OF_IN_FUTURE"


class AsOfTooEarly(LifecycleError):
    """A day before EARLIEST_AS_OF: no community has activity then, and the windows
    counted back from it would fall off the calendar (before year 1)."""

    code = "AS_OF_TOO_EARLY"


class AsOfBeforeLastRefresh(LifecycleError):
    """A refresh older than the stored one would write transitions out of order."""

    code = "AS_OF_BEFORE_LAST_REFRESH"


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """The windows and thresholds of the stage rule (defaults in the module docstring)."""

    new_within_days: int = 30
    activity_window_days: int = 30
    active_min_days: int = 4
    spend_window_days: int = 90
    high_value_spend_minor: int = 50_000
    high_value_top_share: float = 0.15
    dormant_after_days: int = 30
    churned_after_days: int = 90


DEFAULT_POLICY = LifecyclePolicy()


def validate_policy(policy: LifecyclePolicy) -> LifecyclePolicy:
    """Return `policy` if it is coherent; raise a coded error naming the field otherwise."""
    for name in ("new_within_days", "activity_window_days", "active_min_days",
                 "spend_window_days", "dormant_after_days", "churned_after_days"):
        if getattr(policy, name) <= 0:
            raise NonPositiveDays(f"{name} must be at least 1 day, got {getattr(policy, name)}",
                                  field=f"policy.{_camel(name)}")
    if policy.active_min_days > policy.activity_window_days:
        raise InvalidWindows(f"active_min_days {policy.active_min_days} exceeds the "
                             f"{policy.activity_window_days}-day activity window",
                             field="policy.activeMinDays")
    if policy.dormant_after_days >= policy.churned_after_days:
        raise InvalidWindows(f"dormant after {policy.dormant_after_days} days must come before "
                             f"churned after {policy.churned_after_days}",
                             field="policy.dormantAfterDays")
    if policy.new_within_days > policy.dormant_after_days:
        raise InvalidWindows(f"new_within_days {policy.new_within_days} would keep silent "
                             f"members new past dormant_after_days {policy.dormant_after_days}",
                             field="policy.newWithinDays")
    if policy.high_value_spend_minor < 1:
        raise InvalidLifecyclePolicy("highValueSpendMinor must be at least 1, got "
                                     f"{policy.high_value_spend_minor}",
                                     field="policy.highValueSpendMinor")
    if not 0.0 <= policy.high_value_top_share <= 1.0:
        raise InvalidLifecyclePolicy("highValueTopShare must be between 0 and 1, got "
                                     f"{policy.high_value_top_share}",
                                     field="policy.highValueTopShare")
    return policy


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True)
class MemberSummaries:
    """Per-member activity up to `as_of`, as parallel numpy arrays (one entry per member).

    `-1` in a `days_since_*` array means "never" (no such day on or before as_of).
    `active_days` counts days with any event in the policy's activity window,
    `spend_minor` the revenue in its spend window.
    """

    member_ids: np.ndarray
    current_stage: np.ndarray  # stored stage code, UNCLASSIFIED when none
    tier_ids: np.ndarray  # -1: in no tier
    days_since_joined: np.ndarray
    days_since_first: np.ndarray
    days_since_last: np.ndarray
    days_since_login: np.ndarray
    active_days: np.ndarray
    spend_minor: np.ndarray

    def __len__(self) -> int:
        return len(self.member_ids)


def top_share_cutoff(spend: np.ndarray, share: float) -> float:
    """The smallest spend that is in the top `share` of the members with positive spend.

    k = floor(share x number of spenders) members are in the top; ties with the k-th
    largest spend are all included. No spenders or k = 0 gives +inf (nobody).
    """
    positive = spend[spend > 0]
    k = int(np.floor(share * len(positive) + 1e-9))
    if k == 0:
        return float("inf")
    return float(np.partition(positive, len(positive) - k)[len(positive) - k])


def classify(summaries: MemberSummaries, policy: LifecyclePolicy = DEFAULT_POLICY) -> np.ndarray:
    """Stage codes (indexes into STAGES) for every member, by the rule in the module docstring.

    `summaries.active_days` and `spend_minor` must have been counted over the policy's
    activity and spend windows.
    """
    last, first = summaries.days_since_last, summaries.days_since_first
    spend = summaries.spend_minor
    never = last < 0
    active = summaries.active_days >= policy.active_min_days
    cutoff = top_share_cutoff(spend, policy.high_value_top_share)
    big_spender = (spend > 0) & ((spend >= policy.high_value_spend_minor) | (spend >= cutoff))
    conditions = [
        never,
        last >= policy.churned_after_days,
        active & big_spender,
        first < policy.new_within_days,
        active,
    ]
    choices = [CODE[s] for s in (LifecycleStage.PROSPECT, LifecycleStage.CHURNED,
                                 LifecycleStage.HIGH_VALUE, LifecycleStage.NEW,
                                 LifecycleStage.ACTIVE)]
    return np.select(conditions, choices, default=CODE[LifecycleStage.DORMANT]).astype(np.int8)


def counts(codes: np.ndarray) -> dict[LifecycleStage, int]:
    """Members per stage (every stage present, zeros included)."""
    found = np.bincount(codes[codes >= 0].astype(np.int64), minlength=len(STAGES))
    return {stage: int(found[code]) for code, stage in enumerate(STAGES)}


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a member's stage, as of a day."""

    id: int
    member_id: int
    from_stage: LifecycleStage | None
    to_stage: LifecycleStage
    as_of: date
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What a refresh did: the day, members per stage, how many changed, warnings written."""

    as_of: date
    counts: dict[LifecycleStage, int]
    transitions: int
    warnings: int | None  # None when churn signals were not refreshed


def check_as_of(as_of: date, *, today: date, last: date | None) -> None:
    """A refresh day must not be in the future, before EARLIEST_AS_OF, nor before the
    stored refresh."""
    if as_of < EARLIEST_AS_OF:
        raise AsOfTooEarly(f"asOf {as_of} is before {EARLIEST_AS_OF}", field="asOf")
    if as_of > today:
        raise AsOfInFuture(f"asOf {as_of} is after today {today} (UTC)", field="asOf")
    if last is not None and as_of < last:
        raise AsOfBeforeLastRefresh(f"asOf {as_of} is before the last refresh as of {last}",
                                    field="asOf")


async def _summaries(uow, as_of: date, policy: LifecyclePolicy) -> MemberSummaries:
    return await uow.lifecycle.summaries(as_of=as_of, activity_days=policy.activity_window_days,
                                         spend_days=policy.spend_window_days)


async def preview_counts(*, uow, as_of: date, policy: LifecyclePolicy = DEFAULT_POLICY
                         ) -> dict[LifecycleStage, int]:
    """Members per stage as of `as_of`, computed now and written nowhere."""
    policy = validate_policy(policy)
    summaries = await _summaries(uow, as_of, policy)
    return counts(classify(summaries, policy))


async def refresh_lifecycle(*, uow, as_of: date, today: date, actor: str,
                            policy: LifecyclePolicy = DEFAULT_POLICY,
                            churn_policy: churn.ChurnPolicy | None = None) -> RefreshResult:
    """Recompute every active member's stage as of `as_of` and store it.

    Members enrolled after `as_of` are left alone. Transitions are recorded only
    where the stage changes, so refreshing the same day twice changes nothing.
    With `churn_policy`, the churn signals are refreshed in the same transaction
    from the same summaries. One commit at the end: all or nothing.
    """
    policy = validate_policy(policy)
    check_as_of(as_of, today=today, last=await uow.lifecycle.latest_as_of())
    if churn_policy is not None:
        churn_policy = churn.validate_policy(churn_policy,
                                             tier_keys={t.key for t in await uow.tiers.list()})
    async with uow.lifecycle.refreshing():
        summaries = await _summaries(uow, as_of, policy)
        codes = classify(summaries, policy)
        changed = codes != summaries.current_stage
        transitions = await uow.lifecycle.apply_stages(
            member_ids=summaries.member_ids[changed], stages=codes[changed], as_of=as_of)
        warnings = None
        if churn_policy is not None:
            warnings = await churn.write_signals(uow=uow, summaries=summaries, as_of=as_of,
                                                 policy=churn_policy)
    result = RefreshResult(as_of=as_of, counts=counts(codes), transitions=transitions,
                           warnings=warnings)
    await uow.audit.record(actor=actor, action="lifecycle.refresh", subject="members",
                           detail={"asOf": as_of.isoformat(), "transitions": transitions,
                                   "warnings": warnings})
    await uow.commit()
    return result
