"""`tierwise churn score [--as-of DATE] [--horizon-days N]`: fit BG/NBD and Gamma-Gamma on
the buyers' purchase days and store every buyer's churn score (README, "Churn risk")."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from domain import churn_scores
from domain.clock import utcnow
from domain.errors import DomainError
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("churn", help="predictive churn scores (BG/NBD)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    score = actions.add_parser("score", help="fit the models and score every buyer")
    score.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                       help="the UTC day to fit as of (default today UTC)")
    score.add_argument("--horizon-days", type=int, default=churn_scores.DEFAULT_HORIZON_DAYS,
                       help="days ahead for expected purchases and value lost (default 30)")
    score.set_defaults(handler=run_score)


def run_score(args) -> int:
    return asyncio.run(_score(config.from_environment().database_url, args.as_of,
                              args.horizon_days))


async def _score(url: str, as_of: date | None, horizon_days: int) -> int:
    db = Database(url)
    started = time.perf_counter()
    now = utcnow()
    try:
        async with db.unit_of_work() as uow:
            model = await churn_scores.score_churn_risk(
                uow=uow, as_of=as_of or now.date(), horizon_days=horizon_days,
                today=now.date(), actor="cli", now=now)
    except DomainError as error:
        print(f"error: {error.message}")
        return 2
    finally:
        await db.dispose()
    p, g = model.bgnbd.params, model.gamma_gamma.params
    print(f"churn scores as of {model.as_of}: {model.members:,} buyers, "
          f"horizon {model.horizon_days} days, in {time.perf_counter() - started:.1f} s")
    print(f"BG/NBD r={p.r:.4g} alpha={p.alpha:.4g} a={p.a:.4g} b={p.b:.4g} "
          f"(log-likelihood {model.bgnbd.log_likelihood:.1f}); "
          f"Gamma-Gamma p={g.p:.4g} q={g.q:.4g} gamma={g.gamma:.4g}")
    return 0
