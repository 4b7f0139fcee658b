"""A churn warning: the member and their risk (member rows: not for investors)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.types.lifecycle import ChurnRisk
from api.types.members import Member
from api.types.scalars import MinorUnits
from domain import churn, churn_scores
from domain.models import bgnbd, gamma_gamma


@strawberry.type(description="An inactive member with the warning level and win-back action.")
class ChurnWarning:
    risk: ChurnRisk
    _member_id: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: strawberry.Info) -> Member | None:
        found = await info.context.loaders.member.load(self._member_id)
        return Member.from_domain(found, personal=info.context.personal) if found else None

    @classmethod
    def from_domain(cls, risk: churn.ChurnRisk) -> ChurnWarning:
        return cls(risk=ChurnRisk.from_domain(risk), _member_id=risk.member_id)


@strawberry.type(description="BG/NBD parameters (time unit: weeks): purchase rate lambda ~ "
                             "Gamma(r, alpha); dropout probability after each repeat purchase "
                             "p ~ Beta(a, b).")
class BgNbdParameters:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    members: int
    converged: bool

    @classmethod
    def from_domain(cls, fit: bgnbd.BgNbdFit) -> BgNbdParameters:
        p = fit.params
        return cls(r=p.r, alpha=p.alpha, a=p.a, b=p.b, log_likelihood=fit.log_likelihood,
                   members=fit.n, converged=fit.converged)


@strawberry.type(description="Gamma-Gamma spend parameters: transaction values ~ Gamma(p, "
                             "nu) per member, nu ~ Gamma(q, gamma); values in minor units.")
class GammaGammaParameters:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    members: int
    converged: bool

    @classmethod
    def from_domain(cls, fit: gamma_gamma.GammaGammaFit) -> GammaGammaParameters:
        p = fit.params
        return cls(p=p.p, q=p.q, gamma=p.gamma, log_likelihood=fit.log_likelihood,
                   members=fit.n, converged=fit.converged)


@strawberry.type(description="The customer-base models behind the churn scores.")
class ChurnModel:
    as_of: date
    horizon_days: int
    members: int = strawberry.field(description="Buyers scored.")
    bgnbd: BgNbdParameters
    gamma_gamma: GammaGammaParameters
    fitted_at: datetime | None

    @classmethod
    def from_domain(cls, model: churn_scores.ChurnModel) -> ChurnModel:
        return cls(as_of=model.as_of, horizon_days=model.horizon_days, members=model.members,
                   bgnbd=BgNbdParameters.from_domain(model.bgnbd),
                   gamma_gamma=GammaGammaParameters.from_domain(model.gamma_gamma),
                   fitted_at=model.fitted_at)


@strawberry.type(description="A buyer's predicted churn risk over the model's horizon.")
class AtRiskMember:
    p_alive: float = strawberry.field(description="P(still active at the as-of day).")
    expected_transactions: float = strawberry.field(
        description="Expected purchase days in the horizon, given the history.")
    expected_spend_minor: float = strawberry.field(
        description="Expected value of one future purchase day (Gamma-Gamma).")
    expected_value_lost_minor: MinorUnits = strawberry.field(
        description="Expected spend x expected purchases if still active x (1 - pAlive).")
    _member_id: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: strawberry.Info) -> Member | None:
        found = await info.context.loaders.member.load(self._member_id)
        return Member.from_domain(found, personal=info.context.personal) if found else None

    @classmethod
    def from_domain(cls, score: churn_scores.MemberScore) -> AtRiskMember:
        return cls(p_alive=score.p_alive, expected_transactions=score.expected_transactions,
                   expected_spend_minor=score.expected_spend_minor,
                   expected_value_lost_minor=MinorUnits(score.value_lost_minor),
                   _member_id=score.member_id)
