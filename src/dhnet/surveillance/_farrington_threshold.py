"""Upper bounds of ``farringtonFlexible`` (private helper of :mod:`.farrington`).

Vectorised ports of R ``surveillance`` 1.20.3's
``algo.farrington.threshold.farrington`` (``thresholdMethod = "delta"``,
Farrington et al. 1996) and ``algo.farrington.threshold.noufaily``
(``"nbPlugin"`` and ``"muan"``, Noufaily et al. 2013), including their
conventions: the score divides by ``upper - predFit`` where ``predFit`` is on the
response scale for "delta" but on the *link* scale for the other two, and the
discrete quantiles are R's ``qnbinom``/``qpois`` (smallest count whose
distribution function reaches the probability, less R's ``8 * DBL_EPSILON`` fuzz).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance import _special

FloatArray = NDArray[np.float64]
Powertrans = Literal["none", "1/2", "2/3"]

__all__ = ["delta_threshold", "noufaily_threshold", "qnbinom", "qpois"]

_DBL_EPS = float(np.finfo(np.float64).eps)


def delta_threshold(
    mu0: FloatArray,
    se_mu0: FloatArray,
    phi: FloatArray,
    powertrans: Powertrans,
    alpha: float,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """R's ``algo.farrington.threshold.farrington``: ``(lower, upper, prob, score)``.

    ``mu0``/``se_mu0`` are the prediction and its standard error on the response
    scale; the bounds are ``(mu0^e -+ z * se)^(1/e)`` for the power ``e`` of the
    skewness-correcting transformation.
    """
    mu0, se_mu0, phi, y = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (mu0, se_mu0, phi, y)))
    tau = phi + se_mu0**2 / mu0
    if powertrans == "none":
        se, e = np.sqrt(mu0 * tau), 1.0
    elif powertrans == "1/2":
        se, e = np.sqrt(0.25 * tau), 0.5
    elif powertrans == "2/3":
        se, e = np.sqrt(4.0 / 9.0 * np.cbrt(mu0) * tau), 2.0 / 3.0
    else:  # pragma: no cover - validated by the control class
        raise ValueError(f"powertrans: no proper exponent {powertrans!r}")
    z = _special.ndtri(1.0 - alpha)
    m = mu0**e
    a = (m - z * se) ** (1.0 / e)
    b = (m + z * se) ** (1.0 / e)
    # R: lu <- sort(c(a, b), na.last = FALSE); lu[1] <- max(0, lu[1], na.rm = TRUE)
    both = ~np.isnan(a) & ~np.isnan(b)
    upper = np.where(both, np.maximum(a, b), np.where(np.isnan(a), b, a))
    lower_raw = np.where(both, np.minimum(a, b), np.nan)
    lower = np.where(np.isnan(lower_raw), 0.0, np.maximum(0.0, lower_raw))
    lower = np.where(np.isnan(a) & np.isnan(b), 0.0, lower)
    prob = _special.ufuncs().ndtr((m - y**e) / se)
    score = (y - mu0) / (upper - mu0)
    return lower, upper, prob, score


def noufaily_threshold(
    eta0: FloatArray,
    se_eta0: FloatArray,
    phi: FloatArray,
    alpha: float,
    y: FloatArray,
    method: Literal["nbPlugin", "muan"],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """R's ``algo.farrington.threshold.noufaily``: ``(lower, upper, prob, score)``.

    The upper bound is the ``1 - alpha`` quantile of a negative binomial with mean
    ``mu`` and variance ``phi * mu`` (Poisson when ``phi == 1``), where ``mu`` is
    ``exp(eta0)`` ("nbPlugin") or the ``1 - alpha`` quantile of the estimated mean
    ``exp(qnorm(1 - alpha, eta0, se_eta0))`` ("muan").
    """
    eta0, se_eta0, phi, y = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (eta0, se_eta0, phi, y)))
    z = 0.0 if method == "nbPlugin" else _special.ndtri(1.0 - alpha)
    mu_q = np.exp(eta0 + z * se_eta0) if z else np.exp(eta0)
    finite = np.isfinite(mu_q)
    nb = finite & (phi > 1)
    po = finite & ~(phi > 1)
    lower = np.full(eta0.shape, np.nan)
    upper = np.full(eta0.shape, np.nan)
    prob = np.full(eta0.shape, np.nan)
    if nb.any():
        size = mu_q[nb] / (phi[nb] - 1.0)
        pr = 1.0 / phi[nb]
        lower[nb] = qnbinom(alpha, size, pr)
        upper[nb] = qnbinom(1.0 - alpha, size, pr)
        prob[nb] = _pnbinom_upper(y[nb], size, pr)
    if po.any():
        lam = mu_q[po]
        lower[po] = qpois(alpha, lam)
        upper[po] = qpois(1.0 - alpha, lam)
        prob[po] = _ppois_upper(y[po], lam)
    lower = np.where(np.isnan(lower) & finite, lower, np.maximum(0.0, lower))
    score = (y - eta0) / (upper - eta0)
    return lower, upper, prob, score


def _pnbinom_cdf(x: FloatArray, size: FloatArray, prob: FloatArray) -> FloatArray:
    """``pnbinom(x, size, prob)`` for integer ``x >= 0`` (R: ``pbeta(prob, size, x + 1)``)."""
    with np.errstate(invalid="ignore"):
        out = _special.ufuncs().betainc(size, x + 1.0, prob)
    return np.asarray(np.where(size == 0, 1.0, out), dtype=np.float64)


def _ppois_cdf(x: FloatArray, lam: FloatArray) -> FloatArray:
    """``ppois(x, lambda)`` for integer ``x >= 0`` (R: ``pgamma(lambda, x + 1, lower = FALSE)``)."""
    out = _special.ufuncs().gammaincc(x + 1.0, lam)
    return np.asarray(np.where(lam == 0, 1.0, out), dtype=np.float64)


def _pnbinom_upper(y: FloatArray, size: FloatArray, prob: FloatArray) -> FloatArray:
    """``pnbinom(y - 1, size, prob, lower.tail = FALSE)``: P(X >= y)."""
    ys = np.maximum(y, 1.0)
    with np.errstate(invalid="ignore"):
        up = _special.ufuncs().betaincc(size, ys, prob)
    up = np.where(size == 0, 0.0, up)
    return np.asarray(np.where(y <= 0, 1.0, up), dtype=np.float64)


def _ppois_upper(y: FloatArray, lam: FloatArray) -> FloatArray:
    """``ppois(y - 1, lambda, lower.tail = FALSE)``: P(X >= y)."""
    ys = np.maximum(y, 1.0)
    up = np.where(lam == 0, 0.0, _special.ufuncs().gammainc(ys, lam))
    return np.asarray(np.where(y <= 0, 1.0, up), dtype=np.float64)


CdfFn = Callable[[FloatArray, NDArray[np.intp]], FloatArray]


def _q_discrete(p: float, cdf: CdfFn, mean: FloatArray, sd: FloatArray, skew: FloatArray) -> FloatArray:
    with np.errstate(all="ignore"):
        return _q_search(p, cdf, mean, sd, skew)


def _q_search(p: float, cdf: CdfFn, mean: FloatArray, sd: FloatArray, skew: FloatArray) -> FloatArray:
    """Smallest integer ``x >= 0`` with ``cdf(x) >= p * (1 - 8 eps)`` (R 4.2's fuzz for lower-tail quantiles).

    Starts from R's Cornish-Fisher guess, brackets by galloping and bisects;
    ``cdf(x, i)`` evaluates the distribution function of elements ``i`` at ``x``.
    """
    z = _special.ndtri(p)
    guess = np.round(mean + sd * (z + skew * (z * z - 1.0) / 6.0))
    x = np.where(np.isfinite(guess), np.maximum(guess, 0.0), 0.0)
    target = p * (1.0 - 8.0 * _DBL_EPS)
    all_i = np.arange(x.size, dtype=np.intp)
    reached = cdf(x, all_i) >= target
    lo = np.where(reached, 0.0, x + 1.0)  # smallest candidate not yet excluded
    hi = np.where(reached, x, np.inf)  # a count known to reach the target
    # gallop downwards from counts that reach the target ...
    step = np.ones(x.size)
    i = all_i[reached & (x > 0)]
    while i.size:
        cand = np.maximum(hi[i] - step[i], 0.0)
        ok = cdf(cand, i) >= target
        hi[i[ok]] = cand[ok]
        lo[i[~ok]] = cand[~ok] + 1.0
        step[i] *= 2.0
        i = i[ok & (cand > 0)]
    # ... and upwards from those that do not.
    step[:] = 1.0
    i = all_i[~reached]
    while i.size:
        cand = lo[i] - 1.0 + step[i]
        ok = cdf(cand, i) >= target
        hi[i[ok]] = cand[ok]
        lo[i[~ok]] = cand[~ok] + 1.0
        step[i] *= 2.0
        i = i[~ok & np.isfinite(cand)]
    # bisection on [lo, hi]; it stops where no bound moves any more: above 2^53 not every count is a double
    # (R's search also stops refining there, at a relative 1e-15), and an infinite ``hi`` has no midpoint.
    i = all_i[(lo < hi) & np.isfinite(hi)]
    while i.size:
        lo_i, hi_i = lo[i], hi[i]
        mid = np.floor((lo_i + hi_i) / 2.0)
        ok = cdf(mid, i) >= target
        new_hi = np.where(ok, mid, hi_i)
        new_lo = np.where(ok, lo_i, mid + 1.0)
        hi[i], lo[i] = new_hi, new_lo
        i = i[(new_lo < new_hi) & ((new_hi != hi_i) | (new_lo != lo_i))]
    return hi


def qnbinom(p: float, size: FloatArray, prob: FloatArray) -> FloatArray:
    """R's ``qnbinom(p, size, prob)`` (vectorised over ``size`` and ``prob``)."""
    size = np.ravel(np.asarray(size, dtype=np.float64))
    prob = np.ravel(np.asarray(prob, dtype=np.float64))
    q = 1.0 / prob
    pp = (1.0 - prob) * q
    mean = size * pp
    sd = np.sqrt(size * pp * q)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = (q + pp) / sd

    def cdf(x: FloatArray, i: NDArray[np.intp]) -> FloatArray:
        return _pnbinom_cdf(x, size[i], prob[i])

    out = _q_discrete(p, cdf, mean, sd, skew)
    out = np.where((size == 0) | (prob == 1), 0.0, out)
    return np.asarray(np.where(np.isnan(size) | np.isnan(prob), np.nan, out), dtype=np.float64)


def qpois(p: float, lam: FloatArray) -> FloatArray:
    """R's ``qpois(p, lambda)`` (vectorised over ``lambda``)."""
    lam = np.ravel(np.asarray(lam, dtype=np.float64))
    sd = np.sqrt(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = 1.0 / sd

    def cdf(x: FloatArray, i: NDArray[np.intp]) -> FloatArray:
        return _ppois_cdf(x, lam[i])

    out = _q_discrete(p, cdf, lam, sd, skew)
    out = np.where(lam == 0, 0.0, out)
    return np.asarray(np.where(np.isnan(lam), np.nan, out), dtype=np.float64)
