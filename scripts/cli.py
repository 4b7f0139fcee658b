"""The `tierwise` command. Each subcommand lives in its own module under scripts/.

A module exposes `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# One BLAS thread: the models' optimisers (L-BFGS-B) call BLAS on tiny vectors, and a
# multi-threaded OpenBLAS on a shared machine spends several times the arithmetic waiting
# for its threads (a funding report's fits: 1.6 s -> 0.4 s). Read when numpy loads, so
# before any subcommand imports it; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SUBCOMMANDS = (
    "scripts.serve",
    "scripts.migrate",
    "scripts.seed_demo",
    "scripts.import_events",
    "scripts.import_transactions",
    "scripts.create_token",
    "scripts.badges",
    "scripts.points",
    "scripts.referrals",
    "scripts.export_schema",
    "scripts.lifecycle",
    "scripts.churn",
    "scripts.kpi",
    "scripts.simulate",
    "scripts.report",
    "scripts.calibrate",
    "scripts.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tierwise",
        description="Tiered community operations: GraphQL API, demo data, imports, benchmarks. "
                    "The database is TIERWISE_DATABASE_URL (default sqlite under var/).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
