"""Model histories and fits: buyers' purchase histories from the per-member summary,
and the stored BG/NBD and Gamma-Gamma fits.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import chain

import numpy as np
from sqlalchemy import Date, Integer, cast, delete, func, literal, select

from domain.kpi.records import ModelFits
from domain.models import histories as model_histories
from domain.models.bgnbd import BgNbdFit, BgNbdParams
from domain.models.gamma_gamma import GammaGammaFit, GammaGammaParams
from domain.store.repositories.kpi.base import FITS_KEPT, KpiBase, _sum, summary
from domain.store.tables import kpi_model_fits


class ModelHistoriesMixin(KpiBase):
    """Purchase histories for the models and their stored fits."""

    # --- model histories ---------------------------------------------------------------

    async def purchase_histories(self, as_of: date) -> model_histories.Histories | None:
        """Buyers' purchase histories up to `as_of` from the per-member summary, or None
        when the summary holds days after `as_of` (the caller then reads member_days)."""
        state = await self.state()
        if state is None or (state.latest_day is not None and state.latest_day > as_of):
            return None
        s = summary.c
        rows = (await self.conn.execute(
            select(s.member_id, s.purchase_days,
                   self._days_between(s.first_purchase, s.last_purchase),
                   self._days_between(s.first_purchase, literal(as_of, Date)),
                   s.revenue_minor - s.first_purchase_revenue_minor)
            .where(s.first_purchase.is_not(None)).order_by(s.member_id))).all()
        columns = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(len(rows), 5).T
        return model_histories.from_days(
            member_ids=columns[0], transaction_days=columns[1],
            first_to_last_days=columns[2], first_to_as_of_days=columns[3],
            repeat_revenue=columns[4])

    async def purchase_groups(self, as_of: date) -> model_histories.Grouped | None:
        """Buyers' purchase histories up to `as_of`, grouped by (x, t_x, T) in SQL (one
        covering-index pass), plus each repeat buyer's (x, repeat revenue) for the spend
        model; None when the summary holds days after `as_of`."""
        state = await self.state()
        if state is None or (state.latest_day is not None and state.latest_day > as_of):
            return None
        s = summary.c
        repeat_revenue = s.revenue_minor - s.first_purchase_revenue_minor
        key = (s.first_purchase, s.last_purchase, s.purchase_days)
        triples = (await self.conn.execute(
            select(s.purchase_days, self._days_between(s.first_purchase, s.last_purchase),
                   self._days_between(s.first_purchase, literal(as_of, Date)), func.count(),
                   _sum(repeat_revenue))
            .where(s.first_purchase.is_not(None)).group_by(*key))).all()
        spend = (await self.conn.execute(
            select(s.purchase_days, repeat_revenue)
            .where(s.first_purchase.is_not(None), s.purchase_days > 1))).all()
        t, r = _int_columns(triples, 5), _int_columns(spend, 2)
        return model_histories.grouped_from_days(
            transaction_days=t[0], first_to_last_days=t[1], first_to_as_of_days=t[2],
            count=t[3], repeat_revenue=t[4], spend_transaction_days=r[0],
            spend_repeat_revenue=r[1])

    async def model_fits(self, fingerprint: str) -> ModelFits | None:
        """The fits stored for data with this fingerprint."""
        row = (await self.conn.execute(select(kpi_model_fits).where(
            kpi_model_fits.c.fingerprint == fingerprint))).first()
        return _fits(row) if row else None

    async def latest_model_fits(self) -> ModelFits | None:
        """The most recently stored fits (a starting point for the next fit)."""
        row = (await self.conn.execute(select(kpi_model_fits).order_by(
            kpi_model_fits.c.created_at.desc()).limit(1))).first()
        return _fits(row) if row else None

    async def store_model_fits(self, fits: ModelFits, *, fingerprint: str, as_of: date,
                               buyers: int, now: datetime) -> None:
        """Keep the fits of data with this fingerprint (and only the latest FITS_KEPT)."""
        await self.conn.execute(self._insert(kpi_model_fits).values(
            fingerprint=fingerprint, as_of=as_of, buyers=buyers,
            bgnbd=_fit_json(fits.bgnbd, fits.bgnbd.params.as_array()),
            gamma_gamma=_fit_json(fits.gamma_gamma, fits.gamma_gamma.params.as_array()),
            created_at=now).on_conflict_do_nothing())
        kept = (select(kpi_model_fits.c.fingerprint)
                .order_by(kpi_model_fits.c.created_at.desc()).limit(FITS_KEPT))
        await self.conn.execute(delete(kpi_model_fits).where(
            kpi_model_fits.c.fingerprint.not_in(kept.scalar_subquery())))

    def _days_between(self, first, last):
        """Whole days from the Date `first` to the Date `last`, as SQL."""
        if self._pg:
            return last - first
        return cast(func.julianday(last) - func.julianday(first), Integer)



def _int_columns(rows, width: int) -> np.ndarray:
    """Integer result rows as `width` column arrays (numpy reads the rows' values in one
    pass: no tuple per row)."""
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width)
    return flat.reshape(len(rows), width).T


def _fit_json(fit, params: np.ndarray) -> dict:
    return dict(params=[float(v) for v in params], log_likelihood=float(fit.log_likelihood),
                n=int(fit.n), converged=bool(fit.converged), iterations=int(fit.iterations),
                message=str(fit.message))


def _fits(row) -> ModelFits:
    b, g = row.bgnbd, row.gamma_gamma
    return ModelFits(
        bgnbd=BgNbdFit(params=BgNbdParams(*b["params"]), log_likelihood=b["log_likelihood"],
                       n=b["n"], converged=b["converged"], iterations=b["iterations"],
                       message=b["message"]),
        gamma_gamma=GammaGammaFit(params=GammaGammaParams(*g["params"]),
                                  log_likelihood=g["log_likelihood"], n=g["n"],
                                  converged=g["converged"], iterations=g["iterations"],
                                  message=g["message"]))
