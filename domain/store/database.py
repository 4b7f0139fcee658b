"""Engines and the unit of work: the only door to the database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.store.repositories import (
    ActivityRepository,
    AuditRepository,
    BadgeRepository,
    CalibrationRepository,
    CampaignRepository,
    ChurnScoreRepository,
    EventRepository,
    ExperimentRepository,
    FeatureRepository,
    HistoryRepository,
    ImportedMemberRepository,
    KpiRepository,
    LifecycleRepository,
    MemberRepository,
    PointsRepository,
    ReferralRepository,
    SimulationRunRepository,
    TierModelRepository,
    TierRepository,
    TokenRepository,
)

DEFAULT_URL = "sqlite+aiosqlite:///var/tierwise.db"
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


def normalise_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine per process. `unit_of_work()` opens a transaction per use case."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        options: dict = {}
        if self.dialect == "postgresql":
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        self._statements = 0
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count)

    def unit_of_work(self, *, write: bool = True, check_references: bool = True
                     ) -> SqlAlchemyUnitOfWork:
        """A unit of work (see SqlAlchemyUnitOfWork). `check_references=False`: on
        SQLite the transaction does not check foreign keys, for a bulk load that checks
        every reference it writes itself, in the same transaction (an import binds each
        event to a member it looked up under the write lock). Each lookup costs a seek
        per reference, measured at about a sixth of an import into a million members.
        PostgreSQL checks them regardless."""
        return SqlAlchemyUnitOfWork(self.engine, write=write,
                                    check_references=check_references)

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file now, so a bulk load
        leaves none of its work to the next writer (PostgreSQL: nothing to do)."""
        if self.dialect != "sqlite":
            return
        async with self.engine.connect() as conn:  # no statement: no transaction begun
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def dispose(self) -> None:
        await self.engine.dispose()

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(_CONTROL):
            self._statements += 1

    @contextlib.contextmanager
    def statement_counter(self) -> Iterator[list[int]]:
        """Count the SQL statements (not transaction control) issued inside the block."""
        box = [0]
        start = self._statements
        try:
            yield box
        finally:
            box[0] = self._statements - start


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's implicit transactions start late and never for SELECT; take control so
    # a unit of work is one real transaction, and writers take the lock up front
    # (BEGIN IMMEDIATE) instead of failing on a read-to-write upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the log every 10,000 pages (~40 MB) instead of 1,000: a bulk load's
        # pages, rewritten chunk after chunk, are copied back once per few chunks.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn) -> None:
        options = conn.get_execution_options()
        # Before BEGIN (a no-op inside a transaction), and whenever it differs from what
        # this pooled connection has: it never carries an unchecked transaction's setting
        # into the next, and the usual transaction pays nothing.
        checked = options.get("tierwise_check_references", True)
        state = conn.connection.info  # lives with the DBAPI connection
        if state.get("foreign_keys", True) != checked:
            conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if checked else 'OFF'}")
            state["foreign_keys"] = checked
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("tierwise_write") else "BEGIN")


class SqlAlchemyUnitOfWork:
    """A transaction with the repositories bound to it.

    `async with db.unit_of_work() as uow:` ... `await uow.commit()`; leaving the
    block without committing rolls everything back, so a failed use case writes
    nothing.
    """

    def __init__(self, engine: AsyncEngine, *, write: bool, check_references: bool = True
                 ) -> None:
        self._engine = engine
        self._write = write
        self._check_references = check_references
        self.connection: AsyncConnection | None = None

    async def __aenter__(self) -> SqlAlchemyUnitOfWork:
        conn = await self._engine.connect()
        if self._write:
            conn = await conn.execution_options(tierwise_write=True)
        if not self._check_references:
            conn = await conn.execution_options(tierwise_check_references=False)
        self.connection = conn
        self.members = MemberRepository(conn)
        self.tiers = TierRepository(conn)
        self.campaigns = CampaignRepository(conn)
        self.events = EventRepository(conn)
        self.activity = ActivityRepository(conn)
        self.histories = HistoryRepository(conn)
        self.churn_scores = ChurnScoreRepository(conn)
        self.points = PointsRepository(conn)
        self.experiments = ExperimentRepository(conn)
        self.tokens = TokenRepository(conn)
        self.audit = AuditRepository(conn)
        self.badges = BadgeRepository(conn)
        self.referrals = ReferralRepository(conn)
        self.lifecycle = LifecycleRepository(conn)
        self.features = FeatureRepository(conn)
        self.tier_models = TierModelRepository(conn)
        self.calibration = CalibrationRepository(conn)
        self.kpi = KpiRepository(conn)
        self.imported_members = ImportedMemberRepository(conn)
        self.simulation_runs = SimulationRunRepository(conn)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.connection is not None
        try:
            if self.connection.in_transaction():
                await self.connection.rollback()
        finally:
            await self.connection.close()

    async def commit(self) -> None:
        assert self.connection is not None
        await self.connection.commit()

    async def rollback(self) -> None:
        assert self.connection is not None
        await self.connection.rollback()
