"""Fixed alert and epidemic thresholds as in WHO AFRO's Integrated Disease Surveillance and Response (IDSR).

IDSR sets, per disease, an **alert threshold** (investigate) and an **epidemic threshold** (respond),
either as a number of cases -- for epidemic-prone diseases and diseases targeted for elimination a
single suspected case is an alert (cholera, measles, acute flaccid paralysis, yellow fever, viral
haemorrhagic fevers, ...) -- or as a weekly attack rate per 100,000 population (meningitis in the
meningitis belt: alert at 3, epidemic at 10 suspected cases per 100,000 inhabitants per week for
populations above 30,000; below 30,000: alert at 2 and epidemic at 5 cases in one week).

For every series and evaluated period, with count ``x``, population ``N`` (the panel's) and
``rate = 100000 x / N``:

* **alert** when ``x >= alert_count`` or ``rate >= alert_rate`` (either given threshold);
* **epidemic** when ``x >= epidemic_count`` or ``rate >= epidemic_rate``;
* neither below ``min_count`` cases (a floor for rate thresholds in small populations; the default 1
  only keeps zero counts silent);
* ``extra["level"]``: 0 none, 1 alert, 2 epidemic (``int8``); ``alarm`` is ``level >= 1``.

Thresholds not given are not used; at least one must be given.  Presets (``make_control("threshold",
"meningitis")``): ``single-case`` (alert at 1 case), ``meningitis`` (alert 3, epidemic 10 per 100,000 per
week) and ``meningitis-small-population`` (alert 2, epidemic 5 cases per week).  The rate thresholds are weekly attack
rates: they need a weekly panel with a population (a :class:`~dhnet.surveillance.series.SeriesError`
naming the series otherwise).  Nothing depends on history, so any period can be evaluated.

Outputs (:class:`~dhnet.surveillance.result.DetectionResult`):

``upperbound``
    The count equivalent of the alert threshold: the smallest count ``x`` with an alarm is the smallest
    integer ``>= upperbound``, where ``upperbound = max(min_count, min(alert_count, alert_rate N /
    100000))`` (the epidemic thresholds take the alert's place when no alert threshold is given).  Not
    rounded, so ``alarm == (observed >= upperbound)`` exactly; the decision is made on counts, which avoids
    rounding in the rate comparison.
``extra["epidemic_bound"]``
    The same for the epidemic threshold (NaN when none is given).
``expected``
    NaN: a fixed threshold has no expected value.
``score``
    The attack rate per 100,000 when the panel has a population, else the count.

References
----------
World Health Organization, Regional Office for Africa, and US Centers for Disease Control and Prevention
(2019). *Technical Guidelines for Integrated Disease Surveillance and Response in the African Region*,
third edition. Brazzaville: WHO AFRO.

World Health Organization (2014). *Meningitis outbreak response in sub-Saharan Africa: WHO guideline*.
WHO/HSE/PED/CED/14.5. Geneva: WHO.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance._control import float_in, int_at_least, require
from dhnet.surveillance.registry import MethodSpec, register
from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import FloatArray, Frequency, Panel, SeriesError, evaluation_indices

__all__ = ["PER", "ThresholdControl", "run", "threshold"]

PER = 100_000.0  # rates are per 100,000 population


@dataclass(frozen=True)
class ThresholdControl:
    """Settings of the fixed IDSR alert/epidemic thresholds (give at least one threshold)."""

    # Alert when the count reaches this number of cases (>= 1), e.g. 1 for cholera or measles.
    alert_count: int | None = None
    # Alert when the weekly attack rate per 100,000 population reaches this (> 0).
    alert_rate: float | None = None
    # Epidemic when the count reaches this number of cases (>= 1).
    epidemic_count: int | None = None
    # Epidemic when the weekly attack rate per 100,000 population reaches this (> 0).
    epidemic_rate: float | None = None
    # No alert or epidemic with fewer cases than this (>= 1).
    min_count: int = 1

    def __post_init__(self) -> None:
        if self.alert_count is not None:
            int_at_least("alert_count", self.alert_count, 1)
        if self.epidemic_count is not None:
            int_at_least("epidemic_count", self.epidemic_count, 1)
        if self.alert_rate is not None:
            float_in("alert_rate", self.alert_rate, 0.0, math.inf, lo_open=True, hi_open=True)
        if self.epidemic_rate is not None:
            float_in("epidemic_rate", self.epidemic_rate, 0.0, math.inf, lo_open=True, hi_open=True)
        int_at_least("min_count", self.min_count, 1)
        require(
            any(v is not None for v in (self.alert_count, self.alert_rate, self.epidemic_count, self.epidemic_rate)),
            "alert_count",
            self.alert_count,
            "give at least one of alert-count, alert-rate, epidemic-count, epidemic-rate",
        )
        if self.alert_count is not None and self.epidemic_count is not None:
            require(
                self.epidemic_count >= self.alert_count,
                "epidemic_count",
                self.epidemic_count,
                f"must be >= alert-count ({self.alert_count})",
            )
        if self.alert_rate is not None and self.epidemic_rate is not None:
            require(
                self.epidemic_rate >= self.alert_rate,
                "epidemic_rate",
                self.epidemic_rate,
                f"must be >= alert-rate ({self.alert_rate})",
            )

    @property
    def uses_rates(self) -> bool:
        return self.alert_rate is not None or self.epidemic_rate is not None


def _bound(count: int | None, rate: float | None, population: FloatArray | None, shape: tuple[int, int]) -> FloatArray:
    """Smallest count (not rounded) meeting ``count`` or ``rate``; NaN when neither is given."""
    out = np.full(shape, np.inf)
    if count is not None:
        out = np.minimum(out, float(count))
    if rate is not None:
        assert population is not None
        out = np.minimum(out, rate * population / PER)
    out[np.isinf(out)] = np.nan
    return out


def _check_indices(panel: Panel, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    out = np.asarray(idx, dtype=np.intp)
    if out.ndim != 1 or out.size == 0:
        raise SeriesError("the periods to evaluate must be a non-empty 1-D index array")
    if out[0] < 0 or out[-1] >= panel.n_periods:
        raise SeriesError(f"period indices must lie in [0, {panel.n_periods - 1}]")
    if out.size > 1 and bool(np.any(np.diff(out) <= 0)):
        raise SeriesError("period indices must be strictly increasing")
    return out


def run(panel: Panel, control: ThresholdControl, idx: NDArray[np.intp]) -> DetectionResult:
    """Apply the thresholds to the periods ``idx`` of every series."""
    idx = _check_indices(panel, idx)
    x = panel.counts[:, idx]
    shape = (panel.n_series, int(idx.size))
    pop = None if panel.population is None else panel.population[:, idx]
    if control.uses_rates:
        option = "alert-rate" if control.alert_rate is not None else "epidemic-rate"
        if pop is None:
            raise SeriesError(
                f"{option} needs the population of every series; the panel has none", series=panel.names[0]
            )
        if panel.freq is not Frequency.WEEKLY:
            raise SeriesError(f"{option} is a weekly attack rate; the panel is {panel.freq.value}")
    floor = float(control.min_count)
    alert = _bound(control.alert_count, control.alert_rate, pop, shape)
    epidemic = _bound(control.epidemic_count, control.epidemic_rate, pop, shape)
    alert = np.maximum(alert, floor)  # NaN stays NaN
    epidemic = np.maximum(epidemic, floor)
    is_epidemic = x >= epidemic  # NaN bound: False
    is_alert = (x >= alert) | is_epidemic
    level = np.where(is_epidemic, 2, np.where(is_alert, 1, 0)).astype(np.int8)
    upper = alert if control.alert_count is not None or control.alert_rate is not None else epidemic
    score = x.copy() if pop is None else x * PER / pop
    return DetectionResult(
        method="threshold",
        names=panel.names,
        dates=panel.dates[idx],
        observed=x.copy(),
        expected=np.full(shape, np.nan),
        upperbound=upper,
        alarm=level >= 1,
        score=score,
        extra={"level": level, "epidemic_bound": epidemic},
    )


def threshold(
    panel: Panel,
    control: ThresholdControl,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
) -> DetectionResult:
    """IDSR thresholds on ``panel`` for the periods ``start``..``end`` (inclusive; None: first/last period)."""
    return run(panel, control, evaluation_indices(panel, start, end))


register(
    MethodSpec(
        name="threshold",
        control_type=ThresholdControl,
        run=run,
        summary="Fixed IDSR alert/epidemic thresholds: case counts or weekly attack rates per 100,000",
        presets={
            "single-case": lambda: ThresholdControl(alert_count=1),
            "meningitis": lambda: ThresholdControl(alert_rate=3.0, epidemic_rate=10.0),
            "meningitis-small-population": lambda: ThresholdControl(alert_count=2, epidemic_count=5),
        },
    )
)
