"""Read-only SQL used outside the unit-of-work repositories (benchmark baselines)."""

from __future__ import annotations

from sqlalchemy import select

from domain.store.tables import members, tiers


async def member_rows_with_tier_names(uow, *, limit: int) -> list[tuple]:
    """(id, display_name, tier name) of the first `limit` active members in join order:
    the same rows as the GraphQL members page, in one joined query."""
    rows = await uow.connection.execute(
        select(members.c.id, members.c.display_name, tiers.c.name)
        .outerjoin(tiers, tiers.c.id == members.c.tier_id)
        .where(members.c.status == "active")
        .order_by(members.c.joined_at, members.c.id).limit(limit)
    )
    return [tuple(r) for r in rows]
