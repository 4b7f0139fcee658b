"""SimulationRun: a simulation job, its progress and (once succeeded) its result."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.relay import Node, to_global_id
from domain import simulation_runs


@strawberry.enum(description="Where a simulation run stands.")
class SimulationRunStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.type(description="A simulation run (job): started by startSimulation, executed off "
                             "the request path; poll it or subscribe to simulationProgress.")
class SimulationRun(Node):
    status: SimulationRunStatus
    progress: float = strawberry.field(description="0..1: replicate-days simulated so far.")
    finished: bool = strawberry.field(description="True once succeeded, failed or cancelled.")
    scenario: JSON = strawberry.field(description="The scenario document that runs (preset "
                                                  "fields replaced by the given ones).")
    result: JSON | None = strawberry.field(description="The result document (KPI bands per "
                                                       "day, target probabilities) once "
                                                       "succeeded; null before.")
    error: str | None = strawberry.field(description="Why it failed.")
    cancel_requested: bool
    created_by: str | None = strawberry.field(description="Who started it (null for "
                                                          "investors).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None = strawberry.field(description="The worker's last "
                                                                 "progress write.")

    @classmethod
    def from_domain(cls, run: simulation_runs.SimulationRun, *, internal: bool) -> SimulationRun:
        return cls(
            id=to_global_id("SimulationRun", run.id), status=SimulationRunStatus(str(run.status)),
            progress=run.progress, finished=run.finished, scenario=run.scenario,
            result=run.result, error=run.error,
            cancel_requested=run.cancel_requested_at is not None,
            created_by=run.created_by if internal else None, created_at=run.created_at,
            started_at=run.started_at, finished_at=run.finished_at,
            heartbeat_at=run.heartbeat_at)


@strawberry.type(description="One tick of a run's progress feed.")
class SimulationProgress:
    run_id: strawberry.ID
    status: SimulationRunStatus
    progress: float
    finished: bool
    error: str | None
