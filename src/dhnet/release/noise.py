"""Differentially private counts with OpenDP: the Laplace mechanism on a histogram, post-processed.

A released table counts cases; each case falls in exactly one cell, so adding or removing one case changes the
vector of cells by 1 in the L1 norm (sensitivity 1 under the add/remove-one-record neighbouring relation). The
integer Laplace mechanism of OpenDP (``make_laplace`` on integer vectors, i.e. the discrete Laplace / geometric
mechanism) with scale ``b`` is then ``1/b``-differentially private; we take ``b`` from the epsilon asked for and
confirm the privacy map of the constructed measurement (``measurement.map(1) <= epsilon``), so the epsilon recorded in
the ledger is the one OpenDP certifies.

Only the cells are noised. Margins are computed from the noisy cells, and negative noisy counts are clamped to 0;
both are post-processing, which costs no privacy. Person-level contributions are bounded by the data model (one case
per person and disease episode); a person with several cases in one table would need a larger sensitivity, which the
release states as ``contributions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import opendp.prelude as dp

dp.enable_features("contrib")

MIN_EPSILON = 0.01
MAX_EPSILON = 10.0


class NoiseError(ValueError):
    """Bad epsilon or table."""


@dataclass(frozen=True)
class NoisyTable:
    grid: list[list[int]]  # (R+1) x (C+1) with margins computed from the noisy cells
    epsilon: float  # as certified by OpenDP's privacy map
    scale: float  # the Laplace scale b
    contributions: int


def mechanism(epsilon: float, contributions: int = 1) -> tuple[dp.Measurement, float, float]:
    """The OpenDP measurement for integer count vectors, its scale and its certified epsilon at ``contributions``."""
    if not MIN_EPSILON <= epsilon <= MAX_EPSILON:
        raise NoiseError(f"epsilon: must be between {MIN_EPSILON} and {MAX_EPSILON}, got {epsilon}")
    if contributions < 1:
        raise NoiseError(f"contributions: must be at least 1, got {contributions}")
    scale = contributions / epsilon
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = space >> dp.m.then_laplace(scale=scale)
    certified = float(measurement.map(contributions))
    if certified > epsilon * (1 + 1e-9):  # the map rounds up; never spend more than was asked for
        raise NoiseError(f"epsilon: OpenDP certifies {certified}, more than the {epsilon} asked for")
    return measurement, scale, certified


def noisy_counts(cells: Sequence[Sequence[int]], epsilon: float, contributions: int = 1) -> NoisyTable:
    """The cells with discrete Laplace noise, clamped at 0, and margins summed from them."""
    if not cells or not cells[0]:
        raise NoiseError("the table has no cells")
    width = len(cells[0])
    flat: list[int] = []
    for i, row in enumerate(cells):
        if len(row) != width:
            raise NoiseError(f"row {i}: {len(row)} cells, expected {width}")
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise NoiseError(f"row {i}, column {j}: {v!r} is not a non-negative integer count")
            flat.append(v)
    measurement, scale, certified = mechanism(epsilon, contributions)
    released = [max(0, int(v)) for v in measurement(flat)]
    rows = [released[i * width : (i + 1) * width] for i in range(len(cells))]
    grid = [[*row, sum(row)] for row in rows]
    grid.append([sum(r[j] for r in grid) for j in range(width + 1)])
    return NoisyTable(grid=grid, epsilon=certified, scale=scale, contributions=contributions)
