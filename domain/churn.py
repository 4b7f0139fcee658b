"""Churn warnings (流失预警): rule-based inactivity levels with a suggested win-back action.

A member's *days inactive* on a UTC day `as_of` is `as_of - D`, where D is the last
UTC day on or before `as_of` with a login in the `member_days` rollup (DOMAIN.md:
"3 consecutive days without login"). Other activity does not count by default: a
member who only likes posts from a push notification has still not come back to
the app. `any_activity_counts=True` counts any event instead. A member who never
logged in counts from the UTC day they joined.

Warning levels (defaults): level 1 after 3 days inactive, level 2 after 7, level 3
after 14; a member gets the highest level whose threshold they reached (`days >=
threshold`), or no warning.

Each level suggests a win-back action, by the member's tier (key), falling back to
one ladder for members of other tiers or none. Defaults, from DOMAIN.md ("reach out
with a personalised push and dedicated service; win back with a coupon, priority
access and 1-on-1 contact"):

| tier            | level 1           | level 2         | level 3            |
|-----------------|-------------------|-----------------|--------------------|
| `core` (if any) | personalised push | priority access | 1-on-1 contact     |
| everyone else   | personalised push | coupon          | priority access    |

With more levels than a default ladder has, the ladder's last action repeats.

The types leave room for a predictive score: `ChurnRisk` is the rule-based part;
P(alive) and expected value lost from a BG/NBD model are meant to be added as
optional fields beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np

from domain import errors

MAX_LEVELS = 10


class WinBackAction(StrEnum):
    PERSONALISED_PUSH = "personalised_push"
    DEDICATED_SERVICE = "dedicated_service"
    COUPON = "coupon"
    PRIORITY_ACCESS = "priority_access"
    ONE_ON_ONE_CONTACT = "one_on_one_contact"


ACTIONS: tuple[WinBackAction, ...] = tuple(WinBackAction)
_ACTION_CODE = {action: code for code, action in enumerate(ACTIONS)}

DEFAULT_WARNING_AFTER_DAYS = (3, 7, 14)
DEFAULT_LADDER = (WinBackAction.PERSONALISED_PUSH, WinBackAction.COUPON,
                  WinBackAction.PRIORITY_ACCESS)
DEFAULT_TIER_LADDERS = {
    "core": (WinBackAction.PERSONALISED_PUSH, WinBackAction.PRIORITY_ACCESS,
             WinBackAction.ONE_ON_ONE_CONTACT),
}


class ChurnError(errors.DomainError):
    """Base of churn-warning failures."""


class LevelsNotIncreasing(ChurnError):
    """Warning thresholds must grow strictly from one level to the next."""

    code = "LEVELS_NOT_INCREASING"


class NonPositiveWarningDays(ChurnError):
    """A warning threshold of zero or fewer days."""

    code = "NON_POSITIVE_DAYS"


class UnknownTier(ChurnError):
    """The action map names a tier key that no tier has."""

    code = "UNKNOWN_TIER"


class ActionsDoNotMatchLevels(ChurnError):
    """An action ladder with a different number of actions than there are levels."""

    code = "ACTIONS_DO_NOT_MATCH_LEVELS"


class InvalidChurnPolicy(ChurnError, errors.InvalidValue):
    """No levels, too many levels, or a tier listed twice."""


@dataclass(frozen=True, slots=True)
class ChurnPolicy:
    """Warning thresholds (days inactive for level 1, 2, ...) and the win-back actions.

    `actions` is the ladder (one action per level) for members whose tier has no
    ladder in `tier_actions` (tier key -> ladder).
    """

    warning_after_days: tuple[int, ...] = DEFAULT_WARNING_AFTER_DAYS
    actions: tuple[WinBackAction, ...] = DEFAULT_LADDER
    tier_actions: Mapping[str, tuple[WinBackAction, ...]] = field(default_factory=dict)
    any_activity_counts: bool = False


def _ladder(default: tuple[WinBackAction, ...], levels: int) -> tuple[WinBackAction, ...]:
    return tuple(default[min(i, len(default) - 1)] for i in range(levels))


def default_policy(*, tier_keys: Iterable[str],
                   warning_after_days: tuple[int, ...] = DEFAULT_WARNING_AFTER_DAYS,
                   any_activity_counts: bool = False) -> ChurnPolicy:
    """The documented defaults, with tier ladders only for tiers that exist and ladders
    stretched or cut to the number of levels."""
    levels = len(warning_after_days)
    keys = set(tier_keys)
    return ChurnPolicy(
        warning_after_days=tuple(warning_after_days),
        actions=_ladder(DEFAULT_LADDER, levels),
        tier_actions={k: _ladder(v, levels) for k, v in DEFAULT_TIER_LADDERS.items()
                      if k in keys},
        any_activity_counts=any_activity_counts,
    )


def build_policy(*, tier_keys: Iterable[str], warning_after_days: tuple[int, ...],
                 any_activity_counts: bool = False,
                 actions: tuple[WinBackAction, ...] | None = None,
                 tier_actions: Mapping[str, tuple[WinBackAction, ...]] | None = None
                 ) -> ChurnPolicy:
    """A policy from what a caller gave: omitted ladders are the documented defaults (for
    as many levels as given); given ones are taken as they are and validated later."""
    base = default_policy(tier_keys=tier_keys, warning_after_days=warning_after_days,
                          any_activity_counts=any_activity_counts)
    return ChurnPolicy(
        warning_after_days=tuple(warning_after_days), any_activity_counts=any_activity_counts,
        actions=base.actions if actions is None else tuple(actions),
        tier_actions=base.tier_actions if tier_actions is None else dict(tier_actions),
    )


def validate_policy(policy: ChurnPolicy, *, tier_keys: Iterable[str]) -> ChurnPolicy:
    """Return `policy` if coherent with the tiers that exist; raise a coded error otherwise."""
    days = policy.warning_after_days
    if not 1 <= len(days) <= MAX_LEVELS:
        raise InvalidChurnPolicy(f"give 1 to {MAX_LEVELS} warning levels, got {len(days)}",
                                 field="churn.warningAfterDays")
    for index, value in enumerate(days):
        if value <= 0:
            raise NonPositiveWarningDays(
                f"level {index + 1} must start after at least 1 day, got {value}",
                field=f"churn.warningAfterDays.{index}")
        if index and value <= days[index - 1]:
            raise LevelsNotIncreasing(
                f"level {index + 1} starts after {value} days, not after level {index}'s "
                f"{days[index - 1]}", field=f"churn.warningAfterDays.{index}")
    known = set(tier_keys)
    # Fields name the input: churn.tierActions.<position>.tierKey / .actions (the
    # ladders keep the order they were given in).
    ladders = [(None, None, policy.actions),
               *((i, k, v) for i, (k, v) in enumerate(policy.tier_actions.items()))]
    for index, key, ladder in ladders:
        where = "churn" if key is None else f"churn.tierActions.{index}"
        if key is not None and key not in known:
            raise UnknownTier(f"no tier has key {key!r}", field=f"{where}.tierKey")
        if len(ladder) != len(days):
            raise ActionsDoNotMatchLevels(
                f"{len(ladder)} actions for {len(days)} levels"
                + (f" (tier {key!r})" if key else ""), field=f"{where}.actions")
    return policy


def warning_levels(days_inactive: np.ndarray, warning_after_days: tuple[int, ...]) -> np.ndarray:
    """The warning level of each member: how many thresholds their days inactive reached
    (0 = no warning). Negative days (unknown) give no warning."""
    thresholds = np.asarray(warning_after_days, dtype=np.int64)
    return np.searchsorted(thresholds, days_inactive, side="right").astype(np.int8)


def suggested_actions(levels: np.ndarray, tier_keys: np.ndarray,
                      policy: ChurnPolicy) -> np.ndarray:
    """Action codes (indexes into ACTIONS) per member: their tier's ladder (or the default
    ladder) at their level; -1 where the level is 0. `tier_keys` is an object array of
    tier keys (None: no tier)."""
    keys = [None, *policy.tier_actions]
    ladders = [policy.actions, *policy.tier_actions.values()]
    table = np.array([[_ACTION_CODE[a] for a in ladder] for ladder in ladders], dtype=np.int8)
    row_of = {key: row for row, key in enumerate(keys)}
    rows = np.fromiter((row_of.get(k, 0) for k in tier_keys), dtype=np.int64,
                       count=len(tier_keys))
    out = np.full(len(levels), -1, dtype=np.int8)
    warned = levels > 0
    out[warned] = table[rows[warned], levels[warned].astype(np.int64) - 1]
    return out


def days_inactive(summaries, policy: ChurnPolicy) -> np.ndarray:
    """Days since the last login (or any event, per policy) up to as_of; since joining
    for members who never did."""
    since = summaries.days_since_last if policy.any_activity_counts else summaries.days_since_login
    return np.where(since >= 0, since, summaries.days_since_joined)


@dataclass(frozen=True, slots=True)
class ChurnRisk:
    """A member's current inactivity warning (rule-based).

    Predictive fields (P(alive), expected transactions, expected value lost) are to be
    added beside these as optional fields when the BG/NBD model lands.
    """

    member_id: int
    level: int
    days_inactive: int
    suggested_action: WinBackAction
    as_of: date


async def write_signals(*, uow, summaries, as_of: date, policy: ChurnPolicy) -> int:
    """Replace the stored churn signals with those of `summaries` as of `as_of`; returns
    how many members are warned."""
    inactive = days_inactive(summaries, policy)
    levels = warning_levels(inactive, policy.warning_after_days)
    tiers = {t.id: t.key for t in await uow.tiers.list()}
    tier_keys = np.array([tiers.get(t) for t in summaries.tier_ids.tolist()], dtype=object)
    actions = suggested_actions(levels, tier_keys, policy)
    warned = levels > 0
    await uow.lifecycle.replace_churn_signals(
        member_ids=summaries.member_ids[warned], levels=levels[warned],
        days_inactive=inactive[warned], actions=actions[warned], as_of=as_of)
    return int(warned.sum())


async def refresh_churn_signals(*, uow, as_of: date, today: date, actor: str,
                                policy: ChurnPolicy | None = None) -> int:
    """Recompute every active member's inactivity warning as of `as_of` and replace the
    stored signals (idempotent for a day). None as policy: the documented defaults."""
    from domain import lifecycle  # lifecycle imports this module

    tier_keys = {t.key for t in await uow.tiers.list()}
    policy = validate_policy(policy or default_policy(tier_keys=tier_keys), tier_keys=tier_keys)
    lifecycle.check_as_of(as_of, today=today, last=None)
    defaults = lifecycle.DEFAULT_POLICY
    async with uow.lifecycle.refreshing():
        summaries = await uow.lifecycle.summaries(as_of=as_of,
                                                  activity_days=defaults.activity_window_days,
                                                  spend_days=defaults.spend_window_days)
        warned = await write_signals(uow=uow, summaries=summaries, as_of=as_of, policy=policy)
    await uow.audit.record(actor=actor, action="churn.refresh", subject="members",
                           detail={"asOf": as_of.isoformat(), "warnings": warned})
    await uow.commit()
    return warned
