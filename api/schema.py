"""The schema: queries, mutations, and the limits every request runs under."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.errors import MaskUnexpectedErrors
from api.mutations.badges import BadgeMutations
from api.mutations.calibration import CalibrationMutations
from api.mutations.campaigns import CampaignMutations
from api.mutations.churn import ChurnMutations
from api.mutations.events import EventMutations
from api.mutations.experiments import ExperimentMutations
from api.mutations.kpi import KpiMutations
from api.mutations.lifecycle import LifecycleMutations
from api.mutations.members import MemberMutations
from api.mutations.points import PointsMutations
from api.mutations.referrals import ReferralMutations
from api.mutations.simulation_runs import SimulationMutations
from api.mutations.tier_models import TierModelMutations
from api.mutations.tiers import TierMutations
from api.queries import CommunityQueries
from api.queries_badges import BadgeQueries
from api.queries_churn import ChurnQueries
from api.queries_kpi import KpiQueries
from api.queries_lifecycle import LifecycleQueries
from api.queries_points import PointsQueries
from api.queries_referrals import ReferralQueries
from api.queries_simulation_runs import SimulationQueries, SimulationSubscriptions
from api.queries_tier_models import TierModelQueries
from api.text_input import guard_root_fields
from api.types.badges import Badge
from api.types.campaigns import Campaign
from api.types.events import Event
from api.types.members import Identity, Member, MemberMerge
from api.types.scalars import SCALARS
from api.types.simulation_runs import SimulationRun
from api.types.tier_models import TierModel
from api.types.tiers import Tier, TierAssignment

# Each area adds its query and mutation classes here, one per line.
Query = merge_types("Query", (
    CommunityQueries,
    BadgeQueries,
    PointsQueries,
    ReferralQueries,
    LifecycleQueries,
    ChurnQueries,
    TierModelQueries,
    KpiQueries,
    SimulationQueries,
))
Mutation = merge_types("Mutation", (
    MemberMutations,
    TierMutations,
    CampaignMutations,
    EventMutations,
    BadgeMutations,
    PointsMutations,
    ExperimentMutations,
    ReferralMutations,
    LifecycleMutations,
    ChurnMutations,
    TierModelMutations,
    KpiMutations,
    CalibrationMutations,
    SimulationMutations,
))
# Text with a NUL character is refused on every root field (PostgreSQL cannot store it).
guard_root_fields(Query, mutation=False)
guard_root_fields(Mutation, mutation=True)
Subscription = merge_types("Subscription", (
    SimulationSubscriptions,
))

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000


# The limit rules are built once: strawberry's QueryDepthLimiter/MaxAliasesLimiter make a new
# rule class per instance, which would defeat ValidationCache (measured: a full validation
# on every request, about a quarter of a members page's CPU).
_LIMIT_RULES = [
    query_depth_limiter.create_validator(MAX_DEPTH, should_ignore=None),
    max_aliases.create_validator(MAX_ALIASES),
]


class RequestLimits(AddValidationRules):
    """Depth and alias limits, with validation results still cached per query text."""

    def __init__(self) -> None:
        super().__init__(_LIMIT_RULES)


class TierwiseSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        # Expected errors are the client's business; bugs are logged (with the request
        # id) by MaskUnexpectedErrors. Logging every error here would bury them.
        return None


def build_schema() -> strawberry.Schema:
    return TierwiseSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        types=[Member, Identity, MemberMerge, Tier, TierAssignment, Campaign, Event,
               Badge, TierModel, SimulationRun],
        extensions=[
            MaskUnexpectedErrors,
            RequestLimits,
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            # Fresh instances per request; their LRU caches live at module level.
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


schema = build_schema()
