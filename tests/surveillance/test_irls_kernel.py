"""The compiled IRLS kernel (``src/dhnet/surveillance/_irls.c``) against the numpy path it replaces.

``tests/surveillance/test_farrington.py`` runs every farringtonFlexible test (R goldens included) on both paths;
here: the kernel is built, its ``exp`` is accurate, and on the 140 influenza districts (the benchmark) both
paths give the same alarms and the same values to about 1e-12 (the kernel adds the rows in numpy's order, only
``exp`` differs by an ulp or so).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dhnet.surveillance import _glm, detect
from tests.surveillance.test_farrington import load_panel


def test_the_kernel_is_built() -> None:
    """``pip install -e .`` (bin/setup) compiles it; it is optional only so that an install without a C compiler
    still works (on the numpy path).  ``DHNET_NO_CKERNEL=1`` switches it off."""
    if os.environ.get("DHNET_NO_CKERNEL", "").strip() not in ("", "0"):
        assert _glm.kernel is None
        pytest.skip("DHNET_NO_CKERNEL is set")
    assert _glm.kernel is not None, "dhnet.surveillance._irls is not built: run `make setup` (pip install -e .)"
    assert _glm.kernel.VERSION == _glm._KERNEL_VERSION


def _kernel_exp(x: np.ndarray) -> np.ndarray:
    if _glm.kernel is None:
        pytest.skip("the compiled kernel is not available")
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _glm.kernel.exp(x, out)
    return out


def test_kernel_exp_within_one_ulp() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.uniform(-745.0, 709.7, 200_000),
            rng.uniform(-40.0, 40.0, 200_000),
            rng.uniform(-1e-3, 1e-3, 10_000),
            np.arange(-745, 710, dtype=np.float64),
            [0.0, -0.0, 1.0, -1.0, 709.78, -708.39, -700.0, 5e-324, -5e-324],
        ]
    )
    got, want = _kernel_exp(x), np.exp(x)
    ulp = np.spacing(np.abs(want))
    assert np.all(np.abs(got - want) <= ulp), float(np.max(np.abs(got - want) / ulp))
    assert _kernel_exp(np.array([0.0]))[0] == 1.0  # exactly: unparked fits multiply their weights by exp(0)


def test_kernel_exp_special_values() -> None:
    x = np.array([np.nan, np.inf, -np.inf, 710.0, 1000.0, -746.0, -1000.0, -744.0, -720.0])
    got = _kernel_exp(x)
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[[1, 3, 4]], np.inf)
    np.testing.assert_array_equal(got[[2, 5, 6]], 0.0)
    # subnormal results, rounded once
    np.testing.assert_allclose(got[7:], np.exp(x[7:]), rtol=1e-3)
    assert np.all(got[7:] > 0.0)


def test_kernel_and_numpy_path_agree_on_the_benchmark(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if _glm.kernel is None:
        pytest.skip("the compiled kernel is not available")
    panel = load_panel(data_dir, "influenza_bavaria_bw_districts_weekly.csv", None)
    c = detect(panel, "farrington-flexible", preset="noufaily", start="2007-12-24")
    monkeypatch.setattr(_glm, "kernel", None)
    n = detect(panel, "farrington-flexible", preset="noufaily", start="2007-12-24")
    np.testing.assert_array_equal(c.alarm, n.alarm)
    for name in ("expected", "upperbound", "score", "pvalue"):
        np.testing.assert_allclose(getattr(c, name), getattr(n, name), rtol=1e-10, atol=1e-14, equal_nan=True)
    np.testing.assert_array_equal(c.extra["trend"], n.extra["trend"])
    np.testing.assert_allclose(c.extra["phi"], n.extra["phi"], rtol=1e-10, equal_nan=True)
