"""`tierwise seed-demo`: write a deterministic, realistic demo community.

`--members N --days D --seed S` gives the same community every time (for the
same `--end`, default today UTC): the D days before END hold N members who
joined with growth, their events, referrals, purchases and three tiers.
`--if-empty` skips seeding, printing one line, when the database has members.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date

import numpy as np

from domain import demo
from domain.clock import utcnow
from domain.events import EventType
from domain.store import bulk
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "seed-demo", help="write a deterministic demo community (members, events, tiers)")
    add_arguments(parser)
    parser.add_argument("--if-empty", action="store_true",
                        help="do nothing (and say so) when the database already has members")
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=20_000, help="members (default 20000)")
    parser.add_argument("--days", type=int, default=180,
                        help="days of history before --end (default 180)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--end", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="the history ends at 00:00 UTC of this date (default today UTC)")


def run(args) -> int:
    today = utcnow().date()
    end = args.end or today
    if end > today:
        print(f"error: --end {end} is in the future; events cannot be")
        return 2
    return asyncio.run(_seed(config.from_environment().database_url, args=args, end=end))


async def _seed(url: str, *, args, end: date) -> int:
    db = Database(url)
    try:
        if args.if_empty and (existing := await bulk.count_members(db)):
            print(f"database already has {existing:,} members; demo seed skipped (--if-empty)")
            return 0
        started = time.perf_counter()
        try:
            community = demo.generate(members=args.members, days=args.days, seed=args.seed,
                                      end=end)
        except demo.InvalidDemoSize as error:
            print(f"error: {error.message}")
            return 2
        generated = time.perf_counter()
        if await bulk.has_demo(db, community=community):
            print(f"error: a demo community with seed {args.seed} is already in this database "
                  "(its ids would collide); pick another --seed or use --if-empty")
            return 1
        await bulk.write_community(db, community, reason=demo.tiering.REASON)
        print(summary(community, generate_s=generated - started,
                      write_s=time.perf_counter() - generated))
        return 0
    finally:
        await db.dispose()


def summary(community: demo.Community, *, generate_s: float, write_s: float) -> str:
    """What was written, for people: counts, the window, tiers and timings."""
    e = community.events
    purchases = e.type == demo.type_code(EventType.PURCHASE)
    tiers = np.bincount(community.tier_of, minlength=len(community.tiers))
    first, last = community.start.date(), (community.end.date().toordinal() - 1)
    return "\n".join([
        f"demo community (seed {community.seed}): {first} .. {date.fromordinal(last)}, "
        f"{community.days} days",
        f"  members     {len(community.members):>10,}  ({len(community.identities):,} "
        "channel identities)",
        f"  events      {len(e):>10,}  ({_per_member_day(community):.2f} per member-day; "
        f"top 20% of members make {_top_fifth_share(community):.0%} of interactions)",
        f"  purchases   {int(purchases.sum()):>10,}  by "
        f"{len(np.unique(e.member[purchases])):,} members, "
        f"{int(e.amount_minor[purchases].sum()) / 100:,.2f} yuan",
        "  tiers       " + ", ".join(f"{spec.key} {int(count):,}"
                                     for spec, count in zip(community.tiers, tiers, strict=True)),
        f"  seconds     {generate_s + write_s:>10.1f}  (generate {generate_s:.1f}, "
        f"write {write_s:.1f})",
    ])


def _per_member_day(community: demo.Community) -> float:
    member_days = (community.days * demo.DAY - community.members.joined).sum() / demo.DAY
    return len(community.events) / float(member_days)


def _top_fifth_share(community: demo.Community) -> float:
    e = community.events
    interactions = np.isin(e.type, [demo.type_code(t) for t in demo.INTERACTION_TYPES])
    counts = np.bincount(e.member[interactions], minlength=len(community.members))
    return demo.activity.top_fifth_share(counts)
