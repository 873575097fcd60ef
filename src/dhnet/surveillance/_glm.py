"""Batched quasi-Poisson GLM fits by IRLS, as R's ``glm.fit`` (private helper of :mod:`.farrington`).

The model of ``farringtonFlexible`` is ``log(mu) = alpha[level] + beta * wtime + offset``:
one intercept per seasonal level (R's treatment contrasts span the same space, so
fitted values, hat values, dispersion and predictions are the same) and an
optional common time trend.  Thousands of such fits (every series at every
evaluated period) are run at once on padded arrays ``(fits, levels, rows)``.

The iterations are R's (``stats::glm.fit`` with ``quasipoisson(link = "log")``,
``glm.control()`` defaults): start at ``mu = y + 0.1``, iteratively reweighted
least squares with working weights ``prior * mu``, stop when
``|dev - dev_old| / (|dev| + 0.1) < 1e-8`` or after 25 iterations (then
``converged`` is False).  Because the design is "levels + one slope", each
weighted least-squares step has a closed form in per-level sums
``sum(w)``, ``sum(w * t)``, ``sum(w * t^2)`` (block elimination of the level
intercepts); without a trend a fit needs no per-row work at all.  As in R, the
working weights, hat values and unscaled covariance returned belong to the
*last* iteration (R's QR), the fitted values to the final coefficients.

Fits that hit R's special cases (``mu`` clamped to ``.Machine$double.eps``) use
an explicit row-wise path; fits whose deviance or coefficients become
non-finite (R halves the step or stops) are reported with ``ok`` False.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["EPS", "Fit", "GlmData", "fit", "replace", "take"]

EPS = float(np.finfo(np.float64).eps)  # R's .Machine$double.eps (lower clamp of mu in poisson()$linkinv)
_LOG_EPS = float(np.log(EPS))
MAXIT = 25  # glm.control()$maxit
EPSILON = 1e-8  # glm.control()$epsilon
_CHUNK_ELEMENTS = 1 << 16


@dataclass(frozen=True)
class GlmData:
    """Observations of ``F`` fits laid out ``(F, L, M)`` (level, row within level); padding has prior 0."""

    y: FloatArray
    t: FloatArray
    prior: FloatArray  # prior weights (R's `weights`), 0 for padding
    off: FloatArray | None  # offset, 0 for padding


@dataclass(frozen=True)
class Fit:
    """Result of :func:`fit` for ``F`` fits."""

    alpha: FloatArray  # (F, L) level intercepts (0 for empty levels)
    beta: FloatArray  # (F,) trend coefficient (0 without trend)
    trend: BoolArray  # (F,) fit has the trend term
    converged: BoolArray  # (F,)
    ok: BoolArray  # (F,) finite result
    s0: FloatArray  # (F, L) sum of working weights of the last iteration
    s1: FloatArray  # (F, L) sum of w * t
    s2: FloatArray  # (F, L) sum of w * t^2
    mu: FloatArray  # (F, L, M) fitted means (0 in padding)
    w: FloatArray  # (F, L, M) working weights of the last iteration (R's model$weights)
    n_ok: FloatArray  # (F,) observations with positive prior weight
    rank: FloatArray  # (F,) number of coefficients

    @property
    def df_residual(self) -> FloatArray:
        return self.n_ok - self.rank

    @property
    def d(self) -> FloatArray:
        """Schur complement ``sum_l (s2 - s1^2 / s0)``: ``1 / d`` is the unscaled variance of ``beta``."""
        return _schur(self.s0, self.s1, self.s2)


def _safe_div(a: FloatArray, b: FloatArray) -> FloatArray:
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _schur(s0: FloatArray, s1: FloatArray, s2: FloatArray) -> FloatArray:
    return np.asarray((s2 - _safe_div(s1 * s1, s0)).sum(axis=-1))


def fit(data: GlmData, trend: BoolArray) -> Fit:
    """Fit ``log(mu) = alpha[level] (+ beta * t) + off`` for every fit; ``trend`` selects the slope per fit."""
    n_fits, n_lev, n_row = data.y.shape
    out = _Out(n_fits, n_lev, n_row)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_lev * n_row))
    for has_trend in (True, False):
        sel = np.nonzero(trend == has_trend)[0]
        for lo in range(0, sel.size, chunk):
            idx = sel[lo : lo + chunk]
            _fit_chunk(data, idx, has_trend, out)
    return Fit(
        alpha=out.alpha,
        beta=out.beta,
        trend=trend.copy(),
        converged=out.converged,
        ok=out.ok,
        s0=out.s0,
        s1=out.s1,
        s2=out.s2,
        mu=out.mu,
        w=out.w,
        n_ok=out.n_ok,
        rank=out.rank,
    )


class _Out:
    def __init__(self, n_fits: int, n_lev: int, n_row: int) -> None:
        self.alpha = np.zeros((n_fits, n_lev))
        self.beta = np.zeros(n_fits)
        self.converged = np.zeros(n_fits, dtype=bool)
        self.ok = np.zeros(n_fits, dtype=bool)
        self.s0 = np.zeros((n_fits, n_lev))
        self.s1 = np.zeros((n_fits, n_lev))
        self.s2 = np.zeros((n_fits, n_lev))
        self.mu = np.zeros((n_fits, n_lev, n_row))
        self.w = np.zeros((n_fits, n_lev, n_row))
        self.n_ok = np.zeros(n_fits)
        self.rank = np.zeros(n_fits)


def _fit_chunk(data: GlmData, idx: NDArray[np.intp], has_trend: bool, out: _Out) -> None:
    y = data.y[idx]
    t = data.t[idx]
    prior = data.prior[idx]
    off = None if data.off is None else data.off[idx]
    n = idx.size
    pos = prior > 0
    # -- per-fit constants (R's sums over rows, regrouped) ---------------------------------------------
    py = prior * y
    PY = py.sum(axis=-1)
    PYT = (py * t).sum(axis=-1)
    ylogy = np.zeros_like(y)
    np.multiply(y, np.log(y, out=np.zeros_like(y), where=y > 0), out=ylogy, where=y > 0)
    Cy = (prior * ylogy).sum(axis=(-2, -1))
    Py = PY.sum(axis=-1)
    PYoff = np.zeros(n) if off is None else (py * off).sum(axis=(-2, -1))
    lw = np.full(y.shape, -np.inf)
    np.log(prior, out=lw, where=pos)
    if off is not None:
        lw += off
    # exp(lw) summed per level: the no-trend working-weight sums are exp(alpha) * Q.
    Q = np.exp(lw).sum(axis=-1)
    off_min = np.zeros(Q.shape) if off is None else np.where(pos, off, np.inf).min(axis=-1)
    tmin = np.where(pos, t, np.inf).min(axis=-1)
    tmax = np.where(pos, t, -np.inf).max(axis=-1)
    nonempty: BoolArray = np.asarray(pos.any(axis=-1))
    n_ok = pos.sum(axis=(-2, -1)).astype(np.float64)
    rank = nonempty.sum(axis=-1) + (1.0 if has_trend else 0.0)
    # -- initial values: mustart = y + 0.1, eta = log(mustart) (R's quasipoisson()$initialize) ----------
    mu0 = y + 0.1
    w0 = prior * mu0
    wt0 = w0 * t
    S, T, U = w0.sum(axis=-1), wt0.sum(axis=-1), (wt0 * t).sum(axis=-1)
    e0 = np.log(mu0)
    if off is not None:
        e0 = e0 - off
    wz0 = w0 * e0 - prior * 0.1
    Zs = wz0.sum(axis=-1)
    ZT = (wz0 * t).sum(axis=-1)
    r0 = np.zeros_like(y)
    np.multiply(y, np.log(y / mu0, out=np.zeros_like(y), where=y > 0), out=r0, where=y > 0)
    devold = 2.0 * (prior * (r0 + 0.1)).sum(axis=(-2, -1))
    alpha, beta = _solve(S, T, U, Zs, ZT, has_trend)
    # State of every fit: coefficients of the previous iterate (the one whose weights fed the last solve).
    alpha_prev = np.zeros_like(alpha)
    beta_prev = np.zeros_like(beta)
    from_start = np.ones(n, dtype=bool)  # last solve used the starting weights y + 0.1
    S_used, T_used, U_used = S, T, U
    active = np.ones(n, dtype=bool)
    converged = np.zeros(n, dtype=bool)
    ok = np.isfinite(beta) & np.isfinite(alpha).all(axis=-1)
    active &= ok
    for it in range(1, MAXIT + 1):
        a = np.nonzero(active)[0]
        if a.size == 0:
            break
        al, be = alpha[a], beta[a]
        # Lower bound of eta over the rows of each fit: clamping of mu at EPS needs the explicit path.
        lo_lev = al + off_min[a]
        if has_trend:
            lo_lev = lo_lev + np.minimum(be[:, None] * tmin[a], be[:, None] * tmax[a])
        lo_eta = np.where(nonempty[a], lo_lev, np.inf).min(axis=-1)
        exact = lo_eta < _LOG_EPS + 1.0
        Sn = np.zeros((a.size, S.shape[1]))
        Tn = np.zeros_like(Sn)
        Un = np.zeros_like(Sn)
        dev = np.zeros(a.size)
        fast = np.nonzero(~exact)[0]
        if fast.size:
            fa = a[fast]
            if has_trend:
                eta = be[fast, None, None] * t[fa]
                eta += al[fast, :, None]
                eta += lw[fa]
                w = np.exp(eta, out=eta)
                wt = w * t[fa]
                Sn[fast], Tn[fast] = w.sum(axis=-1), wt.sum(axis=-1)
                wt *= t[fa]
                Un[fast] = wt.sum(axis=-1)
            else:
                Sn[fast] = np.exp(al[fast]) * Q[fa]
            # sum(prior * y * log(mu)) = sum_l alpha_l PY_l + beta PYT + PYoff  (mu = exp(eta), not clamped)
            ylm = (al[fast] * PY[fa]).sum(axis=-1) + be[fast] * PYT[fa].sum(axis=-1) + PYoff[fa]
            dev[fast] = 2.0 * (Cy[fa] - ylm - Py[fa] + Sn[fast].sum(axis=-1))
        slow = np.nonzero(exact)[0]
        if slow.size:
            sa = a[slow]
            eta = al[slow, :, None] + be[slow, None, None] * t[sa]
            if off is not None:
                eta = eta + off[sa]
            mu = np.maximum(np.exp(eta), EPS)
            w = prior[sa] * mu
            wt = w * t[sa]
            Sn[slow], Tn[slow], Un[slow] = w.sum(axis=-1), wt.sum(axis=-1), (wt * t[sa]).sum(axis=-1)
            rr = np.zeros_like(mu)
            ys = y[sa]
            np.multiply(ys, np.log(ys / mu, out=np.zeros_like(mu), where=ys > 0), out=rr, where=ys > 0)
            dev[slow] = 2.0 * (prior[sa] * (rr - (ys - mu))).sum(axis=(-2, -1))
        finite = np.isfinite(dev)
        conv = finite & (np.abs(dev - devold[a]) / (np.abs(dev) + 0.1) < EPSILON)
        last = it == MAXIT
        done = conv | ~finite | last
        # Fits that stop now keep the weights of the solve that produced their coefficients.
        d_idx = a[done]
        converged[d_idx] = conv[done]
        ok[a[~finite]] = False
        active[d_idx] = False
        cont = np.nonzero(~done)[0]
        if cont.size == 0:
            break
        c = a[cont]
        # Next IRLS step from the new weights.
        devold[c] = dev[cont]
        alpha_prev[c], beta_prev[c] = alpha[c], beta[c]
        from_start[c] = False
        Sc, Tc, Uc = Sn[cont], Tn[cont], Un[cont]
        S_used[c], T_used[c], U_used[c] = Sc, Tc, Uc
        exact_c = exact[cont]
        na, nb = _step(alpha[c], beta[c], Sc, Tc, Uc, PY[c], PYT[c], has_trend)
        if exact_c.any():
            # Explicit working responses where mu may be clamped (z = eta - off + (y - mu) / mu).
            ec = np.nonzero(exact_c)[0]
            ci = c[ec]
            eta_n = alpha[ci][:, :, None] + beta[ci][:, None, None] * t[ci]
            mu = np.maximum(np.exp(eta_n if off is None else eta_n + off[ci]), EPS)
            wz = prior[ci] * (mu * eta_n + (y[ci] - mu))
            Zs_e, ZT_e = wz.sum(axis=-1), (wz * t[ci]).sum(axis=-1)
            ea, eb = _solve(Sc[ec], Tc[ec], Uc[ec], Zs_e, ZT_e, has_trend)
            na[ec], nb[ec] = ea, eb
        bad = ~(np.isfinite(nb) & np.isfinite(na).all(axis=-1))
        if bad.any():
            # R: "non-finite coefficients", stops without convergence.
            ok[c[bad]] = False
            active[c[bad]] = False
        alpha[c], beta[c] = na, nb
    # -- final rows: fitted means and the working weights of the last iteration -------------------------
    eta = alpha[:, :, None] + beta[:, None, None] * t
    if off is not None:
        eta += off
    mu = np.where(pos, np.maximum(np.exp(eta), EPS), 0.0)
    eta_p = alpha_prev[:, :, None] + beta_prev[:, None, None] * t
    if off is not None:
        eta_p += off
    mu_p = np.where(from_start[:, None, None], mu0, np.maximum(np.exp(eta_p), EPS))
    w = np.where(pos, prior * mu_p, 0.0)
    out.alpha[idx] = np.where(nonempty, alpha, 0.0)
    out.beta[idx] = beta
    out.converged[idx] = converged & ok
    out.ok[idx] = ok
    out.s0[idx], out.s1[idx], out.s2[idx] = S_used, T_used, U_used
    out.mu[idx] = mu
    out.w[idx] = w
    out.n_ok[idx] = n_ok
    out.rank[idx] = rank


def _solve(
    S: FloatArray, T: FloatArray, U: FloatArray, Zs: FloatArray, ZT: FloatArray, has_trend: bool
) -> tuple[FloatArray, FloatArray]:
    """Weighted least squares of z on (levels, t) from the per-level sums."""
    if has_trend:
        d = _schur(S, T, U)
        beta = (ZT - _safe_div(T * Zs, S)).sum(axis=-1) / d
        alpha = _safe_div(Zs - beta[:, None] * T, S)
    else:
        beta = np.zeros(S.shape[0])
        alpha = _safe_div(Zs, S)
    alpha = np.where(S > 0, alpha, 0.0)
    return alpha, beta


def _step(
    alpha: FloatArray,
    beta: FloatArray,
    S: FloatArray,
    T: FloatArray,
    U: FloatArray,
    PY: FloatArray,
    PYT: FloatArray,
    has_trend: bool,
) -> tuple[FloatArray, FloatArray]:
    """One IRLS step as an increment (mu = exp(eta) unclamped, so z's sums follow from the weights' sums).

    With ``z = eta - off + (y - mu) / mu`` and ``w = prior * mu``:
    ``sum_l w z = alpha_l S_l + beta T_l + PY_l - S_l`` and
    ``sum_l w t z = alpha_l T_l + beta U_l + PYT_l - T_l``; the least-squares
    solution is then the Newton increment below.
    """
    gy = _safe_div(PY, S)
    if has_trend:
        tbar = _safe_div(T, S)
        d = _schur(S, T, U)
        delta = (PYT - T * gy).sum(axis=-1) / d
        new_alpha = alpha + gy - 1.0 - delta[:, None] * tbar
        new_beta = beta + delta
    else:
        new_alpha = alpha + gy - 1.0
        new_beta = beta
    new_alpha = np.where(S > 0, new_alpha, 0.0)
    return new_alpha, new_beta


def take(data: GlmData, idx: NDArray[np.intp]) -> GlmData:
    """The fits ``idx`` of ``data``."""
    return GlmData(y=data.y[idx], t=data.t[idx], prior=data.prior[idx], off=None if data.off is None else data.off[idx])


def replace(base: Fit, idx: NDArray[np.intp], other: Fit) -> Fit:
    """``base`` with the fits ``idx`` replaced by the fits of ``other`` (in order)."""
    fields = {}
    for name in ("alpha", "beta", "trend", "converged", "ok", "s0", "s1", "s2", "mu", "w", "n_ok", "rank"):
        arr = getattr(base, name).copy()
        arr[idx] = getattr(other, name)
        fields[name] = arr
    return Fit(**fields)
