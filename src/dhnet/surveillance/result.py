"""The one result type every detector returns: :class:`DetectionResult`.

Arrays are shaped ``(n_series, n_evaluated)``.  Where a method cannot compute a
value for a period (all-zero history, too short a history, a statistic with no
definition for that method) the float value is ``NaN`` ("missing"); ``alarm``
is then ``False``.  Each method's docstring says when values are missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance.series import DateArray, FloatArray, Panel

__all__ = ["DetectionResult", "concat_series"]


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """Per (series, evaluated period) output of a detector.

    Attributes
    ----------
    method:
        Name of the method that produced it (e.g. ``"farrington-flexible"``).
    names:
        Series names, one per row.
    dates:
        Period starts of the evaluated periods, shape ``(m,)``.
    observed, expected, upperbound, score:
        ``float64`` arrays ``(n, m)``; ``NaN`` where undefined.
    alarm:
        ``bool`` array ``(n, m)``.
    pvalue:
        ``float64`` array ``(n, m)`` or ``None`` where the method defines none.
    extra:
        Method-specific arrays of the same shape (e.g. Farrington's ``trend``
        flag, CUSUM's cumulative sum), keyed by name.
    """

    method: str
    names: tuple[str, ...]
    dates: DateArray
    observed: FloatArray
    expected: FloatArray
    upperbound: FloatArray
    alarm: NDArray[np.bool_]
    score: FloatArray
    pvalue: FloatArray | None = None
    extra: dict[str, NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.names), int(np.asarray(self.dates).shape[0]))
        for name in ("observed", "expected", "upperbound", "score"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != shape:
                raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
            object.__setattr__(self, name, arr)
        alarm = np.asarray(self.alarm, dtype=bool)
        if alarm.shape != shape:
            raise ValueError(f"alarm has shape {alarm.shape}, expected {shape}")
        object.__setattr__(self, "alarm", alarm)
        if self.pvalue is not None:
            pv = np.asarray(self.pvalue, dtype=np.float64)
            if pv.shape != shape:
                raise ValueError(f"pvalue has shape {pv.shape}, expected {shape}")
            object.__setattr__(self, "pvalue", pv)
        for key, arr in self.extra.items():
            if np.asarray(arr).shape != shape:
                raise ValueError(f"extra[{key!r}] has shape {np.asarray(arr).shape}, expected {shape}")

    @classmethod
    def empty_like(cls, method: str, panel: Panel, idx: NDArray[np.intp]) -> DetectionResult:
        """All-missing result for ``panel`` at evaluation indices ``idx``."""
        n, m = panel.n_series, int(idx.size)
        nan = np.full((n, m), np.nan)
        return cls(
            method=method,
            names=panel.names,
            dates=panel.dates[idx],
            observed=panel.counts[:, idx].copy(),
            expected=nan.copy(),
            upperbound=nan.copy(),
            alarm=np.zeros((n, m), dtype=bool),
            score=nan.copy(),
        )

    @property
    def n_series(self) -> int:
        return len(self.names)

    def rows(self) -> Iterator[tuple[str, np.datetime64, float, float, float, bool, float]]:
        """Yield ``(series, period_start, observed, expected, upperbound, alarm, score)``."""
        for i, name in enumerate(self.names):
            for j, d in enumerate(self.dates):
                yield (
                    name,
                    d,
                    float(self.observed[i, j]),
                    float(self.expected[i, j]),
                    float(self.upperbound[i, j]),
                    bool(self.alarm[i, j]),
                    float(self.score[i, j]),
                )

    def columns(self) -> dict[str, NDArray[Any]]:
        """Long-format columns (series-major), ready for a data frame or CSV writer."""
        n, m = self.observed.shape
        out: dict[str, NDArray[Any]] = {
            "series": np.repeat(np.asarray(self.names, dtype=object), m),
            "period_start": np.tile(self.dates, n),
            "observed": self.observed.ravel(),
            "expected": self.expected.ravel(),
            "upperbound": self.upperbound.ravel(),
            "alarm": self.alarm.ravel().astype(np.int8),
            "score": self.score.ravel(),
        }
        if self.pvalue is not None:
            out["pvalue"] = self.pvalue.ravel()
        return out


def concat_series(results: Sequence[DetectionResult]) -> DetectionResult:
    """Stack results over series that share one set of evaluated dates."""
    if not results:
        raise ValueError("nothing to concatenate")
    first = results[0]
    for r in results[1:]:
        if r.method != first.method or not np.array_equal(r.dates, first.dates):
            raise ValueError("results differ in method or evaluated dates")
    has_p = all(r.pvalue is not None for r in results)
    keys = set(first.extra)
    for r in results[1:]:
        keys &= set(r.extra)
    return DetectionResult(
        method=first.method,
        names=tuple(n for r in results for n in r.names),
        dates=first.dates,
        observed=np.vstack([r.observed for r in results]),
        expected=np.vstack([r.expected for r in results]),
        upperbound=np.vstack([r.upperbound for r in results]),
        alarm=np.vstack([r.alarm for r in results]),
        score=np.vstack([r.score for r in results]),
        pvalue=np.vstack([r.pvalue for r in results if r.pvalue is not None]) if has_p else None,
        extra={k: np.vstack([r.extra[k] for r in results]) for k in sorted(keys)},
    )
