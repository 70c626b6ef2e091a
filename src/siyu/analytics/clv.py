"""Customer lifetime value: BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend per purchase).

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", and "RFM and CLV: using iso-value curves for customer base analysis".
Written on numpy and scipy (the maintained libraries for the job): `lifetimes`, the usual
Python package, has been unmaintained since 2020. Inputs per customer: x repeat purchases,
t_x the time of the last purchase and T the time since the first, both from the first
purchase, in weeks; m the mean value of the repeat purchases.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from siyu.analytics.clv_errors import FitError

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def log_likelihood(self, x: Array, t_x: Array, t: Array) -> float:
        return float(np.sum(_bgnbd_ll(np.log([self.r, self.alpha, self.a, self.b]), x, t_x, t)))

    def _odds_dead(self, x: Array, t_x: Array, t: Array) -> Array:
        """a/(b+x-1) · ((α+T)/(α+t_x))^(r+x) for repeat buyers, 0 for the others."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        repeat = x > 0
        odds = np.zeros_like(x)
        odds[repeat] = np.exp(
            np.log(a)
            - np.log(b + x[repeat] - 1)
            + (r + x[repeat]) * (np.log(alpha + t[repeat]) - np.log(alpha + t_x[repeat]))
        )
        return odds

    def p_alive(self, x: Array, t_x: Array, t: Array) -> Array:
        return 1.0 / (1.0 + self._odds_dead(x, t_x, t))

    def expected_purchases(self, horizon: float, x: Array, t_x: Array, t: Array) -> Array:
        """E[Y(horizon) | x, t_x, T]: purchases expected in the next `horizon` weeks."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + t + horizon)
        hyper = hyp2f1(r + x, b + x, a + b + x - 1, z)
        ratio = np.exp((r + x) * (np.log(alpha + t) - np.log(alpha + t + horizon)))
        first = (a + b + x - 1) / (a - 1) * (1 - ratio * hyper)
        return np.asarray(first / (1 + self._odds_dead(x, t_x, t)), dtype=np.float64)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    def expected_spend(self, x: Array, m: Array) -> Array:
        """E[M | x, m]: a customer's expected value per purchase (the population mean for
        customers without repeat purchases)."""
        p, q, gamma = self.p, self.q, self.gamma
        population = p * gamma / (q - 1)
        repeat = x > 0
        spend = np.full_like(x, population)
        spend[repeat] = (gamma + m[repeat] * x[repeat]) * p / (p * x[repeat] + q - 1)
        return spend


def _bgnbd_ll(log_params: Array, x: Array, t_x: Array, t: Array) -> Array:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + t)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = (
        np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def fit_bgnbd(x: Array, t_x: Array, t: Array) -> BgNbd:
    if len(x) < 20 or np.count_nonzero(x) < 5:
        msg = "too few customers with repeat purchases to fit BG/NBD (need 5+ of 20+)"
        raise FitError(msg)
    scale = max(float(np.max(t)), 1.0)

    def loss(params: Array) -> float:
        value = -float(np.sum(_bgnbd_ll(params, x, t_x, t))) / len(x)
        return value if np.isfinite(value) else 1e12

    start = np.log(np.array([1.0, scale / 10, 1.0, 1.0]))
    result = minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-10}
    )
    if not result.success and result.status != 2:
        msg = f"BG/NBD did not converge: {result.message}"
        raise FitError(msg)
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(float(r), float(alpha), float(a), float(b))


def _gg_ll(log_params: Array, x: Array, m: Array) -> Array:
    p, q, gamma = np.exp(log_params)
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x),
        dtype=np.float64,
    )


def fit_gamma_gamma(x: Array, m: Array) -> GammaGamma:
    """Fit on repeat buyers with positive spend."""
    keep = (x > 0) & (m > 0)
    xs, ms = x[keep], m[keep]
    if len(xs) < 5:
        msg = "too few repeat buyers with spend to fit Gamma-Gamma (need 5+)"
        raise FitError(msg)

    def loss(params: Array) -> float:
        value = -float(np.sum(_gg_ll(params, xs, ms))) / len(xs)
        return value if np.isfinite(value) else 1e12

    start = np.log(np.array([1.0, 2.0, float(np.mean(ms))]))
    result = minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-10}
    )
    p, q, gamma = np.exp(result.x)
    if q <= 1:
        msg = "Gamma-Gamma fit has q <= 1: spend is too heavy-tailed for a finite mean"
        raise FitError(msg)
    return GammaGamma(float(p), float(q), float(gamma))
