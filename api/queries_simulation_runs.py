"""simulationRun (query) and simulationProgress (subscription over graphql-transport-ws).

Every reading role may read runs and their results (aggregates only: a result document
holds no member rows); only operators and admins start or cancel them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry

from api.relay import pk_of
from api.types.simulation_runs import SimulationProgress, SimulationRun, SimulationRunStatus
from domain import simulation_runs
from domain.access import Permission


@strawberry.type
class SimulationQueries:
    @strawberry.field(description="A simulation run: status, progress, and the result document "
                                  "once it succeeded. Errors: NOT_FOUND, INVALID_ID.")
    async def simulation_run(self, info: strawberry.Info, id: strawberry.ID) -> SimulationRun:
        info.context.require(Permission.READ_COMMUNITY)
        run_id = pk_of(id, "SimulationRun", field="id")
        async with info.context.db.unit_of_work(write=False) as uow:
            run = await simulation_runs.get_run(uow=uow, run_id=run_id)
        return SimulationRun.from_domain(
            run, internal=info.context.principal.can(Permission.READ_MEMBERS))


@strawberry.type
class SimulationSubscriptions:
    @strawberry.subscription(description="A run's progress: a message when it changes and at "
                                         "least once a second, the last one when the run "
                                         "ends (finished: true). Errors: NOT_FOUND, "
                                         "INVALID_ID.")
    async def simulation_progress(self, info: strawberry.Info, run_id: strawberry.ID
                                  ) -> AsyncGenerator[SimulationProgress, None]:
        info.context.require(Permission.READ_COMMUNITY)
        pk = pk_of(run_id, "SimulationRun", field="runId")
        last, emitted = None, 0.0
        loop = asyncio.get_running_loop()
        while True:
            polled = loop.time()
            # A small read (no scenario or result document), FEED_POLL_SECONDS apart: the
            # feed must sample faster than the worker writes, or it skips progress.
            async with info.context.db.unit_of_work(write=False) as uow:
                run = await simulation_runs.get_progress(uow=uow, run_id=pk)
            now = loop.time()
            state = (run.status, run.progress, run.error)
            if last is None or simulation_runs.feed_sends(changed=state != last,
                                                          since_last_message=now - emitted):
                yield SimulationProgress(run_id=run_id, status=SimulationRunStatus(
                    str(run.status)), progress=run.progress, finished=run.finished,
                    error=run.error)
                last, emitted = state, now
            if run.finished:
                return
            await asyncio.sleep(max(0.0, polled + simulation_runs.FEED_POLL_SECONDS
                                    - loop.time()))
