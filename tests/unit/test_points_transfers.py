"""Which points follow a member merge, and which come back on its undo (hand-computed)."""

from __future__ import annotations

from datetime import timedelta

from domain import badges
from domain.points import transfers
from domain.points.rules import EntryKind
from domain.points.transfers import LotMove
from tests.unit.test_points_rules import D0, entry


def test_after_spending_120_of_100_and_50_the_30_left_of_the_second_lot_moves_with_its_expiry():
    entries = [entry(1, 100, expires_day=10), entry(2, 50, expires_day=40),
               entry(3, -120, EntryKind.SPEND, day=1)]
    assert transfers.open_lots(entries) == [
        LotMove(lot_entry_id=2, amount=30, earned_at=D0, expires_at=D0 + timedelta(days=40))]


def test_every_open_lot_moves_oldest_first_and_they_add_up_to_the_balance():
    entries = [entry(1, 40, day=3, expires_day=400), entry(2, 25, day=1),  # never expires
               entry(3, 10, day=2, expires_day=9)]  # expired, not written off: still counted
    moves = transfers.open_lots(entries)
    assert [(m.lot_entry_id, m.amount) for m in moves] == [(2, 25), (3, 10), (1, 40)]
    assert moves[0].expires_at is None and moves[1].expires_at == D0 + timedelta(days=9)


def test_fully_spent_expired_and_reversed_lots_do_not_move():
    entries = [entry(1, 50, expires_day=10), entry(2, -50, EntryKind.EXPIRE, day=10, lot=1),
               entry(3, 20, day=11, expires_day=100),
               entry(4, -20, EntryKind.REVERSE, day=12, lot=3), entry(5, 5, day=13)]
    assert [(m.lot_entry_id, m.amount) for m in transfers.open_lots(entries)] == [(5, 5)]


def test_a_debt_left_by_out_of_order_writers_is_paid_before_anything_moves():
    # Spend 2 committed before the credit it relied on: 10 from lot 1 and a debt of 30,
    # which credit 3 pays first; only its other 30 points are an open lot.
    entries = [entry(1, 10, day=0), entry(2, -40, EntryKind.SPEND, day=1),
               entry(3, 60, day=2)]
    assert [(m.lot_entry_id, m.amount) for m in transfers.open_lots(entries)] == [(3, 30)]


def test_undo_gives_back_only_the_remainder_of_the_moved_lots_after_survivor_spends():
    # The survivor's own lot 1 (100, day 0) and the moved lot 2 (50, earned day 5): a
    # spend of 130 takes lot 1 first (FIFO), then 30 of the moved lot; 20 go back.
    entries = [entry(1, 100, day=0), entry(2, 50, EntryKind.TRANSFER_IN, day=5,
                                            expires_day=40, lot=77),
               entry(3, -130, EntryKind.SPEND, day=6)]
    assert transfers.lots_to_return(entries, {2}) == [
        LotMove(lot_entry_id=2, amount=20, earned_at=D0 + timedelta(days=5),
                expires_at=D0 + timedelta(days=40))]


def test_undo_takes_nothing_from_the_survivors_own_lots():
    # The moved lot (earned day 0) is older than the survivor's own, so spends hit it
    # first; once it is used up nothing more goes back, whatever the balance.
    entries = [entry(1, 30, EntryKind.TRANSFER_IN, day=0, lot=9), entry(2, 100, day=3),
               entry(3, -40, EntryKind.SPEND, day=4)]
    assert transfers.lots_to_return(entries, {1}) == []
    assert transfers.open_lots(entries)[0].amount == 90


def test_keys_name_the_merge_direction_and_lot():
    assert transfers.merge_key(7, "out", 12) == "merge:7:out:12"
    assert transfers.undo_key(7, "in", 12) == "unmerge:7:in:12"
    assert transfers.merge_key(7, "in", "") == "merge:7:in:"


def test_a_merge_copies_only_the_badges_the_survivor_lacks():
    def award(member_id, badge_id):
        return badges.Award(id=badge_id * 10 + member_id, member_id=member_id,
                            badge_id=badge_id, awarded_at=D0, as_of=D0.date(), value=1,
                            rule=None, evidence=())

    merged = [award(1, 3), award(1, 1), award(1, 2)]
    survivor = [award(2, 2), award(2, 5)]
    assert badges.badges_to_copy(merged, survivor) == [1, 3]
    assert badges.badges_to_copy([], survivor) == []
