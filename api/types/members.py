from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.errors import ApiError
from api.relay import Node, to_global_id
from api.types import enums
from api.types.badges import Badge, BadgeAward
from api.types.events import Event
from api.types.lifecycle import ChurnRisk, LifecycleStage, LifecycleTransition
from api.types.points import PointsAccount
from api.types.tiers import Tier, TierAssignment
from domain import members
from domain.access import Forbidden

PERSONAL = "Personal data: needs the operator or admin role."


def _forbidden(field: str) -> Forbidden:
    return Forbidden(f"{field} is personal data; your role may not read it")


@strawberry.type(description="A channel account (WeChat, Douyin...) that belongs to a member.")
class Identity(Node):
    channel: enums.Channel
    external_id: str
    created_at: datetime

    @classmethod
    def from_domain(cls, identity: members.Identity) -> Identity:
        return cls(id=to_global_id("Identity", identity.id),
                   channel=enums.Channel(identity.channel.value),
                   external_id=identity.external_id, created_at=identity.created_at)


@strawberry.type(description="A person in the community, with identities merged into one.")
class Member(Node):
    age_band: str | None
    region: str | None
    occupation: str | None
    interests: list[str]
    channel: enums.Channel = strawberry.field(description="Acquisition channel.")
    joined_at: datetime
    first_seen_at: datetime
    status: enums.MemberStatus
    tier_source: enums.AssignmentSource | None = strawberry.field(
        description="Who placed the member in the current tier.")
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        description="Stage as of the last lifecycle refresh; null before the first.")
    lifecycle_as_of: date | None = strawberry.field(
        description="The UTC day lifecycleStage was computed as of.")
    _pk: strawberry.Private[int]
    _tier_id: strawberry.Private[int | None]
    _merged_into_id: strawberry.Private[int | None]
    _profile: strawberry.Private[members.Profile]
    _personal: strawberry.Private[bool]  # may the caller read personal data?

    @strawberry.field(description=PERSONAL)
    def display_name(self) -> str | None:
        if not self._personal:
            raise _forbidden("displayName")
        return self._profile.display_name

    @strawberry.field(description=PERSONAL)
    def email(self) -> str | None:
        if not self._personal:
            raise _forbidden("email")
        return self._profile.email

    @strawberry.field(description=PERSONAL)
    def phone(self) -> str | None:
        if not self._personal:
            raise _forbidden("phone")
        return self._profile.phone

    @strawberry.field(description=PERSONAL + " Channel accounts merged into this member.")
    def identities(self, info: strawberry.Info) -> list[Identity]:
        if not self._personal:
            raise _forbidden("identities")
        prefetched = info.context.prefetched_identities
        if prefetched is not None and self._pk in prefetched:
            return prefetched[self._pk]  # resolved synchronously: no await per row

        async def load() -> list[Identity]:
            found = await info.context.loaders.identities.load(self._pk)
            return [Identity.from_domain(i) for i in found]

        return load()

    @strawberry.field(description="The member's current tier.")
    def tier(self, info: strawberry.Info) -> Tier | None:
        # A plain function: returns the tier at once when the page prefetched it,
        # otherwise an awaitable from the per-request loader.
        if self._tier_id is None:
            return None
        return _tier_by_id(info, self._tier_id)

    @strawberry.field(description="Tier changes, newest first.")
    async def tier_history(self, info: strawberry.Info) -> list[TierAssignment]:
        found = await info.context.loaders.tier_history.load(self._pk)
        return [TierAssignment.from_domain(a) for a in found]

    @strawberry.field(description="The inactivity warning of the last refresh; null when "
                                  "the member is not warned.")
    async def churn_risk(self, info: strawberry.Info) -> ChurnRisk | None:
        found = await info.context.loaders.churn_risk.load(self._pk)
        return ChurnRisk.from_domain(found) if found else None

    @strawberry.field(description="Lifecycle stage changes, newest first.")
    async def lifecycle_history(self, info: strawberry.Info) -> list[LifecycleTransition]:
        found = await info.context.loaders.lifecycle_history.load(self._pk)
        return [LifecycleTransition.from_domain(t) for t in found]

    @strawberry.field(description="The member this one was merged into, if any.")
    async def merged_into(self, info: strawberry.Info) -> Member | None:
        if self._merged_into_id is None:
            return None
        found = await info.context.loaders.member.load(self._merged_into_id)
        return Member.from_domain(found, personal=self._personal) if found else None

    @strawberry.field(description="The member's newest events (at most 50).")
    async def recent_events(self, info: strawberry.Info, first: int = 10) -> list[Event]:
        if not 0 <= first <= 50:
            raise ApiError(f"first must be between 0 and 50, got {first}", field="first")
        found = await info.context.loaders.recent_events(first).load(self._pk)
        return [Event.from_domain(pk, e) for pk, e in found]

    @strawberry.field(description="Badges the member earned, oldest first, with the events "
                                  "that earned them.")
    async def badges(self, info: strawberry.Info) -> list[BadgeAward]:
        found = await info.context.loaders.member_badges.load(self._pk)
        return [BadgeAward.from_domain(a) for a in found]
    @strawberry.field(description="Points balance (batched per page) and ledger.")
    def points(self) -> PointsAccount:
        return PointsAccount(_member_id=self._pk)

    @classmethod
    def from_domain(cls, member: members.Member, *, personal: bool) -> Member:
        return cls(
            id=to_global_id("Member", member.id), _pk=member.id, _tier_id=member.tier_id,
            _merged_into_id=member.merged_into_id, _profile=member.profile,
            _personal=personal, age_band=member.profile.age_band,
            region=member.profile.region, occupation=member.profile.occupation,
            interests=list(member.profile.interests),
            channel=enums.Channel(member.channel.value), joined_at=member.joined_at,
            first_seen_at=member.first_seen_at, status=enums.MemberStatus(member.status.value),
            tier_source=enums.AssignmentSource(member.tier_source) if member.tier_source
            else None,
            lifecycle_stage=LifecycleStage(member.lifecycle_stage) if member.lifecycle_stage
            else None,
            lifecycle_as_of=member.lifecycle_as_of,
        )


def _tier_by_id(info: strawberry.Info, tier_id: int):
    tiers = info.context.prefetched_tiers
    if tiers is not None and tier_id in tiers:
        return tiers[tier_id]  # resolved synchronously: no await per row

    async def load() -> Tier | None:
        tier = await info.context.loaders.tier.load(tier_id)
        return Tier.from_domain(tier) if tier else None

    return load()


@strawberry.type(description="A recorded merge of one member into another; undoable.")
class MemberMerge(Node):
    reason: str
    actor: str
    merged_at: datetime
    undone_at: datetime | None
    points_moved: int | None = strawberry.field(description=(
        "The merged member's balance when merged (its lots' unspent remainders), moved to "
        "the survivor keeping each lot's expiry. Null on merges recorded before points "
        "followed merges."))
    points_returned: int | None = strawberry.field(description=(
        "After an undo: the points given back, i.e. what was left of the moved points on "
        "the survivor after its spends and expiries (FIFO, oldest lots first). "
        "pointsMoved - pointsReturned stayed spent. Null until undone."))
    _survivor_id: strawberry.Private[int]
    _merged_id: strawberry.Private[int]
    _added_badge_ids: strawberry.Private[tuple[int, ...]]

    @strawberry.field(description="Badges the merged member held and the survivor lacked, "
                                  "awarded to the survivor by this merge (with the original "
                                  "award time); an undo removes exactly these.")
    async def badges_added(self, info: strawberry.Info) -> list[Badge]:
        found = await info.context.loaders.badge.load_many(list(self._added_badge_ids))
        return [Badge.from_domain(badge) for badge in found if badge is not None]

    @strawberry.field
    async def survivor(self, info: strawberry.Info) -> Member | None:
        return await _member(info, self._survivor_id)

    @strawberry.field
    async def merged(self, info: strawberry.Info) -> Member | None:
        return await _member(info, self._merged_id)

    @classmethod
    def from_domain(cls, merge: members.Merge) -> MemberMerge:
        return cls(id=to_global_id("MemberMerge", merge.id), reason=merge.reason,
                   actor=merge.actor, merged_at=merge.merged_at, undone_at=merge.undone_at,
                   points_moved=merge.points_moved, points_returned=merge.points_returned,
                   _survivor_id=merge.survivor_id, _merged_id=merge.merged_id,
                   _added_badge_ids=merge.added_badge_ids)


async def _member(info: strawberry.Info, member_id: int) -> Member | None:
    found = await info.context.loaders.member.load(member_id)
    return Member.from_domain(found, personal=info.context.personal) if found else None


__all__ = ["Identity", "Member", "MemberMerge", "Tier"]
