# ruff: noqa
# Spike measurement script (ingest-floor), kept as it was run; not part of tierwise.
"""Floor of a columnar per-member KPI state: 1M members x 12 columns (int32/int64) in
blocks of B members stored as BLOBs in SQLite (WAL); one refresh = read every block,
numpy-update 181k random members, write every block back, commit."""
import os, sqlite3, sys, time
import numpy as np
N, B = 1_000_000, int(sys.argv[1]) if len(sys.argv) > 1 else 1024
COLS = 12
path = "/work/prof/col/state.db"
for ext in ("", "-wal", "-shm"):
    if os.path.exists(path + ext): os.remove(path + ext)
conn = sqlite3.connect(path, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL"); conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("CREATE TABLE state (block INTEGER PRIMARY KEY, data BLOB NOT NULL)")
rng = np.random.default_rng(1)
blocks = (N + B - 1) // B
conn.execute("BEGIN")
conn.executemany("INSERT INTO state VALUES (?, ?)", ((b, rng.integers(0, 1000, (COLS, B), dtype=np.int32).tobytes()) for b in range(blocks)))
conn.execute("COMMIT"); conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
members = rng.integers(0, N, 200_000)
for rep in range(3):
    t = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    touched = np.unique(members // B)
    rows = conn.execute("SELECT block, data FROM state").fetchall()
    t1 = time.perf_counter()
    state = np.empty((COLS, blocks * B), dtype=np.int32)
    for b, data in rows:
        state[:, b * B:(b + 1) * B] = np.frombuffer(data, dtype=np.int32).reshape(COLS, B)
    ids = np.unique(members)
    state[0, ids] += 1; state[1, ids] = 20000; np.maximum.at(state[2], members, 5)
    t2 = time.perf_counter()
    conn.executemany("UPDATE state SET data = ? WHERE block = ?", ((state[:, b * B:(b + 1) * B].tobytes(), int(b)) for b in touched))
    t3 = time.perf_counter()
    conn.execute("COMMIT")
    t4 = time.perf_counter()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    t5 = time.perf_counter()
    print(f"B={B} blocks={blocks} touched={len(touched)} read {t1-t:.3f} numpy {t2-t1:.3f} write {t3-t2:.3f} commit {t4-t3:.3f} total {t4-t:.3f} checkpoint {t5-t4:.3f}")
