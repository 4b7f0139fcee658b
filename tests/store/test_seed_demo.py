"""The demo community through the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import func, inspect, select, text

from domain import demo
from domain import events as domain_events
from domain.clock import utcnow
from domain.events import EventType
from domain.store import bulk
from domain.store.database import Database
from domain.store.tables import (
    events,
    member_days,
    member_identities,
    members,
    tier_assignments,
    tiers,
)
from scripts import seed_demo
from tests.factories import make_member

END = date(2025, 6, 1)


@pytest.fixture(scope="module")
def community() -> demo.Community:
    return demo.generate(members=300, days=30, seed=5, end=END)


async def _count(db, table, *where) -> int:
    async with db.engine.connect() as conn:
        query = select(func.count()).select_from(table)
        return (await conn.execute(query.where(*where) if where else query)).scalar_one()


async def _rows(db, query) -> list:
    async with db.engine.connect() as conn:
        return (await conn.execute(query)).all()


async def _event_schema(db) -> tuple[list, list]:
    """The events table's indexes and foreign keys (the bulk load may rebuild them)."""
    def read(sync):
        inspector = inspect(sync)
        if sync.dialect.name == "sqlite":  # the inspector leaves expression indexes out
            indexes = sorted(sync.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'events'")).all())
        else:
            indexes = sorted((i["name"], tuple(i["column_names"])) for i in
                             inspector.get_indexes("events"))
        return (indexes,
                sorted((k["name"], tuple(k["constrained_columns"]), k["referred_table"])
                       for k in inspector.get_foreign_keys("events")))
    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def _record_login(db, member_id: int) -> None:
    async with db.unit_of_work() as uow:
        await domain_events.record_events(uow=uow, now=utcnow(), raws=[domain_events.EventInput(
            external_id=f"before-demo-{member_id}", type="login", occurred_at=utcnow(),
            member_id=member_id)])


async def test_seeding_writes_exactly_what_the_generator_made(database, community):
    written = await bulk.write_community(database, community, reason="test")
    purchases = int((community.events.type == demo.type_code(EventType.PURCHASE)).sum())
    assert written.events == len(community.events)
    assert await _count(database, members) == len(community.members)
    assert await _count(database, member_identities) == len(community.identities)
    assert await _count(database, tier_assignments) == len(community.assignments)
    assert await _count(database, events) == len(community.events)
    assert await _count(database, events, events.c.type == "purchase") == purchases
    # The member-day rollup is filled from the seeded events.
    rolled = (await _rows(database, select(func.sum(member_days.c.events),
                                           func.sum(member_days.c.purchases))))[0]
    assert tuple(rolled) == (len(community.events), purchases)
    assert [r.key for r in await _rows(database, select(tiers.c.key).order_by(tiers.c.rank))] \
        == ["core", "potential", "basic"]


async def test_events_belong_to_seeded_members_with_their_own_origin(database, community):
    await bulk.write_community(database, community, reason="test")
    orphans = await _count(database, events, events.c.member_id.not_in(select(members.c.id)))
    assert orphans == 0
    assert await _count(database, events, events.c.origin_member_id != events.c.member_id) == 0
    early = await _count(database, events, events.c.occurred_at < select(members.c.joined_at)
                         .where(members.c.id == events.c.member_id).scalar_subquery())
    assert early == 0


async def test_referral_joins_name_an_inviter_who_joined_earlier(database, community):
    await bulk.write_community(database, community, reason="test")
    joined = dict(await _rows(database, select(members.c.id, members.c.joined_at)))
    joins = await _rows(database, select(events.c.member_id, events.c.properties)
                        .where(events.c.type == "referral_join"))
    assert len(joins) == (community.members.inviter >= 0).sum() > 0
    for member_id, properties in joins:
        assert joined[properties["inviter_member_id"]] < joined[member_id]
        assert properties["referral_code"].startswith("INV5-")


async def test_each_members_latest_assignment_is_their_current_tier(database, community):
    await bulk.write_community(database, community, reason="demo seed")
    current = dict(await _rows(database, select(members.c.id, members.c.tier_id)))
    async with database.unit_of_work(write=False) as uow:
        history = await uow.tiers.history(list(current))
    assert all(rows[0].tier_id == current[m] for m, rows in history.items())
    moved = [rows for rows in history.values() if len(rows) == 2]
    assert moved and all(rows[0].previous_tier_id == rows[1].tier_id for rows in moved)
    assert {rows[0].reason for rows in history.values()} == {"demo seed"}
    assert {str(rows[0].source) for rows in history.values()} == {"model"}


async def test_seeded_rows_read_back_as_the_generator_made_them(database, community):
    written = await bulk.write_community(database, community, reason="test")
    first = written.first_member_id
    async with database.unit_of_work(write=False) as uow:
        member = await uow.members.get(first)
        recent = await uow.events.recent_for_members([first], limit=1000)
    at = community.start + timedelta(seconds=int(community.members.joined[0]))
    assert member.joined_at == at and member.joined_at.tzinfo is not None
    assert member.profile.display_name == community.members.profiles.display_name[0]
    mine = np.flatnonzero(community.events.member == 0)
    assert [e.occurred_at for _, e in reversed(recent[first])] == [
        community.start + timedelta(seconds=int(s)) for s in community.events.at[mine]]


@pytest.mark.parametrize("events_before", [False, True], ids=["no-events", "with-events"])
async def test_seeding_after_existing_members_keeps_ids_indexes_and_keys(database, community,
                                                                         events_before):
    before = await make_member(database)
    if events_before:
        await _record_login(database, before.id)
    schema = await _event_schema(database)
    assert schema[0] and schema[1]
    written = await bulk.write_community(database, community, reason="test")
    after = await make_member(database)
    assert written.first_member_id > before.id
    assert after.id > written.first_member_id + len(community.members) - 1
    assert await _event_schema(database) == schema
    assert await bulk.has_demo(database, community=community)
    assert await _count(database, events) == len(community.events) + events_before


async def test_a_failed_seed_writes_nothing_and_keeps_the_schema(database, community,
                                                                 monkeypatch):
    schema = await _event_schema(database)

    real = bulk.rows.event_batches

    def broken(*args):
        yield next(real(*args))  # one batch is inserted, then building the next one fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(bulk.rows, "event_batches", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await bulk.write_community(database, community, reason="test")
    assert await bulk.count_members(database) == 0
    assert await _count(database, tiers) == 0
    assert await _event_schema(database) == schema


def _args(**overrides) -> argparse.Namespace:
    values = dict(members=200, days=20, seed=9, end=END, if_empty=True)
    values.update(overrides)
    return argparse.Namespace(**values)


def test_seed_demo_with_if_empty_seeds_once_and_then_skips(database_url, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    assert seed_demo.run(_args()) == 0
    assert "members            200" in capsys.readouterr().out
    assert seed_demo.run(_args()) == 0
    assert "demo seed skipped" in capsys.readouterr().out
    assert seed_demo.run(_args(if_empty=False)) == 1
    assert "already in this database" in capsys.readouterr().out
    assert asyncio.run(_members_in(database_url)) == 200


async def _members_in(url: str) -> int:
    db = Database(url)
    try:
        return await bulk.count_members(db)
    finally:
        await db.dispose()
