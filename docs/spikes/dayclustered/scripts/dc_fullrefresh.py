# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
import asyncio, sys, time
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.engine import Engine
stats = {}
@event.listens_for(Engine, "before_cursor_execute")
def b(conn, cursor, statement, params, context, executemany):
    conn.info.setdefault("t", []).append(time.perf_counter())
@event.listens_for(Engine, "after_cursor_execute")
def a(conn, cursor, statement, params, context, executemany):
    t = conn.info["t"].pop(); k=' '.join(statement.split())[:90]
    stats[k] = stats.get(k, 0) + time.perf_counter() - t
from scripts.bench import kpi
import domain
print(domain.__file__)
s = asyncio.run(kpi._refresh(Path(sys.argv[1]), full=True))
print(f"full refresh {s:.2f}")
for k,v in sorted(stats.items(), key=lambda kv:-kv[1])[:12]: print(f"{v:6.2f} {k}")
