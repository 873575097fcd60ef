"""GLR (generalised likelihood ratio) detectors for Poisson and negative binomial counts.

Parity target: ``surveillance::algo.glrpois`` and ``surveillance::algo.glrnb`` (R package ``surveillance``
1.20.3, Höhle and Paul), including their C routines (``src/surveillance.c``), whose numerics are ported
line by line in :mod:`dhnet.surveillance._glr_kernels`.

The detector monitors counts ``x_t`` with in-control mean ``mu_{0,t}``.  Under the alternative the mean
changes from an unknown time ``k`` on:

* ``change="intercept"``: ``mu_{1,t} = mu_{0,t} exp(kappa)`` (a shift of the log-linear intercept);
* ``change="epi"``: ``mu_{1,t} = mu_{0,t} + exp(theta) x_{t-1}`` (an epidemic, autoregressive component;
  Held et al. 2005).

The statistic at time ``n`` is ``GLR_n = max_k sup_kappa sum_{t=k}^{n} log f_kappa(x_t) / f_0(x_t)``
(``k`` over all earlier periods, or the window ``n - M .. n - Mtilde + 1``).  With a known change
``theta`` it is the likelihood-ratio CUSUM ``max(0, LR_{n-1} + z_n)``.  An alarm is raised at the first
``n`` with ``GLR_n >= c_arl`` (``> c_arl`` for the known-theta and the Poisson epidemic charts, as in R's C
code); then the detector **restarts** on the following periods, as R does (for the epidemic chart the
count of the alarm period becomes ``x_0`` of the new run).  ``x_t`` follows a Poisson distribution
(``glrpois``, ``alpha = 0``) or a negative binomial with ``Var = mu + alpha mu^2`` (``glrnb``).

In-control mean (``mu0``).  With ``mu0=None`` (R: ``mu0 = NULL`` or a list) it is estimated, as R's
``estimateGLRNbHook``, by a log-linear model ``y ~ 1 [+ t] + sum_{s=1}^{S} (cos(2 s pi t / f) +
sin(2 s pi t / f))`` (``mu0_s`` = S, ``mu0_trend``, ``f`` the periods per year: 52, 12 or 365) fitted to the
training periods -- all periods of the panel before the first evaluated one (R: ``train =
1:(range[1] - 1)``; ``t`` counts periods from 1 at the panel's first period) -- and predicted on the
evaluated periods.  The fit is a Poisson GLM for ``glrpois``, a negative binomial GLM with
``theta = 1/alpha`` when ``alpha`` is given, and ``MASS::glm.nb`` when ``alpha`` is ``None``, whose
estimate ``1/theta`` becomes ``alpha`` (see :mod:`dhnet.surveillance._glr_glm`, which replicates R's
iterations).  With ``mu0_refit=True`` the model is refitted after every alarm on all periods before the
restart (with the then fixed ``alpha``).  A number ``mu0`` is a constant in-control mean; the functions
:func:`glrnb` and :func:`glrpois` also take an array ``mu0`` (R's vector ``mu0``).

Outputs (:class:`~dhnet.surveillance.result.DetectionResult`):

``expected``
    The in-control mean ``mu_{0,t}`` used (R: ``control$mu0`` after the call).
``upperbound``
    R's ``upperbound``, whose meaning depends on ``ret``: with ``ret="value"`` (R's default) the GLR (or
    LR) statistic itself, with ``ret="cases"`` the number of cases that would have sounded an alarm in
    that period (given the earlier counts of the current run).  Both after R's clean-up: NaN and negative
    values are 0.  For the negative binomial GLR chart ``ret="cases"`` is R's brute-force search (see
    below), which gives ``1e99`` when no count up to ``x_max`` would alarm -- in R as here this includes
    every period with a zero count and no alarm (R's search loop only runs for counts ``>= 1``).
``score``
    The statistic (R's upperbound with ``ret="value"``), whatever ``ret`` is.
``alarm``
    R's ``alarm``.
``extra["alpha"]`` (``glrnb`` only)
    The dispersion used, per series (estimated or given), repeated over the periods.

Missing values: a series whose training periods are all zero (the Poisson/NB fit has no finite optimum;
R returns ``mu0`` of about 1e-12 after 25 IRLS iterations and alarms on the first case), or whose fit fails
(non-finite coefficients, a deviance step halving cannot make finite, a dispersion estimate truncated at
zero) gets NaN ``expected``, ``upperbound`` and ``score`` and no alarms.  Where the fit fails R stops with
an error for the whole call: e.g. ``glm.nb`` on extremely overdispersed training data (theta about 1e-7;
seen on district influenza series) fails with "no valid set of coefficients has been found".  A failed
refit (``mu0_refit``) makes the rest of that series missing.

Quirks of R kept for parity: the Poisson decrease chart (``dir="dec"``, ``alpha = 0``) evaluates
``kappa = log(0) = -inf`` for a window without cases and gets ``-inf * 0 = NaN``, which the C code skips,
so a run of zero counts never raises a decrease alarm (the negative binomial chart has no such quirk);
the Poisson ``ret="cases"`` search starts at 0 while the negative binomial one starts at the observed
count (see ``upperbound``).

Deliberate differences from R (1.20.3):

* R stops with "theta has to be larger than 1" when ``theta == 1`` (a check later versions dropped; theta
  is on the log scale, so 1 is a valid change).  We accept it.  We reject ``theta <= 0`` and
  ``dir="dec"`` with a known theta (R ignores ``dir`` there; later versions warn).
* ``change="epi"`` ignores ``dir`` and has no ``ret="cases"`` in R (R fails with "replacement has length
  zero"); we raise ``ValueError`` for ``dir="dec"`` or ``ret="cases"`` with ``change="epi"``, and for
  ``theta`` with ``change="epi"`` (R ignores it).
* ``mu0_refit=True``: R fails when the last evaluated period alarms (it refits on an empty range); we
  simply stop.
* ``glrnb`` with a given ``mu0`` needs ``alpha`` (R fails with "argument is of length zero").
* The negative binomial ``ret="cases"`` search evaluates the statistic only at the period searched (R
  reruns the whole chart; earlier periods are unchanged, so the result is the same) and, for
  ``dir="dec"``, returns 1e99 at once for periods without an alarm (a larger count cannot raise a
  decrease statistic; R climbs to ``x_max`` to find that out).
* ``M`` is called ``m`` (``--m``) and ``Mtilde`` ``mtilde``; ``c.ARL`` is ``c_arl``; ``xMax`` is ``x_max``.

References
----------
Höhle M, Paul M (2008). Count data regression charts for the monitoring of surveillance time series.
*Computational Statistics & Data Analysis* 52(9):4357-4368.

Lai TL (1995). Sequential changepoint detection in quality control and dynamical systems. *Journal of the
Royal Statistical Society, Series B* 57(4):613-658.

Held L, Höhle M, Hofmann M (2005). A statistical framework for the analysis of multivariate infectious
disease surveillance counts. *Statistical Modelling* 5(3):187-199.

Salmon M, Schumacher D, Höhle M (2016). Monitoring count time series in R: aberration detection in public
health surveillance. *Journal of Statistical Software* 70(10):1-35.  (R: ``surveillance::algo.glrnb``,
``algo.glrpois``, package version 1.20.3.)
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhnet.surveillance import _glr_glm as glm
from dhnet.surveillance._control import float_in, int_at_least, one_of, require
from dhnet.surveillance.registry import MethodSpec, register
from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import FloatArray, Panel, SeriesError, evaluation_indices

__all__ = ["GlrNbControl", "GlrPoisControl", "glrnb", "glrpois", "run_glrnb", "run_glrpois"]

Change = Literal["intercept", "epi"]
Direction = Literal["inc", "dec"]
Return = Literal["value", "cases"]


@dataclass(frozen=True)
class _GlrControl:
    """Settings shared by ``glrpois`` and ``glrnb`` (R: the ``control`` list of ``algo.glrnb``)."""

    # Alarm threshold for the GLR statistic (> 0). R: c.ARL.
    c_arl: float = 5.0
    # A constant in-control mean (> 0), or None to estimate it from the training periods. R: mu0.
    mu0: float | None = None
    # Number of harmonics (sin/cos pairs) of the in-control model (>= 0). R: mu0$S.
    mu0_s: int = 1
    # Whether the in-control model has a linear time trend. R: mu0$trend.
    mu0_trend: bool = False
    # Refit the in-control model after every alarm on all periods up to the restart. R: mu0$refit.
    mu0_refit: bool = False
    # Kind of change: "intercept" (mu0 * exp(kappa)) or "epi" (mu0 + exp(theta) * x_{t-1}). R: change.
    change: Change = "intercept"
    # Known change on the log scale (> 0) for a likelihood-ratio CUSUM, or None to estimate it (GLR).
    # R: theta.
    theta: float | None = None
    # Direction of the change to detect: "inc" (increase) or "dec" (decrease). R: dir.
    dir: Direction = "inc"
    # What R returns as upperbound: "value" (the statistic) or "cases" (cases needed for an alarm). R: ret.
    ret: Return = "value"
    # Largest lag k back from n of the GLR maximisation; -1 means all periods of the current run. R: M.
    m: int = -1
    # Smallest number of periods used to estimate the change (>= 1). R: Mtilde.
    mtilde: int = 1

    def __post_init__(self) -> None:
        float_in("c_arl", self.c_arl, 0.0, math.inf, lo_open=True, hi_open=True)
        if self.mu0 is not None:
            float_in("mu0", self.mu0, 0.0, math.inf, lo_open=True, hi_open=True)
        int_at_least("mu0_s", self.mu0_s, 0)
        require(isinstance(self.mu0_trend, bool), "mu0_trend", self.mu0_trend, "must be true or false")
        require(isinstance(self.mu0_refit, bool), "mu0_refit", self.mu0_refit, "must be true or false")
        one_of("change", self.change, ("intercept", "epi"))
        one_of("dir", self.dir, ("inc", "dec"))
        one_of("ret", self.ret, ("value", "cases"))
        int_at_least("mtilde", self.mtilde, 1)
        require(
            isinstance(self.m, int) and not isinstance(self.m, bool) and (self.m == -1 or self.m >= self.mtilde),
            "m",
            self.m,
            f"must be -1 (no window) or an integer >= mtilde ({self.mtilde})",
        )
        if self.theta is not None:
            float_in("theta", self.theta, 0.0, math.inf, lo_open=True, hi_open=True)
            require(self.change == "intercept", "theta", self.theta, "is only used with change='intercept'")
            require(self.dir == "inc", "dir", self.dir, "must be 'inc' with a known theta (R ignores dir there)")
        if self.change == "epi":
            require(self.dir == "inc", "dir", self.dir, "must be 'inc' with change='epi' (R ignores dir there)")
            require(self.ret == "value", "ret", self.ret, "must be 'value' with change='epi' (R fails otherwise)")

    @property
    def n_coefficients(self) -> int:
        """Number of coefficients of the in-control model."""
        return 1 + int(self.mu0_trend) + 2 * self.mu0_s


@dataclass(frozen=True)
class GlrPoisControl(_GlrControl):
    """Settings of the Poisson GLR detector (R: ``algo.glrpois``; ``alpha`` is 0)."""


@dataclass(frozen=True)
class GlrNbControl(_GlrControl):
    """Settings of the negative binomial GLR detector (R: ``algo.glrnb``)."""

    # Dispersion (Var = mu + alpha * mu^2, >= 0; 0 gives the Poisson charts), or None to estimate it with
    # MASS::glm.nb on the training periods (needs mu0=None). R: alpha.
    alpha: float | None = None
    # Largest count tried by the search of ret="cases" for the NB GLR chart (>= 1). R: xMax.
    x_max: int = 10_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha is not None:
            float_in("alpha", self.alpha, 0.0, math.inf, hi_open=True)
        elif self.mu0 is not None:
            require(False, "alpha", self.alpha, "must be given when mu0 is given (R cannot estimate it then)")
        int_at_least("x_max", self.x_max, 1)


def _check_indices(panel: Panel, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    out = np.asarray(idx, dtype=np.intp)
    if out.ndim != 1 or out.size == 0:
        raise SeriesError("the periods to evaluate must be a non-empty 1-D index array")
    if out[0] < 0 or out[-1] >= panel.n_periods:
        raise SeriesError(f"period indices must lie in [0, {panel.n_periods - 1}]")
    if bool(np.any(np.diff(out) != 1)):
        raise SeriesError("the GLR detectors evaluate consecutive periods (a contiguous index range)")
    return out


def _kind(control: _GlrControl, alpha_zero: bool) -> int:
    """The C routine ``algo.glrnb`` dispatches to."""
    from dhnet.surveillance import _glr_kernels as kern  # numba: imported when a detector runs

    if control.change == "epi":
        return kern.K_GLR_EPI if alpha_zero else kern.K_GLR_NB_EPI
    if control.theta is not None:
        return kern.K_LR_POIS if alpha_zero else kern.K_LR_NB
    if alpha_zero:
        return kern.K_GLR_POIS_WINDOW if control.m > 0 else kern.K_GLR_POIS
    return kern.K_GLR_NB


def _fit(
    y: FloatArray, x_train: FloatArray, alpha: float | None, estimate_alpha: bool
) -> tuple[FloatArray, FloatArray]:
    """Coefficients ``(k, p)`` and dispersion ``(k,)`` of the in-control model (NaN where it fails)."""
    k = y.shape[0]
    if estimate_alpha:
        coef, theta = glm.glm_nb(x_train, y)
        with np.errstate(divide="ignore"):
            return coef, 1.0 / theta
    assert alpha is not None
    if alpha == 0:
        coef, _ = glm.glm_fit(x_train, y)
    else:
        coef, _ = glm.glm_fit(x_train, y, theta=np.full(k, 1.0 / alpha))
    return coef, np.full(k, float(alpha))


def _run(
    method: str,
    panel: Panel,
    control: _GlrControl,
    idx: NDArray[np.intp],
    alpha: float | None,
    x_max: int,
    mu0_values: ArrayLike | None = None,
) -> DetectionResult:
    idx = _check_indices(panel, idx)
    n, m = panel.n_series, int(idx.size)
    first = int(idx[0])
    x = np.ascontiguousarray(panel.counts[:, idx])
    estimate = mu0_values is None and control.mu0 is None
    estimate_alpha = alpha is None
    freq = panel.freq.periods_per_year
    refit = estimate and control.mu0_refit

    if estimate:
        need = control.n_coefficients + 1
        if first < need:
            raise SeriesError(
                f"{method} estimates the in-control mean from the periods before the first evaluated one and "
                f"needs at least {need} of them (mu0_s={control.mu0_s}, mu0_trend={control.mu0_trend}); "
                f"{first} available",
                period=str(panel.dates[first]),
            )
        y_train = panel.counts[:, :first]
        x_train = glm.design(np.arange(1, first + 1, dtype=np.float64), control.mu0_s, control.mu0_trend, freq)
        coef, alphas = _fit(y_train, x_train, alpha, estimate_alpha)
        all_zero = ~(y_train > 0).any(axis=1)
        coef[all_zero] = np.nan
        alphas[all_zero] = np.nan
        x_eval = glm.design(
            np.arange(first + 1, first + m + 1, dtype=np.float64), control.mu0_s, control.mu0_trend, freq
        )
        mu0 = glm.predict(x_eval, coef)
    else:
        if mu0_values is not None:
            arr = np.asarray(mu0_values, dtype=np.float64)
            if arr.ndim == 1:
                arr = np.broadcast_to(arr, (n, arr.shape[0]))
            if arr.shape != (n, m):
                raise ValueError(f"mu0: expected shape ({m},) or ({n}, {m}), got {np.asarray(mu0_values).shape}")
            if not bool(np.all(np.isfinite(arr) & (arr > 0))):
                raise ValueError("mu0: the in-control means must be positive and finite")
            mu0 = np.array(arr, dtype=np.float64)
        else:
            mu0 = np.full((n, m), float(control.mu0))  # type: ignore[arg-type]
        if alpha is None:
            raise ValueError("alpha: must be given when mu0 is given (R cannot estimate it then)")
        alphas = np.full(n, float(alpha))

    alpha_zero = alpha is not None and alpha == 0
    kind = _kind(control, alpha_zero)
    theta = float(control.theta) if control.theta is not None else math.nan
    d = 1 if control.dir == "inc" else -1
    ret = 2 if control.ret == "cases" else 1
    mu0 = np.ascontiguousarray(mu0)
    upperbound = np.full((n, m), np.nan)
    score = np.full((n, m), np.nan)
    alarm = np.zeros((n, m), dtype=bool)
    args = (float(control.c_arl), int(control.m), int(control.mtilde), d, ret, int(x_max))
    ok = np.isfinite(alphas) & np.all(np.isfinite(mu0) & (mu0 > 0), axis=1)
    mu0[~ok] = np.nan
    if refit:
        for r in np.nonzero(ok)[0]:
            _run_refit(
                kind, x[r], mu0[r], float(alphas[r]), theta, args, first, control, freq, panel.counts[r],
                upperbound[r], score[r], alarm[r],
            )  # fmt: skip
    else:
        rows = np.nonzero(ok)[0]
        if rows.size:
            from dhnet.surveillance import _glr_kernels as kern

            ub, sc, al = np.zeros((rows.size, m)), np.zeros((rows.size, m)), np.zeros((rows.size, m), dtype=bool)
            kern.run_panel(kind, x[rows], mu0[rows], alphas[rows].copy(), theta, *args, ub, sc, al)
            upperbound[rows], score[rows], alarm[rows] = ub, sc, al
    extra: dict[str, NDArray[Any]] = {}
    if method == "glrnb":
        extra["alpha"] = np.repeat(alphas[:, None], m, axis=1)
    return DetectionResult(
        method=method,
        names=panel.names,
        dates=panel.dates[idx],
        observed=x.copy(),
        expected=mu0,
        upperbound=upperbound,
        alarm=alarm,
        score=score,
        extra=extra,
    )


def _run_refit(
    kind: int,
    x: FloatArray,
    mu0: FloatArray,
    alpha: float,
    theta: float,
    args: tuple[float, int, int, int, int, int],
    first: int,
    control: _GlrControl,
    freq: int,
    history: FloatArray,
    upperbound: FloatArray,
    score: FloatArray,
    alarm: NDArray[np.bool_],
) -> None:
    """R's restart loop with ``mu0$refit = TRUE`` for one series (``mu0`` is updated in place)."""
    from dhnet.surveillance import _glr_kernels as kern

    c_arl, m, mtilde, d, ret, x_max = args
    total = x.shape[0]
    done = 0
    xm10 = 0.0
    valid = total
    while done < total:
        xs = x[done:].copy()
        ms = np.ascontiguousarray(mu0[done:])
        lx = total - done
        val, cases = np.zeros(lx), np.zeros(lx)
        big_n = int(kern.segment(kind, xs, ms, alpha, theta, c_arl, m, mtilde, d, ret, x_max, xm10, val, cases))
        upto = min(big_n, lx)
        score[done : done + upto] = val[:upto]
        upperbound[done : done + upto] = (cases if ret == 2 else val)[:upto]
        if big_n <= lx:
            alarm[done + big_n - 1] = True
            xm10 = float(xs[big_n - 1])
            rest = done + big_n
            if rest < total:
                n_train = first + rest
                x_train = glm.design(
                    np.arange(1, n_train + 1, dtype=np.float64), control.mu0_s, control.mu0_trend, freq
                )
                coef, _ = _fit(history[None, :n_train], x_train, alpha, False)
                x_new = glm.design(
                    np.arange(n_train + 1, first + total + 1, dtype=np.float64), control.mu0_s, control.mu0_trend, freq
                )
                mu0[rest:] = glm.predict(x_new, coef)[0]
                if not np.all(np.isfinite(mu0[rest:])):  # the refit failed: the rest is missing
                    mu0[rest:] = np.nan
                    valid = rest
                    break
        done += big_n
    for arr in (upperbound[:valid], score[:valid]):
        arr[~(arr >= 0.0)] = 0.0  # R: NA and negative values become 0


def run_glrpois(panel: Panel, control: GlrPoisControl, idx: NDArray[np.intp]) -> DetectionResult:
    """Poisson GLR detector on the periods ``idx`` (R: ``algo.glrpois`` with ``range`` = ``idx + 1``)."""
    return _run("glrpois", panel, control, idx, 0.0, 10_000)


def run_glrnb(panel: Panel, control: GlrNbControl, idx: NDArray[np.intp]) -> DetectionResult:
    """Negative binomial GLR detector on the periods ``idx`` (R: ``algo.glrnb`` with ``range`` = ``idx + 1``)."""
    return _run("glrnb", panel, control, idx, control.alpha, control.x_max)


def _default_start(panel: Panel, control: _GlrControl, start: Any) -> Any:
    if start is not None:
        return start
    if control.mu0 is not None:
        return None
    need = control.n_coefficients + 1
    if panel.n_periods <= need:
        raise SeriesError(f"the panel has {panel.n_periods} periods; estimating mu0 needs more than {need}")
    return panel.dates[need]


def glrpois(
    panel: Panel,
    control: GlrPoisControl | None = None,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
    mu0: ArrayLike | None = None,
) -> DetectionResult:
    """Poisson GLR detector on ``panel`` for the periods ``start``..``end`` (inclusive).

    ``mu0`` optionally gives the in-control means of the evaluated periods (shape ``(m,)`` or
    ``(n_series, m)``; R's vector ``mu0``).  ``start=None`` means the first period with enough training
    periods before it (``mu0_s``/``mu0_trend``), or the first period when ``mu0`` is given.
    """
    ctl = control if control is not None else GlrPoisControl()
    ctl_start = start if mu0 is not None else _default_start(panel, ctl, start)
    idx = evaluation_indices(panel, ctl_start, end)
    return _run("glrpois", panel, ctl, idx, 0.0, 10_000, mu0)


def glrnb(
    panel: Panel,
    control: GlrNbControl | None = None,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
    mu0: ArrayLike | None = None,
) -> DetectionResult:
    """Negative binomial GLR detector on ``panel`` for the periods ``start``..``end`` (inclusive).

    ``mu0`` as for :func:`glrpois` (then ``control.alpha`` must be given).
    """
    ctl = control if control is not None else GlrNbControl()
    ctl_start = start if mu0 is not None else _default_start(panel, ctl, start)
    idx = evaluation_indices(panel, ctl_start, end)
    return _run("glrnb", panel, ctl, idx, ctl.alpha, ctl.x_max, mu0)


register(
    MethodSpec(
        name="glrpois",
        control_type=GlrPoisControl,
        run=run_glrpois,
        summary="Poisson GLR/LR CUSUM for an intercept or epidemic change (surveillance::algo.glrpois)",
        presets=None,
    )
)
register(
    MethodSpec(
        name="glrnb",
        control_type=GlrNbControl,
        run=run_glrnb,
        summary="Negative binomial GLR/LR CUSUM for an intercept or epidemic change (surveillance::algo.glrnb)",
        presets=None,
    )
)
