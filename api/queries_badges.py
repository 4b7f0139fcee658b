"""Read side of badges: their definitions (aggregates only, fine for investors)."""

from __future__ import annotations

import strawberry

from api.types.badges import Badge
from domain.access import Permission


@strawberry.type
class BadgeQueries:
    @strawberry.field(description="All badges along the growth path, oldest first.")
    async def badges(self, info: strawberry.Info) -> list[Badge]:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            return [Badge.from_domain(b) for b in await uow.badges.list()]
