from __future__ import annotations

from datetime import date

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.types.lifecycle import StageCount, WinBackAction, stage_counts
from domain import churn, lifecycle
from domain.access import Permission
from domain.clock import utcnow

LifecycleErrorCode = error_codes(
    "LifecycleErrorCode", "NON_POSITIVE_DAYS", "INVALID_WINDOWS", "LEVELS_NOT_INCREASING",
    "UNKNOWN_TIER", "ACTIONS_DO_NOT_MATCH_LEVELS", "AS_OF_IN_FUTURE",
    "AS_OF_BEFORE_LAST_REFRESH", "AS_OF_TOO_EARLY")

_D = lifecycle.DEFAULT_POLICY


@strawberry.type
class LifecycleUserError(UserError):
    code: LifecycleErrorCode


@strawberry.input(description="Stage windows; every field defaults to the documented value.")
class LifecyclePolicyInput:
    new_within_days: int = _D.new_within_days
    activity_window_days: int = _D.activity_window_days
    active_min_days: int = _D.active_min_days
    spend_window_days: int = _D.spend_window_days
    high_value_spend_minor: int = _D.high_value_spend_minor
    high_value_top_share: float = _D.high_value_top_share
    dormant_after_days: int = _D.dormant_after_days
    churned_after_days: int = _D.churned_after_days


@strawberry.input(description="Win-back actions for members of one tier, one per level.")
class TierWinBackInput:
    tier_key: str
    actions: list[WinBackAction]


@strawberry.input(description="Inactivity warning levels and their win-back actions.")
class ChurnPolicyInput:
    warning_after_days: list[int] = strawberry.field(
        default_factory=lambda: list(churn.DEFAULT_WARNING_AFTER_DAYS),
        description="Days inactive at which level 1, 2, ... start; strictly increasing.")
    any_activity_counts: bool = strawberry.field(
        default=False, description="false: only logins end inactivity; true: any event.")
    actions: list[WinBackAction] | None = strawberry.field(
        default=None, description="One per level for members of other tiers or none; "
                                  "null: the default ladder.")
    tier_actions: list[TierWinBackInput] | None = strawberry.field(
        default=None, description="Per-tier ladders; null: the defaults (core tier).")


@strawberry.input
class RefreshLifecycleInput:
    as_of: date | None = strawberry.field(default=None, description="UTC day; default today.")
    policy: LifecyclePolicyInput | None = None
    churn: ChurnPolicyInput | None = None


@strawberry.type
class RefreshLifecyclePayload:
    as_of: date | None
    stages: list[StageCount] | None
    transitions: int | None = strawberry.field(description="Members whose stage changed.")
    warnings: int | None = strawberry.field(description="Members with a churn warning.")
    user_errors: list[LifecycleUserError]


def _policy(given: LifecyclePolicyInput | None) -> lifecycle.LifecyclePolicy:
    if given is None:
        return lifecycle.DEFAULT_POLICY
    return lifecycle.LifecyclePolicy(**{name: getattr(given, name) for name in (
        "new_within_days", "activity_window_days", "active_min_days", "spend_window_days",
        "high_value_spend_minor", "high_value_top_share", "dormant_after_days",
        "churned_after_days")})


def _action(a) -> churn.WinBackAction:
    return churn.WinBackAction(a.value)


def _churn_policy(given: ChurnPolicyInput | None, tier_keys: set[str]) -> churn.ChurnPolicy:
    given = given or ChurnPolicyInput()
    return churn.build_policy(
        tier_keys=tier_keys, warning_after_days=tuple(given.warning_after_days),
        any_activity_counts=given.any_activity_counts,
        actions=None if given.actions is None else tuple(_action(a) for a in given.actions),
        tier_actions=None if given.tier_actions is None else {
            t.tier_key: tuple(_action(a) for a in t.actions) for t in given.tier_actions})


@strawberry.type
class LifecycleMutations:
    @strawberry.mutation(description="Recompute every member's lifecycle stage and churn "
                                     "warning as of a UTC day; records stage transitions.")
    async def refresh_lifecycle(self, info: strawberry.Info,
                                input: RefreshLifecycleInput) -> RefreshLifecyclePayload:
        today = utcnow().date()

        async def use_case(uow):
            tier_keys = {t.key for t in await uow.tiers.list()}
            return await lifecycle.refresh_lifecycle(
                uow=uow, as_of=input.as_of or today, today=today, actor=info.context.actor,
                policy=_policy(input.policy),
                churn_policy=_churn_policy(input.churn, tier_keys))

        result, errors = await run(info, permission=Permission.WRITE_COMMUNITY,
                                   error_type=LifecycleUserError, codes=LifecycleErrorCode,
                                   use_case=use_case)
        if result is None:
            return RefreshLifecyclePayload(as_of=None, stages=None, transitions=None,
                                           warnings=None, user_errors=errors)
        return RefreshLifecyclePayload(as_of=result.as_of, stages=stage_counts(result.counts),
                                       transitions=result.transitions,
                                       warnings=result.warnings, user_errors=errors)
