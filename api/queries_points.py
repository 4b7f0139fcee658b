"""Points read side: benefits and earn rules (member balances hang off Member.points)."""

from __future__ import annotations

import strawberry

from api.relay import Connection, connection, decode_cursor
from api.types.points import Benefit, EarnRules
from domain.access import Permission
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest


@strawberry.type
class PointsQueries:
    @strawberry.field(description="Benefits, newest first.")
    async def benefits(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                       after: str | None = None, active_only: bool = False
                       ) -> Connection[Benefit]:
        context = info.context
        context.require(Permission.READ_COMMUNITY)
        key = decode_cursor(after, "benefits", (int,)) if after else None
        request = PageRequest(first=first, after=key)
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.points.benefit_page(active_only=active_only, request=request)

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.points.benefit_count(active_only=active_only)

        return connection([Benefit.from_domain(b) for b in page.items],
                          [(b.id,) for b in page.items], kind="benefits",
                          has_next=page.has_next, after=after, count=count)

    @strawberry.field(description="The earn rules and tier multipliers.")
    async def earn_rules(self, info: strawberry.Info) -> EarnRules:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            return EarnRules.from_domain(await uow.points.earn_rules())
