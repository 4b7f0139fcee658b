# ruff: noqa
# Spike measurement script (ingest-floor), kept as it was run; not part of tierwise.
"""Copy the 0018 cache, import 200k events (the bench's import), checkpoint: snapshot."""
import asyncio, os, shutil, sqlite3, sys, time
from pathlib import Path
from datetime import date

def main():
    import domain; print("code:", domain.__file__)
    import numpy as np
    from domain.store.database import Database
    from scripts import import_events
    src = "/work/main/var/bench-kpi-1000000-10000000-365.db"
    p = Path("/work/prof/refresh2/snap.db")
    for ext in ("", "-wal", "-shm"): Path(str(p)+ext).unlink(missing_ok=True)
    shutil.copyfile(src, p); os.sync()
    conn = sqlite3.connect(p); print("schema", conn.execute("select version_num from alembic_version").fetchone()); conn.close()
    seed, count, day = 7, 200_000, date(2025, 6, 30)
    rng = np.random.default_rng(seed + 1)
    conn = sqlite3.connect(p); top = conn.execute("SELECT max(id) FROM members").fetchone()[0]; conn.close()
    owners = rng.integers(1, top + 1, count)
    kinds = rng.choice(np.array(["login", "like", "post", "purchase"]), count, p=[.5, .3, .1, .1])
    seconds = rng.integers(0, 86_400, count)
    stamps = np.datetime_as_string(np.datetime64(day, "s") + seconds.astype("timedelta64[s]"), unit="s")
    amounts = np.where(kinds == "purchase", "1999", "")
    csv_path = p.with_name("ingest.csv")
    with csv_path.open("w", encoding="utf-8") as f:
        f.write("external_id,type,occurred_at,member_id,amount_minor\n")
        f.writelines(f"ingest-{i},{k},{t}Z,{m},{a}\n" for i, (k, t, m, a) in enumerate(
            zip(kinds.tolist(), stamps.tolist(), owners.tolist(), amounts.tolist(), strict=True)))
    async def imp():
        db = Database(f"sqlite+aiosqlite:///{p}")
        try:
            t = time.perf_counter(); out = await import_events.import_file(db, csv_path)
            print("import", time.perf_counter() - t, out.report.accepted)
        finally:
            await db.dispose()
    asyncio.run(imp())
    conn = sqlite3.connect(p); conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"); conn.close()
    os.sync(); print("snapshot ready")
if __name__ == "__main__": main()
