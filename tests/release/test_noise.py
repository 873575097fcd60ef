"""Differentially private counts: OpenDP's certified epsilon, post-processing, and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.release.noise import NoiseError, mechanism, noisy_counts


def test_the_scale_follows_epsilon_and_opendp_certifies_it() -> None:
    _, scale, certified = mechanism(0.5)
    assert scale == pytest.approx(2.0)
    assert certified == pytest.approx(0.5)
    _, scale, certified = mechanism(0.5, contributions=3)  # a person in up to three cells
    assert scale == pytest.approx(6.0)
    assert certified == pytest.approx(0.5)


def test_noise_is_centred_on_the_true_counts() -> None:
    true = [[40, 60], [80, 100]]
    draws = np.array([noisy_counts(true, 1.0).grid for _ in range(400)], dtype=float)
    means = draws.mean(axis=0)
    assert np.allclose(means[:2, :2], true, atol=0.5)  # standard error of the mean: sqrt(2)/20 ≈ 0.07
    assert draws.std(axis=0)[0, 0] == pytest.approx(np.sqrt(2), rel=0.2)  # Laplace b=1: sd = sqrt(2)


@pytest.mark.parametrize("epsilon", [0, 0.001, 11, float("nan")])
def test_epsilon_out_of_range_is_refused(epsilon: float) -> None:
    with pytest.raises(NoiseError, match="epsilon"):
        noisy_counts([[1]], epsilon)


@pytest.mark.parametrize(
    ("table", "message"), [([], "no cells"), ([[1], [1, 2]], "row 1"), ([[1, -1]], "row 0, column 1")]
)
def test_malformed_tables_are_refused(table: list[list[int]], message: str) -> None:
    with pytest.raises(NoiseError, match=message):
        noisy_counts(table, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    table=st.lists(st.lists(st.integers(0, 50), min_size=3, max_size=3), min_size=1, max_size=6),
    epsilon=st.floats(min_value=0.01, max_value=10),
)
def test_released_counts_are_non_negative_integers_with_consistent_totals(
    table: list[list[int]], epsilon: float
) -> None:
    released = noisy_counts(table, epsilon)
    grid = released.grid
    assert all(isinstance(v, int) and v >= 0 for row in grid for v in row)
    assert all(row[-1] == sum(row[:-1]) for row in grid)
    assert grid[-1] == [sum(row[j] for row in grid[:-1]) for j in range(4)]
    assert released.epsilon <= epsilon * (1 + 1e-9)
