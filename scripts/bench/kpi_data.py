"""The data set of `tierwise bench kpi`, generated in numpy and written with the backend's
fastest plain path (not through the app): sqlite3 `executemany` into a file, or
PostgreSQL `COPY` into an empty migrated database. Secondary indexes are dropped before
and built once at the end, by sorting, not row by row.

N members join over `days` days with growth (more recent joins), six channels, three
tiers; E events, heavy-tailed per member, on days between the member's join day and the
end, about 5% purchases with amounts; `member_days` is their rollup, computed in numpy.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from pathlib import Path

import numpy as np

CHANNELS = ("wechat", "douyin", "xiaohongshu", "offline", "app", "referral")
TYPES = (("login", 0.30), ("like", 0.22), ("comment", 0.12), ("post", 0.06), ("share", 0.08),
         ("check_in", 0.12), ("purchase", 0.05), ("live_join", 0.05))
COUNTED = {"login": "logins", "like": "likes", "comment": "comments", "post": "posts",
           "share": "shares", "check_in": "check_ins", "purchase": "purchases"}
DAY_COLUMNS = ("events", "logins", "posts", "comments", "likes", "shares", "check_ins",
               "purchases")
TIERS = ("core", "potential", "basic")
CHUNK = 500_000
_TABLES = ("members", "events", "member_days")


@dataclass(frozen=True)
class DataSet:
    start: date
    days: int
    join_sec: np.ndarray  # per member: seconds from `start` to joining
    channel: np.ndarray  # per member: index into CHANNELS
    tier: np.ndarray  # per member: index into TIERS
    owner: np.ndarray  # per event: member index (id - 1)
    day: np.ndarray  # per event: day index from `start`
    sec: np.ndarray  # per event: seconds from `start`
    kind: np.ndarray  # per event: index into TYPES
    amount: np.ndarray  # per event: minor units, 0 for no amount

    @property
    def members(self) -> int:
        return len(self.join_sec)

    def stamps(self, seconds: np.ndarray) -> np.ndarray:
        """UTC timestamps `seconds` after the first day's midnight, as
        'YYYY-MM-DD HH:MM:SS.ffffff' text."""
        text = np.datetime_as_string(np.datetime64(self.start, "us")
                                     + seconds.astype("timedelta64[s]"), unit="us")
        return np.char.replace(text, "T", " ")

    def member_days(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """The rollup: (member id, day as ISO text, counts per DAY_COLUMNS, revenue) per
        member and day with events."""
        key = self.owner * (self.days + 1) + self.day
        cells, inverse = np.unique(key, return_inverse=True)
        names = [t for t, _ in TYPES]
        columns = {"events": np.bincount(inverse)}
        for i, name in enumerate(names):
            if name in COUNTED:
                columns[COUNTED[name]] = np.bincount(inverse, weights=self.kind == i,
                                                     minlength=len(cells)).astype(np.int64)
        revenue = np.bincount(inverse, weights=self.amount,
                              minlength=len(cells)).astype(np.int64)
        member = cells // (self.days + 1) + 1
        day_text = np.datetime_as_string(np.datetime64(self.start) + (
            cells % (self.days + 1)).astype("timedelta64[D]"), unit="D")
        counts = {c: columns.get(c, np.zeros(len(cells), dtype=np.int64)) for c in DAY_COLUMNS}
        return member, day_text, counts, revenue


def generate(*, members: int, events: int, days: int, end: date, seed: int) -> DataSet:
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days - 1)
    join_day = np.sort((days * rng.random(members) ** 0.6).astype(np.int64))
    join_sec = join_day * 86_400 + rng.integers(0, 86_400, members)
    channel = rng.choice(len(CHANNELS), members, p=[.3, .25, .15, .1, .1, .1])
    tier = rng.choice(3, members, p=[.15, .35, .5])
    weight = rng.pareto(1.5, members) + 0.2
    per_member = rng.multinomial(events, weight / weight.sum())
    owner = np.repeat(np.arange(members, dtype=np.int64), per_member)
    span = days - join_day[owner]
    day = join_day[owner] + (span * rng.random(len(owner)) ** 0.7).astype(np.int64)
    sec = day * 86_400 + rng.integers(0, 86_400, len(owner))
    kind = rng.choice(len(TYPES), len(owner), p=[p for _, p in TYPES])
    purchase = kind == [t for t, _ in TYPES].index("purchase")
    amount = np.where(purchase, rng.integers(500, 50_000, len(owner)), 0)
    return DataSet(start=start, days=days, join_sec=join_sec, channel=channel, tier=tier,
                   owner=owner, day=day, sec=sec, kind=kind, amount=amount)


def write_sqlite(path: Path, data: DataSet) -> None:
    """Write the data set into the migrated, empty SQLite file `path`."""
    conn = sqlite3.connect(path)
    # one big write of a throwaway file: no journal (a WAL would hold a copy of it all)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    cur = conn.cursor()
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND "
        f"tbl_name IN {_TABLES}").fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    tier_ids = []
    for rank, key in enumerate(TIERS, start=1):
        cur.execute("INSERT INTO tiers (key, name, rank, description, benefits, touch_channel, "
                    "touch_every_days, touch_content, created_at, updated_at) VALUES "
                    "(?, ?, ?, '', '[]', 'wechat', 7, '', ?, ?)", (key, key, rank, now, now))
        tier_ids.append(cur.lastrowid)
    joined = data.stamps(data.join_sec).tolist()
    member_ids = range(1, data.members + 1)
    cur.executemany(
        "INSERT INTO members (id, display_name, interests, channel, joined_at, first_seen_at, "
        "status, tier_id, tier_source, created_at) VALUES (?, ?, '[]', ?, ?, ?, 'active', ?, "
        "'model', ?)",
        zip(member_ids, (f"m{i}" for i in member_ids),
            np.array(CHANNELS, dtype=object)[data.channel].tolist(), joined, joined,
            np.array(tier_ids, dtype=np.int64)[data.tier].tolist(), repeat(now), strict=False))
    names = np.array([t for t, _ in TYPES], dtype=object)
    for lo in range(0, len(data.owner), CHUNK):
        hi = min(lo + CHUNK, len(data.owner))
        ids = (data.owner[lo:hi] + 1).tolist()
        amounts = np.where(data.amount[lo:hi] > 0, data.amount[lo:hi].astype(object),
                           None).tolist()
        event_ids = range(lo + 1, hi + 1)
        cur.executemany(
            "INSERT INTO events (id, external_id, member_id, origin_member_id, type, "
            "occurred_at, amount_minor, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            zip(event_ids, (f"b{i}" for i in event_ids), ids, ids,
                names[data.kind[lo:hi]].tolist(), data.stamps(data.sec[lo:hi]).tolist(),
                amounts, repeat(now), strict=False))
    member, day_text, counts, revenue = data.member_days()
    cur.executemany(
        f"INSERT INTO member_days (member_id, day, {', '.join(DAY_COLUMNS)}, revenue_minor, "
        "referral_invites) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        zip(member.tolist(), day_text.tolist(), *(counts[c].tolist() for c in DAY_COLUMNS),
            revenue.tolist(), strict=True))
    for _, sql in indexes:
        conn.execute(sql)
    conn.commit()
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


async def write_postgres(apg, data: DataSet) -> None:
    """Write the data set into a migrated, empty PostgreSQL database through the asyncpg
    connection `apg`: COPY in CSV with the tables' secondary indexes and foreign keys
    dropped (rebuilt and validated once at the end), identity sequences moved past the ids
    written, then ANALYZE."""
    moment = datetime.now(UTC)
    now = moment.strftime("%Y-%m-%d %H:%M:%S.%f+00")
    indexes = await apg.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
        "current_schema() AND i.tablename = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM "
        "pg_constraint c WHERE c.conname = i.indexname)", list(_TABLES))
    foreign_keys = await apg.fetch(
        "SELECT c.conrelid::regclass::text AS tab, c.conname, pg_get_constraintdef(c.oid) AS "
        "def FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid::regclass::text = "
        "ANY($1::text[])", list(_TABLES))
    for row in foreign_keys:  # checked once at the end, by a join, not row by row
        await apg.execute(f'ALTER TABLE {row["tab"]} DROP CONSTRAINT "{row["conname"]}"')
    for row in indexes:
        await apg.execute(f'DROP INDEX "{row["indexname"]}"')
    tier_ids = []
    for rank, key in enumerate(TIERS, start=1):
        tier_ids.append(await apg.fetchval(
            "INSERT INTO tiers (key, name, rank, description, benefits, touch_channel, "
            "touch_every_days, touch_content, created_at, updated_at) VALUES "
            "($1, $1, $2, '', '[]', 'wechat', 7, '', $3, $3) RETURNING id", key, rank, moment))
    joined = np.char.add(data.stamps(data.join_sec), "+00").tolist()
    channels = np.array(CHANNELS, dtype=object)[data.channel].tolist()
    tiers = np.array(tier_ids, dtype=np.int64)[data.tier].tolist()
    await _copy(apg, "members", ["id", "display_name", "interests", "channel", "joined_at",
                                 "first_seen_at", "status", "tier_id", "tier_source",
                                 "created_at"],
                (f'{i},m{i},"[]",{c},{j},{j},active,{t},model,{now}\n'
                 for i, c, j, t in zip(range(1, data.members + 1), channels, joined, tiers,
                                       strict=True)))
    names = np.array([t for t, _ in TYPES], dtype=object)

    def event_lines() -> Iterator[str]:
        for lo in range(0, len(data.owner), CHUNK):
            hi = min(lo + CHUNK, len(data.owner))
            at = np.char.add(data.stamps(data.sec[lo:hi]), "+00").tolist()
            amounts = np.where(data.amount[lo:hi] > 0, data.amount[lo:hi].astype(str),
                               "").tolist()
            for i, m, k, t, a in zip(range(lo + 1, hi + 1), (data.owner[lo:hi] + 1).tolist(),
                                     names[data.kind[lo:hi]].tolist(), at, amounts,
                                     strict=True):
                yield f"{i},b{i},{m},{m},{k},{t},{a},{now}\n"

    await _copy(apg, "events", ["id", "external_id", "member_id", "origin_member_id", "type",
                                "occurred_at", "amount_minor", "received_at"], event_lines())
    member, day_text, counts, revenue = data.member_days()
    columns = [counts[c].tolist() for c in DAY_COLUMNS]
    await _copy(apg, "member_days", ["member_id", "day", *DAY_COLUMNS, "revenue_minor",
                                     "referral_invites"],
                (",".join(map(str, row)) + ",0\n" for row in zip(
                    member.tolist(), day_text.tolist(), *columns, revenue.tolist(),
                    strict=True)))
    for table in ("members", "events"):
        await apg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"(SELECT max(id) FROM {table}))")
    for row in indexes:
        await apg.execute(row["indexdef"])
    for row in foreign_keys:
        await apg.execute(f'ALTER TABLE {row["tab"]} ADD CONSTRAINT "{row["conname"]}" '
                          f'{row["def"]}')
    await apg.execute("ANALYZE")


async def _copy(apg, table: str, columns: list[str], lines: Iterator[str]) -> None:
    """COPY CSV `lines` into `table`, sent in pieces of about 8 MB."""
    async def pieces():
        buffer = io.StringIO()
        for line in lines:
            buffer.write(line)
            if buffer.tell() >= 8 << 20:
                yield buffer.getvalue().encode()
                buffer = io.StringIO()
        if buffer.tell():
            yield buffer.getvalue().encode()

    await apg.copy_to_table(table, source=pieces(), columns=columns, format="csv")
