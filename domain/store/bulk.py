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
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select, text

from domain import demo
from domain.demo import profiles, tiering
from domain.events import EventType
from domain.members import MemberStatus
from domain.store.database import Database
from domain.store.tables import events, members, tiers
from domain.tiers import AssignmentSource

BATCH = 50_000
BULK_CACHE_KIB = -262_144  # SQLite page cache during the event insert: up to 256 MiB
ACTOR = "seed-demo"

EVENT_COLUMNS = ("external_id", "member_id", "origin_member_id", "type", "occurred_at",
                  "amount_minor", "channel", "properties", "received_at")
_MEMBER_COLUMNS = ("id", "display_name", "email", "phone", "age_band", "region", "occupation",
                   "interests", "channel", "joined_at", "first_seen_at", "status", "tier_id",
                   "tier_source", "created_at")
_IDENTITY_COLUMNS = ("member_id", "channel", "external_id", "created_at")
_ASSIGNMENT_COLUMNS = ("member_id", "tier_id", "previous_tier_id", "source", "model_version",
                       "actor", "reason", "assigned_at")


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
        writer = await _writer(conn, db.dialect, start=community.start, days=community.days)
        tier_ids = await _tier_ids(conn, community)
        member_ids = await _reserve_member_ids(conn, db.dialect, len(community.members))
        await writer.insert("members", _MEMBER_COLUMNS,
                            _member_rows(community, writer, member_ids, tier_ids))
        await writer.insert("member_identities", _IDENTITY_COLUMNS,
                            _identity_rows(community, writer, member_ids))
        await writer.insert("tier_assignments", _ASSIGNMENT_COLUMNS,
                            _assignment_rows(community, writer, member_ids, tier_ids, reason))
        await _insert_events(writer, community, member_ids)
        written = Written(members=len(community.members), identities=len(community.identities),
                          assignments=len(community.assignments), events=len(community.events),
                          first_member_id=int(member_ids[0]) if len(member_ids) else 0)
        await uow.audit.record(actor=ACTOR, action="demo.seed", subject="community", detail={
            "seed": community.seed, "days": community.days, "start": community.start.isoformat(),
            "members": written.members, "events": written.events})
        await uow.commit()
    return written


async def _insert_events(writer: _Writer, community: demo.Community, ids: np.ndarray) -> None:
    """Build each batch while the driver inserts the previous one (the SQLite driver runs
    in its own thread, and sqlite releases the GIL while it works)."""
    pending: asyncio.Future | None = None
    async with writer.bulk_mode("events"):
        try:
            for batch in _event_batches(community, writer, ids):
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
    writer = _SqliteWriter(None, None, start=community.start, days=community.days)
    return _event_batches(community, writer, member_ids)


class _Writer:
    """Driver-level batch inserts and the driver's representation of times and JSON."""

    def __init__(self, conn, raw, *, start: datetime, days: int) -> None:
        self.conn, self.raw = conn, raw
        self.start, self.days = start, days

    def times(self, offsets: np.ndarray) -> list:
        raise NotImplementedError

    def json(self, value) -> str:
        return json.dumps(value)

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def bulk_mode(self, table: str) -> AsyncIterator[None]:
        yield


class _SqliteWriter(_Writer):
    def __init__(self, conn, raw, *, start: datetime, days: int) -> None:
        super().__init__(conn, raw, start=start, days=days)
        # The text SQLAlchemy's SQLite DateTime stores (UtcDateTime: naive UTC); building
        # it from a per-day and a per-second table avoids formatting a datetime per row.
        first = np.datetime64(start.replace(tzinfo=None), "D")
        dates = np.datetime_as_string(first + np.arange(-30, days + 1), unit="D")
        self._dates = np.array([d + " " for d in dates.tolist()], dtype=object)
        seconds = np.arange(demo.DAY)
        self._clock = np.array([f"{h:02d}:{m:02d}:{s:02d}.000000" for h, m, s in zip(
            (seconds // 3600).tolist(), (seconds // 60 % 60).tolist(), (seconds % 60).tolist(),
            strict=True)], dtype=object)

    def times(self, offsets: np.ndarray) -> list:
        # Dates start 30 days early: first_seen can precede the window by two weeks.
        return (self._dates[offsets // demo.DAY + 30] + self._clock[offsets % demo.DAY]).tolist()

    @contextlib.asynccontextmanager
    async def bulk_mode(self, table: str) -> AsyncIterator[None]:
        # Secondary indexes take random inserts. Into an empty table it is faster to drop
        # them and build them once at the end, by sorting; this is DDL inside our write
        # transaction, so other connections only ever see the table with its indexes.
        # Otherwise a page cache that holds the indexes at least halves the insert time.
        before = (await self._one("PRAGMA cache_size"))[0]
        await self.raw.execute(f"PRAGMA cache_size={BULK_CACHE_KIB}")
        empty = await self._one(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
        indexes = await self._all(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL", (table,)) if empty[0] else []
        for name, _ in indexes:
            await self.raw.execute(f'DROP INDEX "{name}"')
        try:
            yield
            for _, sql in indexes:
                await self.raw.execute(sql)
        finally:
            await self.raw.execute(f"PRAGMA cache_size={int(before)}")

    async def _one(self, sql: str, params: tuple = ()) -> tuple:
        return await (await self.raw.execute(sql, params)).fetchone()

    async def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        return list(await (await self.raw.execute(sql, params)).fetchall())

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            marks = ", ".join("?" for _ in columns)
            await self.raw.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class _PostgresWriter(_Writer):
    @contextlib.asynccontextmanager
    async def bulk_mode(self, table: str) -> AsyncIterator[None]:
        # Per-row foreign-key triggers and index inserts make COPY into a big table three
        # times slower than loading it bare and then building the indexes and validating
        # each foreign key in one pass. Only for an empty table (a fresh demo database),
        # and inside our transaction, so nobody ever sees the table without them.
        if await self.raw.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
            yield
            return
        indexes = await self.raw.fetch(
            "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = $1::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", table)
        keys = await self.raw.fetch(
            "SELECT conname AS name, pg_get_constraintdef(oid) AS definition "
            "FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'", table)
        for key in keys:
            await self.raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{key["name"]}"')
        for index in indexes:
            await self.raw.execute(f'DROP INDEX "{index["name"]}"')
        yield
        for index in indexes:
            await self.raw.execute(index["definition"])
        for key in keys:
            await self.raw.execute(
                f'ALTER TABLE {table} ADD CONSTRAINT "{key["name"]}" {key["definition"]}')

    def times(self, offsets: np.ndarray) -> list:
        base = int(self.start.timestamp())
        naive = (offsets.astype(np.int64) + base).astype("datetime64[s]").tolist()
        return [t.replace(tzinfo=UTC) for t in naive]

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            await self.raw.copy_records_to_table(table, records=rows, columns=list(columns))


async def _writer(conn, dialect: str, *, start: datetime, days: int) -> _Writer:
    # The unit of work's transaction must be open before the driver is used directly,
    # so the raw inserts belong to it.
    await conn.execute(text("SELECT 1"))
    raw = (await conn.get_raw_connection()).driver_connection
    cls = _PostgresWriter if dialect == "postgresql" else _SqliteWriter
    return cls(conn, raw, start=start, days=days)


async def _tier_ids(conn, community: demo.Community) -> np.ndarray:
    """Database id per tier of the community; tiers missing by key are created."""
    rows = (await conn.execute(select(tiers.c.key, tiers.c.id, tiers.c.rank))).all()
    existing = {row.key: row.id for row in rows}
    ranks = {row.rank for row in rows}
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
        rows = await conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('members', 'id')) "
            "FROM generate_series(1, :count)"), {"count": count})
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))
    # SQLite: the write transaction (BEGIN IMMEDIATE) holds the lock, so max(id) is stable.
    top = (await conn.execute(select(func.coalesce(func.max(members.c.id), 0)))).scalar_one()
    return np.arange(top + 1, top + 1 + count, dtype=np.int64)


def _member_rows(community: demo.Community, writer: _Writer, ids: np.ndarray,
                 tier_ids: np.ndarray) -> list[tuple]:
    m, p = community.members, community.members.profiles
    joined = writer.times(m.joined)
    channel = [demo.CHANNELS[c].value for c in m.channel.tolist()]
    tier = tier_ids[community.tier_of].tolist()
    interests = [writer.json(list(i)) for i in p.interests]
    return list(zip(
        ids.tolist(), p.display_name, p.email, p.phone, p.age_band, p.region, p.occupation,
        interests, channel, joined, writer.times(m.first_seen),
        _repeat(MemberStatus.ACTIVE.value, len(ids)), tier,
        _repeat(AssignmentSource.MODEL.value, len(ids)), joined, strict=True,
    ))


def _identity_rows(community: demo.Community, writer: _Writer, ids: np.ndarray) -> list[tuple]:
    i = community.identities
    return list(zip(ids[i.member].tolist(), [demo.CHANNELS[c].value for c in i.channel.tolist()],
                    i.external_id, writer.times(i.created), strict=True))


def _assignment_rows(community: demo.Community, writer: _Writer, ids: np.ndarray,
                     tier_ids: np.ndarray, reason: str) -> list[tuple]:
    a = community.assignments
    n = len(a)
    previous = [None if t < 0 else int(tier_ids[t]) for t in a.previous.tolist()]
    return list(zip(ids[a.member].tolist(), tier_ids[a.tier].tolist(), previous,
                    _repeat(AssignmentSource.MODEL.value, n), _repeat(tiering.MODEL_VERSION, n),
                    _repeat(ACTOR, n), _repeat(reason, n), writer.times(a.at), strict=True))


def _event_batches(community: demo.Community, writer: _Writer,
                   ids: np.ndarray) -> Iterator[list[tuple]]:
    e = community.events
    type_names = np.array([t.value for t in demo.EVENT_TYPES], dtype=object)
    channel_names = np.array([c.value for c in demo.CHANNELS], dtype=object)
    purchase = demo.type_code(EventType.PURCHASE)
    for lo in range(0, len(e), BATCH):
        hi = min(lo + BATCH, len(e))
        member = ids[e.member[lo:hi]].tolist()
        at = writer.times(e.at[lo:hi])
        amount = np.where(e.type[lo:hi] == purchase, e.amount_minor[lo:hi], None).tolist()
        yield list(zip(
            [community.event_external_id(row) for row in range(lo, hi)], member, member,
            type_names[e.type[lo:hi]].tolist(), at, amount,
            channel_names[e.channel[lo:hi]].tolist(),
            _properties(community, writer, ids, lo, hi), at, strict=True,
        ))


def _properties(community: demo.Community, writer: _Writer, ids: np.ndarray, lo: int,
                hi: int) -> list[str | None]:
    """JSON properties of posts (topic) and referrals (code, the other member's id)."""
    e = community.events
    out: list[str | None] = [None] * (hi - lo)
    kinds = e.type[lo:hi]
    for row in np.flatnonzero(kinds == demo.type_code(EventType.POST)).tolist():
        out[row] = writer.json({"topic": profiles.TOPICS[e.topic[lo + row]]})
    for row in np.flatnonzero(kinds == demo.type_code(EventType.REFERRAL_INVITE)).tolist():
        invitee = int(e.related[lo + row])
        value = {"referral_code": community.referral_code(int(e.member[lo + row]))}
        if invitee >= 0:
            value["invitee_member_id"] = int(ids[invitee])
        out[row] = writer.json(value)
    for row in np.flatnonzero(kinds == demo.type_code(EventType.REFERRAL_JOIN)).tolist():
        inviter = int(e.related[lo + row])
        out[row] = writer.json({"referral_code": community.referral_code(inviter),
                                "inviter_member_id": int(ids[inviter])})
    return out


def _repeat(value, count: int) -> itertools.repeat:
    return itertools.repeat(value, count)
