"""Stored churn models and the latest predictive score per buyer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.churn_scores import ChurnModel, MemberScore, Scores
from domain.models import bgnbd, gamma_gamma
from domain.paging import Page, PageRequest
from domain.store.tables import churn_models, churn_scores

_CHUNK = 50_000


def _fit_json(fit) -> dict:
    return {"params": {name: float(getattr(fit.params, name))
                       for name in fit.params.__dataclass_fields__},
            "logLikelihood": float(fit.log_likelihood), "n": int(fit.n),
            "converged": bool(fit.converged), "iterations": int(fit.iterations),
            "message": fit.message}


def _fit(data: dict, fit_type, params_type):
    return fit_type(params=params_type(**data["params"]), log_likelihood=data["logLikelihood"],
                    n=data["n"], converged=data["converged"], iterations=data["iterations"],
                    message=data["message"])


def _model(row) -> ChurnModel:
    return ChurnModel(
        as_of=row.as_of, horizon_days=row.horizon_days, members=row.members,
        bgnbd=_fit(row.bgnbd, bgnbd.BgNbdFit, bgnbd.BgNbdParams),
        gamma_gamma=_fit(row.gamma_gamma, gamma_gamma.GammaGammaFit,
                         gamma_gamma.GammaGammaParams),
        fitted_at=row.fitted_at)


def _score(row) -> MemberScore:
    return MemberScore(member_id=row.member_id, p_alive=row.p_alive,
                       expected_transactions=row.expected_transactions,
                       expected_spend_minor=row.expected_spend_minor,
                       value_lost_minor=row.value_lost_minor)


class ChurnScoreRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def replace(self, model: ChurnModel, scores: Scores, *, now: datetime) -> ChurnModel:
        """Store the model and make `scores` the only stored scores."""
        model_id = (await self.conn.execute(churn_models.insert().values(
            as_of=model.as_of, horizon_days=model.horizon_days, members=model.members,
            bgnbd=_fit_json(model.bgnbd), gamma_gamma=_fit_json(model.gamma_gamma),
            fitted_at=now).returning(churn_models.c.id))).scalar_one()
        await self.conn.execute(delete(churn_scores))
        columns = (scores.member_ids.tolist(), scores.p_alive.tolist(),
                   scores.expected_transactions.tolist(), scores.expected_spend_minor.tolist(),
                   np.rint(scores.value_lost_minor).astype(np.int64).tolist())
        rows = [dict(member_id=m, model_id=model_id, p_alive=p, expected_transactions=e,
                     expected_spend_minor=s, value_lost_minor=v)
                for m, p, e, s, v in zip(*columns, strict=True)]
        for start in range(0, len(rows), _CHUNK):
            await self.conn.execute(churn_scores.insert(), rows[start:start + _CHUNK])
        return (await self.latest_model())

    async def latest_model(self) -> ChurnModel | None:
        row = (await self.conn.execute(
            select(churn_models).order_by(churn_models.c.id.desc()).limit(1))).first()
        return _model(row) if row else None

    async def page(self, request: PageRequest) -> Page[MemberScore]:
        """Scores by expected value lost, largest first, then member id."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        s = churn_scores.c
        query = select(churn_scores)
        if request.after is not None:
            value, member_id = request.after
            query = query.where(or_(s.value_lost_minor < value,
                                    and_(s.value_lost_minor == value, s.member_id > member_id)))
        rows = (await self.conn.execute(
            query.order_by(s.value_lost_minor.desc(), s.member_id).limit(request.first + 1)
        )).all()
        return Page(items=[_score(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def count(self) -> int:
        return (await self.conn.execute(select(func.count()).select_from(churn_scores))
                ).scalar_one()

    async def scores_of(self, member_ids: Iterable[int]) -> dict[int, MemberScore]:
        rows = await self.conn.execute(
            select(churn_scores).where(churn_scores.c.member_id.in_(list(member_ids))))
        return {row.member_id: _score(row) for row in rows}
