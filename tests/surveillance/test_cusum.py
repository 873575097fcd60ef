"""CUSUM against R's ``surveillance::cusum`` / ``algo.cusum`` (1.20.3).

Golden values: ``tests/surveillance/goldens/cusum/*.csv``, written by
``tools/r/goldens_cusum.R`` from the real data in ``data/surveillance/``:
``upperbound`` and ``alarm`` from ``cusum(sts, control)``, ``expected``
(``control$m``) and ``score`` (``$cusum``) from ``algo.cusum`` on the same
series and control.

Tolerance: alarms identical on every case (R's ``NA`` alarm = our ``False``);
``upperbound``, ``expected`` and ``score`` within a relative 1e-6 (absolute
1e-12 at zero).  Where R's alarm is ``NA`` (the CUSUM statistic is ``NaN``:
expected count 0) R writes upper bound 0 and we give ``NaN`` -- a documented
difference, checked below.

R's package ships no testthat file for ``algo.cusum`` (its ``tests/testthat``
has none); the help page's examples use simulated data from R's RNG, so the
hand-computed sequences below stand in for them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.surveillance import Panel, SeriesError, detect, evaluation_indices, registry
from dhnet.surveillance.cusum import CusumControl, cusum, poisson_harmonic_glm, run

GOLDENS = Path(__file__).parent / "goldens" / "cusum"
CASES: list[dict[str, Any]] = json.loads((GOLDENS / "cases.json").read_text())
RTOL = 1e-6
ATOL = 1e-12


def load_panel(data_dir: Path, input_name: str, series: list[str] | None) -> Panel:
    d = pd.read_csv(data_dir / input_name, dtype={"series": str, "period_start": str})
    names = list(dict.fromkeys(d["series"])) if series is None else series
    wide = d.pivot(index="period_start", columns="series", values="count").sort_index()[names]
    dates = np.array(wide.index, dtype="datetime64[D]")
    step = int((dates[1] - dates[0]).astype(int))
    freq = {1: "daily", 7: "weekly"}.get(step, "monthly")
    return Panel.from_counts(wide.to_numpy(dtype=float).T, start=dates[0], freq=freq, names=names)


def load_golden(case: str) -> pd.DataFrame:
    return pd.read_csv(GOLDENS / f"{case}.csv", dtype={"series": str, "period_start": str})


def as_matrix(g: pd.DataFrame, column: str, names: list[str]) -> np.ndarray:
    wide = g.pivot(index="period_start", columns="series", values=column).sort_index()
    return wide[names].to_numpy(dtype=float).T


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_golden_parity_with_r(case: dict[str, Any], data_dir: Path) -> None:
    panel = load_panel(data_dir, case["input"], case["series"])
    control = CusumControl(**case["settings"])
    res = run(panel, control, evaluation_indices(panel, case["from"], case["to"]))
    g = load_golden(case["case"])
    names = list(panel.names)
    assert list(dict.fromkeys(g["series"])) == names
    np.testing.assert_array_equal(res.observed, as_matrix(g, "observed", names))
    r_alarm = as_matrix(g, "alarm", names)
    r_na = np.isnan(r_alarm)
    np.testing.assert_array_equal(res.alarm, np.nan_to_num(r_alarm, nan=0.0).astype(bool))
    np.testing.assert_allclose(res.expected, as_matrix(g, "expected", names), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.score, as_matrix(g, "score", names), rtol=RTOL, atol=ATOL, equal_nan=True)
    ub = as_matrix(g, "upperbound", names)
    np.testing.assert_allclose(res.upperbound[~r_na], ub[~r_na], rtol=RTOL, atol=ATOL)
    # R: alarm NA and upper bound 0 where the statistic is NaN; ours: NaN bound, no alarm.
    assert np.isnan(res.upperbound[r_na]).all()
    assert np.isnan(res.score[r_na]).all()
    assert (ub[r_na] == 0).all()


def test_goldens_cover_every_option() -> None:
    trans = {c["settings"]["trans"] for c in CASES}
    assert trans == {"standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin", "none"}
    ms = {c["settings"]["m"] if not isinstance(c["settings"]["m"], float) else "number" for c in CASES}
    assert ms == {None, "glm", "number"}
    assert any(load_golden(c["case"])["alarm"].isna().any() for c in CASES), "a case with an all-zero history"


# ---- hand-computed values -------------------------------------------------------------------------------------


def test_standard_by_hand() -> None:
    """m = 4, k = 1.04, h = 2.26, x = 4, 8, 10: z = 0, 2, 3; C = 0, 0.96, 2.92 (alarm at the third);
    upper bounds ceiling(2 (3.3 - C_prev) + 4) = 11, 11, 9."""
    panel = Panel.from_counts([4, 8, 10], start="2022-01-03")
    res = cusum(panel, CusumControl(m=4))
    np.testing.assert_allclose(res.score[0], [0.0, 0.96, 2.92], rtol=1e-14)
    np.testing.assert_array_equal(res.alarm[0], [False, False, True])
    np.testing.assert_array_equal(res.upperbound[0], [11, 11, 9])
    np.testing.assert_array_equal(res.expected[0], [4, 4, 4])


def test_history_mean_and_no_reset() -> None:
    """m = mean of all periods before the first evaluated one; once above h the CUSUM does not reset."""
    panel = Panel.from_counts([1, 3, 2, 2, 12, 2, 2, 2], start="2022-01-03")
    res = cusum(panel, CusumControl(), start="2022-01-31")  # history: 1, 3, 2, 2 -> m = 2
    assert (res.expected == 2.0).all()
    z = (np.array([12, 2, 2, 2]) - 2) / math.sqrt(2)
    c_vals: list[float] = []
    c = 0.0
    for v in z:
        c = max(0.0, c + v - 1.04)
        c_vals.append(c)
    np.testing.assert_allclose(res.score[0], c_vals, rtol=1e-14)
    np.testing.assert_array_equal(res.alarm[0], np.array(c_vals) >= 2.26)
    assert res.alarm[0].sum() >= 2  # still alarming after the outbreak week


def test_range_with_gaps_runs_over_the_given_periods() -> None:
    """As R's algo.cusum, the CUSUM accumulates over the evaluated periods in order, gaps allowed; the history is
    everything before the first of them."""
    counts = np.array([2, 1, 3, 2, 9, 0, 8, 1, 7, 2], dtype=float)
    panel = Panel.from_counts(counts, start="2022-01-03")
    idx = np.array([4, 6, 8], dtype=np.intp)
    res = run(panel, CusumControl(), idx)
    m = counts[:4].mean()
    c, expect = 0.0, []
    for v in counts[idx]:
        c = max(0.0, c + (v - m) / math.sqrt(m) - 1.04)
        expect.append(c)
    np.testing.assert_allclose(res.score[0], expect, rtol=1e-14)
    np.testing.assert_array_equal(res.dates, panel.dates[idx])


def test_all_zero_history_behaviour() -> None:
    """m = 0: x > 0 gives an infinite CUSUM and an alarm (as R); then 0/0 = NaN: R's alarm NA, ours False with a
    NaN upper bound (R: 0)."""
    panel = Panel.from_counts([0] * 20 + [1, 0, 3], start="2020-01-06")
    res = cusum(panel, CusumControl(), start=panel.dates[20])
    assert res.score[0, 0] == math.inf
    assert res.alarm[0, 0]
    assert res.upperbound[0, 0] == 0.0
    assert np.isnan(res.score[0, 1:]).all()
    assert np.isnan(res.upperbound[0, 1:]).all()
    assert not res.alarm[0, 1:].any()


# ---- GLM --------------------------------------------------------------------------------------------------------


def test_glm_origin_invariance_and_score_equations() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(1, 157, dtype=float)
    lam = np.exp(1.5 + 0.6 * np.cos(2 * np.pi * t / 52) + 0.3 * np.sin(2 * np.pi * t / 52))
    y = rng.poisson(lam, size=(4, t.size)).astype(float)
    t_new = np.arange(157, 170, dtype=float)
    fit = poisson_harmonic_glm(y, t, t_new, 52)
    shifted = poisson_harmonic_glm(y, t + 17, t_new + 17, 52)
    np.testing.assert_allclose(fit, shifted, rtol=1e-9)
    # MLE: X'(y - mu) = 0 on the training periods
    mu = poisson_harmonic_glm(y, t, t, 52)
    x = np.column_stack([np.ones_like(t), np.cos(2 * np.pi * t / 52), np.sin(2 * np.pi * t / 52)])
    np.testing.assert_allclose((y - mu) @ x, 0.0, atol=1e-6 * y.sum())


# ---- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"h": 0}, "h"),
        ({"h": -1.0}, "h"),
        ({"k": math.nan}, "k"),
        ({"trans": "anscombeNegBin"}, "trans"),
        ({"m": "mean"}, "m"),
        ({"m": 0}, "m"),
        ({"m": -2.0}, "m"),
        ({"alpha": -0.1}, "alpha"),
    ],
)
def test_control_validation(options: dict[str, Any], option: str) -> None:
    with pytest.raises(ValueError, match=f"^{option}: "):
        CusumControl(**options)


def test_numeric_m_from_text() -> None:
    assert CusumControl(m="3.5").m == 3.5  # type: ignore[arg-type]
    assert CusumControl(m="glm").m == "glm"


def test_history_errors() -> None:
    panel = Panel.from_counts(np.arange(10), start="2020-01-06")
    with pytest.raises(SeriesError, match=r"needs 1 period\(s\) of history .* which has 0.*2020-01-06"):
        run(panel, CusumControl(), np.arange(0, 10, dtype=np.intp))
    with pytest.raises(SeriesError, match=r"needs 3 period\(s\) .*GLM"):
        run(panel, CusumControl(m="glm"), np.arange(2, 10, dtype=np.intp))
    res = run(panel, CusumControl(m=2.0), np.arange(0, 10, dtype=np.intp))  # numeric m needs no history
    assert res.score.shape == (1, 10)
    with pytest.raises(SeriesError, match="strictly increasing"):
        run(panel, CusumControl(), np.array([5, 5], dtype=np.intp))


def test_registered_and_detect() -> None:
    spec = registry.get("cusum")
    assert spec.control_type is CusumControl
    panel = Panel.from_counts((np.arange(40) * 7) % 5, start="2020-01-06")
    res = detect(panel, "cusum", trans="rossi", start="2020-06-01")
    ref = cusum(panel, CusumControl(trans="rossi"), start="2020-06-01")
    assert res.method == "cusum"
    np.testing.assert_array_equal(res.score, ref.score)
    assert res.pvalue is None


# ---- properties -------------------------------------------------------------------------------------------------


def naive_cusum(x: np.ndarray, m: float, control: CusumControl) -> tuple[list[float], list[float]]:
    """Per-period transcription of R's algo.cusum for one series: (cusum, upperbound as R, NaN -> 0)."""
    h, k, a = control.h, control.k, control.alpha
    m = np.float64(m)
    c_prev, cs, ubs = np.float64(0.0), [], []
    for v in x.astype(np.float64):
        with np.errstate(all="ignore"):
            sm = np.sqrt(np.float64(m))
            z = {
                "standard": (v - m) / sm,
                "rossi": (v - 3 * m + 2 * np.sqrt(np.float64(v * m))) / (2 * sm),
                "anscombe": 1.5 * (v ** (2 / 3) - m ** (2 / 3)) / m ** (1 / 6),
                "anscombe2nd": (v ** (2 / 3) - (m ** (2 / 3) - m ** (-1 / 3) / 9)) / (2 / 3 * m ** (1 / 6)),
                "pearsonNegBin": (v - m) / np.sqrt(np.float64(m + a * m**2)),
                "none": v,
            }[control.trans]
            c = np.maximum(0.0, c_prev + (z - k))
            r = h + k - c_prev
            b1 = (2 / 3) * m ** (1 / 6) * r + m ** (2 / 3)
            b2 = (2 / 3) * m ** (1 / 6) * r + (m ** (2 / 3) - m ** (1 / 3) / 9)
            disc = np.float64(4 * m**2 + 2 * m**1.5 * h + 2 * m**1.5 * k - 2 * m**1.5 * c_prev)
            ub = {
                "standard": np.ceil(sm * r + m),
                "rossi": 2 * h * sm + 2 * k * sm - 2 * c_prev * sm + 5 * m - 2 * np.sqrt(disc),
                "anscombe": 0.0 if b1 < 0 else b1**1.5,
                "anscombe2nd": 0.0 if b2 < 0 else b2**1.5,
                "pearsonNegBin": np.sqrt(np.float64(m + a * m**2)) * r + m,
                "none": h - c,
            }[control.trans]
        cs.append(float(c))
        ubs.append(0.0 if (math.isnan(ub) or ub < 0) else float(ub))
        c_prev = c
    return cs, ubs


control_strategy = st.builds(
    CusumControl,
    k=st.sampled_from([0.0, 0.5, 1.04, 2.0]),
    h=st.sampled_from([1.0, 2.26, 5.0]),
    m=st.sampled_from([None, 0.7, 3.0, 12.5]),
    trans=st.sampled_from(["standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin", "none"]),
    alpha=st.sampled_from([0.0, 0.1, 0.5]),
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(min_value=0, max_value=30), min_size=12, max_size=12), min_size=1, max_size=3),
    history=st.integers(min_value=1, max_value=8),
    control=control_strategy,
)
def test_property_matches_naive_reference(data: list[list[int]], history: int, control: CusumControl) -> None:
    counts = np.array(data, dtype=float)
    panel = Panel.from_counts(counts, start="2021-01-04")
    res = cusum(panel, control, start=panel.dates[history])
    assert ((res.score >= 0) | np.isnan(res.score)).all()
    np.testing.assert_array_equal(res.alarm, res.score >= control.h)
    for i in range(counts.shape[0]):
        m = float(counts[i, :history].mean()) if control.m is None else float(control.m)
        np.testing.assert_allclose(res.expected[i], m)
        cs, ubs = naive_cusum(counts[i, history:], m, control)
        np.testing.assert_allclose(res.score[i], cs, rtol=1e-12, atol=1e-12, equal_nan=True)
        ok = ~np.isnan(res.score[i])
        np.testing.assert_allclose(res.upperbound[i][ok], np.array(ubs)[ok], rtol=1e-12, atol=1e-12)
        assert np.isnan(res.upperbound[i][~ok]).all()
        alone = cusum(panel.take([i]), control, start=panel.dates[history])
        np.testing.assert_array_equal(alone.score[0], res.score[i])


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.integers(min_value=0, max_value=40), min_size=10, max_size=30),
    k=st.sampled_from([0.0, 0.5, 1.04]),
    h=st.sampled_from([1.0, 2.26, 4.0]),
    m=st.sampled_from([0.8, 2.0, 5.5, 17.0]),
)
def test_property_standard_alarm_iff_observed_reaches_upperbound(data: list[int], k: float, h: float, m: float) -> None:
    """For trans = "standard" the upper bound is the smallest count that signals: alarm iff x >= upperbound
    (skipping statistics within 1e-9 of h, where rounding decides)."""
    res = cusum(Panel.from_counts(data, start="2021-01-04"), CusumControl(k=k, h=h, m=m))
    near = np.abs(res.score - h) < 1e-9
    np.testing.assert_array_equal(res.alarm[~near], (res.observed >= res.upperbound)[~near])
