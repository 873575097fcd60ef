"""Small-cell suppression of a two-way table with its margins, with complementary suppression audited by LP.

A table of non-negative counts (rows × columns) is published together with its row totals, column totals and grand
total. We treat the whole ``(R+1) × (C+1)`` grid (the interior, the total column, the total row and the grand
total) uniformly: every position is either published or suppressed, and the published grid satisfies

* ``sum_j x[i][j] = x[i][C]`` for every row ``i`` (including the total row ``R``), and
* ``sum_i x[i][j] = x[R][j]`` for every column ``j`` (including the total column ``C``).

**Primary suppression**: every position whose value is below ``threshold`` (default 5); zeros only when
``zeros_sensitive`` is set. By default a zero is *not* sensitive: publishing that nobody in a group fell ill is the
usual practice of statistical offices and discloses nothing about a person; deployments that treat "no case here"
as disclosive (e.g. a rare disease in a tiny district) switch it on. A margin below the threshold is a small cell
too and is suppressed like any other.

**Audit** (what an attacker can learn): for each suppressed position the attacker knows every published value, the
equations above and that counts are non-negative. The feasible values of a suppressed position form an interval
``[lo, hi]``, computed by two linear programs (``scipy.optimize.linprog``, HiGHS): minimise and maximise it subject
to the equations with published values fixed. The constraint matrix is that of a table with totals — a network
matrix, totally unimodular — so the LP bounds are attained at integer points and equal the integer bounds: the LP
audit is exact for integer counts, not merely a relaxation. A position is *protected* when ``hi - lo >= protection``
(default: the threshold), i.e. the attacker cannot narrow it to fewer than ``protection + 1`` possible values.

**Complementary suppression**: while some suppressed position is not protected, suppress more published positions,
chosen greedily with the least loss: the cheapest rectangle of the grid through the failing position (the smallest
cycle along which suppressed values can move without changing a published sum) that protects it, tried in order of
the total value newly hidden (see :func:`_complement`). Suppressing more only widens every interval (the true table
stays feasible and the feasible set can only grow), so positions once protected stay protected and each is audited
until it passes; the loop ends because suppressing the whole grid leaves every position unbounded.

Suppressed positions are published as ``None`` without saying which were primary: telling them apart would tell the
attacker which ones are small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

#: Default small-cell threshold: counts 1..4 are suppressed.
DEFAULT_THRESHOLD = 5

Position = tuple[int, int]


class TableError(ValueError):
    """The table is malformed (ragged, negative, not integers); the message names the row and column."""


@dataclass(frozen=True)
class SuppressionResult:
    """A table ready for release: the grid with ``None`` where suppressed, and what was done.

    ``grid`` is ``(R+1) × (C+1)``: the last column holds the row totals, the last row the column totals, the corner
    the grand total. ``primary`` and ``complementary`` are kept for the data manager (never published).
    """

    grid: list[list[int | None]]
    primary: frozenset[Position]
    complementary: frozenset[Position]
    threshold: int
    protection: int
    zeros_sensitive: bool

    @property
    def suppressed(self) -> frozenset[Position]:
        return self.primary | self.complementary

    @property
    def rows(self) -> int:
        return len(self.grid) - 1

    @property
    def columns(self) -> int:
        return len(self.grid[0]) - 1


def with_margins(cells: Sequence[Sequence[int]]) -> list[list[int]]:
    """The ``(R+1) × (C+1)`` grid of a table: its cells, row totals, column totals and grand total."""
    table = _validated(cells)
    rows = [[*row, sum(row)] for row in table]
    totals = [sum(row[j] for row in rows) for j in range(len(rows[0]))]
    return [*rows, totals]


def _validated(cells: Sequence[Sequence[int]]) -> list[list[int]]:
    if not cells or not cells[0]:
        raise TableError("the table has no cells")
    width = len(cells[0])
    table: list[list[int]] = []
    for i, row in enumerate(cells):
        if len(row) != width:
            raise TableError(f"row {i}: {len(row)} cells, expected {width}")
        out = []
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TableError(f"row {i}, column {j}: {value!r} is not an integer count")
            if value < 0:
                raise TableError(f"row {i}, column {j}: negative count {value}")
            out.append(int(value))
        table.append(out)
    return table


def _equations(grid: Sequence[Sequence[float | int | None]]) -> tuple[list[list[Position]], list[list[Position]]]:
    """The positions summed by each equation, as (plus-terms, minus-term) pairs, flattened for the LP."""
    n_rows, n_cols = len(grid), len(grid[0])
    equations: list[list[Position]] = []
    totals: list[list[Position]] = []
    for i in range(n_rows):
        equations.append([(i, j) for j in range(n_cols - 1)])
        totals.append([(i, n_cols - 1)])
    for j in range(n_cols):
        equations.append([(i, j) for i in range(n_rows - 1)])
        totals.append([(n_rows - 1, j)])
    return equations, totals


def feasible_intervals(
    published: Sequence[Sequence[int | None]], targets: Sequence[Position] | None = None
) -> dict[Position, tuple[float, float]]:
    """What an attacker can infer: for each suppressed (``None``) position the [min, max] of its feasible values.

    ``max`` is ``inf`` when the position is unbounded. This is the audit used by :func:`suppress` and the attack
    used by the tests; it uses only what is published.
    """
    unknown = [(i, j) for i, row in enumerate(published) for j, v in enumerate(row) if v is None]
    if not unknown:
        return {}
    index = {p: k for k, p in enumerate(unknown)}
    plus, minus = _equations(published)
    a_rows: list[np.ndarray] = []
    b_vals: list[float] = []
    for terms, (total,) in zip(plus, minus, strict=True):
        coeffs = np.zeros(len(unknown))
        rhs = 0.0
        for p in terms:
            value = published[p[0]][p[1]]
            if value is None:
                coeffs[index[p]] += 1.0
            else:
                rhs -= value
        value = published[total[0]][total[1]]
        if value is None:
            coeffs[index[total]] -= 1.0
        else:
            rhs += value
        if coeffs.any():
            a_rows.append(coeffs)
            b_vals.append(rhs)
    a_eq = np.array(a_rows) if a_rows else None
    b_eq = np.array(b_vals) if b_vals else None
    out: dict[Position, tuple[float, float]] = {}
    for p in targets if targets is not None else unknown:
        out[p] = _bounds(index[p], len(unknown), a_eq, b_eq)
    return out


def _bounds(k: int, n: int, a_eq: np.ndarray | None, b_eq: np.ndarray | None) -> tuple[float, float]:
    c = np.zeros(n)
    c[k] = 1.0
    low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if low.status != 0:  # the true table is always feasible; anything else is a solver failure
        raise RuntimeError(f"suppression audit: LP minimum failed ({low.message})")
    lo = max(0.0, float(low.fun))
    if high.status == 3:  # unbounded
        return lo, float("inf")
    if high.status != 0:
        raise RuntimeError(f"suppression audit: LP maximum failed ({high.message})")
    return lo, float(-high.fun)


def suppress(
    cells: Sequence[Sequence[int]],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    protection: int | None = None,
    zeros_sensitive: bool = False,
) -> SuppressionResult:
    """Suppress the small cells of ``cells`` (and of its margins) and enough others that none can be recovered.

    ``threshold``: positions with ``0 < value < threshold`` (and ``value == 0`` if ``zeros_sensitive``) are
    suppressed. ``protection``: the width the feasible interval of every suppressed position must reach
    (default: ``threshold``; at least 1, which means "not recoverable exactly").
    """
    if threshold < 1:
        raise TableError(f"threshold: must be at least 1, got {threshold}")
    protection = threshold if protection is None else protection
    if protection < 1:
        raise TableError(f"protection: must be at least 1, got {protection}")
    grid = with_margins(cells)
    primary = {
        (i, j) for i, row in enumerate(grid) for j, v in enumerate(row) if v < threshold and (v > 0 or zeros_sensitive)
    }
    suppressed = set(primary)
    complementary: set[Position] = set()
    pending = sorted(primary)
    while pending:
        target = pending[0]
        if _protected_by_a_rectangle(grid, suppressed, target, protection):
            pending.pop(0)
            continue
        interval = feasible_intervals(_publish(grid, suppressed), [target])[target]
        if interval[1] - interval[0] >= protection:
            pending.pop(0)
            continue
        extra = _complement(grid, suppressed, target, interval, protection)
        suppressed |= extra
        complementary |= extra
        pending.extend(sorted(extra))
    return SuppressionResult(
        grid=_publish(grid, suppressed),
        primary=frozenset(primary),
        complementary=frozenset(complementary),
        threshold=threshold,
        protection=protection,
        zeros_sensitive=zeros_sensitive,
    )


def rectangle_width(grid: Sequence[Sequence[int]], target: Position, k: int, m: int) -> float:
    """How far ``target`` can move when only the rectangle ``target, (i, m), (k, m), (k, j)`` moves with it.

    Moving the four corners by ``±t`` keeps every equation if the signs balance in each row and column equation:
    with the target at ``+t``, the corner in its row moves by ``-ρ(j)ρ(m)·t`` and the one in its column by
    ``-τ(i)τ(k)·t``, where ``ρ``/``τ`` is -1 for the total column/row (a total enters its equation with the
    opposite sign) and +1 otherwise. Non-negativity bounds ``t``: corners moving up bound it from below by
    their values, corners moving down from above. The width of that range is a lower bound of the LP interval
    (exactly what one rectangle gives; other cycles can only add), so it is a sound, cheap sufficient check.
    """
    i, j = target
    last_row, last_col = len(grid) - 1, len(grid[0]) - 1

    def rho(q: int) -> int:
        return -1 if q == last_col else 1

    def tau(p: int) -> int:
        return -1 if p == last_row else 1

    b_m = -rho(j) * rho(m)
    a_k = -tau(i) * tau(k)
    corners = [(grid[i][j], 1), (grid[i][m], b_m), (grid[k][j], a_k), (grid[k][m], a_k * b_m)]
    up = [v for v, sign in corners if sign > 0]
    down = [v for v, sign in corners if sign < 0]
    return min(up) + (min(down) if down else float("inf"))


def _protected_by_a_rectangle(
    grid: Sequence[Sequence[int]], suppressed: set[Position], target: Position, need: int
) -> bool:
    ti, tj = target
    rows = [k for k in range(len(grid)) if k != ti and (k, tj) in suppressed]
    cols = [m for m in range(len(grid[0])) if m != tj and (ti, m) in suppressed]
    return any((k, m) in suppressed and rectangle_width(grid, target, k, m) >= need for k in rows for m in cols)


def _publish(grid: Sequence[Sequence[int]], suppressed: set[Position]) -> list[list[int | None]]:
    return [[None if (i, j) in suppressed else v for j, v in enumerate(row)] for i, row in enumerate(grid)]


#: How many candidate rectangles are tried (two LPs each) before settling for the widest found.
MAX_TRIES = 12


def _complement(
    grid: Sequence[Sequence[int]], suppressed: set[Position], target: Position, interval: tuple[float, float], need: int
) -> set[Position]:
    """The next complementary suppressions for ``target``: the cheapest rectangle through it that protects it.

    In a table with totals, the values of suppressed positions can move without changing any published sum only
    along cycles of the grid, the smallest of which is a rectangle ``(i, j), (i, l), (k, l), (k, j)`` (totals
    included). Rectangles are tried in order of the values they newly hide (least loss first); the first that
    gives ``target`` an interval of width ``need`` is taken, else the one that widened it most.
    """
    ti, tj = target
    n_rows, n_cols = len(grid), len(grid[0])
    options: list[tuple[int, int, list[Position]]] = []
    sufficient: list[tuple[int, int, list[Position]]] = []
    for k in range(n_rows):
        if k == ti:
            continue
        for m in range(n_cols):
            if m == tj:
                continue
            new = [p for p in ((ti, m), (k, tj), (k, m)) if p not in suppressed]
            if new:
                option = (sum(grid[p[0]][p[1]] for p in new), len(new), sorted(new))
                options.append(option)
                if rectangle_width(grid, target, k, m) >= need:
                    sufficient.append(option)
    if not options:  # every rectangle is suppressed: open any other position (cannot happen with totals)
        rest = [(i, j) for i in range(n_rows) for j in range(n_cols) if (i, j) not in suppressed]
        if not rest:
            raise RuntimeError("suppression: nothing left to suppress")
        return {min(rest, key=lambda p: (grid[p[0]][p[1]], p))}
    options.sort()
    if sufficient and min(sufficient) <= options[0]:
        return set(min(sufficient)[2])  # the cheapest rectangle protects on its own: no LP needed
    cheapest_sufficient = min(sufficient) if sufficient else None
    best: tuple[float, list[Position]] = (interval[1] - interval[0], options[0][2])
    for option in options[:MAX_TRIES]:
        if cheapest_sufficient is not None and option >= cheapest_sufficient:
            return set(cheapest_sufficient[2])
        new = option[2]
        trial = _publish(grid, suppressed | set(new))
        lo, hi = feasible_intervals(trial, [target])[target]
        if hi - lo >= need:
            return set(new)
        if hi - lo > best[0]:
            best = (hi - lo, new)
    if cheapest_sufficient is not None:
        return set(cheapest_sufficient[2])
    return set(best[1])


def is_consistent(published: Sequence[Sequence[int | None]]) -> bool:
    """Whether the published grid's fully published equations hold (a sanity check of a release)."""
    plus, minus = _equations(published)
    for terms, (total,) in zip(plus, minus, strict=True):
        values = [published[i][j] for i, j in terms]
        tv = published[total[0]][total[1]]
        if tv is not None and all(v is not None for v in values) and sum(v for v in values if v is not None) != tv:
            return False
    return True
