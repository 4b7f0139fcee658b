"""Merging duplicate members (the same person seen on two channels), and undoing it.

A merge folds the merged member into the survivor in one transaction: identities and
events move, the merged member's open points move as ledger transfers keeping their
expiry (domain.points.transfers), and the badges it holds that the survivor lacks are
copied to the survivor. The merge records what moved; its undo gives back the
identities and events, what is left of the moved points (spent or expired points are
not given back, see domain.points.transfers), and removes exactly the copied awards
(awarding again, on its own evidence, those the survivor's own events earn by then).
"""

from __future__ import annotations

from datetime import datetime

from domain import badges, members
from domain.members import InvalidMerge, MemberNotFound, MemberStatus, Merge
from domain.points import merging


async def merge_members(*, uow, survivor_id: int, merged_id: int, actor: str, reason: str,
                        now: datetime) -> Merge:
    """Fold `merged_id` into `survivor_id`: identities, events, open points (merged
    balance to 0, survivor's up by as much) and missing badges follow; the merge is
    recorded with what moved. INVALID_MERGE for a member merged into itself,
    MEMBER_MERGED if either was merged already."""
    if survivor_id == merged_id:
        raise InvalidMerge(f"member {survivor_id} cannot be merged into itself",
                           field="mergedId")
    survivor = await members.active_member(uow, survivor_id, field="survivorId")
    merged = await members.active_member(uow, merged_id, field="mergedId")
    merge = await uow.members.merge(survivor=survivor, merged=merged, actor=actor,
                                    reason=reason.strip() or "unspecified", now=now)
    moved = await merging.move_to_survivor(uow=uow, merge_id=merge.id, merged_id=merged.id,
                                           survivor_id=survivor.id, actor=actor, now=now)
    badge_ids = await badges.copy_awards_for_merge(uow=uow, merge_id=merge.id,
                                                   merged_id=merged.id, survivor_id=survivor.id)
    await uow.members.record_followers(merge.id, points_moved=moved.points,
                                       added_badge_ids=badge_ids)
    await uow.audit.record(actor=actor, action="member.merge", subject=f"member:{survivor.id}",
                           detail={"mergedId": merged.id, "mergeId": merge.id,
                                   "pointsMoved": moved.points, "lotsMoved": moved.lots,
                                   "badgesAdded": badge_ids})
    await uow.commit()
    return await uow.members.get_merge(merge.id)


async def undo_merge(*, uow, merge_id: int, actor: str, now: datetime) -> Merge:
    """Give a merged member back its identities and events, the unspent remainder of
    the points the merge moved, and remove the badges the merge copied to the survivor
    (those the survivor's own events earn by now are awarded again, on its own evidence).

    The points given back are `pointsReturned`; `pointsMoved - pointsReturned` were
    spent or expired on the survivor's side and stay spent (the audit detail says so).
    INVALID_MERGE when undone already or when the survivor was merged again since (undo
    that later merge first)."""
    merge = await uow.members.get_merge(merge_id)
    if merge is None:
        raise MemberNotFound(f"merge {merge_id} does not exist", field="mergeId")
    if merge.undone_at is not None:
        raise InvalidMerge(f"merge {merge_id} was already undone", field="mergeId")
    survivor = await uow.members.get(merge.survivor_id)
    if survivor is None or survivor.status is not MemberStatus.ACTIVE:
        # Undo the later merge of the survivor first; otherwise identities would be split.
        raise InvalidMerge(
            f"member {merge.survivor_id} was merged again since; undo that merge first",
            field="mergeId",
        )
    await uow.members.undo_merge(merge, actor=actor, now=now)
    returned = await merging.give_back(uow=uow, merge_id=merge.id, merged_id=merge.merged_id,
                                       survivor_id=merge.survivor_id, actor=actor, now=now)
    removed, earned_again = await badges.remove_awards_of_merge(
        uow=uow, merge_id=merge.id, survivor_id=merge.survivor_id, as_of=now.date(), now=now)
    await uow.members.record_returned(merge.id, points_returned=returned.points)
    kept = None if merge.points_moved is None else merge.points_moved - returned.points
    await uow.audit.record(actor=actor, action="member.undo_merge",
                           subject=f"member:{merge.merged_id}",
                           detail={"mergeId": merge.id, "pointsMoved": merge.points_moved,
                                   "pointsReturned": returned.points,
                                   "pointsSpentOrExpiredMeanwhile": kept,
                                   "badgesRemoved": removed,
                                   "badgesEarnedAgain": earned_again})
    await uow.commit()
    return await uow.members.get_merge(merge.id)
