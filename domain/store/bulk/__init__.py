"""Bulk writes of a generated demo community (`domain.demo`): one transaction, big batches.

The repositories insert a row at a time through SQLAlchemy's type processing,
which is right for requests and far too slow for a million events. Here rows
are built column-wise from numpy arrays in the driver's own value types and
handed to the driver in batches: `executemany` on SQLite (one C loop per
batch), `COPY` (`copy_records_to_table`) on PostgreSQL. Either way it is all
or nothing: a failure leaves the database as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select, text

from domain import demo
from domain.store.bulk import drivers, rows
from domain.store.bulk.rows import EVENT_COLUMNS
from domain.store.database import Database
from domain.store.tables import events, members, tiers

__all__ = ["EVENT_COLUMNS", "Written", "count_members", "has_demo", "sqlite_event_rows",
           "write_community"]


@dataclass(frozen=True, slots=True)
class Written:
    members: int
    identities: int
    assignments: int
    events: int
    first_member_id: int


async def count_members(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(members))).scalar_one()


async def has_demo(db: Database, *, community: demo.Community) -> bool:
    """Whether this community (same seed) was already written: its first event exists."""
    async with db.engine.connect() as conn:
        found = await conn.execute(select(events.c.id).where(
            events.c.external_id == community.event_external_id(0)))
        return found.first() is not None


async def write_community(db: Database, community: demo.Community, *, reason: str) -> Written:
    """Insert tiers (reusing existing ones by key), members, identities, tier
    assignment history and events in one transaction."""
    async with db.unit_of_work() as uow:
        conn = uow.connection
        writer = await drivers.open_writer(conn, db.dialect, start=community.start,
                                           days=community.days)
        tier_ids = await _tier_ids(conn, community)
        member_ids = await _reserve_member_ids(conn, db.dialect, len(community.members))
        await writer.insert("members", rows.MEMBER_COLUMNS,
                            rows.member_rows(community, writer, member_ids, tier_ids))
        await writer.insert("member_identities", rows.IDENTITY_COLUMNS,
                            rows.identity_rows(community, writer, member_ids))
        await writer.insert("tier_assignments", rows.ASSIGNMENT_COLUMNS,
                            rows.assignment_rows(community, writer, member_ids, tier_ids, reason))
        await _insert_events(writer, community, member_ids)
        await uow.activity.rebuild()
        written = Written(members=len(community.members), identities=len(community.identities),
                          assignments=len(community.assignments), events=len(community.events),
                          first_member_id=int(member_ids[0]) if len(member_ids) else 0)
        await uow.audit.record(actor=rows.ACTOR, action="demo.seed", subject="community", detail={
            "seed": community.seed, "days": community.days, "start": community.start.isoformat(),
            "members": written.members, "events": written.events})
        await uow.commit()
    return written


async def _insert_events(writer: drivers.Writer, community: demo.Community,
                         ids: np.ndarray) -> None:
    """Build each batch while the driver inserts the previous one (the SQLite driver runs
    in its own thread, and sqlite releases the GIL while it works)."""
    pending: asyncio.Future | None = None
    async with writer.bulk_mode("events"):
        try:
            for batch in rows.event_batches(community, writer, ids):
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(writer.insert("events", EVENT_COLUMNS, batch))
        finally:
            # Also when building a batch failed: the connection must be idle before the
            # transaction is rolled back.
            if pending is not None:
                await pending


def sqlite_event_rows(community: demo.Community, member_ids: np.ndarray
                      ) -> Iterator[list[tuple]]:
    """The event rows, in batches, exactly as the SQLite writer inserts them into
    EVENT_COLUMNS (`tierwise bench seed` inserts them with plain sqlite3 as its baseline)."""
    writer = drivers.SqliteWriter(None, None, start=community.start, days=community.days)
    return rows.event_batches(community, writer, member_ids)


async def _tier_ids(conn, community: demo.Community) -> np.ndarray:
    """Database id per tier of the community; tiers missing by key are created."""
    found = (await conn.execute(select(tiers.c.key, tiers.c.id, tiers.c.rank))).all()
    existing = {row.key: row.id for row in found}
    ranks = {row.rank for row in found}
    ids = []
    now = datetime.now(UTC)
    for spec in community.tiers:
        if spec.key not in existing:
            # An operator's tier may hold the rank already: then go below every tier.
            rank = spec.rank if spec.rank not in ranks else max(ranks) + 1
            ranks.add(rank)
            existing[spec.key] = (await conn.execute(tiers.insert().values(
                key=spec.key, name=spec.name, rank=rank, description=spec.description,
                benefits=list(spec.benefits), touch_channel=str(spec.touch.channel),
                touch_every_days=spec.touch.every_days, touch_content=spec.touch.content,
                created_at=now, updated_at=now,
            ).returning(tiers.c.id))).scalar_one()
        ids.append(existing[spec.key])
    return np.array(ids, dtype=np.int64)


async def _reserve_member_ids(conn, dialect: str, count: int) -> np.ndarray:
    if dialect == "postgresql":
        # Take ids from the sequence, so later single inserts never collide with them.
        ids = await conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('members', 'id')) "
            "FROM generate_series(1, :count)"), {"count": count})
        return np.sort(np.array([r[0] for r in ids], dtype=np.int64))
    # SQLite: the write transaction (BEGIN IMMEDIATE) holds the lock, so max(id) is stable.
    top = (await conn.execute(select(func.coalesce(func.max(members.c.id), 0)))).scalar_one()
    return np.arange(top + 1, top + 1 + count, dtype=np.int64)


