"""GDHM scoring on hand-computed cases, every edge, and a property test against a plain re-implementation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.maturity.scoring import (
    NOT_AVAILABLE,
    ComponentStructure,
    RubricStructure,
    ScoringError,
    phase_of,
    score,
)

NA = NOT_AVAILABLE

#: A small rubric written for the tests: three components, one with sub-indicators.
SMALL = RubricStructure(
    code="test",
    components=(
        ComponentStructure("Governance", ("1", "2")),
        ComponentStructure("Workforce", ("3", "4", "5"), ("3a", "3b")),
        ComponentStructure("Infrastructure", ("6", "7")),
    ),
)


def test_means_of_components_then_of_components_hand_computed() -> None:
    # Governance (3+4)/2 = 3.5 -> 3.5 -> 4; Workforce (2+2+3)/3 = 2.333.. -> 2.3 -> 3; Infrastructure (5+5)/2 = 5
    # overall (3.5 + 7/3 + 5)/3 = 65/18 = 3.6111.. -> 3.6 -> 4
    result = score(SMALL, {"1": 3, "2": 4, "3": 2, "4": 2, "5": 3, "6": 5, "7": 5})
    assert [(c.name, c.score, c.phase) for c in result.components] == [
        ("Governance", 3.5, 4),
        ("Workforce", 7 / 3, 3),
        ("Infrastructure", 5.0, 5),
    ]
    assert result.score == pytest.approx(65 / 18)
    assert result.score == float(Fraction(65, 18))
    assert result.phase == 4


def test_sub_indicators_are_ignored_whatever_their_phase() -> None:
    base = {"1": 2, "2": 2, "3": 1, "4": 1, "5": 1, "6": 3, "7": 3}
    without = score(SMALL, base)
    with_subs = score(SMALL, {**base, "3a": 5, "3b": NA})
    assert with_subs == without
    assert without.components[1].score == 1.0


def test_not_available_is_left_out_of_the_component_mean() -> None:
    # Workforce: 4 and 2 counted, 5 not available -> 3.0, not (4+2+0)/3 nor (4+2-1)/3
    result = score(SMALL, {"1": 1, "2": 1, "3": 4, "4": 2, "5": NA, "6": 1, "7": 1})
    assert result.components[1].score == 3.0
    assert result.components[1].phase == 3


def test_component_all_not_available_has_no_score_and_is_left_out_of_the_country_mean() -> None:
    # Workforce all NA: overall = mean(Governance 4, Infrastructure 2) = 3.0, not (4 + 0 + 2)/3 = 2
    result = score(SMALL, {"1": 4, "2": 4, "3": NA, "4": NA, "5": NA, "6": 2, "7": 2})
    assert result.components[1].score is None
    assert result.components[1].phase is None
    assert result.score == 3.0
    assert result.phase == 3


def test_missing_and_unanswered_count_as_not_available() -> None:
    explicit = score(SMALL, {"1": 4, "2": NA, "3": NA, "4": NA, "5": NA, "6": 2, "7": NA})
    missing = score(SMALL, {"1": 4, "6": 2, "7": None})
    assert explicit == missing
    assert missing.score == 3.0


def test_all_not_available_gives_no_overall_score() -> None:
    result = score(SMALL, {})
    assert result.score is None
    assert result.phase is None
    assert all(c.score is None and c.phase is None for c in result.components)
    assert score(SMALL, dict.fromkeys(SMALL.codes, NA)) == result


def test_a_single_scored_component_is_the_country_score() -> None:
    result = score(SMALL, {"3": 2, "4": 3, "5": 3})  # 8/3 = 2.666.. -> 2.7 -> 3
    assert result.score == float(Fraction(8, 3))
    assert result.phase == 3
    assert [c.phase for c in result.components] == [None, 3, None]


def test_exactly_integer_means_keep_their_phase() -> None:
    for phase in (1, 2, 3, 4, 5):
        result = score(SMALL, dict.fromkeys(SMALL.top_level, phase))
        assert result.score == float(phase)
        assert result.phase == phase
        assert {c.phase for c in result.components} == {phase}


@pytest.mark.parametrize(
    ("value", "phase"),
    [
        (2.25, 3),  # 2.2 (half to even), ceil 3
        (2.35, 3),  # 2.4
        (3.05, 3),  # 3.0: half to even goes down, stays phase 3
        (3.15, 4),  # 3.2
        (1.05, 1),  # 1.0 (as a float, 1.05 lies just above: exactness matters here)
        (4.95, 5),  # 5.0 (even)
        (0, 1),  # 0 -> 1
        (0.04, 1),  # 0.0 -> 1
        (0.05, 1),  # 0.0 (even) -> 1
        (0.15, 1),  # 0.2 -> 1
        (1.0, 1),
        (1.01, 1),  # 1.0
        (1.06, 2),  # 1.1
        (5, 5),
    ],
)
def test_phase_of_rounds_half_even_to_one_decimal_then_ceil(value: float, phase: int) -> None:
    assert phase_of(value) == phase


def test_phase_of_exact_fractions() -> None:
    assert phase_of(Fraction(9, 4)) == 3
    assert phase_of(Fraction(61, 20)) == 3
    assert phase_of(Fraction(21, 20)) == 1
    assert phase_of(Fraction(63, 20)) == 4


@pytest.mark.parametrize("bad", [-0.1, 5.01, float("nan"), float("inf"), "3", None, True])
def test_phase_of_refuses_what_is_not_a_score(bad: object) -> None:
    with pytest.raises(ScoringError):
        phase_of(bad)  # type: ignore[arg-type]


def test_rounding_at_x5_through_component_means() -> None:
    four = RubricStructure(components=(ComponentStructure("A", ("1", "2", "3", "4")),))
    # (2+2+2+3)/4 = 2.25 -> 2.2 -> 3
    assert score(four, {"1": 2, "2": 2, "3": 2, "4": 3}).phase == 3
    # country mean of components exactly 3.05 = (3.1 + 3)/2... built from 20ths: A = 61/20 needs 20 indicators
    twenty = RubricStructure(components=(ComponentStructure("A", tuple(str(i) for i in range(1, 21))),))
    answers = {str(i): 3 for i in range(1, 21)}
    answers["1"] = 4  # 61/20 = 3.05 -> 3.0 -> phase 3
    result = score(twenty, answers)
    assert result.score == 3.05
    assert result.phase == 3
    answers["2"] = 4
    answers["3"] = 4  # 63/20 = 3.15 -> 3.2 -> phase 4
    assert score(twenty, answers).phase == 4


def test_country_mean_of_21_over_20_is_phase_1() -> None:
    # components 1.0 (five answers of 1) and 1.1 ... exact: A = 1, B = 11/10 -> mean 21/20 = 1.05 -> 1.0 -> 1
    rubric = RubricStructure(
        components=(
            ComponentStructure("A", ("1",)),
            ComponentStructure("B", tuple(str(i) for i in range(2, 12))),
        )
    )
    answers = dict.fromkeys((str(i) for i in range(1, 12)), 1)
    answers["2"] = 2  # B = 11/10
    result = score(rubric, answers)
    assert result.components[1].score == 1.1
    assert result.components[1].phase == 2
    assert result.phase == 1  # a float mean of 1.0 and 1.1 would be 1.05000000000000004 -> 1.1 -> 2


def test_unknown_code_is_an_error_naming_it() -> None:
    with pytest.raises(ScoringError, match="'99'") as info:
        score(SMALL, {"1": 3, "99": 2})
    assert info.value.code == "99"


@pytest.mark.parametrize("bad", [0, 6, -2, 2.5, "3", True])
def test_phase_outside_the_scale_is_an_error_naming_the_code(bad: object) -> None:
    with pytest.raises(ScoringError, match="indicator '4'") as info:
        score(SMALL, {"1": 3, "4": bad})  # type: ignore[dict-item]
    assert info.value.code == "4"


def test_sub_indicator_phase_is_still_checked() -> None:
    with pytest.raises(ScoringError, match="'3a'"):
        score(SMALL, {"3a": 7})


def test_a_code_twice_in_a_structure_is_refused() -> None:
    with pytest.raises(ScoringError, match="'2'"):
        RubricStructure(components=(ComponentStructure("A", ("1", "2")), ComponentStructure("B", ("3",), ("2",))))


def test_structure_from_the_file_shape_orders_components_by_position() -> None:
    data = {
        "code": "x",
        "components": [
            {"position": 2, "name": "B", "indicators": [{"code": "3", "sub_indicators": [{"code": "3a"}]}]},
            {"position": 1, "name": "A", "indicators": [{"code": "1"}, {"code": "2"}]},
        ],
    }
    structure = RubricStructure.from_dict(data)
    assert structure.code == "x"
    assert structure.components == (ComponentStructure("A", ("1", "2")), ComponentStructure("B", ("3",), ("3a",)))
    assert score(structure, {"1": 2, "3": 4}).as_dict() == {
        "components": [{"name": "A", "score": 2.0, "phase": 2}, {"name": "B", "score": 4.0, "phase": 4}],
        "overall": {"score": 3.0, "phase": 3},
    }


# --- property test: an independent, straightforward implementation in integers ----------------------------------


def _reference(components: list[list[int]]) -> tuple[list[tuple[int, int] | None], tuple[int, int] | None]:
    """Component means and the country mean as (numerator, denominator) of integers (no Fraction, no float)."""
    means: list[tuple[int, int] | None] = []
    for phases in components:
        counted = [p for p in phases if p != -1]
        means.append((sum(counted), len(counted)) if counted else None)
    scored = [m for m in means if m is not None]
    if not scored:
        return means, None
    common = math.lcm(*(den for _, den in scored))
    return means, (sum(num * (common // den) for num, den in scored), common * len(scored))


def _reference_phase(num: int, den: int) -> int:
    """Tenths rounded half to even by integer division, then ceil; 0 -> 1."""
    tenths, rest = divmod(10 * num, den)
    if 2 * rest > den or (2 * rest == den and tenths % 2 == 1):
        tenths += 1
    return max(1, -(-tenths // 10))


_phase = st.sampled_from([-1, 1, 2, 3, 4, 5])


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(_phase, min_size=1, max_size=6), min_size=1, max_size=7))
def test_score_agrees_with_a_plain_integer_implementation(components: list[list[int]]) -> None:
    structure = RubricStructure(
        components=tuple(
            ComponentStructure(f"C{i}", tuple(f"{i}.{j}" for j in range(len(phases))))
            for i, phases in enumerate(components)
        )
    )
    answers = {f"{i}.{j}": p for i, phases in enumerate(components) for j, p in enumerate(phases)}
    result = score(structure, answers)
    means, overall = _reference(components)
    for got, want in zip(result.components, means, strict=True):
        if want is None:
            assert got.score is None
            assert got.phase is None
        else:
            assert got.score == want[0] / want[1]
            assert got.phase == _reference_phase(*want)
    if overall is None:
        assert result.score is None
        assert result.phase is None
    else:
        assert result.score == pytest.approx(overall[0] / overall[1], rel=1e-12)
        assert result.phase == _reference_phase(*overall)
