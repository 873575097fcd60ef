"""Outlier detection as DHIS2 does it: z-score, modified z-score and min-max.

DHIS2 (the District Health Information Software 2, University of Oslo) checks stored values of a data
element / organisation unit / category option combination against statistics of that combination's
values.  This module applies the same rules to every period of every series of a panel:

``zscore`` (DHIS2 ``Z_SCORE``)
    ``z = (x - mean) / sd`` with the **population** standard deviation (PostgreSQL ``stddev_pop``);
    an outlier when ``|z| > threshold`` (default 3).  Limits ``mean -+ threshold * sd``.
``modified-zscore`` (DHIS2 ``MOD_Z_SCORE``, Iglewicz and Hoaglin 1993)
    ``z = 0.6745 (x - median) / MAD`` with the median of the values (``percentile_cont(0.5)``: the mean of
    the two middle values for an even count) and ``MAD`` their median absolute deviation from it
    (unscaled); an outlier when ``|z| > threshold`` (default 3).  Limits ``median -+ threshold * MAD /
    0.6745``.
``minmax`` (DHIS2 min-max values)
    DHIS2's "min-max value generation" stores for each combination ``min = round(mean - f * sd)`` and
    ``max = round(mean + f * sd)`` (Java ``Math.round``: halves round up; ``sd`` is ``stddev_pop``; ``f``
    the system setting "factor of deviation", default **2**) with ``min`` raised to 0 for zero-or-positive
    integer data elements (counts); a value is a violation when ``x < min`` or ``x > max``.  Here the
    bounds are generated, for every evaluated period, from the history before it (``include_current``
    false by default: stored bounds predate the value checked against them) and ``threshold`` is ``f``.

Which values make the statistics.  DHIS2 computes them over *all* stored values of the combination --
every period, the value under test and later ones included (the newer analytics-based detection,
2.41+; the older ``/api/outlierDetection`` can restrict them with ``dataStartDate``/``dataEndDate``).
That is a retrospective data-quality review.  A detector that runs period by period should use only
what was known at the time, so the settings are:

``baseline``
    ``None`` (default): all earlier periods of the panel; a number ``k``: the ``k`` periods before.
``include_current``
    Whether the value under test is part of its own statistics, as in DHIS2 (default true for the two
    z-scores, false for ``minmax``).  Note the masking this implies, in DHIS2 as here: with ``n`` values
    in the statistics ``|z| <= sqrt(n - 1)``, so with ``threshold = 3`` no value can be flagged
    unless there are at least 11 values.
``whole_series``
    DHIS2's retrospective rule exactly: statistics over every period of the panel (earlier and later);
    then ``baseline`` must be ``None`` and ``include_current`` true.
``zero_is_significant``
    DHIS2 does not store zeros of data elements whose "zero is significant" flag is off (its default), so
    zeros then neither enter the statistics nor are flagged.  True (default) keeps zeros as values; false
    reproduces DHIS2 for such data elements (a zero count gets a NaN ``score`` and no alarm).

Outputs (:class:`~dhnet.surveillance.result.DetectionResult`): ``expected`` the mean (median for the
modified z-score), ``upperbound`` the upper limit (``max`` for ``minmax``), ``score`` the signed z-score
(modified z-score; ``minmax``: the z-score ``(x - mean) / sd`` of the generation statistics), ``alarm``
as above (both directions: values below the lower limit are outliers too), ``extra["lowerbound"]`` the
lower limit and ``extra["spread"]`` the sd (MAD for the modified z-score).  DHIS2 reports ``|z|``; the
sign here tells high from low.

Missing values: with no value in the statistics everything is NaN; with zero spread (sd or MAD 0, e.g.
an all-zero history) ``score`` is NaN and there is no z-score alarm, as DHIS2 (which sets the z-score to
NaN and flags nothing when the deviation is 0) -- the limits then equal ``expected``.  ``minmax`` with
zero spread stores ``min = max = round(mean)`` and flags every other value, as DHIS2 would.

Deliberate differences from DHIS2: the comparison is strict (``|z| > threshold``) as in the analytics-based
detection of DHIS2 2.41+, where the older ``/api/outlierDetection`` used ``>=``; DHIS2 2.36-2.40 computed its
"modified z-score" with the median but the standard deviation, we use the MAD as DHIS2 2.41+ and Iglewicz
and Hoaglin; DHIS2 rounds reported statistics to 2 decimals, we do not.

References
----------
Iglewicz B, Hoaglin DC (1993). *How to Detect and Handle Outliers*. ASQC Basic References in Quality
Control: Statistical Techniques, vol. 16. ASQC Quality Press.

DHIS2 documentation, "Data Quality" (outlier detection; min-max value generation), University of Oslo,
https://docs.dhis2.org.  Source: ``dhis2-core`` (``ZScoreOutlierDetectionManager``,
``JdbcAnalyticsTableManager``, ``MinMaxOutlierAnalysisService.generateMinMaxValues``).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance._control import float_in, int_at_least, require
from dhnet.surveillance.registry import MethodSpec, register
from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import FloatArray, Panel, SeriesError, evaluation_indices

__all__ = [
    "MinMaxControl",
    "OutlierControl",
    "minmax",
    "modified_zscore",
    "run_minmax",
    "run_modified_zscore",
    "run_zscore",
    "zscore",
]

MAD_FACTOR = 0.6745  # DHIS2's (and Iglewicz and Hoaglin's) scaling of the modified z-score

Statistic = Literal["mean", "median"]


def _check_window(control: Any) -> None:
    if control.baseline is not None:
        int_at_least("baseline", control.baseline, 1)
    require(
        isinstance(control.include_current, bool), "include_current", control.include_current, "must be true or false"
    )
    require(isinstance(control.whole_series, bool), "whole_series", control.whole_series, "must be true or false")
    require(
        isinstance(control.zero_is_significant, bool),
        "zero_is_significant",
        control.zero_is_significant,
        "must be true or false",
    )
    if control.whole_series:
        require(control.baseline is None, "baseline", control.baseline, "must be None with whole-series")
        require(control.include_current, "include_current", control.include_current, "must be true with whole-series")


@dataclass(frozen=True)
class OutlierControl:
    """Settings of the DHIS2 z-score and modified z-score outlier detection."""

    # An outlier when |z| > threshold (> 0). DHIS2: threshold (default 3.0).
    threshold: float = 3.0
    # Number of periods before the evaluated one that make the statistics; None = all earlier periods.
    baseline: int | None = None
    # Whether the evaluated value is part of its own statistics (DHIS2: yes).
    include_current: bool = True
    # DHIS2's retrospective rule: statistics over every period of the panel, later ones included.
    whole_series: bool = False
    # False: zeros are not values (DHIS2 does not store them unless "zero is significant").
    zero_is_significant: bool = True

    def __post_init__(self) -> None:
        float_in("threshold", self.threshold, 0.0, math.inf, lo_open=True, hi_open=True)
        _check_window(self)


@dataclass(frozen=True)
class MinMaxControl:
    """Settings of DHIS2-style min-max bounds generated from history."""

    # Factor of standard deviations of the generated bounds (> 0). dhnet uses 3, like the z-scores, so that one
    # "threshold 3" means the same across the outlier methods; DHIS2's system setting "factorDeviation"
    # defaults to 2.0 (pass threshold=2 to reproduce it).
    threshold: float = 3.0
    # Number of periods before the evaluated one the bounds are generated from; None = all earlier ones.
    baseline: int | None = None
    # Whether the evaluated value is part of the generation (DHIS2 generates bounds beforehand: no).
    include_current: bool = False
    # DHIS2's generation over every stored value: statistics over every period of the panel.
    whole_series: bool = False
    # False: zeros are not values (DHIS2 does not store them unless "zero is significant").
    zero_is_significant: bool = True

    def __post_init__(self) -> None:
        float_in("threshold", self.threshold, 0.0, math.inf, lo_open=True, hi_open=True)
        _check_window(self)


# ---------------------------------------------------------------------------------------------------------------
# Run functions
# ---------------------------------------------------------------------------------------------------------------
def _check_indices(panel: Panel, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    out = np.asarray(idx, dtype=np.intp)
    if out.ndim != 1 or out.size == 0:
        raise SeriesError("the periods to evaluate must be a non-empty 1-D index array")
    if out[0] < 0 or out[-1] >= panel.n_periods:
        raise SeriesError(f"period indices must lie in [0, {panel.n_periods - 1}]")
    if out.size > 1 and bool(np.any(np.diff(out) <= 0)):
        raise SeriesError("period indices must be strictly increasing")
    return out


def _history_needed(control: OutlierControl | MinMaxControl) -> int:
    """Periods needed before the first evaluated one."""
    if control.whole_series:
        return 0
    if control.baseline is not None:
        return int(control.baseline)
    return 0 if control.include_current else 1


def _stats(
    method: str, panel: Panel, control: OutlierControl | MinMaxControl, idx: NDArray[np.intp], median: bool
) -> tuple[NDArray[np.intp], FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    idx = _check_indices(panel, idx)
    need = _history_needed(control)
    if idx[0] < need:
        raise SeriesError(
            f"{method} needs {need} period(s) before the first evaluated one (baseline={control.baseline}, "
            f"include_current={control.include_current}); it has {int(idx[0])}",
            period=str(panel.dates[idx[0]]),
        )
    from dhnet.surveillance._outlier_kernels import window_stats  # numba: imported when a detector runs

    centre, spread, _ = window_stats(
        np.ascontiguousarray(panel.counts),
        idx.astype(np.int64),
        -1 if control.baseline is None else int(control.baseline),
        bool(control.include_current),
        bool(control.whole_series),
        bool(control.zero_is_significant),
        median,
    )
    x = panel.counts[:, idx]
    present = np.ones(x.shape, dtype=bool) if control.zero_is_significant else x != 0
    return idx, x, centre, spread, present


def _z_result(
    method: str, panel: Panel, control: OutlierControl, idx: NDArray[np.intp], modified: bool
) -> DetectionResult:
    idx, x, centre, spread, present = _stats(method, panel, control, idx, modified)
    half_width = spread * control.threshold / MAD_FACTOR if modified else spread * control.threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        score = MAD_FACTOR * (x - centre) / spread if modified else (x - centre) / spread
    score = np.where((spread > 0) & present, score, np.nan)
    alarm = np.abs(score) > control.threshold  # NaN compares False
    return DetectionResult(
        method=method,
        names=panel.names,
        dates=panel.dates[idx],
        observed=x.copy(),
        expected=centre,
        upperbound=centre + half_width,
        alarm=alarm,
        score=score,
        extra={"lowerbound": centre - half_width, "spread": spread},
    )


def run_zscore(panel: Panel, control: OutlierControl, idx: NDArray[np.intp]) -> DetectionResult:
    """DHIS2 z-score outlier detection for the periods ``idx`` of every series."""
    return _z_result("zscore", panel, control, idx, modified=False)


def run_modified_zscore(panel: Panel, control: OutlierControl, idx: NDArray[np.intp]) -> DetectionResult:
    """DHIS2 modified z-score (median/MAD) outlier detection for the periods ``idx`` of every series."""
    return _z_result("modified-zscore", panel, control, idx, modified=True)


def java_round(v: FloatArray) -> FloatArray:
    """Java's ``Math.round`` (halves round towards positive infinity), NaN kept."""
    out: FloatArray = np.floor(v + 0.5)
    return out


def run_minmax(panel: Panel, control: MinMaxControl, idx: NDArray[np.intp]) -> DetectionResult:
    """DHIS2 min-max check against bounds generated from history, for the periods ``idx`` of every series."""
    idx, x, mean, sd, present = _stats("minmax", panel, control, idx, False)
    lower = np.maximum(0.0, java_round(mean - sd * control.threshold))  # counts: min cannot be < 0
    lower = np.where(np.isnan(mean), np.nan, lower)
    upper = java_round(mean + sd * control.threshold)
    alarm = present & ((x < lower) | (x > upper))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where((sd > 0) & present, (x - mean) / sd, np.nan)
    return DetectionResult(
        method="minmax",
        names=panel.names,
        dates=panel.dates[idx],
        observed=x.copy(),
        expected=mean,
        upperbound=upper,
        alarm=alarm,
        score=score,
        extra={"lowerbound": lower, "spread": sd},
    )


# ---------------------------------------------------------------------------------------------------------------
# Friendly functions
# ---------------------------------------------------------------------------------------------------------------
Date = str | _dt.date | np.datetime64 | None


def _indices(panel: Panel, control: OutlierControl | MinMaxControl, start: Date, end: Date) -> NDArray[np.intp]:
    if start is None:
        need = _history_needed(control)
        if panel.n_periods <= need:
            raise SeriesError(f"the panel has {panel.n_periods} periods; the settings need more than {need}")
        start = panel.dates[need]
    return evaluation_indices(panel, start, end)


def zscore(
    panel: Panel, control: OutlierControl | None = None, *, start: Date = None, end: Date = None
) -> DetectionResult:
    """Z-score outliers for ``start``..``end`` (``start=None``: the first period with enough history)."""
    ctl = control if control is not None else OutlierControl()
    return run_zscore(panel, ctl, _indices(panel, ctl, start, end))


def modified_zscore(
    panel: Panel, control: OutlierControl | None = None, *, start: Date = None, end: Date = None
) -> DetectionResult:
    """Modified z-score outliers for ``start``..``end`` (``start=None``: the first period with enough history)."""
    ctl = control if control is not None else OutlierControl()
    return run_modified_zscore(panel, ctl, _indices(panel, ctl, start, end))


def minmax(
    panel: Panel, control: MinMaxControl | None = None, *, start: Date = None, end: Date = None
) -> DetectionResult:
    """Min-max violations for ``start``..``end`` (``start=None``: the first period with enough history)."""
    ctl = control if control is not None else MinMaxControl()
    return run_minmax(panel, ctl, _indices(panel, ctl, start, end))


register(
    MethodSpec(
        name="zscore",
        control_type=OutlierControl,
        run=run_zscore,
        summary="DHIS2 z-score outliers: |x - mean| / sd (population sd) above a threshold",
        presets=None,
    )
)
register(
    MethodSpec(
        name="modified-zscore",
        control_type=OutlierControl,
        run=run_modified_zscore,
        summary="DHIS2 modified z-score outliers: 0.6745 |x - median| / MAD above a threshold",
        presets=None,
    )
)
register(
    MethodSpec(
        name="minmax",
        control_type=MinMaxControl,
        run=run_minmax,
        summary="DHIS2 min-max violations: bounds round(mean -+ factor * sd) generated from history",
        presets=None,
    )
)
