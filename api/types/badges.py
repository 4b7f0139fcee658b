"""Badges, their rules and awards as GraphQL types (converted from the domain's)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.relay import Node, to_global_id
from api.types import enums
from api.types.enums import mirror
from api.types.scalars import MinorUnits
from domain import badge_rules, badges

GrowthStage = mirror(badges.GrowthStage, "GrowthStage",
                     "Growth path stage: EXPLORE, ACTIVE, CONTRIBUTE, LEAD.")
BadgeAggregation = mirror(
    badge_rules.Aggregation, "BadgeAggregation",
    "COUNT events, DISTINCT_DAYS with events, STREAK_DAYS (longest run of consecutive UTC "
    "days), SUM_AMOUNT of purchases.")
PropertyFilterOp = mirror(
    badge_rules.FilterOp, "PropertyFilterOp",
    "EQUALS a JSON scalar (true, a number, a string), AT_LEAST a number, PRESENT (not null).")


def _mirror(api_enum: type[Enum], value: Enum):
    return api_enum[value.name]


@strawberry.type(description="An event property condition.")
class PropertyFilter:
    property: str
    op: PropertyFilterOp
    value: JSON | None


@strawberry.type(description="What earns a badge: the aggregate of matching events per member "
                             "over the period must reach the goal.")
class BadgeRule:
    event_types: list[enums.EventType] = strawberry.field(
        description="Empty: events of any type.")
    aggregation: BadgeAggregation
    goal: int
    window_days: int | None = strawberry.field(
        description="The last N UTC days up to the evaluation day; null: all time.")
    min_amount_minor: MinorUnits | None = strawberry.field(
        description="Only purchases of at least this amount count.")
    filters: list[PropertyFilter] = strawberry.field(description="All must hold.")

    @classmethod
    def from_domain(cls, rule: badge_rules.Rule) -> BadgeRule:
        return cls(
            event_types=[_mirror(enums.EventType, t) for t in rule.event_types],
            aggregation=_mirror(BadgeAggregation, rule.aggregation), goal=rule.goal,
            window_days=rule.window_days, min_amount_minor=rule.min_amount_minor,
            filters=[PropertyFilter(property=f.property, op=_mirror(PropertyFilterOp, f.op),
                                    value=f.value) for f in rule.filters],
        )


@strawberry.type(description="Recognition along the growth path, earned by an achievement "
                             "rule, with a benefit.")
class Badge(Node):
    key: str
    name: str
    stage: GrowthStage
    description: str
    benefit: str
    rule: BadgeRule
    _pk: strawberry.Private[int]

    @strawberry.field(description="Members who hold this badge.")
    async def award_count(self, info: strawberry.Info) -> int:
        return await info.context.loaders.badge_award_count.load(self._pk)

    @classmethod
    def from_domain(cls, badge: badges.Badge) -> Badge:
        return cls(id=to_global_id("Badge", badge.id), _pk=badge.id, key=badge.key,
                   name=badge.name, stage=_mirror(GrowthStage, badge.stage),
                   description=badge.description, benefit=badge.benefit,
                   rule=BadgeRule.from_domain(badge.rule))


@strawberry.type(description="An event that counted towards an award.")
class BadgeEvidenceEvent:
    event_id: strawberry.ID = strawberry.field(description="The Event's global id.")
    external_id: str
    type: enums.EventType
    occurred_at: datetime


@strawberry.type(description="A badge a member earned, and why.")
class BadgeAward:
    awarded_at: datetime
    as_of: date = strawberry.field(description="The UTC day the rule was evaluated for.")
    value: float = strawberry.field(
        description="The aggregate the member reached (an integer; a Float so that sums of "
                    "amounts beyond 2^31 fit).")
    rule: BadgeRule = strawberry.field(description="The rule as it was when awarded.")
    evidence: list[BadgeEvidenceEvent] = strawberry.field(
        description=f"The earliest matching events (at most {badges.EVIDENCE_LIMIT}; "
                    "for a count goal, the goal's number; for a streak, in its run).")
    _badge_id: strawberry.Private[int]

    @strawberry.field
    async def badge(self, info: strawberry.Info) -> Badge:
        return Badge.from_domain(await info.context.loaders.badge.load(self._badge_id))

    @classmethod
    def from_domain(cls, award: badges.Award) -> BadgeAward:
        return cls(
            awarded_at=award.awarded_at, as_of=award.as_of, value=award.value,
            rule=BadgeRule.from_domain(award.rule), _badge_id=award.badge_id,
            evidence=[BadgeEvidenceEvent(event_id=to_global_id("Event", e.event_id),
                                         external_id=e.external_id,
                                         type=_mirror(enums.EventType, e.type),
                                         occurred_at=e.occurred_at) for e in award.evidence],
        )
