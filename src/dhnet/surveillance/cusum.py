"""Approximate Poisson CUSUM (Rossi et al. 1999), as ``surveillance::algo.cusum`` / ``surveillance::cusum``.

For the evaluated periods ``t_1 < t_2 < ...`` (R's ``range``) the counts
``x_t`` are standardised with an expected count ``m_t`` and accumulated::

    C_0 = 0,   C_j = max(0, C_{j-1} + z(x_{t_j}, m_{t_j}) - k),   alarm_j = C_j >= h

(no reset after an alarm: alarms continue until ``C`` falls below ``h``).

History (training range).  R's ``algo.cusum`` takes ``control$range`` (the
monitored periods) and uses *all periods before the first one*,
``observed[1:(range[1] - 1)]``, as the reference ("training") data:

* ``m = None`` (R ``m = NULL``): ``m`` is the mean of those counts, one value
  for the whole range;
* ``m = "glm"``: a Poisson GLM ``log m_t = a + b cos(2 pi t / p) + c sin(2 pi t / p)``
  (``p`` = periods per year, 52/12/365) is fitted to those counts by IRLS
  with R's ``glm.fit`` starting values (``y + 0.1``) and stopping rule
  (relative deviance change ``< 1e-8``, at most 25 iterations) and predicted
  for every evaluated period.  R indexes ``t`` from the ``sts`` object's
  ``start``; a harmonic with both ``cos`` and ``sin`` is invariant to that
  origin, so we use the row position in the panel;
* ``m = <number>``: that expected count for every period.

Here ``idx`` (the periods evaluated by :func:`run`) is R's ``range`` minus one:
the history is ``panel.counts[:, :idx[0]]`` and the CUSUM runs over the
``idx`` periods in order (gaps allowed, as in R).

Transformations ``z(x, m)`` (``trans``) and upper bounds, exactly as R 1.20.3:

==================  =============================================  ==============================================
``trans``           ``z(x, m)``                                    ``upperbound`` (with ``C = C_{j-1}``)
==================  =============================================  ==============================================
``standard``        ``(x - m) / sqrt(m)``                          ``ceiling(sqrt(m) (h + k - C) + m)``
``rossi``           ``(x - 3m + 2 sqrt(x m)) / (2 sqrt(m))``       ``2h sqrt(m) + 2k sqrt(m) - 2C sqrt(m) + 5m
                                                                   - 2 sqrt(4m^2 + 2m^1.5 (h + k - C))``
``anscombe``        ``3/2 (x^(2/3) - m^(2/3)) / m^(1/6)``          ``(2/3 m^(1/6) (h + k - C) + m^(2/3))^(3/2)``
``anscombe2nd``     ``(x^(2/3) - (m^(2/3) - m^(-1/3)/9))``         ``(2/3 m^(1/6) (h + k - C)
                    ``/ (2/3 m^(1/6))``                            + (m^(2/3) - m^(1/3)/9))^(3/2)``
``pearsonNegBin``   ``(x - m) / sqrt(m + alpha m^2)``              ``sqrt(m + alpha m^2) (h + k - C) + m``
``none``            ``x``                                          ``h - C_j``
==================  =============================================  ==============================================

The upper bound is "the number of cases it would have taken the CUSUM to
signal" (R's help); R sets negative and ``NaN`` bounds to 0 (any count would
signal), and so do we -- with the exception below.  Note two quirks of R kept
for parity: ``anscombe2nd`` uses ``m^(-1/3)`` in the transformation but
``m^(1/3)`` in the bound, and ``none`` reports ``h - C_j`` (not a count).

Outputs: ``expected`` = ``m_t``; ``score`` = the CUSUM statistic ``C_j``;
``alarm`` = ``C_j >= h``; ``upperbound`` as above; ``pvalue`` = ``None``.

Missing values.  An expected count of 0 (all-zero history with ``m = None``)
makes ``z`` infinite (``x > 0``: the CUSUM becomes ``+inf`` and alarms, as in
R) or ``0/0 = NaN`` (``x = 0``), after which the statistic stays ``NaN``.  Where
``C_j`` is ``NaN`` R reports ``alarm = NA`` and upper bound 0; we report
``alarm = False``, ``score = NaN`` and ``upperbound = NaN``.

Deliberate differences from R:

* ``upperbound`` is ``NaN`` (not 0) where the CUSUM statistic is ``NaN``; see above.
* ``trans = "anscombeNegBin"`` is not offered (R's version looks the
  hypergeometric function up in a packaged table).
* A numeric ``m`` must be a positive number (R accepts any number or a vector
  of ``length(range)``).
* ``m = None`` needs at least one period of history and ``m = "glm"`` at least
  three (the GLM has three coefficients); otherwise
  :class:`~dhnet.surveillance.series.SeriesError`.  (R with ``range[1] = 1``
  silently uses ``observed[1:0]``, i.e. the first count.)
* The GLM is fitted by our own IRLS (normal equations, not R's QR), so
  expected values agree with R to about 1e-12 relative.

References
----------
Rossi G, Lampugnani L, Marchi M (1999). An approximate CUSUM procedure for
surveillance of health events. *Statistics in Medicine* 18(16):2111-2122.

Pierce DA, Schafer DW (1986). Residuals in generalized linear models.
*Journal of the American Statistical Association* 81(396):977-986.

Höhle M (2007). surveillance: An R package for the monitoring of infectious
diseases. *Computational Statistics* 22(4):571-582.  (R:
``surveillance::algo.cusum``, ``surveillance::cusum``, package version 1.20.3.)
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance._control import float_in, one_of, require
from dhnet.surveillance.registry import MethodSpec, register
from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import FloatArray, Panel, SeriesError, evaluation_indices

__all__ = ["CusumControl", "cusum", "run"]

Trans = Literal["standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin", "none"]
_TRANS: tuple[Trans, ...] = ("standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin", "none")

# R's glm.control() defaults
_GLM_EPSILON = 1e-8
_GLM_MAXIT = 25


@dataclass(frozen=True)
class CusumControl:
    """Settings of the approximate Poisson CUSUM (R: the ``control`` list of ``algo.cusum``)."""

    # Reference value subtracted from each standardised count. R: k.
    k: float = 1.04
    # Decision boundary: alarm when the CUSUM is >= h (h > 0). R: h.
    h: float = 2.26
    # Expected count: None = mean of all periods before the first evaluated one (R: m = NULL),
    # "glm" = Poisson GLM with one yearly harmonic fitted to those periods, or a positive number. R: m.
    m: float | Literal["glm"] | None = None
    # Transformation of the counts: "standard", "rossi", "anscombe", "anscombe2nd",
    # "pearsonNegBin" or "none". R: trans.
    trans: Trans = "standard"
    # Negative binomial dispersion (variance m + alpha m^2), used by "pearsonNegBin" only.
    # R: alpha (NULL means 0.1).
    alpha: float = 0.1

    def __post_init__(self) -> None:
        float_in("k", self.k, -math.inf, math.inf)
        float_in("h", self.h, 0.0, math.inf, lo_open=True)
        m = self.m
        if isinstance(m, str) and m != "glm":
            try:
                m = float(m)
            except ValueError:
                require(False, "m", self.m, "must be 'glm', a positive number or unset")
            object.__setattr__(self, "m", m)
        if m is not None and m != "glm":
            float_in("m", m, 0.0, math.inf, lo_open=True)
        one_of("trans", self.trans, _TRANS)
        float_in("alpha", self.alpha, 0.0, math.inf)

    def history_needed(self) -> int:
        """Periods of history needed before the first evaluated period."""
        if self.m is None:
            return 1
        return 3 if self.m == "glm" else 0


def _check_indices(panel: Panel, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    out = np.asarray(idx, dtype=np.intp)
    if out.ndim != 1 or out.size == 0:
        raise SeriesError("the periods to evaluate must be a non-empty 1-D index array")
    if out[0] < 0 or out[-1] >= panel.n_periods:
        raise SeriesError(f"period indices must lie in [0, {panel.n_periods - 1}]")
    if out.size > 1 and bool(np.any(np.diff(out) <= 0)):
        raise SeriesError("period indices must be strictly increasing")
    return out


def _harmonic_design(t: FloatArray, period: int) -> FloatArray:
    omega = 2 * np.pi / period  # evaluated as R's 2 * pi/p * t
    return np.column_stack([np.ones_like(t), np.cos(omega * t), np.sin(omega * t)])


def _linkinv(eta: FloatArray) -> FloatArray:
    """Inverse log link as R's ``make.link("log")``: ``pmax(exp(eta), .Machine$double.eps)``."""
    return np.asarray(np.maximum(np.exp(eta), np.finfo(np.float64).eps), dtype=np.float64)


def poisson_harmonic_glm(y: FloatArray, t_train: FloatArray, t_new: FloatArray, period: int) -> FloatArray:
    """Fitted means at ``t_new`` of ``glm(y ~ 1 + cos(2 pi t / p) + sin(2 pi t / p), family = poisson())``.

    ``y`` is ``(n, T)`` (one fit per row, all at once).  IRLS as R's
    ``glm.fit``: start ``mu = y + 0.1``, weights ``mu``, working response
    ``eta + (y - mu) / mu``, stop when ``|dev - dev_old| / (|dev| + 0.1) < 1e-8``
    or after 25 iterations; each row stops on its own.
    """
    x = _harmonic_design(t_train, period)  # (T, 3)
    x_new = _harmonic_design(t_new, period)
    xx = (x[:, :, None] * x[:, None, :]).reshape(x.shape[0], 9)  # row t: outer(x_t, x_t)
    n = y.shape[0]

    def deviance(yy: FloatArray, mu: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogy = np.where(yy > 0, yy * np.log(yy / mu), 0.0)
        return np.asarray(2.0 * np.sum(ylogy - (yy - mu), axis=1), dtype=np.float64)

    eta = np.log(y + 0.1)
    mu = _linkinv(eta)
    dev_old = deviance(y, mu)
    beta = np.zeros((n, 3))
    active = np.ones(n, dtype=bool)
    for _ in range(_GLM_MAXIT):
        rows = np.nonzero(active)[0]
        if rows.size == 0:
            break
        mu_a, eta_a = mu[rows], eta[rows]
        zw = eta_a + (y[rows] - mu_a) / mu_a  # working response
        xtwx = (mu_a @ xx).reshape(-1, 3, 3)  # X' W X for every row, as one matrix product
        xtwz = (mu_a * zw) @ x
        b = np.linalg.solve(xtwx, xtwz[:, :, None])[:, :, 0]
        eta_new = b @ x.T
        mu_new = _linkinv(eta_new)
        beta[rows], eta[rows], mu[rows] = b, eta_new, mu_new
        dev = deviance(y[rows], mu_new)
        converged = np.abs(dev - dev_old[rows]) / (np.abs(dev) + 0.1) < _GLM_EPSILON
        dev_old[rows] = dev
        active[rows[converged]] = False
    return _linkinv(beta @ x_new.T)


def _standardise(x: FloatArray, m: FloatArray, trans: Trans, alpha: float) -> FloatArray:
    return np.asarray(_standardise_any(x, m, trans, alpha), dtype=np.float64)


def _standardise_any(x: FloatArray, m: FloatArray, trans: Trans, alpha: float) -> object:
    if trans == "standard":
        return (x - m) / np.sqrt(m)
    if trans == "rossi":
        return (x - 3 * m + 2 * np.sqrt(x * m)) / (2 * np.sqrt(m))
    if trans == "anscombe":
        return 3 / 2 * (x ** (2 / 3) - m ** (2 / 3)) / m ** (1 / 6)
    if trans == "anscombe2nd":
        return (x ** (2 / 3) - (m ** (2 / 3) - m ** (-1 / 3) / 9)) / (2 / 3 * m ** (1 / 6))
    if trans == "pearsonNegBin":
        return (x - m) / np.sqrt(m + alpha * m**2)
    return x.copy()


def _upperbound(m: FloatArray, c_prev: FloatArray, c_now: FloatArray, control: CusumControl) -> FloatArray:
    h, k, trans = float(control.h), float(control.k), control.trans
    if trans == "standard":
        ub = np.ceil(np.sqrt(m) * (h + k - c_prev) + m)
    elif trans == "rossi":
        ub = (
            2 * h * m ** (1 / 2)
            + 2 * k * m ** (1 / 2)
            - 2 * c_prev * m ** (1 / 2)
            + 5 * m
            - 2 * (4 * m**2 + 2 * m ** (3 / 2) * h + 2 * m ** (3 / 2) * k - 2 * m ** (3 / 2) * c_prev) ** (1 / 2)
        )
    elif trans == "anscombe":
        base = (2 / 3) * m ** (1 / 6) * (h + k - c_prev) + m ** (2 / 3)
        ub = np.where(base < 0, 0.0, np.abs(base) ** (3 / 2))
    elif trans == "anscombe2nd":
        base = (2 / 3) * m ** (1 / 6) * (h + k - c_prev) + (m ** (2 / 3) - m ** (1 / 3) / 9)
        ub = np.where(base < 0, 0.0, np.abs(base) ** (3 / 2))
    elif trans == "pearsonNegBin":
        ub = np.sqrt(m + control.alpha * m**2) * (h + k - c_prev) + m
    else:
        ub = h - c_now
    ub = np.where(np.isnan(ub) | (ub < 0), 0.0, ub) + 0.0  # + 0.0 turns ceiling's -0.0 into 0.0
    return np.asarray(ub, dtype=np.float64)


def run(panel: Panel, control: CusumControl, idx: NDArray[np.intp]) -> DetectionResult:
    """CUSUM over the periods ``idx`` of every series (R: ``range`` = ``idx + 1``; history = the periods before)."""
    idx = _check_indices(panel, idx)
    first = int(idx[0])
    need = control.history_needed()
    if first < need:
        what = "the mean of the history (m unset)" if control.m is None else "the GLM (m = 'glm')"
        raise SeriesError(
            f"CUSUM needs {need} period(s) of history before the first evaluated period for {what}, which has {first}",
            period=str(panel.dates[first]),
        )
    counts = panel.counts
    n, n_eval = panel.n_series, idx.size
    x = counts[:, idx]
    if control.m is None:
        m = np.repeat(counts[:, :first].mean(axis=1)[:, None], n_eval, axis=1)
    elif control.m == "glm":
        t_train = np.arange(1, first + 1, dtype=np.float64)
        t_new = (idx + 1).astype(np.float64)
        m = poisson_harmonic_glm(counts[:, :first], t_train, t_new, panel.freq.periods_per_year)
    else:
        m = np.full((n, n_eval), float(control.m))
    k = float(control.k)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = _standardise(x, m, control.trans, float(control.alpha))
        stat = np.empty((n, n_eval))
        c = np.zeros(n)
        for j in range(n_eval):
            c = np.maximum(0.0, c + (z[:, j] - k))  # NaN propagates as R's max(0, NaN)
            stat[:, j] = c
        c_prev = np.concatenate([np.zeros((n, 1)), stat[:, :-1]], axis=1)
        upper = _upperbound(m, c_prev, stat, control)
    missing = np.isnan(stat)
    upper[missing] = np.nan
    alarm = stat >= float(control.h)
    return DetectionResult(
        method="cusum",
        names=panel.names,
        dates=panel.dates[idx],
        observed=x.copy(),
        expected=m,
        upperbound=upper,
        alarm=alarm,
        score=stat,
    )


def cusum(
    panel: Panel,
    control: CusumControl | None = None,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
) -> DetectionResult:
    """CUSUM on ``panel`` for the periods ``start``..``end`` (inclusive); the periods before are the history.

    ``start=None`` means the first period with enough history (index 1 for
    ``m=None``, 3 for ``m="glm"``, 0 for a numeric ``m``).
    """
    ctl = control if control is not None else CusumControl()
    if start is None:
        need = ctl.history_needed()
        if panel.n_periods <= need:
            raise SeriesError(f"CUSUM needs more than {need} period(s), the panel has {panel.n_periods}")
        start = panel.dates[need]
    return run(panel, ctl, evaluation_indices(panel, start, end))


register(
    MethodSpec(
        name="cusum",
        control_type=CusumControl,
        run=run,
        summary="Approximate Poisson CUSUM of Rossi et al. with several transformations (surveillance::algo.cusum)",
        presets=None,
    )
)
