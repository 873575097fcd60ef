"""Quality of alarms against known outbreaks, as R's ``surveillance::algo.quality``.

Pure numerics, no I/O: the command ``dhnet evaluate`` reads the files and calls
:func:`quality_segments`; ``dhnet simulate`` calls it on simulated data.

Definitions (per series, over the evaluated periods only)
---------------------------------------------------------
``state`` is the known outbreak indicator of each period, ``alarm`` the
detector's alarm.  As in ``algo.quality`` (surveillance 1.20.3):

* ``TP`` = alarm and outbreak, ``FP`` = alarm and no outbreak, ``TN`` = no
  alarm and no outbreak, ``FN`` = no alarm and outbreak;
* ``sens = TP / (TP + FN)``, ``spec = TN / (TN + FP)`` (``NaN`` when the
  denominator is 0, as R's ``0/0``);
* ``dist = sqrt((1 - spec)^2 + (sens - 1)^2)``, the distance of the point
  ``(1 - spec, sens)`` from the ideal corner ``(0, 1)`` of the ROC square;
* ``mlag``, the mean detection delay: an **outbreak episode** is a maximal run
  of consecutive outbreak periods (``state`` 1) of one series.  For an episode
  starting at period ``i`` the delay is the offset of the first alarm in the
  window ``i .. min(i + penalty, j - 1)`` where ``j`` is the start of the next
  episode of that series (or the last period when it is the last episode); the
  window may thus extend past the end of the episode, exactly as R does.  An
  episode without alarm in its window counts ``penalty`` (R's default 20).
  ``mlag`` is the mean over episodes, and 0 for a series without any outbreak
  period (R's convention).

Added measures (not in ``algo.quality``), following Noufaily et al. (2013):

* ``outbreaks``: the number of episodes; ``detected``: the episodes with at
  least one alarm *during the episode* (a period with ``state`` 1);
* ``pod`` (probability of detection) ``= detected / outbreaks`` (``NaN``
  without episodes);
* ``fpr`` (false positive rate) ``= FP / (FP + TN) = 1 - spec``: the share of
  periods without outbreak that raised an alarm.

Pooling several series (:func:`pool`) sums the counts, recomputes the rates
from the sums, and averages the delay over all episodes of all series (0 when
there are none, consistent with R's per-series convention).

Episodes are cut at the evaluation window: an outbreak that started before
the first evaluated period counts as an episode starting at that period, as
R's ``algo.quality`` on a result restricted to ``control$range`` does.

References
----------
Noufaily A, Enki DG, Farrington P, Garthwaite P, Andrews N, Charlett A (2013).
An improved algorithm for outbreak detection in multiple surveillance systems.
*Statistics in Medicine* 32(7):1206-1222.

Salmon M, Schumacher D, Höhle M (2016). Monitoring count time series in R:
aberration detection in public health surveillance. *Journal of Statistical
Software* 70(10) (``algo.quality``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Quality", "algo_quality", "episodes", "pool", "quality_segments"]

DEFAULT_PENALTY = 20


@dataclass(frozen=True)
class Quality:
    """Quality measures of one series (or pooled over several); see the module docstring."""

    periods: int
    tp: int
    fp: int
    tn: int
    fn: int
    outbreaks: int
    detected: int
    lag_sum: float

    @property
    def sens(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def spec(self) -> float:
        return _ratio(self.tn, self.tn + self.fp)

    @property
    def dist(self) -> float:
        return math.sqrt((1.0 - self.spec) ** 2 + (self.sens - 1.0) ** 2)

    @property
    def mlag(self) -> float:
        return self.lag_sum / self.outbreaks if self.outbreaks else 0.0

    @property
    def pod(self) -> float:
        return _ratio(self.detected, self.outbreaks)

    @property
    def fpr(self) -> float:
        return _ratio(self.fp, self.fp + self.tn)

    def as_dict(self) -> dict[str, float | int]:
        """All counts and measures, keyed as in R (``TP``, ``sens``, ...) plus ours."""
        return {
            "periods": self.periods,
            "TP": self.tp,
            "FP": self.fp,
            "TN": self.tn,
            "FN": self.fn,
            "sens": self.sens,
            "spec": self.spec,
            "dist": self.dist,
            "mlag": self.mlag,
            "outbreaks": self.outbreaks,
            "detected": self.detected,
            "pod": self.pod,
            "fpr": self.fpr,
        }


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def _as_bool(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.dtype != np.bool_:
        ok = np.isin(arr, (0, 1))
        if not ok.all():
            raise ValueError(f"{name} must hold 0/1 values, got {arr[~ok][0]!r}")
    return arr.astype(bool)


def episodes(state: ArrayLike) -> NDArray[np.intp]:
    """Outbreak episodes of one series: an ``(k, 2)`` array of ``[start, stop)`` indices."""
    s = _as_bool(state, "state").astype(np.int8)
    edges = np.diff(np.concatenate(([0], s, [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return np.stack([starts, stops], axis=1).astype(np.intp)


def algo_quality(state: ArrayLike, alarm: ArrayLike, penalty: int = DEFAULT_PENALTY) -> Quality:
    """Quality of the alarms of one series, as R's ``algo.quality(sts, penalty)``."""
    st = _as_bool(state, "state")
    al = _as_bool(alarm, "alarm")
    if st.shape != al.shape:
        raise ValueError(f"state has {st.size} periods but alarm {al.size}")
    return quality_segments(st, al, np.array([0, st.size]), penalty)[0]


def quality_segments(
    state: ArrayLike, alarm: ArrayLike, offsets: ArrayLike, penalty: int = DEFAULT_PENALTY
) -> list[Quality]:
    """Quality per series for series stored one after another in flat arrays.

    Series ``i`` occupies ``state[offsets[i]:offsets[i + 1]]`` (periods in
    time order).  Vectorised over all series; returns one :class:`Quality`
    per series.
    """
    if isinstance(penalty, bool) or not isinstance(penalty, (int, np.integer)) or penalty < 0:
        raise ValueError(f"penalty must be a non-negative integer, got {penalty!r}")
    st = _as_bool(state, "state")
    al = _as_bool(alarm, "alarm")
    off = np.asarray(offsets, dtype=np.int64)
    if st.shape != al.shape:
        raise ValueError(f"state has {st.size} periods but alarm {al.size}")
    if off.ndim != 1 or off.size < 1 or off[0] != 0 or off[-1] != st.size or np.any(np.diff(off) < 0):
        raise ValueError("offsets must rise from 0 to the number of periods")
    n_series = off.size - 1
    n = st.size
    seg = np.repeat(np.arange(n_series), np.diff(off))
    lengths = np.diff(off)

    def per_series(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.bincount(seg[mask], minlength=n_series).astype(np.int64)

    tp = per_series(st & al)
    fp = per_series(~st & al)
    tn = per_series(~st & ~al)
    fn = per_series(st & ~al)

    # Episode starts: an outbreak period whose predecessor (in the same series) is not one.
    prev = np.zeros(n, dtype=bool)
    if n > 1:
        prev[1:] = st[:-1]
    prev[off[:-1][lengths > 0]] = False
    is_start = st & ~prev
    starts = np.flatnonzero(is_start)
    ep_series = seg[starts]
    n_eps = np.bincount(ep_series, minlength=n_series).astype(np.int64)

    # Detected: an alarm during the episode's outbreak periods.
    ep_id = np.cumsum(is_start) - 1  # episode index of each period (valid where st)
    alarm_in_ep = np.bincount(ep_id[st & al], minlength=starts.size) > 0
    detected = np.bincount(ep_series[alarm_in_ep], minlength=n_series).astype(np.int64)

    # Delay (R's mlag): first alarm at or after the start within the window.
    seg_end = off[1:][ep_series] - 1  # last index of the episode's series
    next_start = np.full(starts.size, -1, dtype=np.int64)
    if starts.size > 1:
        same = ep_series[1:] == ep_series[:-1]
        next_start[:-1] = np.where(same, starts[1:], -1)
    window_end = np.where(
        next_start >= 0, np.minimum(starts + penalty, next_start - 1), np.minimum(starts + penalty, seg_end)
    )
    # next_alarm[j]: the smallest alarm index >= j (n if none); series boundaries are
    # handled by window_end, which never leaves the series.
    alarm_idx = np.flatnonzero(al)
    if alarm_idx.size:
        pos = np.searchsorted(alarm_idx, starts, side="left")
        nxt = np.where(pos < alarm_idx.size, alarm_idx[np.minimum(pos, alarm_idx.size - 1)], n)
    else:
        nxt = np.full(starts.size, n, dtype=np.int64)
    lag = np.where(nxt <= window_end, nxt - starts, penalty).astype(np.float64)
    lag_sum = np.bincount(ep_series, weights=lag, minlength=n_series)

    return [
        Quality(
            periods=int(lengths[i]),
            tp=int(tp[i]),
            fp=int(fp[i]),
            tn=int(tn[i]),
            fn=int(fn[i]),
            outbreaks=int(n_eps[i]),
            detected=int(detected[i]),
            lag_sum=float(lag_sum[i]),
        )
        for i in range(n_series)
    ]


def pool(qualities: Sequence[Quality]) -> Quality:
    """Pool several series: counts summed, rates from the sums, delay averaged over all episodes."""
    return Quality(
        periods=sum(q.periods for q in qualities),
        tp=sum(q.tp for q in qualities),
        fp=sum(q.fp for q in qualities),
        tn=sum(q.tn for q in qualities),
        fn=sum(q.fn for q in qualities),
        outbreaks=sum(q.outbreaks for q in qualities),
        detected=sum(q.detected for q in qualities),
        lag_sum=math.fsum(q.lag_sum for q in qualities),
    )
