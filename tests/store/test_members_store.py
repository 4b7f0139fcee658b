"""Members in the real store: merges chain and unwind, concurrent writes never double."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain import events, members
from domain.clock import utcnow
from domain.members import Channel, IdentityKey, MemberFilter, MemberOrder
from domain.paging import PageRequest
from domain.store.tables import events as events_table
from tests.factories import T0, make_member, merge_into, undo_merge


async def _login(db, external_id, member_id):
    async with db.unit_of_work() as uow:
        return await events.record_events(uow=uow, now=utcnow(), raws=[events.EventInput(
            external_id=external_id, type="login", occurred_at=utcnow(), member_id=member_id)])




async def _events_of(db, member_id):
    async with db.unit_of_work(write=False) as uow:
        found = await uow.events.recent_for_members([member_id], limit=50)
    return sorted(e.external_id for _, e in found.get(member_id, []))


async def test_chained_merges_unwind_in_reverse_order_and_restore_events(database):
    a, b, c = [await make_member(database) for _ in range(3)]
    for member in (a, b, c):
        await _login(database, f"login-{member.id}", member.id)
    a_into_b = await merge_into(database, b.id, a.id)
    b_into_c = await merge_into(database, c.id, b.id)
    assert await _events_of(database, c.id) == sorted(f"login-{m.id}" for m in (a, b, c))
    # Events recorded for a merged member land on the member it now belongs to.
    await _login(database, "late", a.id)
    assert "late" in await _events_of(database, c.id)

    with pytest.raises(members.InvalidMerge, match="undo that merge first"):
        await undo_merge(database, a_into_b.id)
    await undo_merge(database, b_into_c.id)
    assert await _events_of(database, c.id) == [f"login-{c.id}"]
    assert await _events_of(database, b.id) == sorted(["late", f"login-{a.id}",
                                                       f"login-{b.id}"])
    await undo_merge(database, a_into_b.id)
    assert await _events_of(database, a.id) == sorted(["late", f"login-{a.id}"])
    async with database.unit_of_work(write=False) as uow:
        identities = await uow.members.identities_of([a.id, b.id, c.id])
        many = await uow.members.identity_owners(  # large lookups are chunked
            [IdentityKey(Channel.WECHAT, f"missing-{n}") for n in range(5000)]
            + [identities[c.id][0].key])
    assert [len(identities[m.id]) for m in (a, b, c)] == [1, 1, 1]
    assert many == {identities[c.id][0].key: c.id}


async def test_merged_members_leave_the_list_but_can_be_included(database):
    a, b = await make_member(database), await make_member(database)
    await merge_into(database, a.id, b.id)
    async with database.unit_of_work(write=False) as uow:
        default, _ = await uow.members.page(MemberFilter(), MemberOrder.JOINED_AT_ASC,
                                            PageRequest(first=10))
        everyone, _ = await uow.members.page(MemberFilter(include_merged=True),
                                             MemberOrder.JOINED_AT_ASC, PageRequest(first=10))
    assert [m.id for m in default.items] == [a.id]
    assert [m.id for m in everyone.items] == [a.id, b.id]


async def test_concurrent_retries_of_one_batch_store_each_event_once(database):
    member = await make_member(database)
    batch = [events.EventInput(external_id=f"retry-{n}", type="like",
                               occurred_at=T0 + timedelta(minutes=n), member_id=member.id)
             for n in range(50)]

    async def send():
        async with database.unit_of_work() as uow:
            return await events.record_events(uow=uow, raws=batch, now=utcnow())

    results = await asyncio.gather(*(send() for _ in range(8)))
    assert sum(r.accepted for r in results) == 50
    assert all(r.received == 50 for r in results)
    async with database.unit_of_work(write=False) as uow:
        stored = (await uow.connection.execute(
            select(func.count()).select_from(events_table))).scalar_one()
    assert stored == 50


async def test_two_members_racing_for_one_identity_end_with_one_owner(database):
    async def enroll(n):
        async with database.unit_of_work() as uow:
            try:
                return await members.enroll_member(
                    uow=uow, actor="test", channel=Channel.DOUYIN, joined_at=T0,
                    profile=members.Profile(display_name=f"racer {n}"),
                    identities=(IdentityKey(Channel.DOUYIN, "dy-contested"),))
            except members.DuplicateIdentity:
                return None

    winners = [m for m in await asyncio.gather(*(enroll(n) for n in range(6))) if m]
    assert len(winners) == 1
    async with database.unit_of_work(write=False) as uow:
        assert await uow.members.count(MemberFilter()) == 1


async def test_two_requests_adding_one_identity_leave_one_owner_and_name_the_input_field(
        database):
    first, second = await make_member(database), await make_member(database)
    key = IdentityKey(Channel.WECHAT, "wx-contested")

    async def add(member_id):
        async with database.unit_of_work() as uow:
            try:
                await members.add_identity(uow=uow, member_id=member_id, key=key,
                                           actor="test")
                return None
            except members.DuplicateIdentity as error:
                return error.field

    fields = await asyncio.gather(*(add(m.id) for m in (first, second, first, second)))
    # One request wins; every other one (the check before the insert, or the unique
    # index when they race past it) names addMemberIdentity's own input field.
    assert sorted(fields, key=str) == [None, "externalId", "externalId", "externalId"]
    async with database.unit_of_work(write=False) as uow:
        assert len(await uow.members.identity_owners([key])) == 1
