"""Farrington-type outbreak detection: ``farringtonFlexible`` of R's ``surveillance`` package.

References
----------
* Farrington CP, Andrews NJ, Beale AD, Catchpole MA (1996). A statistical
  algorithm for the early detection of outbreaks of infectious disease.
  *Journal of the Royal Statistical Society, Series A* 159(3):547-563.
* Noufaily A, Enki DG, Farrington P, Garthwaite P, Andrews N, Charlett A (2013).
  An improved algorithm for outbreak detection in multiple surveillance systems.
  *Statistics in Medicine* 32(7):1206-1222.
* Salmon M, Schumacher D, Höhle M (2016). Monitoring count time series in R:
  aberration detection in public health surveillance. *Journal of Statistical
  Software* 70(10).

The method follows ``surveillance::farringtonFlexible`` 1.20.3 on a date-indexed
``sts`` (``epochAsDate = TRUE``) step by step, for every series and evaluated
period at once:

1. reference periods: the same date 1..b years back (weekly data: the nearest
   date with the same weekday, so 52 or 53 weeks back), a window of ``w``
   periods around each and, with ``no_periods > 1``, ``no_periods - 1`` seasonal
   blocks in between; the ``past_weeks_not_included + 1`` latest periods are left
   out (:mod:`._farrington_design`);
2. a quasi-Poisson GLM ``log(mu) = level + beta * wtime (+ log population)`` fitted
   by R's IRLS (:mod:`._glm`), refitted without the trend if it does not converge;
   with ``reweight`` the observations are down-weighted by their Anscombe
   residuals (``weights_threshold``) and the model refitted; dispersion
   ``phi = max(1, Pearson chi^2 / df)``.  As in R, the standard error of the
   prediction uses the dispersion ``summary.glm`` reports after surveillance
   overwrote ``model$weights`` with the prior weights, ``sum(omega * r^2) / df``
   with working residuals ``r`` (not ``phi``);
3. the trend is kept only if ``b >= 3``, its p-value is below
   ``p_threshold_trend`` and the predicted count does not exceed the largest
   count of the reference data; otherwise the model is refitted without it;
4. the upper bound: "delta" (Farrington 1996: normal approximation on the
   ``powertrans`` scale), "nbPlugin" (Noufaily 2013: negative binomial quantile
   with mean ``mu`` and variance ``phi * mu``, Poisson when ``phi == 1``) or
   "muan" (the same with the ``1 - alpha`` quantile of ``mu``);
5. ``limit54``: no upper bound (and no alarm) unless there were at least
   ``cases`` cases in the last ``periods`` periods.  An alarm needs a score above
   1 and a non-zero count.

Results (``DetectionResult``)
-----------------------------
``expected`` is R's ``control$expected`` (the predicted mean, ``NaN`` where the
upper bound is missing), ``upperbound`` R's ``upperbound``, ``score`` R's
``control$score`` (``(y - predFit) / (upper - predFit)``, reported even when
``limit54`` suppresses the bound, as in R), ``pvalue`` R's ``control$pvalue``.
``extra`` holds ``trend`` (the trend was used), ``phi`` (the dispersion) and
``trend_coefficient`` (``beta`` per period of ``wtime`` where the trend was used,
else ``NaN``).

Missing values: ``upperbound`` is ``NaN`` where ``limit54`` is not met;
everything except ``observed`` is ``NaN`` (and ``alarm`` False) where R's fit
fails: no convergence with nor without trend in 25 IRLS iterations (typically a
long all-zero reference period with ``no_periods > 1``; R then warns and
returns ``NA``).

Deliberate differences from R
-----------------------------
* Where R's fit fails R reports ``expected = 0`` (its matrix is initialised with
  zeros); we report ``NaN``.
* Cases where R stops with an error give ``NaN`` for that series and period:
  the model without trend fails after the trend model converged, a non-finite
  IRLS step (R halves the step), Anscombe residuals that are ``NaN`` (a hat
  value of exactly 1 with a perfect fit), a trend p-value that is ``NA``, or a
  reference-window level that is missing from the data.
* ``population_offset`` without a population in the panel uses population 1
  (R's ``sts`` default), i.e. no offset.
* The history check raises :class:`~dhnet.surveillance.series.SeriesError`
  where R stops ("Some reference time points did not exist" or a negative
  subscript); like R, a reference window may start one period before the first
  period (R silently drops that index 0).
* ``limit54`` sums over the periods that exist when ``periods`` reaches back
  before the first period.
* Two numerical shortcuts of the IRLS (:mod:`._glm`): R's lower clamp of fitted
  means at 2.2e-16 is not applied (it only concerns rows of levels without
  counts and moves the deviance by less than ``n * 2.2e-16``), and once a fit's
  trend coefficient has converged to 1e-13 (no fitted value moves more) it stays
  fixed while R keeps iterating the level intercepts.  Against R's own output the
  results agree to about 1e-10 (relative); the goldens check 1e-6.

Weekly, monthly and daily panels are supported as R's ``sts`` with
``epochAsDate = TRUE`` and ``freq`` 52, 12 or 365 (``wtime`` is the distance in
days divided by the length of the panel's first period, as in R).

Speed: every (series, evaluated period) fit of a panel runs at once, by
:mod:`._glm` on ``(rows, levels, fits)`` arrays; see there (the IRLS of the fits with a trend runs in a
compiled C kernel when it is built, ``_irls.c``, with the numpy path as fallback and the same results to about
1e-12).  The fits are processed in chunks of
about 2^18 array elements (about a thousand fits; about 60 MB of arrays at the peak per chunk: larger chunks
cost more in first-touch page faults than they save in per-call overhead).  The chunks can run on several
threads (``DHNET_THREADS``, default two: the compiled kernel releases the GIL, so chunks overlap on two cores,
see ``_threads``); a chunk is computed the same way on any thread, so the results do not depend on the thread
count.  The special functions come from scipy's
compiled ufuncs without ``scipy.special``'s
package import (:mod:`._special`: start-up time of ``dhnet detect``).

``fitFun``, ``verbose`` and ``glmWarnings`` have no counterpart; R's ``range`` is
the ``start``/``end`` (or ``idx``) of the evaluated periods.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance import _glm, _special
from dhnet.surveillance._control import float_in, int_at_least, one_of, require
from dhnet.surveillance._farrington_design import Design, build_designs
from dhnet.surveillance._farrington_threshold import delta_threshold, noufaily_threshold
from dhnet.surveillance.registry import MethodSpec, register
from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import FloatArray, Panel, evaluation_indices

__all__ = [
    "FarringtonFlexibleControl",
    "farrington_flexible",
    "farrington_preset",
    "noufaily_preset",
    "run",
]

METHOD = "farrington-flexible"
Powertrans = Literal["none", "1/2", "2/3"]
ThresholdMethod = Literal["delta", "nbPlugin", "muan"]
_T = TypeVar("_T", bound=np.generic)
_CHUNK_ELEMENTS = 1 << 18  # rows x levels x fits processed at once (about 60 MB of arrays at the peak)


@dataclass(frozen=True)
class FarringtonFlexibleControl:
    """Settings of :func:`farrington_flexible`; defaults are R 1.20.3's ``farringtonFlexible`` defaults.

    R's defaults mix the two published variants (``weightsThreshold = 2.58`` from
    Noufaily et al. with the 1996 settings otherwise); the presets
    :func:`farrington_preset` and :func:`noufaily_preset` pin the published ones.
    """

    b: int = 5
    """``b``: number of years back in time for the reference data."""
    w: int = 3
    """``w``: half-width in periods of the window around each reference period."""
    reweight: bool = True
    """``reweight``: down-weight outlying reference data (Anscombe residuals) and refit."""
    weights_threshold: float = 2.58
    """``weightsThreshold``: Anscombe residuals above it are down-weighted (Farrington 1996: 1)."""
    alpha: float = 0.05
    """``alpha``: the upper bound is a one-sided ``1 - alpha`` prediction quantile."""
    trend: bool = True
    """``trend``: try a linear time trend (kept only if significant, ``b >= 3`` and not over-extrapolating)."""
    p_threshold_trend: float = 0.05
    """``pThresholdTrend``: the trend is significant when its p-value is below this (Noufaily: 1)."""
    limit54: tuple[int, int] = (5, 4)
    """``limit54 = c(cases, period)``: no alarm unless ``cases`` cases in the last ``period`` periods."""
    powertrans: Powertrans = "2/3"
    """``powertrans``: power transformation for the "delta" threshold ("none", "1/2", "2/3")."""
    population_offset: bool = False
    """``populationOffset``: add ``log(population)`` as an offset to the GLM."""
    no_periods: int = 1
    """``noPeriods``: number of seasonal factor levels (1 = reference windows only; Noufaily: 10)."""
    past_weeks_not_included: int | None = None
    """``pastWeeksNotIncluded``: latest periods left out of the fit; ``None`` means ``w`` (R's default)."""
    threshold_method: ThresholdMethod = "delta"
    """``thresholdMethod``: "delta" (Farrington 1996), "nbPlugin" or "muan" (Noufaily 2013)."""

    def __post_init__(self) -> None:
        int_at_least("b", self.b, 1)
        int_at_least("w", self.w, 0)
        require(isinstance(self.reweight, bool), "reweight", self.reweight, "must be true or false")
        float_in("weights_threshold", self.weights_threshold, 0.0, float("inf"))
        float_in("alpha", self.alpha, 0.0, 1.0, lo_open=True, hi_open=True)
        require(isinstance(self.trend, bool), "trend", self.trend, "must be true or false")
        float_in("p_threshold_trend", self.p_threshold_trend, 0.0, 1.0)
        lim = self.limit54
        ok = (
            isinstance(lim, (tuple, list))
            and len(lim) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in lim)
            and lim[0] >= 0
            and lim[1] >= 1
        )
        require(ok, "limit54", lim, "must be two integers (cases >= 0, periods >= 1)")
        object.__setattr__(self, "limit54", (int(lim[0]), int(lim[1])))
        one_of("powertrans", self.powertrans, ("none", "1/2", "2/3"))
        require(
            isinstance(self.population_offset, bool),
            "population_offset",
            self.population_offset,
            "must be true or false",
        )
        int_at_least("no_periods", self.no_periods, 1)
        if self.past_weeks_not_included is not None:
            int_at_least("past_weeks_not_included", self.past_weeks_not_included, 0)
        one_of("threshold_method", self.threshold_method, ("delta", "nbPlugin", "muan"))

    @property
    def past_excluded(self) -> int:
        """``past_weeks_not_included`` with R's default (``w``) applied."""
        return self.w if self.past_weeks_not_included is None else self.past_weeks_not_included


def farrington_preset() -> FarringtonFlexibleControl:
    """Farrington et al. (1996): ``noPeriods = 1``, ``weightsThreshold = 1``, ``pastWeeksNotIncluded = 3``,
    ``pThresholdTrend = 0.05``, ``thresholdMethod = "delta"``; otherwise R's defaults."""
    return FarringtonFlexibleControl(
        no_periods=1, weights_threshold=1.0, past_weeks_not_included=3, p_threshold_trend=0.05, threshold_method="delta"
    )


def noufaily_preset() -> FarringtonFlexibleControl:
    """Noufaily et al. (2013): ``noPeriods = 10``, ``weightsThreshold = 2.58``, ``pastWeeksNotIncluded = 26``,
    ``pThresholdTrend = 1``, ``thresholdMethod = "nbPlugin"``; otherwise R's defaults."""
    return FarringtonFlexibleControl(
        no_periods=10,
        weights_threshold=2.58,
        past_weeks_not_included=26,
        p_threshold_trend=1.0,
        threshold_method="nbPlugin",
    )


def farrington_flexible(
    panel: Panel,
    control: FarringtonFlexibleControl | None = None,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
) -> DetectionResult:
    """Run ``farringtonFlexible`` on every series of ``panel`` for the periods ``start``..``end``.

    ``control`` defaults to R's defaults (:class:`FarringtonFlexibleControl`);
    see :func:`farrington_preset` and :func:`noufaily_preset`.
    """
    return run(panel, control or FarringtonFlexibleControl(), evaluation_indices(panel, start, end))


# ----------------------------------------------------------------------------------------------------
@dataclass
class _Model:
    """The model ``fitFun`` returns, for the fits of a chunk."""

    fit: _glm.Fit
    null: NDArray[np.bool_]  # R's fitFun returned NULL (or a case where R errors)
    phi: FloatArray
    disp: FloatArray  # dispersion summary.glm reports for the returned model (used by predict's se.fit)


def _pearson(f: _glm.Fit, r: FloatArray, weights: FloatArray) -> FloatArray:
    """``sum(weights * r^2) / df`` for working residuals ``r`` (``summary.glm``'s dispersion)."""
    chi2 = np.einsum("mlf,mlf,mlf->f", weights, r, r)
    df = f.df_residual
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(df > 0, chi2 / df, np.nan)


def _hat(f: _glm.Fit, chunk: _glm.Chunk) -> FloatArray:
    """Hat values of the last IRLS iteration, ``w * x' (X'WX)^-1 x``; R sets those above 1 - 10 eps to 1."""
    t = chunk.t
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_s0 = np.where(f.s0 > 0, 1.0 / f.s0, 0.0)
        if f.trend.any():
            dt = t - chunk.expand(f.s1 * inv_s0)
            dt *= dt
            dt *= np.where(f.trend, 1.0 / f.d, 0.0)
            dt += chunk.expand(inv_s0)
        else:
            dt = np.broadcast_to(chunk.expand(inv_s0), t.shape)
        h = f.w * dt
    h[h > 1.0 - 10.0 * np.finfo(np.float64).eps] = 1.0
    return h


def anscombe_residuals(f: _glm.Fit, chunk: _glm.Chunk, phi: FloatArray) -> FloatArray:
    """Anscombe residuals scaled as surveillance's ``anscombe.residuals(m, phi)``.

    ``3/2 (y^(2/3) mu^(-1/6) - mu^(1/2)) / sqrt(phi (1 - h))`` with the hat values
    ``h`` of the fit; 0 in padding.  Arrays are ``(rows, levels, fits)``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(chunk.valid, f.wmu / f.prior, 1.0)
        rmu = np.sqrt(mu)
        a = chunk.y23 / np.cbrt(rmu)
        a -= rmu
        a *= 1.5
        den = 1.0 - _hat(f, chunk)
        den *= phi
        a /= np.sqrt(den)
    return np.where(chunk.valid, a, 0.0)


def assign_weights(s: FloatArray, threshold: float, valid: NDArray[np.bool_]) -> FloatArray:
    """surveillance's ``algo.farrington.assign.weights`` per fit (last axis) over rows with ``valid``.

    ``omega = gamma * s^-2`` where ``s > threshold`` else ``gamma``, with ``gamma``
    making the weights sum to the number of observations; ``NaN`` for a fit
    with a ``NaN`` residual (R cannot continue).
    """
    axes = tuple(range(s.ndim - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = s * s
        np.divide(1.0, factor, out=factor)
        factor = np.where(s > threshold, factor, 1.0)
        factor *= valid
        gamma = valid.sum(axis=axes) / factor.sum(axis=axes)
        bad = (np.isnan(s) & valid).any(axis=axes) | ~np.isfinite(gamma)
        factor *= gamma
    if bad.any():
        factor[..., bad] = np.nan
    return factor


def _fit_fun(chunk: _glm.Chunk, trend: bool, control: FarringtonFlexibleControl) -> _Model:
    """R's ``algo.farrington.fitGLM.flexible`` for every fit of ``chunk``."""
    n_fits = chunk.n_fits
    f = chunk.fit(None, np.full(n_fits, trend))
    if trend:
        failed = np.nonzero(~f.converged)[0]
        if failed.size:
            sub = chunk.take(failed).fit(None, np.zeros(failed.size, dtype=bool))
            f = _glm.replace(f, failed, sub)
    null = ~(f.converged & f.ok)
    r = f.residuals(chunk.y)
    phi = np.maximum(_pearson(f, r, f.w), 1.0)
    if not control.reweight:
        return _Model(fit=f, null=null, phi=phi, disp=_pearson(f, r, f.w))
    s = anscombe_residuals(f, chunk, phi)
    omega = assign_weights(s, control.weights_threshold, chunk.valid)
    bad = np.isnan(omega).any(axis=(0, 1))
    null |= bad
    if bad.any():
        omega[:, :, bad] = np.where(chunk.valid[:, :, bad], 1.0, 0.0)
    g = chunk.fit(omega, f.trend)
    null |= ~g.ok
    r = g.residuals(chunk.y)
    phi = np.maximum(_pearson(g, r, g.w), 1.0)
    # surveillance overwrites model$weights with omega, so summary.glm/predict.glm use sum(omega * r^2) / df.
    return _Model(fit=g, null=null, phi=phi, disp=_pearson(g, r, omega))


def _merge(base: _Model, idx: NDArray[np.intp], other: _Model) -> _Model:
    null = base.null.copy()
    null[idx] = other.null
    phi = base.phi.copy()
    phi[idx] = other.phi
    disp = base.disp.copy()
    disp[idx] = other.disp
    return _Model(fit=_glm.replace(base.fit, idx, other.fit), null=null, phi=phi, disp=disp)


def _predict(model: _Model, lp: NDArray[np.intp], t0: FloatArray, off0: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Linear predictor and its standard error at the evaluated period (level ``lp``, time ``t0``)."""
    f = model.fit
    cols = np.arange(lp.size)
    lpc = np.maximum(lp, 0)
    s0 = f.s0[lpc, cols]
    s1 = f.s1[lpc, cols]
    eta0 = f.alpha[lpc, cols] + f.beta * t0 + off0
    with np.errstate(divide="ignore", invalid="ignore"):
        v0 = 1.0 / s0
        dt = t0 - s1 / s0
        v0 = np.where(f.trend, v0 + dt * dt / f.d, v0)
        se = np.sqrt(model.disp * v0)
    bad = lp < 0
    return np.where(bad, np.nan, eta0), np.where(bad, np.nan, se)


def _threads() -> int:
    """Threads for the chunks of fits: ``DHNET_THREADS``, else two (one on a single-core machine).

    The compiled IRLS kernel releases the GIL, so chunks overlap on two cores: on the influenza benchmark
    (2 cores, ``dhnet detect`` whole process, 2026-11-23) two threads took 0.36-0.41 s wall against 0.39-0.50 s
    for one, for the same CPU time (0.41-0.45 s).  Before the kernel, the numpy passes held the GIL between
    row-wise steps and two threads cost 5-10 % more CPU for no gain, hence the earlier default of one.  Every
    chunk is computed the same way on any thread, so results do not depend on the number of threads.
    """
    env = os.environ.get("DHNET_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return min(2, os.cpu_count() or 1)


def run(panel: Panel, control: FarringtonFlexibleControl, idx: NDArray[np.intp]) -> DetectionResult:
    """Evaluate the periods ``idx`` of every series of ``panel`` (see the module docstring)."""
    idx = np.asarray(idx, dtype=np.intp)
    n_s, n_e = panel.n_series, idx.size
    design = build_designs(
        panel.dates,
        panel.freq,
        idx,
        b=control.b,
        w=control.w,
        no_periods=control.no_periods,
        past_weeks_not_included=control.past_excluded,
    )
    n_fits = n_e * n_s  # fit f evaluates period idx[f // n_s] of series f % n_s
    out = {"beta": np.full(n_fits, np.nan)}
    trend_used = np.zeros(n_fits, dtype=bool)
    _, n_l, n_m = design.rows.shape
    step = max(1, _CHUNK_ELEMENTS // (n_l * n_m))
    counts_t = np.ascontiguousarray(panel.counts.T)  # (T, S)
    lpop_t = None
    if control.population_offset and panel.population is not None:
        lpop_t = np.ascontiguousarray(np.log(panel.population).T)
    gather = _Gather(design, counts_t, lpop_t)
    cases, periods = control.limit54
    csum = np.concatenate([np.zeros((1, n_s)), np.cumsum(counts_t, axis=0)], axis=0)
    recent = csum[idx + 1] - csum[np.maximum(idx - periods + 1, 0)]  # (K, S)
    enough_all = (recent >= cases).reshape(-1)

    def work(lo: int) -> tuple[NDArray[np.intp], _ChunkResult]:
        with np.errstate(all="ignore"):  # numpy's error state is per thread
            fits = np.arange(lo, min(n_fits, lo + step))
            kk, ss = np.divmod(fits, n_s)
            return fits, _run_chunk(control, design, gather, kk, ss, counts_t, lpop_t, idx)

    starts = range(0, n_fits, step)
    n_threads = min(_threads(), len(starts))
    with contextlib.ExitStack() as stack:
        if n_threads > 1:
            pool = stack.enter_context(ThreadPoolExecutor(n_threads, thread_name_prefix="dhnet-farrington"))
            results: Iterator[tuple[NDArray[np.intp], _ChunkResult]] = pool.map(work, starts)
        else:
            results = map(work, starts)
        eta0, se_eta0, phi, y_now = (np.full(n_fits, np.nan) for _ in range(4))
        null = np.ones(n_fits, dtype=bool)
        for fits, res in results:
            null[fits], eta0[fits], se_eta0[fits], phi[fits], y_now[fits] = (
                res.null,
                res.eta0,
                res.se_eta0,
                res.phi,
                res.y_now,
            )
            used = ~res.null & res.trend
            out["beta"][fits] = np.where(used, res.beta, np.nan)
            trend_used[fits] = used
    # The upper bounds of all fits at once.
    with np.errstate(all="ignore"):
        upper, expected, pvalue, score = _thresholds(control, eta0, se_eta0, phi, y_now)
        ok = ~null
        out["upper"] = np.where(ok & enough_all, upper, np.nan)
        out["expected"] = np.where(ok & enough_all & ~np.isnan(upper), expected, np.nan)
        out["score"] = np.where(ok, score, np.nan)
        out["pvalue"] = np.where(ok, pvalue, np.nan)
        out["phi"] = np.where(ok, phi, np.nan)
        alarm = ok & enough_all & (out["score"] > 1.0) & (y_now != 0)

    def mat(a: NDArray[_T]) -> NDArray[_T]:
        return np.ascontiguousarray(a.reshape(n_e, n_s).T)

    return DetectionResult(
        method=METHOD,
        names=panel.names,
        dates=panel.dates[idx],
        observed=panel.counts[:, idx].copy(),
        expected=mat(out["expected"]),
        upperbound=mat(out["upper"]),
        alarm=mat(alarm),
        score=mat(out["score"]),
        pvalue=mat(out["pvalue"]),
        extra={"trend": mat(trend_used), "phi": mat(out["phi"]), "trend_coefficient": mat(out["beta"])},
    )


class _Gather:
    """The design laid out ``(M, V, K)`` and the data as flat arrays, for the row arrays of a chunk.

    ``flat[rows[m, v, k] + s]`` is the observation of series ``s`` in row ``m`` of virtual level ``v`` of
    evaluated period ``k``: ``counts`` (and ``lpop``) are ``(T + 1, S)`` raveled, the last row zeros, which
    the padding points to (0 in padding without a mask pass).
    """

    def __init__(self, design: Design, counts_t: FloatArray, lpop_t: FloatArray | None) -> None:
        n_t, n_s = counts_t.shape
        zero = np.zeros((1, n_s))
        self.rows = np.ascontiguousarray((np.where(design.valid, design.rows, n_t) * n_s).transpose(2, 1, 0))
        self.valid = np.ascontiguousarray(design.valid.transpose(2, 1, 0))
        self.t = np.ascontiguousarray(design.t.transpose(2, 1, 0))
        self.counts = np.concatenate([counts_t, zero]).ravel()
        self.lpop = None if lpop_t is None else np.concatenate([lpop_t, zero]).ravel()


def _run_chunk(
    control: FarringtonFlexibleControl,
    design: Design,
    gather: _Gather,
    kk: NDArray[np.intp],
    ss: NDArray[np.intp],
    counts_t: FloatArray,
    lpop_t: FloatArray | None,
    idx: NDArray[np.intp],
) -> _ChunkResult:
    """All of farringtonFlexible for the fits ``(kk, ss)`` (evaluated period index, series)."""
    rows = np.take(gather.rows, kk, axis=2)  # (M, L, F): flat positions in the data
    rows += ss
    valid = np.take(gather.valid, kk, axis=2)
    t = np.take(gather.t, kk, axis=2)
    y = gather.counts.take(rows)
    off = None
    off0 = np.zeros(kk.size)
    if lpop_t is not None and gather.lpop is not None:
        off = gather.lpop.take(rows)
        off0 = lpop_t[idx[kk], ss]
    chunk = _glm.Chunk(y, t, valid, off, design.lmap)
    lp = design.level_p[kk]
    t0 = design.t0[kk]
    y_now = counts_t[idx[kk], ss]
    max_y = y.max(axis=(0, 1))

    do_trend = np.zeros(kk.size, dtype=bool)
    if control.trend and control.b >= 3:
        model = _fit_fun(chunk, True, control)
        f = model.fit
        cand = f.trend & ~model.null
        eta0, _ = _predict(model, lp, t0, off0)
        mu0 = np.maximum(np.exp(eta0), _glm.EPS)
        no_extrapolation = mu0 <= max_y
        t_stat = f.beta / np.sqrt(model.disp / f.d)
        significant = _trend_significant(t_stat, f.df_residual, control.p_threshold_trend)
        # R stops on an NA trend decision; we report NaN for those fits.
        undecided = cand & (np.isnan(significant) | np.isnan(mu0))
        model.null |= undecided
        do_trend = cand & ~undecided & (significant == 1.0) & no_extrapolation
        refit = np.nonzero(cand & ~undecided & ~do_trend)[0]
        if refit.size:
            model = _merge(model, refit, _fit_fun(chunk.take(refit), False, control))
    else:
        model = _fit_fun(chunk, False, control)
    null = model.null | (lp < 0)

    eta0, se_eta0 = _predict(model, lp, t0, off0)
    return _ChunkResult(
        null=null,
        eta0=eta0,
        se_eta0=se_eta0,
        phi=model.phi,
        trend=do_trend,
        beta=model.fit.beta,
        y_now=y_now,
    )


@dataclass(frozen=True)
class _ChunkResult:
    null: NDArray[np.bool_]
    eta0: FloatArray  # linear predictor at the evaluated period
    se_eta0: FloatArray  # its standard error
    phi: FloatArray
    trend: NDArray[np.bool_]
    beta: FloatArray
    y_now: FloatArray


def _thresholds(
    control: FarringtonFlexibleControl, eta0: FloatArray, se_eta0: FloatArray, phi: FloatArray, y_now: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(upper, expected, pvalue, score)`` of every fit (elementwise)."""
    if control.threshold_method == "delta":
        mu0 = np.maximum(np.exp(eta0), _glm.EPS)
        _, upper, prob, score = delta_threshold(mu0, se_eta0 * mu0, phi, control.powertrans, control.alpha, y_now)
        return upper, mu0, prob, score
    _, upper, prob, score = noufaily_threshold(eta0, se_eta0, phi, control.alpha, y_now, control.threshold_method)
    return upper, np.exp(eta0), prob, score


def _trend_significant(t_stat: FloatArray, df: FloatArray, threshold: float) -> FloatArray:
    """``2 * pt(-|t|, df) < threshold`` as 1.0/0.0, ``NaN`` where R's p-value is ``NA``."""
    with np.errstate(invalid="ignore"):
        p = 2.0 * _special.ufuncs().stdtr(df, -np.abs(t_stat))
    return np.where(np.isnan(p) | ~(df > 0), np.nan, (p < threshold).astype(np.float64))


register(
    MethodSpec(
        name=METHOD,
        control_type=FarringtonFlexibleControl,
        run=run,
        summary="Farrington (1996) / Noufaily (2013) quasi-Poisson GLM outbreak detection (R farringtonFlexible)",
        presets={"farrington": farrington_preset, "noufaily": noufaily_preset},
    )
)
