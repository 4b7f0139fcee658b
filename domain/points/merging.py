"""Points that follow a member merge and its undo (rules in domain.points.transfers).

These run inside the merge's (or undo's) unit of work and do not commit. Each lot moves
as two ledger entries posted like any other (domain.points.ledger.post): the balances
move with them, the debit cannot overdraw, and the idempotency keys are derived from
the merge id and the lot, so running a step again for the same merge moves nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.points import ledger, transfers
from domain.points.rules import EntryKind


@dataclass(frozen=True, slots=True)
class Moved:
    """What a merge or an undo moved: points in total, in how many lots."""

    points: int
    lots: int


async def move_to_survivor(*, uow, merge_id: int, merged_id: int, survivor_id: int,
                           actor: str, now: datetime) -> Moved:
    """Move every open lot of `merged_id` to `survivor_id` (the merged balance ends at 0)."""
    await _lock(uow, merged_id, survivor_id)
    moves = transfers.open_lots(await uow.points.entries_of(merged_id))
    return await _transfer(
        uow, moves, giver=merged_id, receiver=survivor_id, actor=actor, now=now,
        key=lambda direction, lot: transfers.merge_key(merge_id, direction, lot),
        reason_out=f"merged into member {survivor_id} (merge {merge_id})",
        reason_in=f"from member {merged_id} (merge {merge_id})")


async def give_back(*, uow, merge_id: int, merged_id: int, survivor_id: int, actor: str,
                    now: datetime) -> Moved:
    """Give `merged_id` back the remainders of the lots merge `merge_id` moved to
    `survivor_id` (and of the lots continuing them), see transfers.lots_to_return."""
    await _lock(uow, merged_id, survivor_id)
    moved = set(await uow.points.lots_credited_by_key_prefix(
        survivor_id, transfers.merge_key(merge_id, "in", "")))
    frontier = set(moved)
    while frontier:  # follow the lots through later merges of the survivor and their undos
        frontier = await uow.points.lots_continuing(frontier) - moved
        moved |= frontier
    moves = transfers.lots_to_return(await uow.points.entries_of(survivor_id), moved)
    return await _transfer(
        uow, moves, giver=survivor_id, receiver=merged_id, actor=actor, now=now,
        key=lambda direction, lot: transfers.undo_key(merge_id, direction, lot),
        reason_out=f"merge {merge_id} undone: back to member {merged_id}",
        reason_in=f"merge {merge_id} undone: from member {survivor_id}")


async def _lock(uow, *member_ids: int) -> None:
    for member_id in sorted(member_ids):  # one order for every writer: no deadlock
        await uow.points.lock_balance(member_id)


async def _transfer(uow, moves: Sequence[transfers.LotMove], *, giver: int, receiver: int,
                    key, reason_out: str, reason_in: str, actor: str, now: datetime) -> Moved:
    points = lots = 0
    for move in moves:
        _, written = await ledger.post(uow, ledger.NewEntry(
            member_id=giver, kind=EntryKind.TRANSFER_OUT, amount=-move.amount,
            idempotency_key=key("out", move.lot_entry_id), reason=reason_out, actor=actor,
            occurred_at=now, lot_entry_id=move.lot_entry_id))
        if not written:
            continue  # moved already (a retried step): the credit was written with it
        await ledger.post(uow, ledger.NewEntry(
            member_id=receiver, kind=EntryKind.TRANSFER_IN, amount=move.amount,
            idempotency_key=key("in", move.lot_entry_id), reason=reason_in, actor=actor,
            occurred_at=move.earned_at, expires_at=move.expires_at,
            lot_entry_id=move.lot_entry_id))
        points += move.amount
        lots += 1
    return Moved(points=points, lots=lots)
