"""The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
curves for customer base analysis") and predictive lifetime value.

A member's transaction values z_1..z_x are Gamma(p, nu) with mean p/nu; across members
nu ~ Gamma(q, gamma). Spend is assumed independent of the purchase process (BG/NBD), as
in the paper. The inputs are frequency x (repeat transactions) and the mean value of
those repeat transactions, in minor units (see `domain.models.histories`).

Public API:
- `fit(frequency, monetary)` -> `GammaGammaFit` (maximum likelihood on members with
  x >= 1 and a positive mean);
- `log_likelihood(params, frequency, monetary)`: each member's log-density of the mean;
- `conditional_expected_spend(params, frequency, monetary)`: E[Z | x, mean];
- `predictive_ltv(...)`: expected revenue over a horizon, optionally discounted;
- `standard_errors(...)`, `simulate_gamma_gamma(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from domain.errors import InvalidValue
from domain.models import bgnbd, histories
from domain.models.errors import ModelNotFittable

MIN_MEMBERS = 20  # members with x >= 1 and a positive mean
WEEKS_PER_YEAR = 52.0
_LOG_BOUNDS = (-20.0, 30.0)  # spend is in minor units: gamma can be large


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Transaction values ~ Gamma(p, nu) per member, nu ~ Gamma(q, gamma): the population
    mean transaction value is p gamma / (q - 1) (finite when q > 1)."""

    p: float
    q: float
    gamma: float

    def as_array(self) -> np.ndarray:
        return np.array([self.p, self.q, self.gamma])


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    """A maximum-likelihood fit over `n` members (those with x >= 1 and a positive mean)."""

    params: GammaGammaParams
    log_likelihood: float
    n: int
    converged: bool
    iterations: int
    message: str


def _checked(frequency, monetary) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    z = np.atleast_1d(np.asarray(monetary, dtype=np.float64))
    if x.shape != z.shape or x.ndim != 1:
        raise InvalidValue(f"frequency and monetary differ in shape: {x.shape}, {z.shape}",
                           field="monetary")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(z))):
        raise InvalidValue("frequency and monetary must be finite", field="monetary")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise InvalidValue("frequency must be whole numbers >= 0", field="frequency")
    if np.any(z < 0):
        raise InvalidValue("monetary must be >= 0", field="monetary")
    return x, z


def log_likelihood(params: GammaGammaParams, frequency, monetary) -> np.ndarray:
    """Each member's log-density of the mean transaction value z given x >= 1:
    ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + px ln x + (px-1) ln z
    - (px+q) ln(gamma + x z)."""
    x, z = _checked(frequency, monetary)
    p, q, g = params.as_array()
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
            + q * np.log(g) + px * np.log(x) + (px - 1) * np.log(z) - (px + q) * np.log(g + x * z))


class _Data:
    def __init__(self, x, z) -> None:
        self.x, self.z, self.xz, self.ln_z = x, z, x * z, np.log(z)
        self.x_values, index = np.unique(x, return_inverse=True)
        self.x_count = np.bincount(index, minlength=len(self.x_values)).astype(np.float64)
        self.sum_x_ln_xz = bgnbd.dot(x, np.log(x) + self.ln_z)
        self.sum_ln_z = float(self.ln_z.sum())

    def neg_ll_and_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = params
        xv, cnt, n = self.x_values, self.x_count, float(len(self.x))
        pxv = p * xv
        ln_gxz = np.log(g + self.xz)
        ll = (bgnbd.dot(cnt, special.gammaln(pxv + q) - special.gammaln(pxv))
              - n * special.gammaln(q) + n * q * np.log(g) + p * self.sum_x_ln_xz
              - self.sum_ln_z - bgnbd.dot(p * self.x + q, ln_gxz))
        psi_sum = special.digamma(pxv + q)
        grad = np.array([
            bgnbd.dot(cnt * xv, psi_sum - special.digamma(pxv)) + self.sum_x_ln_xz
            - bgnbd.dot(self.x, ln_gxz),
            bgnbd.dot(cnt, psi_sum) - n * special.digamma(q) + n * np.log(g) - ln_gxz.sum(),
            n * q / g - bgnbd.dot(p * self.x + q, 1.0 / (g + self.xz)),
        ])
        return -float(ll), -grad


def fit(frequency, monetary, *, start: GammaGammaParams | None = None) -> GammaGammaFit:
    """The maximum-likelihood (p, q, gamma) from members with x >= 1 and a positive mean
    repeat-transaction value (members without repeat purchases say nothing about spend
    variation; zero-value means have no density). L-BFGS-B on log-parameters with the
    analytic gradient. Raises ModelNotFittable with fewer than MIN_MEMBERS such members
    or when all their means are equal (p would be unbounded)."""
    x, z = _checked(frequency, monetary)
    keep = (x > 0) & (z > 0)
    x, z = x[keep], z[keep]
    if len(x) < MIN_MEMBERS:
        raise ModelNotFittable(f"Gamma-Gamma needs at least {MIN_MEMBERS} members with a repeat "
                               f"purchase of positive value, got {len(x)}", field="monetary")
    if np.ptp(z) == 0:
        raise ModelNotFittable(f"every mean transaction value is {z[0]}: spend does not vary",
                               field="monetary")
    data = _Data(x, z)
    start = start or GammaGammaParams(p=1.0, q=2.0, gamma=float(z.mean()))
    n = float(len(x))

    def objective(theta):
        params = np.exp(theta)
        value, grad = data.neg_ll_and_grad(params)
        return value / n, grad * params / n

    result = optimize.minimize(objective, np.log(start.as_array()), jac=True,
                               method="L-BFGS-B", bounds=[_LOG_BOUNDS] * 3,
                               options=dict(maxiter=2000, ftol=1e-13, gtol=1e-9))
    return GammaGammaFit(params=GammaGammaParams(*np.exp(result.x).tolist()),
                         log_likelihood=-float(result.fun) * n, n=len(x),
                         converged=bool(result.success), iterations=int(result.nit),
                         message=str(result.message))


def standard_errors(params: GammaGammaParams, frequency, monetary) -> GammaGammaParams:
    """Asymptotic standard errors (inverse observed information) over the members the
    fit uses (x >= 1, positive mean)."""
    x, z = _checked(frequency, monetary)
    keep = (x > 0) & (z > 0)
    data = _Data(x[keep], z[keep])
    return GammaGammaParams(*bgnbd.hessian_standard_errors(
        lambda point: data.neg_ll_and_grad(point)[1], params.as_array()).tolist())


def conditional_expected_spend(params: GammaGammaParams, frequency, monetary) -> np.ndarray:
    """E[Z | x, mean z]: the expected value of a member's future transaction, in minor
    units, p (gamma + x z) / (p x + q - 1): a weighted average of the population mean
    p gamma / (q - 1) and the member's own mean, the member's weight growing with x.
    Members with x = 0 get the population mean (requires q > 1)."""
    x, z = _checked(frequency, monetary)
    p, q, g = params.as_array()
    if q <= 1 and np.any(x == 0):
        raise ModelNotFittable(f"q = {q} <= 1: the population mean spend is unbounded, so "
                               "members without repeat purchases have no expected spend",
                               field="monetary")
    return p * (g + x * z) / (p * x + q - 1)


def predictive_ltv(bgnbd_params: bgnbd.BgNbdParams, gg_params: GammaGammaParams, *,
                   frequency, recency, age, monetary, horizon_weeks: float,
                   annual_discount_rate: float = 0.0) -> np.ndarray:
    """Each member's expected revenue (minor units) over the next `horizon_weeks`:
    E[transactions in (T, T + h]] (BG/NBD eq. 10) x E[Z | x, mean] (Gamma-Gamma).

    With `annual_discount_rate` d > 0 the horizon is cut into whole weeks (plus a final
    part-week); the transactions expected in week k, E[Y(k)] - E[Y(k-1)], are valued at
    the week's end with the factor (1 + d) ** (-k / 52). Revenue, not margin: multiply by
    a margin for profit."""
    if horizon_weeks < 0:
        raise InvalidValue(f"horizon_weeks must be >= 0, got {horizon_weeks}",
                           field="horizonWeeks")
    if annual_discount_rate < 0:
        raise InvalidValue(f"annual_discount_rate must be >= 0, got {annual_discount_rate}",
                           field="annualDiscountRate")
    spend = conditional_expected_spend(gg_params, frequency, monetary)
    x, t_x, age_ = histories.checked(frequency, recency, age)
    if annual_discount_rate == 0 or horizon_weeks == 0:
        return spend * bgnbd.expected_transactions(bgnbd_params, t=horizon_weeks, frequency=x,
                                                   recency=t_x, age=age_)
    # E[Y(t)] = U(x, T, t) / (1 + odds_dead(x, t_x, T)): the denominator does not depend
    # on t, and U only on (x, T), which whole-day data repeats a lot; so the week loop
    # runs over the distinct (x, T) pairs and each member divides once.
    pair_x, pair_age, pair = _distinct_pairs(x, age_)
    r, alpha, a, b = bgnbd_params.as_array()
    ends = np.append(np.arange(1.0, np.ceil(horizon_weeks)), horizon_weeks)
    value, before = np.zeros_like(pair_x), np.zeros_like(pair_x)
    for end in ends:
        cumulative = bgnbd.unconditional_part(r, alpha, a, b, pair_x, pair_age, float(end))
        value += (cumulative - before) * (1 + annual_discount_rate) ** (-end / WEEKS_PER_YEAR)
        before = cumulative
    return spend * value[pair] / (1.0 + bgnbd.odds_dead(bgnbd_params, x, t_x, age_))


def _distinct_pairs(x: np.ndarray, age: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (x, T) pairs and each member's index into them."""
    x_values, x_rank = np.unique(x, return_inverse=True)
    age_values, age_rank = np.unique(age, return_inverse=True)
    keys, pair = np.unique(x_rank.astype(np.int64) * len(age_values) + age_rank,
                           return_inverse=True)
    return x_values[keys // len(age_values)], age_values[keys % len(age_values)], pair


def simulate_gamma_gamma(params: GammaGammaParams, *, frequency,
                         rng: np.random.Generator) -> np.ndarray:
    """Mean repeat-transaction values drawn from the model for members with the given
    frequencies: nu ~ Gamma(q, gamma), and the sum of x values ~ Gamma(p x, nu), so the
    mean is Gamma(p x, 1/nu) / x. 0 where x = 0."""
    x, _ = _checked(frequency, np.zeros_like(np.asarray(frequency, dtype=np.float64)))
    p, q, g = params.as_array()
    nu = rng.gamma(q, 1.0 / g, size=len(x))
    repeat = x > 0
    total = rng.gamma(np.where(repeat, p * x, 1.0), 1.0 / nu)
    return np.where(repeat, total / np.where(repeat, x, 1.0), 0.0)
