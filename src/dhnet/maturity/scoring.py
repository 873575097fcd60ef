"""GDHM scoring, exactly as the Global Digital Health Monitor computes it: a pure module (no Django).

Why pure: the command line (``dhnet maturity score``) scores a JSON file without a database, and the services score
assessments with the same code, so the two can never disagree. An import-linter contract keeps Django out.

The rule (``docs/maturity-design.md``):

- a component's score is the mean of the phases of its *top-level* indicators; sub-indicators (``9a``, ``21b``) and
  answers "not available" (:data:`NOT_AVAILABLE`, -1) are left out of that mean;
- a component whose top-level indicators are all not available has no score (``None``) and no phase, and is left
  out of the country's mean;
- the country's score is the mean of the component scores (``None`` when no component has one);
- the phase of any score is :func:`phase_of`: the score rounded to one decimal, half to even, then ``ceil``; 0 -> 1.

Means are exact (:class:`fractions.Fraction`) and the rounding is done on the exact value, so that a mean of
exactly 2.25 rounds to 2.2 (phase 3) and 21/20 rounds to 1.0 (phase 1), which binary floating point would get
wrong (``1.05`` as a float is slightly above 1.05). The reported ``score`` is the exact mean converted to a float.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "NOT_AVAILABLE",
    "PHASES",
    "ComponentScore",
    "ComponentStructure",
    "RubricStructure",
    "Score",
    "ScoringError",
    "phase_of",
    "score",
]

#: The answer "not available" (GDHM's -1): the indicator is left out of every mean.
NOT_AVAILABLE = -1
#: The phases an indicator may be answered with, and "not available".
PHASES: frozenset[int] = frozenset({NOT_AVAILABLE, 1, 2, 3, 4, 5})


class ScoringError(ValueError):
    """Input that cannot be scored; ``code`` names the indicator at fault (``None`` for the structure)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ComponentStructure:
    """One component of a rubric: its name, its top-level indicator codes and its sub-indicator codes, in order."""

    name: str
    indicators: tuple[str, ...]
    sub_indicators: tuple[str, ...] = ()


@dataclass(frozen=True)
class RubricStructure:
    """What scoring needs of a rubric: the components in order (no texts).

    Built from the rubric JSON (:meth:`from_dict`) or from the database (``maturity.services.structure``).
    A code appears once in the whole rubric.
    """

    components: tuple[ComponentStructure, ...]
    code: str = ""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, component in enumerate(self.components):
            for code in (*component.indicators, *component.sub_indicators):
                if code in seen:
                    raise ScoringError(f"indicator {code!r} appears twice in the rubric (component {i + 1})", code)
                seen.add(code)

    @property
    def top_level(self) -> frozenset[str]:
        """The codes of the top-level indicators (those that are scored)."""
        return frozenset(c for component in self.components for c in component.indicators)

    @property
    def codes(self) -> frozenset[str]:
        """Every indicator code of the rubric, sub-indicators included."""
        return frozenset(c for component in self.components for c in (*component.indicators, *component.sub_indicators))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RubricStructure:
        """The structure of a rubric in the file shape (``{"code", "components": [{"name", "indicators": [...]}]}``).

        The input is assumed valid (``maturity.rubrics.validate`` checks a file first and names the element at
        fault); components are taken in ``position`` order, indicators and their sub-indicators in file order.
        """
        components = sorted(data["components"], key=lambda c: c["position"])
        return cls(
            code=str(data.get("code", "")),
            components=tuple(
                ComponentStructure(
                    name=c["name"],
                    indicators=tuple(i["code"] for i in c["indicators"]),
                    sub_indicators=tuple(s["code"] for i in c["indicators"] for s in i.get("sub_indicators", ())),
                )
                for c in components
            ),
        )


@dataclass(frozen=True)
class ComponentScore:
    """A component's score (``None`` when all its indicators are not available) and phase."""

    name: str
    score: float | None
    phase: int | None


@dataclass(frozen=True)
class Score:
    """The components' scores in rubric order, and the country's score and phase (``None`` when nothing scored)."""

    components: tuple[ComponentScore, ...]
    score: float | None
    phase: int | None

    def as_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: ``{"components": [{"name", "score", "phase"}], "overall": {"score", "phase"}}``."""
        return {
            "components": [{"name": c.name, "score": c.score, "phase": c.phase} for c in self.components],
            "overall": {"score": self.score, "phase": self.phase},
        }


def _phase_exact(value: Fraction) -> int:
    """``ceil`` of ``value`` rounded half-even to one decimal; 0 -> 1 (GDHM's phase of a score)."""
    rounded = round(value, 1)  # Fraction.__round__ rounds half to even, exactly
    return max(1, math.ceil(rounded))


def phase_of(score: float | Fraction | int) -> int:
    """The phase of a score between 0 and 5: rounded to one decimal (half to even) and then ``ceil``; 0 -> 1.

    A float is taken at its shortest decimal form (``2.35`` is 235/100, not the binary value just above it), so
    ``phase_of(2.25) == 3`` (2.2), ``phase_of(3.05) == 3`` (3.0), ``phase_of(3.15) == 4`` (3.2).
    """
    if isinstance(score, bool) or not isinstance(score, (int, float, Fraction)):
        raise ScoringError(f"a score must be a number, not {score!r}")
    if isinstance(score, float) and not math.isfinite(score):
        raise ScoringError(f"a score must be a finite number, not {score!r}")
    exact = Fraction(repr(score)) if isinstance(score, float) else Fraction(score)
    if exact < 0 or exact > 5:
        raise ScoringError(f"a score lies between 0 and 5, not {score!r}")
    return _phase_exact(exact)


def _mean(values: Iterable[Fraction]) -> Fraction | None:
    items = list(values)
    return sum(items, Fraction(0)) / len(items) if items else None


def _check(structure: RubricStructure, answers: Mapping[str, int | None]) -> None:
    codes = structure.codes
    for code, phase in answers.items():
        if code not in codes:
            label = structure.code or "the rubric"
            raise ScoringError(f"indicator {code!r}: unknown code (not in {label})", str(code))
        if phase is None:
            continue
        if isinstance(phase, bool) or not isinstance(phase, int) or phase not in PHASES:
            raise ScoringError(
                f"indicator {code!r}: phase {phase!r} is not one of -1 (not available), 1, 2, 3, 4, 5", code
            )


def score(structure: RubricStructure, answers: Mapping[str, int | None]) -> Score:
    """Score ``answers`` (indicator code -> phase 1..5 or -1) on ``structure``, exactly as GDHM.

    Missing indicators and ``None`` (unanswered) count as not available. Answers to sub-indicators are checked but
    do not count. An unknown code or a phase outside {-1, 1..5} raises :class:`ScoringError` naming the code.
    """
    _check(structure, answers)
    components: list[ComponentScore] = []
    means: list[Fraction] = []
    for component in structure.components:
        phases = [answers.get(code) for code in component.indicators]
        mean = _mean(Fraction(p) for p in phases if p is not None and p != NOT_AVAILABLE)
        if mean is None:
            components.append(ComponentScore(component.name, None, None))
            continue
        means.append(mean)
        components.append(ComponentScore(component.name, float(mean), _phase_exact(mean)))
    overall = _mean(means)
    return Score(
        components=tuple(components),
        score=None if overall is None else float(overall),
        phase=None if overall is None else _phase_exact(overall),
    )
