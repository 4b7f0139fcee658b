"""`tierwise bench bgnbd`: BG/NBD maximum-likelihood fit and scoring at 1,000,000 members,
against a baseline measured in the same run.

Members are drawn from the model itself with known parameters (the CDNOW estimates as
realistic values): first purchase on a uniform day of the last year, histories recorded
in whole UTC days as the rollup does (`bgnbd.discretise_days`). The fit groups members
by their distinct (x, t_x, T) triple and weights each by its count; the baseline fits
the same likelihood on the raw per-member vectors with the same optimiser (L-BFGS-B,
analytic gradient, same start). The ratio is baseline seconds over weighted seconds.
Scoring is P(alive) plus expected transactions in the next 30 days for every member.
"""

from __future__ import annotations

import time

import numpy as np

from domain.models import bgnbd

TRUE = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
TARGET = 60.0  # seconds for the weighted fit at 1,000,000 members
HORIZON_WEEKS = 30 / 7


def add_arguments(parser) -> None:
    parser.add_argument("--members", type=int, default=1_000_000,
                        help="members (default 1000000)")
    parser.add_argument("--days", type=int, default=365,
                        help="first purchases spread over this many days (default 365)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--target", type=float, default=TARGET,
                        help=f"fail (exit 1) when the weighted fit is slower (default {TARGET} s)")


def run(args) -> int:
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    age_days = rng.integers(0, args.days, args.members)
    x, t_x, _ = bgnbd.simulate_bgnbd(TRUE, n=args.members, T=age_days / 7, rng=rng)
    t_x, age = bgnbd.discretise_days(t_x, age_days=age_days, rng=rng)
    generate_s = time.perf_counter() - started

    weighted, weighted_s = _timed(lambda: bgnbd.fit(x, t_x, age))
    triples = len(bgnbd.unique_triples(x, t_x, age)[0])
    raw, raw_s = _timed(lambda: bgnbd.fit(x, t_x, age, compress=False))
    se = bgnbd.standard_errors(weighted.params, x, t_x, age)

    def score():
        alive = bgnbd.p_alive(weighted.params, x, t_x, age)
        expected = bgnbd.expected_transactions(weighted.params, t=HORIZON_WEEKS, frequency=x,
                                               recency=t_x, age=age)
        return alive, expected

    (alive, expected), score_s = _timed(score)

    print(f"members                 {args.members:>12,}  (generated in {generate_s:.2f} s)")
    print(f"repeat buyers           {int(np.count_nonzero(x)):>12,}")
    print(f"distinct (x, t_x, T)    {triples:>12,}")
    print(f"weighted fit            {weighted_s:>12.2f} s  ({weighted.iterations} iterations, "
          f"converged={weighted.converged})")
    print(f"baseline fit (raw rows) {raw_s:>12.2f} s  ({raw.iterations} iterations, "
          f"converged={raw.converged})")
    print(f"ratio baseline/weighted {raw_s / weighted_s:>12.1f}x")
    print(f"log-likelihood          {weighted.log_likelihood:>14.1f} weighted, "
          f"{raw.log_likelihood:.1f} raw")
    print("parameter   true   weighted   raw        std. error")
    for name in ("r", "alpha", "a", "b"):
        print(f"  {name:<8}{getattr(TRUE, name):>7.3f}{getattr(weighted.params, name):>11.4f}"
              f"{getattr(raw.params, name):>9.4f}{getattr(se, name):>13.4f}")
    print(f"score P(alive) + E[transactions next 30 days] for all members: {score_s:.2f} s "
          f"(mean P(alive) {alive.mean():.3f}, mean expected {expected.mean():.4f})")
    ok = weighted.converged and weighted_s <= args.target
    print(f"target: weighted fit <= {args.target:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def _timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started
