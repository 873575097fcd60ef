"""The in-control model of the GLR detectors: R's ``glm.fit``, ``MASS::glm.nb`` and ``MASS::theta.ml``.

``surveillance::algo.glrnb`` estimates the in-control mean ``mu0`` by fitting (its hook
``estimateGLRNbHook``) the model ``y ~ 1 [+ t] + sum_s cos(2 s pi / freq t) + sin(2 s pi / freq t)`` to the
training periods ``t = 1, ..., range[1] - 1`` with

* ``glm(family = poisson())`` when ``alpha == 0``,
* ``glm(family = MASS::negative.binomial(theta = 1 / alpha))`` when ``alpha`` is given,
* ``MASS::glm.nb`` when ``alpha`` is ``NULL`` (``alpha`` becomes ``1 / theta``),

and predicts ``mu0`` on the evaluation range.  The iterations below replicate R's (R 4.2, MASS 7.3):
starting values (``y + 0.1`` for the Poisson family, ``y + (y == 0) / 6`` for the negative binomial), the
IRLS step by a least-squares solve of the weighted design (R's ``Cdqrls``; here a Householder QR), the
stopping rule ``|dev - devold| / (|dev| + 0.1) < 1e-8`` with at most 25 iterations, step halving when the
deviance is not finite, ``pmax(exp(eta), .Machine$double.eps)`` as inverse link, and ``glm.nb``'s
alternation between ``glm.fit`` and ``theta.ml`` (whose Newton steps use the previous fit's means, as
MASS does).  Replicating the iterations, not just the optimum, is what makes the estimated dispersion agree
with R to many digits: ``theta.ml`` stops at a step below ``.Machine$double.eps^0.25``, so its result depends
on the path.

All functions are vectorised across series: ``Y`` is ``(n_series, n_obs)`` and the design ``X``
``(n_obs, p)`` is shared.  A series whose fit breaks down (non-finite coefficients, a deviance that step
halving cannot make finite) gets NaN coefficients; the caller turns that into NaN results.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["design", "glm_fit", "glm_nb", "predict", "theta_ml"]

FloatArray = NDArray[np.float64]

DBL_EPS = float(np.finfo(np.float64).eps)
_EPSILON = 1e-8  # glm.control()$epsilon
_MAXIT = 25  # glm.control()$maxit


def design(t: FloatArray, s: int, trend: bool, freq: int) -> FloatArray:
    """Model matrix of ``y ~ 1 [+ t] + cos(2*s*pi/p*t) + sin(2*s*pi/p*t)`` (s = 1..S), columns in R's order."""
    cols = [np.ones_like(t)]
    if trend:
        cols.append(t.astype(np.float64))
    for j in range(1, s + 1):
        arg = 2 * j * math.pi / freq * t
        cols.append(np.cos(arg))
        cols.append(np.sin(arg))
    return np.column_stack(cols).astype(np.float64)


def _linkinv(eta: FloatArray) -> FloatArray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.maximum(np.exp(eta), DBL_EPS)


def _deviance(y: FloatArray, mu: FloatArray, theta: FloatArray | None) -> FloatArray:
    """``sum(family$dev.resids(y, mu, 1))`` per row."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if theta is None:
            r = mu.copy()
            pos = y > 0
            r[pos] = (y * np.log(np.where(pos, y, 1.0) / mu) - (y - mu))[pos]
            out: FloatArray = np.sum(2 * r, axis=1)
            return out
        th = theta[:, None]
        dr = 2 * (y * np.log(np.maximum(1.0, y) / mu) - (y + th) * np.log((y + th) / (mu + th)))
        res: FloatArray = np.sum(dr, axis=1)
        return res


def _lstsq(a: FloatArray, b: FloatArray) -> FloatArray:
    """Batched least squares ``min ||a_i c - b_i||`` by Householder QR; ``a`` is ``(k, n, p)``."""
    q, r = np.linalg.qr(a)
    qtb = np.einsum("knp,kn->kp", q, b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        try:
            coef: FloatArray = np.linalg.solve(r, qtb[..., None])[..., 0]
        except np.linalg.LinAlgError:
            coef = np.full(qtb.shape, np.nan)
            for i in range(r.shape[0]):
                with contextlib.suppress(np.linalg.LinAlgError):
                    coef[i] = np.linalg.solve(r[i], qtb[i])
    return coef


def glm_fit(
    x: FloatArray,
    y: FloatArray,
    theta: FloatArray | None = None,
    etastart: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """R's ``glm.fit`` with log link, Poisson (``theta`` None) or negative binomial family (one theta per row).

    Returns ``(coefficients (k, p), fitted means (k, n))``; rows that fail are NaN.
    """
    k, _n = y.shape
    p = x.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if etastart is None:
            mustart = y + 0.1 if theta is None else y + (y == 0) / 6
            eta = np.log(mustart)
        else:
            eta = etastart.copy()
        mu = _linkinv(eta)
    devold = _deviance(y, mu, theta)
    coef = np.full((k, p), np.nan)
    coefold = np.full((k, p), np.nan)
    has_old = np.zeros(k, dtype=bool)
    failed = ~np.isfinite(devold) | ~np.isfinite(mu).all(axis=1)
    active = ~failed
    for _ in range(_MAXIT):
        rows = np.nonzero(active)[0]
        if rows.size == 0:
            break
        e, m, yy = eta[rows], mu[rows], y[rows]
        th = None if theta is None else theta[rows]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mu_eta = np.maximum(np.exp(e), DBL_EPS)
            var = m if th is None else m + m**2 / th[:, None]
            z = e + (yy - m) / mu_eta
            w = np.sqrt((mu_eta**2) / var)
        start = _lstsq(x[None, :, :] * w[:, :, None], z * w)
        bad: NDArray[np.bool_] = np.logical_not(np.all(np.isfinite(start), axis=1))
        eta_new = start @ x.T
        mu_new = _linkinv(eta_new)
        dev = _deviance(yy, mu_new, th)
        for j in np.nonzero(~np.isfinite(dev) & ~bad)[0]:  # step halving ("step size truncated due to divergence")
            i = rows[j]
            if not has_old[i]:
                bad[j] = True
                continue
            for _ii in range(_MAXIT):
                start[j] = (start[j] + coefold[i]) / 2
                eta_new[j] = x @ start[j]
                mu_new[j] = _linkinv(eta_new[j])
                dev[j] = _deviance(yy[j : j + 1], mu_new[j : j + 1], None if th is None else th[j : j + 1])[0]
                if np.isfinite(dev[j]):
                    break
            else:
                bad[j] = True
        eta[rows] = eta_new
        mu[rows] = mu_new
        coef[rows] = start
        with np.errstate(invalid="ignore"):
            conv = np.abs(dev - devold[rows]) / (np.abs(dev) + 0.1) < _EPSILON
        failed[rows[bad]] = True
        active[rows[bad | conv]] = False
        devold[rows] = dev
        coefold[rows] = start
        has_old[rows] = True
    coef[failed] = np.nan
    mu[failed] = np.nan
    return coef, mu


def theta_ml(y: FloatArray, mu: FloatArray, limit: int = _MAXIT) -> FloatArray:
    """``MASS::theta.ml(y, mu, limit = limit)`` per row (Newton steps, stop when a step is below eps^0.25)."""
    n = y.shape[1]
    eps = DBL_EPS**0.25
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t0 = n / np.sum((y / mu - 1) ** 2, axis=1)
        delta = np.ones(y.shape[0])
        active = np.isfinite(t0)
        it = 0
        while True:
            it += 1
            active &= np.abs(delta) > eps
            if not (it < limit and active.any()):
                break
            rows = np.nonzero(active)[0]
            th = np.abs(t0[rows])[:, None]
            yy, mm = y[rows], mu[rows]
            score = np.sum(
                special.digamma(th + yy)
                - special.digamma(th)
                + np.log(th)
                + 1
                - np.log(th + mm)
                - (yy + th) / (mm + th),
                axis=1,
            )
            info = np.sum(
                -special.polygamma(1, th + yy)
                + special.polygamma(1, th)
                - 1 / th
                + 2 / (mm + th)
                - (yy + th) / (mm + th) ** 2,
                axis=1,
            )
            delta[rows] = score / info
            t0[rows] = th[:, 0] + delta[rows]
    t0[t0 < 0] = 0.0
    out: FloatArray = t0
    return out


def _nb_loglik(th: FloatArray, mu: FloatArray, y: FloatArray) -> FloatArray:
    t = th[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = (
            special.gammaln(t + y)
            - special.gammaln(t)
            - special.gammaln(y + 1)
            + t * np.log(t)
            + y * np.log(mu + (y == 0))
            - (t + y) * np.log(t + mu)
        )
    out: FloatArray = np.sum(terms, axis=1)
    return out


def glm_nb(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``MASS::glm.nb`` with default control: returns ``(coefficients (k, p), theta (k,))``."""
    k, n = y.shape
    p = x.shape[1]
    coef, mu = glm_fit(x, y)
    th = theta_ml(y, mu)
    d1 = math.sqrt(2 * max(1, n - p))
    d2 = 1.0
    delta = np.ones(k)
    lm = _nb_loglik(th, mu, y)
    lm0 = lm + 2 * d1
    active = np.isfinite(coef).all(axis=1) & np.isfinite(th) & (th > 0)
    it = 0
    while True:
        it += 1
        with np.errstate(invalid="ignore"):
            active &= (np.abs(lm0 - lm) / d1 + np.abs(delta) / d2) > _EPSILON
        if not (it <= _MAXIT and active.any()):
            break
        rows = np.nonzero(active)[0]
        with np.errstate(divide="ignore"):
            eta = np.log(mu[rows])
        c_new, mu_new = glm_fit(x, y[rows], theta=th[rows], etastart=eta)
        t0 = th[rows]
        th_new = theta_ml(y[rows], mu[rows])
        mu[rows] = mu_new
        coef[rows] = c_new
        delta[rows] = t0 - th_new
        th[rows] = th_new
        lm0[rows] = lm[rows]
        lm[rows] = _nb_loglik(th_new, mu_new, y[rows])
        broken = ~np.isfinite(c_new).all(axis=1) | ~np.isfinite(th_new) | ~(th_new > 0)
        active[rows[broken]] = False
    bad = ~np.isfinite(coef).all(axis=1) | ~np.isfinite(th) | ~(th > 0)
    coef[bad] = np.nan
    th[bad] = np.nan
    return coef, th


def predict(x: FloatArray, coef: FloatArray) -> FloatArray:
    """``predict(fit, newdata, type = "response")``: ``pmax(exp(x %*% coef), eps)`` per row of ``coef``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _linkinv(coef @ x.T)
