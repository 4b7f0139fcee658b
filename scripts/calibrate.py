"""`tierwise calibrate SCENARIO.json --as-of D --out scenario.json [--window-days N]`:
fill a scenario's parameters and starting state from the database (README, "Simulation
sandbox" / "Calibration"), print the estimates with their standard errors and write the
filled scenario document. `tierwise simulate --calibrate --as-of D` calibrates and runs in
one go (the starting members themselves are only kept in that case)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path

from domain import calibration as estimators
from domain.clock import utcnow
from domain.errors import DomainError
from domain.store.database import Database
from scripts import config
from simulation import presets
from simulation.calibration import calibrate_scenario
from simulation.scenario import InvalidScenario


def register(subparsers) -> None:
    parser = subparsers.add_parser("calibrate", help="estimate a scenario's parameters from "
                                   "the community's history")
    parser.add_argument("scenario", nargs="?", type=Path, help="base scenario JSON document")
    parser.add_argument("--preset", choices=sorted(presets.PRESETS),
                        help="start from a preset scenario")
    add_arguments(parser, required=True)
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write the filled scenario JSON")
    parser.set_defaults(handler=run)


def add_arguments(parser, *, required: bool) -> None:
    parser.add_argument("--as-of", type=date.fromisoformat, required=required,
                        help="last UTC day observed (YYYY-MM-DD)")
    parser.add_argument("--window-days", type=int, default=estimators.DEFAULT_WINDOW_DAYS,
                        help="days observed, ending --as-of (default 90)")
    parser.add_argument("--churn-days", type=int, default=estimators.DEFAULT_CHURN_DAYS,
                        help="silent days that make a member churned (default 30)")


def calibrate(document: dict, args, *, url: str | None = None):
    """(scenario, filled document, calibration) for the arguments; prints the estimates.
    Raises `InvalidScenario` or a `DomainError`."""
    async def go():
        db = Database(url or config.from_environment().database_url)
        try:
            async with db.unit_of_work(write=False) as uow:
                return await calibrate_scenario(
                    uow, document, as_of=args.as_of, window_days=args.window_days,
                    churn_days=args.churn_days, today=utcnow().date())
        finally:
            await db.dispose()

    scenario, filled, result = asyncio.run(go())
    print(f"calibrated as of {result.window.as_of} over {result.window.window_days} days:")
    for path, e in result.estimates.items():
        print(f"  {path:42s} {e.value:12.6g}  se {e.se:10.3g}  n {e.n:,}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"  starting members: {len(result.initial.tier):,}")
    return scenario, filled, result


def report(error: Exception) -> int:
    """Print a calibration failure; exit code 2."""
    if isinstance(error, InvalidScenario):
        for field_error in error.errors:
            print(f"error: {field_error.path}: {field_error.code}: {field_error.message}",
                  file=sys.stderr)
    else:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
    return 2


def run(args) -> int:
    if not args.scenario and not args.preset:
        print("error: give a scenario file or --preset", file=sys.stderr)
        return 2
    document = presets.PRESETS[args.preset]() if args.preset else {}
    if args.scenario:
        document.update(json.loads(args.scenario.read_text()))
    try:
        _, filled, _ = calibrate(document, args)
    except (InvalidScenario, DomainError) as error:
        return report(error)
    args.out.write_text(json.dumps(filled, indent=2))
    print(f"scenario: {args.out}")
    return 0
