"""The shared series type (Panel), the result type and the top-level detect() entry point."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dhnet.surveillance import DetectionResult, Frequency, Panel, SeriesError, concat_series, evaluation_indices


def test_weekly_panel_from_counts() -> None:
    p = Panel.from_counts([[1, 2, 3], [0, 0, 5]], start="2024-01-01", names=["a", "b"])
    assert p.n_series == 2
    assert p.n_periods == 3
    assert p.freq is Frequency.WEEKLY
    assert [str(d) for d in p.dates] == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert p.counts.dtype == np.float64


def test_monthly_steps_follow_calendar_months() -> None:
    p = Panel.from_counts([1, 2, 3, 4], start="2024-01-01", freq="monthly")
    assert [str(d) for d in p.dates] == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]


@pytest.mark.parametrize(
    ("step", "freq"),
    [(1, Frequency.DAILY), (7, Frequency.WEEKLY), (31, Frequency.MONTHLY), (29, Frequency.MONTHLY)],
)
def test_infer_frequency(step: int, freq: Frequency) -> None:
    d = np.array(["2024-01-01", np.datetime64("2024-01-01") + np.timedelta64(step, "D")], dtype="datetime64[D]")
    assert Frequency.infer(d) is freq


def test_infer_frequency_rejects_other_steps() -> None:
    d = np.array(["2024-01-01", "2024-01-04"], dtype="datetime64[D]")
    with pytest.raises(SeriesError, match="3 days apart"):
        Frequency.infer(d)


def test_negative_count_names_series_and_period() -> None:
    with pytest.raises(SeriesError, match=r"non-negative integer.*series 'b'.*period 2024-01-08"):
        Panel.from_counts([[1, 2], [0, -1]], start="2024-01-01", names=["a", "b"])


def test_fractional_and_nan_counts_rejected() -> None:
    with pytest.raises(SeriesError, match="non-negative integer"):
        Panel.from_counts([1.5, 2], start="2024-01-01")
    with pytest.raises(SeriesError, match="non-negative integer"):
        Panel.from_counts([np.nan, 2], start="2024-01-01")


def test_irregular_dates_name_the_period() -> None:
    dates = np.array(["2024-01-01", "2024-01-08", "2024-01-22"], dtype="datetime64[D]")
    with pytest.raises(SeriesError, match=r"expected 2024-01-15 after 2024-01-08, found 2024-01-22"):
        Panel(names=("a",), dates=dates, counts=np.array([[1.0, 2.0, 3.0]]), freq=Frequency.WEEKLY)


def test_population_validated_and_broadcast() -> None:
    p = Panel.from_counts([[1, 2], [3, 4]], start="2024-01-01", population=[1000, 2000])
    assert p.population is not None
    assert p.population.shape == (2, 2)
    assert p.population[1, 0] == 2000
    with pytest.raises(SeriesError, match="population must be positive"):
        Panel.from_counts([[1, 2]], start="2024-01-01", population=[0])


def test_shape_mismatch() -> None:
    with pytest.raises(SeriesError, match="2 count rows but 1 names"):
        Panel(
            names=("a",),
            dates=np.array(["2024-01-01"], dtype="datetime64[D]"),
            counts=np.zeros((2, 1)),
            freq=Frequency.WEEKLY,
        )


def test_take_and_index_of() -> None:
    p = Panel.from_counts([[1, 2], [3, 4], [5, 6]], start="2024-01-01", names=["a", "b", "c"], population=[1, 2, 3])
    q = p.take([2, 0])
    assert q.names == ("c", "a")
    assert q.counts.tolist() == [[5, 6], [1, 2]]
    assert q.population is not None
    assert q.population[:, 0].tolist() == [3, 1]
    assert p.index_of("2024-01-08") == 1
    with pytest.raises(SeriesError, match="no period starts on 2024-01-09"):
        p.index_of("2024-01-09")


def test_evaluation_indices_inclusive_and_clipped() -> None:
    p = Panel.from_counts(np.arange(10), start="2024-01-01")
    assert evaluation_indices(p, "2024-01-15", "2024-01-29").tolist() == [2, 3, 4]
    assert evaluation_indices(p).tolist() == list(range(10))
    assert evaluation_indices(p, "2023-01-01", None).tolist() == list(range(10))
    with pytest.raises(SeriesError, match="no period to evaluate"):
        evaluation_indices(p, "2025-01-01", None)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60))
def test_any_nonnegative_integer_series_is_accepted(values: list[int]) -> None:
    p = Panel.from_counts(values, start="2020-01-06")
    assert p.counts[0].tolist() == [float(v) for v in values]
    assert p.dates[-1] == np.datetime64("2020-01-06") + np.timedelta64(7 * (len(values) - 1), "D")


def _result(names: tuple[str, ...], alarm: list[list[bool]]) -> DetectionResult:
    a = np.asarray(alarm)
    return DetectionResult(
        method="m",
        names=names,
        dates=np.array(["2024-01-01", "2024-01-08"], dtype="datetime64[D]"),
        observed=np.ones(a.shape),
        expected=np.ones(a.shape),
        upperbound=np.full(a.shape, 2.0),
        alarm=a,
        score=np.full(a.shape, np.nan),
    )


def test_result_shape_checked() -> None:
    with pytest.raises(ValueError, match="expected has shape"):
        DetectionResult(
            method="m",
            names=("a",),
            dates=np.array(["2024-01-01"], dtype="datetime64[D]"),
            observed=np.ones((1, 1)),
            expected=np.ones((1, 2)),
            upperbound=np.ones((1, 1)),
            alarm=np.zeros((1, 1), dtype=bool),
            score=np.ones((1, 1)),
        )


def test_result_columns_and_concat() -> None:
    r = concat_series([_result(("a",), [[True, False]]), _result(("b",), [[False, True]])])
    cols = r.columns()
    assert cols["series"].tolist() == ["a", "a", "b", "b"]
    assert cols["alarm"].tolist() == [1, 0, 0, 1]
    assert [str(d) for d in cols["period_start"]] == ["2024-01-01", "2024-01-08"] * 2
    rows = list(r.rows())
    assert rows[1][0] == "a"
    assert rows[1][5] is False
    with pytest.raises(ValueError, match="nothing to concatenate"):
        concat_series([])


def test_empty_like_is_all_missing() -> None:
    p = Panel.from_counts([[1, 2, 3]], start="2024-01-01")
    r = DetectionResult.empty_like("x", p, np.array([1, 2]))
    assert r.observed.tolist() == [[2, 3]]
    assert np.isnan(r.expected).all()
    assert not r.alarm.any()
