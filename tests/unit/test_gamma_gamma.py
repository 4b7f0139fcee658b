"""Gamma-Gamma: the spend formulas on hand-computed cases, the fit recovering known
parameters from data drawn from the model, and predictive LTV (undiscounted and
discounted)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from domain.errors import InvalidValue
from domain.models import bgnbd
from domain.models import gamma_gamma as gg
from domain.models.errors import ModelNotFittable

# Realistic true values to simulate from: mean transaction 2 * 6,000 / 2 = 6,000 fen.
TRUE = gg.GammaGammaParams(p=6.0, q=3.0, gamma=2_000.0)
BUYING = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_log_likelihood_matches_hand_computed_values():
    # p=1, q=2, gamma=1, x=1, z=1: G(3)/(G(1)G(2)) * 1 * 1 * 1 / 2^3 = 1/4.
    ones = gg.GammaGammaParams(p=1.0, q=2.0, gamma=1.0)
    assert gg.log_likelihood(ones, [1], [1.0])[0] == pytest.approx(math.log(1 / 4), rel=1e-12)
    # The paper's density in product form for a larger case.
    p, q, g, x, z = 2.5, 3.5, 40.0, 3, 12.0
    density = (math.gamma(p * x + q) / (math.gamma(p * x) * math.gamma(q)) * g**q
               * x ** (p * x) * z ** (p * x - 1) / (g + x * z) ** (p * x + q))
    got = gg.log_likelihood(gg.GammaGammaParams(p, q, g), [x], [z])[0]
    assert got == pytest.approx(math.log(density), rel=1e-12)


def test_expected_spend_shrinks_a_members_mean_towards_the_population_mean():
    params = gg.GammaGammaParams(p=2.0, q=3.0, gamma=10.0)
    # x = 0: population mean p gamma / (q - 1) = 10; x = 3, mean 20:
    # p (gamma + x z) / (p x + q - 1) = 2 * 70 / 8 = 17.5, between 10 and 20.
    spend = gg.conditional_expected_spend(params, [0, 3], [0.0, 20.0])
    assert spend == pytest.approx([10.0, 17.5])


def test_fit_recovers_the_parameters_of_data_drawn_from_the_model():
    rng = np.random.default_rng(7)
    frequency = rng.integers(1, 12, 20_000).astype(float)
    monetary = gg.simulate_gamma_gamma(TRUE, frequency=frequency, rng=rng)
    fit = gg.fit(frequency, monetary)
    assert fit.converged and fit.n == 20_000
    se = gg.standard_errors(fit.params, frequency, monetary).as_array()
    # Tolerance from the sample size: within 4 asymptotic standard errors (inverse
    # observed information at the estimate), and jointly a likelihood-ratio test.
    assert np.all(np.abs(fit.params.as_array() - TRUE.as_array()) < 4 * se), (fit.params, se)
    assert np.all(se < 0.15 * TRUE.as_array())
    ratio = 2 * (fit.log_likelihood - gg.log_likelihood(TRUE, frequency, monetary).sum())
    assert 0 <= ratio < stats.chi2.ppf(0.999, df=3)


def test_members_without_repeat_or_with_zero_spend_are_left_out_of_the_fit():
    rng = np.random.default_rng(3)
    frequency = rng.integers(1, 6, 500).astype(float)
    monetary = gg.simulate_gamma_gamma(TRUE, frequency=frequency, rng=rng)
    with_noise = gg.fit(np.append(frequency, [0, 0, 4]), np.append(monetary, [0, 0, 0]))
    assert with_noise.n == 500
    assert with_noise.params == gg.fit(frequency, monetary).params


def test_too_few_repeat_buyers_or_constant_spend_cannot_be_fitted():
    with pytest.raises(ModelNotFittable) as few:
        gg.fit([1, 2, 0], [10.0, 12.0, 0.0])
    assert few.value.code == "MODEL_NOT_FITTABLE"
    with pytest.raises(ModelNotFittable, match="spend does not vary"):
        gg.fit(np.ones(50), np.full(50, 990.0))


def test_unbounded_population_mean_is_an_error_for_members_without_repeat_purchases():
    heavy_tail = gg.GammaGammaParams(p=2.0, q=0.8, gamma=10.0)
    with pytest.raises(ModelNotFittable, match="q = 0.8"):
        gg.conditional_expected_spend(heavy_tail, [0], [0.0])


HISTORY = dict(frequency=[0, 2, 7], recency=[0.0, 10.0, 30.0], age=[12.0, 30.0, 31.0],
               monetary=[0.0, 5_000.0, 8_000.0])


def test_undiscounted_ltv_is_expected_transactions_times_expected_spend():
    ltv = gg.predictive_ltv(BUYING, TRUE, horizon_weeks=52.0, **HISTORY)
    history = {k: v for k, v in HISTORY.items() if k != "monetary"}
    transactions = bgnbd.expected_transactions(BUYING, t=52.0, **history)
    spend = gg.conditional_expected_spend(TRUE, HISTORY["frequency"], HISTORY["monetary"])
    assert ltv == pytest.approx(transactions * spend)
    assert np.all(np.diff(ltv) > 0)  # the frequent, recent buyer is worth the most


def test_discounting_values_each_week_at_its_end():
    plain = gg.predictive_ltv(BUYING, TRUE, horizon_weeks=52.0, **HISTORY)
    discounted = gg.predictive_ltv(BUYING, TRUE, horizon_weeks=52.0,
                                   annual_discount_rate=0.10, **HISTORY)
    # Every week is discounted by a factor between (1.1)^(-1/52) and 1/1.1.
    assert np.all(discounted < plain * 1.1 ** (-1 / 52))
    assert np.all(discounted > plain / 1.1)
    one_week = dict(horizon_weeks=1.0, **HISTORY)
    assert gg.predictive_ltv(BUYING, TRUE, annual_discount_rate=0.10, **one_week) == (
        pytest.approx(gg.predictive_ltv(BUYING, TRUE, **one_week) * 1.1 ** (-1 / 52)))


def test_negative_horizon_or_discount_rate_is_rejected():
    with pytest.raises(InvalidValue) as error:
        gg.predictive_ltv(BUYING, TRUE, horizon_weeks=-1.0, **HISTORY)
    assert error.value.field == "horizonWeeks"
    with pytest.raises(InvalidValue):
        gg.predictive_ltv(BUYING, TRUE, horizon_weeks=4.0, annual_discount_rate=-0.1, **HISTORY)
