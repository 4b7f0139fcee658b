"""The schema: queries, mutations, and the limits every request runs under."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.errors import MaskUnexpectedErrors
from api.mutations.campaigns import CampaignMutations
from api.mutations.events import EventMutations
from api.mutations.members import MemberMutations
from api.mutations.tiers import TierMutations
from api.queries import Query
from api.types.campaigns import Campaign
from api.types.events import Event
from api.types.members import Identity, Member, MemberMerge
from api.types.scalars import SCALARS
from api.types.tiers import Tier, TierAssignment

Mutation = merge_types("Mutation", (MemberMutations, TierMutations, CampaignMutations,
                                    EventMutations))

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000


class TierwiseSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        # Expected errors are the client's business; bugs are logged (with the request
        # id) by MaskUnexpectedErrors. Logging every error here would bury them.
        return None


def build_schema() -> strawberry.Schema:
    return TierwiseSchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map=SCALARS),
        types=[Member, Identity, MemberMerge, Tier, TierAssignment, Campaign, Event],
        extensions=[
            MaskUnexpectedErrors,
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            # Fresh instances per request; their LRU caches live at module level.
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


schema = build_schema()
