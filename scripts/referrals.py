"""`tierwise referrals process [--as-of WHEN]`: convert referrals and grant due rewards.

Idempotent: run it from cron as often as you like; a reward is granted once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time

from domain import referral_program
from domain.clock import utcnow
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("referrals", help="referral programme jobs")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    process = actions.add_parser(
        "process", help="mark referrals converted on the invitee's first purchase in the "
                        "attribution window and grant due rewards (idempotent)")
    process.add_argument("--as-of", type=_as_of, default=None, metavar="WHEN",
                         help="count purchases up to this UTC day: YYYY-MM-DD or an ISO "
                              "timestamp with an offset (default now)")
    process.set_defaults(handler=run_process)


def _as_of(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"error: --as-of {text!r} is not a date or timestamp") from None
    if value.tzinfo is None:
        raise SystemExit(f"error: --as-of {text!r} has no time zone offset")
    return value.astimezone(UTC)


def run_process(args) -> int:
    now = utcnow()
    as_of = args.as_of or now
    result = asyncio.run(_process(config.from_environment().database_url, as_of=as_of, now=now))
    print(f"referrals processed as of {as_of.isoformat()}: {result.converted} converted, "
          f"{result.rewards_granted} rewards granted")
    return 0


async def _process(url: str, *, as_of: datetime, now: datetime
                   ) -> referral_program.ProcessResult:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            return await referral_program.process_referrals(uow=uow, as_of=as_of, now=now,
                                                            actor="cli")
    finally:
        await db.dispose()
