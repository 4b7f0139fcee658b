"""`tierwise kpi refresh [--full]`: bring the KPI rollups up to date (README, "KPI engine")."""

from __future__ import annotations

import asyncio
import time

from domain import kpi_reports
from domain.clock import utcnow
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("kpi", help="KPI rollups behind the funding report")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh = actions.add_parser("refresh", help="recompute the days changed since the last run")
    refresh.add_argument("--full", action="store_true", help="rebuild every rollup")
    refresh.set_defaults(handler=run_refresh)


def run_refresh(args) -> int:
    return asyncio.run(_refresh(config.from_environment().database_url, full=args.full))


async def refresh(db: Database, *, full: bool = False):
    async with db.unit_of_work() as uow:
        return await kpi_reports.refresh_kpi_rollups(uow=uow, actor="cli", now=utcnow(),
                                                     full=full)


async def _refresh(url: str, *, full: bool) -> int:
    db = Database(url)
    started = time.perf_counter()
    try:
        result = await refresh(db, full=full)
    finally:
        await db.dispose()
    print(f"kpi rollups {'rebuilt' if result.full else 'refreshed'}: {result.days:,} days, "
          f"{result.members:,} members, events up to id {result.events_watermark:,}, "
          f"latest day {result.latest_day} in {time.perf_counter() - started:.2f} s")
    return 0
