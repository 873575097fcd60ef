"""Reference periods and GLM designs of ``farringtonFlexible`` (private helper of :mod:`.farrington`).

For every evaluated period ``k`` this module decides which earlier periods enter
the quasi-Poisson fit, their time covariate ``wtime`` and their seasonal factor
level, exactly as R's ``surveillance`` 1.20.3 does for a date-indexed ``sts``
(``epochAsDate = TRUE``):

* ``algo.farrington.referencetimepoints``: the reference periods are the same
  calendar date 1..b years back (``seq(day, by = "-1 year")``; 29 February goes
  to 1 March), and for weekly data each is moved to the *nearest* date with the
  weekday of the evaluated period -- 52 or 53 weeks per year, not a fixed 52 rows;
* ``blocks``: a window of ``w`` periods either side of each reference period
  (level ``noPeriods``), the ``noPeriods - 1`` blocks in between, including R's
  integer-sequence quirks (``a:(a - 1)`` counts down, a window starting at the
  row before the first is silently cut);
* ``algo.farrington.data.glm``: the last ``pastWeeksNotIncluded + 1`` periods are
  dropped and ``wtime`` is the distance in days to the first included period
  divided by the length in days of the panel's first period.

The fits of all series at one period share this design; it is laid out padded
as ``(levels, max rows per level)`` so that the GLM code can sum per level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance.series import DateArray, Frequency, SeriesError

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]

__all__ = ["Design", "build_designs", "first_evaluable", "reference_rows"]


def _years_back(day: DateArray, years: int) -> DateArray:
    """``day`` minus ``years`` calendar years as R's ``seq.Date(by = "-1 year")`` (29 Feb -> 1 Mar)."""
    y = day.astype("datetime64[Y]")
    m = day.astype("datetime64[M]")
    month_of_year = (m - y.astype("datetime64[M]")).astype(np.int64)
    day_of_month = (day - m.astype("datetime64[D]")).astype(np.int64)
    start = (y - np.timedelta64(years, "Y")).astype("datetime64[M]") + month_of_year
    # POSIXlt normalisation: day 29 of a February that has 28 days becomes 1 March.
    out: DateArray = start.astype("datetime64[D]") + day_of_month
    return out


def reference_dates(day: DateArray, b: int, freq: Frequency) -> DateArray:
    """Reference dates ``(len(day), b + 1)``: column ``i`` is ``i`` years back (column 0 is ``day``)."""
    day = np.asarray(day, dtype="datetime64[D]")
    out = np.empty((day.shape[0], b + 1), dtype="datetime64[D]")
    for i in range(b + 1):
        ref = _years_back(day, i)
        if freq is Frequency.WEEKLY:
            # Nearest date with the weekday of `day` (R compares the two candidates 7 days apart).
            lag = (day - ref).astype(np.int64)
            ref = day - (7 * np.round(lag / 7.0)).astype(np.int64).astype("timedelta64[D]")
        out[:, i] = ref
    return out


def reference_rows(dates: DateArray, freq: Frequency, ks: IntArray, b: int) -> IntArray:
    """Row indices ``(len(ks), b + 1)`` of the reference periods of the periods ``ks``; -1 when absent."""
    refs = reference_dates(dates[ks], b, freq)
    pos = np.searchsorted(dates, refs)
    pos_c = np.minimum(pos, dates.shape[0] - 1)
    found = dates[pos_c] == refs
    return np.where(found, pos_c, -1).astype(np.intp)


def _usable(rows: IntArray, w: int) -> NDArray[np.bool_]:
    """R succeeds when every reference period exists and no window starts before row -1 (R's index 0)."""
    ok: NDArray[np.bool_] = np.all(rows >= 0, axis=1) & (rows[:, -1] - w >= -1)
    return ok


def first_evaluable(dates: DateArray, freq: Frequency, b: int, w: int) -> int | None:
    """Index of the first period whose reference periods all exist, or ``None``."""
    ks = np.arange(dates.shape[0], dtype=np.intp)
    ok = _usable(reference_rows(dates, freq, ks, b), w)
    hit = np.nonzero(ok)[0]
    return int(hit[0]) if hit.size else None


def _r_seq(a: int, b: int) -> range:
    """R's ``a:b`` for integers (counts down when ``b < a``)."""
    return range(a, b + 1) if a <= b else range(a, b - 1, -1)


@lru_cache(maxsize=4096)
def _pattern(offsets: tuple[int, ...], w: int, p: int) -> tuple[IntArray, IntArray]:
    """R's ``blocks`` relative to the evaluated row: (relative rows <= 0, factor levels), before masking.

    ``offsets[i - 1]`` is the distance in rows from the evaluated period back to
    the reference period ``i`` years back.
    """
    span = offsets[-1] + w  # relative rows -span..0
    vf = np.full(span + 1, -1, dtype=np.intp)
    vf[span - w :] = p
    centre = [span] + [span - o for o in offsets]
    for i in range(1, len(centre)):
        c = centre[i]
        vf[c - w : c + w + 1] = p
        if p != 1:
            period = centre[i - 1] - 2 * w - 1 - c
            if period < p - (2 * w + 1):
                raise ValueError(
                    f"no-periods: {p} seasonal levels do not fit between windows of 2*w+1 = {2 * w + 1} periods "
                    f"one year apart ({period} periods between them); R stops with 'Number of factors too big!'"
                )
            base, rest = divmod(period, p - 1)
            lengths = [base + (1 if j < rest else 0) for j in range(p - 1)]
            cum = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
            a = c + w + 1
            for j in range(1, p):
                idx = list(_r_seq(a + int(cum[j - 1]), a + int(cum[j]) - 1))
                vf[idx] = j
    rel = np.nonzero(vf >= 0)[0]
    return (rel - span).astype(np.intp), vf[rel]


@dataclass(frozen=True)
class Design:
    """Shared design of the fits of all series at the evaluated periods of one batch.

    ``rows``/``t``/``valid`` have shape ``(K, V, M)``: ``K`` evaluated periods,
    ``V`` "virtual levels" of at most ``M`` rows each; padding has ``valid`` False.
    The factor levels (R's, in increasing order) are split into virtual levels of
    about equal size so that little of the array is padding; ``lmap[v]`` is the
    factor level of virtual level ``v`` (non-decreasing).
    """

    ks: IntArray  # (K,) evaluated rows
    rows: IntArray  # (K, V, M) panel rows of the observations
    t: FloatArray  # (K, V, M) wtime
    valid: NDArray[np.bool_]  # (K, V, M)
    lmap: IntArray  # (V,) factor level of each virtual level
    t0: FloatArray  # (K,) wtime of the evaluated period
    level_p: IntArray  # (K,) factor level used for prediction (the reference-window level), -1 if absent
    n_levels: IntArray  # (K,) number of non-empty factor levels (R's factor levels)


def _split_size(sizes: list[int]) -> int:
    """Rows per virtual level minimising padded slots plus two slots per virtual level (its per-level work)."""
    top = max(max(sizes), 1)
    best, best_cost = top, None
    for m in range(1, top + 1):
        n_virtual = sum(max(1, -(-s // m)) for s in sizes)
        cost = n_virtual * m + 2 * n_virtual
        if best_cost is None or cost < best_cost:
            best, best_cost = m, cost
    return best


def build_designs(
    dates: DateArray,
    freq: Frequency,
    ks: IntArray,
    *,
    b: int,
    w: int,
    no_periods: int,
    past_weeks_not_included: int,
) -> Design:
    """Designs for the evaluated rows ``ks`` (``SeriesError`` when the history is too short)."""
    rows = reference_rows(dates, freq, ks, b)
    ok = _usable(rows, w)
    if not ok.all():
        bad = int(np.nonzero(~ok)[0][0])
        first = first_evaluable(dates, freq, b, w)
        refs = reference_dates(dates[ks[bad] : ks[bad] + 1], b, freq)[0]
        earliest = refs[-1] - np.timedelta64(w, "D") * (7 if freq is Frequency.WEEKLY else 1)
        if freq is Frequency.MONTHLY:
            earliest = (refs[-1].astype("datetime64[M]") - np.timedelta64(w, "M")).astype("datetime64[D]")
        where = (
            f"the first period that can be evaluated is {dates[first]}, after {first} periods of history"
            if first is not None
            else "no period of this series can be evaluated"
        )
        raise SeriesError(
            f"history too short for farrington-flexible with b={b} years and w={w}: evaluating "
            f"{dates[ks[bad]]} needs the periods from {earliest} (reference period {refs[-1]} and "
            f"{w} before it), but the series starts on {dates[0]}; {where}",
            period=str(dates[ks[bad]]),
        )
    step_days = float((dates[1] - dates[0]).astype(np.int64)) if dates.shape[0] > 1 else 1.0
    day_num = dates.astype(np.int64).astype(np.float64)
    per_k: list[tuple[dict[int, IntArray], int]] = []
    for j, k in enumerate(ks.tolist()):
        offsets = tuple(int(k - r) for r in rows[j, 1:])
        rel, lev = _pattern(offsets, w, no_periods)
        absr = rel + k
        keep = (absr >= 0) & (rel < -past_weeks_not_included)
        absr, lev = absr[keep], lev[keep]
        # (not np.unique: its masked-array check imports numpy.ma, ~0.03 s of dhnet detect start-up)
        groups = {v: absr[lev == v] for v in sorted(set(lev.tolist()))}
        per_k.append((groups, int(ks[j])))
    values = sorted({v for g, _ in per_k for v in g})
    level_of = {v: i for i, v in enumerate(values)}
    sizes = [max(g[v].size if v in g else 0 for g, _ in per_k) for v in values]
    m_rows = _split_size(sizes) if sizes else 1
    n_virtual = [max(1, -(-sz // m_rows)) for sz in sizes]
    first_virtual = np.concatenate([[0], np.cumsum(n_virtual)]).astype(np.intp)
    lmap = np.repeat(np.arange(len(values), dtype=np.intp), n_virtual)
    n_k, n_v = len(per_k), int(first_virtual[-1]) if values else 1
    out_rows = np.zeros((n_k, n_v, m_rows), dtype=np.intp)
    valid = np.zeros((n_k, n_v, m_rows), dtype=bool)
    t = np.zeros((n_k, n_v, m_rows))
    t0 = np.zeros(n_k)
    level_p = np.full(n_k, -1, dtype=np.intp)
    n_levels = np.zeros(n_k, dtype=np.intp)
    for j, (groups, k) in enumerate(per_k):
        origin = day_num[min(int(g[0]) for g in groups.values())] if groups else day_num[k]
        for v, g in groups.items():
            li = level_of[v]
            for part in range(n_virtual[li]):
                seg = g[part * m_rows : (part + 1) * m_rows]
                vi = first_virtual[li] + part
                out_rows[j, vi, : seg.size] = seg
                valid[j, vi, : seg.size] = True
                t[j, vi, : seg.size] = (day_num[seg] - origin) / step_days
        t0[j] = (day_num[k] - origin) / step_days
        level_p[j] = level_of[no_periods] if no_periods in groups else -1
        n_levels[j] = len(groups)
    if not values:
        lmap = np.zeros(1, dtype=np.intp)
    return Design(ks=ks, rows=out_rows, t=t, valid=valid, lmap=lmap, t0=t0, level_p=level_p, n_levels=n_levels)
