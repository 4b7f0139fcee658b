"""`tierwise bench sim`: the simulator's three speed targets, measured in one run.

1. Fast model vs the per-agent reference model on the three-tier preset: the fast model
   at 100,000 members x 90 days, the reference (a Python call per member per day) on a
   smaller community (`--reference-members` x `--reference-days`); the ratio compares
   member-days per second (members at the end of each day, summed). Target >= 100x.
2. One replicate of 1,000,000 members x 180 days in this process. Target < 6 s.
3. 100 replicates x 10,000 members x 180 days through `simulation.run` with a process
   pool over all cores (pool start-up included). Target < 15 s. Baseline: the same
   replicates' time in one process, estimated from the first 10.

Exit status 1 when a target is missed. The machine is shared: figures vary with load.
"""

from __future__ import annotations

import os
import time

import numpy as np

import simulation
from simulation import presets, results
from simulation.model import CommunityModel
from simulation.reference import ReferenceModel


def add_arguments(parser) -> None:
    parser.add_argument("--members", type=int, default=100_000,
                        help="fast-model members for the comparison (default 100000)")
    parser.add_argument("--days", type=int, default=90, help="days for the comparison (90)")
    parser.add_argument("--reference-members", type=int, default=5_000,
                        help="reference-model members (default 5000)")
    parser.add_argument("--reference-days", type=int, default=30,
                        help="reference-model days (default 30)")
    parser.add_argument("--big-members", type=int, default=1_000_000,
                        help="members of the one-process run (default 1000000)")
    parser.add_argument("--replicates", type=int, default=100, help="replicates (default 100)")
    parser.add_argument("--replicate-members", type=int, default=10_000,
                        help="members per replicate (default 10000)")


def scenario(*, members: int, days: int, replicates: int = 1):
    """The three-tier preset scaled to `members` starting members (market 4x as large,
    campaigns and targets kept only when they fit the horizon)."""
    doc = presets.three_tier()
    doc["market"]["size"] = 4 * members
    doc.update(horizonDays=days, replicates=replicates, initial={"members": members,
                                                                 "payingShare": 0.05})
    doc["campaigns"] = [c for c in doc["campaigns"] if c["endDay"] <= days]
    doc["targets"] = [t for t in doc["targets"] if t["deadlineDay"] <= days]
    return simulation.parse(doc)


def timed_run(model_class, s, seed: int = 1) -> tuple[float, int, float]:
    """Wall seconds to create and run one model, the member-days it simulated, and the
    CPU seconds it used (wall - CPU is time the shared machine gave to others)."""
    started, cpu = time.perf_counter(), time.process_time()
    model = model_class(s, rng=seed)
    while model.running:
        model.step()
    seconds = time.perf_counter() - started
    return (seconds, int(np.sum(model.datacollector.model_vars["members"][1:])),
            time.process_time() - cpu)


def run(args) -> int:
    missed = []
    cores = os.cpu_count()
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.2f}")

    ref_s, ref_md, ref_cpu = timed_run(ReferenceModel, scenario(
        members=args.reference_members, days=args.reference_days))
    fast_s, fast_md, fast_cpu = timed_run(CommunityModel, scenario(members=args.members,
                                                                   days=args.days))
    ratio = (fast_md / fast_s) / (ref_md / ref_s)
    print(f"1. reference (per-agent): {args.reference_members:,} members x "
          f"{args.reference_days} days: {ref_md:,} member-days in {ref_s:.2f} s "
          f"(CPU {ref_cpu:.2f} s) = {ref_md / ref_s / 1e6:.2f} M member-days/s")
    print(f"   fast (numpy):          {args.members:,} members x {args.days} days: "
          f"{fast_md:,} member-days in {fast_s:.2f} s (CPU {fast_cpu:.2f} s) = "
          f"{fast_md / fast_s / 1e6:.1f} M member-days/s")
    print(f"   ratio: {ratio:,.0f}x (target >= 100x)")
    if ratio < 100:
        missed.append("fast vs reference")

    big_s, big_md, big_cpu = timed_run(CommunityModel, scenario(members=args.big_members,
                                                                days=180))
    print(f"2. one process: {args.big_members:,} members x 180 days: {big_md:,} member-days "
          f"in {big_s:.2f} s, CPU {big_cpu:.2f} s ({big_md / big_s / 1e6:.1f} M "
          f"member-days/s; target < 6 s)")
    if big_s >= 6:
        missed.append("1M x 180 days")

    s = scenario(members=args.replicate_members, days=180, replicates=args.replicates)
    seeds = results.replicate_seeds(s.seed, 10)
    started = time.perf_counter()
    results.run_replicates(s, seeds=seeds, workers=1)
    one_process = (time.perf_counter() - started) * args.replicates / len(seeds)
    started = time.perf_counter()
    simulation.run(s)
    pooled = time.perf_counter() - started
    print(f"3. {args.replicates} replicates x {args.replicate_members:,} members x 180 days: "
          f"{pooled:.2f} s on {cores} cores, pool start-up included (target < 15 s); "
          f"one process: {one_process:.1f} s "
          f"(estimated from 10), speed-up {one_process / pooled:.2f}x")
    if pooled >= 15:
        missed.append("100 replicates")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("all targets met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0
