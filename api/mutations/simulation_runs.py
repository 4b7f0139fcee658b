"""Simulation jobs: start a run (returns at once), cancel it."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError, user_errors
from api.jobs import max_member_days
from api.mutations.common import error_codes
from api.relay import pk_of
from api.types.simulation_runs import SimulationRun
from domain import simulation_runs
from domain.access import Permission
from domain.clock import utcnow
from domain.errors import DomainError

# Scenario field codes come from simulation.scenario_reader (field-level, one per problem).
SCENARIO_CODES = ("REQUIRED", "WRONG_TYPE", "OUT_OF_RANGE", "SHARES_NOT_1", "DUPLICATE_TIER",
                  "UNKNOWN_TIER", "UNKNOWN_CHANNEL", "UNKNOWN_METRIC", "ENDS_BEFORE_START",
                  "ACTIONS_DO_NOT_MATCH_LEVELS", "DUPLICATE_CHANNEL")
SimulationErrorCode = error_codes(
    "SimulationErrorCode", "INVALID_SCENARIO", *SCENARIO_CODES, "NEEDS_CALIBRATION",
    "TOO_LARGE", "UNKNOWN_PRESET", "MISSING_SCENARIO", "RUN_FINISHED")


@strawberry.type
class SimulationUserError(UserError):
    code: SimulationErrorCode


@strawberry.input
class StartSimulationInput:
    scenario: JSON | None = strawberry.field(
        default=None, description="A scenario document (README, 'Simulation sandbox'); with "
                                  "a preset, its top-level fields replace the preset's.")
    preset: str | None = strawberry.field(default=None, description="A preset name: "
                                                                    "three-tier.")


@strawberry.input
class CancelSimulationInput:
    id: strawberry.ID


@strawberry.type
class SimulationRunPayload:
    run: SimulationRun | None
    user_errors: list[SimulationUserError]


def _scenario_errors(error) -> list[SimulationUserError]:
    codes = SimulationErrorCode.__members__
    return [SimulationUserError(
        field=f"scenario.{e.path}" if e.path else "scenario",
        code=SimulationErrorCode[e.code if e.code in codes else "INVALID_SCENARIO"],
        message=e.message) for e in error.errors]


async def _attempt(info: strawberry.Info, use_case) -> tuple[object, list]:
    await info.context.jobs.ready()
    from simulation.scenario import InvalidScenario

    try:
        info.context.require(Permission.WRITE_COMMUNITY)
        async with info.context.db.unit_of_work() as uow:
            return await use_case(uow), []
    except InvalidScenario as error:
        return None, _scenario_errors(error)
    except DomainError as error:
        return None, user_errors(error, SimulationUserError, SimulationErrorCode)


@strawberry.type
class SimulationMutations:
    @strawberry.mutation(description="Validate a scenario and queue it as a run; returns at "
                                     "once. The run executes in a worker (process pool, or "
                                     "Dask with TIERWISE_DASK_ADDRESS). Errors: scenario "
                                     "field codes (field scenario.<path>), TOO_LARGE (members "
                                     "x days x replicates over the cap), UNKNOWN_PRESET, "
                                     "MISSING_SCENARIO, NEEDS_CALIBRATION, FORBIDDEN.")
    async def start_simulation(self, info: strawberry.Info, input: StartSimulationInput
                               ) -> SimulationRunPayload:
        run, errors = await _attempt(info, lambda uow: simulation_runs.start_simulation(
            uow=uow, scenario=input.scenario, preset=input.preset, actor=info.context.actor,
            now=utcnow(), max_member_days=max_member_days()))
        if run is not None:
            info.context.jobs.submit(run.id)
        return SimulationRunPayload(
            run=SimulationRun.from_domain(run, internal=True) if run else None,
            user_errors=errors)

    @strawberry.mutation(description="Stop a run: a queued one at once, a running one within "
                                     "about a second (its worker polls the flag). Errors: "
                                     "RUN_FINISHED, NOT_FOUND, INVALID_ID, FORBIDDEN.")
    async def cancel_simulation(self, info: strawberry.Info, input: CancelSimulationInput
                                ) -> SimulationRunPayload:
        async def use_case(uow):
            run_id = pk_of(input.id, "SimulationRun", field="id")
            return await simulation_runs.cancel_simulation(
                uow=uow, run_id=run_id, actor=info.context.actor, now=utcnow())

        run, errors = await _attempt(info, use_case)
        return SimulationRunPayload(
            run=SimulationRun.from_domain(run, internal=True) if run else None,
            user_errors=errors)
