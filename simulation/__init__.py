"""The simulation sandbox: project a tier strategy before launch.

`run(scenario)` simulates a validated scenario (`simulation.scenario.parse`) over its
replicates and returns the result document (`simulation.results.document`). Inputs and
outputs are plain picklable values, so a job runner can call it in a worker process.
This package imports `domain` (rules, KPI definitions), never the store or the API.
"""

from __future__ import annotations

from collections.abc import Callable

from simulation import results
from simulation.results import Cancelled
from simulation.scenario import InvalidScenario, Scenario, parse

__all__ = ["Cancelled", "InvalidScenario", "NeedsCalibration", "Scenario", "parse", "run"]


class NeedsCalibration(InvalidScenario):
    """`initial.fromDatabase` was asked for but no calibrated population was filled in."""

    code = "NEEDS_CALIBRATION"


def run(scenario: Scenario, *, progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None, core: str = "fast",
        workers: int | None = None) -> dict:
    """The result document of `scenario`: KPI bands per day and target probabilities.

    `progress(done, total)` is called as replicate-days complete; `cancelled()` is polled
    and, when it returns True, the run stops with `Cancelled`. `core` is "fast" (numpy) or
    "reference" (one Mesa agent per member); `workers` caps the process pool."""
    if scenario.initial.from_database and scenario.initial.population is None:
        raise NeedsCalibration([results.scenarios.FieldError(
            "initial.fromDatabase", NeedsCalibration.code,
            "the initial community must be calibrated from the database first")])
    replicates = results.run_replicates(scenario, core=core, workers=workers,
                                        progress=progress, cancelled=cancelled)
    return results.document(scenario, replicates, core=core)
