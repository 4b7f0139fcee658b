"""The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a member makes repeat transactions as a Poisson process with rate lambda
(per week); after each repeat transaction the member drops out for good with probability
p. Across members lambda ~ Gamma(shape r, rate alpha) and p ~ Beta(a, b). The inputs per
member are frequency x (repeat transactions), recency t_x and age T in weeks (see
`domain.models.histories`).

Public API (all vectorised over members):
- `fit(frequency, recency, age)` -> `BgNbdFit` (maximum likelihood, paper eq. 6);
- `log_likelihood(params, ...)`: each member's log-likelihood;
- `p_alive(params, ...)`: probability the member is still alive at T (eq. 11);
- `expected_transactions(params, t=..., ...)`: expected transactions in (T, T + t] (eq. 10);
- `expected_transactions_new(params, t)`: E[X(t)] for a member just acquired (eq. 9);
- `standard_errors(params, ...)`: asymptotic standard errors from the Hessian;
- `simulate_bgnbd(params, n=..., T=..., rng=...)` and `discretise_days(...)`: data drawn
  from the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from domain.models import histories
from domain.models.errors import ModelNotFittable

MIN_MEMBERS = 20  # fewer cannot identify four parameters
MIN_REPEATERS = 2  # members with x >= 1: without repeat purchases p is not identified
_LOG_BOUNDS = (-12.0, 14.0)  # log-parameter box: keeps exp() finite on degenerate data


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """lambda ~ Gamma(r, alpha) per week (mean rate r/alpha); p ~ Beta(a, b)
    (mean dropout probability a/(a+b) after each repeat transaction)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    """A maximum-likelihood fit: the parameters, the total log-likelihood at them, the
    number of members `n`, and whether the optimiser reported convergence."""

    params: BgNbdParams
    log_likelihood: float
    n: int
    converged: bool
    iterations: int
    message: str


# --- likelihood -------------------------------------------------------------------------


def log_likelihood(params: BgNbdParams, frequency, recency, age) -> np.ndarray:
    """Each member's log-likelihood (paper eq. 6 in log form):
    ln A1 + ln A2 + ln(A3 + [x > 0] A4) with A1 = G(r+x) alpha^r / G(r),
    A2 = G(a+b) G(b+x) / (G(b) G(a+b+x)), A3 = (alpha+T)^-(r+x),
    A4 = a / (b+x-1) (alpha+t_x)^-(r+x)."""
    x, t_x, age_ = histories.checked(frequency, recency, age)
    r, alpha, a, b = params.as_array()
    ln_a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    ln_a2 = (special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b)
             - special.gammaln(a + b + x))
    ln_a3 = -(r + x) * np.log(alpha + age_)
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1, 1.0)
    ln_a4 = np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x)
    return ln_a1 + ln_a2 + np.where(repeat, np.logaddexp(ln_a3, ln_a4), ln_a3)


class _Data:
    """Weighted rows split into x = 0 and x > 0. With `grouped`, terms that depend on one
    input only are computed once per distinct value and gathered: x through
    gammaln/digamma, T and t_x through logs (whole-day data has a few hundred distinct
    values of each), and the x = 0 rows are summed per distinct T. Without it every term
    is computed on every row (the textbook evaluation, the benchmark's baseline)."""

    def __init__(self, x, t_x, age, weights, *, grouped: bool = True) -> None:
        distinct = _distinct if grouped else _every
        self.total = float(weights.sum())
        zero = x == 0
        self.age0_values, index0 = distinct(age[zero])
        self.w0 = np.bincount(index0, weights=weights[zero], minlength=len(self.age0_values))
        self.x, self.w = x[~zero], weights[~zero]
        self.x_values, self.x_index = distinct(self.x)
        self.x_weight = np.bincount(self.x_index, weights=self.w,
                                    minlength=len(self.x_values))
        self.age_values, self.age_index = distinct(age[~zero])
        self.rec_values, self.rec_index = distinct(t_x[~zero])

    def neg_ll_and_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """The total negative log-likelihood and its gradient in (r, alpha, a, b)."""
        r, alpha, a, b = params
        xv, xw, w0 = self.x_values, self.x_weight, self.w0
        ln_alpha, n0, n1 = np.log(alpha), w0.sum(), xw.sum()
        # x = 0 rows: ln L = r ln(alpha / (alpha + T)), summed per distinct T.
        ln_t0 = np.log(alpha + self.age0_values)
        ll = r * (ln_alpha * n0 - dot(w0, ln_t0))
        g = np.array([ln_alpha * n0 - dot(w0, ln_t0),
                      n0 * r / alpha - r * dot(w0, 1.0 / (alpha + self.age0_values)),
                      0.0, 0.0])
        # x > 0 rows: the x-only terms, summed per distinct x.
        ll += dot(xw, special.gammaln(r + xv) - special.gammaln(r)
                  + special.gammaln(a + b) + special.gammaln(b + xv)
                  - special.gammaln(b) - special.gammaln(a + b + xv))
        ll += r * ln_alpha * n1
        g[0] += dot(xw, special.digamma(r + xv) - special.digamma(r)) + ln_alpha * n1
        g[1] += n1 * r / alpha
        common = special.digamma(a + b) - special.digamma(a + b + xv)
        g[2] += dot(xw, common)
        g[3] += dot(xw, common + special.digamma(b + xv) - special.digamma(b))
        # ... and the per-row terms: ln(A3 + A4) = ln A3 + ln(1 + e^d), d = ln A4 - ln A3.
        rx = r + self.x
        ln_big = np.log(alpha + self.age_values)[self.age_index]
        ln_small = np.log(alpha + self.rec_values)[self.rec_index]
        d = np.log(a) - np.log(b + xv - 1)[self.x_index] + rx * (ln_big - ln_small)
        w = self.w
        ll += dot(w, np.logaddexp(0.0, d)) - dot(w * rx, ln_big)
        p = special.expit(d)  # the share of A4 in A3 + A4
        wp = w * p
        g[0] -= dot(w, ln_big) - dot(wp, ln_big - ln_small)
        inv_big = (1.0 / (alpha + self.age_values))[self.age_index]
        inv_small = (1.0 / (alpha + self.rec_values))[self.rec_index]
        g[1] -= dot(w * rx, inv_big + p * (inv_small - inv_big))
        g[2] += wp.sum() / a
        g[3] -= dot(wp, (1.0 / (b + xv - 1))[self.x_index])
        return -float(ll), -g


def dot(u: np.ndarray, v: np.ndarray) -> float:
    """The dot product of two vectors without BLAS: `u @ v` calls a multi-threaded BLAS
    that, on a busy machine, spends 100x the arithmetic waiting for its threads (a fit
    evaluates a few dozen dot products per iteration)."""
    return float(np.einsum("i,i->", u, v))


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(values, return_inverse=True)


def _every(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return values, np.arange(len(values))


# --- fitting ----------------------------------------------------------------------------


def fit(frequency, recency, age, *, weights=None, start: BgNbdParams | None = None,
        compress: bool = True) -> BgNbdFit:
    """The maximum-likelihood BG/NBD parameters for these members.

    With `compress` (the default) the members are grouped by their distinct
    (x, t_x, T) triple and each triple is weighted by its count, and terms of one input
    are computed per distinct value: the same likelihood, evaluated on far fewer rows
    when times are whole days. `compress=False` evaluates every term on every member's
    row (the baseline of `tierwise bench bgnbd`). The optimiser is
    L-BFGS-B on log-parameters with the analytic gradient, from `start` when given (a
    previous fit on similar data converges in a few iterations).
    With `weights`, each row stands for that many members (rows already grouped, e.g.
    `histories.Grouped`). Raises ModelNotFittable with fewer than MIN_MEMBERS members or
    fewer than MIN_REPEATERS members with a repeat transaction.
    """
    x, t_x, age_ = histories.checked(frequency, recency, age)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        _require_fittable(x, weights)
    else:
        _require_fittable(x)
        if compress:
            x, t_x, age_, weights = unique_triples(x, t_x, age_)
        else:
            weights = np.ones_like(x)
    data = _Data(x, t_x, age_, weights, grouped=compress)
    return _fit(data, start or _start(x, age_, weights))


def unique_triples(x, t_x, age) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (x, t_x, T) rows and how many members share each.

    Each column is ranked on its own (a sort of its values, then a binary search) and the
    ranks are packed into one integer key: far faster than a row-wise
    `np.unique(axis=0)` at a million rows.
    """
    key = np.zeros(len(x), dtype=np.int64)
    distinct = 1
    for column in (x, t_x, age):
        values = np.unique(column)  # a sort; ranks by binary search into the few values
        if distinct * len(values) >= 2**62:  # re-rank so the packed key cannot overflow
            packed, key = np.unique(key, return_inverse=True)
            distinct = len(packed)
        key = key * len(values) + np.searchsorted(values, column)
        distinct *= len(values)
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return x[first], t_x[first], age[first], counts.astype(np.float64)


def _require_fittable(x: np.ndarray, weights: np.ndarray | None = None) -> None:
    if weights is None:
        weights = np.ones_like(x)
    members = int(round(float(weights.sum())))
    if members < MIN_MEMBERS:
        raise ModelNotFittable(f"BG/NBD needs at least {MIN_MEMBERS} members, got {members}",
                               field="frequency")
    repeaters = int(round(float(weights[x > 0].sum())))
    if repeaters < MIN_REPEATERS:
        raise ModelNotFittable(f"BG/NBD needs at least {MIN_REPEATERS} members with a repeat "
                               f"transaction, got {repeaters}", field="frequency")


def _start(x, age, weights) -> BgNbdParams:
    # Method-of-moments flavoured: mean repeat rate r/alpha with r = 1, p around 1/3.
    rate = max(dot(weights, x) / max(dot(weights, age), 1e-9), 1e-6)
    return BgNbdParams(r=1.0, alpha=1.0 / rate, a=1.0, b=2.0)


def _fit(data: _Data, start: BgNbdParams) -> BgNbdFit:
    scale = data.total

    def objective(theta):
        params = np.exp(theta)
        value, grad = data.neg_ll_and_grad(params)
        return value / scale, grad * params / scale  # chain rule: d/d(log p) = p d/dp

    theta0 = np.clip(np.log(start.as_array()), *_LOG_BOUNDS)
    result = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B",
                               bounds=[_LOG_BOUNDS] * 4,
                               options=dict(maxiter=2000, ftol=1e-13, gtol=1e-9))
    params = BgNbdParams(*np.exp(result.x).tolist())
    return BgNbdFit(params=params, log_likelihood=-float(result.fun) * scale,
                    n=int(round(data.total)), converged=bool(result.success),
                    iterations=int(result.nit), message=str(result.message))


def standard_errors(params: BgNbdParams, frequency, recency, age) -> BgNbdParams:
    """Asymptotic standard errors of the ML estimates: the square roots of the diagonal of
    the inverse observed information (Hessian of -ln L by central differences of the
    analytic gradient)."""
    x, t_x, age_ = histories.checked(frequency, recency, age)
    data = _Data(*unique_triples(x, t_x, age_))
    return BgNbdParams(*hessian_standard_errors(lambda p: data.neg_ll_and_grad(p)[1],
                                                params.as_array()).tolist())


def hessian_standard_errors(gradient, point: np.ndarray) -> np.ndarray:
    """sqrt(diag(H^-1)), H the Hessian of -ln L at `point` (all coordinates > 0) from
    central differences of its `gradient`. The differences are taken in log-parameters,
    where the surface is far better conditioned, and mapped back (delta method)."""
    k = len(point)
    theta = np.log(point)

    def log_gradient(th):
        values = np.exp(th)
        return gradient(values) * values

    hessian = np.empty((k, k))
    step = 1e-4
    for j in range(k):
        up, down = theta.copy(), theta.copy()
        up[j] += step
        down[j] -= step
        hessian[:, j] = (log_gradient(up) - log_gradient(down)) / (2 * step)
    # At a stationary point the log-space Hessian is J H J with J = diag(point); away
    # from one it carries an extra diag(gradient * point) term, removed here.
    hessian -= np.diag(log_gradient(theta))
    hessian = (hessian + hessian.T) / 2
    covariance = np.linalg.inv(hessian) * np.outer(point, point)
    return np.sqrt(np.diag(covariance))


# --- predictions ------------------------------------------------------------------------


def p_alive(params: BgNbdParams, frequency, recency, age) -> np.ndarray:
    """P(member still alive at T | x, t_x, T) (eq. 11):
    1 / (1 + [x > 0] a / (b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)); 1 when x = 0, since in
    the model a member drops out only after a repeat transaction."""
    x, t_x, age_ = histories.checked(frequency, recency, age)
    return 1.0 / (1.0 + odds_dead(params, x, t_x, age_))


def odds_dead(params: BgNbdParams, x, t_x, age) -> np.ndarray:
    """[x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x): p_alive = 1 / (1 + odds)."""
    r, alpha, a, b = params.as_array()
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1, 1.0)
    log_odds = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)


def expected_transactions(params: BgNbdParams, *, t: float, frequency, recency,
                          age) -> np.ndarray:
    """Expected transactions in the next `t` weeks, (T, T + t], given x, t_x, T (eq. 10):
    (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
    / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), z = t/(alpha+T+t).
    (The form divides by a - 1; at a = 1 exactly it is undefined.)"""
    x, t_x, age_ = histories.checked(frequency, recency, age)
    r, alpha, a, b = params.as_array()
    return unconditional_part(r, alpha, a, b, x, age_, t) / (
        1.0 + odds_dead(params, x, t_x, age_))


def unconditional_part(r, alpha, a, b, x, age, t) -> np.ndarray:
    """The numerator of eq. 10: (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] (x and T already checked)."""
    z = t / (alpha + age + t)
    power = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t)))
    return (a + b + x - 1) / (a - 1) * (1.0 - power * special.hyp2f1(r + x, b + x,
                                                                    a + b + x - 1, z))


def expected_transactions_new(params: BgNbdParams, t) -> np.ndarray | float:
    """E[X(t)]: expected transactions in the first `t` weeks of a newly acquired member,
    not counting the first one (eq. 9):
    (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]."""
    r, alpha, a, b = params.as_array()
    t = np.asarray(t, dtype=np.float64)
    value = unconditional_part(r, alpha, a, b, 0.0, 0.0, t)
    return float(value) if value.ndim == 0 else value


# --- simulation -------------------------------------------------------------------------


def simulate_bgnbd(params: BgNbdParams, *, n: int, T, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) for `n` members drawn from the model itself, each observed for `T`
    weeks (a number, or one per member) after a first transaction at time 0.

    Exact and vectorised: a member who never dropped out would make N ~ Poisson(lambda T)
    repeat transactions; dropout comes right after the J-th, J ~ Geometric(p); so
    x = min(N, J) and t_x, the x-th of N uniform arrival times on [0, T], is
    T * Beta(x, N - x + 1)."""
    r, alpha, a, b = params.as_array()
    age = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = np.clip(rng.beta(a, b, size=n), 1e-12, 1.0)
    arrivals = rng.poisson(lam * age)
    dropout_after = rng.geometric(p)
    x = np.minimum(arrivals, dropout_after)
    repeat = x > 0
    order_stat = rng.beta(np.where(repeat, x, 1), np.where(repeat, arrivals - x + 1, 1))
    t_x = np.where(repeat, age * order_stat, 0.0)
    return x.astype(np.float64), t_x, age


def discretise_days(recency, *, age_days, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Continuous recencies (weeks) as whole UTC days, the way a daily rollup records
    them: the first transaction falls at a uniform time u of its day, so the last one
    lands floor(u + 7 t_x) days later. E[floor(u + s)] = s, so this adds noise, not bias.
    Returns (t_x, T) in weeks, both multiples of 1/7."""
    age_days = np.asarray(age_days, dtype=np.float64)
    u = rng.random(len(recency))
    days = np.minimum(np.floor(u + np.asarray(recency) * histories.DAYS_PER_WEEK), age_days)
    return days / histories.DAYS_PER_WEEK, age_days / histories.DAYS_PER_WEEK
