"""Predictive churn risk: who is probably leaving, and what it costs.

The inactivity warnings of `domain.churn` say who has gone quiet; this module says how
likely each buyer is still "alive" and how much revenue their leaving is expected to
cost, from a BG/NBD model (Fader, Hardie & Lee 2005) for the number of transactions
and a Gamma-Gamma model for their value, both fitted by maximum likelihood on every
buyer's purchase history up to the as-of day (`domain.models`). Members without any
purchase have no purchase history and are not scored.

Per member, over the next `horizon_days` (default 30):
- `p_alive`: P(still active at the as-of day | x, t_x, T);
- `expected_transactions`: E[transactions in the horizon | history] (BG/NBD eq. 10);
- `expected_if_alive`: the same given the member is still active, which is
  `expected_transactions / p_alive`;
- `expected_spend_minor`: E[value of a future transaction] (Gamma-Gamma);
- `value_lost_minor` = expected_spend x expected_if_alive x (1 - p_alive): the revenue
  the member would bring in the horizon were they still active, times the probability
  they are not. `atRiskMembers` is ordered by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from domain.errors import InvalidValue
from domain.models import bgnbd, gamma_gamma
from domain.models.errors import ModelNotFittable
from domain.models.histories import DAYS_PER_WEEK, Histories

DEFAULT_HORIZON_DAYS = 30
MAX_HORIZON_DAYS = 365


@dataclass(frozen=True, slots=True)
class ChurnModel:
    """The fitted models behind one scoring run."""

    as_of: date
    horizon_days: int
    members: int  # buyers scored
    bgnbd: bgnbd.BgNbdFit
    gamma_gamma: gamma_gamma.GammaGammaFit
    fitted_at: datetime | None = None


@dataclass(frozen=True, eq=False)
class Scores:
    """One entry per scored member, in the order of `member_ids`."""

    member_ids: np.ndarray
    p_alive: np.ndarray
    expected_transactions: np.ndarray
    expected_if_alive: np.ndarray
    expected_spend_minor: np.ndarray
    value_lost_minor: np.ndarray


@dataclass(frozen=True, slots=True)
class MemberScore:
    member_id: int
    p_alive: float
    expected_transactions: float
    expected_spend_minor: float
    value_lost_minor: int


def check_horizon(days: int) -> int:
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise InvalidValue(f"horizonDays must be 1-{MAX_HORIZON_DAYS}, got {days}",
                           field="horizonDays")
    return days


def expected_spend(fit: gamma_gamma.GammaGammaParams, history: Histories) -> np.ndarray:
    """Gamma-Gamma's expected transaction value per member. Members without a repeat
    purchase get the population mean p gamma / (q - 1); when q <= 1 that mean does not
    exist and they get the mean spend of the repeat buyers instead."""
    x, m = history.frequency, history.monetary
    spend = np.empty_like(m)
    repeat = x > 0
    spend[repeat] = gamma_gamma.conditional_expected_spend(fit, x[repeat], m[repeat])
    if fit.q > 1:
        spend[~repeat] = fit.p * fit.gamma / (fit.q - 1)
    else:
        spend[~repeat] = float(m[repeat].mean())
    return spend


def score(history: Histories, *, as_of: date, horizon_days: int = DEFAULT_HORIZON_DAYS
          ) -> tuple[ChurnModel, Scores]:
    """Fit both models on `history` and score every member in it. Raises
    ModelNotFittable when the history cannot identify a model."""
    check_horizon(horizon_days)
    if len(history) == 0:
        raise ModelNotFittable(f"no member has a purchase on or before {as_of}",
                               field="asOf")
    fitted = bgnbd.fit(history.frequency, history.recency, history.age)
    spend_fit = gamma_gamma.fit(history.frequency, history.monetary)
    weeks = horizon_days / DAYS_PER_WEEK
    cols = dict(frequency=history.frequency, recency=history.recency, age=history.age)
    alive = bgnbd.p_alive(fitted.params, **cols)
    expected = bgnbd.expected_transactions(fitted.params, t=weeks, **cols)
    if_alive = expected / alive
    spend = expected_spend(spend_fit.params, history)
    model = ChurnModel(as_of=as_of, horizon_days=horizon_days, members=len(history),
                       bgnbd=fitted, gamma_gamma=spend_fit)
    return model, Scores(member_ids=history.member_ids, p_alive=alive,
                         expected_transactions=expected, expected_if_alive=if_alive,
                         expected_spend_minor=spend,
                         value_lost_minor=spend * if_alive * (1.0 - alive))


async def score_churn_risk(*, uow, as_of: date, horizon_days: int, today: date, actor: str,
                           now: datetime) -> ChurnModel:
    """Fit the models on purchase histories up to `as_of` (a UTC day, not after today),
    score every buyer and replace the stored scores; one transaction."""
    if as_of > today:
        raise InvalidValue(f"asOf {as_of} is in the future", field="asOf")
    history = await uow.histories.as_of(as_of, basis="purchases")
    model, scores = score(history, as_of=as_of, horizon_days=horizon_days)
    stored = await uow.churn_scores.replace(model, scores, now=now)
    await uow.audit.record(actor=actor, action="churn.score", subject="churn_scores", detail={
        "asOf": as_of.isoformat(), "horizonDays": horizon_days, "members": model.members,
        "logLikelihood": model.bgnbd.log_likelihood})
    await uow.commit()
    return stored
