"""Numba kernels of the GLR detectors: line-by-line ports of the C routines of R's ``surveillance``.

The C source is ``src/surveillance.c`` of the R package ``surveillance`` 1.20.3 (Michael Höhle, GPL-2):
``lr_cusum``, ``glr_cusum`` (helper ``glr``), ``glr_cusum_window`` (helper ``glr_window``),
``glr_epi_window``, ``lr_cusum_nb``, ``glr_nb_window`` and ``glr_nbgeneral_window``.  Every arithmetic
expression keeps the C evaluation order, starting values, stopping rules and quirks, because the alarm
decisions (``GLR >= c.ARL``) must agree with R:

* ``glr_cusum_window`` starts at ``n = Mtilde`` and its windows hold at least ``Mtilde + 1`` observations;
* the Newton iterations of the negative binomial charts start at the previous ``k``'s estimate (0.5 for the
  first ``k``), stop after 1000 steps, when the estimate drops below -18 or when a step is below 1e-6;
* ``glr_nbgeneral_window`` (epidemic NB chart) estimates its parameter with the *intercept* chart's score
  and Fisher information (as the C code does) and evaluates the epidemic likelihood ratio at it;
* ``fmax`` is C99's (a NaN argument is ignored), NaN comparisons are false, and ``-inf * 0`` is NaN.

Each segment kernel returns ``N`` as the C code does: the 1-based position of the first alarm, or
``len(x) + 1`` when there is none; ``val`` (the statistic) and ``cases`` are filled up to the alarm.
The restart logic of ``algo.glrnb`` (after an alarm the detector starts afresh on the remaining periods)
is :func:`run_series`.

Counts are passed as ``float64`` arrays holding integers (the C code reads ``int``; every count is exactly
representable).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

__all__ = [
    "K_GLR_EPI",
    "K_GLR_NB",
    "K_GLR_NB_EPI",
    "K_GLR_POIS",
    "K_GLR_POIS_WINDOW",
    "K_LR_NB",
    "K_LR_POIS",
    "run_panel",
    "run_series",
    "segment",
]

# Which C routine runs a segment (see ``algo.glrnb``'s dispatch).
K_LR_POIS = 0  # lr_cusum: Poisson, known theta
K_LR_NB = 1  # lr_cusum_nb: negative binomial, known theta
K_GLR_POIS = 2  # glr_cusum: Poisson, estimated theta, M <= 0
K_GLR_POIS_WINDOW = 3  # glr_cusum_window: Poisson, estimated theta, M > 0
K_GLR_NB = 4  # glr_nb_window: negative binomial, estimated theta
K_GLR_EPI = 5  # glr_epi_window: Poisson epidemic chart
K_GLR_NB_EPI = 6  # glr_nbgeneral_window: negative binomial epidemic chart

_JIT: dict[str, Any] = {"cache": True, "error_model": "numpy", "nogil": True}

_NO_CASES = 1e99  # R's value when no count up to xMax sounds an alarm (NB, ret = "cases")


def _fmax(a: float, b: float) -> float:
    """C99 ``fmax``: the larger argument, ignoring a NaN one."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a >= b else b


fmax = njit(**_JIT)(_fmax)


# ---------------------------------------------------------------------------------------------------------------
# Poisson intercept charts
# ---------------------------------------------------------------------------------------------------------------
def _lr_cusum(x: Any, mu0: Any, kappa: float, c_arl: float, ret: int, val: Any, cases: Any) -> int:
    lx: int = x.shape[0]
    n = 0
    big_n = lx
    while n < lx:
        zn = kappa * x[n] + (1 - math.exp(kappa)) * mu0[n]
        if n == 0:
            val[n] = fmax(0.0, zn)
            if ret == 2:
                cases[n] = (c_arl + mu0[n] * (math.exp(kappa) - 1)) / kappa
        else:
            val[n] = fmax(0.0, val[n - 1] + zn)
            if ret == 2:
                cases[n] = (c_arl - val[n - 1] + mu0[n] * (math.exp(kappa) - 1)) / kappa
        if val[n] > c_arl:
            big_n = n
            break
        n += 1
    return big_n + 1


lr_cusum = njit(**_JIT)(_lr_cusum)


def _glr_pois(n: int, x: Any, mu0: Any, d: int) -> float:
    sumx = 0.0
    summu0 = 0.0
    max_glr = -1e99
    for k in range(n, -1, -1):
        sumx += x[k]
        summu0 += mu0[k]
        kappa_ml = d * fmax(0.0, d * math.log(sumx / summu0))
        s = kappa_ml * sumx + (1 - math.exp(kappa_ml)) * summu0
        if s > max_glr:
            max_glr = s
    return max_glr


glr_pois = njit(**_JIT)(_glr_pois)


def _glr_pois_window(n: int, x: Any, mu0: Any, d: int, m: int, mtilde: int) -> float:
    max_glr = -1e99
    sumx = 0.0
    summu0 = 0.0
    for el in range(n - mtilde + 1, n + 1):
        sumx += x[el]
        summu0 += mu0[el]
    k = n - mtilde
    while k >= fmax(0.0, float(n - m)):
        sumx += x[k]
        summu0 += mu0[k]
        kappa_ml = d * fmax(0.0, d * math.log(sumx / summu0))
        s = kappa_ml * sumx + (1 - math.exp(kappa_ml)) * summu0
        if s > max_glr:
            max_glr = s
        k -= 1
    return max_glr


glr_pois_window = njit(**_JIT)(_glr_pois_window)


def _glr_cusum(
    x: Any, mu0: Any, windowed: bool, m: int, mtilde: int, c_arl: float, d: int, ret: int, val: Any, cases: Any
) -> int:
    """``glr_cusum`` (``windowed`` false, ``mtilde`` is its ``n0``) and ``glr_cusum_window``."""
    lx: int = x.shape[0]
    n = mtilde if windowed else max(mtilde - 1, 0)
    big_n = lx
    while n < lx:
        if windowed:
            val[n] = glr_pois_window(n, x, mu0, d, m, mtilde)
        else:
            val[n] = glr_pois(n, x, mu0, d)
        if ret == 2:
            xnnew = -1
            glrnew = c_arl - d
            xnold = x[n]
            while d * glrnew < c_arl * d:
                xnnew += 1
                x[n] = xnnew
                glrnew = glr_pois_window(n, x, mu0, d, m, mtilde) if windowed else glr_pois(n, x, mu0, d)
            cases[n] = xnnew
            x[n] = xnold
        if val[n] >= c_arl:
            big_n = n
            break
        n += 1
    return big_n + 1


glr_cusum = njit(**_JIT)(_glr_cusum)


# ---------------------------------------------------------------------------------------------------------------
# Poisson epidemic chart (Held et al. 2005)
# ---------------------------------------------------------------------------------------------------------------
def _epi_score(phi: float, x: Any, xm1: Any, mu0: Any, k: int, n: int) -> float:
    s = 0.0
    for i in range(k, n + 1):
        s += (x[i] * xm1[i]) / (math.exp(phi) * xm1[i] + mu0[i]) - xm1[i]
    return math.exp(phi) * s


epi_score = njit(**_JIT)(_epi_score)


def _epi_fisher(phi: float, x: Any, xm1: Any, mu0: Any, k: int, n: int, scorephi: float) -> float:
    s = 0.0
    for i in range(k, n + 1):
        t = math.exp(phi) * xm1[i] + mu0[i]
        s += (x[i] * (xm1[i] * xm1[i])) / (t * t)
    return -scorephi + math.exp(2.0 * phi) * s


epi_fisher = njit(**_JIT)(_epi_fisher)


def _glr_epi_window(x: Any, mu0: Any, mtilde: int, m: int, xm10: float, c_arl: float, val: Any) -> int:
    lx: int = x.shape[0]
    n0 = max(mtilde - 1, 0)
    xm1 = np.empty(lx)
    xm1[0] = xm10
    for i in range(1, lx):
        xm1[i] = x[i - 1]
    big_n = lx
    n = n0
    while n < lx:
        max_glr = -1e99
        lambda_ml = 0.5
        low = 0 if m == -1 else int(fmax(0.0, float(n - m)))
        up = n - (mtilde - 1)
        for k in range(low, up + 1):
            phi_old = 2.0
            phi_new = math.log(lambda_ml)
            it = 0
            while (phi_new > -18) and (abs(math.exp(phi_new) - math.exp(phi_old)) > 1e-6) and (it < 1000):
                it += 1
                phi_old = phi_new
                scorephi = epi_score(phi_old, x, xm1, mu0, k, n)
                phi_new = phi_old + scorephi / epi_fisher(phi_old, x, xm1, mu0, k, n, scorephi)
            lambda_ml = math.exp(phi_new)
            lnk = 0.0
            for i in range(k, n + 1):
                lnk += x[i] * math.log(lambda_ml * xm1[i] / mu0[i] + 1.0) - lambda_ml * xm1[i]
            if lnk > max_glr:
                max_glr = lnk
        val[n] = max_glr
        if max_glr > c_arl:
            big_n = n
            break
        n += 1
    return big_n + 1


glr_epi_window = njit(**_JIT)(_glr_epi_window)


# ---------------------------------------------------------------------------------------------------------------
# Negative binomial charts (Höhle and Paul 2008)
# ---------------------------------------------------------------------------------------------------------------
def _lr_cusum_nb(x: Any, mu0: Any, alpha: float, kappa: float, c_arl: float, ret: int, val: Any, cases: Any) -> int:
    lx: int = x.shape[0]
    n = 0
    big_n = lx
    while n < lx:
        ratio = math.log((1 + alpha * mu0[n]) / (1 + alpha * mu0[n] * math.exp(kappa)))
        zn = kappa * x[n] + (x[n] + 1 / alpha) * ratio
        if n == 0:
            val[n] = fmax(0.0, zn)
            if ret == 2:
                cases[n] = -(ratio - c_arl * alpha) / alpha / (kappa + ratio)
        else:
            val[n] = fmax(0.0, val[n - 1] + zn)
            if ret == 2:
                cases[n] = -(val[n - 1] * alpha + ratio - c_arl * alpha) / alpha / (kappa + ratio)
        if val[n] > c_arl:
            big_n = n
            break
        n += 1
    return big_n + 1


lr_cusum_nb = njit(**_JIT)(_lr_cusum_nb)


def _nb_score(kappa: float, x: Any, mu0: Any, alpha: float, k: int, n: int) -> float:
    s = 0.0
    for i in range(k, n + 1):
        s += (x[i] - math.exp(kappa) * mu0[i]) / (1 + alpha * math.exp(kappa) * mu0[i])
    return s


nb_score = njit(**_JIT)(_nb_score)


def _nb_fisher(kappa: float, x: Any, mu0: Any, alpha: float, k: int, n: int) -> float:
    s = 0.0
    for i in range(k, n + 1):
        t = 1 + alpha * math.exp(kappa) * mu0[i]
        s += mu0[i] * (alpha * x[i] + 1) / (t * t)
    return math.exp(kappa) * s


nb_fisher = njit(**_JIT)(_nb_fisher)


def _nb_lnk(kappa: float, x: Any, mu0: Any, alpha: float, k: int, n: int) -> float:
    lnk = 0.0
    for i in range(k, n + 1):
        lnk += kappa * x[i] + (x[i] + 1 / alpha) * math.log(
            (1 + alpha * mu0[i]) / (1 + alpha * mu0[i] * math.exp(kappa))
        )
    return lnk


nb_lnk = njit(**_JIT)(_nb_lnk)


def _nb_epi_lnk(theta: float, x: Any, xm1: Any, mu0: Any, alpha: float, k: int, n: int) -> float:
    lnk = 0.0
    for i in range(k, n + 1):
        mu1i = mu0[i] + math.exp(theta) * xm1[i]
        lnk += x[i] * (
            math.log(mu1i) - math.log(mu0[i]) + math.log(1 + alpha * mu0[i]) - math.log(1 + alpha * mu1i)
        ) + 1 / alpha * (math.log(1 + alpha * mu0[i]) - math.log(1 + alpha * mu1i))
    return lnk


nb_epi_lnk = njit(**_JIT)(_nb_epi_lnk)


def _glr_nb_at(n: int, x: Any, xm1: Any, mu0: Any, alpha: float, m: int, mtilde: int, d: int, epi: bool) -> float:
    """The statistic of ``glr_nb_window`` (``epi`` false) or ``glr_nbgeneral_window`` at position ``n``."""
    max_glr = -1e99
    kappa_ml = 0.5
    low = 0 if m == -1 else int(fmax(0.0, float(n - m)))
    up = n - (mtilde - 1)
    for k in range(low, up + 1):
        kappa_old = 0.4
        kappa_new = kappa_ml
        it = 0
        while (kappa_new > -18) and (abs(kappa_new - kappa_old) > 1e-6) and (it < 1000):
            it += 1
            kappa_old = kappa_new
            kappa_new = kappa_old + nb_score(kappa_old, x, mu0, alpha, k, n) / nb_fisher(kappa_old, x, mu0, alpha, k, n)
        if epi:
            kappa_ml = kappa_new
            lnk = nb_epi_lnk(kappa_ml, x, xm1, mu0, alpha, k, n)
        else:
            kappa_ml = d * fmax(0.0, d * kappa_new)
            lnk = nb_lnk(kappa_ml, x, mu0, alpha, k, n)
        if lnk > max_glr:
            max_glr = lnk
    return max_glr


glr_nb_at = njit(**_JIT)(_glr_nb_at)


def _glr_nb_window(
    x: Any, mu0: Any, alpha: float, mtilde: int, m: int, xm10: float, c_arl: float, d: int, epi: bool, val: Any
) -> int:
    """``glr_nb_window`` (``epi`` false) and ``glr_nbgeneral_window`` (``epi`` true, ``d`` ignored)."""
    lx: int = x.shape[0]
    xm1 = np.empty(lx)
    xm1[0] = xm10
    for i in range(1, lx):
        xm1[i] = x[i - 1]
    n = max(mtilde - 1, 0)
    big_n = lx
    while n < lx:
        g = glr_nb_at(n, x, xm1, mu0, alpha, m, mtilde, d, epi)
        val[n] = g
        if g >= c_arl:
            big_n = n
            break
        n += 1
    return big_n + 1


glr_nb_window = njit(**_JIT)(_glr_nb_window)


def _nb_cases(
    x: Any, mu0: Any, alpha: float, mtilde: int, m: int, c_arl: float, d: int, x_max: int, big_n: int, cases: Any
) -> None:
    """The brute-force search of ``algo.glrnb`` for ``ret = "cases"`` (NB intercept chart, estimated theta).

    For every position up to the alarm, R changes the count there one by one (up when there is no alarm,
    down at the alarm) and reruns ``glr_nb_window`` until the alarm status flips, within ``1 <= x <= xMax``.
    Earlier positions are unchanged and had no alarm, so only the statistic at the position itself matters;
    this evaluates just that one.  R's loop enters only while the count is in ``[1, xMax]``: a zero count
    without an alarm gives 1e99 (R's "no such count"), as does a count that reaches ``xMax + 1``; an alarm
    that persists down to zero gives NaN (R's NA, later 0).  With ``dir = "dec"`` a larger count cannot
    raise the statistic, so R's climb to ``xMax`` (up to 10^4 reruns) is short-cut to 1e99.
    """
    lx: int = x.shape[0]
    n0 = max(mtilde - 1, 0)
    xm1 = np.zeros(lx)  # unused by the intercept chart
    myx = x.copy()
    for pos in range(min(lx, big_n)):
        got_alarm = big_n == pos + 1
        direction = -1 if got_alarm else 1
        found = False
        xorig = myx[pos]
        if not got_alarm and d == -1 and 1 <= xorig <= x_max:
            cases[pos] = _NO_CASES
            continue
        while (not found) and (myx[pos] <= x_max) and (myx[pos] >= 1):
            myx[pos] = myx[pos] + direction
            alarm = pos >= n0 and glr_nb_at(pos, myx, xm1, mu0, alpha, m, mtilde, d, False) >= c_arl
            if (not got_alarm) and alarm:
                found = True
                cases[pos] = myx[pos]
            if got_alarm and not alarm:
                found = True
                cases[pos] = myx[pos] + 1
        if not found:
            cases[pos] = np.nan if got_alarm else _NO_CASES
        myx[pos] = xorig


nb_cases = njit(**_JIT)(_nb_cases)


# ---------------------------------------------------------------------------------------------------------------
# One segment, one series (restarts), a panel
# ---------------------------------------------------------------------------------------------------------------
def _segment(
    kind: int,
    x: Any,
    mu0: Any,
    alpha: float,
    theta: float,
    c_arl: float,
    m: int,
    mtilde: int,
    d: int,
    ret: int,
    x_max: int,
    xm10: float,
    val: Any,
    cases: Any,
) -> int:
    """Run the C routine ``kind`` on one segment (``x`` is modified and restored); return R's ``res$N``."""
    if kind == K_LR_POIS:
        return lr_cusum(x, mu0, theta, c_arl, ret, val, cases)
    if kind == K_LR_NB:
        return lr_cusum_nb(x, mu0, alpha, theta, c_arl, ret, val, cases)
    if kind == K_GLR_POIS:
        return glr_cusum(x, mu0, False, m, mtilde, c_arl, d, ret, val, cases)
    if kind == K_GLR_POIS_WINDOW:
        return glr_cusum(x, mu0, True, m, mtilde, c_arl, d, ret, val, cases)
    if kind == K_GLR_EPI:
        return glr_epi_window(x, mu0, mtilde, m, xm10, c_arl, val)
    epi = kind == K_GLR_NB_EPI
    big_n: int = glr_nb_window(x, mu0, alpha, mtilde, m, xm10, c_arl, d, epi, val)
    if ret == 2 and not epi:
        nb_cases(x, mu0, alpha, mtilde, m, c_arl, d, x_max, big_n, cases)
    return big_n


segment = njit(**_JIT)(_segment)


def _run_series(
    kind: int,
    x: Any,
    mu0: Any,
    alpha: float,
    theta: float,
    c_arl: float,
    m: int,
    mtilde: int,
    d: int,
    ret: int,
    x_max: int,
    upperbound: Any,
    score: Any,
    alarm: Any,
) -> None:
    """``algo.glrnb``'s loop: run a segment, and after an alarm restart on the periods that follow.

    ``upperbound`` receives R's upperbound (``cases`` when ``ret == 2``, else the statistic), ``score`` the
    statistic; both with R's final clean-up (NaN and negative values become 0).
    """
    total = x.shape[0]
    done = 0
    xm10 = 0.0
    while done < total:
        xs = x[done:].copy()
        ms = mu0[done:]
        lx = total - done
        val = np.zeros(lx)
        cases = np.zeros(lx)
        big_n = segment(kind, xs, ms, alpha, theta, c_arl, m, mtilde, d, ret, x_max, xm10, val, cases)
        upto = min(big_n, lx)
        for i in range(upto):
            score[done + i] = val[i]
            upperbound[done + i] = cases[i] if ret == 2 else val[i]
        if big_n <= lx:
            alarm[done + big_n - 1] = True
            xm10 = xs[big_n - 1]
        done += big_n
    for i in range(total):
        if not (upperbound[i] >= 0.0):
            upperbound[i] = 0.0
        if not (score[i] >= 0.0):
            score[i] = 0.0


run_series = njit(**_JIT)(_run_series)


def _run_panel(
    kind: int,
    x: Any,
    mu0: Any,
    alpha: Any,
    theta: float,
    c_arl: float,
    m: int,
    mtilde: int,
    d: int,
    ret: int,
    x_max: int,
    upperbound: Any,
    score: Any,
    alarm: Any,
) -> None:
    """:func:`run_series` for every row of ``x`` (rows whose ``mu0`` or ``alpha`` is not finite are skipped)."""
    for r in prange(x.shape[0]):
        ok = alpha[r] == alpha[r] and abs(alpha[r]) < np.inf
        for i in range(x.shape[1]):
            if not (mu0[r, i] > 0.0 and mu0[r, i] < np.inf):
                ok = False
        if ok:
            run_series(
                kind,
                x[r],
                mu0[r],
                alpha[r],
                theta,
                c_arl,
                m,
                mtilde,
                d,
                ret,
                x_max,
                upperbound[r],
                score[r],
                alarm[r],
            )


run_panel = njit(parallel=True, **_JIT)(_run_panel)
