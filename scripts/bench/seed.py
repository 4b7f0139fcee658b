"""`tierwise bench seed`: demo community generation and write time on SQLite, against a
plain-sqlite3 baseline measured in the same run.

The baseline inserts the same event rows (prebuilt, so it pays no row building) with
`sqlite3.executemany` into an identical, freshly migrated events table in a temporary
file, with the app's connection settings (WAL, synchronous=NORMAL, foreign keys on).
The ratio is tierwise's whole write (every table, rows built from the generator's
arrays) over that baseline: below 1 means the bulk writer beats the naive insert.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from domain import demo
from domain.store import bulk, migrate
from domain.store.database import Database


def add_arguments(parser) -> None:
    parser.add_argument("--members", type=int, default=20_000, help="members (default 20000)")
    parser.add_argument("--days", type=int, default=180, help="days (default 180)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="fail (exit 1) when generate + write takes longer (default 60 s)")


def run(args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        ours, baseline = Path(tmp) / "tierwise.db", Path(tmp) / "baseline.db"
        for path in (ours, baseline):
            migrate.upgrade(f"sqlite+aiosqlite:///{path}")
        started = time.perf_counter()
        community = demo.generate(members=args.members, days=args.days, seed=args.seed,
                                  end=datetime.now(UTC).date())
        generate_s = time.perf_counter() - started
        write_s = asyncio.run(_write(f"sqlite+aiosqlite:///{ours}", community))
        baseline_s = _baseline(baseline, community)
    rows = (len(community.members) + len(community.identities) + len(community.assignments)
            + len(community.events))
    _report(community, rows=rows, generate_s=generate_s, write_s=write_s,
            baseline_s=baseline_s)
    return 0 if generate_s + write_s <= args.budget else 1


async def _write(url: str, community: demo.Community) -> float:
    db = Database(url)
    try:
        started = time.perf_counter()
        await bulk.write_community(db, community, reason="bench")
        return time.perf_counter() - started
    finally:
        await db.dispose()


def _baseline(path: Path, community: demo.Community) -> float:
    """Seconds for plain executemany of the event rows plus the commit."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN IMMEDIATE")
        ids = np.arange(1, len(community.members) + 1)
        # Members only so the events' foreign keys hold; not timed.
        conn.executemany(
            "INSERT INTO members (id, display_name, interests, channel, joined_at, "
            "first_seen_at, status, created_at) VALUES (?, 'm', '[]', 'wechat', "
            "'2000-01-01 00:00:00.000000', '2000-01-01 00:00:00.000000', 'active', "
            "'2000-01-01 00:00:00.000000')", [(i,) for i in ids.tolist()])
        insert = (f"INSERT INTO events ({', '.join(bulk.EVENT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in bulk.EVENT_COLUMNS)})")
        elapsed = 0.0
        for batch in bulk.sqlite_event_rows(community, ids):
            started = time.perf_counter()
            conn.executemany(insert, batch)
            elapsed += time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("COMMIT")
        return elapsed + time.perf_counter() - started
    finally:
        conn.close()


def _report(community: demo.Community, *, rows: int, generate_s: float, write_s: float,
            baseline_s: float) -> None:
    events = len(community.events)
    member_days = float((community.days * demo.DAY - community.members.joined).sum() / demo.DAY)
    print(f"demo community: {len(community.members):,} members x {community.days} days "
          f"(seed {community.seed}), {events:,} events, "
          f"{events / member_days:.2f} events per member-day")
    print(f"  generate             {generate_s:8.2f} s")
    print(f"  write (SQLite)       {write_s:8.2f} s   {rows:,} rows, {rows / write_s:,.0f} rows/s")
    print(f"  total                {generate_s + write_s:8.2f} s")
    print(f"  baseline             {baseline_s:8.2f} s   plain sqlite3 executemany of the "
          f"{events:,} event rows, {events / baseline_s:,.0f} rows/s")
    print(f"  ratio write/baseline {write_s / baseline_s:8.2f}")
