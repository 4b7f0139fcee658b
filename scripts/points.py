"""`tierwise points accrue|expire`: run the points jobs (both idempotent; schedule daily).

`accrue` turns stored events into earn entries per the earn rules; `expire` writes
expire entries for the unspent remainder of lots past their expiry. Times are ISO 8601
with a UTC offset; both default to now.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from domain.clock import utcnow
from domain.errors import DomainError
from domain.points import ledger
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("points", help="accrue or expire points",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    jobs = parser.add_subparsers(dest="job", required=True, metavar="JOB")
    accrue = jobs.add_parser("accrue", help="turn stored events into earn entries")
    accrue.add_argument("--as-of", type=_aware, help="events before this time (default now)")
    accrue.add_argument("--since", type=_aware,
                        help="from the UTC day of this time (default: all events)")
    accrue.set_defaults(handler=run_accrue)
    expire = jobs.add_parser("expire", help="expire the remainder of expired lots")
    expire.add_argument("--as-of", type=_aware, help="lots expired by this time (default now)")
    expire.set_defaults(handler=run_expire)


def _aware(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no UTC offset (add Z or +08:00)")
    return parsed


def run_accrue(args) -> int:
    async def job(uow):
        return await ledger.accrue_points(uow=uow, as_of=args.as_of or utcnow(),
                                          since=args.since, actor="cli", now=utcnow())

    report = _run(job)
    if report is None:
        return 1
    print(f"accrued {report.points} points in {report.written} entries for {report.members} "
          f"members ({report.examined} events examined)")
    return 0


def run_expire(args) -> int:
    async def job(uow):
        return await ledger.expire_points(uow=uow, as_of=args.as_of or utcnow(), actor="cli",
                                          now=utcnow())

    report = _run(job)
    if report is None:
        return 1
    print(f"expired {report.points} points in {report.written} entries for {report.members} "
          "members")
    return 0


def _run(job):
    async def main():
        db = Database(config.from_environment().database_url)
        try:
            async with db.unit_of_work() as uow:
                return await job(uow)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        print(f"error: {error.code}: {error.message}")
        return None
