"""The unit of work's transaction settings, in the real store."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.factories import make_member

_ORPHAN = ("INSERT INTO events (external_id, member_id, origin_member_id, type, occurred_at,"
           " received_at) VALUES (:x, :m, :m, 'login', '2026-01-01 00:00:00.000000',"
           " '2026-01-01 00:00:00.000000')")


async def test_a_bulk_transaction_without_reference_checks_leaves_the_next_one_checked(
        database):
    """`check_references=False` is for bulk loads that check references themselves; on
    SQLite it skips the row-by-row foreign-key lookups of that transaction only, and the
    same pooled connection checks them again in the next one."""
    ann = await make_member(database)
    nobody = ann.id + 1000
    async with database.unit_of_work(check_references=False) as uow:
        if database.dialect == "sqlite":
            await uow.connection.execute(text(_ORPHAN), {"x": "unchecked", "m": nobody})
            # nothing committed: the orphan goes with the rollback
        else:  # PostgreSQL checks regardless
            with pytest.raises(IntegrityError):
                await uow.connection.execute(text(_ORPHAN), {"x": "unchecked", "m": nobody})
    for _ in range(2):  # whichever pooled connection the next transactions get
        async with database.unit_of_work() as uow:
            with pytest.raises(IntegrityError):
                await uow.connection.execute(text(_ORPHAN), {"x": "checked", "m": nobody})
    async with database.unit_of_work() as uow:  # a valid reference still lands
        await uow.connection.execute(text(_ORPHAN), {"x": "fine", "m": ann.id})
        await uow.commit()
    async with database.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT external_id FROM events"))).scalars().all()
    assert stored == ["fine"]
