"""Pure rules for points that follow a member merge, and come back on its undo.

A merge moves every *open lot* of the merged member to the survivor: what is left of
each credit after the FIFO replay (domain.points.rules), with the lot's own earn time
and expiry. It is written as ledger entries only: per lot a targeted `transfer_out`
debit on the giver and a `transfer_in` credit on the receiver whose `lot_entry_id`
names the lot it continues. Lots past their expiry whose `expire` entry is not written
yet move too (the balance still counts them); the next expiry run takes them from the
receiver, so nothing lives longer than it would have.

Undo gives back *what is left of what moved*: the lots the merge credited to the
survivor, and the lots that continue them since (the survivor was merged on and that
merge undone), each with its remainder after the survivor's FIFO replay. Points the
survivor spent from them (FIFO takes the oldest lots first, whoever brought them) or
that expired are not given back, and nothing is taken from the survivor's own lots.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.points.rules import Entry, replay


@dataclass(frozen=True, slots=True)
class LotMove:
    """`amount` points leaving lot `lot_entry_id`, keeping its earn time and expiry."""

    lot_entry_id: int
    amount: int
    earned_at: datetime
    expires_at: datetime | None


def open_lots(entries: Iterable[Entry]) -> list[LotMove]:
    """Each lot's unspent remainder after the FIFO replay, oldest first (earn time, id).

    They add up to the balance: the replay leaves a debt only once every lot is used
    up, and later credits pay it off before they open a lot. So moving them all leaves
    the giver at zero without overdrawing."""
    lots = sorted(replay(entries).lots.values(), key=lambda lot: (lot.earned_at, lot.entry_id))
    return [LotMove(lot_entry_id=lot.entry_id, amount=lot.remaining, earned_at=lot.earned_at,
                    expires_at=lot.expires_at) for lot in lots if lot.remaining > 0]


def lots_to_return(entries: Iterable[Entry], moved_lot_ids: Collection[int]) -> list[LotMove]:
    """The open lots (see open_lots) among `moved_lot_ids`: what an undo gives back."""
    return [move for move in open_lots(entries) if move.lot_entry_id in moved_lot_ids]


def merge_key(merge_id: int, direction: str, lot_entry_id: int | str) -> str:
    """Idempotency key of a merge's transfer of one lot (`direction`: out or in); with
    lot "" the prefix every such key of the merge starts with."""
    return f"merge:{merge_id}:{direction}:{lot_entry_id}"


def undo_key(merge_id: int, direction: str, lot_entry_id: int) -> str:
    """Idempotency key of an undo's transfer of one lot back (`direction`: out or in)."""
    return f"unmerge:{merge_id}:{direction}:{lot_entry_id}"
