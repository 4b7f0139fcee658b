"""Tier moves in the real store: a move decided while another is in flight waits for it,
so every history row's previous tier is the tier the member really had."""

from __future__ import annotations

import asyncio

from domain import tiers
from domain.clock import utcnow
from domain.tiers import AssignmentSource
from tests.factories import make_member, make_tier, place_in_tier

WAIT = 0.5  # seconds a blocked unit of work is given to (wrongly) get through


async def _move(db, member_id: int, tier_id: int) -> tiers.TierAssignment:
    async with db.unit_of_work() as uow:
        return await tiers.assign_tier(uow=uow, member_id=member_id, tier_id=tier_id,
                                       actor="operator", reason="manual", now=utcnow())


async def _write_move(uow, member_id: int, tier_id: int, previous: int) -> None:
    await uow.tiers.assign(member_id=member_id, tier_id=tier_id, previous_tier_id=previous,
                           source=AssignmentSource.MODEL, model_version=1, actor="model",
                           reason="re-tiering", at=utcnow())


async def _history(db, member_id: int) -> list[tuple[int | None, int | None]]:
    async with db.unit_of_work(write=False) as uow:
        rows = (await uow.tiers.history([member_id]))[member_id]
    return [(a.previous_tier_id, a.tier_id) for a in reversed(rows)]  # oldest first


async def test_a_manual_move_waits_for_another_move_of_the_member(database):
    basic, core, potential = [await make_tier(database) for _ in range(3)]
    member = await make_member(database)
    await place_in_tier(database, member.id, basic.id)
    async with database.unit_of_work() as first:
        await first.tiers.lock_moves(member_id=member.id)
        await _write_move(first, member.id, core.id, previous=basic.id)
        second = asyncio.ensure_future(_move(database, member.id, potential.id))
        await asyncio.sleep(WAIT)
        assert not second.done()  # it would read basic as the previous tier
        await first.commit()
    moved = await second
    assert moved.previous_tier_id == core.id
    assert await _history(database, member.id) == [
        (None, basic.id), (basic.id, core.id), (core.id, potential.id)]


async def test_a_manual_move_waits_for_a_retiering_in_flight(database):
    basic, core, potential = [await make_tier(database) for _ in range(3)]
    member = await make_member(database)
    await place_in_tier(database, member.id, basic.id)
    async with database.unit_of_work() as retiering:
        await retiering.tiers.lock_moves()  # what apply_tier_model takes first
        await _write_move(retiering, member.id, core.id, previous=basic.id)
        manual = asyncio.ensure_future(_move(database, member.id, potential.id))
        await asyncio.sleep(WAIT)
        assert not manual.done()
        await retiering.commit()
    assert (await manual).previous_tier_id == core.id


async def test_a_retiering_waits_for_manual_moves_in_flight(database):
    basic, core = [await make_tier(database) for _ in range(2)]
    member = await make_member(database)
    await place_in_tier(database, member.id, basic.id)

    async def retiering_reads_tier() -> int | None:
        async with database.unit_of_work() as uow:
            await uow.tiers.lock_moves()  # as apply_tier_model does, before deciding
            return (await uow.members.get(member.id)).tier_id

    async with database.unit_of_work() as manual:
        await manual.tiers.lock_moves(member_id=member.id)
        await manual.tiers.assign(member_id=member.id, tier_id=core.id,
                                  previous_tier_id=basic.id, source=AssignmentSource.MANUAL,
                                  model_version=None, actor="operator", reason="manual",
                                  at=utcnow())
        read = asyncio.ensure_future(retiering_reads_tier())
        await asyncio.sleep(WAIT)
        assert not read.done()
        await manual.commit()
    assert await read == core.id  # decided from the tier the manual move gave


async def test_moves_of_different_members_do_not_wait_for_each_other(database, backend):
    tier = await make_tier(database)
    one, two = await make_member(database), await make_member(database)
    async with database.unit_of_work() as first:
        await first.tiers.lock_moves(member_id=one.id)
        await _write_move(first, one.id, tier.id, previous=None)
        other = asyncio.ensure_future(_move(database, two.id, tier.id))
        await asyncio.sleep(WAIT)
        # PostgreSQL: shared lock + another row; SQLite writers serialise by design.
        assert other.done() == (backend == "postgresql")
        await first.commit()
    assert (await other).tier_id == tier.id
