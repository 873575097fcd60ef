"""The gap list's arithmetic on hand-made dicts (pure, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dhnet.planning.gaps import code_key, compute_gaps, current_phase, totals


def row(code: str, target: int, weight: str = "1", year: int = 2027) -> dict[str, object]:
    return {"code": code, "name": f"indicator {code}", "target_phase": target, "target_year": year, "weight": weight}


def test_gap_is_target_minus_current_never_negative_and_priority_is_gap_times_weight() -> None:
    gaps = compute_gaps([row("1", 4, "2"), row("2", 2, "5"), row("3", 5, "0.5")], {"1": 1, "2": 3, "3": 2})
    by = {g.code: g for g in gaps}
    assert (by["1"].current, by["1"].gap, by["1"].priority) == (1, 3, Decimal(6))
    assert (by["2"].gap, by["2"].priority, by["2"].met) == (0, Decimal(0), True)  # ahead of target: 0, not -1
    assert (by["3"].gap, by["3"].priority) == (3, Decimal("1.5"))
    assert [g.code for g in gaps] == ["1", "3", "2"]


def test_not_available_unanswered_and_unassessed_count_as_zero() -> None:
    gaps = compute_gaps([row("1", 3), row("2", 3), row("3", 3)], {"1": -1, "2": None})
    assert [(g.code, g.current, g.assessed, g.gap) for g in gaps] == [
        ("1", 0, False, 3),
        ("2", 0, False, 3),
        ("3", 0, False, 3),
    ]


def test_ties_are_broken_by_code_in_the_rubric_order() -> None:
    gaps = compute_gaps([row("10", 3), row("2a", 3), row("2", 3), row("9", 3)], {})
    assert [g.code for g in gaps] == ["2", "2a", "9", "10"]
    assert sorted(["10", "2b", "2", "x", "2a"], key=code_key) == ["2", "2a", "2b", "10", "x"]


def test_a_zero_weight_puts_a_gap_last_and_totals_add_up() -> None:
    gaps = compute_gaps([row("1", 5, "0"), row("2", 2, "1"), row("3", 3, "1.25")], {"1": 1, "2": 2, "3": 1})
    assert [g.code for g in gaps] == ["3", "1", "2"]  # 2.50, then 0 (gap 4, weight 0) before the met 0 by code
    t = totals(gaps)
    assert (t.targets, t.met, t.open, t.total_gap, t.total_priority) == (3, 1, 2, 6, Decimal("2.50"))


@pytest.mark.parametrize(
    ("target", "weight", "phases", "message"),
    [
        (6, "1", {}, "indicator 1: target phase 6 is not 1..5"),
        (0, "1", {}, "indicator 1: target phase 0 is not 1..5"),
        (3, "-1", {}, "indicator 1: weight -1 is negative"),
        (3, "1", {"1": 7}, "indicator 1: phase 7 is not -1 or 1..5"),
    ],
)
def test_bad_values_name_the_indicator(target: int, weight: str, phases: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_gaps([row("1", target, weight)], phases)


def test_current_phase() -> None:
    assert current_phase({"1": 4}, "1") == (4, True)
    assert current_phase({"1": -1}, "1") == (0, False)
    assert current_phase({}, "1") == (0, False)
