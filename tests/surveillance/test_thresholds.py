"""Fixed IDSR alert/epidemic thresholds (``threshold``): hand-computed values, errors and properties.

There is no reference implementation to compare with: the rule (WHO AFRO IDSR technical guidelines, 3rd
edition, 2019) is a comparison of counts, or weekly attack rates per 100,000, with fixed thresholds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.surveillance import Panel, SeriesError, detect, make_control, registry
from dhnet.surveillance.thresholds import PER, ThresholdControl, run, threshold


def weekly(counts: Any, population: Any = None, names: list[str] | None = None) -> Panel:
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    nm = names or [f"d{i}" for i in range(c.shape[0])]
    return Panel.from_counts(c, start="2024-01-01", names=nm, population=population)


def test_single_case_alert() -> None:
    p = weekly([[0, 1, 0, 4]])
    res = threshold(p, ThresholdControl(alert_count=1))
    assert res.alarm[0].tolist() == [False, True, False, True]
    assert res.extra["level"][0].tolist() == [0, 1, 0, 1]
    assert res.extra["level"].dtype == np.int8
    np.testing.assert_array_equal(res.upperbound, 1.0)
    assert np.isnan(res.expected).all()
    np.testing.assert_array_equal(res.score, p.counts)  # no population: the count
    assert np.isnan(res.extra["epidemic_bound"]).all()


def test_rates_by_hand() -> None:
    # 50,000 inhabitants: 3 per 100,000 is 1.5 cases, 10 per 100,000 is 5 cases.
    p = weekly([[0, 1, 2, 4, 5, 9]], population=[50_000])
    res = threshold(p, ThresholdControl(alert_rate=3.0, epidemic_rate=10.0))
    np.testing.assert_allclose(res.score[0], np.array([0, 1, 2, 4, 5, 9]) * 2.0)  # per 100,000
    np.testing.assert_allclose(res.upperbound[0], 1.5)
    np.testing.assert_allclose(res.extra["epidemic_bound"][0], 5.0)
    assert res.extra["level"][0].tolist() == [0, 0, 1, 1, 2, 2]
    # a floor of 3 cases for both levels
    res = threshold(p, ThresholdControl(alert_rate=3.0, epidemic_rate=10.0, min_count=3))
    assert res.extra["level"][0].tolist() == [0, 0, 0, 1, 2, 2]
    np.testing.assert_allclose(res.upperbound[0], 3.0)


def test_counts_and_rates_combined_per_period_population() -> None:
    # alert when either threshold is met; the population may change from period to period
    pop = [[200_000, 200_000, 20_000, 20_000]]
    p = weekly([[4, 7, 1, 2]], population=pop)
    res = threshold(p, ThresholdControl(alert_count=5, alert_rate=3.0))
    np.testing.assert_allclose(res.upperbound[0], [5.0, 5.0, 1.0, 1.0])  # min(5, 6), min(5, 0.6) floored at 1
    assert res.alarm[0].tolist() == [False, True, True, True]


def test_epidemic_only_thresholds() -> None:
    p = weekly([[2, 4, 5, 6]])
    res = threshold(p, ThresholdControl(epidemic_count=5))
    assert res.extra["level"][0].tolist() == [0, 0, 2, 2]
    np.testing.assert_array_equal(res.upperbound, 5.0)  # the epidemic bound takes the alert's place


def test_presets_and_registry() -> None:
    assert registry.get("threshold").control_type is ThresholdControl
    assert make_control("threshold", "single-case") == ThresholdControl(alert_count=1)
    assert make_control("threshold", "meningitis") == ThresholdControl(alert_rate=3.0, epidemic_rate=10.0)
    small = make_control("threshold", "meningitis-small-population")
    assert (small.alert_count, small.epidemic_count) == (2, 5)
    p = weekly([[0, 3, 12]], population=[100_000])
    res = detect(p, "threshold", preset="meningitis")
    assert res.extra["level"][0].tolist() == [0, 1, 2]
    assert res.method == "threshold"


def test_rate_needs_population_naming_the_series() -> None:
    p = weekly([[1, 2], [3, 4]], names=["Kati", "Koulikoro"])
    with pytest.raises(SeriesError, match="alert-rate needs the population") as err:
        threshold(p, ThresholdControl(alert_rate=3.0))
    assert err.value.series == "Kati"
    assert "Kati" in str(err.value)
    with pytest.raises(SeriesError, match="epidemic-rate"):
        threshold(p, ThresholdControl(epidemic_rate=10.0))
    threshold(p, ThresholdControl(alert_count=2))  # counts need no population


def test_rate_needs_weekly_panel() -> None:
    p = Panel.from_counts([[1, 2, 3]], start="2024-01-01", freq="monthly", names=["m"], population=[10_000])
    with pytest.raises(SeriesError, match="weekly attack rate; the panel is monthly"):
        threshold(p, ThresholdControl(alert_rate=3.0))
    assert threshold(p, ThresholdControl(alert_count=2)).alarm[0].tolist() == [False, True, True]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give at least one"),
        ({"alert_count": 0}, "alert-count"),
        ({"alert_count": 1.5}, "alert-count"),
        ({"alert_rate": 0.0}, "alert-rate"),
        ({"alert_rate": math.inf}, "alert-rate"),
        ({"epidemic_count": -1}, "epidemic-count"),
        ({"epidemic_rate": -3.0}, "epidemic-rate"),
        ({"alert_count": 5, "epidemic_count": 3}, "epidemic-count"),
        ({"alert_rate": 10.0, "epidemic_rate": 3.0}, "epidemic-rate"),
        ({"alert_count": 1, "min_count": 0}, "min-count"),
    ],
)
def test_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ThresholdControl(**kwargs)


def test_index_errors() -> None:
    p = weekly([[1, 2, 3]])
    with pytest.raises(SeriesError, match="increasing"):
        run(p, ThresholdControl(alert_count=1), np.array([2, 1]))
    res = run(p, ThresholdControl(alert_count=2), np.array([0, 2]))
    assert res.dates.tolist() == [p.dates[0], p.dates[2]]


# --- properties --------------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(0, 200), min_size=1, max_size=20),
    population=st.integers(1_000, 2_000_000),
    alert_count=st.one_of(st.none(), st.integers(1, 50)),
    alert_rate=st.one_of(st.none(), st.floats(0.5, 20.0)),
    extra_rate=st.one_of(st.none(), st.floats(0.0, 30.0)),
    min_count=st.integers(1, 4),
)
def test_alarm_levels_and_bounds(
    counts: list[int],
    population: int,
    alert_count: int | None,
    alert_rate: float | None,
    extra_rate: float | None,
    min_count: int,
) -> None:
    if alert_count is None and alert_rate is None:
        alert_count = 1
    epidemic_rate = None if extra_rate is None or alert_rate is None else alert_rate + extra_rate
    ctl = ThresholdControl(
        alert_count=alert_count, alert_rate=alert_rate, epidemic_rate=epidemic_rate, min_count=min_count
    )
    p = weekly([counts], population=[population])
    res = threshold(p, ctl)
    x = res.observed[0]
    np.testing.assert_allclose(res.score[0], x * PER / population)
    # an alarm iff the count reaches the count equivalent of the alert threshold
    np.testing.assert_array_equal(res.alarm[0], x >= res.upperbound[0])
    assert np.all(res.upperbound[0] >= min_count)
    level = res.extra["level"][0]
    assert set(np.unique(level)) <= {0, 1, 2}
    # levels never decrease with the count
    for i in range(len(x)):
        for j in range(len(x)):
            if x[i] <= x[j]:
                assert level[i] <= level[j]
    if epidemic_rate is not None:
        np.testing.assert_array_equal(level == 2, x >= res.extra["epidemic_bound"][0])
