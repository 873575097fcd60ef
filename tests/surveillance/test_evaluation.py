"""Tests of dhnet.surveillance.evaluation against hand-computed cases and R's ``algo.quality``.

The goldens in ``tests/surveillance/goldens/quality/`` were produced by ``tools/r/goldens_quality.R`` with R's
surveillance 1.20.3 (``algo.quality`` on ``earsC`` / ``farringtonFlexible`` results for real hepatitis A series of
Berlin districts).  Counts must match exactly; rates within 1e-12 (relative; R printed them with ``%.17g``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.surveillance.evaluation import Quality, algo_quality, episodes, pool, quality_segments

GOLDENS = Path(__file__).parent / "goldens" / "quality"


def r_algo_quality(state: list[int], alarm: list[int], penalty: int = 20) -> dict[str, float]:
    """A literal port of R's ``algo.quality`` (1-based loops kept) used as an oracle."""
    tp = sum(1 for s, a in zip(state, alarm, strict=True) if s and a)
    fp = sum(1 for s, a in zip(state, alarm, strict=True) if not s and a)
    tn = sum(1 for s, a in zip(state, alarm, strict=True) if not s and not a)
    fn = sum(1 for s, a in zip(state, alarm, strict=True) if s and not a)
    sens = tp / (tp + fn) if tp + fn else math.nan
    spec = tn / (tn + fp) if tn + fp else math.nan
    if 1 not in state:
        lag = 0.0
    else:
        var_a = [i + 1 for i, s in enumerate(state) if s == 1]
        outbegins = [var_a[0]] + [var_a[k + 1] for k in range(len(var_a) - 1) if var_a[k + 1] - var_a[k] != 1]
        lags = []
        for count, i in enumerate(outbegins, start=1):
            hi = min(i + penalty, outbegins[count] - 1) if count < len(outbegins) else min(i + penalty, len(alarm))
            window = alarm[i - 1 : hi]
            lags.append(window.index(1) if 1 in window else penalty)
        lag = sum(lags) / len(lags)
    return {"TP": tp, "FP": fp, "TN": tn, "FN": fn, "sens": sens, "spec": spec, "mlag": lag}


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)


def test_episodes_are_maximal_runs() -> None:
    assert episodes([0, 1, 1, 0, 1, 0, 0, 1]).tolist() == [[1, 3], [4, 5], [7, 8]]
    assert episodes([0, 0]).shape == (0, 2)
    assert episodes([True, True]).tolist() == [[0, 2]]


def test_hand_computed_two_outbreaks() -> None:
    # weeks:  0  1  2  3  4  5  6  7  8  9
    state = [0, 1, 1, 1, 0, 0, 1, 1, 0, 0]
    alarm = [1, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    q = algo_quality(state, alarm)
    assert (q.tp, q.fp, q.tn, q.fn) == (1, 2, 3, 4)
    assert q.sens == pytest.approx(1 / 5)
    assert q.spec == pytest.approx(3 / 5)
    assert q.dist == pytest.approx(math.hypot(0.4, 0.8))
    # Episode 1 starts at 1, first alarm at 3 -> lag 2.  Episode 2 starts at 6, the window runs to the end
    # (last episode): the alarm at 8 (after the episode) gives lag 2 as in R; but it is not "detected".
    assert q.mlag == pytest.approx(2.0)
    assert (q.outbreaks, q.detected) == (2, 1)
    assert q.pod == pytest.approx(0.5)
    assert q.fpr == pytest.approx(2 / 5)


def test_hand_computed_penalty_and_window_stops_before_next_outbreak() -> None:
    state = [1, 0, 0, 1, 0]
    alarm = [0, 0, 0, 1, 0]
    # Episode at 0: window 0..min(0+20, 3-1)=2 has no alarm -> penalty 20; episode at 3: alarm at once -> 0.
    q = algo_quality(state, alarm)
    assert q.mlag == pytest.approx(10.0)
    q5 = algo_quality(state, alarm, penalty=5)
    assert q5.mlag == pytest.approx(2.5)
    # An alarm at exactly `penalty` weeks after the start counts `penalty` (R's pos - 1).
    assert algo_quality([1, 1, 1], [0, 0, 1], penalty=2).mlag == 2.0
    assert algo_quality([1, 1, 1], [0, 1, 0], penalty=2).mlag == 1.0


def test_no_outbreak_no_alarm() -> None:
    q = algo_quality([0, 0, 0], [0, 0, 0])
    assert (q.tp, q.fp, q.tn, q.fn) == (0, 0, 3, 0)
    assert math.isnan(q.sens)
    assert q.spec == 1.0
    assert math.isnan(q.dist)
    assert q.mlag == 0.0
    assert q.outbreaks == 0
    assert math.isnan(q.pod)
    assert q.fpr == 0.0


def test_all_outbreak() -> None:
    q = algo_quality([1, 1], [1, 0])
    assert math.isnan(q.spec)
    assert math.isnan(q.fpr)
    assert q.sens == 0.5
    assert q.mlag == 0.0
    assert q.pod == 1.0


def test_segments_do_not_leak_between_series() -> None:
    # Series A ends in an outbreak without alarm; series B starts with an alarm: no detection for A.
    state = [0, 1, 1, 0, 0]
    alarm = [0, 0, 0, 1, 0]
    qa, qb = quality_segments(state, alarm, [0, 3, 5])
    assert qa.mlag == 20.0
    assert qa.detected == 0
    assert qb.outbreaks == 0
    assert qb.fp == 1
    # B starting with an outbreak is a new episode even if A ended with one.
    qa, qb = quality_segments([1, 1, 1, 0], [0, 0, 1, 0], [0, 2, 4])
    assert (qa.outbreaks, qb.outbreaks) == (1, 1)
    assert qb.mlag == 0.0
    assert qa.mlag == 20.0


def test_pool() -> None:
    qs = quality_segments([1, 0, 0, 1, 1, 0], [1, 1, 0, 0, 0, 0], [0, 3, 6])
    p = pool(qs)
    assert (p.tp, p.fp, p.tn, p.fn, p.outbreaks, p.detected) == (1, 1, 2, 2, 2, 1)
    assert p.mlag == pytest.approx((0 + 20) / 2)
    assert p.fpr == pytest.approx(1 / 3)
    assert pool([]) == Quality(0, 0, 0, 0, 0, 0, 0, 0.0)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="0/1"):
        algo_quality([0, 2], [0, 0])
    with pytest.raises(ValueError, match="periods"):
        algo_quality([0, 1], [0])
    with pytest.raises(ValueError, match="offsets"):
        quality_segments([0, 1], [0, 0], [0, 1])
    with pytest.raises(ValueError, match="penalty"):
        algo_quality([0], [0], penalty=-1)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=60),
    penalty=st.integers(0, 25),
)
def test_matches_literal_port_of_r(data: list[tuple[int, int]], penalty: int) -> None:
    state = [s for s, _ in data]
    alarm = [a for _, a in data]
    q = algo_quality(state, alarm, penalty)
    r = r_algo_quality(state, alarm, penalty)
    assert (q.tp, q.fp, q.tn, q.fn) == (r["TP"], r["FP"], r["TN"], r["FN"])
    assert close(q.sens, r["sens"])
    assert close(q.spec, r["spec"])
    assert close(q.mlag, r["mlag"])


@settings(max_examples=100, deadline=None)
@given(series=st.lists(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=30), min_size=1, max_size=6))
def test_segments_equal_one_by_one(series: list[list[tuple[bool, bool]]]) -> None:
    flat = [x for s in series for x in s]
    offsets = np.cumsum([0] + [len(s) for s in series])
    got = quality_segments([s for s, _ in flat], [a for _, a in flat], offsets)
    want = [algo_quality([s for s, _ in one], [a for _, a in one]) for one in series]
    assert got == want


def _golden_cases() -> list[dict[str, object]]:
    return list(json.loads((GOLDENS / "cases.json").read_text()))


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda c: str(c["case"]))
def test_golden_r_algo_quality(case: dict[str, object]) -> None:
    """R's algo.quality on real series (see the module docstring for the source of the values)."""
    with (GOLDENS / f"{case['case']}.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    state = [int(r["state"]) for r in rows]
    alarm = [int(r["alarm"]) for r in rows]
    penalty = case["penalty"]
    assert isinstance(penalty, int)
    q = algo_quality(state, alarm, penalty)
    r = case["r"]
    assert isinstance(r, dict)
    assert (q.tp, q.fp, q.tn, q.fn) == (r["TP"], r["FP"], r["TN"], r["FN"])
    for key in ("sens", "spec", "dist", "mlag"):
        want = math.nan if r[key] is None else float(r[key])
        assert close(float(q.as_dict()[key]), want), key
