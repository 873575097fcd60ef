"""DHIS2-style outlier detection: z-score, modified z-score (median/MAD) and min-max.

There is no R reference: values are computed by hand here (population standard deviation as PostgreSQL's
``stddev_pop``, ``percentile_cont(0.5)`` medians, Java ``Math.round`` for min-max bounds) and checked against
numpy by property tests.  Tolerance: relative 1e-12.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.surveillance import Panel, SeriesError, detect, registry
from dhnet.surveillance.outliers import (
    MAD_FACTOR,
    MinMaxControl,
    OutlierControl,
    minmax,
    modified_zscore,
    run_minmax,
    run_zscore,
    zscore,
)

RTOL = 1e-12


def one(counts: list[int], **kw: Any) -> Panel:
    return Panel.from_counts(counts, start="2021-01-04", names=["s"], **kw)


# --- hand-computed values ----------------------------------------------------------------------------------------
def test_zscore_by_hand() -> None:
    p = one([2, 4, 4, 4, 5, 5, 7, 9])  # mean 5, population sd 2
    last = p.dates[-1]
    res = zscore(p, OutlierControl(threshold=1.5), start=last)  # include_current: all 8 values
    assert res.expected[0, 0] == 5.0
    assert res.extra["spread"][0, 0] == 2.0
    assert res.score[0, 0] == 2.0
    assert res.upperbound[0, 0] == 8.0
    assert res.extra["lowerbound"][0, 0] == 2.0
    assert res.alarm[0, 0]
    # without the value itself: 7 values, sum 31, sum of squares 151, variance 96/49
    res = zscore(p, OutlierControl(include_current=False), start=last)
    np.testing.assert_allclose(res.expected[0, 0], 31 / 7, rtol=RTOL)
    np.testing.assert_allclose(res.extra["spread"][0, 0], math.sqrt(96) / 7, rtol=RTOL)
    np.testing.assert_allclose(res.score[0, 0], 32 / math.sqrt(96), rtol=RTOL)  # 3.266 > 3
    assert res.alarm[0, 0]
    # a window of 3 periods before: 5, 5, 7 -> mean 17/3, variance 8/9
    res = zscore(p, OutlierControl(baseline=3, include_current=False), start=last)
    np.testing.assert_allclose(res.score[0, 0], (9 - 17 / 3) / (math.sqrt(8) / 3), rtol=RTOL)


def test_modified_zscore_by_hand() -> None:
    p = one([1, 2, 3, 4, 100])
    res = modified_zscore(p, OutlierControl(whole_series=True), start=p.dates[0])
    # median 3, absolute deviations 2, 1, 0, 1, 97 -> MAD 1
    np.testing.assert_array_equal(res.expected[0], 3.0)
    np.testing.assert_array_equal(res.extra["spread"][0], 1.0)
    np.testing.assert_allclose(res.score[0], MAD_FACTOR * np.array([-2, -1, 0, 1, 97]), rtol=RTOL)
    assert res.alarm[0].tolist() == [False, False, False, False, True]
    np.testing.assert_allclose(res.upperbound[0], 3 + 3 / MAD_FACTOR, rtol=RTOL)
    np.testing.assert_allclose(res.extra["lowerbound"][0], 3 - 3 / MAD_FACTOR, rtol=RTOL)
    # an even number of values: percentile_cont(0.5) is the mean of the two middle ones
    res = modified_zscore(p, OutlierControl(include_current=False), start=p.dates[-1])
    assert res.expected[0, 0] == 2.5  # 1 2 | 3 4
    assert res.extra["spread"][0, 0] == 1.0  # deviations 1.5 0.5 0.5 1.5
    np.testing.assert_allclose(res.score[0, 0], MAD_FACTOR * 97.5, rtol=RTOL)


def test_minmax_default_factor_is_three() -> None:
    # mean 12, sd sqrt(8/3) = 1.633; factor 3 -> round(7.10) = 7, round(16.90) = 17
    res = minmax(one([10, 12, 14, 17]), start="2021-01-25")
    assert (res.extra["lowerbound"][0, 0], res.upperbound[0, 0]) == (7.0, 17.0)
    assert not res.alarm[0, 0]


def test_minmax_by_hand() -> None:
    # history 10, 12, 14: mean 12, population sd sqrt(8/3); factor 2 (DHIS2's default) -> round(8.73) = 9,
    # round(15.27) = 15
    for x, alarm in ((15, False), (16, True), (9, False), (8, True)):
        res = minmax(one([10, 12, 14, x]), MinMaxControl(threshold=2.0), start="2021-01-25")
        assert (res.extra["lowerbound"][0, 0], res.upperbound[0, 0]) == (9.0, 15.0)
        assert res.expected[0, 0] == 12.0
        np.testing.assert_allclose(res.score[0, 0], (x - 12) / math.sqrt(8 / 3), rtol=RTOL)
        assert bool(res.alarm[0, 0]) is alarm  # below the minimum is a violation too
    # Java Math.round: halves go up (1.5 -+ 1 -> 0.5 and 2.5 -> 1 and 3), unlike Python's round
    res = minmax(one([1, 2, 3]), MinMaxControl(threshold=2.0), start="2021-01-18")
    assert (res.extra["lowerbound"][0, 0], res.upperbound[0, 0]) == (1.0, 3.0)
    # counts: the minimum cannot be negative
    res = minmax(one([0, 0, 0, 10, 1]), MinMaxControl(threshold=2.0), start="2021-02-01")
    assert res.extra["lowerbound"][0, 0] == 0.0
    np.testing.assert_allclose(res.upperbound[0, 0], math.floor(2.5 + 2 * math.sqrt(18.75) + 0.5))


def test_zero_is_significant() -> None:
    p = one([0, 3, 0, 5, 0, 4, 0, 50, 0])
    ctl = OutlierControl(include_current=False, zero_is_significant=False)
    res = zscore(p, ctl, start=p.dates[7])
    # statistics of the non-zero values only: 3, 5, 4 (mean 4, sd sqrt(2/3)), then 3, 5, 4, 50
    np.testing.assert_allclose(res.expected[0], [4.0, 15.5], rtol=RTOL)
    np.testing.assert_allclose(res.extra["spread"][0, 0], math.sqrt(2 / 3), rtol=RTOL)
    np.testing.assert_allclose(res.score[0, 0], 46 / math.sqrt(2 / 3), rtol=RTOL)
    assert res.alarm[0].tolist() == [True, False]
    assert math.isnan(res.score[0, 1])  # a zero is not a value: not scored, not flagged
    with_zeros = zscore(p, OutlierControl(include_current=False), start=p.dates[7])
    assert with_zeros.expected[0, 0] == 12 / 7


def test_zero_spread_is_missing_score() -> None:
    p = one([0, 0, 0, 0, 0, 7])
    for fn in (zscore, modified_zscore):
        res = fn(p, OutlierControl(include_current=False), start=p.dates[-1])  # type: ignore[operator]
        assert math.isnan(res.score[0, 0])
        assert not res.alarm[0, 0]
        assert res.upperbound[0, 0] == res.expected[0, 0] == 0.0
    # min-max stores min = max = 0 and flags the 7, as DHIS2 would
    res = minmax(p, start=p.dates[-1])
    assert res.alarm[0, 0]
    assert math.isnan(res.score[0, 0])


def test_whole_series_uses_later_values() -> None:
    a = one([5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 40])
    b = one([5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6])
    ctl = OutlierControl(whole_series=True)
    ra, rb = zscore(a, ctl), zscore(b, ctl)
    assert ra.dates[0] == a.dates[0]
    assert ra.expected[0, 0] != rb.expected[0, 0]
    np.testing.assert_allclose(ra.expected[0], a.counts[0].mean(), rtol=RTOL)
    np.testing.assert_allclose(ra.score[0], (a.counts[0] - a.counts[0].mean()) / a.counts[0].std(), rtol=RTOL)
    assert ra.alarm[0].tolist() == [False] * 11 + [True]  # sqrt(11) = 3.32 > 3


def test_masking_bound_with_current_value() -> None:
    # A single spike among n equal values scores exactly sqrt(n - 1): below 3 up to n = 10.
    for n in (5, 10, 11):
        res = zscore(one([2] * (n - 1) + [50]))
        np.testing.assert_allclose(res.score[0, -1], math.sqrt(n - 1), rtol=RTOL)
        assert bool(res.alarm[0, -1]) is (n >= 11)


# --- registry, errors ----------------------------------------------------------------------------------------------
def test_registry() -> None:
    assert {"zscore", "modified-zscore", "minmax"} <= set(registry.names())
    assert registry.get("modified-zscore").control_type is OutlierControl
    assert registry.get("minmax").control_type is MinMaxControl
    p = one([1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 30])
    res = detect(p, "modified-zscore", start=p.dates[5], threshold=3.5)
    assert res.method == "modified-zscore"
    assert res.alarm[0, -1]
    assert detect(p, "minmax", start=p.dates[1]).method == "minmax"


def test_history_errors() -> None:
    p = one(list(range(10)))
    with pytest.raises(SeriesError, match=r"needs 5 period\(s\) .* it has 3"):
        run_zscore(p, OutlierControl(baseline=5), np.arange(3, 6))
    with pytest.raises(SeriesError, match=r"needs 1 period"):
        run_minmax(p, MinMaxControl(), np.arange(0, 3))
    with pytest.raises(SeriesError, match="increasing"):
        run_zscore(p, OutlierControl(), np.array([4, 3]))
    assert zscore(p).dates[0] == p.dates[0]  # the value alone: sd 0, no score
    assert minmax(p).dates[0] == p.dates[1]
    assert zscore(p, OutlierControl(baseline=4)).dates[0] == p.dates[4]


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (OutlierControl, {"threshold": 0}, "threshold"),
        (OutlierControl, {"threshold": math.nan}, "threshold"),
        (OutlierControl, {"baseline": 0}, "baseline"),
        (OutlierControl, {"include_current": "yes"}, "include-current"),
        (OutlierControl, {"whole_series": True, "baseline": 8}, "baseline"),
        (OutlierControl, {"whole_series": True, "include_current": False}, "include-current"),
        (OutlierControl, {"zero_is_significant": 0}, "zero-is-significant"),
        (MinMaxControl, {"threshold": -2.0}, "threshold"),
        (MinMaxControl, {"baseline": 2.5}, "baseline"),
    ],
)
def test_validation(cls: type, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


# --- properties --------------------------------------------------------------------------------------------------
series_strategy = st.lists(st.integers(0, 60), min_size=2, max_size=30)
window_strategy = st.sampled_from([None, 1, 3, 7])


def _window(x: np.ndarray, t: int, baseline: int | None, include_current: bool) -> np.ndarray:
    lo = 0 if baseline is None else max(t - baseline, 0)
    return x[lo : t + 1 if include_current else t]


@settings(max_examples=80, deadline=None)
@given(
    x=series_strategy,
    baseline=window_strategy,
    include_current=st.booleans(),
    threshold=st.floats(0.5, 4.0),
    modified=st.booleans(),
)
def test_scores_match_numpy(
    x: list[int], baseline: int | None, include_current: bool, threshold: float, modified: bool
) -> None:
    arr = np.array(x, dtype=float)
    p = one(x)
    need = baseline if baseline is not None else (0 if include_current else 1)
    if need >= len(x):
        return
    ctl = OutlierControl(threshold=threshold, baseline=baseline, include_current=include_current)
    res = (modified_zscore if modified else zscore)(p, ctl)
    for j, t in enumerate(range(need, len(x))):
        w = _window(arr, t, baseline, include_current)
        if modified:
            centre = float(np.median(w))
            spread = float(np.median(np.abs(w - centre)))
            z = MAD_FACTOR * (arr[t] - centre) / spread if spread > 0 else math.nan
        else:
            centre, spread = float(w.mean()), float(w.std())
            z = (arr[t] - centre) / spread if spread > 0 else math.nan
        np.testing.assert_allclose(res.expected[0, j], centre, rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(res.score[0, j], z, rtol=1e-9, atol=1e-12, equal_nan=True)
        assert bool(res.alarm[0, j]) == (not math.isnan(z) and abs(z) > threshold)
        if not modified and include_current:
            assert abs(res.score[0, j]) <= math.sqrt(len(w) - 1) + 1e-9 or math.isnan(z)


@settings(max_examples=60, deadline=None)
@given(x=series_strategy, baseline=window_strategy, factor=st.floats(0.5, 4.0))
def test_minmax_properties(x: list[int], baseline: int | None, factor: float) -> None:
    p = one(x)
    if len(x) <= (baseline or 1):
        with pytest.raises(SeriesError, match="the settings need more than"):
            minmax(p, MinMaxControl(threshold=factor, baseline=baseline))
        return
    res = minmax(p, MinMaxControl(threshold=factor, baseline=baseline))
    lo, hi, obs = res.extra["lowerbound"][0], res.upperbound[0], res.observed[0]
    assert np.all(lo >= 0)
    assert np.all(lo == np.round(lo))
    assert np.all(hi == np.round(hi))
    assert np.all(lo <= hi)
    np.testing.assert_array_equal(res.alarm[0], (obs < lo) | (obs > hi))


@settings(max_examples=30, deadline=None)
@given(data=st.lists(series_strategy, min_size=2, max_size=4), modified=st.booleans())
def test_panel_equals_single_series(data: list[list[int]], modified: bool) -> None:
    n = min(len(d) for d in data)
    counts = np.array([d[:n] for d in data], dtype=float)
    p = Panel.from_counts(counts, start="2021-01-04")
    fn = modified_zscore if modified else zscore
    whole = fn(p, OutlierControl(include_current=False))
    for i in range(p.n_series):
        single = fn(p.take([i]), OutlierControl(include_current=False))
        np.testing.assert_array_equal(whole.score[i], single.score[0])
        np.testing.assert_array_equal(whole.alarm[i], single.alarm[0])
