"""The migrations are the schema: what Alembic builds is what the code declares."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from domain.store.tables import metadata


async def test_migrated_schema_matches_the_declared_tables(database):
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []
