"""Simulation runs as jobs: the rules of a run's life and the use cases around it.

A run is created `queued` by `start_simulation` (the scenario is validated and its size
capped first), becomes `running` when a worker claims it (`claim_run`), reports progress
(`record_progress`, which also tells the worker whether a cancel was asked for), and ends
`succeeded` (with its result document), `failed` (with the reason) or `cancelled`. Only
`queued` and `running` runs can change; a finished run never does. At server start-up
every run left queued or running is failed with "server stopped" (`fail_interrupted`):
its worker died with the server, so nothing is ever stuck.

The simulation package (numpy, Mesa) is imported only inside `start_simulation`, so this
module stays cheap to import. The executor wiring (process pool / Dask) is `api.jobs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.clock import require_aware
from domain.errors import DomainError, NotFound

DEFAULT_MAX_MEMBER_DAYS = 2_000_000_000
SERVER_STOPPED = "server stopped"

# The progress feed samples the run's row; the worker writes it. A value the worker writes
# stays at least PROGRESS_WRITE_SECONDS (only the last one before the run ends may be
# overwritten sooner), and the feed reads the row every FEED_POLL_SECONDS, well under
# that, so it shows every progress value but possibly the last. (Sampling at the same
# period as the writes skipped whole stretches of a short run: the feed could jump from
# 0 to 1.) The feed also sends the current state at least every FEED_HEARTBEAT_SECONDS.
PROGRESS_WRITE_SECONDS = 0.25
FEED_POLL_SECONDS = 0.1
FEED_HEARTBEAT_SECONDS = 1.0


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class SimulationRun:
    id: int
    status: RunStatus
    scenario: dict[str, Any]
    progress: float  # 0..1, replicate-days done / replicate-days in all
    result: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    worker: str | None
    heartbeat_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE


@dataclass(frozen=True, slots=True)
class RunProgress:
    """What the progress feed reads each poll: the run's state without its documents."""

    status: RunStatus
    progress: float
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE


def feed_sends(*, changed: bool, since_last_message: float,
               poll_seconds: float = FEED_POLL_SECONDS,
               heartbeat_seconds: float = FEED_HEARTBEAT_SECONDS) -> bool:
    """Whether the progress feed sends a message at this poll: when the state changed, or
    when waiting for the next poll (`poll_seconds`, with half a poll to spare for the
    read itself) could leave more than `heartbeat_seconds` since the last message, so
    messages are never further apart than that, however slow the run."""
    return changed or since_last_message + 1.5 * poll_seconds >= heartbeat_seconds


class SimulationRunError(DomainError):
    """Base of the failures of simulation runs as jobs."""


class RunNotFound(SimulationRunError, NotFound):
    """A run id that names no simulation run."""


class RunFinished(SimulationRunError):
    """Cancelling a run that already ended."""

    code = "RUN_FINISHED"


class UnknownPreset(SimulationRunError):
    """A preset name that is not one of the simulation presets."""

    code = "UNKNOWN_PRESET"


class TooLarge(SimulationRunError):
    """The run would simulate more member-days than the server allows."""

    code = "TOO_LARGE"


class MissingScenario(SimulationRunError):
    """No scenario to run: neither a scenario nor a preset, or one that is not an object."""

    code = "MISSING_SCENARIO"


def merged_document(scenario: dict | None, preset: dict | None) -> dict:
    """The scenario to run: the preset's document with the given top-level fields
    replacing the preset's (as `tierwise simulate --preset` does), or the scenario alone."""
    document = dict(preset or {})
    document.update(scenario or {})
    return document


def member_days(*, members: int, market_size: int, horizon_days: int, warm_up_days: int,
                replicates: int) -> int:
    """The size of a run, for the cap: the most members it can hold (the initial members
    plus every prospect of the market) x the days it simulates (warm-up and horizon) x its
    replicates."""
    return (members + market_size) * (horizon_days + warm_up_days) * replicates


def check_size(size: int, cap: int) -> None:
    """TOO_LARGE when `size` member-days exceed `cap`."""
    if size > cap:
        raise TooLarge(
            f"this run would simulate up to {size:,} member-days (members incl. the whole "
            f"market x days x replicates); the limit is {cap:,}: lower replicates, "
            "horizonDays or market.size", field="scenario")


async def start_simulation(*, uow, scenario: dict | None, preset: str | None, actor: str,
                           now: datetime, max_member_days: int) -> SimulationRun:
    """Validate the scenario (field-level `InvalidScenario`), cap its size, and record a
    queued run. The caller hands the run to the executor after this commits."""
    from simulation import NeedsCalibration, presets
    from simulation.scenario import FieldError, parse

    require_aware(now, field="now")
    if preset is not None and preset not in presets.PRESETS:
        raise UnknownPreset(f"unknown preset {preset!r}; use one of "
                            f"{', '.join(sorted(presets.PRESETS))}", field="preset")
    if scenario is None and preset is None:
        raise MissingScenario("give a scenario document, a preset, or both",
                              field="scenario")
    if scenario is not None and not isinstance(scenario, dict):
        raise MissingScenario("the scenario must be a JSON object", field="scenario")
    document = merged_document(scenario, presets.PRESETS[preset]() if preset else None)
    parsed = parse(document)
    if parsed.initial.from_database:
        raise NeedsCalibration([FieldError(
            "initial.fromDatabase", NeedsCalibration.code,
            "runs start from a preset or explicit initial members; calibrate first")])
    check_size(member_days(members=parsed.initial.members, market_size=parsed.market.size,
                           horizon_days=parsed.horizon_days,
                           warm_up_days=parsed.initial.warm_up_days,
                           replicates=parsed.replicates), max_member_days)
    run_id = await uow.simulation_runs.add(scenario=document, actor=actor, now=now)
    await uow.audit.record(actor=actor, action="simulation.start",
                           subject=f"simulation_run:{run_id}",
                           detail={"preset": preset, "replicates": parsed.replicates,
                                   "horizonDays": parsed.horizon_days})
    run = await uow.simulation_runs.get(run_id)
    await uow.commit()
    return run


async def get_run(*, uow, run_id: int) -> SimulationRun:
    run = await uow.simulation_runs.get(run_id)
    if run is None:
        raise RunNotFound(f"simulation run {run_id} does not exist", field="id")
    return run


async def get_progress(*, uow, run_id: int) -> RunProgress:
    """The run's status, progress and error (the feed's poll: no documents are read)."""
    progress = await uow.simulation_runs.progress_of(run_id)
    if progress is None:
        raise RunNotFound(f"simulation run {run_id} does not exist", field="runId")
    return progress


async def cancel_simulation(*, uow, run_id: int, actor: str, now: datetime) -> SimulationRun:
    """A queued run is cancelled at once; a running one gets its cancel flag set and is
    marked cancelled when its worker sees the flag (within about a second). RUN_FINISHED
    for a run that already ended."""
    run = await uow.simulation_runs.get(run_id, for_update=True)
    if run is None:
        raise RunNotFound(f"simulation run {run_id} does not exist", field="id")
    if run.finished:
        raise RunFinished(f"simulation run {run_id} already {run.status}", field="id")
    if run.status == RunStatus.QUEUED:
        await uow.simulation_runs.finish(run_id, RunStatus.CANCELLED, now=now)
    else:
        await uow.simulation_runs.request_cancel(run_id, now=now)
    await uow.audit.record(actor=actor, action="simulation.cancel",
                           subject=f"simulation_run:{run_id}", detail={"was": str(run.status)})
    run = await uow.simulation_runs.get(run_id)
    await uow.commit()
    return run


async def claim_run(*, uow, run_id: int, worker: str, now: datetime) -> dict | None:
    """The worker takes a queued run: it becomes running. None (nothing to do) when the
    run is no longer queued (cancelled while waiting, or failed at start-up)."""
    claimed = await uow.simulation_runs.claim(run_id, worker=worker, now=now)
    await uow.commit()
    return claimed


async def record_progress(*, uow, run_id: int, progress: float, now: datetime) -> bool:
    """Store the running run's progress and heartbeat; True when the worker should stop
    (a cancel was asked for, or the run is no longer running)."""
    stop = await uow.simulation_runs.progress(run_id, min(max(progress, 0.0), 1.0), now=now)
    await uow.commit()
    return stop


async def settle_run(*, uow, run_id: int, status: RunStatus, now: datetime,
                     result: dict | None = None, error: str | None = None) -> bool:
    """End an active run (succeeded with its result, failed with the reason, cancelled).
    False when it had already ended (a finished run never changes)."""
    changed = await uow.simulation_runs.finish(run_id, status, now=now, result=result,
                                               error=error)
    await uow.commit()
    return changed


async def fail_interrupted(*, uow, now: datetime, reason: str = SERVER_STOPPED) -> list[int]:
    """At start-up: fail every run left queued or running (its worker went with the
    stopped server). Returns their ids."""
    ids = await uow.simulation_runs.fail_active(reason, now=now)
    if ids:
        await uow.audit.record(actor="system", action="simulation.recover",
                               subject="simulation_runs", detail={"failed": ids,
                                                                  "reason": reason})
    await uow.commit()
    return ids
