"""Tier model queries: saved versions, the feature catalogue, and the preview."""

from __future__ import annotations

import strawberry

from api.mutations import tier_models as tier_model_api
from api.mutations.tier_models import ApplyTierModelInput, PreviewTierModelPayload
from api.relay import Connection, connection, decode_cursor
from api.types.tier_models import MemberFeature, TierModel
from domain.access import Permission
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest


@strawberry.type
class TierModelQueries:
    @strawberry.field(description="Tier model versions, newest first.")
    async def tier_models(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                          after: str | None = None) -> Connection[TierModel]:
        context = info.context
        context.require(Permission.READ_COMMUNITY)
        key = decode_cursor(after, "tier_models", (int,)) if after else None
        request = PageRequest(first=first, after=key)
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.tier_models.page(request)

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.tier_models.count()

        return connection([TierModel.from_domain(m) for m in page.items],
                          [(m.version,) for m in page.items], kind="tier_models",
                          has_next=page.has_next, after=after, count=count)

    @strawberry.field(description="Features tier models can use.")
    async def member_features(self, info: strawberry.Info) -> list[MemberFeature]:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            return [MemberFeature(name=n, description=d) for n, d in uow.features.describe()]

    @strawberry.field(description="How many members a model would move from each tier to "
                                  "each other tier, without writing anything.")
    async def preview_tier_model(self, info: strawberry.Info,
                                 input: ApplyTierModelInput) -> PreviewTierModelPayload:
        return await tier_model_api.preview(info, input)
