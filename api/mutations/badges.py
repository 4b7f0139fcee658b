from __future__ import annotations

from datetime import date

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types.badges import Badge, BadgeAggregation, GrowthStage, PropertyFilterOp
from api.types.scalars import MinorUnits
from domain import badge_rules, badges, errors
from domain.access import Permission
from domain.clock import utcnow

MAX_MEMBER_IDS = 1000

BadgeErrorCode = error_codes("BadgeErrorCode", "UNKNOWN_EVENT_TYPE", "NON_POSITIVE_GOAL",
                             "STREAK_WITH_AMOUNT", "UNKNOWN_BADGE", "DUPLICATE_BADGE")


@strawberry.type
class BadgeUserError(UserError):
    code: BadgeErrorCode


@strawberry.input(description="An event property condition, e.g. featured EQUALS true.")
class PropertyFilterInput:
    property: str
    op: PropertyFilterOp
    value: JSON | None = strawberry.field(default=None,
                                          description="Not given for PRESENT.")


@strawberry.input(description="What earns a badge.")
class BadgeRuleInput:
    aggregation: BadgeAggregation
    goal: int = strawberry.field(description="Positive.")
    event_types: list[str] = strawberry.field(
        default_factory=list,
        description="Event type names (e.g. check_in); empty: any type.")
    window_days: int | None = strawberry.field(
        default=None, description="The last N UTC days up to the evaluation day; null: all "
                                  "time.")
    min_amount_minor: MinorUnits | None = strawberry.field(
        default=None, description="Purchases only; not allowed for STREAK_DAYS.")
    filters: list[PropertyFilterInput] = strawberry.field(default_factory=list)


@strawberry.input
class CreateBadgeInput:
    key: str = strawberry.field(description="Stable machine name, e.g. `active-medal`.")
    name: str
    stage: GrowthStage
    rule: BadgeRuleInput
    description: str = ""
    benefit: str = strawberry.field(default="", description="What holders are entitled to.")


@strawberry.input
class UpdateBadgeRuleInput:
    id: strawberry.ID
    rule: BadgeRuleInput


@strawberry.type
class BadgePayload:
    badge: Badge | None
    user_errors: list[BadgeUserError]


@strawberry.type
class InstallDefaultBadgesPayload:
    badges: list[Badge]
    user_errors: list[BadgeUserError]


@strawberry.input
class AwardBadgesInput:
    as_of: date | None = strawberry.field(
        default=None, description="The UTC day to evaluate up to, inclusive (default: today).")
    member_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description=f"At most {MAX_MEMBER_IDS}; null: every active member.")


@strawberry.type(description="New awards of one badge in a run.")
class BadgeAwardCount:
    badge: Badge
    awarded: int


@strawberry.type
class AwardBadgesPayload:
    as_of: date | None
    awarded: int = strawberry.field(description="New awards in this run (0 when run again).")
    by_badge: list[BadgeAwardCount]
    user_errors: list[BadgeUserError]


def _rule(input: BadgeRuleInput) -> badge_rules.Rule:
    return badge_rules.Rule(
        aggregation=badge_rules.Aggregation(input.aggregation.value), goal=input.goal,
        event_types=badge_rules.parse_event_types(input.event_types),
        window_days=input.window_days, min_amount_minor=input.min_amount_minor,
        filters=tuple(badge_rules.PropertyFilter(property=f.property,
                                                 op=badge_rules.FilterOp(f.op.value),
                                                 value=f.value) for f in input.filters),
    )


def _run(info, use_case):
    return run(info, permission=Permission.WRITE_COMMUNITY, error_type=BadgeUserError,
               codes=BadgeErrorCode, use_case=use_case)


def _member_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    if ids is None:
        return None
    if len(ids) > MAX_MEMBER_IDS:
        raise errors.InvalidValue(f"at most {MAX_MEMBER_IDS} memberIds, got {len(ids)}",
                                  field="memberIds")
    return [pk_of(i, "Member", field="memberIds") for i in ids]


@strawberry.type
class BadgeMutations:
    @strawberry.mutation(description="Create a badge with its achievement rule.")
    async def create_badge(self, info: strawberry.Info, input: CreateBadgeInput) -> BadgePayload:
        badge, errs = await _run(info, lambda uow: badges.create_badge(
            uow=uow, actor=info.context.actor, spec=badges.BadgeSpec(
                key=input.key, name=input.name, stage=badges.GrowthStage(input.stage.value),
                rule=_rule(input.rule), description=input.description,
                benefit=input.benefit)))
        return BadgePayload(badge=Badge.from_domain(badge) if badge else None, user_errors=errs)

    @strawberry.mutation(description="Replace a badge's rule; existing awards keep theirs.")
    async def update_badge_rule(self, info: strawberry.Info,
                                input: UpdateBadgeRuleInput) -> BadgePayload:
        badge, errs = await _run(info, lambda uow: badges.update_badge_rule(
            uow=uow, badge_id=pk_of(input.id, "Badge", field="id"), rule=_rule(input.rule),
            actor=info.context.actor))
        return BadgePayload(badge=Badge.from_domain(badge) if badge else None, user_errors=errs)

    @strawberry.mutation(description="Create the four growth-path badges (newbie, active "
                                     "medal, creator, community partner) that are missing.")
    async def install_default_badges(self, info: strawberry.Info
                                     ) -> InstallDefaultBadgesPayload:
        found, errs = await _run(info, lambda uow: badges.install_default_badges(
            uow=uow, actor=info.context.actor))
        return InstallDefaultBadgesPayload(badges=[Badge.from_domain(b) for b in found or ()],
                                           user_errors=errs)

    @strawberry.mutation(description="Evaluate every badge rule and award members who reached "
                                     "a goal; idempotent.")
    async def award_badges(self, info: strawberry.Info,
                           input: AwardBadgesInput) -> AwardBadgesPayload:
        async def use_case(uow):
            result = await badges.award_badges(
                uow=uow, as_of=input.as_of or utcnow().date(),
                member_ids=_member_ids(input.member_ids), actor=info.context.actor,
                now=utcnow())
            return result, {b.key: b for b in await uow.badges.list()}

        outcome, errs = await _run(info, use_case)
        if outcome is None:
            return AwardBadgesPayload(as_of=None, awarded=0, by_badge=[], user_errors=errs)
        result, by_key = outcome
        return AwardBadgesPayload(
            as_of=result.as_of, awarded=result.awarded, user_errors=errs,
            by_badge=[BadgeAwardCount(badge=Badge.from_domain(by_key[key]), awarded=count)
                      for key, count in result.by_badge.items()])
