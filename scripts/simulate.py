"""`tierwise simulate [SCENARIO.json] --out result.json [--plot fan.png] [--preset NAME]
[--calibrate --as-of D]`: run a scenario (README, "Simulation sandbox") and write its
result document; with `--calibrate`, starting from the database's community as of D.

With `--preset`, the preset is the base scenario and the fields of SCENARIO.json (if
given) replace its top-level fields. A progress bar goes to stderr."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import simulation
from domain.errors import DomainError
from scripts import calibrate
from simulation import fan_chart, presets


def register(subparsers) -> None:
    parser = subparsers.add_parser("simulate", help="project a scenario: KPI bands and target "
                                   "probabilities")
    parser.add_argument("scenario", nargs="?", type=Path, help="scenario JSON document")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    parser.add_argument("--plot", type=Path, help="also draw a fan chart (PNG)")
    parser.add_argument("--preset", choices=sorted(presets.PRESETS),
                        help="start from a preset scenario")
    parser.add_argument("--replicates", type=int, help="override the scenario's replicates")
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument("--core", choices=("fast", "reference"), default="fast",
                        help="fast numpy model (default) or the per-agent reference")
    parser.add_argument("--calibrate", action="store_true",
                        help="first fill the scenario from the database (with --as-of)")
    calibrate.add_arguments(parser, required=False)
    parser.set_defaults(handler=run)


def load(args) -> dict:
    """The scenario document the arguments describe."""
    document = presets.PRESETS[args.preset]() if args.preset else {}
    if args.scenario:
        document.update(json.loads(args.scenario.read_text()))
    if args.replicates:
        document["replicates"] = args.replicates
    return document


class ProgressBar:
    """A one-line text progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, width: int = 40) -> None:
        self.width, self.started, self.drawn = width, time.perf_counter(), 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self.drawn < 0.1:
            return
        self.drawn = now
        filled = int(self.width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                         f"{100 * done / max(total, 1):5.1f}%  {now - self.started:6.1f} s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(args) -> int:
    if not args.scenario and not args.preset:
        print("error: give a scenario file or --preset", file=sys.stderr)
        return 2
    if args.calibrate and not args.as_of:
        print("error: --calibrate needs --as-of", file=sys.stderr)
        return 2
    try:
        if args.calibrate:
            scenario, _, _ = calibrate.calibrate(load(args), args)
        else:
            scenario = simulation.parse(load(args))
        result = simulation.run(scenario, progress=ProgressBar(), core=args.core,
                                workers=args.workers)
    except (simulation.InvalidScenario, DomainError) as error:
        return calibrate.report(error)
    args.out.write_text(json.dumps(result))
    for target in result["targets"]:
        print(f"{target['name']}: P(met by day {target['deadlineDay']}) = "
              f"{target['probability']:.0%}")
    if args.plot:
        fan_chart.draw(result, str(args.plot))
        print(f"fan chart: {args.plot}")
    print(f"result: {args.out}")
    return 0
