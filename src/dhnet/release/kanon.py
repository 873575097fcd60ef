"""k-anonymous line lists: full-domain generalisation of the quasi-identifiers, then suppression of the rest.

The quasi-identifiers of a case line are its age, sex, place and date. Each has a generalisation hierarchy:

==========  =====================================================================================
age         5-year band (``0-4`` … ``80+``) → 10-year (``0-9`` … ``80+``) → 20-year (``0-19`` … ``60+``) → ``*``
place       district → region → country (the org-unit hierarchy: the record carries the three codes)
date        ISO week (``2024-W05``) → month (``2024-01``)
sex         kept as is (FHIR gender code); it has no useful coarser level
==========  =====================================================================================

The search visits every node of the lattice (4 × 3 × 2 = 24 levels), computes the equivalence classes of the
records on the generalised quasi-identifiers and the records in classes smaller than ``k`` (the ones that would
be suppressed). Among the nodes whose suppression stays within ``max_suppression`` (a fraction of the records),
it takes the one losing least information (the sum of the levels, each normalised by its height; ties: fewer
suppressed, then the lower levels in the order age, place, date). If no node qualifies, the top node is used. The
records still in classes smaller than ``k`` are suppressed (left out of the export), so every equivalence class of
the output has at least ``k`` records. An unknown age is its own class (``unknown``) at every level except ``*``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import product

AGE_LEVELS = ("5y", "10y", "20y", "suppressed")
PLACE_LEVELS = ("district", "region", "country")
DATE_LEVELS = ("week", "month")
QUASI_IDENTIFIERS = ("age_group", "sex", "place", "period")


class KAnonymityError(ValueError):
    """Bad parameters (k, suppression limit)."""


@dataclass(frozen=True)
class Record:
    """One case line as the generaliser sees it; ``payload`` (non-identifying attributes) passes through."""

    key: str  # an opaque id used to report which records were kept (never exported)
    age_years: int | None
    sex: str
    district: str
    region: str
    country: str
    date: dt.date
    payload: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Levels:
    age: int
    place: int
    date: int

    def describe(self) -> dict[str, str]:
        return {"age": AGE_LEVELS[self.age], "place": PLACE_LEVELS[self.place], "date": DATE_LEVELS[self.date]}


@dataclass(frozen=True)
class Anonymised:
    """The result: generalised rows (quasi-identifiers + payload), the levels, and what was suppressed."""

    k: int
    rows: list[dict[str, str]]
    kept: list[str]
    levels: Levels
    suppressed: int
    total: int
    k_achieved: int | None  # smallest class in the output; None when nothing is left
    classes: int
    explored: list[dict[str, object]] = field(default_factory=list)


def age_group(age: int | None, level: int) -> str:
    """The age band of ``age`` at ``level`` (0: 5-year, 1: 10-year, 2: 20-year, 3: suppressed)."""
    if level >= 3:
        return "*"
    if age is None:
        return "unknown"
    if age < 0:
        raise KAnonymityError(f"negative age {age}")
    width, top = ((5, 80), (10, 80), (20, 60))[level]
    if age >= top:
        return f"{top}+"
    low = age - age % width
    return f"{low}-{low + width - 1}"


def place_of(record: Record, level: int) -> str:
    return (record.district, record.region, record.country)[level]


def period_of(day: dt.date, level: int) -> str:
    if level == 0:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def generalise(record: Record, levels: Levels) -> tuple[str, str, str, str]:
    return (
        age_group(record.age_years, levels.age),
        record.sex,
        place_of(record, levels.place),
        period_of(record.date, levels.date),
    )


def _loss(levels: Levels) -> float:
    return levels.age / 3 + levels.place / 2 + levels.date / 1


def anonymise(records: Sequence[Record], k: int, *, max_suppression: float = 0.05) -> Anonymised:
    """Generalise ``records`` to a ``k``-anonymous line list, suppressing at most ``max_suppression`` if possible."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise KAnonymityError(f"k: must be an integer of at least 2, got {k!r}")
    if not 0 <= max_suppression <= 1:
        raise KAnonymityError(f"max_suppression: must be between 0 and 1, got {max_suppression!r}")
    total = len(records)
    allowed = int(max_suppression * total)
    explored: list[dict[str, object]] = []
    best: tuple[tuple[float, int, int, int, int], Levels, Counter[tuple[str, str, str, str]]] | None = None
    top: tuple[Levels, Counter[tuple[str, str, str, str]]] | None = None
    for a, p, d in product(range(len(AGE_LEVELS)), range(len(PLACE_LEVELS)), range(len(DATE_LEVELS))):
        levels = Levels(a, p, d)
        classes = Counter(generalise(r, levels) for r in records)
        violating = sum(n for n in classes.values() if n < k)
        explored.append({**levels.describe(), "suppressed": violating})
        top = (levels, classes)
        if violating <= allowed:
            rank = (_loss(levels), violating, a, p, d)
            if best is None or rank < best[0]:
                best = (rank, levels, classes)
    assert top is not None
    levels, classes = (best[1], best[2]) if best is not None else top
    rows: list[dict[str, str]] = []
    kept: list[str] = []
    # Sorted by the generalised values: the order of intake (which could hint at who came first) is not kept.
    for qi, record in sorted(((generalise(r, levels), r) for r in records), key=lambda t: (t[0], t[1].payload)):
        if classes[qi] >= k:
            rows.append({**dict(zip(QUASI_IDENTIFIERS, qi, strict=True)), **dict(record.payload)})
            kept.append(record.key)
    sizes = [n for n in classes.values() if n >= k]
    return Anonymised(
        k=k,
        rows=rows,
        kept=kept,
        levels=levels,
        suppressed=total - len(rows),
        total=total,
        k_achieved=min(sizes) if sizes else None,
        classes=len(sizes),
        explored=explored,
    )
