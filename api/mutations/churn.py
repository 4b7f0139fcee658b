from __future__ import annotations

from datetime import date

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.types.churn import ChurnModel
from domain import churn_scores
from domain.access import Permission
from domain.clock import utcnow

ChurnErrorCode = error_codes("ChurnErrorCode", "MODEL_NOT_FITTABLE")


@strawberry.type
class ChurnUserError(UserError):
    code: ChurnErrorCode


@strawberry.input
class ScoreChurnRiskInput:
    as_of: date | None = strawberry.field(default=None, description="UTC day; default today.")
    horizon_days: int = strawberry.field(default=churn_scores.DEFAULT_HORIZON_DAYS,
                                         description="1-365 days.")


@strawberry.type
class ScoreChurnRiskPayload:
    model: ChurnModel | None
    user_errors: list[ChurnUserError]


@strawberry.type
class ChurnMutations:
    @strawberry.mutation(description="Fit BG/NBD and Gamma-Gamma on every buyer's purchase "
                                     "days up to asOf and replace the stored churn scores.")
    async def score_churn_risk(self, info: strawberry.Info,
                               input: ScoreChurnRiskInput) -> ScoreChurnRiskPayload:
        now = utcnow()

        async def use_case(uow):
            return await churn_scores.score_churn_risk(
                uow=uow, as_of=input.as_of or now.date(), horizon_days=input.horizon_days,
                today=now.date(), actor=info.context.actor, now=now)

        model, errors = await run(info, permission=Permission.WRITE_COMMUNITY,
                                  error_type=ChurnUserError, codes=ChurnErrorCode,
                                  use_case=use_case)
        return ScoreChurnRiskPayload(model=ChurnModel.from_domain(model) if model else None,
                                     user_errors=errors)
