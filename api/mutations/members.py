from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types import enums
from api.types.members import Member, MemberMerge
from domain import members, merges
from domain.access import Permission
from domain.clock import utcnow

MemberErrorCode = error_codes("MemberErrorCode", "DUPLICATE_IDENTITY", "MEMBER_MERGED",
                              "INVALID_MERGE")


@strawberry.type
class MemberUserError(UserError):
    code: MemberErrorCode


@strawberry.input
class IdentityInput:
    channel: enums.Channel
    external_id: str


@strawberry.input
class CreateMemberInput:
    display_name: str
    channel: enums.Channel = strawberry.field(description="Acquisition channel.")
    joined_at: datetime | None = strawberry.field(default=None,
                                                  description="Defaults to now.")
    email: str | None = None
    phone: str | None = None
    age_band: str | None = None
    region: str | None = None
    occupation: str | None = None
    interests: list[str] = strawberry.field(default_factory=list)
    identities: list[IdentityInput] = strawberry.field(default_factory=list)


@strawberry.type
class CreateMemberPayload:
    member: Member | None
    user_errors: list[MemberUserError]


@strawberry.input
class AddMemberIdentityInput:
    member_id: strawberry.ID
    channel: enums.Channel
    external_id: str


@strawberry.type
class AddMemberIdentityPayload:
    member: Member | None
    user_errors: list[MemberUserError]


@strawberry.input
class MergeMembersInput:
    survivor_id: strawberry.ID = strawberry.field(description="The member that remains.")
    merged_id: strawberry.ID = strawberry.field(description="The member folded into it.")
    reason: str


@strawberry.input
class UndoMemberMergeInput:
    merge_id: strawberry.ID


@strawberry.type
class MemberMergePayload:
    merge: MemberMerge | None
    user_errors: list[MemberUserError]


def _key(identity) -> members.IdentityKey:
    return members.IdentityKey(channel=members.Channel(identity.channel.value),
                               external_id=identity.external_id)


def _member(info: strawberry.Info, member: members.Member | None) -> Member | None:
    return Member.from_domain(member, personal=info.context.personal) if member else None


@strawberry.type
class MemberMutations:
    @strawberry.mutation(description="Enroll a member with their channel identities.")
    async def create_member(self, info: strawberry.Info,
                            input: CreateMemberInput) -> CreateMemberPayload:
        profile = members.Profile(
            display_name=input.display_name, email=input.email, phone=input.phone,
            age_band=input.age_band, region=input.region, occupation=input.occupation,
            interests=tuple(input.interests),
        )
        member, errors = await run(
            info, permission=Permission.WRITE_COMMUNITY, error_type=MemberUserError,
            codes=MemberErrorCode,
            use_case=lambda uow: members.enroll_member(
                uow=uow, profile=profile, channel=members.Channel(input.channel.value),
                joined_at=input.joined_at or utcnow(),
                identities=tuple(_key(i) for i in input.identities), actor=info.context.actor,
            ),
        )
        return CreateMemberPayload(member=_member(info, member), user_errors=errors)

    @strawberry.mutation(description="Attach one more channel identity to a member.")
    async def add_member_identity(self, info: strawberry.Info,
                                  input: AddMemberIdentityInput) -> AddMemberIdentityPayload:
        async def use_case(uow):
            member_id = pk_of(input.member_id, "Member", field="memberId")
            await members.add_identity(uow=uow, member_id=member_id, key=_key(input),
                                       actor=info.context.actor)
            return await uow.members.get(member_id)

        member, errors = await run(info, permission=Permission.WRITE_COMMUNITY,
                                   error_type=MemberUserError, codes=MemberErrorCode,
                                   use_case=use_case)
        return AddMemberIdentityPayload(member=_member(info, member), user_errors=errors)

    @strawberry.mutation(description="Merge two members into one: identities, events, open "
                                     "points (with their expiry) and missing badges move to "
                                     "the survivor. Undo with undoMemberMerge.")
    async def merge_members(self, info: strawberry.Info,
                            input: MergeMembersInput) -> MemberMergePayload:
        async def use_case(uow):
            return await merges.merge_members(
                uow=uow, survivor_id=pk_of(input.survivor_id, "Member", field="survivorId"),
                merged_id=pk_of(input.merged_id, "Member", field="mergedId"),
                actor=info.context.actor, reason=input.reason, now=utcnow(),
            )

        merge, errors = await run(info, permission=Permission.WRITE_COMMUNITY,
                                  error_type=MemberUserError, codes=MemberErrorCode,
                                  use_case=use_case)
        return MemberMergePayload(merge=MemberMerge.from_domain(merge) if merge else None,
                                  user_errors=errors)

    @strawberry.mutation(description="Undo a merge: the merged member gets back its "
                                     "identities, events and what is left of the moved "
                                     "points; the badges the merge added are removed.")
    async def undo_member_merge(self, info: strawberry.Info,
                                input: UndoMemberMergeInput) -> MemberMergePayload:
        async def use_case(uow):
            return await merges.undo_merge(
                uow=uow, merge_id=pk_of(input.merge_id, "MemberMerge", field="mergeId"),
                actor=info.context.actor, now=utcnow(),
            )

        merge, errors = await run(info, permission=Permission.WRITE_COMMUNITY,
                                  error_type=MemberUserError, codes=MemberErrorCode,
                                  use_case=use_case)
        return MemberMergePayload(merge=MemberMerge.from_domain(merge) if merge else None,
                                  user_errors=errors)
