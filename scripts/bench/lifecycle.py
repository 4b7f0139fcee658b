"""`tierwise bench lifecycle`: refreshLifecycle (stages + churn warnings) over N members on
SQLite, against a plain-sqlite3 baseline measured in the same run.

Set-up (not timed): a freshly migrated SQLite file gets N members and a synthetic
`member_days` rollup (on average `--member-days` active days each over `--days`
days, heavy-tailed like real communities, with logins and some purchases), written
with plain `sqlite3.executemany`.

Timed: (1) the first refresh, where every member gets a stage (N transitions);
(2) a refresh for the next day, where only a few stages change (the daily case).
Baseline: the same GROUP BY over member_days read into Python by plain sqlite3,
the floor any refresh pays; the ratio is each refresh over it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from domain.clock import utcnow
from domain.store import migrate
from domain.store.database import Database
from scripts import lifecycle as lifecycle_cli

BASELINE = """
SELECT member_id, min(day), max(day), max(CASE WHEN logins > 0 THEN day END),
       sum(CASE WHEN day >= ? THEN 1 ELSE 0 END),
       sum(CASE WHEN day >= ? THEN revenue_minor ELSE 0 END)
FROM member_days WHERE day <= ? GROUP BY member_id
"""


def add_arguments(parser) -> None:
    parser.add_argument("--members", type=int, default=1_000_000,
                        help="members (default 1000000)")
    parser.add_argument("--days", type=int, default=180, help="days of history (default 180)")
    parser.add_argument("--member-days", type=float, default=8.0,
                        help="average active days per member (default 8, as the demo)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="fail (exit 1) when the first refresh takes longer (default 60 s)")


def run(args) -> int:
    as_of = utcnow().date() - timedelta(days=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tierwise.db"
        migrate.upgrade(f"sqlite+aiosqlite:///{path}")
        started = time.perf_counter()
        rows = _populate(path, members=args.members, days=args.days, per_member=args.member_days,
                         seed=args.seed, end=as_of)
        print(f"set-up: {args.members:,} members, {rows:,} member-days in "
              f"{time.perf_counter() - started:.1f} s (not timed)")
        baseline_s = _baseline(path, as_of)
        first_s, first = asyncio.run(_refresh(path, as_of))
        daily_s, daily = asyncio.run(_refresh(path, as_of + timedelta(days=1)))
        baseline_after = _baseline(path, as_of)
    baseline = (baseline_s + baseline_after) / 2  # load drifts over a run; take the mean
    stages = ", ".join(f"{s}: {n:,}" for s, n in first.counts.items())
    print(f"stages as of {as_of}: {stages}")
    print(f"baseline (plain sqlite3 GROUP BY into Python): {baseline:.2f} s "
          f"({baseline_s:.2f} before, {baseline_after:.2f} after)")
    print(f"first refresh:  {first_s:6.2f} s  {first.transitions:,} transitions, "
          f"{first.warnings:,} warnings  ratio {first_s / baseline:.1f}x baseline")
    print(f"daily refresh:  {daily_s:6.2f} s  {daily.transitions:,} transitions, "
          f"{daily.warnings:,} warnings  ratio {daily_s / baseline:.1f}x baseline")
    ok = first_s <= args.budget
    print(f"target: first refresh <= {args.budget:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


async def _refresh(path: Path, as_of: date):
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        started = time.perf_counter()
        result = await lifecycle_cli.refresh(db, as_of)
        return time.perf_counter() - started, result
    finally:
        await db.dispose()


def _baseline(path: Path, as_of: date) -> float:
    conn = sqlite3.connect(path)
    try:
        started = time.perf_counter()
        conn.execute(BASELINE, ((as_of - timedelta(days=29)).isoformat(),
                                (as_of - timedelta(days=89)).isoformat(),
                                as_of.isoformat())).fetchall()
        return time.perf_counter() - started
    finally:
        conn.close()


def _populate(path: Path, *, members: int, days: int, per_member: float, seed: int,
              end: date) -> int:
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days - 1)
    joined = rng.integers(0, days, members)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        dates = [(start + timedelta(days=int(d))).isoformat() for d in range(days)]
        conn.executemany(
            "INSERT INTO members (id, display_name, interests, channel, joined_at, first_seen_at,"
            " status, created_at) VALUES (?, ?, '[]', 'app', ?, ?, 'active', ?)",
            ((i + 1, f"m{i + 1}", t, t, t) for i, t in enumerate(
                dates[j] + " 08:00:00.000000" for j in joined.tolist())))
        # Heavy-tailed activity: a lognormal number of active days, after joining.
        active = np.minimum(rng.lognormal(np.log(per_member) - 0.5, 1.0, members).astype(int),
                            days - joined)
        member_of = np.repeat(np.arange(members), active)
        offsets = joined[member_of] + (rng.random(len(member_of))
                                       * (days - joined[member_of])).astype(int)
        pairs = np.unique(member_of.astype(np.int64) * days + offsets)
        ids, day_index = pairs // days + 1, pairs % days
        logins = (rng.random(len(pairs)) < 0.7).astype(int)
        revenue = np.where(rng.random(len(pairs)) < 0.02, rng.integers(1_000, 100_000,
                                                                        len(pairs)), 0)
        conn.executemany(
            "INSERT INTO member_days (member_id, day, events, logins, posts, comments, likes,"
            " shares, check_ins, purchases, revenue_minor, referral_invites)"
            " VALUES (?, ?, 1 + ?, ?, 0, 0, 1, 0, 0, ? > 0, ?, 0)",
            zip(ids.tolist(), (dates[d] for d in day_index.tolist()), logins.tolist(),
                logins.tolist(), revenue.tolist(), revenue.tolist(), strict=True))
        conn.commit()
        return len(pairs)
    finally:
        conn.close()
