"""`tierwise bench NAME`: benchmarks that print their figures and compare against a
baseline measured in the same run (ratios, not absolute seconds).

Each benchmark module exposes `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import importlib

BENCHMARKS = {
    "api": ("scripts.bench.api", "GraphQL members page vs a plain Starlette JSON endpoint"),
    "bgnbd": ("scripts.bench.bgnbd", "BG/NBD fit on distinct triples vs raw rows, 1M members"),
    "import": ("scripts.bench.ingest", "event import throughput (CSV and JSON Lines)"),
    "kpi": ("scripts.bench.kpi", "funding report over 1M members and 10M events vs GROUP BY"),
    "lifecycle": ("scripts.bench.lifecycle", "lifecycle + churn refresh of 1,000,000 members"),
    "seed": ("scripts.bench.seed", "demo community generation and write time"),
    "retier": ("scripts.bench.retier", "tier model preview and apply over 1,000,000 members"),
    "sim": ("scripts.bench.sim", "simulation: fast model vs per-agent reference, 1M members, "
            "100 replicates"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark and print its figures")
    benches = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, (module_name, help_text) in BENCHMARKS.items():
        sub = benches.add_parser(name, help=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
