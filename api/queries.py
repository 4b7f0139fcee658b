"""Read side: thin resolvers over the store's read methods and the per-request loaders."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.nodes import NODE_TYPES
from api.relay import (
    Connection,
    Node,
    connection,
    decode_cursor,
    from_global_id,
    pk_of,
)
from api.types import enums
from api.types.campaigns import Campaign
from api.types.lifecycle import LifecycleStage
from api.types.members import Identity, Member
from api.types.tiers import Tier
from domain import members
from domain.access import Permission
from domain.campaigns import CampaignStatus
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest


@strawberry.type(description="Who is calling.")
class Viewer:
    role: enums.Role
    label: str
    can_read_personal_data: bool


@strawberry.input(description="All given conditions must hold.")
class MemberFilter:
    tier_ids: list[strawberry.ID] | None = None
    channels: list[enums.Channel] | None = None
    lifecycle_stages: list[LifecycleStage] | None = strawberry.field(
        default=None, description="Stored stages (as of the last lifecycle refresh).")
    joined_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    joined_to: datetime | None = strawberry.field(default=None, description="Exclusive.")
    search: str | None = strawberry.field(default=None,
                                          description="Part of the display name.")
    include_merged: bool = False


def _member_filter(flt: MemberFilter | None) -> members.MemberFilter:
    if flt is None:
        return members.MemberFilter()
    return members.MemberFilter(
        tier_ids=tuple(pk_of(t, "Tier", field="filter.tierIds") for t in flt.tier_ids or ()),
        channels=tuple(members.Channel(c.value) for c in flt.channels or ()),
        lifecycle_stages=tuple(s.value for s in flt.lifecycle_stages or ()),
        joined_from=flt.joined_from, joined_to=flt.joined_to,
        search=(flt.search or "").strip() or None, include_merged=flt.include_merged,
    )


def _selects(selections, name: str) -> bool:
    """Does the selection set ask for field `name` anywhere below (fragments included)?"""
    for selection in selections:
        if getattr(selection, "name", None) == name:
            return True
        if _selects(getattr(selection, "selections", ()) or (), name):
            return True
    return False


@strawberry.type
class CommunityQueries:
    @strawberry.field(description="The caller's role.")
    def viewer(self, info: strawberry.Info) -> Viewer:
        principal = info.context.principal
        return Viewer(role=enums.Role(principal.role.value), label=principal.label,
                      can_read_personal_data=info.context.personal)

    @strawberry.field(description="Any object by its global id; null when it does not exist.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global_id(id, expected=tuple(NODE_TYPES))
        node_type = NODE_TYPES[type_name]
        info.context.require(node_type.permission)
        return await node_type.fetch(info, pk)

    @strawberry.field(description="Members, filtered, in a stable order, 100 per page at most.")
    async def members(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                      after: str | None = None, filter: MemberFilter | None = None,
                      order_by: enums.MemberOrder = enums.MemberOrder.JOINED_AT_ASC
                      ) -> Connection[Member]:
        context = info.context
        context.require(Permission.READ_MEMBERS)
        order = members.MemberOrder(order_by.value)
        key = decode_cursor(after, order.value, (datetime, int)) if after else None
        request = PageRequest(first=first, after=key)
        flt = _member_filter(filter)
        with_tiers = _selects(info.selected_fields, "tier")
        async with context.db.unit_of_work(write=False) as uow:
            page, tiers = await uow.members.page(flt, order, request, with_tiers=with_tiers)
        if with_tiers:  # joined into the page's statement; rows resolve them without awaiting
            context.prefetched_tiers = {pk: Tier.from_domain(t) for pk, t in tiers.items()}
        personal = context.personal
        if personal and page.items and _selects(info.selected_fields, "identities"):
            member_ids = [m.id for m in page.items]
            found = await context.loaders.identities.load_many(member_ids)
            context.prefetched_identities = {
                pk: [Identity.from_domain(i) for i in ids]
                for pk, ids in zip(member_ids, found, strict=True)}
        nodes = [Member.from_domain(m, personal=personal) for m in page.items]
        keys = [(m.joined_at, m.id) for m in page.items]

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.members.count(flt)

        return connection(nodes, keys, kind=order.value, has_next=page.has_next, after=after,
                          count=count)

    @strawberry.field(description="All tiers, top rank first.")
    async def tiers(self, info: strawberry.Info) -> list[Tier]:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            return [Tier.from_domain(t) for t in await uow.tiers.list()]

    @strawberry.field(description="Campaigns, newest first.")
    async def campaigns(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                        after: str | None = None,
                        status: list[enums.CampaignStatus] | None = None
                        ) -> Connection[Campaign]:
        context = info.context
        context.require(Permission.READ_COMMUNITY)
        key = decode_cursor(after, "campaigns", (int,)) if after else None
        request = PageRequest(first=first, after=key)
        statuses = tuple(CampaignStatus(s.value) for s in status or ())
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.campaigns.page(statuses=statuses, request=request)

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.campaigns.count(statuses=statuses)

        return connection([Campaign.from_domain(c) for c in page.items],
                          [(c.id,) for c in page.items], kind="campaigns",
                          has_next=page.has_next, after=after, count=count)
