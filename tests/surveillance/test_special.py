"""``dhnet.surveillance._special``: scipy's special-function ufuncs without ``scipy.special``'s package import,
and the normal quantile from the standard library (values of R's ``qnorm``, R 4.2)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dhnet.surveillance import _special


def test_the_ufuncs_are_scipys() -> None:
    from scipy import special

    u = _special.ufuncs()
    for name in ("betainc", "betaincc", "gammainc", "gammaincc", "ndtr", "stdtr"):
        assert getattr(u, name) is getattr(special, name), name
    x = np.linspace(0.01, 0.99, 7)
    np.testing.assert_array_equal(u.betainc(3.5, 2.0, x), special.betainc(3.5, 2.0, x))


def test_loading_the_ufuncs_leaves_scipy_special_importable() -> None:
    code = (
        "import sys\n"
        "from dhnet.surveillance import _special\n"
        "u = _special.ufuncs()\n"
        "assert 'scipy.special' not in sys.modules, 'the bare package stayed'\n"
        "assert 'scipy._lib._array_api' not in sys.modules\n"
        "import scipy.special\n"
        "assert scipy.special.betainc is u.betainc\n"
        "assert scipy.special.logsumexp([0.0, 0.0]) > 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("p", "r_qnorm"),
    [(0.95, 1.6448536269514715), (0.975, 1.9599639845400536), (0.5, 0.0), (0.01, -2.3263478740408408)],
)
def test_ndtri_is_r_qnorm(p: float, r_qnorm: float) -> None:
    """R: ``sprintf("%.17g", qnorm(p))`` (AS241, as the standard library's ``NormalDist.inv_cdf``)."""
    assert _special.ndtri(p) == r_qnorm


def test_ndtri_agrees_with_scipy() -> None:
    from scipy import special

    p = np.linspace(1e-6, 1 - 1e-6, 2001)
    got = np.array([_special.ndtri(float(v)) for v in p])
    np.testing.assert_allclose(got, special.ndtri(p), rtol=2e-15, atol=1e-15)
