"""Small-cell and complementary suppression: attacks on the released tables recover no suppressed cell.

The attacks use only what is published (cells, row/column/grand totals, non-negativity) and are independent of the
LP audit inside :mod:`dhnet.release.suppression`: an integer program (``scipy.optimize.milp``) that finds the
smallest and largest integer value of each suppressed cell, and, for small tables, an exhaustive enumeration of
every integer table consistent with the release.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from dhnet.release.suppression import (
    TableError,
    feasible_intervals,
    is_consistent,
    rectangle_width,
    suppress,
    with_margins,
)

Grid = Sequence[Sequence[int | None]]


def integer_attack(published: Grid) -> dict[tuple[int, int], tuple[int, float]]:
    """Exact integer bounds of each suppressed position by mixed-integer programming on the published grid."""
    unknown = [(i, j) for i, row in enumerate(published) for j, v in enumerate(row) if v is None]
    index = {p: k for k, p in enumerate(unknown)}
    n_rows, n_cols = len(published), len(published[0])
    rows, rhs = [], []
    lines = [[(i, j) for j in range(n_cols)] for i in range(n_rows)]
    lines += [[(i, j) for i in range(n_rows)] for j in range(n_cols)]
    for line in lines:
        # the last position of each line is its total: sum(others) - total = 0
        coeffs, constant = np.zeros(len(unknown)), 0.0
        for pos, sign in [*((p, 1.0) for p in line[:-1]), (line[-1], -1.0)]:
            value = published[pos[0]][pos[1]]
            if value is None:
                coeffs[index[pos]] += sign
            else:
                constant += sign * value
        if coeffs.any():
            rows.append(coeffs)
            rhs.append(-constant)
    constraint = LinearConstraint(np.array(rows), np.array(rhs), np.array(rhs))
    out = {}
    for p, k in index.items():
        c = np.zeros(len(unknown))
        c[k] = 1.0
        integrality = np.ones(len(unknown))
        low = milp(c, constraints=constraint, integrality=integrality, bounds=Bounds(0, np.inf))
        high = milp(-c, constraints=constraint, integrality=integrality, bounds=Bounds(0, 10**6))
        assert low.status == 0
        assert high.status == 0
        hi = -high.fun
        out[p] = (round(low.fun), float("inf") if hi >= 10**6 - 0.5 else round(hi))
    return out


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    if parts == 0:
        return [()] if total == 0 else []
    if parts == 1:
        return [(total,)]
    return [(first, *rest) for first in range(total + 1) for rest in _compositions(total - first, parts - 1)]


def enumerate_tables(published: Grid, cap: int) -> dict[tuple[int, int], set[int]]:
    """Every value each suppressed cell takes over all integer tables (cells 0..cap) matching the release.

    Row by row: the suppressed cells of a row with a published total are the compositions of what is left of it;
    those of a row with a suppressed total range over 0..cap each. Every candidate is checked against the whole
    published grid.
    """
    n_rows, n_cols = len(published) - 1, len(published[0]) - 1
    options: list[list[tuple[int, ...]]] = []
    unknown_by_row = []
    for i in range(n_rows):
        unknown = [j for j in range(n_cols) if published[i][j] is None]
        unknown_by_row.append(unknown)
        total = published[i][n_cols]
        if total is None:
            options.append(list(itertools.product(range(cap + 1), repeat=len(unknown))))
        else:
            known = sum(v for j, v in enumerate(published[i][:n_cols]) if v is not None)
            options.append(_compositions(total - known, len(unknown)) if total >= known else [])
    seen: dict[tuple[int, int], set[int]] = {(i, j): set() for i in range(n_rows) for j in unknown_by_row[i]}
    for choice in itertools.product(*options):
        cells = [list(published[i][:n_cols]) for i in range(n_rows)]
        for i, values in enumerate(choice):
            for j, v in zip(unknown_by_row[i], values, strict=True):
                cells[i][j] = v
        full = with_margins(cells)  # type: ignore[arg-type]
        if all(published[i][j] in (None, full[i][j]) for i in range(n_rows + 1) for j in range(n_cols + 1)):
            for p in seen:
                seen[p].add(full[p[0]][p[1]])
    return seen


def test_a_small_cell_is_suppressed_with_the_cheapest_rectangle() -> None:
    result = suppress([[10, 3, 12], [8, 9, 7], [20, 15, 2]])
    assert result.primary == {(0, 1), (2, 2)}
    assert result.complementary == {(0, 2), (2, 1)}  # one rectangle protects both: 3 + 2 hidden with 12 + 15
    assert result.grid[0] == [10, None, None, 25]
    assert result.grid[3] == [38, 27, 21, 86]  # margins stay published
    for lo, hi in integer_attack(result.grid).values():
        assert hi - lo >= 5


def test_a_lone_small_cell_in_a_row_is_not_recoverable_from_the_row_total() -> None:
    # Row 1 has one small cell; suppressing it alone would leave it = row total - published cells.
    result = suppress([[20, 30, 40], [2, 30, 40], [25, 35, 45]])
    attack = integer_attack(result.grid)
    assert (1, 0) in attack
    assert all(hi - lo >= 5 for lo, hi in attack.values())


def test_small_margins_are_suppressed_too() -> None:
    # Row 0 totals 4: the row total itself is a small cell.
    result = suppress([[1, 1, 2], [10, 12, 9], [11, 8, 13]])
    assert result.grid[0][3] is None
    assert all(hi - lo >= 5 for lo, hi in integer_attack(result.grid).values())


def test_zeros_are_published_unless_declared_sensitive() -> None:
    table = [[0, 12, 9], [14, 11, 10], [8, 7, 13]]
    assert suppress(table).suppressed == frozenset()
    strict = suppress(table, zeros_sensitive=True)
    assert (0, 0) in strict.primary
    assert all(hi - lo >= 5 for lo, hi in integer_attack(strict.grid).values())


def test_a_table_without_small_cells_is_published_whole() -> None:
    table = [[5, 6], [7, 8]]
    result = suppress(table)
    assert result.grid == with_margins(table)
    assert result.suppressed == frozenset()


def test_a_tiny_table_is_suppressed_entirely_when_nothing_else_protects_it() -> None:
    result = suppress([[1, 0], [0, 2]])  # grand total 3: everything is small
    assert result.grid[2][2] is None
    for lo, hi in feasible_intervals(result.grid).values():
        assert hi - lo >= 5


def test_exhaustive_enumeration_finds_no_recoverable_cell() -> None:
    table = [[6, 2, 9], [7, 8, 1], [3, 10, 12]]
    result = suppress(table, protection=1)
    seen = enumerate_tables(result.grid, cap=sum(map(sum, table)))
    assert set(seen) == {p for p in result.suppressed if p[0] < 3 and p[1] < 3}
    assert seen, "some cell is suppressed"
    for position, values in seen.items():
        assert len(values) > 1, f"cell {position} recoverable: only {values} fit"
        assert table[position[0]][position[1]] in values


def test_the_lp_audit_equals_the_integer_attack() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        table = rng.poisson(6, size=(4, 5)).tolist()
        result = suppress(table)
        lp = feasible_intervals(result.grid)
        ip = integer_attack(result.grid)
        assert lp.keys() == ip.keys()
        for p, (lo, hi) in lp.items():
            assert (round(lo), hi if hi == float("inf") else round(hi)) == ip[p]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([], "no cells"),
        ([[1, 2], [3]], "row 1: 1 cells, expected 2"),
        ([[1, -2]], "row 0, column 1: negative count -2"),
        ([[1, 2.5]], "row 0, column 1: 2.5 is not an integer count"),
        ([[True, 2]], "row 0, column 0: True is not an integer count"),
    ],
)
def test_malformed_tables_are_refused_naming_the_cell(table: list[list[int]], message: str) -> None:
    with pytest.raises(TableError, match=message):
        suppress(table)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(TableError, match="threshold"):
        suppress([[1]], threshold=0)
    with pytest.raises(TableError, match="protection"):
        suppress([[1]], protection=0)


tables = st.integers(min_value=1, max_value=5).flatmap(
    lambda rows: st.integers(min_value=1, max_value=5).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(min_value=0, max_value=30), min_size=cols, max_size=cols),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=120, deadline=None)
@given(table=tables, threshold=st.integers(min_value=1, max_value=8), zeros=st.booleans(), low=st.booleans())
def test_random_tables_no_suppressed_cell_is_recoverable(
    table: list[list[int]], threshold: int, zeros: bool, low: bool
) -> None:
    protection = 1 if low else threshold
    result = suppress(table, threshold=threshold, zeros_sensitive=zeros, protection=protection)
    full = with_margins(table)
    # every small position is suppressed; every published value is the true one
    for i, row in enumerate(full):
        for j, value in enumerate(row):
            if value < threshold and (value > 0 or zeros):
                assert result.grid[i][j] is None
            if result.grid[i][j] is not None:
                assert result.grid[i][j] == value
    assert is_consistent(result.grid)
    if result.suppressed:
        for p, (lo, hi) in integer_attack(result.grid).items():
            assert hi - lo >= protection, f"cell {p} narrowed to [{lo}, {hi}]"
            assert lo <= full[p[0]][p[1]] <= hi


@settings(max_examples=150, deadline=None)
@given(
    table=tables,
    corners=st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
)
def test_the_rectangle_shortcut_never_claims_more_than_the_lp_finds(
    table: list[list[int]], corners: tuple[int, int, int, int]
) -> None:
    """The cheap check (one rectangle, totals included) is a lower bound of the exact LP interval."""
    grid = with_margins(table)
    n_rows, n_cols = len(grid), len(grid[0])
    i, k = corners[0] % n_rows, corners[1] % n_rows
    j, m = corners[2] % n_cols, corners[3] % n_cols
    if i == k or j == m:
        return
    published = [
        [None if (p, q) in {(i, j), (i, m), (k, j), (k, m)} else v for q, v in enumerate(row)]
        for p, row in enumerate(grid)
    ]
    lo, hi = feasible_intervals(published, [(i, j)])[(i, j)]
    assert rectangle_width(grid, (i, j), k, m) <= hi - lo + 1e-9
