# ruff: noqa
# Spike measurement script (ingest-floor), kept as it was run; not part of tierwise.
"""Timeline of bench kpi's ingestion (200k events on 1M members) on a copy of the cache."""
import sys
if __name__ == "__main__":
    import asyncio, time, shutil, os
    from pathlib import Path
    from datetime import date
    import domain; print("code:", domain.__file__)
    from domain import events as ev
    from domain.store import database as dbm
    from domain.store.repositories import events as evrepo
    from domain.importing import sources
    from scripts.bench import kpi
    T = []
    t0 = [0.0]
    def wrap(obj, name, label):
        orig = getattr(obj, name)
        async def w(*a, **k):
            s = time.perf_counter(); r = await orig(*a, **k); T.append((label, s - t0[0], time.perf_counter() - t0[0])); return r
        setattr(obj, name, w)
    wrap(evrepo.EventRepository, "insert_encoded", "insert")
    wrap(evrepo.EventRepository, "roll_up_since", "rollup")
    wrap(ev, "resolve_slots", "resolve")
    wrap(dbm.SqlAlchemyUnitOfWork, "commit", "commit")
    wrap(dbm.Database, "checkpoint", "checkpoint")
    orig_next = sources.ProcessBlocks._next
    def nxt(self):
        s = time.perf_counter(); r = orig_next(self); T.append(("wait_block", s - t0[0], time.perf_counter() - t0[0])); return r
    sources.ProcessBlocks._next = nxt
    from scripts import import_events
    oi = import_events.import_file
    async def imf(db, path, **k):
        t0[0] = time.perf_counter(); return await oi(db, path, **k)
    import_events.import_file = imf
    async def no_refresh(path, full):
        return 0.0
    kpi._refresh = no_refresh
    p = Path("/work/prof/tl1m/kpi.db"); p.parent.mkdir(exist_ok=True)
    for ext in ("", "-wal", "-shm"): Path(str(p) + ext).unlink(missing_ok=True)
    shutil.copyfile("/work/main/var/bench-kpi-1000000-10000000-365.db", p)
    os.sync(); time.sleep(2)
    s, _ = asyncio.run(kpi._ingest(p, count=200_000, day=date(2025, 6, 30), seed=7))
    tot = {}
    for lab, a, b in T: tot[lab] = tot.get(lab, 0) + b - a
    print(f"import {s:.2f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in sorted(tot.items())))
    for lab, a, b in sorted(T, key=lambda x: x[1]): print(f"   {a:6.3f}-{b:6.3f} {b-a:5.3f} {lab}")
