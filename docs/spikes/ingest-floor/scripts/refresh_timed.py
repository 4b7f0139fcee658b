# ruff: noqa
# Spike measurement script (ingest-floor), kept as it was run; not part of tierwise.
"""Time one incremental KPI refresh on a fresh copy of the snapshot; per-statement times;
optional checksum of the KPI tables (argv: tag [n_top] [check])."""
import asyncio, os, shutil, sqlite3, sys, time, hashlib
from pathlib import Path
from datetime import UTC, datetime

def main():
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    import domain; print("code:", domain.__file__)
    from domain import kpi_reports
    from domain.store.database import Database
    from domain.store import database as dbm
    stats = {}
    captured = []
    @event.listens_for(Engine, "before_cursor_execute")
    def b(conn, cursor, statement, params, context, executemany):
        conn.info.setdefault("t", []).append(time.perf_counter())
    @event.listens_for(Engine, "after_cursor_execute")
    def a(conn, cursor, statement, params, context, executemany):
        t = conn.info["t"].pop(); k = ' '.join(statement.split())[:110]
        captured.append((statement, params, time.perf_counter() - t))
        stats[k] = stats.get(k, 0) + time.perf_counter() - t
    orig_commit = dbm.SqlAlchemyUnitOfWork.commit
    async def commit(self):
        t = time.perf_counter(); await orig_commit(self); stats["COMMIT"] = stats.get("COMMIT", 0) + time.perf_counter() - t
    dbm.SqlAlchemyUnitOfWork.commit = commit
    p = Path("/work/prof/refresh2/run.db")
    for ext in ("", "-wal", "-shm"): Path(str(p)+ext).unlink(missing_ok=True)
    shutil.copyfile("/work/prof/refresh2/snap.db", p); os.sync(); time.sleep(3)
    async def go():
        db = Database(f"sqlite+aiosqlite:///{p}")
        try:
            t = time.perf_counter(); c = time.process_time()
            async with db.unit_of_work() as uow:
                for pragma in filter(None, os.environ.get("PRAGMAS", "").split(";")):
                    await uow.kpi.conn.exec_driver_sql("PRAGMA " + pragma)
                r = await kpi_reports.refresh_kpi_rollups(uow=uow, actor="bench", now=datetime.now(UTC))
            global CPU; CPU = time.process_time() - c
            return time.perf_counter() - t, r
        finally:
            await db.dispose()
    s, r = asyncio.run(go())
    print(f"RESULT {sys.argv[1] if len(sys.argv)>1 else ''} refresh {s:.3f} cpu {CPU:.3f} members {r.members} days {r.days}")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 14
    for k, v in sorted(stats.items(), key=lambda kv: -kv[1])[:n]: print(f"{v:6.3f} {k}")
    if os.environ.get("CAPTURE"):
        import pickle; pickle.dump(captured, open(os.environ["CAPTURE"], "wb"))
    if len(sys.argv) > 3:
        conn = sqlite3.connect(p)
        for t in ("kpi_activity_days", "kpi_member_summary", "kpi_member_months", "kpi_cohort_months",
                  "kpi_member_trailing", "kpi_trailing_counts", "kpi_joined_days", "kpi_state"):
            cols = [c[1] for c in conn.execute(f"pragma table_info({t})") if c[1] not in ("refreshed_at",)]
            h = hashlib.sha256()
            for row in conn.execute(f"select {','.join(cols)} from {t} order by {','.join(cols)}"):
                h.update(repr(row).encode())
            print("CHECK", t, h.hexdigest()[:16])
        conn.close()
if __name__ == "__main__": main()
