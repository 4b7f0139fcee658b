"""The migrations are the schema: what Alembic builds is what the code declares."""

import asyncio
import warnings

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Index, inspect, text

from domain.store import migrate
from domain.store.database import Database
from domain.store.tables import metadata


def _declared_for(dialect: str):
    """Alembic ignores `ddl_if`: leave out the indexes declared for another backend."""
    def include(obj, name, type_, reflected, compare_to):
        condition = getattr(obj, "_ddl_if", None) if isinstance(obj, Index) else None
        return reflected or condition is None or condition.dialect == dialect
    return include


def _compare(sync):
    context = MigrationContext.configure(
        sync, opts={"include_object": _declared_for(sync.dialect.name)})
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (checked by name below)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        return compare_metadata(context, metadata)


def _index_names(sync, table):
    if sync.dialect.name == "sqlite":  # the inspector leaves expression indexes out
        return set(sync.scalars(text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"), {"t": table}))
    return {ix["name"] for ix in inspect(sync).get_indexes(table)}


async def test_migrated_schema_matches_the_declared_tables(database):
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(_compare)
        dialect = conn.dialect.name
        declared = {ix.name for ix in metadata.tables["events"].indexes
                    if ix._ddl_if is None or ix._ddl_if.dialect == dialect}
        built = await conn.run_sync(_index_names, "events")
    assert diff == []
    assert declared <= built


async def test_every_migration_rolls_back_and_forward_to_the_same_schema(database_url):
    """Operators can roll a release back: downgrading to an empty database and upgrading
    again gives the declared schema, on both backends."""
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(database_url), "base")
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            left = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert set(left) <= {"alembic_version"}
    finally:
        await db.dispose()
    await migrate.upgrade_async(database_url)
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_compare)
        assert diff == []
    finally:
        await db.dispose()
