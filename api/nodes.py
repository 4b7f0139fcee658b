"""`node(id)`: the types a global id can name, who may read each, and how it is fetched.

Types a loader serves go through it (a page of `node` calls costs one statement per
type); the rest read through a unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import strawberry

from api.relay import Node
from api.types.badges import Badge
from api.types.campaigns import Campaign
from api.types.events import Event
from api.types.members import Member, MemberMerge
from api.types.points import Benefit, PointsEntry
from api.types.referrals import Referral, ReferralCode
from api.types.simulation_runs import SimulationRun
from api.types.tier_models import TierModel
from api.types.tiers import Tier, TierAssignment
from domain.access import Permission
from domain.clock import utcnow

Fetch = Callable[[strawberry.Info, int], Awaitable[Node | None]]


@dataclass(frozen=True, slots=True)
class NodeType:
    permission: Permission
    fetch: Fetch


def _loaded(loader: str, convert) -> Fetch:
    async def fetch(info: strawberry.Info, pk: int) -> Node | None:
        found = await getattr(info.context.loaders, loader).load(pk)
        return convert(info, pk, found) if found else None
    return fetch


def _stored(read, convert) -> Fetch:
    async def fetch(info: strawberry.Info, pk: int) -> Node | None:
        async with info.context.db.unit_of_work(write=False) as uow:
            found = await read(uow, pk)
        return convert(info, pk, found) if found else None
    return fetch


NODE_TYPES: dict[str, NodeType] = {
    "Member": NodeType(Permission.READ_MEMBERS, _loaded(
        "member", lambda info, _, m: Member.from_domain(m, personal=info.context.personal))),
    "Event": NodeType(Permission.READ_MEMBERS, _stored(
        lambda uow, pk: uow.events.get(pk), lambda _, pk, e: Event.from_domain(pk, e))),
    "TierAssignment": NodeType(Permission.READ_MEMBERS, _stored(
        lambda uow, pk: uow.tiers.get_assignment(pk),
        lambda _, __, a: TierAssignment.from_domain(a))),
    "MemberMerge": NodeType(Permission.READ_MEMBERS, _stored(
        lambda uow, pk: uow.members.get_merge(pk), lambda _, __, m: MemberMerge.from_domain(m))),
    "PointsEntry": NodeType(Permission.READ_MEMBERS, _stored(
        lambda uow, pk: uow.points.get_entry(pk), lambda _, __, e: PointsEntry.from_domain(e))),
    "Referral": NodeType(Permission.READ_MEMBERS, _stored(
        lambda uow, pk: uow.referrals.get(pk), lambda _, __, r: Referral.from_domain(r))),
    "ReferralCode": NodeType(Permission.READ_MEMBERS, _stored(
        lambda uow, pk: uow.referrals.get_code(pk),
        lambda _, __, c: ReferralCode.from_domain(c, now=utcnow()))),
    "Tier": NodeType(Permission.READ_COMMUNITY, _loaded(
        "tier", lambda _, __, t: Tier.from_domain(t))),
    "Campaign": NodeType(Permission.READ_COMMUNITY, _loaded(
        "campaign", lambda _, __, c: Campaign.from_domain(c))),
    "Badge": NodeType(Permission.READ_COMMUNITY, _loaded(
        "badge", lambda _, __, b: Badge.from_domain(b))),
    "Benefit": NodeType(Permission.READ_COMMUNITY, _loaded(
        "benefit", lambda _, __, b: Benefit.from_domain(b))),
    "TierModel": NodeType(Permission.READ_COMMUNITY, _stored(
        lambda uow, pk: uow.tier_models.get(pk), lambda _, __, m: TierModel.from_domain(m))),
    "SimulationRun": NodeType(Permission.READ_COMMUNITY, _stored(
        lambda uow, pk: uow.simulation_runs.get(pk),
        lambda info, _, r: SimulationRun.from_domain(
            r, internal=info.context.principal.can(Permission.READ_MEMBERS)))),
}
