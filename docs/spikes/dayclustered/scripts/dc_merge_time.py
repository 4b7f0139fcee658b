# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
"""Rebuild of two members' rollup (what a merge does) on the 1M/10M copy without stats:
old-shaped SQL (by member only) vs the worktree's ActivityRepository.rebuild (days first)."""
import asyncio, sqlite3, time, sys
from domain.store.database import Database
from domain.store.repositories.activity import ActivityRepository
DB = sys.argv[1]
IDS = [12345, 234567]
c = sqlite3.connect(DB, isolation_level=None)
print("stats:", c.execute("select count(*) from sqlite_stat1 where tbl in ('member_days','events')").fetchone())
c.execute("BEGIN")
t = time.perf_counter()
c.execute(f"SELECT DISTINCT day FROM member_days WHERE member_id IN (12345, 234567)").fetchall()
c.execute("DELETE FROM member_days WHERE member_id IN (12345, 234567)")
n = c.execute("SELECT count(*) FROM events WHERE member_id IN (12345, 234567)").fetchone()
print(f"old-shaped (days, delete, events read): {time.perf_counter()-t:.3f} s", n)
c.execute("ROLLBACK"); c.close()
async def new():
    db = Database(f"sqlite+aiosqlite:///{DB}")
    try:
        async with db.engine.connect() as conn:
            await conn.begin()
            repo = ActivityRepository(conn)
            t = time.perf_counter()
            days = await repo.days_with_rows(IDS)
            await repo.rebuild(IDS)
            print(f"new rebuild incl. days: {time.perf_counter()-t:.3f} s ({len(days)} days)")
            await conn.rollback()
    finally:
        await db.dispose()
asyncio.run(new())
