"""Replicates, bands, target probabilities, comparisons and sweeps.

A replicate is one run of a model with its own seed; its KPIs are the product's daily
catalogue (`domain.kpi.daily`) over the model's daily totals, one value per simulated day
(day 1 .. horizon). Replicate seeds derive from the scenario's seed, so two scenarios
with the same seed and replicate count use common random numbers.
"""

from __future__ import annotations

import copy
import itertools
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np

from domain.kpi import daily, targets
from simulation import scenario as scenarios
from simulation.model import CommunityModel
from simulation.reference import ReferenceModel
from simulation.scenario import Scenario

CORES = {"fast": CommunityModel, "reference": ReferenceModel}
IN_PROCESS_MEMBER_DAYS = 20_000_000  # below this, a process pool costs more than it saves
T_95 = 1.959963984540054


class Cancelled(Exception):
    """The caller's `cancelled()` returned True; no result is produced."""


Progress = Callable[[int, int], None]  # (replicate-days done, replicate-days in all)


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """One independent seed per replicate, derived from the scenario seed (the first k
    seeds do not depend on how many replicates are asked for)."""
    children = np.random.SeedSequence(seed).spawn(replicates)
    return [int(c.generate_state(1, np.uint64)[0]) for c in children]


def model_kpis(model) -> dict[str, np.ndarray]:
    """The KPI series (days 1..horizon) of a finished model, from its DataCollector."""
    data = model.datacollector.model_vars
    tiers = model.spec.tier_keys()

    def series(name: str) -> np.ndarray:
        return np.asarray(data[name][1:], dtype=float)

    by_tier = {name: np.asarray(data[name][1:], dtype=float).reshape(-1, len(tiers))
               for name in ("members_by_tier", "active_30d_by_tier")}
    channels = model.rules.channel_keys
    by_channel = np.asarray(data["joins_by_channel"][1:], dtype=float).reshape(-1, len(channels))
    totals = daily.DailyTotals(
        members=series("members"), new_members=series("new_members"),
        referred_members=series("referred_members"),
        churned_members=series("churned_members"), dau=series("dau"),
        active_30d=series("active_30d"), payers=series("payers"),
        new_payers=series("new_payers"), revenue_minor=series("revenue_minor"),
        cost_minor=series("cost_minor"),
        members_by_tier={k: by_tier["members_by_tier"][:, i] for i, k in enumerate(tiers)},
        active_30d_by_tier={k: by_tier["active_30d_by_tier"][:, i]
                            for i, k in enumerate(tiers)},
        new_members_by_channel={k: by_channel[:, i] for i, k in enumerate(channels)})
    return daily.compute(totals)


def run_replicate(scenario: Scenario, seed: int, core: str = "fast",
                  on_day: Callable[[], None] | None = None) -> dict[str, np.ndarray]:
    """One replicate's KPI series. `on_day` is called after every simulated day (it may
    raise to stop the run)."""
    model = CORES[core](scenario, rng=seed)
    while model.running:
        model.step()
        if on_day is not None:
            on_day()
    return model_kpis(model)


def pool_context():
    """Worker processes that start clean (never a fork of the caller): a forkserver that
    has imported this package once (workers then start without importing Mesa each),
    or spawn where there is no forkserver. Work is sent as picklable top-level calls."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["simulation.results"])
        return context
    return multiprocessing.get_context("spawn")


def _run_batch(scenario: Scenario, seeds: list[int], core: str) -> list[dict[str, np.ndarray]]:
    return [run_replicate(scenario, seed, core) for seed in seeds]


def run_replicates(scenario: Scenario, *, seeds: Sequence[int] | None = None,
                   core: str = "fast", workers: int | None = None,
                   progress: Progress | None = None,
                   cancelled: Callable[[], bool] | None = None) -> list[dict[str, np.ndarray]]:
    """Every replicate's KPI series, in seed order. Runs in this process for small jobs
    and in a spawn-safe process pool (`workers`, default all cores) for large ones."""
    seeds = list(seeds if seeds is not None else replicate_seeds(scenario.seed,
                                                                 scenario.replicates))
    horizon, total = scenario.horizon_days, len(seeds) * scenario.horizon_days
    report = progress or (lambda done, all_: None)
    stop = cancelled or (lambda: False)
    size = len(seeds) * horizon * max(scenario.initial.members + scenario.market.size // 2, 1)
    workers = min(workers or os.cpu_count() or 1, len(seeds))
    report(0, total)
    if workers <= 1 or size < IN_PROCESS_MEMBER_DAYS:
        return _run_here(scenario, seeds, core, report, stop)
    batches = [seeds[i::workers * 4] for i in range(workers * 4) if seeds[i::workers * 4]]
    results: dict[int, list] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context()) as pool:
        pending = {pool.submit(_run_batch, scenario, batch, core): i
                   for i, batch in enumerate(batches)}
        done_days = 0
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if stop():
                pool.shutdown(cancel_futures=True)
                raise Cancelled("simulation cancelled")
            for future in finished:
                index = pending.pop(future)
                results[index] = future.result()
                done_days += horizon * len(batches[index])
                report(done_days, total)
    by_seed = {}
    for i, batch in enumerate(batches):
        by_seed.update(zip(batch, results[i], strict=True))
    return [by_seed[s] for s in seeds]


def _run_here(scenario, seeds, core, report, stop) -> list[dict[str, np.ndarray]]:
    out, done = [], [0]
    total = len(seeds) * scenario.horizon_days

    def on_day() -> None:
        done[0] += 1
        if stop():
            raise Cancelled("simulation cancelled")
        report(done[0], total)

    for seed in seeds:
        out.append(run_replicate(scenario, seed, core, on_day))
    return out


# --- summaries -------------------------------------------------------------------------


def _listed(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


BAND_PERCENTILES = (5, 50, 95)


def bands(replicates: list[dict[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    """Per KPI and day: mean, p5, p50, p95 over replicates (days where a ratio is not
    defined in any replicate are null; otherwise undefined replicates are left out)."""
    out = {}
    for name in replicates[0]:
        stack = np.vstack([r[name] for r in replicates])
        defined = ~np.isnan(stack).all(axis=0)
        summary = {k: np.full(stack.shape[1], np.nan) for k in ("mean", "p5", "p50", "p95")}
        if defined.any():
            part = stack[:, defined]
            summary["mean"][defined] = np.nanmean(part, axis=0)
            # np.nanpercentile loops over days in Python (seconds for a few thousand days
            # x KPIs, while the run's progress already reads 1); days every replicate
            # defines take the vectorised np.percentile, which gives the same values.
            whole = ~np.isnan(part).any(axis=0)
            percentiles = np.empty((len(BAND_PERCENTILES), part.shape[1]))
            if whole.any():
                percentiles[:, whole] = np.percentile(part[:, whole], BAND_PERCENTILES, axis=0)
            if not whole.all():
                percentiles[:, ~whole] = np.nanpercentile(part[:, ~whole], BAND_PERCENTILES,
                                                          axis=0)
            for q, values in zip(BAND_PERCENTILES, percentiles, strict=True):
                summary[f"p{q}"][defined] = values
        out[name] = {k: _listed(v) for k, v in summary.items()}
    return out


def target_met(values: np.ndarray, target: scenarios.Target) -> bool:
    """Whether one replicate met a target: the metric on the deadline day, judged by the
    product's rule (`domain.kpi.targets.assess` at the deadline: MET or MISSED)."""
    value = values[target.deadline_day - 1]
    verdict = targets.assess(baseline=float(values[0]), goal=target.goal,
                             days=np.array([target.deadline_day]), values=np.array([value]),
                             as_of_day=target.deadline_day, deadline_day=target.deadline_day,
                             higher_is_better=daily.higher_is_better(target.metric))
    return verdict.status is targets.TargetStatus.MET


def target_probabilities(scenario: Scenario, replicates: list[dict[str, np.ndarray]]
                         ) -> list[dict]:
    """Per target: the share of replicates that met it by its deadline."""
    return [{"name": t.name, "metric": t.metric, "goal": t.goal, "deadlineDay": t.deadline_day,
             "probability": float(np.mean([target_met(r[t.metric], t) for r in replicates]))}
            for t in scenario.targets]


def document(scenario: Scenario, replicates: list[dict[str, np.ndarray]], *,
             core: str = "fast") -> dict:
    """The result document (see the README, "Simulation sandbox")."""
    out = {"scenario": scenario.to_dict(), "core": core, "replicates": len(replicates),
           "days": list(range(1, scenario.horizon_days + 1)), "kpis": bands(replicates),
           "targets": target_probabilities(scenario, replicates)}
    if scenario.budget_minor is not None:
        spent = np.array([r["cumulativeCostMinor"][-1] for r in replicates])
        out["budget"] = {"totalMinor": scenario.budget_minor,
                         "probabilityWithin": float(np.mean(spent <= scenario.budget_minor))}
    return out


# --- comparisons and sweeps --------------------------------------------------------------


def compare(a: Scenario, b: Scenario, *, metrics: Sequence[str] | None = None,
            workers: int | None = None, progress: Progress | None = None,
            cancelled: Callable[[], bool] | None = None) -> dict:
    """B minus A with common random numbers (both run A's replicate seeds): per metric and
    day (the days both horizons cover), the mean difference with its 95% interval (mean +-
    1.96 standard errors over replicates), and the target probabilities of both."""
    seeds = replicate_seeds(a.seed, a.replicates)
    runs = [run_replicates(s, seeds=seeds, workers=workers, progress=progress,
                           cancelled=cancelled) for s in (a, b)]
    names = metrics or [n for n in runs[0][0] if n in runs[1][0]]
    days = min(a.horizon_days, b.horizon_days)
    differences = {}
    for name in names:
        diff = np.vstack([rb[name][:days] - ra[name][:days]
                          for ra, rb in zip(*runs, strict=True)])
        mean = np.nanmean(diff, axis=0)
        half = T_95 * np.nanstd(diff, axis=0, ddof=1) / np.sqrt(len(seeds))
        differences[name] = {"mean": _listed(mean), "low": _listed(mean - half),
                             "high": _listed(mean + half)}
    return {"days": list(range(1, days + 1)),
            "replicates": len(seeds), "difference": differences,
            "targets": {"a": target_probabilities(a, runs[0]),
                        "b": target_probabilities(b, runs[1])}}


def with_value(document_: dict, path: str, value) -> dict:
    """A copy of a scenario document with the field at `path` (dots, list indexes) set.
    Setting `tiers.<i>.share` moves the difference to the lowest tier, so shares still add
    up to 1."""
    doc = copy.deepcopy(document_)
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    key = int(last) if isinstance(node, list) else last
    old = node[key] if isinstance(node, list) or key in node else None
    node[key] = value
    if parents[:1] == ["tiers"] and last == "share" and old is not None:
        doc["tiers"][-1]["share"] = round(doc["tiers"][-1]["share"] - (value - old), 12)
    return doc


def sweep(base: dict, levers: dict[str, Sequence], *, workers: int | None = None,
          cancelled: Callable[[], bool] | None = None) -> list[dict]:
    """Target probabilities at every grid point of one or two levers (scenario document
    paths -> values), all grid points on the base scenario's replicate seeds."""
    if not 1 <= len(levers) <= 2:
        raise ValueError("sweep one or two levers")
    points = []
    for values in itertools.product(*levers.values()):
        doc = base
        for path, value in zip(levers, values, strict=True):
            doc = with_value(doc, path, value)
        s = scenarios.parse(doc)
        replicates = run_replicates(s, workers=workers, cancelled=cancelled)
        points.append({"values": dict(zip(levers, values, strict=True)),
                       "targets": target_probabilities(s, replicates)})
    return points
