"""Numba kernels of :mod:`dhnet.surveillance.outliers` (imported when a detector runs: numba takes ~0.3 s to load)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

__all__ = ["centre_spread", "window_stats"]


def _centre_spread(buf: Any, k: int, median: bool) -> tuple[float, float]:
    """Mean and population sd (``median``: median and MAD) of ``buf[:k]``; NaN for ``k == 0``."""
    if k == 0:
        return np.nan, np.nan
    v = buf[:k]
    if median:
        med = np.median(v)
        return med, np.median(np.abs(v - med))
    s = 0.0
    for i in range(k):
        s += v[i]
    mean = s / k
    ss = 0.0
    for i in range(k):
        d = v[i] - mean
        ss += d * d
    return mean, math.sqrt(ss / k)


centre_spread = njit(cache=True, error_model="numpy")(_centre_spread)


def _window_stats(
    counts: Any, idx: Any, baseline: int, include_current: bool, whole: bool, zero_sig: bool, median: bool
) -> tuple[Any, Any, Any]:
    """Centre, spread and number of values of each evaluated period's statistics, shape ``(n, m)``."""
    n, t_all = counts.shape
    m = idx.shape[0]
    centre = np.empty((n, m))
    spread = np.empty((n, m))
    size = np.zeros((n, m), dtype=np.int64)
    for r in prange(n):
        buf = np.empty(t_all)
        if whole:
            k = 0
            for t in range(t_all):
                if zero_sig or counts[r, t] != 0:
                    buf[k] = counts[r, t]
                    k += 1
            c, s = centre_spread(buf, k, median)
            for j in range(m):
                centre[r, j] = c
                spread[r, j] = s
                size[r, j] = k
            continue
        for j in range(m):
            t0 = idx[j]
            lo = 0 if baseline < 0 else max(t0 - baseline, 0)
            hi = t0 + 1 if include_current else t0
            k = 0
            for t in range(lo, hi):
                if zero_sig or counts[r, t] != 0:
                    buf[k] = counts[r, t]
                    k += 1
            c, s = centre_spread(buf, k, median)
            centre[r, j] = c
            spread[r, j] = s
            size[r, j] = k
    return centre, spread, size


window_stats = njit(cache=True, parallel=True, error_model="numpy")(_window_stats)
