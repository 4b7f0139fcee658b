"""BG/NBD: the formulas on hand-computed cases and against numerical integrals over the
mixing distributions, and the fit recovering the parameters of data drawn from the
model itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from domain.errors import InvalidValue
from domain.models import bgnbd
from domain.models.errors import ModelNotFittable

ONES = bgnbd.BgNbdParams(r=1.0, alpha=1.0, a=1.0, b=1.0)
# Shapes above 1 keep the Gamma and Beta densities bounded, so quadrature is accurate.
SMOOTH = bgnbd.BgNbdParams(r=2.0, alpha=3.0, a=2.0, b=4.0)
# The published CDNOW estimates, used here only as realistic true values to simulate from.
CDNOW_LIKE = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_log_likelihood_matches_hand_computed_values():
    # x = 0, T = 1: L = (alpha / (alpha + T))^r = 1/2.
    # x = 1, t_x = 1, T = 2: A1 = 1, A2 = G(2)G(2)/(G(1)G(3)) = 1/2, A3 = 3^-2, A4 = 2^-2,
    # so L = 1/2 (1/9 + 1/4) = 13/72.
    ll = bgnbd.log_likelihood(ONES, [0, 1], [0, 1], [1, 2])
    assert ll == pytest.approx([math.log(1 / 2), math.log(13 / 72)], rel=1e-12)


def test_log_likelihood_agrees_with_the_papers_product_form():
    r, alpha, a, b = 0.6, 2.5, 0.9, 3.1
    x, t_x, age = 4, 10.0, 26.0
    a1 = math.gamma(r + x) * alpha**r / math.gamma(r)
    a2 = math.gamma(a + b) * math.gamma(b + x) / (math.gamma(b) * math.gamma(a + b + x))
    a3 = (1 / (alpha + age)) ** (r + x)
    a4 = a / (b + x - 1) * (1 / (alpha + t_x)) ** (r + x)
    expected = math.log(a1 * a2 * (a3 + a4))
    got = bgnbd.log_likelihood(bgnbd.BgNbdParams(r, alpha, a, b), [x], [t_x], [age])
    assert got[0] == pytest.approx(expected, rel=1e-12)


def test_p_alive_is_one_without_repeat_purchases_and_hand_computed_otherwise():
    # 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + (3/2)^2) = 4/13.
    assert bgnbd.p_alive(ONES, [0, 1], [0, 1], [5, 2]) == pytest.approx([1.0, 4 / 13])


def test_a_member_who_bought_recently_is_more_likely_alive_and_buys_more():
    recent = dict(frequency=[5], recency=[20.0], age=[21.0])
    lapsed = dict(frequency=[5], recency=[4.0], age=[21.0])
    assert bgnbd.p_alive(CDNOW_LIKE, **recent) > bgnbd.p_alive(CDNOW_LIKE, **lapsed)
    assert (bgnbd.expected_transactions(CDNOW_LIKE, t=4.0, **recent)
            > bgnbd.expected_transactions(CDNOW_LIKE, t=4.0, **lapsed))


def _posterior_integrals(params, x, t_x, age, t):
    """(likelihood, P(alive), E[Y(t)]) for one member by integrating over lambda and p."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_norm = r * math.log(alpha) - math.lgamma(r) - (math.lgamma(a) + math.lgamma(b)
                                                      - math.lgamma(a + b))

    def density(lam, p):  # Gamma(r, alpha) x Beta(a, b)
        return math.exp(log_norm + (r - 1) * math.log(lam) - alpha * lam
                        + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p))

    def integral(f):
        return integrate.dblquad(lambda p, lam: f(lam, p) * density(lam, p),
                                 0, np.inf, 0, 1, epsabs=1e-13, epsrel=1e-10)[0]

    def alive(lam, p):
        return (1 - p) ** x * lam**x * math.exp(-lam * age)

    def dead(lam, p):
        return p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x > 0 else 0.0

    likelihood = integral(lambda lam, p: alive(lam, p) + dead(lam, p))
    alive_mass = integral(alive)
    future = integral(lambda lam, p: alive(lam, p) * (1 - math.exp(-lam * p * t)) / p)
    return likelihood, alive_mass / likelihood, future / likelihood


@pytest.mark.parametrize("x,t_x,age", [(0, 0.0, 5.0), (2, 3.0, 5.0), (6, 1.5, 8.0)])
def test_closed_forms_equal_integrals_over_the_mixing_distributions(x, t_x, age):
    likelihood, alive, future = _posterior_integrals(SMOOTH, x, t_x, age, t=4.0)
    history = dict(frequency=[x], recency=[t_x], age=[age])
    assert bgnbd.log_likelihood(SMOOTH, **history)[0] == pytest.approx(math.log(likelihood),
                                                                       rel=1e-7)
    assert bgnbd.p_alive(SMOOTH, **history)[0] == pytest.approx(alive, rel=1e-7)
    assert bgnbd.expected_transactions(SMOOTH, t=4.0, **history)[0] == pytest.approx(
        future, rel=1e-7)


def test_expected_transactions_of_a_new_member_is_the_conditional_form_at_zero_history():
    new = bgnbd.expected_transactions_new(CDNOW_LIKE, 39.0)
    conditional = bgnbd.expected_transactions(CDNOW_LIKE, t=39.0, frequency=[0], recency=[0],
                                              age=[0])
    assert new == pytest.approx(conditional[0], rel=1e-12)
    _, _, integral = _posterior_integrals(SMOOTH, 0, 0.0, 0.0, t=10.0)
    assert bgnbd.expected_transactions_new(SMOOTH, 10.0) == pytest.approx(integral, rel=1e-7)


def test_simulated_members_buy_as_often_as_the_model_expects():
    rng = np.random.default_rng(11)
    x, _, _ = bgnbd.simulate_bgnbd(CDNOW_LIKE, n=200_000, T=39.0, rng=rng)
    # Tolerance: 4 standard errors of the sample mean.
    expected = bgnbd.expected_transactions_new(CDNOW_LIKE, 39.0)
    assert abs(x.mean() - expected) < 4 * x.std() / math.sqrt(len(x))


def test_fit_recovers_the_parameters_of_data_drawn_from_the_model():
    rng = np.random.default_rng(20_000)
    n = 20_000
    x, t_x, age = bgnbd.simulate_bgnbd(CDNOW_LIKE, n=n, T=rng.uniform(20, 52, n), rng=rng)
    fit = bgnbd.fit(x, t_x, age)
    assert fit.converged and fit.n == n
    assert fit.log_likelihood == pytest.approx(bgnbd.log_likelihood(fit.params, x, t_x, age).sum())
    se = bgnbd.standard_errors(fit.params, x, t_x, age).as_array()
    # Tolerance from the sample size: each estimate within 4 asymptotic standard errors
    # (inverse observed information at the estimate; about 1/sqrt(n))...
    error = fit.params.as_array() - CDNOW_LIKE.as_array()
    assert np.all(np.abs(error) < 4 * se), (fit.params, se)
    assert np.all(se < 0.15 * CDNOW_LIKE.as_array())  # ...and the check has teeth.
    # Jointly: the likelihood-ratio statistic against the truth, chi-squared with 4 df.
    ratio = 2 * (fit.log_likelihood - bgnbd.log_likelihood(CDNOW_LIKE, x, t_x, age).sum())
    assert 0 <= ratio < stats.chi2.ppf(0.999, df=4)


def test_fit_on_distinct_day_triples_equals_the_fit_on_every_member():
    rng = np.random.default_rng(5)
    age_days = rng.integers(28, 365, 5_000)
    x, t_x, _ = bgnbd.simulate_bgnbd(CDNOW_LIKE, n=5_000, T=age_days / 7, rng=rng)
    t_x, age = bgnbd.discretise_days(t_x, age_days=age_days, rng=rng)
    triples = bgnbd.unique_triples(x, t_x, age)
    assert len(triples[0]) < len(x) and triples[3].sum() == len(x)
    compressed, raw = bgnbd.fit(x, t_x, age), bgnbd.fit(x, t_x, age, compress=False)
    assert compressed.log_likelihood == pytest.approx(raw.log_likelihood, rel=1e-10)
    assert compressed.params.as_array() == pytest.approx(raw.params.as_array(), rel=1e-4)


def test_too_few_members_or_no_repeat_purchases_cannot_be_fitted():
    with pytest.raises(ModelNotFittable) as few:
        bgnbd.fit([1, 0, 2], [1.0, 0, 2.0], [3.0, 3.0, 3.0])
    assert few.value.code == "MODEL_NOT_FITTABLE" and "at least 20 members" in few.value.message
    with pytest.raises(ModelNotFittable, match="repeat transaction, got 0"):
        bgnbd.fit(np.zeros(100), np.zeros(100), np.full(100, 10.0))


@pytest.mark.parametrize("frequency,recency,age,field", [
    ([1], [5.0], [4.0], "recency"),   # last purchase after the as-of date
    ([0], [1.0], [4.0], "recency"),   # recency without a repeat purchase
    ([1.5], [1.0], [4.0], "frequency"),
    ([-1], [0.0], [4.0], "frequency"),
    ([1, 2], [1.0], [4.0], "frequency"),
])
def test_inconsistent_histories_are_rejected(frequency, recency, age, field):
    with pytest.raises(InvalidValue) as error:
        bgnbd.p_alive(CDNOW_LIKE, frequency, recency, age)
    assert error.value.field == field


def test_distinct_triples_and_their_counts_match_a_row_wise_unique():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 4, 3_000).astype(float)
    t_x = np.where(x > 0, rng.integers(0, 6, 3_000) / 7, 0.0)
    age = rng.integers(6, 9, 3_000) / 7
    rows, counts = np.unique(np.column_stack([x, t_x, age]), axis=0, return_counts=True)
    got = bgnbd.unique_triples(x, t_x, age)
    assert np.column_stack(got[:3]).tolist() == rows.tolist()
    assert got[3].tolist() == counts.tolist()
