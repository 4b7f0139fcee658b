"""Driver-level batch inserts: SQLite `executemany` and PostgreSQL `COPY`.

Each writer also knows its driver's representation of times (SQLite: the text
SQLAlchemy's DateTime stores; PostgreSQL: aware datetimes) and how to make an
empty table cheap to fill (`bulk_mode`).
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import text

from domain import demo

BULK_CACHE_KIB = -262_144  # SQLite page cache during a bulk insert: up to 256 MiB


class Writer(abc.ABC):
    """Driver-level batch inserts and the driver's representation of times and JSON."""

    def __init__(self, conn, raw, *, start: datetime, days: int) -> None:
        self.conn, self.raw = conn, raw
        self.start, self.days = start, days

    @abc.abstractmethod
    def times(self, offsets: np.ndarray) -> list:
        """Offsets in seconds from `start` as this driver binds timestamps."""

    def json(self, value) -> str:
        return json.dumps(value)

    @abc.abstractmethod
    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """Append `rows` (tuples in `columns` order) to `table`."""

    @contextlib.asynccontextmanager
    async def bulk_mode(self, table: str) -> AsyncIterator[None]:
        yield


class SqliteWriter(Writer):
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


class PostgresWriter(Writer):
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


async def open_writer(conn, dialect: str, *, start: datetime, days: int) -> Writer:
    # The unit of work's transaction must be open before the driver is used directly,
    # so the raw inserts belong to it.
    await conn.execute(text("SELECT 1"))
    raw = (await conn.get_raw_connection()).driver_connection
    cls = PostgresWriter if dialect == "postgresql" else SqliteWriter
    return cls(conn, raw, start=start, days=days)
