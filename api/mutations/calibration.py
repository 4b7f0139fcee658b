"""calibrateScenario: fill a simulation scenario from the live community."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError, user_errors
from api.mutations.common import error_codes
from domain import calibration as estimators
from domain.access import Permission
from domain.clock import utcnow
from domain.errors import DomainError
from simulation.calibration import calibrate_scenario
from simulation.scenario import InvalidScenario

CalibrationErrorCode = error_codes(
    "CalibrationErrorCode", "NOT_ENOUGH_DATA", "INVALID_SCENARIO", "TIERS_DO_NOT_MATCH",
    "AS_OF_IN_FUTURE")


@strawberry.type
class CalibrationUserError(UserError):
    code: CalibrationErrorCode


@strawberry.input
class CalibrateScenarioInput:
    scenario: JSON = strawberry.field(description="The base scenario document (README, "
                                                  "\"Simulation sandbox\"); its tiers are "
                                                  "matched to the community's by key.")
    as_of: date = strawberry.field(description="Last UTC day observed (not after today).")
    window_days: int = strawberry.field(
        default=estimators.DEFAULT_WINDOW_DAYS,
        description="Days observed, ending asOf; more than the churn window.")
    churn_days: int = strawberry.field(
        default=estimators.DEFAULT_CHURN_DAYS,
        description="Days without activity after which a member counts as churned.")


@strawberry.type(description="One estimated parameter: its scenario path (e.g. "
                             "tiers.core.activity, referral.acceptanceRate, channels.wechat), "
                             "value, standard error and the sample it rests on.")
class ParameterEstimate:
    path: str
    value: float
    standard_error: float | None = strawberry.field(
        description="Null when the sample is empty.")
    sample_size: int


@strawberry.type
class CalibrateScenarioPayload:
    scenario: JSON | None = strawberry.field(
        description="The filled scenario document: estimated tier rates, acceptance rate, "
                    "market p and q when identified, initial {fromDatabase, asOf, members, "
                    "payingShare}.")
    estimates: list[ParameterEstimate]
    notes: list[str]
    user_errors: list[CalibrationUserError]


@strawberry.type
class CalibrationMutations:
    @strawberry.mutation(description="Estimate a scenario's parameters (per-tier activity, "
                                     "conversion and churn hazards, invite rate; acceptance; "
                                     "channel mix; market p and q) and its starting members "
                                     "from the community's history. Reads only (aggregates, "
                                     "no personal data). Errors: NOT_ENOUGH_DATA, "
                                     "INVALID_SCENARIO, TIERS_DO_NOT_MATCH, AS_OF_IN_FUTURE, "
                                     "INVALID_VALUE.")
    async def calibrate_scenario(self, info: strawberry.Info,
                                 input: CalibrateScenarioInput) -> CalibrateScenarioPayload:
        empty = CalibrateScenarioPayload(scenario=None, estimates=[], notes=[], user_errors=[])
        try:
            info.context.require(Permission.READ_COMMUNITY)
            async with info.context.db.unit_of_work(write=False) as uow:
                _, document, result = await calibrate_scenario(
                    uow, input.scenario, as_of=input.as_of, window_days=input.window_days,
                    churn_days=input.churn_days, today=utcnow().date())
        except InvalidScenario as error:
            empty.user_errors = [CalibrationUserError(
                field=f"scenario.{e.path}" if e.path else "scenario",
                code=CalibrationErrorCode.INVALID_SCENARIO, message=e.message)
                for e in error.errors]
            return empty
        except DomainError as error:
            empty.user_errors = user_errors(error, CalibrationUserError, CalibrationErrorCode)
            return empty
        return CalibrateScenarioPayload(
            scenario=document, notes=result.notes, user_errors=[],
            estimates=[ParameterEstimate(path=path, value=e.value, sample_size=e.n,
                                         standard_error=e.se if e.n > 0 else None)
                       for path, e in result.estimates.items()])
