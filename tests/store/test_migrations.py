"""The migrations are the schema: what Alembic builds is what the code declares."""

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from domain.store import migrate
from domain.store.database import Database
from domain.store.tables import metadata


async def test_migrated_schema_matches_the_declared_tables(database):
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []


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
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
        assert diff == []
    finally:
        await db.dispose()
