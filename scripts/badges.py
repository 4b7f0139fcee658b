"""`tierwise badges install|award`: set up the growth-path badges and award them.

`install` creates the four default badges that are missing (idempotent).
`award` evaluates every badge rule as of a UTC day (default today) for all active
members, or those given with --member-id, and prints the new awards per badge;
running it again awards nothing new.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

from domain import badges
from domain.clock import utcnow
from domain.errors import DomainError
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("badges", help="install default badges, award badges",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser("install", help="create the four default badges")
    install.set_defaults(handler=run_install)
    award = actions.add_parser("award", help="evaluate badge rules and award members")
    award.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                       help="the UTC day to evaluate up to, inclusive (default: today)")
    award.add_argument("--member-id", type=int, action="append", dest="member_ids",
                       metavar="ID", help="only this member (repeatable; default: everyone)")
    award.set_defaults(handler=run_award)


def run_install(args) -> int:
    found = asyncio.run(_install(config.from_environment().database_url))
    for badge in found:
        print(f"{badge.key:<20} {badge.stage:<10} {badge.name}")
    return 0


def run_award(args) -> int:
    as_of = args.as_of or utcnow().date()
    try:
        result = asyncio.run(_award(config.from_environment().database_url, as_of,
                                    args.member_ids))
    except DomainError as error:
        print(f"error: {error.message}")
        return 2
    print(f"as of {result.as_of}: {result.awarded} new award(s)")
    for key, count in result.by_badge.items():
        print(f"  {key:<20} {count}")
    return 0


async def _install(url: str) -> list[badges.Badge]:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            return await badges.install_default_badges(uow=uow, actor="cli")
    finally:
        await db.dispose()


async def _award(url: str, as_of: date, member_ids: list[int] | None) -> badges.AwardRun:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            return await badges.award_badges(uow=uow, as_of=as_of, member_ids=member_ids,
                                             actor="cli", now=utcnow())
    finally:
        await db.dispose()
