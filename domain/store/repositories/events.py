from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import Event, EventColumns, EventType, at
from domain.members import Channel
from domain.store.repositories.activity import (
    ActivityRepository,
    _aggregate,
    adding_to_rollup,
    days_named,
    utc_day,
)
from domain.store.sqlite_batches import encode_sqlite_batch, sqlite_time
from domain.store.tables import events, member_identities

# One statement inserts a whole batch sent as a JSON array of rows (see insert_new).
# occurred_at travels as integer microseconds since the epoch (formatting datetimes in
# Python costs more than the insert) and is written as UtcDateTime writes it on SQLite:
# 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; `r` is the microsecond part, floored.
_SQLITE_INSERT = (
    "INSERT INTO events (external_id, member_id, origin_member_id, type, occurred_at,"
    " amount_minor, channel, properties, received_at)"
    " SELECT e, m, o, t, strftime('%Y-%m-%d %H:%M:%S', (us - r) / 1000000, 'unixepoch')"
    " || printf('.%06d', r), a, c, p, ?"
    " FROM (SELECT json_extract(value, '$[0]') AS e, json_extract(value, '$[1]') AS m,"
    " json_extract(value, '$[2]') AS o, json_extract(value, '$[3]') AS t,"
    " json_extract(value, '$[4]') AS us,"
    " (json_extract(value, '$[4]') % 1000000 + 1000000) % 1000000 AS r,"
    " json_extract(value, '$[5]') AS a, json_extract(value, '$[6]') AS c,"
    " ifnull(json_extract(value, '$[7]'), 'null') AS p FROM json_each(?))"
    # Member order keeps the two member indexes' inserts local (a fifth less work).
    " ORDER BY m, us"
    " ON CONFLICT (external_id) DO NOTHING"
)


# An import's batches (see EventRepository.encoder): every field but the member comes
# pre-encoded from the import's reader thread, with occurred_at already as stored text
# and, in place of the member, the row's slot in the batch's distinct members
# (events.MemberSlots); the second parameter gives each slot's [member, origin member]
# (null: unknown, the row is skipped). SQLite indexes the small slot table itself.
_SQLITE_INSERT_ENCODED = (
    "INSERT INTO events (external_id, member_id, origin_member_id, type, occurred_at,"
    " amount_minor, channel, properties, received_at)"
    " WITH b AS MATERIALIZED (SELECT key AS s, json_extract(value, '$[0]') AS m,"
    " json_extract(value, '$[1]') AS o FROM json_each(?))"
    " SELECT e, b.m, b.o, t, ts, a, c, p, ?"
    " FROM (SELECT json_extract(value, '$[0]') AS s, json_extract(value, '$[1]') AS e,"
    " json_extract(value, '$[2]') AS t, json_extract(value, '$[3]') AS ts,"
    " json_extract(value, '$[4]') AS a, json_extract(value, '$[5]') AS c,"
    " ifnull(json_extract(value, '$[6]'), 'null') AS p FROM json_each(?)) AS r"
    " JOIN b ON b.s = r.s WHERE b.m IS NOT NULL"
    " ORDER BY b.m, ts"
    " ON CONFLICT (external_id) DO NOTHING"
)
# The import's connection: a page cache that holds the events' indexes (the default
# 2 MiB spills them mid-transaction; 256 MiB keeps a million members' index pages),
# the file memory-mapped (reads without a system call per page; SQLite caps the map
# at 2 GiB), temporary sorts in memory. Per connection, not per transaction;
# durability settings are untouched.
_SQLITE_BULK_PRAGMAS = ("PRAGMA cache_size=-262144", "PRAGMA mmap_size=2147418112",
                        "PRAGMA temp_store=MEMORY")


def _event(row) -> Event:
    return Event(external_id=row.external_id, member_id=row.member_id, type=EventType(row.type),
                 occurred_at=row.occurred_at, amount_minor=row.amount_minor,
                 channel=Channel(row.channel) if row.channel else None,
                 properties=row.properties)


class EventRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self):
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(events)

    def encoder(self):
        """The function an import's reader thread encodes batches with for
        `insert_encoded` (`encode_sqlite_batch`), or None when this store takes bound
        events only (PostgreSQL)."""
        return encode_sqlite_batch if self.conn.dialect.name == "sqlite" else None

    async def start_bulk(self) -> int:
        """Begin a bulk load in this transaction (SQLite): tune the connection for it and
        return the mark `roll_up_since` takes once the batches are in."""
        for pragma in _SQLITE_BULK_PRAGMAS:
            await self.conn.exec_driver_sql(pragma)
        return await self._largest_id()

    async def _largest_id(self) -> int:
        return (await self.conn.execute(select(func.max(events.c.id)))).scalar() or 0

    async def insert_encoded(self, payload: str, members: Sequence[tuple[int, int] | None],
                             *, received_at: datetime) -> int:
        """Insert an `encoder()` batch whose external ids are distinct, each row bound
        through its slot's (member, origin member) in `members` (None: unknown, not
        inserted); skip external ids already stored. Return how many were inserted. The
        rollup is left to `roll_up_since`."""
        result = await self.conn.exec_driver_sql(
            _SQLITE_INSERT_ENCODED,
            (json.dumps(members), sqlite_time(received_at), payload))
        return result.rowcount

    async def roll_up_since(self, mark: int) -> None:
        """Add every event this transaction inserted since `start_bulk` to the member-day
        rollup, in one statement (SQLite: writers hold the lock from BEGIN IMMEDIATE, so
        the rows above the mark are exactly this transaction's)."""
        await ActivityRepository(self.conn).add_events(events.c.id > mark)

    async def insert_new(self, batch: EventColumns | Sequence[Event], *,
                         received_at: datetime, roll_up: bool = True) -> int:
        """Insert bound events whose external id is unseen and add them to the member-day
        rollup in the same transaction; return how many were inserted. `roll_up=False`
        leaves the rollup to `roll_up_since` (a bulk load on SQLite rolls up once per
        transaction); PostgreSQL always rolls up here, naming the inserted rows."""
        if not isinstance(batch, EventColumns):
            batch = EventColumns.of_events(batch)
        if not len(batch):
            return 0
        if self.conn.dialect.name == "sqlite":
            # Writers hold SQLite's lock from BEGIN IMMEDIATE on, so the rows above the
            # current largest id are exactly the ones this call inserts.
            floor = await self._largest_id() if roll_up else 0
            inserted = await self._insert_new_sqlite(batch, received_at=received_at)
            if inserted and roll_up:
                await ActivityRepository(self.conn).add_events(events.c.id > floor)
            return inserted
        return await self._insert_new_postgresql(batch, received_at=received_at)

    async def _insert_new_postgresql(self, batch: EventColumns, *, received_at: datetime
                                     ) -> int:
        # One statement per batch: the columns travel as arrays (unnest: no per-row
        # parameters), the inserted rows come back through RETURNING into a second
        # data-modifying CTE that adds them to member_days, so the rollup names exactly
        # this statement's rows (concurrent writers interleave ids) without reading them
        # again. JSON is written as the column type writes it (json.dumps, None as 'null').
        dumps = json.dumps
        columns = {
            "external_id": (list(batch.external_id), String),
            "member_id": (list(batch.member_id), BigInteger),
            "origin_member_id": (list(batch.origin_member_id), BigInteger),
            "type": ([str(t) for t in batch.type], String),
            "occurred_at": ([at(us) for us in batch.occurred_us], DateTime(timezone=True)),
            "amount_minor": (list(batch.amount_minor), BigInteger),
            "channel": (list(batch.channel), String),
            "properties": ([dumps(p) for p in batch.properties], Text),
        }
        rows = select(*(func.unnest(bindparam(f"p_{name}", values, type_=postgresql.ARRAY(kind)))
                        .label(name) for name, (values, kind) in columns.items())).subquery()
        values = [rows.c[name] for name in columns]
        values[-1] = cast(rows.c.properties, JSON)
        inserted = (postgresql.insert(events)
                    .from_select([*columns, "received_at"],
                                 select(*values, literal(received_at, events.c.received_at.type)))
                    .on_conflict_do_nothing(index_elements=["external_id"])
                    .returning(events.c.member_id, events.c.occurred_at, events.c.type,
                               events.c.amount_minor)
                    .cte("inserted"))
        rolled = adding_to_rollup("postgresql", _aggregate("postgresql", true(),
                                                            source=inserted)).cte("rolled")
        return (await self.conn.execute(
            select(func.count()).select_from(inserted).add_cte(rolled))).scalar_one()

    async def _insert_new_sqlite(self, batch: EventColumns, *, received_at: datetime) -> int:
        # The whole batch travels as one JSON parameter of one statement: no per-row
        # binding in Python, and sqlite3 releases the GIL while the statement runs, so an
        # import parses its next chunk meanwhile. Values are written as the table types
        # write them (UtcDateTime: naive UTC text with microseconds; JSON: json.dumps,
        # None as 'null'); a store test checks that against SQLAlchemy's own insert.
        # EventType is a str enum: JSON writes its value.
        dumps = json.dumps
        properties = [p if p is None else dumps(p) for p in batch.properties]
        payload = dumps(list(zip(
            batch.external_id, batch.member_id, batch.origin_member_id, batch.type,
            batch.occurred_us, batch.amount_minor, batch.channel, properties, strict=True)))
        result = await self.conn.exec_driver_sql(_SQLITE_INSERT,
                                                 (sqlite_time(received_at), payload))
        return result.rowcount

    async def identity_members(self, keys: Iterable[tuple[str, str]]
                               ) -> dict[tuple[str, str], int]:
        """The member holding each known (channel, external id) identity: what
        MemberRepository.identity_owners answers, in one statement for any number of keys
        and without an object per key (an import binds thousands per chunk)."""
        keys = list(keys)
        if not keys:
            return {}
        table = member_identities
        if self.conn.dialect.name == "postgresql":
            wanted = select(
                func.unnest(bindparam("channels", [c for c, _ in keys],
                                      type_=postgresql.ARRAY(String))).label("channel"),
                func.unnest(bindparam("external_ids", [x for _, x in keys],
                                      type_=postgresql.ARRAY(String))).label("external_id"),
            ).subquery()
            statement = select(table.c.channel, table.c.external_id, table.c.member_id).join(
                wanted, and_(table.c.channel == wanted.c.channel,
                             table.c.external_id == wanted.c.external_id))
            rows = await self.conn.execute(statement)
        else:
            rows = await self.conn.exec_driver_sql(
                "SELECT i.channel, i.external_id, i.member_id FROM json_each(?) AS k"
                " JOIN member_identities AS i ON i.channel = json_extract(k.value, '$[0]')"
                " AND i.external_id = json_extract(k.value, '$[1]')", (json.dumps(keys),))
        return {(channel, external_id): member for channel, external_id, member in rows}

    async def recent_for_members(self, member_ids, *, limit: int
                                 ) -> dict[int, list[tuple[int, Event]]]:
        """Each member's `limit` newest events, for many members in one statement."""
        dialect = self.conn.dialect.name
        ranked = select(
            events,
            func.row_number().over(partition_by=events.c.member_id,
                                   order_by=(events.c.occurred_at.desc(), events.c.id.desc()))
            .label("position"),
        ).where(events.c.member_id.in_(list(member_ids)),  # by day on SQLite: rollup_days
                *days_named(dialect, utc_day(dialect))).subquery()
        rows = await self.conn.execute(
            select(ranked).where(ranked.c.position <= limit)
            .order_by(ranked.c.member_id, ranked.c.position)
        )
        out: dict[int, list[tuple[int, Event]]] = {}
        for row in rows:
            out.setdefault(row.member_id, []).append((row.id, _event(row)))
        return out

    async def get(self, event_id: int) -> Event | None:
        row = (await self.conn.execute(select(events).where(events.c.id == event_id))).first()
        return _event(row) if row else None
