"""`tierwise bench import`: event import throughput, CSV and JSON Lines, against a plain
sqlite3 baseline measured in the same run.

Members are seeded in bulk (the demo generator and bulk writer); then a CSV file and a
JSON Lines file of the same N events (half naming the member by id, half by a channel
identity; purchases with amounts, posts with properties) are imported with exactly
what `tierwise import-events` runs, each into a fresh copy of the seeded database, and
in the last round the CSV file once more (every row a duplicate). The baseline inserts
the same events, prebuilt (members already resolved, timestamps already formatted: no
parsing, no checks, no rollup), with `sqlite3.executemany` into an identical freshly
migrated table, one transaction per chunk, with the app's connection settings. A round
is one baseline, one CSV and one JSON Lines import; `--repeat` rounds run (default 3)
and the medians are the figures, with each import's range of rates. The ratio is the
import's rate over the baseline's: it says what parsing, checking, member resolution
and the rollup cost on top of SQLite's own work, on this machine.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from domain import demo, importing
from domain.events import EventType
from domain.store import bulk, migrate
from domain.store.database import Database
from domain.store.tables import events as events_table
from domain.store.tables import member_days
from scripts import import_events

TARGET = 50_000  # events/s for the CSV import on SQLite (the import issue's acceptance)
CHINA = timezone(timedelta(hours=8))
TYPES = ((EventType.LOGIN, 30), (EventType.LIKE, 25), (EventType.COMMENT, 12),
         (EventType.POST, 6), (EventType.SHARE, 8), (EventType.CHECK_IN, 12),
         (EventType.PURCHASE, 5), (EventType.LIVE_JOIN, 2))


@dataclass(frozen=True, slots=True)
class BenchEvent:
    external_id: str
    type: EventType
    occurred_at: datetime
    member_id: int
    identity: tuple[str, str] | None  # (channel, external id), or None: named by member_id
    amount_minor: int | None
    channel: str
    properties: dict | None


def add_arguments(parser) -> None:
    parser.add_argument("--events", type=int, default=200_000, help="events (default 200000)")
    parser.add_argument("--members", type=int, default=5_000, help="members (default 5000)")
    parser.add_argument("--chunk-size", type=int, default=importing.DEFAULT_CHUNK,
                        help=f"rows per transaction (default {importing.DEFAULT_CHUNK})")
    parser.add_argument("--database", metavar="URL",
                        help="import into this (scratch) database instead of temporary SQLite "
                             "files; members and events are added to it")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of baseline and imports, each into a fresh copy of the "
                             "seeded database; medians are reported (default 3; 1 with "
                             "--database)")
    parser.add_argument("--target", type=float, default=TARGET,
                        help=f"fail (exit 1) when the CSV import is slower (default {TARGET})")


def run(args) -> int:
    seed = random.randrange(1, 1_000_000)  # fresh demo ids, should --database be reused
    community = demo.generate(members=args.members, days=1, seed=seed,
                              end=datetime.now(UTC).date())
    repeat = 1 if args.database else max(1, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        setup = asyncio.run(_setup(folder, args, community, seed))
        # Rounds of baseline, CSV and JSON Lines, each into a fresh copy of the seeded
        # database; the medians are the figures: on a shared machine the load drifts
        # within a run, and one sample can land on a busy second.
        runs: dict[str, list[import_events.Outcome]] = {}
        baselines = []
        for round_ in range(repeat):
            baselines.append(_baseline(folder / f"baseline-{round_}.db", community,
                                       setup.first_id, setup.rows, args.chunk_size))
            for name, outcome in asyncio.run(_imports(setup, args.chunk_size,
                                                      again=round_ == repeat - 1)).items():
                runs.setdefault(name, []).append(outcome)
        checks = asyncio.run(_rollup_checks(setup.urls))
    backend = "PostgreSQL" if "postgres" in (args.database or "") else "SQLite"
    results = {name: _median(outcomes) for name, outcomes in runs.items()}
    _report(results, runs, statistics.median(baselines), events=len(setup.rows),
            members=len(community.members), chunk_size=args.chunk_size, backend=backend,
            target=args.target)
    consistent = True
    for url, (rolled, stored) in checks.items():
        name = url.rsplit("/", 1)[-1]
        same = rolled == stored
        consistent &= same
        print(f"  rollup check {name}: sum(member_days.events) {rolled:,} "
              f"{'==' if same else '!='} events {stored:,}{'' if same else '  MISMATCH'}")
    return 0 if results["CSV import"].rate >= args.target and consistent else 1


def _median(outcomes: list[import_events.Outcome]) -> import_events.Outcome:
    """The run of median time (the upper one of an even count)."""
    return sorted(outcomes, key=lambda o: o.seconds)[len(outcomes) // 2]


@dataclass(frozen=True, slots=True)
class Setup:
    urls: dict[str, str]  # csv, jsonl: the database each file is imported into
    files: dict[str, Path]
    first_id: int
    rows: list[BenchEvent]  # the CSV file's events
    template: Path | None  # SQLite: the seeded database each round's files start from


async def _setup(folder: Path, args, community: demo.Community, seed: int) -> Setup:
    if args.database:  # one scratch database: the JSON Lines events get their own ids
        urls = {"csv": args.database, "jsonl": args.database}
        await migrate.upgrade_async(args.database)
        first_id = await _seed(args.database, community)
        template = None
    else:  # a fresh copy of one seeded SQLite file per import
        urls = {name: f"sqlite+aiosqlite:///{folder / name}.db" for name in ("csv", "jsonl")}
        template = folder / "seeded.db"
        await migrate.upgrade_async(f"sqlite+aiosqlite:///{template}")
        first_id = await _seed(f"sqlite+aiosqlite:///{template}", community)
    rows = _events(community, first_id, count=args.events, seed=seed)
    jsonl_rows = (_events(community, first_id, count=args.events, seed=seed, prefix="j")
                  if args.database else rows)
    files = {"csv": folder / "events.csv", "jsonl": folder / "events.jsonl"}
    _write_csv(files["csv"], rows)
    _write_jsonl(files["jsonl"], jsonl_rows)
    return Setup(urls=urls, files=files, first_id=first_id, rows=rows, template=template)


async def _imports(setup: Setup, chunk_size: int, *, again: bool
                   ) -> dict[str, import_events.Outcome]:
    """One round: the CSV and the JSON Lines file, each into a fresh copy of the seeded
    database (SQLite), and when `again` the CSV file once more (every row a duplicate)."""
    urls, files = setup.urls, setup.files
    if setup.template is not None:
        for url in urls.values():
            path = Path(url.split("///", 1)[1])
            for stale in (path, path.with_name(path.name + "-wal"),
                          path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
            shutil.copyfile(setup.template, path)
    out = {
        "CSV import": await _import(urls["csv"], files["csv"], chunk_size),
        "JSON Lines import": await _import(urls["jsonl"], files["jsonl"], chunk_size),
    }
    if again:
        out["CSV again (duplicates)"] = await _import(urls["csv"], files["csv"], chunk_size)
    return out


async def _rollup_checks(urls: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per database: (sum of member_days.events, count of events). The rollup is
    maintained by the imports; equal figures say it counted every stored event once."""
    out = {}
    for url in dict.fromkeys(urls.values()):
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                rolled = (await conn.execute(select(func.coalesce(
                    func.sum(member_days.c.events), 0)))).scalar_one()
                stored = (await conn.execute(select(func.count()).select_from(
                    events_table))).scalar_one()
        finally:
            await db.dispose()
        out[url] = (int(rolled), int(stored))
    return out


async def _seed(url: str, community: demo.Community) -> int:
    db = Database(url)
    try:
        written = await bulk.write_community(db, community, reason="bench import")
        return written.first_member_id
    finally:
        await db.dispose()


def _events(community: demo.Community, first_id: int, *, count: int, seed: int,
            prefix: str = "e") -> list[BenchEvent]:
    """`count` events over the last 30 days, in time order, on random members."""
    rng = random.Random(seed)
    kinds, weights = zip(*TYPES, strict=True)
    identities = community.identities
    end = datetime.now(UTC) - timedelta(minutes=1)
    start = end - timedelta(days=30)
    step = (end - start) / max(count, 1)
    out = []
    for i, kind in enumerate(rng.choices(kinds, weights, k=count)):
        row = rng.randrange(len(identities))
        member_id = first_id + int(identities.member[row])
        channel = demo.CHANNELS[int(identities.channel[row])].value
        by_identity = i % 2 == 1
        out.append(BenchEvent(
            external_id=f"bench-{seed}-{prefix}{i:09d}", type=kind,
            occurred_at=(start + step * i).astimezone(CHINA), member_id=member_id,
            identity=(channel, identities.external_id[row]) if by_identity else None,
            amount_minor=rng.randrange(100, 100_000) if kind is EventType.PURCHASE else None,
            channel=channel,
            properties={"topic": "tea", "words": rng.randrange(5, 400)}
            if kind is EventType.POST else None,
        ))
    return out


def _write_csv(path: Path, rows: list[BenchEvent]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(("external_id", "type", "occurred_at", "member_id", "identity_channel",
                         "identity_external_id", "amount_minor", "channel", "properties"))
        for e in rows:
            channel, identity = e.identity or ("", "")
            writer.writerow((
                e.external_id, e.type.value, e.occurred_at.isoformat(),
                "" if e.identity else e.member_id, channel, identity,
                "" if e.amount_minor is None else e.amount_minor, e.channel,
                json.dumps(e.properties) if e.properties else ""))


def _write_jsonl(path: Path, rows: list[BenchEvent]) -> None:
    with path.open("w", encoding="utf-8") as file:
        for e in rows:
            obj = {"externalId": e.external_id, "type": e.type.value,
                   "occurredAt": e.occurred_at.isoformat(), "channel": e.channel}
            if e.identity:
                obj["identity"] = {"channel": e.identity[0], "externalId": e.identity[1]}
            else:
                obj["memberId"] = e.member_id
            if e.amount_minor is not None:
                obj["amountMinor"] = e.amount_minor
            if e.properties:
                obj["properties"] = e.properties
            file.write(json.dumps(obj) + "\n")


async def _import(url: str, path: Path, chunk_size: int) -> import_events.Outcome:
    # The fresh copies (tens of MB) are written out first: left to the OS, their
    # write-back would compete with the import's commits and checkpoint.
    os.sync()
    db = Database(url)
    try:
        outcome = await import_events.import_file(db, path, chunk_size=chunk_size)
    finally:
        await db.dispose()
    if outcome.report.rejected:
        first = outcome.report.rejected[0]
        raise RuntimeError(f"{len(outcome.report.rejected)} rows of {path.name} were rejected, "
                           f"e.g. line {first.line}: {first.code} {first.reason}")
    return outcome


def _baseline(path: Path, community: demo.Community, first_id: int, rows: list[BenchEvent],
              chunk_size: int) -> float:
    """Seconds for plain sqlite3 executemany of the prebuilt rows, a commit per chunk."""
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        received = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        # Members only so the events' foreign keys hold; not timed.
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO members (id, display_name, interests, channel, joined_at, "
            "first_seen_at, status, created_at) VALUES (?, 'm', '[]', 'wechat', ?, ?, "
            "'active', ?)",
            [(first_id + i, received, received, received) for i in range(len(community.members))])
        conn.execute("COMMIT")
        prebuilt = [(
            e.external_id, e.member_id, e.member_id, e.type.value,
            e.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), e.amount_minor,
            e.channel, json.dumps(e.properties), received) for e in rows]
        insert = ("INSERT INTO events (external_id, member_id, origin_member_id, type, "
                  "occurred_at, amount_minor, channel, properties, received_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (external_id) DO NOTHING")
        os.sync()  # as before each import
        started = time.perf_counter()
        for lo in range(0, len(prebuilt), chunk_size):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, prebuilt[lo:lo + chunk_size])
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def _report(results: dict[str, import_events.Outcome],
            runs: dict[str, list[import_events.Outcome]], baseline_s: float, *, events: int,
            members: int, chunk_size: int, backend: str, target: float) -> None:
    rounds = len(runs["CSV import"])
    print(f"event import: {events:,} events on {members:,} members, {chunk_size:,} rows per "
          f"transaction, {backend}" + (f", median of {rounds} rounds" if rounds > 1 else ""))
    for name, outcome in results.items():
        r = outcome.report
        rates = sorted(o.rate for o in runs[name])
        spread = f"; runs {rates[0]:,.0f}-{rates[-1]:,.0f}/s" if len(rates) > 1 else ""
        print(f"  {name:<24}{outcome.seconds:7.2f} s  {outcome.rate:>9,.0f} events/s  "
              f"(accepted {r.accepted:,}, duplicates {r.duplicates:,}{spread})")
    baseline_rate = events / baseline_s
    print(f"  {'baseline':<24}{baseline_s:7.2f} s  {baseline_rate:>9,.0f} events/s  "
          "(plain sqlite3 executemany of the same rows, prebuilt, no rollup; one run per "
          "round)")
    for name in ("CSV import", "JSON Lines import"):
        print(f"  {'ratio ' + name.split()[0] + '/baseline':<24}"
              f"{results[name].rate / baseline_rate:7.2f}")
    csv_rate = results["CSV import"].rate
    verdict = "met" if csv_rate >= target else "NOT met"
    print(f"  target {target:,.0f} events/s for the CSV import (median): {verdict}")
