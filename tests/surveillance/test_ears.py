"""EARS C1/C2/C3 against R's ``surveillance::earsC`` (1.20.3).

Golden values: ``tests/surveillance/goldens/ears/*.csv``, written by
``tools/r/goldens_ears.R`` from the real data in ``data/surveillance/``.
``upperbound`` and ``alarm`` are earsC's output; ``expected`` (window mean) and
``score`` (C1/C2 statistic, C3 statistic) are computed by that R script from
the same reference windows earsC uses.

Tolerance: alarms identical on every case (R's ``NA`` alarm = our ``False``);
``upperbound``, ``expected`` and ``score`` within a relative 1e-6 (absolute
1e-12 for values at zero), ``NaN`` where R gives ``NA``/``NaN``, equal
infinities.  The observed differences are at the level of the last bits (R
sums in long double).
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
from scipy.stats import norm

from dhnet.surveillance import Panel, SeriesError, detect, evaluation_indices, registry
from dhnet.surveillance.ears import EarsControl, ears, run

GOLDENS = Path(__file__).parent / "goldens" / "ears"
CASES: list[dict[str, Any]] = json.loads((GOLDENS / "cases.json").read_text())
RTOL = 1e-6
ATOL = 1e-12


def load_panel(data_dir: Path, input_name: str, series: list[str] | None) -> Panel:
    d = pd.read_csv(data_dir / input_name, dtype={"series": str, "period_start": str})
    names = list(dict.fromkeys(d["series"])) if series is None else series
    wide = d.pivot(index="period_start", columns="series", values="count").sort_index()[names]
    dates = np.array(wide.index, dtype="datetime64[D]")
    return Panel.from_counts(wide.to_numpy(dtype=float).T, start=dates[0], freq=_freq(dates), names=names)


def _freq(dates: np.ndarray) -> str:
    step = int((dates[1] - dates[0]).astype(int))
    return {1: "daily", 7: "weekly"}.get(step, "monthly")


def load_golden(case: str) -> pd.DataFrame:
    return pd.read_csv(GOLDENS / f"{case}.csv", dtype={"series": str, "period_start": str})


def as_matrix(g: pd.DataFrame, column: str, names: list[str]) -> np.ndarray:
    wide = g.pivot(index="period_start", columns="series", values=column).sort_index()
    return wide[names].to_numpy(dtype=float).T


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_golden_parity_with_r(case: dict[str, Any], data_dir: Path) -> None:
    panel = load_panel(data_dir, case["input"], case["series"])
    control = EarsControl(**case["settings"])
    idx = evaluation_indices(panel, case["from"], case["to"])
    res = run(panel, control, idx)
    g = load_golden(case["case"])
    names = list(panel.names)
    assert list(dict.fromkeys(g["series"])) == names
    assert np.array_equal(res.dates, np.unique(g["period_start"].to_numpy(dtype="datetime64[D]")))
    np.testing.assert_array_equal(res.observed, as_matrix(g, "observed", names))
    r_alarm = as_matrix(g, "alarm", names)
    np.testing.assert_array_equal(res.alarm, np.nan_to_num(r_alarm, nan=0.0).astype(bool))
    for col in ("upperbound", "expected", "score"):
        np.testing.assert_allclose(
            getattr(res, col), as_matrix(g, col, names), rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=col
        )
    # Where R's alarm is NA the upper bound is missing, and nowhere else.
    np.testing.assert_array_equal(np.isnan(res.upperbound), np.isnan(r_alarm))


def test_goldens_cover_every_variant_and_zero_spread() -> None:
    variants = {c["settings"]["variant"] for c in CASES}
    assert variants == {"C1", "C2", "C3"}
    nan_cases = [c["case"] for c in CASES if load_golden(c["case"])["upperbound"].isna().any()]
    assert nan_cases, "some golden must exercise C3 on an all-zero stretch (NaN upper bound)"


# ---- the values checked by R's own tests: surveillance/tests/testthat/test-earsC.R ------------------------


def salmnewport_germany(data_dir: Path) -> Panel:
    """``aggregate(salmNewport, by = "unit")``: the 16 states summed."""
    d = pd.read_csv(data_dir / "salmonella_newport_germany_states_weekly.csv", dtype={"series": str})
    total = d.groupby("period_start")["count"].sum().sort_index()
    return Panel.from_counts(total.to_numpy(dtype=float), start=total.index[0], freq="weekly", names=["Germany"])


def test_r_testthat_salmnewport_c1_upperbounds(data_dir: Path) -> None:
    """test-earsC.R: C1, alpha 0.05, range = ISO year 2011; first four upper bounds."""
    panel = salmnewport_germany(data_dir)
    res = ears(panel, EarsControl(variant="C1", alpha=0.05), start="2011-01-03", end="2011-12-26")
    assert res.dates[0] == np.datetime64("2011-01-03")
    np.testing.assert_allclose(res.upperbound[0, :4], [3.278854, 3.278854, 3.436517, 3.855617], atol=1e-6)


def test_r_testthat_error_messages(data_dir: Path) -> None:
    """test-earsC.R: baseline < 3, negative minSigma and a range too close to the start are errors."""
    with pytest.raises(ValueError, match="baseline"):
        EarsControl(variant="C1", alpha=0.05, baseline=2)
    with pytest.raises(ValueError, match="min-sigma"):
        EarsControl(variant="C1", alpha=0.05, min_sigma=-2)
    panel = salmnewport_germany(data_dir)
    with pytest.raises(SeriesError, match="needs 1500 periods of history"):
        ears(panel, EarsControl(variant="C1", alpha=0.05, baseline=1500), start="2011-01-03", end="2011-12-26")


def test_r_testthat_range_well_defined(data_dir: Path) -> None:
    """test-earsC.R: the default range with baseline 10 has n - 10 periods."""
    panel = salmnewport_germany(data_dir)
    res = ears(panel, EarsControl(variant="C1", baseline=10))
    assert res.upperbound.size == panel.n_periods - 10


# ---- single time point (R's C3 fails there) -----------------------------------------------------------------


def test_single_time_point_c3_matches_longer_run(data_dir: Path) -> None:
    """R's earsC(method = "C3") stops with "number of items to replace is not a multiple of replacement
    length" when the range has one period; ours evaluates it and gives the value R gives that period in a
    two-period range (golden c3_two_periods_salmnewport)."""
    panel = load_panel(data_dir, "salmonella_newport_germany_states_weekly.csv", ["Bavaria", "Berlin"])
    g = load_golden("c3_two_periods_salmnewport")
    one = ears(panel, EarsControl(variant="C3"), start="2013-06-10", end="2013-06-10")
    assert one.upperbound.shape == (2, 1)
    last = g[g["period_start"] == "2013-06-10"]
    np.testing.assert_allclose(one.upperbound[:, 0], last["upperbound"].to_numpy(float), rtol=RTOL, equal_nan=True)
    np.testing.assert_array_equal(one.alarm[:, 0], last["alarm"].fillna(0).to_numpy(float).astype(bool))


@pytest.mark.parametrize("variant", ["C1", "C2", "C3"])
def test_each_period_alone_equals_whole_run(variant: str, data_dir: Path) -> None:
    panel = load_panel(data_dir, "measles_germany_states_weekly.csv", None)
    control = EarsControl(variant=variant, min_sigma=0.5)  # type: ignore[arg-type]
    idx = np.arange(control.max_lag, panel.n_periods, dtype=np.intp)
    whole = run(panel, control, idx)
    for j in (0, 1, 17, idx.size - 1):
        one = run(panel, control, idx[j : j + 1])
        np.testing.assert_array_equal(one.upperbound[:, 0], whole.upperbound[:, j])
        np.testing.assert_array_equal(one.score[:, 0], whole.score[:, j])
    # a non-contiguous selection gives the same values as the contiguous run
    sel = idx[::5]
    part = run(panel, control, sel)
    np.testing.assert_allclose(part.upperbound, whole.upperbound[:, ::5], rtol=1e-13, equal_nan=True)
    np.testing.assert_array_equal(part.alarm, whole.alarm[:, ::5])


# ---- zero spread, defaults, validation ---------------------------------------------------------------------


def test_zero_spread_behaviour_as_r() -> None:
    """All-zero window and min_sigma 0: C1/C2 threshold is the mean (0), C3 upper bound is NaN (R: NaN/NA)."""
    counts = [0] * 12 + [1, 0, 0, 5, 0, 0] + [2] * 9 + [9]
    panel = Panel.from_counts(counts, start="2020-01-06")
    c1 = ears(panel, EarsControl(variant="C1"))
    assert c1.upperbound[0, 5] == 0.0
    assert c1.alarm[0, 5]
    assert c1.score[0, 5] == math.inf
    assert math.isnan(c1.score[0, 0])
    assert not c1.alarm[0, 0]
    assert c1.upperbound[0, -1] == 2.0
    assert c1.alarm[0, -1]
    c3 = ears(panel, EarsControl(variant="C3"))
    assert np.isnan(c3.upperbound[0, :6]).all()
    assert not c3.alarm[0, :6].any()
    # values checked against R by hand (Rscript: earsC(z, control = list(method = "C3")))
    np.testing.assert_allclose(c3.upperbound[0, 7], 5.654264, atol=1e-6)
    assert c3.upperbound[0, -1] == 9.0
    c3s = ears(panel, EarsControl(variant="C3", min_sigma=0.5))
    assert np.isfinite(c3s.upperbound).all()
    np.testing.assert_allclose(c3s.upperbound[0, 0], 0.979982, atol=1e-6)


def test_default_alpha_per_variant() -> None:
    assert EarsControl().effective_alpha == 0.001
    assert EarsControl(variant="C2").effective_alpha == 0.001
    assert EarsControl(variant="C3").effective_alpha == 0.025
    assert EarsControl(variant="C3", alpha=0.1).effective_alpha == 0.1


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"variant": "C4"}, "variant"),
        ({"baseline": 2}, "baseline"),
        ({"baseline": 7.0}, "baseline"),
        ({"baseline": True}, "baseline"),
        ({"min_sigma": -0.1}, "min-sigma"),
        ({"min_sigma": math.nan}, "min-sigma"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
    ],
)
def test_control_validation(options: dict[str, Any], option: str) -> None:
    with pytest.raises(ValueError, match=f"^{option}: "):
        EarsControl(**options)


def test_history_error_names_period_and_need() -> None:
    panel = Panel.from_counts(np.arange(20), start="2020-01-06")
    with pytest.raises(SeriesError, match=r"needs 11 periods of history .* which has 10.*2020-03-16"):
        run(panel, EarsControl(variant="C3"), np.arange(10, 20, dtype=np.intp))
    with pytest.raises(SeriesError, match="strictly increasing"):
        run(panel, EarsControl(), np.array([12, 11], dtype=np.intp))
    with pytest.raises(SeriesError, match="more than 9 periods"):
        ears(Panel.from_counts(np.arange(9), start="2020-01-06"), EarsControl(variant="C2"))


def test_registered_and_detect() -> None:
    spec = registry.get("ears")
    assert spec.control_type is EarsControl
    panel = Panel.from_counts(np.arange(30) % 4, start="2020-01-06")
    res = detect(panel, "ears", variant="C2", start="2020-03-09")
    ref = ears(panel, EarsControl(variant="C2"), start="2020-03-09")
    assert res.method == "ears"
    np.testing.assert_array_equal(res.upperbound, ref.upperbound)
    assert res.pvalue is None


# ---- properties ----------------------------------------------------------------------------------------------


def naive_ears(y: np.ndarray, t: int, control: EarsControl) -> tuple[float, float]:
    """Straight per-period transcription of R's formulas: (upperbound, score)."""
    z = norm.ppf(1 - control.effective_alpha)
    b = control.baseline

    def c2(i: int) -> tuple[float, float, float]:
        w = y[i - b - 2 : i - 2]
        s = max(float(np.std(w, ddof=1)), control.min_sigma)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.mean(w)), s, float(np.float64(y[i] - np.mean(w)) / np.float64(s))

    if control.variant == "C1":
        w = y[t - b : t]
        s = max(float(np.std(w, ddof=1)), control.min_sigma)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.mean(w) + z * s), float(np.float64(y[t] - np.mean(w)) / np.float64(s))
    m, s, stat = c2(t)
    if control.variant == "C2":
        return m + z * s, stat
    lag = max(0.0, c2(t - 2)[2] - 1) + max(0.0, c2(t - 1)[2] - 1)
    if math.isnan(c2(t - 2)[2]) or math.isnan(c2(t - 1)[2]):
        lag = math.nan
    with np.errstate(invalid="ignore"):
        ub = float(np.maximum(0.0, y[t] + np.float64(s) * (z - lag)))
    cur = math.nan if math.isnan(stat) else max(0.0, stat - 1)
    return ub, cur + lag


series_strategy = st.lists(st.integers(min_value=0, max_value=40), min_size=16, max_size=40)
control_strategy = st.builds(
    EarsControl,
    variant=st.sampled_from(["C1", "C2", "C3"]),
    baseline=st.integers(min_value=3, max_value=8),
    min_sigma=st.sampled_from([0.0, 0.5, 1.0]),
    alpha=st.sampled_from([None, 0.01, 0.05]),
)


@settings(max_examples=150, deadline=None)
@given(data=st.lists(series_strategy, min_size=1, max_size=3), control=control_strategy)
def test_property_matches_naive_reference(data: list[list[int]], control: EarsControl) -> None:
    width = min(len(s) for s in data)
    counts = np.array([s[:width] for s in data], dtype=float)
    if width <= control.max_lag:
        return
    panel = Panel.from_counts(counts, start="2021-01-04")
    res = ears(panel, control)
    # alarm iff observed > upperbound (False where the bound is missing)
    np.testing.assert_array_equal(res.alarm, res.observed > res.upperbound)
    for i in range(counts.shape[0]):
        for j, t in enumerate(range(control.max_lag, width)):
            ub, score = naive_ears(counts[i], t, control)
            np.testing.assert_allclose(res.upperbound[i, j], ub, rtol=1e-12, atol=1e-12, equal_nan=True)
            np.testing.assert_allclose(res.score[i, j], score, rtol=1e-12, atol=1e-12, equal_nan=True)
    # every series is evaluated on its own
    for i in range(counts.shape[0]):
        alone = ears(panel.take([i]), control)
        np.testing.assert_array_equal(alone.upperbound[0], res.upperbound[i])


@settings(max_examples=100, deadline=None)
@given(data=series_strategy, shift=st.integers(min_value=1, max_value=100), control=control_strategy)
def test_property_c1_c2_shift_equivariance(data: list[int], shift: int, control: EarsControl) -> None:
    """Adding a constant to every count moves expected and the C1/C2 threshold by that constant."""
    if control.variant == "C3" or len(data) <= control.max_lag:
        return
    base = ears(Panel.from_counts(data, start="2021-01-04"), control)
    moved = ears(Panel.from_counts(np.asarray(data) + shift, start="2021-01-04"), control)
    np.testing.assert_allclose(moved.expected, base.expected + shift, rtol=1e-12)
    np.testing.assert_allclose(moved.upperbound, base.upperbound + shift, rtol=1e-12)
