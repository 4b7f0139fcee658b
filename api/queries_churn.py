"""Predictive churn risk: the fitted model (an aggregate) and the at-risk list (members)."""

from __future__ import annotations

import strawberry

from api.relay import Connection, connection, decode_cursor
from api.types.churn import AtRiskMember, ChurnModel
from domain.access import Permission
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest

_KIND = "at_risk"


@strawberry.type
class ChurnQueries:
    @strawberry.field(description="The models of the latest scoreChurnRisk run (null before "
                                  "the first). Investors may read it.")
    async def churn_model(self, info: strawberry.Info) -> ChurnModel | None:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            model = await uow.churn_scores.latest_model()
        return ChurnModel.from_domain(model) if model else None

    @strawberry.field(description="Buyers by expected value lost over the model's horizon, "
                                  "largest first (then member id), as of the latest "
                                  "scoreChurnRisk run. 100 per page at most.")
    async def at_risk_members(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                              after: str | None = None) -> Connection[AtRiskMember]:
        context = info.context
        context.require(Permission.READ_MEMBERS)
        key = decode_cursor(after, _KIND, (int, int)) if after else None
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.churn_scores.page(PageRequest(first=first, after=key))

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.churn_scores.count()

        return connection([AtRiskMember.from_domain(s) for s in page.items],
                          [(s.value_lost_minor, s.member_id) for s in page.items],
                          kind=_KIND, has_next=page.has_next, after=after, count=count)
