"""`tierwise lifecycle refresh [--as-of DATE]`: recompute lifecycle stages and churn warnings
with the documented default policy (README, "Lifecycle and churn warnings")."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from domain import churn, lifecycle
from domain.clock import utcnow
from domain.errors import DomainError
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("lifecycle", help="lifecycle stages and churn warnings")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh = actions.add_parser("refresh", help="recompute every member's stage and warning")
    refresh.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                         help="the UTC day to compute as of (default today UTC)")
    refresh.set_defaults(handler=run_refresh)


def run_refresh(args) -> int:
    return asyncio.run(_refresh(config.from_environment().database_url, args.as_of))


async def refresh(db: Database, as_of: date) -> lifecycle.RefreshResult:
    """One refresh with the default policies, as the command runs it."""
    async with db.unit_of_work() as uow:
        tier_keys = [t.key for t in await uow.tiers.list()]
        return await lifecycle.refresh_lifecycle(
            uow=uow, as_of=as_of, today=utcnow().date(), actor="cli",
            churn_policy=churn.default_policy(tier_keys=tier_keys))


async def _refresh(url: str, as_of: date | None) -> int:
    db = Database(url)
    started = time.perf_counter()
    try:
        result = await refresh(db, as_of or utcnow().date())
    except DomainError as error:
        print(f"error: {error.message}")
        return 2
    finally:
        await db.dispose()
    stages = ", ".join(f"{stage}: {n:,}" for stage, n in result.counts.items())
    print(f"lifecycle as of {result.as_of}: {stages}")
    print(f"{result.transitions:,} stage changes, {result.warnings:,} churn warnings "
          f"in {time.perf_counter() - started:.1f} s")
    return 0
