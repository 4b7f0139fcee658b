"""Lifecycle stages and churn risk as GraphQL types (separate from the domain's)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.types.enums import mirror
from domain import churn, lifecycle

LifecycleStage = mirror(lifecycle.LifecycleStage, "LifecycleStage",
                        "PROSPECT -> NEW -> ACTIVE -> HIGH_VALUE, plus DORMANT and CHURNED "
                        "(windows in the README, 'Lifecycle and churn warnings').")
WinBackAction = mirror(churn.WinBackAction, "WinBackAction",
                       "What an operator should do to win back an inactive member.")


@strawberry.type(description="A member's current inactivity warning (rule-based; predictive "
                             "fields such as P(alive) may be added beside these).")
class ChurnRisk:
    level: int = strawberry.field(description="1 (mild) up to the number of levels.")
    days_inactive: int = strawberry.field(
        description="Whole UTC days since the last login (or since joining) up to asOf.")
    suggested_action: WinBackAction
    as_of: date

    @classmethod
    def from_domain(cls, risk: churn.ChurnRisk) -> ChurnRisk:
        return cls(level=risk.level, days_inactive=risk.days_inactive,
                   suggested_action=WinBackAction(risk.suggested_action.value),
                   as_of=risk.as_of)


@strawberry.type(description="One change of a member's lifecycle stage.")
class LifecycleTransition:
    from_stage: LifecycleStage | None = strawberry.field(
        description="null for the member's first classification.")
    to_stage: LifecycleStage
    as_of: date

    @classmethod
    def from_domain(cls, t: lifecycle.Transition) -> LifecycleTransition:
        return cls(from_stage=LifecycleStage(t.from_stage.value) if t.from_stage else None,
                   to_stage=LifecycleStage(t.to_stage.value), as_of=t.as_of)


@strawberry.type(description="Members in one lifecycle stage.")
class StageCount:
    stage: LifecycleStage
    count: int


def stage_counts(counts: dict) -> list[StageCount]:
    """Every stage in lifecycle order, zeros included."""
    return [StageCount(stage=LifecycleStage(s.value), count=counts.get(s, 0))
            for s in lifecycle.STAGES]


@strawberry.type(description="Members per lifecycle stage (an aggregate: no member rows).")
class LifecycleCounts:
    as_of: date | None = strawberry.field(
        description="The day the counts are as of; null before the first refresh.")
    computed: bool = strawberry.field(
        description="true: computed for the asked day now (nothing stored); false: the "
                    "stored stages of the last refresh.")
    stages: list[StageCount]
    unclassified: int = strawberry.field(
        description="Active members without a stored stage (enrolled after the refresh).")
