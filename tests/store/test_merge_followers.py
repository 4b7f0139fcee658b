"""Points and badges follow a member merge and come back on its undo, in the real store."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain import badges, events, members
from domain.badge_rules import Rule
from domain.badges import BadgeSpec, GrowthStage
from domain.clock import utcnow
from domain.events import EventType
from domain.points import ledger, merging
from domain.points.rules import EntryKind
from domain.store.tables import audit_entries
from tests.factories import T0, make_member, merge_into, undo_merge

DAY = timedelta(days=1)


async def _earn(db, member_id, amount, *, key, at, days=None, kind=EntryKind.EARN):
    async with db.unit_of_work() as uow:
        return await ledger.award_points(uow=uow, member_id=member_id, amount=amount, kind=kind,
                                         reason="test", idempotency_key=key, actor="test",
                                         now=at, expiry_days=days)


async def _spend(db, member_id, amount, *, key, at):
    async with db.unit_of_work() as uow:
        return await ledger.spend_points(uow=uow, member_id=member_id, amount=amount,
                                         reason="test", idempotency_key=key, actor="test",
                                         now=at)




async def _balances(db, *member_ids):
    """Each member's balance, checked against the sum of their ledger."""
    async with db.unit_of_work(write=False) as uow:
        found = await uow.points.balances(member_ids)
        for member_id in member_ids:
            assert found.get(member_id, 0) == await uow.points.ledger_sum(member_id)
    return [found.get(m, 0) for m in member_ids]


async def _entries(db, member_id, kind):
    async with db.unit_of_work(write=False) as uow:
        return [e for e in await uow.points.entries_of(member_id) if e.kind is kind]


async def _expire(db, as_of):
    async with db.unit_of_work() as uow:
        return await ledger.expire_points(uow=uow, as_of=as_of, actor="test", now=utcnow())


async def _last_audit(db, action):
    async with db.unit_of_work(write=False) as uow:
        row = (await uow.connection.execute(
            select(audit_entries.c.detail).where(audit_entries.c.action == action)
            .order_by(audit_entries.c.id.desc()).limit(1))).first()
    return row.detail


async def _spent_120_of_150(db):
    """A member with lots of 100 (expires day 10) and 50 (day 40), 120 spent: 30 open."""
    member = await make_member(db)
    await _earn(db, member.id, 100, key=f"a100-{member.id}", at=T0, days=10)
    await _earn(db, member.id, 50, key=f"a50-{member.id}", at=T0, days=40)
    await _spend(db, member.id, 120, key=f"s120-{member.id}", at=T0 + DAY)
    return member


async def test_a_merge_moves_the_open_lot_with_its_expiry_and_it_expires_on_the_survivor(
        database):
    merged = await _spent_120_of_150(database)
    survivor = await make_member(database)
    await _earn(database, survivor.id, 10, key="own", at=T0, kind=EntryKind.ADJUST)

    merge = await merge_into(database, survivor.id, merged.id)

    assert merge.points_moved == 30
    assert await _balances(database, merged.id, survivor.id) == [0, 40]
    [moved] = await _entries(database, survivor.id, EntryKind.TRANSFER_IN)
    assert (moved.amount, moved.occurred_at, moved.expires_at) == (30, T0, T0 + 40 * DAY)
    assert [e.amount for e in await _entries(database, merged.id, EntryKind.TRANSFER_OUT)] == [-30]
    assert (await _last_audit(database, "member.merge"))["pointsMoved"] == 30

    assert (await _expire(database, T0 + 40 * DAY - timedelta(seconds=1))).points == 0
    assert (await _expire(database, T0 + 40 * DAY)).points == 30
    assert await _balances(database, merged.id, survivor.id) == [0, 10]


async def test_undo_gives_back_the_unspent_moved_points_with_their_expiry(database):
    merged = await _spent_120_of_150(database)
    survivor = await make_member(database)
    merge = await merge_into(database, survivor.id, merged.id)

    undone = await undo_merge(database, merge.id)

    assert undone.points_returned == 30
    assert await _balances(database, merged.id, survivor.id) == [30, 0]
    back = await _entries(database, merged.id, EntryKind.TRANSFER_IN)
    assert [(e.amount, e.expires_at) for e in back] == [(30, T0 + 40 * DAY)]
    # Restored, the member can spend them again.
    await _spend(database, merged.id, 30, key="after-undo", at=T0 + 2 * DAY)
    assert await _balances(database, merged.id) == [0]


async def test_undo_after_the_survivor_spent_part_gives_back_only_the_remainder(database):
    merged = await _spent_120_of_150(database)  # 30 open, earned at T0
    survivor = await make_member(database)
    await _earn(database, survivor.id, 100, key="older", at=T0 - 5 * DAY, days=365)
    merge = await merge_into(database, survivor.id, merged.id)
    # FIFO on the survivor: its own lot (earned 5 days earlier) first, then 10 moved points.
    await _spend(database, survivor.id, 110, key="big-spend", at=T0 + 2 * DAY)

    undone = await undo_merge(database, merge.id)

    assert (undone.points_moved, undone.points_returned) == (30, 20)
    assert await _balances(database, merged.id, survivor.id) == [20, 0]
    detail = await _last_audit(database, "member.undo_merge")
    assert (detail["pointsReturned"], detail["pointsSpentOrExpiredMeanwhile"]) == (20, 10)


async def test_undo_after_the_survivor_spent_everything_gives_back_nothing_and_never_overdraws(
        database):
    merged = await _spent_120_of_150(database)
    survivor = await make_member(database)
    merge = await merge_into(database, survivor.id, merged.id)
    await _spend(database, survivor.id, 30, key="all", at=T0 + 2 * DAY)
    await _earn(database, survivor.id, 50, key="fresh", at=T0 + 3 * DAY, days=365)

    undone = await undo_merge(database, merge.id)

    assert undone.points_returned == 0
    assert await _balances(database, merged.id, survivor.id) == [0, 50]


async def test_retried_merge_and_undo_count_once(database):
    merged = await _spent_120_of_150(database)
    survivor = await make_member(database)
    merge = await merge_into(database, survivor.id, merged.id)
    with pytest.raises(members.MemberAlreadyMerged):
        await merge_into(database, survivor.id, merged.id)
    async with database.unit_of_work() as uow:  # the transfer step itself run again
        again = await merging.move_to_survivor(uow=uow, merge_id=merge.id, merged_id=merged.id,
                                               survivor_id=survivor.id, actor="t", now=utcnow())
        await uow.commit()
    assert again.points == 0
    assert await _balances(database, merged.id, survivor.id) == [0, 30]

    await undo_merge(database, merge.id)
    with pytest.raises(members.InvalidMerge, match="already undone"):
        await undo_merge(database, merge.id)
    async with database.unit_of_work() as uow:
        again = await merging.give_back(uow=uow, merge_id=merge.id, merged_id=merged.id,
                                        survivor_id=survivor.id, actor="t", now=utcnow())
        await uow.commit()
    assert again.points == 0
    assert await _balances(database, merged.id, survivor.id) == [30, 0]


async def test_transfers_cannot_be_reversed_by_hand(database):
    merged = await _spent_120_of_150(database)
    survivor = await make_member(database)
    await merge_into(database, survivor.id, merged.id)
    [moved] = await _entries(database, survivor.id, EntryKind.TRANSFER_IN)
    async with database.unit_of_work() as uow:
        with pytest.raises(ledger.rules.NotReversible):
            await ledger.reverse_entry(uow=uow, entry_id=moved.id, reason="no", actor="t",
                                       now=utcnow())


# ------------------------------------------------------------------------- badges


async def _badge(db, key, event_type):
    async with db.unit_of_work() as uow:
        return await badges.create_badge(uow=uow, actor="test", spec=BadgeSpec(
            key=key, name=key, stage=GrowthStage.EXPLORE,
            rule=Rule(aggregation=badges.Aggregation.COUNT, goal=1,
                      event_types=(EventType(event_type),))))


async def _act(db, member_id, event_type, n):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, now=utcnow(), raws=[events.EventInput(
            external_id=f"{event_type}-{member_id}-{n}", type=event_type,
            occurred_at=T0 + n * timedelta(hours=1), member_id=member_id)])


async def _award(db):
    async with db.unit_of_work() as uow:
        await badges.award_badges(uow=uow, as_of=(T0 + 30 * DAY).date(), actor="test",
                                  now=utcnow())


async def _held(db, member_id):
    async with db.unit_of_work(write=False) as uow:
        found = (await uow.badges.awards_of([member_id])).get(member_id, [])
    return {a.badge_id: a for a in found}


async def test_a_merge_copies_the_badges_the_survivor_lacks_and_undo_removes_only_those(
        database):
    login, post = await _badge(database, "logged-in", "login"), await _badge(database, "poster",
                                                                               "post")
    merged, survivor = await make_member(database), await make_member(database)
    await _act(database, merged.id, "login", 1)
    await _act(database, merged.id, "post", 2)
    await _act(database, survivor.id, "login", 3)
    await _award(database)
    before = await _held(database, merged.id)
    own_login = (await _held(database, survivor.id))[login.id]

    merge = await merge_into(database, survivor.id, merged.id)

    assert merge.added_badge_ids == (post.id,)
    held = await _held(database, survivor.id)
    assert set(held) == {login.id, post.id}
    assert held[login.id] == own_login  # the survivor's own award is untouched
    copied = held[post.id]
    assert (copied.awarded_at, copied.value, copied.via_merge_id) == (
        before[post.id].awarded_at, before[post.id].value, merge.id)
    assert (await _last_audit(database, "member.merge"))["badgesAdded"] == [post.id]

    await undo_merge(database, merge.id)

    assert set(await _held(database, survivor.id)) == {login.id}
    assert set(await _held(database, merged.id)) == {login.id, post.id}
    detail = await _last_audit(database, "member.undo_merge")
    assert (detail["badgesRemoved"], detail["badgesEarnedAgain"]) == ([post.id], [])


async def test_undo_keeps_a_copied_badge_the_survivors_own_events_have_earned_since(
        database):
    post = await _badge(database, "poster", "post")
    merged, survivor = await make_member(database), await make_member(database)
    await _act(database, merged.id, "post", 1)
    await _award(database)
    merge = await merge_into(database, survivor.id, merged.id)
    assert merge.added_badge_ids == (post.id,)
    await _act(database, survivor.id, "post", 5)  # the survivor's own post, after the merge

    await undo_merge(database, merge.id)

    again = (await _held(database, survivor.id))[post.id]
    assert (again.via_merge_id, again.value) == (None, 1)  # its own award, own evidence
    assert set(await _held(database, merged.id)) == {post.id}
    detail = await _last_audit(database, "member.undo_merge")
    assert (detail["badgesRemoved"], detail["badgesEarnedAgain"]) == ([post.id], [post.id])


# ------------------------------------------------------------------------- chains


async def test_chained_merges_carry_points_and_badges_and_unwind_in_reverse_order(database):
    poster = await _badge(database, "poster", "post")
    a, b, c = [await make_member(database) for _ in range(3)]
    await _earn(database, a.id, 40, key="a", at=T0 - 10 * DAY, days=365)
    await _earn(database, b.id, 10, key="b", at=T0 - 5 * DAY, days=365)
    await _earn(database, c.id, 5, key="c", at=T0 - 1 * DAY, days=365)
    await _act(database, a.id, "post", 1)
    await _award(database)

    a_into_b = await merge_into(database, b.id, a.id)
    b_into_c = await merge_into(database, c.id, b.id)
    assert await _balances(database, a.id, b.id, c.id) == [0, 0, 55]
    assert set(await _held(database, c.id)) == {poster.id}
    # FIFO: a's points are the oldest on c, so a spend of 20 takes them first.
    await _spend(database, c.id, 20, key="c-spends", at=T0 + DAY)

    with pytest.raises(members.InvalidMerge, match="undo that merge first"):
        await undo_merge(database, a_into_b.id)
    undone = await undo_merge(database, b_into_c.id)
    assert (undone.points_moved, undone.points_returned) == (50, 30)
    assert await _balances(database, a.id, b.id, c.id) == [0, 30, 5]
    assert await _held(database, c.id) == {}
    assert set(await _held(database, b.id)) == {poster.id}

    undone = await undo_merge(database, a_into_b.id)
    assert (undone.points_moved, undone.points_returned) == (40, 20)
    assert await _balances(database, a.id, b.id, c.id) == [20, 10, 5]
    assert await _held(database, b.id) == {}
    assert set(await _held(database, a.id)) == {poster.id}


async def test_a_member_merged_undone_and_merged_again_moves_its_points_each_time(database):
    merged = await _spent_120_of_150(database)
    survivor = await make_member(database)
    first = await merge_into(database, survivor.id, merged.id)
    await undo_merge(database, first.id)
    second = await merge_into(database, survivor.id, merged.id)
    assert second.points_moved == 30
    assert await _balances(database, merged.id, survivor.id) == [0, 30]
    assert (await undo_merge(database, second.id)).points_returned == 30
    assert await _balances(database, merged.id, survivor.id) == [30, 0]


async def test_an_entry_of_a_merged_member_is_not_reversed_onto_the_merged_member(database):
    merged = await _spent_120_of_150(database)  # 30 open
    survivor = await make_member(database)
    await merge_into(database, survivor.id, merged.id)
    spend = (await _entries(database, merged.id, EntryKind.SPEND))[0]
    # Giving 120 back to a merged member would leave points on an account nobody sees or
    # can spend (the merge moved everything it had): refused, nothing written.
    with pytest.raises(members.MemberAlreadyMerged) as refused:
        async with database.unit_of_work() as uow:
            await ledger.reverse_entry(uow=uow, entry_id=spend.id, reason="refund",
                                       actor="test", now=utcnow())
    assert refused.value.field == "entryId"
    assert await _balances(database, merged.id, survivor.id) == [0, 30]
    assert await _entries(database, merged.id, EntryKind.REVERSE) == []


@asynccontextmanager
async def _merge_in_flight(db, survivor_id: int, merged_id: int):
    """A merge as merge_members runs it, held open for the block and committed after it."""
    async with db.unit_of_work() as uow:
        merge = await uow.members.merge(
            survivor=await uow.members.get(survivor_id),
            merged=await uow.members.get(merged_id), actor="test", reason="same",
            now=utcnow())
        await merging.move_to_survivor(uow=uow, merge_id=merge.id, merged_id=merged_id,
                                       survivor_id=survivor_id, actor="test", now=utcnow())
        yield
        await uow.commit()


async def test_an_award_racing_a_merge_of_its_member_never_lands_on_the_merged_member(
        database):
    import asyncio

    merged, survivor = await make_member(database), await make_member(database)
    await _earn(database, merged.id, 100, key="before-merge", at=T0)
    async with _merge_in_flight(database, survivor.id, merged.id):
        award = asyncio.create_task(_earn(database, merged.id, 40, key="racing", at=T0))
        await asyncio.sleep(0.5)  # time for the award to (wrongly) get through
    # The award waits for the merge and then sees the member merged, as it would after
    # it; points credited to the merged account would be stranded there.
    with pytest.raises(members.MemberAlreadyMerged):
        await award
    assert await _balances(database, merged.id, survivor.id) == [0, 100]


async def test_an_accrual_racing_a_merge_credits_the_survivor_not_the_merged_member(database):
    import asyncio

    from domain.points.rules import EarnRule

    merged, survivor = await make_member(database), await make_member(database)
    async with database.unit_of_work() as uow:
        await ledger.set_earn_rules(uow=uow, earn_rules=[EarnRule("post", 20)], multipliers=[],
                                    actor="test",
                                    now=utcnow())
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, now=utcnow(), raws=[events.EventInput(
            external_id="racing-post", type=EventType.POST, occurred_at=T0,
            member_id=merged.id)])

    async def accrue():
        async with database.unit_of_work() as uow:
            return await ledger.accrue_points(uow=uow, as_of=T0 + timedelta(days=1),
                                              since=None, actor="test", now=utcnow())

    async with _merge_in_flight(database, survivor.id, merged.id):
        accrual = asyncio.create_task(accrue())
        await asyncio.sleep(0.5)  # time for the accrual to read the event as the merged one's
    report = await accrual
    # The event's 20 points land on the survivor (the merge moved the event there); on the
    # merged member they would be stranded, as nothing moves them any more.
    assert (report.written, report.points) == (1, 20)
    assert await _balances(database, merged.id, survivor.id) == [0, 20]
    assert (await accrue()).written == 0  # the event earned once


async def test_a_merge_racing_a_badge_award_to_the_survivor_keeps_that_award(database):
    import asyncio

    post = await _badge(database, "poster", "post")
    merged, survivor = await make_member(database), await make_member(database)
    await _act(database, merged.id, "post", 1)
    await _award(database)  # the merged member holds the badge
    async with database.unit_of_work() as award_uow:  # an award run in flight
        await award_uow.badges.award(post, [badges.Qualified(member_id=survivor.id, value=1)],
                                     as_of=(T0 + 30 * DAY).date(), now=utcnow())
        merging_task = asyncio.create_task(merge_into(database, survivor.id, merged.id))
        await asyncio.sleep(0.5)  # time for the merge to reach the survivor's awards
        await award_uow.commit()
    merge = await merging_task
    # The merge went through; the survivor keeps the award its run made (no copy to undo).
    assert merge.added_badge_ids == ()
    held = await _held(database, survivor.id)
    assert set(held) == {post.id} and held[post.id].via_merge_id is None
    await undo_merge(database, merge.id)
    assert set(await _held(database, survivor.id)) == {post.id}


async def test_a_retried_award_or_spend_after_a_merge_returns_the_stored_entry(database):
    merged, survivor = await make_member(database), await make_member(database)
    earned = await _earn(database, merged.id, 100, key="award-1", at=T0)
    spent = await _spend(database, merged.id, 30, key="spend-1", at=T0 + DAY)
    await merge_into(database, survivor.id, merged.id)
    # A client retrying a request that succeeded gets the same answer, not MEMBER_MERGED,
    # and nothing moves again.
    assert (await _earn(database, merged.id, 100, key="award-1", at=T0)).id == earned.id
    assert (await _spend(database, merged.id, 30, key="spend-1", at=T0 + DAY)).id == spent.id
    assert await _balances(database, merged.id, survivor.id) == [0, 70]
    with pytest.raises(members.MemberAlreadyMerged):  # a new request is refused
        await _earn(database, merged.id, 5, key="award-2", at=T0 + 2 * DAY)
