"""Batched quasi-Poisson GLM fits by IRLS, as R's ``glm.fit`` (private helper of :mod:`.farrington`).

The model of ``farringtonFlexible`` is ``log(mu) = alpha[level] + beta * wtime + offset``:
one intercept per seasonal level (R's treatment contrasts span the same space, so
fitted values, hat values, dispersion and predictions are the same) and an
optional common time trend.  Thousands of such fits (every series at every
evaluated period) run at once on padded arrays laid out ``(rows, levels, fits)``
-- fits innermost, so that every broadcast and every per-level sum is a
contiguous, vectorised pass; long levels are split into "virtual levels" of
about equal length to limit the padding.

The iterations are R's (``stats::glm.fit`` with ``quasipoisson(link = "log")``,
``glm.control()`` defaults): start at ``mu = y + 0.1``, iteratively reweighted
least squares with working weights ``prior * mu``, stop when
``|dev - dev_old| / (|dev| + 0.1) < 1e-8`` or after 25 iterations (then
``converged`` is False).  Because the design is "levels + one slope", each
weighted least-squares step has a closed form in the per-level sums
``sum(w)``, ``sum(w * t)``, ``sum(w * t^2)`` (block elimination of the level
intercepts); the working responses' sums follow from them, and without a trend
a fit needs no per-row work at all.  As in R, the working weights, hat values
and unscaled covariance belong to the *last* iteration (R's QR), the fitted
values to the final coefficients.

Speed: a fit iterates row by row (one ``exp`` per row and iteration, in blocks
of a few thousand fits, so that the per-level arrays of an iteration are large
enough for numpy's per-call cost not to dominate) only until its trend has
converged to machine precision; after that only the level intercepts still move
-- those of levels without counts drift towards ``-inf``, one unit per
iteration, for as long as R keeps iterating -- so its row weights just scale by
``exp(change of the intercept)`` and the remaining iterations run on per-level
sums.  The few fits that are slow to converge are finished together at the end.
Only the weight sums are kept while iterating; the row weights of the results
(``prior * mu`` and R's working weights) are rebuilt once from the coefficients.

Compiled kernel: when ``dhnet.surveillance._irls`` is built (``_irls.c``, by ``pip install -e .``), the fits
with a trend (:meth:`Chunk._fit`) run there, fit by fit with the very steps above (one fit per SIMD lane, rows
added in numpy's order; only ``exp`` is its own), about twice as fast; the results agree with the numpy path
to about 1e-12.  ``DHNET_NO_CKERNEL=1`` (or a missing build) selects the numpy path.

Deliberate difference: R clamps ``mu`` at ``.Machine$double.eps``
(``poisson()$linkinv``); we do not.  It only matters for rows of levels without
counts whose fitted mean falls below 2.2e-16: their working response minus the
trend is ``alpha - 1`` clamped or not, so the steps are unchanged, and the
deviance changes by less than ``n * 2.2e-16`` against R's convergence threshold
``1e-8 * (deviance + 0.1)``.  Fits whose deviance or coefficients become
non-finite (R halves the step or stops) come back with ``ok`` False.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

__all__ = ["EPS", "Chunk", "Fit", "replace", "take"]

EPS = float(np.finfo(np.float64).eps)  # R's .Machine$double.eps (lower clamp of mu in poisson()$linkinv)
MAXIT = 25  # glm.control()$maxit
EPSILON = 1e-8  # glm.control()$epsilon
# A fit whose trend step moves no linear predictor by more than this continues on per-level sums.
_SWITCH = 1e-13
# Row arrays are compacted (a strided gather) once fewer than this fraction of their fits still iterate.
_COMPACT = 0.6
# Log-weight of rows without weight: exp() of it (~1e-304) is nil in every sum, while -inf would push
# numpy's vectorised exp onto its slow path.
_LOG_NIL = -700.0
_STRAGGLERS = 0.03  # fraction of a block's fits left to the final block
_BLOCK = 1 << 19  # rows x levels x fits iterated together (larger blocks: fewer, larger per-level array passes)


_KERNEL_VERSION = 1  # the interface of _irls.c this module calls (its VERSION)


def _load_kernel() -> ModuleType | None:
    """The compiled IRLS kernel (:file:`_irls.c`), or ``None``: not built (or a build of another interface
    version), or switched off by ``DHNET_NO_CKERNEL=1``."""
    if os.environ.get("DHNET_NO_CKERNEL", "").strip() not in ("", "0"):
        return None
    try:
        from dhnet.surveillance import _irls
    except ImportError:
        return None
    return _irls if getattr(_irls, "VERSION", None) == _KERNEL_VERSION else None


#: The compiled kernel of :meth:`Chunk._fit` when it is available (tests switch it off to check the numpy path).
kernel: ModuleType | None = _load_kernel()


def _lsum(a: FloatArray) -> FloatArray:
    """Sum over rows: ``(M, L, F) -> (L, F)``."""
    return np.asarray(np.add.reduce(a, axis=0))


def _ldot(a: FloatArray, b: FloatArray) -> FloatArray:
    """``sum over rows of a * b``: ``(M, L, F) x (M, L, F) -> (L, F)`` without a temporary."""
    return np.asarray(np.einsum("mlf,mlf->lf", a, b))


def _div(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a / b`` where ``b > 0``, else 0."""
    out = np.zeros(a.shape if a.shape == b.shape else np.broadcast_shapes(a.shape, b.shape))
    np.divide(a, b, out=out, where=b > 0)
    return out


@dataclass(frozen=True)
class Fit:
    """Fits of a :class:`Chunk`: ``F`` fits, ``L`` levels; row arrays ``(M, V, F)`` as the chunk's."""

    alpha: FloatArray  # (L, F) level intercepts (0 for empty levels)
    beta: FloatArray  # (F,) trend coefficient (0 without trend)
    trend: BoolArray  # (F,) the fit has the trend term
    converged: BoolArray  # (F,)
    ok: BoolArray  # (F,) finite result
    s0: FloatArray  # (L, F) sum of the working weights of the last iteration
    s1: FloatArray  # (L, F) sum of w * t
    s2: FloatArray  # (L, F) sum of w * t^2
    wmu: FloatArray  # (M, V, F) prior * fitted mean (nil in padding)
    w: FloatArray  # (M, V, F) working weights of the last iteration (R's model$weights), nil in padding
    prior: FloatArray  # (M, V, F) prior weights (0 in padding)
    n_ok: FloatArray  # (F,) observations with positive prior weight
    rank: FloatArray  # (F,) number of coefficients

    @property
    def df_residual(self) -> FloatArray:
        return np.asarray(self.n_ok - self.rank)

    @property
    def d(self) -> FloatArray:
        """``sum_l (s2 - s1^2 / s0)``: ``1 / d`` is the unscaled variance of ``beta`` (0 without trend)."""
        return np.asarray((self.s2 - _div(self.s1 * self.s1, self.s0)).sum(axis=0))

    def residuals(self, y: FloatArray) -> FloatArray:
        """Working residuals ``(y - mu) / mu`` (0 where the prior weight is 0)."""
        r = _div(y * self.prior, self.wmu)
        r -= 1.0
        return np.where(self.prior > 0, r, 0.0)


class Chunk:
    """Observations of ``F`` fits laid out ``(M, V, F)``: ``V`` virtual levels of ``M`` rows.

    Padding has ``valid`` False; ``lmap`` maps virtual levels to levels (``None``:
    one virtual level per level); ``off`` is the offset (``None`` for none).
    Data-only quantities are computed once and shared by every fit of the chunk
    (with and without trend, with prior weights 1 or reweighted).
    """

    def __init__(
        self, y: FloatArray, t: FloatArray, valid: BoolArray, off: FloatArray | None, lmap: IntArray | None = None
    ) -> None:
        self._init(y, t, valid, off, lmap)
        self.nonempty: BoolArray = self.agg(np.asarray(valid.any(axis=0), dtype=np.float64)) > 0
        # Row quantities of the starting values mu = y + 0.1 (0 in padding): y log y, mu, dev.resids / 2 and
        # weight times working response, all before prior weights.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu0 = np.log(y + 0.1)
            # y log y, 0 for y = 0 (counts are non-negative integers, so y > 0 means y >= 1)
            ylogy = np.maximum(y, 1.0)
            np.log(ylogy, out=ylogy)
            ylogy *= y
            self.ylogy = ylogy
        self.mu0 = np.where(valid, y + 0.1, 0.0)
        self.r0 = np.where(valid, self.ylogy - y * log_mu0 + 0.1, 0.0)
        lm = log_mu0 if off is None else log_mu0 - off
        self.g0 = np.where(valid, self.mu0 * lm - 0.1, 0.0)
        # log weights of unit prior weights (and the offset); _LOG_NIL in padding
        self.lp_unit = np.where(valid, 0.0 if off is None else off, _LOG_NIL)
        self.unit = valid.astype(np.float64)
        tmax = np.where(valid, np.abs(t), 0.0).max(axis=0)
        self.tmax = tmax if self.starts is None else np.maximum.reduceat(tmax, self.starts, axis=0)

    def _init(
        self, y: FloatArray, t: FloatArray, valid: BoolArray, off: FloatArray | None, lmap: IntArray | None
    ) -> None:
        self.y = y
        self.t = t
        self._t2: FloatArray | None = None
        self._y23: FloatArray | None = None
        self.valid = valid
        self.off = off
        self.n_fits = y.shape[2]
        # Levels may be split into several "virtual levels" (second axis) of about equal size: lmap[v] is
        # the level of virtual level v (non-decreasing); None when the second axis is the levels.
        if lmap is not None and np.array_equal(lmap, np.arange(y.shape[1])):
            lmap = None
        self.lmap = lmap
        self.starts = None if lmap is None else np.searchsorted(lmap, np.arange(int(lmap[-1]) + 1)).astype(np.intp)
        # When few levels are split, and each in two, agg adds the second parts one by one (reduceat is slow on
        # small arrays); a sum of two terms does not depend on the order, so the sums are the same.
        self._extra: list[tuple[int, int]] | None = None
        if lmap is not None and self.starts is not None:
            sizes = np.diff(np.append(self.starts, lmap.size))
            if sizes.max() <= 2 and int((sizes == 2).sum()) <= 4:
                self._extra = [(int(lev), int(self.starts[lev]) + 1) for lev in np.flatnonzero(sizes == 2)]

    @property
    def t2(self) -> FloatArray:
        """``t * t`` (the numpy path's row sums; computed on first use: the compiled kernel squares ``t`` itself)."""
        if self._t2 is None:
            self._t2 = self.t * self.t
        return self._t2

    @property
    def y23(self) -> FloatArray:
        """``y^(2/3)`` as ``cbrt(y)^2`` (Anscombe residuals; computed once per chunk, on first use)."""
        if self._y23 is None:
            a = np.cbrt(self.y)
            a *= a
            self._y23 = a
        return self._y23

    def agg(self, a: FloatArray) -> FloatArray:
        """Per virtual level ``(V, F)`` -> per level ``(L, F)`` (sum)."""
        if self.starts is None:
            return a
        if self._extra is None:
            return np.asarray(np.add.reduceat(a, self.starts, axis=0))
        out = a[self.starts]
        for level, v in self._extra:
            out[level] += a[v]
        return out

    def expand(self, a: FloatArray) -> FloatArray:
        """Per level ``(L, F)`` -> per virtual level ``(V, F)``."""
        return a if self.lmap is None else np.asarray(a[self.lmap])

    # ------------------------------------------------------------------------------------------------
    def fit(self, prior: FloatArray | None, trend: BoolArray) -> Fit:
        """Fit every fit of the chunk; ``prior`` ``(M, L, F)`` (``None``: 1 on valid rows), ``trend`` ``(F,)``."""
        with np.errstate(all="ignore"):
            w = _Weights(self, prior)
            # Fits without trend in a mixed set go through the row-wise path too, but leave it for the
            # per-level sums after their first iteration (their row weights only scale with the intercepts).
            if not trend.any():
                return self._fit_levels(w)
            return self._fit(w, trend) if kernel is None else self._fit_kernel(kernel, w, trend)

    def take(self, idx: IntArray) -> Chunk:
        """The fits ``idx`` as a chunk of their own (cached arrays sliced, not recomputed)."""
        sub = Chunk.__new__(Chunk)
        sub._init(
            self.y[:, :, idx],
            self.t[:, :, idx],
            self.valid[:, :, idx],
            None if self.off is None else self.off[:, :, idx],
            self.lmap,
        )
        for name in ("ylogy", "mu0", "r0", "g0", "lp_unit", "unit"):
            setattr(sub, name, getattr(self, name)[:, :, idx])
        if self._t2 is not None:
            sub._t2 = self._t2[:, :, idx]
        if self._y23 is not None:
            sub._y23 = self._y23[:, :, idx]
        for name in ("nonempty", "tmax"):
            setattr(sub, name, getattr(self, name)[:, idx])
        return sub

    def _fit_levels(self, wt: _Weights) -> Fit:
        """Fits without trend: the working-weight sums are ``exp(alpha_l) * sum(prior * exp(off))``."""
        n = self.n_fits
        prior, pos, lp, k = wt.prior, wt.pos, wt.lp, wt.consts(trend=False)
        Q = self.agg(_lsum(np.exp(lp)))
        nonempty = wt.nonempty
        w0 = wt.w0
        S = self.agg(_lsum(w0))
        alpha = np.where(S > 0, _div(self.agg(_lsum(wt.wz0)), S), 0.0)
        devold = wt.devold
        alpha_prev = alpha.copy()
        from_start = np.ones(n, dtype=bool)
        S_used = S.copy()
        zero = np.zeros(n)
        ok: BoolArray = np.asarray(np.isfinite(alpha).all(axis=0))
        act = ok.copy()
        conv = np.zeros(n, dtype=bool)
        for it in range(1, MAXIT + 1):
            Sn = np.exp(alpha) * Q
            dev = k.deviance(alpha, zero, Sn, slice(None))
            finite = np.isfinite(dev)
            c = finite & (np.abs(dev - devold) / (np.abs(dev) + 0.1) < EPSILON)
            done = act & (c | ~finite | (it == MAXIT))
            conv |= done & c
            ok &= ~(done & ~finite)
            act &= ~done
            if not act.any():
                break
            na = np.where(Sn > 0, alpha + _div(k.PY, Sn) - 1.0, 0.0)
            bad = act & ~np.isfinite(na).all(axis=0)
            ok &= ~bad
            act &= ~bad
            devold = np.where(act, dev, devold)
            alpha_prev = np.where(act, alpha, alpha_prev)
            S_used = np.where(act, Sn, S_used)
            from_start &= ~act
            alpha = np.where(act, na, alpha)
        wmu = np.where(pos, np.exp(self.expand(alpha) + lp), 0.0)
        wlast = np.where(pos, np.where(from_start, w0, np.exp(self.expand(alpha_prev) + lp)), 0.0)
        return Fit(
            alpha=np.where(nonempty, alpha, 0.0),
            beta=np.zeros(n),
            trend=np.zeros(n, dtype=bool),
            converged=conv & ok,
            ok=ok,
            s0=S_used,
            s1=np.zeros_like(S_used),
            s2=np.zeros_like(S_used),
            wmu=wmu,
            w=wlast,
            prior=prior,
            n_ok=wt.n_ok,
            rank=nonempty.sum(axis=0).astype(np.float64),
        )

    def _fit_kernel(self, irls: ModuleType, wt: _Weights, trend: BoolArray) -> Fit:
        """:meth:`_fit` by the compiled kernel (same steps, fit by fit; see :file:`_irls.c`)."""
        m, v, n = self.y.shape
        k, nonempty = wt.consts(trend=True), wt.nonempty
        n_lev = nonempty.shape[0]
        alpha, su, tu, uu = (np.empty((n_lev, n)) for _ in range(4))
        beta = np.empty(n)
        conv, ok = np.empty(n, dtype=np.uint8), np.empty(n, dtype=np.uint8)
        wmu, wlast = np.empty(self.y.shape), np.empty(self.y.shape)
        lmap = np.arange(v, dtype=np.int64) if self.lmap is None else self.lmap.astype(np.int64)

        def c(a: NDArray[np.generic], dtype: type = np.float64) -> NDArray[np.generic]:
            return np.ascontiguousarray(a, dtype=dtype)

        irls.fit_trend(
            m,
            v,
            n_lev,
            n,
            c(self.t),
            c(wt.lp),
            c(wt.w0),
            c(wt.wz0),
            lmap,
            c(k.PY),
            c(k.PYT),
            c(k.PYsum),
            c(k.PYTsum),
            c(k.Cy),
            c(k.PYoff),
            c(wt.devold),
            c(self.tmax.max(axis=0)),
            c(trend, np.uint8),
            alpha,
            beta,
            conv,
            ok,
            su,
            tu,
            uu,
            wmu,
            wlast,
        )
        okb = ok.astype(bool)
        return Fit(
            alpha=np.where(nonempty, alpha, 0.0),
            beta=beta,
            trend=trend.copy(),
            converged=conv.astype(bool) & okb,
            ok=okb,
            s0=su,
            s1=tu,
            s2=uu,
            wmu=wmu,
            w=wlast,
            prior=wt.prior,
            n_ok=wt.n_ok,
            rank=nonempty.sum(axis=0) + trend.astype(np.float64),
        )

    def _fit(self, wt: _Weights, trend: BoolArray) -> Fit:
        """Row-wise IRLS (fits with trend); fits whose trend has converged finish on per-level sums."""
        y, t, t2 = self.y, self.t, self.t2
        n = self.n_fits
        prior, lp, k, nonempty = wt.prior, wt.lp, wt.consts(trend=True), wt.nonempty
        # starting values: mustart = y + 0.1, eta = log(mustart) (R's quasipoisson()$initialize)
        w0 = wt.w0
        S, T, U = self.agg(_lsum(w0)), self.agg(_ldot(w0, t)), self.agg(_ldot(w0, t2))
        wz0 = wt.wz0
        devold = wt.devold
        alpha, beta = _solve(S, T, U, self.agg(_lsum(wz0)), self.agg(_ldot(wz0, t)), trend)
        out = _Out(n, alpha.shape[0])
        out.ok[:] = np.isfinite(beta) & np.all(np.isfinite(alpha), axis=0)
        out.alpha[:], out.beta[:] = alpha, beta
        out.Su[:], out.Tu[:], out.Uu[:] = S, T, U
        park = _Park(n, alpha.shape[0])
        tabs = self.tmax.max(axis=0)
        block = max(1, _BLOCK // max(1, y.shape[0] * y.shape[1]))
        # A block stops once only a few of its fits still iterate row-wise; those stragglers (slow or
        # ill-conditioned fits) are rerun from the start together, in one last block.
        stragglers: list[IntArray] = []
        for lo in range(0, n, block):
            ids = np.arange(lo, min(n, lo + block))
            ids = ids[out.ok[ids]]
            if ids.size:
                stragglers.append(self._rows(ids, lp, trend, devold, k, tabs, out, park, False))
        rest = np.concatenate(stragglers) if stragglers else np.zeros(0, dtype=np.intp)
        if rest.size:
            self._rows(rest, lp, trend, devold, k, tabs, out, park, True)
        if park.any():
            self._levels_tail(k, out, park)
        wmu, wlast = self._row_weights(out, lp, w0)
        return Fit(
            alpha=np.where(nonempty, out.alpha, 0.0),
            beta=out.beta,
            trend=trend.copy(),
            converged=out.conv & out.ok,
            ok=out.ok,
            s0=out.Su,
            s1=out.Tu,
            s2=out.Uu,
            wmu=wmu,
            w=wlast,
            prior=prior,
            n_ok=wt.n_ok,
            rank=nonempty.sum(axis=0) + trend.astype(np.float64),
        )

    def _row_weights(self, out: _Out, lp: FloatArray, w0: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``prior * mu`` at the final coefficients and at the previous ones (R's working weights), per row.

        Computed once for the whole chunk (contiguous passes) from the coefficients :class:`_Out` recorded,
        with the very operations the row-wise iterations used -- ``exp(beta t + log prior) * exp(alpha)``,
        times ``exp(alpha - alpha_park)`` for fits finished on per-level sums -- so the values are the ones
        the iterations had (bit for bit); 0 for fits that stopped without a result.
        """
        t, written = self.t, out.written
        wmu = np.multiply(t, out.beta)
        wmu += lp
        np.exp(wmu, out=wmu)
        wmu *= self.expand(np.exp(out.a1))
        if out.parked.any():
            wmu *= self.expand(np.exp(out.a2))
        wlast = np.multiply(t, out.pb)
        wlast += lp
        np.exp(wlast, out=wlast)
        wlast *= self.expand(np.exp(out.p1))
        if out.parked.any():
            wlast *= self.expand(np.exp(out.p2))
        if out.from_start.any():
            wlast = np.where(out.from_start, w0, wlast)
        if not written.all():
            wmu = np.where(written, wmu, 0.0)
            wlast = np.where(written, wlast, 0.0)
        return wmu, wlast

    def _rows(
        self,
        ids: IntArray,
        lp: FloatArray,
        trend: BoolArray,
        devold: FloatArray,
        k: _Consts,
        tabs: FloatArray,
        out: _Out,
        park: _Park,
        last: bool,
    ) -> IntArray:
        """IRLS iterations of the fits ``ids`` (a block), row by row.

        Unless ``last``, returns early with the fits still iterating once they are few (to be rerun).
        """
        # block-local state; positions in these arrays map to fits `ids`
        g = _Block(self, ids, lp, trend, devold, k, tabs, out)
        for it in range(1, MAXIT + 1):
            S, T, U, dev = g.sums()
            finite = np.isfinite(dev)
            conv = finite & (np.abs(dev - g.devold) / (np.abs(dev) + 0.1) < EPSILON)
            done = g.live & (conv | ~finite | (it == MAXIT))
            if done.any():
                d = np.nonzero(done)[0]
                fi = g.ids[d]
                out.conv[fi] = conv[d]
                out.ok[fi] &= finite[d]
                out.alpha[:, fi], out.beta[fi] = g.a[:, d], g.b[d]
                out.Su[:, fi], out.Tu[:, fi], out.Uu[:, fi] = g.Su[:, d], g.Tu[:, d], g.Uu[:, d]
                out.written[fi] = True
                out.a1[:, fi] = g.a[:, d]
                if it == 1:  # the previous weights are those of the starting values
                    out.from_start[fi] = True
                else:
                    out.p1[:, fi], out.pb[fi] = g.pa[:, d], g.pb[d]
                g.live[d] = False
            n_live = int(g.live.sum())
            if n_live == 0:
                return np.zeros(0, dtype=np.intp)
            if not last and n_live <= _STRAGGLERS * ids.size:
                return np.asarray(g.ids[g.live])
            na, nb = _step(g.a, g.b, S, T, U, g.PY, g.PYT, g.trend)
            bad = g.live & ~(np.isfinite(nb) & np.isfinite(na).all(axis=0))
            if bad.any():
                # R: "non-finite coefficients" -- stops without convergence
                out.ok[g.ids[bad]] = False
                g.live &= ~bad
            # Fits whose step moves no fitted value by more than _SWITCH (levels without counts aside: their
            # intercepts drift towards -inf, one unit per iteration, for as long as R iterates) continue on
            # per-level sums: their row weights then only scale by exp(change of the level intercept).
            moved = np.where(g.PY > 0, np.abs(na - g.a), 0.0).max(axis=0)
            sw = g.live & (~g.trend | (np.maximum(np.abs(nb - g.b) * g.tabs, moved) <= _SWITCH))
            if sw.any():
                x = np.nonzero(sw)[0]
                fi = g.ids[x]
                ax, bx, Sx = g.a[:, x], g.b[x], S[:, x]
                a_next = np.where(Sx > 0, ax + _div(g.PY[:, x], Sx) - 1.0, 0.0)
                park.add(fi, it + 1, ax, bx, a_next, Sx, T[:, x], U[:, x], dev[x])
                g.live[x] = False
            g.advance(na, nb, S, T, U, dev)
        return np.zeros(0, dtype=np.intp)  # pragma: no cover - the loop always returns

    def _levels_tail(self, k: _Consts, out: _Out, park: _Park) -> None:
        """Finish the parked fits: IRLS steps of the level intercepts with the trend fixed, on per-level sums."""
        ids = np.concatenate(park.ids)
        it = np.concatenate(park.its)
        a0, b, a, bS, bT, bU, dev0 = (np.concatenate(x, axis=-1) for x in zip(*park.parts, strict=True))
        ba = a0  # intercepts at which the base row weights were taken
        n = ids.size
        const = k.Cy[ids] - b * k.PYTsum[ids] - k.PYoff[ids] - k.PYsum[ids]
        conv = np.zeros(n, dtype=bool)
        ok = np.ones(n, dtype=bool)
        a_fin, ap_fin = a.copy(), a0.copy()
        # The fits still stepping (positions `pos`): each one's result is recorded when it stops, and the
        # per-level arrays shrink to the others (elementwise and per-fit operations: same values).
        pos = np.arange(n)
        a_prev, devold, PY, wS, wa = a0, dev0, k.PY[:, ids], bS, ba
        while True:
            S = wS * np.exp(a - wa)
            dev = 2.0 * (const - (a * PY).sum(axis=0) + S.sum(axis=0))
            finite = np.isfinite(dev)
            c = finite & (np.abs(dev - devold) < EPSILON * (np.abs(dev) + 0.1))
            stop = c | ~finite | (it >= MAXIT)
            if stop.any():
                p = pos[stop]
                a_fin[:, p], ap_fin[:, p] = a[:, stop], a_prev[:, stop]
                conv[p] = c[stop]
                ok[p] = finite[stop]
                if stop.all():
                    break
            na = a + _div(PY, S)
            na -= 1.0
            bad = ~stop & ~np.isfinite(na).all(axis=0)
            if bad.any():
                p = pos[bad]
                a_fin[:, p], ap_fin[:, p] = a[:, bad], a_prev[:, bad]
                ok[p] = False
            going = ~(stop | bad)
            if not going.any():
                break
            if not going.all():
                pos, it, const, dev = pos[going], it[going], const[going], dev[going]
                a, na, PY, wS, wa = a[:, going], na[:, going], PY[:, going], wS[:, going], wa[:, going]
            a_prev, a, devold = a, na, dev
            it += 1
        a, a_prev = a_fin, ap_fin
        f = np.exp(a_prev - ba)
        Su, Tu, Uu = bS * f, bT * f, bU * f  # sums that produced `a`
        out.conv[ids] = conv
        out.ok[ids] &= ok
        out.alpha[:, ids], out.beta[ids] = a, b
        out.Su[:, ids], out.Tu[:, ids], out.Uu[:, ids] = Su, Tu, Uu
        # row weights: those at parking, exp(beta t + log prior) * exp(ba), times exp(a - ba) (see _row_weights)
        out.written[ids] = True
        out.parked[ids] = True
        out.a1[:, ids], out.a2[:, ids] = ba, a - ba
        out.p1[:, ids], out.p2[:, ids], out.pb[ids] = ba, a_prev - ba, b


class _Weights:
    """Prior weights of a set of fits and the data sums that depend on them (1 on valid rows: ``prior=None``)."""

    def __init__(self, c: Chunk, prior: FloatArray | None) -> None:
        self.c = c
        if prior is None:
            self.prior = c.unit
            self.pos = c.valid
            self.lp = c.lp_unit
            self.py = c.y
            self.w0, self.wz0 = c.mu0, c.g0
            self.devold = 2.0 * c.r0.sum(axis=(0, 1))
            self.Cy = c.ylogy.sum(axis=(0, 1))
        else:
            p = np.where(c.valid, prior, 0.0)
            self.prior = p
            self.pos = p > 0
            self.lp = np.full(p.shape, _LOG_NIL)
            np.log(p, out=self.lp, where=self.pos)
            if c.off is not None:
                self.lp += np.where(self.pos, c.off, 0.0)
            self.py = p * c.y
            self.w0, self.wz0 = p * c.mu0, p * c.g0
            self.devold = 2.0 * _ldot(p, c.r0).sum(axis=0)
            self.Cy = _ldot(p, c.ylogy).sum(axis=0)
        self.n_ok = self.pos.sum(axis=(0, 1)).astype(np.float64)
        self.nonempty: BoolArray = c.agg(np.asarray(self.pos.any(axis=0), dtype=np.float64)) > 0

    def consts(self, trend: bool) -> _Consts:
        c, py = self.c, self.py
        return _Consts(
            PY=c.agg(_lsum(py)),
            PYT=c.agg(_ldot(py, c.t)) if trend else np.zeros(self.nonempty.shape),
            Cy=self.Cy,
            PYoff=np.zeros(c.n_fits) if c.off is None else _ldot(py, c.off).sum(axis=0),
        )


@dataclass
class _Consts:
    """Per-fit sums of the data that the IRLS steps and the deviance need."""

    PY: FloatArray  # (L, F) sum(prior * y) per level
    PYT: FloatArray  # (L, F) sum(prior * y * t) per level
    Cy: FloatArray  # (F,) sum(prior * y * log y)
    PYoff: FloatArray  # (F,) sum(prior * y * offset)

    def __post_init__(self) -> None:
        self.PYsum = self.PY.sum(axis=0)
        self.PYTsum = self.PYT.sum(axis=0)

    def deviance(self, alpha: FloatArray, beta: FloatArray, S: FloatArray, f: IntArray | slice) -> FloatArray:
        """``sum(dev.resids)`` when ``mu = exp(eta)`` (unclamped): via ``sum(prior y log mu)``."""
        ylm = (alpha * self.PY[:, f]).sum(axis=0) + beta * self.PYTsum[f] + self.PYoff[f]
        return np.asarray(2.0 * (self.Cy[f] - ylm - self.PYsum[f] + S.sum(axis=0)))


class _Out:
    """Results of :meth:`Chunk._fit` for all fits."""

    def __init__(self, n: int, n_lev: int) -> None:
        self.alpha = np.zeros((n_lev, n))
        self.beta = np.zeros(n)
        self.conv = np.zeros(n, dtype=bool)
        self.ok = np.zeros(n, dtype=bool)
        self.Su = np.zeros((n_lev, n))  # weight sums of the last iteration (R's QR)
        self.Tu = np.zeros((n_lev, n))
        self.Uu = np.zeros((n_lev, n))
        # How to rebuild the row weights (:meth:`Chunk._row_weights`): prior * mu is
        # exp(beta t + log prior) * exp(a1) * exp(a2) (a2 only for parked fits), the working weights of the
        # last iteration exp(pb t + log prior) * exp(p1) * exp(p2), or the starting weights (from_start).
        self.written = np.zeros(n, dtype=bool)  # the fit has a result
        self.parked = np.zeros(n, dtype=bool)  # finished on per-level sums
        self.from_start = np.zeros(n, dtype=bool)
        self.a1 = np.zeros((n_lev, n))
        self.a2 = np.zeros((n_lev, n))
        self.p1 = np.zeros((n_lev, n))
        self.p2 = np.zeros((n_lev, n))
        self.pb = np.zeros(n)


class _Park:
    """Fits that continue on per-level sums (trend converged): their state when they switched."""

    def __init__(self, n: int, n_lev: int) -> None:
        self.n, self.n_lev = n, n_lev
        self.ids: list[IntArray] = []
        self.parts: list[tuple[FloatArray, ...]] = []
        self.its: list[IntArray] = []

    def any(self) -> bool:
        return bool(self.ids)

    def add(
        self,
        fi: IntArray,
        it_next: int,
        alpha: FloatArray,
        beta: FloatArray,
        alpha_next: FloatArray,
        S: FloatArray,
        T: FloatArray,
        U: FloatArray,
        dev: FloatArray,
    ) -> None:
        """The row weights at ``(alpha, beta)`` have the sums ``S, T, U``, which gave ``alpha_next``."""
        self.ids.append(fi)
        self.its.append(np.full(fi.size, it_next))
        self.parts.append((alpha, beta, alpha_next, S, T, U, dev))


class _Block:
    """Row arrays and state of a block of fits iterating row-wise (compacted as fits leave).

    The weights ``prior * mu`` are ``e * ea``: ``e = exp(beta t + log prior + off)`` per row and
    ``ea = exp(alpha)`` per level, so that the level intercepts cost no row pass.  Only their sums are kept:
    the row weights of the results are rebuilt from the coefficients (:meth:`Chunk._row_weights`).
    """

    def __init__(
        self,
        c: Chunk,
        ids: IntArray,
        lp: FloatArray,
        trend: BoolArray,
        devold: FloatArray,
        k: _Consts,
        tabs: FloatArray,
        out: _Out,
    ) -> None:
        contiguous = ids.size == ids[-1] - ids[0] + 1
        sel: IntArray | slice = slice(int(ids[0]), int(ids[-1]) + 1) if contiguous else ids
        self.ids = ids
        self.c = c
        self.lp, self.t, self.t2 = lp[:, :, sel], c.t[:, :, sel], c.t2[:, :, sel]
        self.e = np.empty(self.lp.shape)
        self.live = np.ones(ids.size, dtype=bool)
        self.a, self.b = out.alpha[:, ids], out.beta[ids]
        self.pa, self.pb = self.a, self.b  # the previous iterate (once there is one)
        self.Su, self.Tu, self.Uu = out.Su[:, ids], out.Tu[:, ids], out.Uu[:, ids]
        self.devold = devold[ids]
        self.trend = trend[ids]
        self.k = k
        self.PY, self.PYT = k.PY[:, ids], k.PYT[:, ids]
        self.tabs = tabs[ids]

    def sums(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Weight sums and deviance at the current coefficients."""
        a, b = self.a, self.b
        e = self.e
        np.multiply(self.t, b, out=e)
        e += self.lp
        np.exp(e, out=e)
        c = self.c
        ea = c.expand(np.exp(a))  # per virtual level
        S = _lsum(e)
        S *= ea
        T = _ldot(e, self.t)
        T *= ea
        U = _ldot(e, self.t2)
        U *= ea
        S, T, U = c.agg(S), c.agg(T), c.agg(U)
        return S, T, U, self.k.deviance(a, b, S, self.ids)

    def advance(
        self, na: FloatArray, nb: FloatArray, S: FloatArray, T: FloatArray, U: FloatArray, dev: FloatArray
    ) -> None:
        """Move to the next iterate; drop the fits that left once they are many."""
        self.Su, self.Tu, self.Uu, self.devold = S, T, U, dev
        self.pa, self.pb = self.a, self.b
        self.a, self.b = na, nb
        if self.live.sum() < _COMPACT * self.live.size:
            keep = np.nonzero(self.live)[0]
            for name in ("lp", "t", "t2"):
                setattr(self, name, getattr(self, name)[:, :, keep])
            self.e = np.empty(self.lp.shape)
            for name in ("pa", "a", "Su", "Tu", "Uu", "PY", "PYT"):
                setattr(self, name, getattr(self, name)[:, keep])
            for name in ("b", "pb", "devold", "trend", "tabs", "ids", "live"):
                setattr(self, name, getattr(self, name)[keep])


def _solve(
    S: FloatArray, T: FloatArray, U: FloatArray, Zs: FloatArray, ZT: FloatArray, trend: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Weighted least squares of z on (levels, t) from the per-level sums."""
    d = (U - _div(T * T, S)).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(trend, (ZT - _div(T * Zs, S)).sum(axis=0) / d, 0.0)
    alpha = np.where(S > 0, _div(Zs - beta * T, S), 0.0)
    return alpha, beta


def _step(
    alpha: FloatArray,
    beta: FloatArray,
    S: FloatArray,
    T: FloatArray,
    U: FloatArray,
    PY: FloatArray,
    PYT: FloatArray,
    trend: BoolArray,
) -> tuple[FloatArray, FloatArray]:
    """One IRLS step as an increment (mu = exp(eta) unclamped, so z's sums follow from the weights' sums).

    With ``z = eta - off + (y - mu) / mu`` and ``w = prior * mu``:
    ``sum_l w z = alpha_l S_l + beta T_l + PY_l - S_l`` and
    ``sum_l w t z = alpha_l T_l + beta U_l + PYT_l - T_l``; the least-squares
    solution is then the Newton increment below.
    """
    gy = _div(PY, S)
    tbar = _div(T, S)
    d = (U - T * tbar).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(trend, (PYT - T * gy).sum(axis=0) / d, 0.0)
    new_alpha = np.where(S > 0, alpha + gy - 1.0 - delta * tbar, 0.0)
    return new_alpha, beta + delta


_FIELDS_F = ("beta", "trend", "converged", "ok", "n_ok", "rank")
_FIELDS_LF = ("alpha", "s0", "s1", "s2")
_FIELDS_MLF = ("wmu", "w", "prior")


def _take_fit(f: Fit, idx: IntArray) -> Fit:
    kw: dict[str, NDArray[np.generic]] = {k: getattr(f, k)[idx] for k in _FIELDS_F}
    kw.update({k: getattr(f, k)[:, idx] for k in _FIELDS_LF})
    kw.update({k: getattr(f, k)[:, :, idx] for k in _FIELDS_MLF})
    return Fit(**kw)  # type: ignore[arg-type]


def take(f: Fit, idx: IntArray) -> Fit:
    """The fits ``idx`` of ``f``."""
    return _take_fit(f, idx)


def replace(base: Fit, idx: IntArray, other: Fit) -> Fit:
    """``base`` with the fits ``idx`` replaced by ``other`` (in order), updated in place and returned."""
    for k in _FIELDS_F:
        getattr(base, k)[idx] = getattr(other, k)
    for k in _FIELDS_LF:
        getattr(base, k)[:, idx] = getattr(other, k)
    for k in _FIELDS_MLF:
        getattr(base, k)[:, :, idx] = getattr(other, k)
    return base
