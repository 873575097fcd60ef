"""EARS C1, C2 and C3 (CDC Early Aberration Reporting System), as ``surveillance::earsC``.

The three methods compare the count ``y_t`` of a period with a short sliding
baseline of the ``b`` (``baseline``, default 7) periods just before it:

* **C1** -- reference window ``y_{t-b} .. y_{t-1}``;
* **C2** -- the same window shifted by a two-period guard band,
  ``y_{t-b-2} .. y_{t-3}``;
* **C3** -- built on C2: it needs the C2 statistic of ``t``, ``t-1`` and ``t-2``,
  i.e. the periods ``y_{t-b-4} .. y_{t-3}``.

With ``ybar_t`` the mean and ``sd_t`` the standard deviation (denominator
``b - 1``, as R's ``sd``) of the window and ``s_t = max(sd_t, min_sigma)``:

* C1/C2: ``upperbound_t = ybar_t + z * s_t`` with ``z = qnorm(1 - alpha)``;
  ``alarm_t = y_t > upperbound_t``.
* C3: with ``C2_i = (y_i - ybar_i) / s_i`` (C2 windows) and the lagged sum
  ``L_t = max(0, C2_{t-2} - 1) + max(0, C2_{t-1} - 1)``, R 1.20.3 computes
  ``upperbound_t = max(0, y_t + s_t * (z - L_t))`` and
  ``alarm_t = y_t > upperbound_t``.  This follows R's *code*, which adds the
  observed count ``y_t`` where R's help page (and Hutwagner et al.) write the
  baseline mean; the consequence -- also in R -- is that a C3 alarm does not
  depend on the current count except through ``y_t > 0``: it fires when
  ``s_t > 0``, ``y_t > 0`` and ``L_t > z``.  We keep R's behaviour for parity.

Outputs (:class:`~dhnet.surveillance.result.DetectionResult`):

``expected``
    ``ybar_t``, the mean of the reference window (C1 window for C1, C2 window
    for C2 and C3).  R's ``earsC`` does not return it; it is the mean it uses.
``upperbound``, ``alarm``
    As R's ``upperbound`` and ``alarm`` slots.
``score``
    C1/C2: the C1/C2 statistic ``(y_t - ybar_t) / s_t``; so ``alarm`` iff
    ``score > z`` (up to rounding at equality).  C3: the C3 statistic of R's
    help page and Hutwagner et al. (2003),
    ``C3_t = max(0, C2_t - 1) + L_t``.  Note that because of R's upper bound
    formula above, a C3 alarm is *not* the same as ``score > z``.
``pvalue``
    ``None``: EARS defines no p-value (R gives none).

Missing values (zero spread).  When the reference window is constant and
``min_sigma == 0`` (``s_t == 0``), R -- and this module -- give:

* C1/C2: ``upperbound = ybar_t`` (finite), ``alarm = y_t > ybar_t``;
  ``score`` follows IEEE division: ``+inf`` if ``y_t > ybar_t`` (an alarm),
  ``-inf`` if below, ``NaN`` if equal.
* C3: the C2 statistics of the constant windows are ``0/0 = NaN`` or
  ``+-inf``; then ``upperbound`` is ``NaN`` where R gives ``NaN`` (R's alarm
  is ``NA``; ours is ``False``) and ``score`` is ``NaN`` or ``+inf``
  accordingly.  Use ``min_sigma > 0`` (Burkom suggests 0.5 or 1 for sparse
  data) to get finite thresholds on all-zero stretches.

Deliberate differences from R:

* R's C3 fails when the monitored range has a single period ("number of items
  to replace is not a multiple of replacement length", because
  ``refVals[3:length(C2), ]`` drops to a vector).  Here every period is
  computed on its own, so evaluating one period (or any strictly increasing
  set of periods) gives exactly the values that period has in a longer run.
* R's default ``range`` (from ``baseline + 1``, ``+ 3``, ``+ 5``) is what
  :func:`ears` uses when ``start`` is ``None``; :func:`run` evaluates the
  periods it is given and raises :class:`~dhnet.surveillance.series.SeriesError`
  (R: "The vector of observed is too short!") when the first of them has
  fewer than ``baseline`` (C1), ``baseline + 2`` (C2) or ``baseline + 4`` (C3)
  periods before it.
* Alarms that R leaves ``NA`` (upper bound ``NaN``) are ``False``.

References
----------
Hutwagner L, Thompson W, Seeman GM, Treadwell T (2003). The bioterrorism
preparedness and response Early Aberration Reporting System (EARS). *Journal
of Urban Health* 80(2 Suppl 1):i89-i96.

Fricker RD, Hegler BL, Dunfee DA (2008). Comparing syndromic surveillance
detection methods: EARS' versus a CUSUM-based methodology. *Statistics in
Medicine* 27(17):3407-3429.

Salmon M, Schumacher D, Höhle M (2016). Monitoring count time series in R:
aberration detection in public health surveillance. *Journal of Statistical
Software* 70(10):1-35.  (R: ``surveillance::earsC``, package version 1.20.3.)
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance._control import float_in, int_at_least, one_of
from dhnet.surveillance.registry import MethodSpec, register
from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import FloatArray, Panel, SeriesError, evaluation_indices

__all__ = ["EarsControl", "ears", "run"]

Variant = Literal["C1", "C2", "C3"]
_VARIANTS: tuple[Variant, ...] = ("C1", "C2", "C3")


@dataclass(frozen=True)
class EarsControl:
    """Settings of EARS C1/C2/C3 (R: the ``control`` list of ``earsC``)."""

    # Which EARS method: "C1" (MILD), "C2" (MEDIUM) or "C3" (HIGH). R: method.
    variant: Variant = "C1"
    # Number of periods in the sliding reference window (>= 3). R: baseline.
    baseline: int = 7
    # Lower limit for the standard deviation of the window (>= 0); with min_sigma > 0 the
    # threshold of an all-zero window is z * min_sigma instead of 0. R: minSigma.
    min_sigma: float = 0.0
    # One-sided level: the threshold uses qnorm(1 - alpha). None means R's default,
    # 0.001 for C1 and C2, 0.025 for C3. R: alpha.
    alpha: float | None = None

    def __post_init__(self) -> None:
        one_of("variant", self.variant, _VARIANTS)
        int_at_least("baseline", self.baseline, 3)
        float_in("min_sigma", self.min_sigma, 0.0, math.inf)
        if self.alpha is not None:
            float_in("alpha", self.alpha, 0.0, 1.0, lo_open=True, hi_open=True)

    @property
    def effective_alpha(self) -> float:
        """``alpha``, or R's default for the variant when ``alpha`` is ``None``."""
        if self.alpha is not None:
            return float(self.alpha)
        return 0.025 if self.variant == "C3" else 0.001

    @property
    def max_lag(self) -> int:
        """Periods of history needed before an evaluated period (R's ``maxLag``)."""
        return self.baseline + {"C1": 0, "C2": 2, "C3": 4}[self.variant]


def _check_indices(panel: Panel, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    out = np.asarray(idx, dtype=np.intp)
    if out.ndim != 1 or out.size == 0:
        raise SeriesError("the periods to evaluate must be a non-empty 1-D index array")
    if out[0] < 0 or out[-1] >= panel.n_periods:
        raise SeriesError(f"period indices must lie in [0, {panel.n_periods - 1}]")
    if out.size > 1 and bool(np.any(np.diff(out) <= 0)):
        raise SeriesError("period indices must be strictly increasing")
    return out


def _window_mean_sd(
    counts: FloatArray, times: NDArray[np.intp], first_lag: int, width: int
) -> tuple[FloatArray, FloatArray]:
    """Mean and sd (ddof=1) of ``counts[:, t - first_lag - width + 1 .. t - first_lag]`` for every ``t``.

    Two passes (mean, then squared deviations) over ``width`` shifted views, as
    R's ``mean``/``sd``; all columns are computed at once, vectorised across
    series.  ``times`` is strictly increasing; a contiguous run uses slices.
    """
    n = counts.shape[0]
    lo, hi = int(times[0]), int(times[-1])
    contiguous = hi - lo + 1 == times.size

    def shifted(lag: int) -> FloatArray:
        if contiguous:
            return counts[:, lo - lag : hi - lag + 1]
        return counts[:, times - lag]

    total = np.zeros((n, times.size))
    for j in range(width):
        total += shifted(first_lag + j)
    mean = total / width
    ss = np.zeros_like(mean)
    for j in range(width):
        dev = shifted(first_lag + j) - mean
        ss += dev * dev
    sd = np.sqrt(ss / (width - 1))
    return mean, sd


def run(panel: Panel, control: EarsControl, idx: NDArray[np.intp]) -> DetectionResult:
    """Evaluate EARS on the periods ``idx`` of every series of ``panel`` (R: ``range`` = ``idx + 1``)."""
    idx = _check_indices(panel, idx)
    first = int(idx[0])
    if first < control.max_lag:
        raise SeriesError(
            f"EARS {control.variant} with baseline {control.baseline} needs {control.max_lag} periods of "
            f"history before the first evaluated period, which has {first}",
            period=str(panel.dates[first]),
        )
    counts = panel.counts
    # R's qnorm and NormalDist.inv_cdf are both Wichura's AS 241: identical quantiles.
    z = NormalDist().inv_cdf(1.0 - control.effective_alpha)
    min_sigma = float(control.min_sigma)
    b = control.baseline
    y = counts[:, idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        if control.variant in ("C1", "C2"):
            lag = 1 if control.variant == "C1" else 3
            mean, sd = _window_mean_sd(counts, idx, lag, b)
            sigma = np.maximum(sd, min_sigma)
            upper = mean + z * sigma
            score = (y - mean) / sigma
        else:
            # C2 statistics at t-2, t-1 and t for every evaluated t.
            times = np.unique(np.concatenate([idx - 2, idx - 1, idx]))
            mean_all, sd_all = _window_mean_sd(counts, times, 3, b)
            sigma_all = np.maximum(sd_all, min_sigma)
            c2_all = (counts[:, times] - mean_all) / sigma_all
            pos = np.searchsorted(times, idx)
            excess = np.maximum(0.0, c2_all - 1.0)
            lagged = excess[:, pos - 2] + excess[:, pos - 1]
            mean = mean_all[:, pos]
            sigma = sigma_all[:, pos]
            upper = np.maximum(0.0, y + sigma * (z - lagged))
            score = excess[:, pos] + lagged
    alarm = y > upper
    return DetectionResult(
        method="ears",
        names=panel.names,
        dates=panel.dates[idx],
        observed=y.copy(),
        expected=mean,
        upperbound=upper,
        alarm=alarm,
        score=score,
    )


def ears(
    panel: Panel,
    control: EarsControl | None = None,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
) -> DetectionResult:
    """EARS C1/C2/C3 on ``panel`` for the periods ``start``..``end`` (inclusive).

    ``start=None`` means R's default range: the first period with enough
    history (index ``baseline``, ``baseline + 2`` or ``baseline + 4``).
    """
    ctl = control if control is not None else EarsControl()
    if start is None:
        if panel.n_periods <= ctl.max_lag:
            raise SeriesError(
                f"EARS {ctl.variant} with baseline {ctl.baseline} needs more than {ctl.max_lag} periods, "
                f"the panel has {panel.n_periods}"
            )
        start = panel.dates[ctl.max_lag]
    return run(panel, ctl, evaluation_indices(panel, start, end))


register(
    MethodSpec(
        name="ears",
        control_type=EarsControl,
        run=run,
        summary="EARS C1/C2/C3: sliding-baseline Shewhart-type thresholds (surveillance::earsC)",
        presets=None,
    )
)
