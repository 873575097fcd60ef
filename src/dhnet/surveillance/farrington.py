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
   ``phi = max(1, Pearson chi^2 / df)``;
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

``fitFun``, ``verbose`` and ``glmWarnings`` have no counterpart; R's ``range`` is
the ``start``/``end`` (or ``idx``) of the evaluated periods.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance import _glm
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
_BATCH_ELEMENTS = 1 << 21  # rows x fits processed at once (bounds memory)


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
    """The model ``fitFun`` returns, for a set of fits."""

    fit: _glm.Fit
    null: NDArray[np.bool_]  # R's fitFun returned NULL (or a case where R errors)
    phi: FloatArray
    disp: FloatArray  # dispersion summary.glm reports for the returned model (used by predict's se.fit)


def _pearson(f: _glm.Fit, y: FloatArray, weights: FloatArray) -> FloatArray:
    """``sum(weights * ((y - mu) / mu)^2) / df`` over rows with positive weight (``summary.glm``)."""
    res = np.zeros_like(y)
    np.divide(y - f.mu, f.mu, out=res, where=f.mu > 0)
    chi2 = (np.where(weights > 0, weights, 0.0) * res * res).sum(axis=(-2, -1))
    df = f.df_residual
    return np.where(df > 0, chi2 / np.where(df > 0, df, 1.0), np.nan)


def _hat(f: _glm.Fit, t: FloatArray) -> FloatArray:
    """Hat values of the last IRLS iteration, ``w * x' (X'WX)^-1 x``; R sets those above 1 - 10 eps to 1."""
    inv_s0 = np.zeros_like(f.s0)
    np.divide(1.0, f.s0, out=inv_s0, where=f.s0 > 0)
    lev = inv_s0[:, :, None] * np.ones_like(t)
    if f.trend.any():
        tbar = f.s1 * inv_s0
        d = f.d
        inv_d = np.where(f.trend, 1.0 / np.where(d != 0, d, np.nan), 0.0)
        dt = t - tbar[:, :, None]
        lev = lev + dt * dt * inv_d[:, None, None]
    h = f.w * lev
    return np.where(h > 1.0 - 10.0 * np.finfo(np.float64).eps, 1.0, h)


def anscombe_residuals(f: _glm.Fit, data: _glm.GlmData, phi: FloatArray) -> FloatArray:
    """Anscombe residuals scaled as surveillance's ``anscombe.residuals(m, phi)``.

    ``3/2 (y^(2/3) mu^(-1/6) - mu^(1/2)) / sqrt(phi (1 - h))`` with the hat values
    ``h`` of the fit; 0 in padding.
    """
    valid = data.prior > 0
    mu = np.where(valid, f.mu, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1.5 * (np.cbrt(data.y) ** 2 * mu ** (-1.0 / 6.0) - np.sqrt(mu))
        s = a / np.sqrt(np.asarray(phi)[:, None, None] * (1.0 - _hat(f, data.t)))
    return np.where(valid, s, 0.0)


def assign_weights(s: FloatArray, threshold: float, valid: NDArray[np.bool_]) -> FloatArray:
    """surveillance's ``algo.farrington.assign.weights`` over the last two axes (rows with ``valid``).

    ``omega = gamma * s^-2`` where ``s > threshold`` else ``gamma``, with ``gamma``
    making the weights sum to the number of observations; ``NaN`` for a fit
    with a ``NaN`` residual (R cannot continue).
    """
    big = s > threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(valid, np.where(big, s**-2.0, 1.0), 0.0)
        gamma = valid.sum(axis=(-2, -1)) / factor.sum(axis=(-2, -1))
    bad = (np.isnan(s) & valid).any(axis=(-2, -1)) | ~np.isfinite(gamma)
    omega = np.asarray(gamma)[..., None, None] * factor
    return np.where(bad[..., None, None], np.nan, omega)


def _fit_fun(data: _glm.GlmData, trend: bool, control: FarringtonFlexibleControl) -> _Model:
    """R's ``algo.farrington.fitGLM.flexible`` for every fit of ``data``."""
    n_fits = data.y.shape[0]
    valid = data.prior > 0
    f = _glm.fit(data, np.full(n_fits, trend))
    if trend:
        failed = np.nonzero(~f.converged)[0]
        if failed.size:
            f = _glm.replace(f, failed, _glm.fit(_glm.take(data, failed), np.zeros(failed.size, dtype=bool)))
    null = ~(f.converged & f.ok)
    phi = np.maximum(_pearson(f, data.y, f.w), 1.0)
    if not control.reweight:
        return _Model(fit=f, null=null, phi=phi, disp=_pearson(f, data.y, f.w))
    s = anscombe_residuals(f, data, phi)
    omega = assign_weights(s, control.weights_threshold, valid)
    null |= np.isnan(omega).any(axis=(-2, -1))
    omega = np.where(np.isnan(omega), 0.0, omega)
    g = _glm.fit(_glm.GlmData(y=data.y, t=data.t, prior=omega, off=data.off), f.trend)
    null |= ~g.ok
    phi = np.maximum(_pearson(g, data.y, g.w), 1.0)
    # surveillance overwrites model$weights with omega, so summary.glm/predict.glm use sum(omega * r^2) / df.
    return _Model(fit=g, null=null, phi=phi, disp=_pearson(g, data.y, omega))


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
    rows = np.arange(lp.size)
    lpc = np.maximum(lp, 0)
    s0 = f.s0[rows, lpc]
    s1 = f.s1[rows, lpc]
    eta0 = f.alpha[rows, lpc] + f.beta * t0 + off0
    with np.errstate(divide="ignore", invalid="ignore"):
        v0 = 1.0 / s0
        dt = t0 - s1 / s0
        v0 = np.where(f.trend, v0 + dt * dt / f.d, v0)
    se = np.sqrt(model.disp * v0)
    bad = lp < 0
    return np.where(bad, np.nan, eta0), np.where(bad, np.nan, se)


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
    out = {name: np.full((n_e, n_s), np.nan) for name in ("expected", "upper", "score", "pvalue", "phi", "beta")}
    alarm = np.zeros((n_e, n_s), dtype=bool)
    trend_used = np.zeros((n_e, n_s), dtype=bool)
    per_k = n_s * design.rows.shape[1] * design.rows.shape[2]
    step = max(1, _BATCH_ELEMENTS // max(1, per_k))
    with np.errstate(all="ignore"):
        for lo in range(0, n_e, step):
            sl = slice(lo, min(n_e, lo + step))
            _run_batch(panel, control, design, sl, out, alarm, trend_used)
    observed = panel.counts[:, idx]
    return DetectionResult(
        method=METHOD,
        names=panel.names,
        dates=panel.dates[idx],
        observed=observed.copy(),
        expected=out["expected"].T.copy(),
        upperbound=out["upper"].T.copy(),
        alarm=alarm.T.copy(),
        score=out["score"].T.copy(),
        pvalue=out["pvalue"].T.copy(),
        extra={
            "trend": trend_used.T.copy(),
            "phi": out["phi"].T.copy(),
            "trend_coefficient": out["beta"].T.copy(),
        },
    )


def _run_batch(
    panel: Panel,
    control: FarringtonFlexibleControl,
    design: Design,
    sl: slice,
    out: dict[str, FloatArray],
    alarm: NDArray[np.bool_],
    trend_used: NDArray[np.bool_],
) -> None:
    ks = design.ks[sl]
    rows, valid, t = design.rows[sl], design.valid[sl], design.t[sl]
    n_k, n_l, n_m = rows.shape
    n_s = panel.n_series
    shape = (n_k, n_s, n_l, n_m)
    counts = panel.counts
    y = np.where(valid[:, None], counts[:, rows].transpose(1, 0, 2, 3), 0.0).reshape(-1, n_l, n_m)
    prior = np.broadcast_to(valid[:, None], shape).reshape(-1, n_l, n_m).astype(np.float64)
    tt = np.broadcast_to(t[:, None], shape).reshape(-1, n_l, n_m).copy()
    off: FloatArray | None = None
    off0 = np.zeros(n_k * n_s)
    if control.population_offset and panel.population is not None:
        lpop = np.log(panel.population)
        off = np.where(valid[:, None], lpop[:, rows].transpose(1, 0, 2, 3), 0.0).reshape(-1, n_l, n_m)
        off0 = lpop[:, ks].T.reshape(-1)
    data = _glm.GlmData(y=y, t=tt, prior=prior, off=off)
    n_fits = y.shape[0]
    lp = np.repeat(design.level_p[sl], n_s)
    t0 = np.repeat(design.t0[sl], n_s)
    y_now = counts[:, ks].T.reshape(-1)
    max_y = y.max(axis=(-2, -1))

    do_trend = np.zeros(n_fits, dtype=bool)
    if control.trend and control.b >= 3:
        model = _fit_fun(data, True, control)
        f = model.fit
        cand = f.trend & ~model.null
        eta0, _ = _predict(model, lp, t0, off0)
        mu0 = np.maximum(np.exp(eta0), _glm.EPS)
        no_extrapolation = mu0 <= max_y
        from scipy import special

        t_stat = f.beta / np.sqrt(model.disp / f.d)
        df = f.df_residual
        pval = 2.0 * special.stdtr(df, -np.abs(t_stat))
        significant = pval < control.p_threshold_trend
        # R stops on an NA trend decision; we report NaN for those fits.
        undecided = cand & (np.isnan(pval) | np.isnan(mu0))
        model.null |= undecided
        do_trend = cand & ~undecided & significant & no_extrapolation
        refit = np.nonzero(cand & ~undecided & ~do_trend)[0]
        if refit.size:
            model = _merge(model, refit, _fit_fun(_glm.take(data, refit), False, control))
    else:
        model = _fit_fun(data, False, control)
    null = model.null | (lp < 0)

    eta0, se_eta0 = _predict(model, lp, t0, off0)
    if control.threshold_method == "delta":
        mu0 = np.maximum(np.exp(eta0), _glm.EPS)
        _, upper, prob, score = delta_threshold(mu0, se_eta0 * mu0, model.phi, control.powertrans, control.alpha, y_now)
        expected = mu0
    else:
        _, upper, prob, score = noufaily_threshold(
            eta0, se_eta0, model.phi, control.alpha, y_now, control.threshold_method
        )
        expected = np.exp(eta0)
    cases, periods = control.limit54
    csum = np.concatenate([np.zeros((n_s, 1)), np.cumsum(counts, axis=1)], axis=1)
    recent = csum[:, ks + 1] - csum[:, np.maximum(ks - periods + 1, 0)]
    enough = (recent >= cases).T.reshape(-1)
    ok = ~null
    upper_out = np.where(ok & enough, upper, np.nan)
    shp = (n_k, n_s)
    out["upper"][sl] = upper_out.reshape(shp)
    out["expected"][sl] = np.where(ok & enough & ~np.isnan(upper), expected, np.nan).reshape(shp)
    out["score"][sl] = np.where(ok, score, np.nan).reshape(shp)
    out["pvalue"][sl] = np.where(ok, prob, np.nan).reshape(shp)
    out["phi"][sl] = np.where(ok, model.phi, np.nan).reshape(shp)
    used = ok & do_trend
    out["beta"][sl] = np.where(used, model.fit.beta, np.nan).reshape(shp)
    trend_used[sl] = used.reshape(shp)
    alarm[sl] = (ok & enough & (np.where(ok, score, np.nan) > 1.0) & (y_now != 0)).reshape(shp)


register(
    MethodSpec(
        name=METHOD,
        control_type=FarringtonFlexibleControl,
        run=run,
        summary="Farrington (1996) / Noufaily (2013) quasi-Poisson GLM outbreak detection (R farringtonFlexible)",
        presets={"farrington": farrington_preset, "noufaily": noufaily_preset},
    )
)
