"""farrington-flexible against R's ``surveillance::farringtonFlexible`` (1.20.3).

Golden values: ``tests/surveillance/goldens/farrington/*.csv``, written by
``tools/r/goldens_farrington.R`` from the real data in ``data/surveillance/``
(date-indexed ``sts`` objects): ``upperbound`` and ``alarm`` are R's
``upperbound(res)``/``alarms(res)``, ``expected``, ``score`` and ``pvalue`` R's
``res@control$expected``/``$score``/``$pvalue``.

Tolerance: alarms identical on every case; ``upperbound``, ``expected``,
``score`` and ``pvalue`` within a relative 1e-6 (absolute 1e-12 near zero), with
the same missing values.  Where R's fit fails (alarm ``NA``) R leaves
``expected`` at 0 and we give ``NaN`` -- a documented difference, checked below.

The second half ports the checks of the package's own test file
``tests/testthat/test-farringtonFlexible.R`` (surveillance 1.20.3): weights,
Anscombe residuals, reference time points, blocks, both threshold functions
with their hand-computed values, the GLM data, alarms and non-convergence.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dhnet.surveillance import (
    Frequency,
    Panel,
    SeriesError,
    _glm,
    detect,
    evaluation_indices,
    farrington,
    make_control,
    registry,
)
from dhnet.surveillance._farrington_design import _pattern, build_designs, reference_dates, reference_rows
from dhnet.surveillance._farrington_threshold import delta_threshold, noufaily_threshold, qnbinom, qpois
from dhnet.surveillance.farrington import (
    FarringtonFlexibleControl,
    _pearson,
    anscombe_residuals,
    assign_weights,
    farrington_flexible,
    farrington_preset,
    noufaily_preset,
    run,
)

GOLDENS = Path(__file__).parent / "goldens" / "farrington"
CASES: list[dict[str, Any]] = json.loads((GOLDENS / "cases.json").read_text())
RTOL = 1e-6
ATOL = 1e-12


@pytest.fixture(autouse=True, params=["ckernel", "numpy"])
def glm_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test on both paths of the IRLS with a trend: the compiled kernel and the numpy fallback."""
    if request.param == "numpy":
        monkeypatch.setattr(_glm, "kernel", None)
    elif _glm.kernel is None:
        pytest.skip("the compiled kernel is switched off (DHNET_NO_CKERNEL) or not built (see test_irls_kernel.py)")
    return str(request.param)


def load_panel(data_dir: Path, input_name: str, series: list[str] | None) -> Panel:
    d = pd.read_csv(data_dir / input_name, dtype={"series": str, "period_start": str})
    names = list(dict.fromkeys(d["series"])) if series is None else series
    wide = d.pivot(index="period_start", columns="series", values="count").sort_index()[names]
    dates = np.array(wide.index, dtype="datetime64[D]")
    step = int((dates[1] - dates[0]).astype(int))
    freq = {1: "daily", 7: "weekly"}.get(step, "monthly")
    pop = None
    if "population" in d.columns:
        pop = d.pivot(index="period_start", columns="series", values="population").sort_index()[names]
        pop = pop.to_numpy(dtype=float).T
    return Panel.from_counts(wide.to_numpy(dtype=float).T, start=dates[0], freq=freq, names=names, population=pop)


def as_matrix(g: pd.DataFrame, column: str, names: list[str]) -> np.ndarray:
    wide = g.pivot(index="period_start", columns="series", values=column).sort_index()
    return wide[names].to_numpy(dtype=float).T


# ---- parity with R on real data ------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_golden_parity_with_r(case: dict[str, Any], data_dir: Path) -> None:
    panel = load_panel(data_dir, case["input"], case["series"])
    control = FarringtonFlexibleControl(**case["settings"])
    res = run(panel, control, evaluation_indices(panel, case["from"], case["to"]))
    g = pd.read_csv(GOLDENS / f"{case['case']}.csv", dtype={"series": str, "period_start": str})
    names = list(panel.names)
    assert list(dict.fromkeys(g["series"])) == names
    assert [str(d) for d in res.dates] == sorted(set(g["period_start"]))
    np.testing.assert_array_equal(res.observed, as_matrix(g, "observed", names))
    r_alarm = as_matrix(g, "alarm", names)
    failed = np.isnan(r_alarm)  # R: the model did not converge with nor without trend
    np.testing.assert_array_equal(res.alarm, np.nan_to_num(r_alarm, nan=0.0).astype(bool))
    for column, ours in (("upperbound", res.upperbound), ("score", res.score), ("pvalue", res.pvalue)):
        np.testing.assert_allclose(ours, as_matrix(g, column, names), rtol=RTOL, atol=ATOL, equal_nan=True)
    r_expected = as_matrix(g, "expected", names)
    np.testing.assert_allclose(res.expected[~failed], r_expected[~failed], rtol=RTOL, atol=ATOL, equal_nan=True)
    # Documented difference: R leaves expected at 0 where the fit failed, we report NaN.
    assert (r_expected[failed] == 0).all()
    assert np.isnan(res.expected[failed]).all()
    assert np.isnan(res.upperbound[failed]).all()
    assert np.isnan(res.score[failed]).all()


def test_goldens_cover_the_required_settings() -> None:
    settings = [c["settings"] for c in CASES]
    assert {s["threshold_method"] for s in settings} == {"delta", "nbPlugin", "muan"}
    assert {s["powertrans"] for s in settings if s["threshold_method"] == "delta"} == {"none", "1/2", "2/3"}
    assert {s["trend"] for s in settings} == {True, False}
    assert {s["reweight"] for s in settings} == {True, False}
    assert any(s["population_offset"] for s in settings)
    assert {s["b"] for s in settings} >= {1, 2, 3, 4, 5}
    assert len({tuple(s["limit54"]) for s in settings}) >= 4
    assert dataclasses.asdict(farrington_preset()) in [{**s, "limit54": tuple(s["limit54"])} for s in settings]
    assert dataclasses.asdict(noufaily_preset()) in [{**s, "limit54": tuple(s["limit54"])} for s in settings]
    assert any(c["input"].endswith("monthly.csv") for c in CASES)
    # at least one case where R's fit fails (all-zero reference data, Noufaily settings)
    failed = [pd.read_csv(GOLDENS / f"{c['case']}.csv")["alarm"].isna().any() for c in CASES]
    assert any(failed)


# ---- settings ------------------------------------------------------------------------------------------
def test_defaults_are_r_1_20_3_defaults() -> None:
    c = FarringtonFlexibleControl()
    assert dataclasses.asdict(c) == {
        "b": 5,
        "w": 3,
        "reweight": True,
        "weights_threshold": 2.58,
        "alpha": 0.05,
        "trend": True,
        "p_threshold_trend": 0.05,
        "limit54": (5, 4),
        "powertrans": "2/3",
        "population_offset": False,
        "no_periods": 1,
        "past_weeks_not_included": None,
        "threshold_method": "delta",
    }
    assert c.past_excluded == 3


def test_presets_are_pinned() -> None:
    f = farrington_preset()
    assert (f.no_periods, f.weights_threshold, f.past_weeks_not_included, f.p_threshold_trend, f.threshold_method) == (
        1,
        1.0,
        3,
        0.05,
        "delta",
    )
    n = noufaily_preset()
    assert (n.no_periods, n.weights_threshold, n.past_weeks_not_included, n.p_threshold_trend, n.threshold_method) == (
        10,
        2.58,
        26,
        1.0,
        "nbPlugin",
    )
    for p in (f, n):
        assert (p.b, p.w, p.alpha, p.reweight, p.trend, p.limit54, p.powertrans, p.population_offset) == (
            5,
            3,
            0.05,
            True,
            True,
            (5, 4),
            "2/3",
            False,
        )
    spec = registry.get("farrington-flexible")
    assert spec.control_type is FarringtonFlexibleControl
    assert spec.presets is not None
    assert set(spec.presets) == {"farrington", "noufaily"}
    assert make_control("farrington-flexible", preset="noufaily") == n
    assert make_control("farrington-flexible", preset="farrington", b=3) == dataclasses.replace(f, b=3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"b": 0}, "b: must be an integer >= 1"),
        ({"b": 2.5}, "b: must be an integer >= 1"),
        ({"w": -1}, "w: must be an integer >= 0"),
        ({"reweight": 1}, "reweight: must be true or false"),
        ({"weights_threshold": -0.1}, "weights-threshold: must be a number in [0.0, inf]"),
        ({"weights_threshold": float("nan")}, "weights-threshold"),
        ({"alpha": 0.0}, "alpha: must be a number in (0.0, 1.0)"),
        ({"alpha": 1.0}, "alpha: must be a number in (0.0, 1.0)"),
        ({"trend": "yes"}, "trend: must be true or false"),
        ({"p_threshold_trend": 1.5}, "p-threshold-trend: must be a number in [0.0, 1.0]"),
        ({"limit54": (5,)}, "limit54: must be two integers (cases >= 0, periods >= 1)"),
        ({"limit54": (-1, 4)}, "limit54: must be two integers"),
        ({"limit54": (5, 0)}, "limit54: must be two integers"),
        ({"limit54": (5.5, 4)}, "limit54: must be two integers"),
        ({"powertrans": "2/88"}, "powertrans: must be one of 'none', '1/2', '2/3'"),
        ({"population_offset": None}, "population-offset: must be true or false"),
        ({"no_periods": 0}, "no-periods: must be an integer >= 1"),
        ({"past_weeks_not_included": -1}, "past-weeks-not-included: must be an integer >= 0"),
        ({"threshold_method": "Delta"}, "threshold-method: must be one of 'delta', 'nbPlugin', 'muan'"),
    ],
)
def test_invalid_settings_raise_precise_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + __import__("re").escape(message)):
        FarringtonFlexibleControl(**options)


def test_limit54_accepts_a_list() -> None:
    assert FarringtonFlexibleControl(limit54=[3, 2]).limit54 == (3, 2)  # type: ignore[arg-type]


def test_too_many_factor_levels_is_an_error(data_dir: Path) -> None:
    panel = load_panel(data_dir, "rotavirus_brandenburg_agegroups_monthly.csv", ["00-04"])
    # R: stop("Number of factors too big!") when period < p - (2w + 1); monthly, w = 3: 5 months between windows
    with pytest.raises(ValueError, match="no-periods: 13 seasonal levels"):
        farrington_flexible(panel, FarringtonFlexibleControl(no_periods=13), start="2012-01-01")
    farrington_flexible(panel, FarringtonFlexibleControl(no_periods=12), start="2012-01-01")  # R accepts 12


# ---- history ------------------------------------------------------------------------------------------
def test_short_history_raises_series_error_with_the_needed_periods(data_dir: Path) -> None:
    panel = load_panel(data_dir, "salmonella_agona_uk_weekly.csv", None)
    with pytest.raises(SeriesError) as err:
        farrington_flexible(panel, start="1994-06-06")
    msg = str(err.value)
    assert "b=5 years and w=3" in msg
    assert "evaluating 1994-06-06" in msg
    assert "the series starts on 1990-01-01" in msg
    assert "the first period that can be evaluated is 1995-01-16, after 263 periods of history" in msg
    assert err.value.period == "1994-06-06"
    # the first evaluable period works (R's default range starts there too; its window is cut at index 0)
    res = farrington_flexible(panel, start="1995-01-16", end="1995-01-16")
    assert res.dates[0] == np.datetime64("1995-01-16")
    with pytest.raises(SeriesError, match="no period of this series can be evaluated"):
        farrington_flexible(panel, FarringtonFlexibleControl(b=7), start="1995-12-18")


def test_too_many_years_back_as_r_test(data_dir: Path) -> None:
    """test-farringtonFlexible.R, "We get an error when going too many years back" (b=10, range=250)."""
    panel = load_panel(data_dir, "salmonella_agona_uk_weekly.csv", None)
    control = FarringtonFlexibleControl(
        no_periods=10, b=10, w=3, weights_threshold=2.58, past_weeks_not_included=26, threshold_method="muan"
    )
    with pytest.raises(SeriesError, match="history too short"):
        run(panel, control, np.array([249]))


# ---- reference periods ---------------------------------------------------------------------------------
def test_reference_time_points_weekly_as_r_test() -> None:
    """test-farringtonFlexible.R, "We get the expected timepoints with weekly data"."""
    refs = reference_dates(np.array(["2013-06-06"], dtype="datetime64[D]"), 3, Frequency.WEEKLY)[0]
    assert sorted(refs.tolist()) == sorted(
        np.array(["2010-06-03", "2013-06-06", "2012-06-07", "2011-06-09"], dtype="datetime64[D]").tolist()
    )
    # all on the weekday of the day considered (Thursday)
    assert {(int(d.astype(np.int64)) + 4) % 7 for d in refs} == {(int(refs[0].astype(np.int64)) + 4) % 7}


def test_reference_time_points_monthly_as_r_test() -> None:
    """test-farringtonFlexible.R, "... with monthly data": 48, 36, 24, 12 (rows 47, 35, 23, 11 here)."""
    dates = Frequency.MONTHLY.step(np.datetime64("2001-01-01"), 60)
    assert reference_rows(dates, Frequency.MONTHLY, np.array([47]), 3).tolist() == [[47, 35, 23, 11]]
    assert (reference_rows(dates, Frequency.MONTHLY, np.array([47]), 8) < 0).any()


def test_weekly_reference_periods_are_52_or_53_weeks_back() -> None:
    dates = Frequency.WEEKLY.step(np.datetime64("2001-01-01"), 800)
    rows = reference_rows(dates, Frequency.WEEKLY, np.arange(400, 800), 5)
    lags = np.diff(-rows, axis=1)
    assert set(np.unique(lags).tolist()) == {52, 53}
    # 2004-03-01 (Monday) one year back is 2003-03-01 (Saturday): the nearest Monday is 2003-03-03, 52 weeks back
    d = reference_dates(np.array(["2004-03-01"], dtype="datetime64[D]"), 1, Frequency.WEEKLY)[0]
    assert d[1] == np.datetime64("2003-03-03")
    # 2009-01-01 (Thursday) minus one year: 2008-01-01 (Tuesday) -> nearest Thursday 2008-01-03 (52 weeks)
    d = reference_dates(np.array(["2009-01-01"], dtype="datetime64[D]"), 1, Frequency.WEEKLY)[0]
    assert d[1] == np.datetime64("2008-01-03")


def test_daily_reference_periods_follow_r_calendar_arithmetic() -> None:
    # seq(as.Date("2008-02-29"), by = "-1 year", length.out = 3): "2008-02-29" "2007-03-01" "2006-03-01"
    d = reference_dates(np.array(["2008-02-29"], dtype="datetime64[D]"), 2, Frequency.DAILY)[0]
    assert d.tolist() == np.array(["2008-02-29", "2007-03-01", "2006-03-01"], dtype="datetime64[D]").tolist()


def test_daily_panel_runs() -> None:
    rng = np.random.default_rng(5)
    n = 365 * 4
    counts = rng.poisson(3.0 + np.sin(np.arange(n) * 2 * np.pi / 365), size=(2, n)).astype(float)
    panel = Panel.from_counts(counts, start="2001-01-01", freq="daily")
    res = farrington_flexible(panel, FarringtonFlexibleControl(b=3, w=7), start="2004-12-01")
    assert res.upperbound.shape == (2, 30)
    assert np.isfinite(res.score).all()
    assert np.isfinite(res.expected).mean() > 0.8
    np.testing.assert_array_equal(np.isfinite(res.expected), np.isfinite(res.upperbound))


# ---- blocks (test-farringtonFlexible.R, "BLOCKS FUNCTION") ------------------------------------------------
def _r_blocks(p: int) -> np.ndarray:
    """R's blocks() for the test's dates 1990-06-07 + 7 * 0:1300, day 2013-06-06, b = 3, w = 3."""
    dates = Frequency.WEEKLY.step(np.datetime64("1990-06-07"), 1301)
    k = int(np.nonzero(dates == np.datetime64("2013-06-06"))[0][0])
    rows = reference_rows(dates, Frequency.WEEKLY, np.array([k]), 3)[0]
    _rel, lev = _pattern(tuple(int(k - r) for r in rows[1:]), 3, p)
    return lev


def test_blocks_reference_window_length() -> None:
    b, w = 3, 3
    for p in (1, 8):
        lev = _r_blocks(p)
        assert (lev == p).sum() == w + 1 + b * (2 * w + 1)


def test_blocks_levels_and_lengths() -> None:
    p, b = 8, 3
    lev = _r_blocks(p)
    assert len(np.unique(lev)) == p
    counts = np.bincount(lev[lev != p])[1:]
    assert (np.abs(np.diff(counts))[: p - 2] <= b).all()


def test_blocks_r_descending_sequence_quirk() -> None:
    # Monthly, p = 10, w = 3: 5 months between windows, so blocks 6..9 have length 0 and R's a:(a-1)
    # writes two cells, the last of them 9 (overwriting the first cell of the next window).
    rel, lev = _pattern((12,), 3, 10)
    by_rel = dict(zip(rel.tolist(), lev.tolist(), strict=True))
    assert [by_rel[r] for r in range(-15, -8)] == [10] * 7  # window around the reference month
    assert [by_rel[r] for r in range(-8, -3)] == [1, 2, 3, 4, 9]
    assert by_rel[-3] == 9
    assert [by_rel[r] for r in range(-2, 1)] == [10, 10, 10]


def test_data_glm_as_r_test() -> None:
    """test-farringtonFlexible.R, "DATA GLM FUNCTION": wtime steps 1, 10 levels, 157 rows (156 + R's NA)."""
    dates = Frequency.WEEKLY.step(np.datetime64("1990-06-07"), 1301)
    k = 1199
    assert dates[k] == np.datetime64("2013-05-30")
    design = build_designs(dates, Frequency.WEEKLY, np.array([k]), b=3, w=3, no_periods=10, past_weeks_not_included=3)
    assert int(design.n_levels[0]) == 10
    t = np.sort(design.t[0][design.valid[0]])
    assert t.size == 157
    np.testing.assert_array_equal(np.diff(t), 1.0)


# ---- weights and residuals ---------------------------------------------------------------------------
def test_weights_gamma_is_one_below_threshold() -> None:
    """test-farringtonFlexible.R, "gamma = 1 if everything below the threshold"."""
    s = np.zeros((10, 1, 1))  # (rows, levels, fits)
    np.testing.assert_array_equal(assign_weights(s, 0.0, np.ones_like(s, dtype=bool)), np.ones((10, 1, 1)))


def test_weights_hand_checked() -> None:
    """test-farringtonFlexible.R, "A case that was checked by hand": 1.6 and 0.4."""
    s = np.full((10, 1, 1), 2.0)
    s[:5] = 0.0
    w = assign_weights(s, 0.0, np.ones_like(s, dtype=bool))
    np.testing.assert_allclose(w[:5, 0, 0], 1.6)
    np.testing.assert_allclose(w[5:, 0, 0], 0.4)


def _glm_fit(y: np.ndarray, x: np.ndarray) -> tuple[_glm.Fit, _glm.Chunk, np.ndarray]:
    chunk = _glm.Chunk(y[:, None, None], x[:, None, None], np.ones((y.size, 1, 1), dtype=bool), None)
    f = chunk.fit(None, np.array([True]))
    phi = np.maximum(_pearson(f, f.residuals(chunk.y), f.w), 1.0)
    return f, chunk, phi


def test_anscombe_residuals_zero_for_exact_fit() -> None:
    """test-farringtonFlexible.R, "residuals should be zero": y = exp(x), glm(y ~ x)."""
    x = np.random.default_rng(1).poisson(1.0, 10).astype(float)
    x[:2] = [0.0, 2.0]
    f, chunk, phi = _glm_fit(np.exp(x), x)
    np.testing.assert_allclose(anscombe_residuals(f, chunk, phi)[:, 0, 0], 0.0, atol=1.5e-8)


def test_anscombe_residuals_not_zero() -> None:
    """test-farringtonFlexible.R, "residuals should not be zero": y = exp(x) + runif(1)."""
    rng = np.random.default_rng(2)
    x = rng.poisson(1.0, 1000).astype(float)
    f, chunk, phi = _glm_fit(np.exp(x) + rng.uniform(), x)
    assert anscombe_residuals(f, chunk, phi).mean() > 0


def test_glm_matches_an_explicit_irls() -> None:
    """The closed-form IRLS equals R's algorithm written out (QR least squares per iteration)."""
    rng = np.random.default_rng(1)
    m_rows, n_lev, n_fits = 12, 3, 6
    y = rng.poisson(5, (m_rows, n_lev, n_fits)).astype(float)
    y[:, :, 0] = 0  # all zero: converges slowly towards mu = 0, as in R
    y[:, 0, 1] = 0  # one level all zero
    valid = np.ones_like(y, dtype=bool)
    valid[10:, 2, :] = False
    y[~valid] = 0
    t = np.broadcast_to(np.arange(m_rows * n_lev, dtype=float).reshape(n_lev, m_rows).T[:, :, None], y.shape).copy()
    prior = np.where(valid, rng.uniform(0.5, 1.5, y.shape), 0.0)
    off = np.where(valid, rng.normal(0, 0.3, y.shape), 0.0)
    chunk = _glm.Chunk(y, t, valid, off)
    for trend in (True, False):
        for pr in (None, prior):
            f = chunk.fit(pr, np.full(n_fits, trend))
            for i in range(n_fits):
                v = valid[:, :, i].T
                yy, tt, oo = y[:, :, i].T[v], t[:, :, i].T[v], off[:, :, i].T[v]
                ww = np.ones(yy.size) if pr is None else pr[:, :, i].T[v]
                lev = np.repeat(np.arange(n_lev), m_rows).reshape(n_lev, m_rows)[v]
                x = np.zeros((yy.size, n_lev + trend))
                x[np.arange(yy.size), lev] = 1
                if trend:
                    x[:, n_lev] = tt
                mu, wl, conv = _explicit_irls(yy, x, ww, oo)
                assert conv == bool(f.converged[i])
                got_mu = (f.wmu[:, :, i].T[v]) / ww
                np.testing.assert_allclose(got_mu, mu, rtol=1e-10)
                np.testing.assert_allclose(f.w[:, :, i].T[v], wl, rtol=1e-10)


def test_virtual_levels_give_the_same_fits() -> None:
    """Splitting levels into virtual levels (less padding) changes nothing but the layout."""
    rng = np.random.default_rng(3)
    m_rows, n_lev, n_fits = 12, 3, 5
    y = rng.poisson(4, (m_rows, n_lev, n_fits)).astype(float)
    y[:, 1, 0] = 0  # a level without counts
    valid = np.ones_like(y, dtype=bool)
    valid[9:, 2, :] = False
    y[~valid] = 0
    t = np.broadcast_to(np.arange(m_rows * n_lev, dtype=float).reshape(n_lev, m_rows).T[:, :, None], y.shape).copy()
    prior = np.where(valid, rng.uniform(0.5, 1.5, y.shape), 0.0)

    # split every level into two virtual levels of 6 rows
    def split(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[:6], a[6:]], axis=1)[:, [0, 3, 1, 4, 2, 5], :]

    lmap = np.array([0, 0, 1, 1, 2, 2])
    whole = _glm.Chunk(y, t, valid, None)
    parts = _glm.Chunk(split(y), split(t), split(valid), None, lmap)
    for trend in (True, False):
        for pr in (None, prior):
            a = whole.fit(pr, np.full(n_fits, trend))
            b = parts.fit(None if pr is None else split(pr), np.full(n_fits, trend))
            np.testing.assert_array_equal(a.converged, b.converged)
            np.testing.assert_allclose(b.alpha, a.alpha, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(b.beta, a.beta, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(b.s0, a.s0, rtol=1e-12)
            np.testing.assert_allclose(b.wmu, split(a.wmu), rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(b.w, split(a.w), rtol=1e-12, atol=1e-300)


def test_design_levels_are_split_with_little_padding() -> None:
    dates = Frequency.WEEKLY.step(np.datetime64("2001-01-01"), 416)
    design = build_designs(
        dates, Frequency.WEEKLY, np.arange(364, 416), b=5, w=3, no_periods=10, past_weeks_not_included=26
    )
    assert design.lmap.tolist() == sorted(design.lmap.tolist())
    assert set(design.lmap.tolist()) == set(range(10))
    assert design.valid.mean() > 0.8  # one level per row of 35 would be 68% full
    per_level = np.zeros((design.ks.size, 10), dtype=int)
    np.add.at(per_level, (slice(None), design.lmap), design.valid.sum(axis=2))
    assert (per_level[:, 9] == 35).all()  # the reference windows: 5 years x 7 weeks
    assert (design.level_p == 9).all()


def _explicit_irls(y: np.ndarray, x: np.ndarray, prior: np.ndarray, off: np.ndarray) -> tuple[Any, Any, bool]:
    mu = y + 0.1
    eta = np.log(mu)

    def dev(m: np.ndarray) -> float:
        r = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / m), 0) - (y - m)
        return float(2 * np.sum(prior * r))

    devold = dev(mu)
    for _ in range(25):
        z = eta - off + (y - mu) / mu
        w = np.sqrt(prior * mu)
        coef = np.linalg.lstsq(x * w[:, None], z * w, rcond=None)[0]
        wlast = w**2
        eta = x @ coef + off
        mu = np.maximum(np.exp(eta), _glm.EPS)
        d = dev(mu)
        if abs(d - devold) / (abs(d) + 0.1) < 1e-8:
            return mu, wlast, True
        devold = d
    return mu, wlast, False


# ---- thresholds (exact values of test-farringtonFlexible.R) -------------------------------------------
@pytest.mark.parametrize(
    ("powertrans", "expected"),
    [
        ("none", [1.3073128, 8.6926872, 0.0907246, 0.8124165]),
        ("1/2", [1.9891097, 9.3744842, 0.1189986, 0.6857951]),
        ("2/3", [1.8084477, 9.1154825, 0.1094727, 0.7289546]),
    ],
)
def test_delta_threshold_values_from_r_tests(powertrans: Any, expected: list[float]) -> None:
    """test-farringtonFlexible.R, "THRESHOLD FUNCTION FARRINGTON": mu = 5, se = 0.2, y = 8, phi = 1, alpha = 0.05."""
    out = delta_threshold(np.array([5.0]), np.array([0.2]), np.array([1.0]), powertrans, 0.05, np.array([8.0]))
    got = np.array([float(v[0]) for v in out])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    assert got[2] <= 1
    assert got[0] >= 0
    assert got[1] > got[0]


@pytest.mark.parametrize(
    ("phi", "method", "expected"),
    [
        (1.5, "muan", [8.0, 24.0, 0.8597797, 0.4193982]),
        (1.0, "muan", [9.0, 22.0, 0.9093099, 0.4605347]),
        (1.5, "nbPlugin", [1.0, 10.0, 0.03763657, 1.11918153]),
        (1.0, "nbPlugin", [2.0, 9.0, 0.01369527, 1.27061541]),
    ],
)
def test_noufaily_threshold_values_from_r_tests(phi: float, method: Any, expected: list[float]) -> None:
    """test-farringtonFlexible.R, "THRESHOLD FUNCTION NOUFAILY": eta = log 5, se = log 2, y = 11."""
    out = noufaily_threshold(
        np.array([np.log(5.0)]), np.array([np.log(2.0)]), np.array([phi]), 0.05, np.array([11.0]), method
    )
    got = np.array([float(v[0]) for v in out])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_discrete_quantiles_edge_cases() -> None:
    assert qpois(0.95, np.array([0.0]))[0] == 0
    assert qnbinom(0.95, np.array([0.0]), np.array([0.5]))[0] == 0
    # R: qpois(0.95, 5) = 9, qnbinom(0.95, size = 10, prob = 0.5) = 18
    assert qpois(0.95, np.array([5.0]))[0] == 9
    assert qnbinom(0.95, np.array([10.0]), np.array([0.5]))[0] == 18
    assert np.isnan(qpois(0.95, np.array([np.nan]))[0])


def test_discrete_quantiles_beyond_2_53_finish() -> None:
    """Quantiles above 2^53 (where not every count is a double) used to hang the bisection (muan with a large
    standard error).  R's search also stops refining there; the result is the normal quantile to 1e-13."""
    z = 1.6448536269514722  # qnorm(0.95)
    size, prob = np.array([3.51660458e23, 5.14245060e16]), np.array([0.81404816, 0.64601578])
    mean, sd = size * (1 - prob) / prob, np.sqrt(size * (1 - prob)) / prob
    np.testing.assert_allclose(qnbinom(0.95, size, prob), mean + z * sd, rtol=1e-13)
    lam = np.array([1e16, 2.0**60, 1e20, 1e300])
    np.testing.assert_allclose(qpois(0.95, lam), lam + z * np.sqrt(lam), rtol=1e-13)


def test_muan_on_influenza_districts_finishes_with_r_alarms(data_dir: Path) -> None:
    """Regression: ``threshold_method="muan"`` hung in the quantile search on these districts (2008).

    R (``farringtonFlexible``, Noufaily settings, ``thresholdMethod = "muan"``, the first 20 districts,
    2008-01-07 to the end of the data: 50 weeks) gives 14 alarms; every alarm and upper bound was checked
    identical to R's when this was fixed."""
    panel = load_panel(data_dir, "influenza_bavaria_bw_districts_weekly.csv", None).take(list(range(20)))
    res = detect(
        panel, "farrington-flexible", preset="noufaily", threshold_method="muan", start="2008-01-07", end="2008-12-29"
    )
    assert res.observed.shape == (20, 50)
    assert int(res.alarm.sum()) == 14


def test_threads_give_bit_identical_results(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunks of fits run on ``DHNET_THREADS`` threads; each chunk is computed the same way on any."""
    panel = load_panel(data_dir, "influenza_bavaria_bw_districts_weekly.csv", None).take(list(range(30)))
    monkeypatch.setattr(farrington, "_CHUNK_ELEMENTS", 1 << 17)  # several chunks
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("DHNET_THREADS", threads)
        results.append(detect(panel, "farrington-flexible", preset="noufaily", start="2008-01-07"))
    one, many = results
    for name in ("expected", "upperbound", "alarm", "score", "pvalue"):
        np.testing.assert_array_equal(getattr(one, name), getattr(many, name), err_msg=name)
    for name in one.extra:
        np.testing.assert_array_equal(one.extra[name], many.extra[name], err_msg=name)


# ---- whole runs ----------------------------------------------------------------------------------------
def test_alarms_only_where_expected_as_r_test(data_dir: Path) -> None:
    """test-farringtonFlexible.R, "there are only alarms when expected" (salmonella.agona, nbPlugin, alpha 0.1)."""
    panel = load_panel(data_dir, "salmonella_agona_uk_weekly.csv", None)
    control = FarringtonFlexibleControl(threshold_method="nbPlugin", alpha=0.1)
    res = farrington_flexible(panel, control, start="1995-01-16")
    assert not res.alarm[res.observed == 0].any()
    assert (np.nan_to_num(res.observed > res.upperbound)).sum() == res.alarm.sum()
    assert res.alarm.sum() > 0


def test_no_convergence_as_r_test() -> None:
    """test-farringtonFlexible.R, "NO CONVERGENCE": R warns and gives NA; we give NaN and no alarm."""
    ts = np.zeros(698)
    ts[695] = 1
    panel = Panel.from_counts(ts, start="2001-01-01", freq="weekly")
    control = FarringtonFlexibleControl(
        no_periods=10,
        alpha=0.01,
        b=5,
        w=4,
        weights_threshold=2.58,
        past_weeks_not_included=26,
        p_threshold_trend=1.0,
        threshold_method="nbPlugin",
        limit54=(4, 5),
    )
    res = run(panel, control, np.array([696, 697]))
    assert not res.alarm.any()
    assert np.isnan(res.upperbound).all()
    assert np.isnan(res.expected).all()
    assert np.isnan(res.score).all()
    assert res.pvalue is not None
    assert np.isnan(res.pvalue).all()
    np.testing.assert_array_equal(res.observed, [[0.0, 0.0]])


def test_population_offsets_of_several_series(data_dir: Path) -> None:
    """test-farringtonFlexible.R, "population offsets of multivariate sts are handled correctly"."""
    one = load_panel(data_dir, "salmonella_agona_uk_weekly.csv", None)
    panel = Panel.from_counts(
        np.vstack([one.counts, one.counts]),
        start=one.dates[0],
        names=["a", "b"],
        population=np.array([10000.0, 20000.0]),
    )
    control = dataclasses.replace(noufaily_preset(), population_offset=True, limit54=(4, 5), alpha=0.01)
    res = farrington_flexible(panel, control, start="1995-06-05")
    np.testing.assert_allclose(res.upperbound[0], res.upperbound[1], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(res.expected[0], res.expected[1], rtol=1e-9, equal_nan=True)


def test_no_trend_when_b_below_three(data_dir: Path) -> None:
    """test-farringtonFlexible.R, "no time trend in no time trend" (b = 2)."""
    panel = load_panel(data_dir, "mortality_denmark_agegroups_weekly.csv", ["[85,Inf)"])
    res = farrington_flexible(panel, dataclasses.replace(noufaily_preset(), b=2), start="2008-01-07")
    assert not res.extra["trend"].any()
    assert np.isnan(res.extra["trend_coefficient"]).all()
    res5 = farrington_flexible(panel, noufaily_preset(), start="2008-01-07")
    assert res5.extra["trend"].any()
    np.testing.assert_array_equal(np.isnan(res5.extra["trend_coefficient"]), ~res5.extra["trend"])
    assert (res5.extra["phi"] >= 1).all()


def test_population_offset_without_population_is_no_offset(data_dir: Path) -> None:
    panel = load_panel(data_dir, "salmonella_agona_uk_weekly.csv", None)
    a = farrington_flexible(panel, start="1995-06-05")
    b = farrington_flexible(panel, FarringtonFlexibleControl(population_offset=True), start="1995-06-05")
    np.testing.assert_array_equal(a.upperbound, b.upperbound)


def test_detect_entry_point_and_result_shape(data_dir: Path) -> None:
    panel = load_panel(data_dir, "measles_germany_states_weekly.csv", None)
    res = detect(panel, "farrington-flexible", preset="noufaily", b=1, start="2007-01-01")
    assert res.method == "farrington-flexible"
    assert res.observed.shape == (16, 52)
    assert res.pvalue is not None
    assert res.pvalue.shape == (16, 52)
    assert set(res.extra) == {"trend", "phi", "trend_coefficient"}
    # series evaluated together or one by one give the same result
    single = detect(panel.take([3]), "farrington-flexible", preset="noufaily", b=1, start="2007-01-01")
    np.testing.assert_array_equal(single.upperbound[0], res.upperbound[3])
    np.testing.assert_array_equal(single.alarm[0], res.alarm[3])
