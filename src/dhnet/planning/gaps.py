"""The gap list as a pure function: targets and current phases in, gaps prioritised by the planner's weights out.

No Django here (``lint-imports`` keeps it so): the services read targets and the latest published maturity score
from the database and hand plain values to :func:`compute_gaps`; tests check the arithmetic on hand-made dicts.

The rule (docs/maturity-design.md, ``planning.services.gaps``): for each indicator with a target, the current phase
is the one of the country's latest published assessment, "not available" (-1), unanswered or not assessed counting
as 0; gap = max(target - current, 0); priority = gap x weight; sorted by priority (highest first), then by indicator
code in the rubric's natural order (``2`` < ``2a`` < ``10``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

NOT_AVAILABLE = -1
PHASES = range(1, 6)
_CODE_RE = re.compile(r"^(\d+)([a-z]*)$")


def code_key(code: str) -> tuple[int, str, str]:
    """Sort key of an indicator code in the rubric's order: ``2`` < ``2a`` < ``2b`` < ``10``; other codes last."""
    found = _CODE_RE.match(code)
    if found is None:
        return (10**9, "", code)
    return (int(found.group(1)), found.group(2), "")


@dataclass(frozen=True)
class Gap:
    """One indicator with a target: where the country stands, where it wants to be, how much that matters."""

    code: str
    name: str
    current: int  # 0..5: 0 = not available, unanswered or not assessed
    assessed: bool  # False: no phase in the latest published assessment (or none published)
    target: int
    target_year: int
    weight: Decimal
    gap: int
    priority: Decimal

    @property
    def met(self) -> bool:
        return self.gap == 0


def current_phase(phases: Mapping[str, int | None], code: str) -> tuple[int, bool]:
    """``(phase, assessed)`` of one indicator: a phase 1..5 as it is; "not available", unanswered or missing as 0."""
    value = phases.get(code)
    if value is None or value == NOT_AVAILABLE:
        return 0, False
    if isinstance(value, bool) or not isinstance(value, int) or value not in PHASES:
        raise ValueError(f"indicator {code}: phase {value!r} is not -1 or 1..5")
    return value, True


def compute_gaps(targets: Iterable[Mapping[str, Any]], phases: Mapping[str, int | None]) -> list[Gap]:
    """The gap list of ``targets`` (dicts with ``code``, ``name``, ``target_phase``, ``target_year``, ``weight``)
    against ``phases`` (indicator code -> phase, -1 for not available), highest priority first.

    Weights are Decimals (or anything ``Decimal(str(w))`` reads) and must not be negative; a target phase is 1..5.
    Errors name the indicator code.
    """
    gaps = []
    for row in targets:
        code = str(row["code"])
        target = row["target_phase"]
        if isinstance(target, bool) or not isinstance(target, int) or target not in PHASES:
            raise ValueError(f"indicator {code}: target phase {target!r} is not 1..5")
        weight = Decimal(str(row.get("weight", 1)))
        if not weight.is_finite() or weight < 0:
            raise ValueError(f"indicator {code}: weight {weight} is negative")
        current, assessed = current_phase(phases, code)
        gap = max(target - current, 0)
        gaps.append(
            Gap(
                code=code,
                name=str(row.get("name", "")),
                current=current,
                assessed=assessed,
                target=target,
                target_year=int(row["target_year"]),
                weight=weight,
                gap=gap,
                priority=gap * weight,
            )
        )
    gaps.sort(key=lambda g: (-g.priority, code_key(g.code)))
    return gaps


@dataclass(frozen=True)
class GapTotals:
    """The gap list in a few numbers: indicators with a target, those met, the sum of gaps and of priorities."""

    targets: int
    met: int
    open: int
    total_gap: int
    total_priority: Decimal


def totals(gaps: Iterable[Gap]) -> GapTotals:
    rows = list(gaps)
    met = sum(1 for g in rows if g.met)
    return GapTotals(
        targets=len(rows),
        met=met,
        open=len(rows) - met,
        total_gap=sum(g.gap for g in rows),
        total_priority=sum((g.priority for g in rows), Decimal(0)),
    )
