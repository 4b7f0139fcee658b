# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
import asyncio, shutil, time, sys
from pathlib import Path
from datetime import date
from sqlalchemy import event
from sqlalchemy.engine import Engine
from scripts.bench import kpi
import domain; print("code:", domain.__file__)
from domain.store import database as dbm
stats = {}
@event.listens_for(Engine, "before_cursor_execute")
def b(conn, cursor, statement, params, context, executemany):
    conn.info.setdefault("t", []).append(time.perf_counter())
@event.listens_for(Engine, "after_cursor_execute")
def a(conn, cursor, statement, params, context, executemany):
    t = conn.info["t"].pop(); k=' '.join(statement.split())[:60]
    stats[k] = stats.get(k, 0) + time.perf_counter() - t
orig_commit = dbm.SqlAlchemyUnitOfWork.commit
async def commit(self):
    t=time.perf_counter(); await orig_commit(self); stats["COMMIT"]=stats.get("COMMIT",0)+time.perf_counter()-t
dbm.SqlAlchemyUnitOfWork.commit = commit
orig_ck = dbm.Database.checkpoint
async def ck(self):
    t=time.perf_counter(); await orig_ck(self); stats["CHECKPOINT"]=stats.get("CHECKPOINT",0)+time.perf_counter()-t
dbm.Database.checkpoint = ck
def main():
    import os
    from domain.store.repositories import events as ev
    if os.environ.get("CACHE"):
        ev._SQLITE_BULK_PRAGMAS = (f"PRAGMA cache_size=-{os.environ['CACHE']}",) + ev._SQLITE_BULK_PRAGMAS[1:]
        print(ev._SQLITE_BULK_PRAGMAS)
    p = Path("/work/prof/dc/scale.db")
    for ext in ("", "-wal", "-shm"): Path(str(p)+ext).unlink(missing_ok=True)
    shutil.copyfile("/work/prof/dc-base.db", p)
    if os.environ.get("NOSTAT") and "NOSTAT_DONE" not in dir():
        import sqlite3
        c = sqlite3.connect(p); c.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('member_days','events')"); c.commit(); c.close()
        print("stats of member_days/events removed")
    os.sync(); time.sleep(3)  # flush the copy before timing
    async def norefresh(path, full): return 0.0
    kpi._refresh = norefresh
    s, _ = asyncio.run(kpi._ingest(p, count=200_000, day=date(2025,6,30), seed=int(sys.argv[1]) if len(sys.argv)>1 else 7))
    print(f"import {s:.2f}")
    for k,v in sorted(stats.items(), key=lambda kv:-kv[1])[:8]: print(f"{v:6.2f} {k}")
if __name__ == "__main__": main()
