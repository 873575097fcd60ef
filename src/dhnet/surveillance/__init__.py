"""dhnet.surveillance: aberration detection for surveillance count series.

A pure numerical library (numpy/scipy/numba).  It imports nothing from the web
platform, HTTP or any database; an import-linter contract enforces this.

Quick use::

    from dhnet.surveillance import Panel, detect
    panel = Panel.from_counts(counts, start="2020-01-06", freq="weekly")
    result = detect(panel, "ears", variant="C1", start="2021-01-04")

Every method has one module (``ears``, ``farrington``, ``cusum``, ``glr``,
``outliers``, ``thresholds``), a settings dataclass with validated values, and
returns a :class:`DetectionResult`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import Any

import numpy as np

from dhnet.surveillance import registry
from dhnet.surveillance.result import DetectionResult, concat_series
from dhnet.surveillance.series import Frequency, Panel, SeriesError, evaluation_indices

__all__ = [
    "DetectionResult",
    "Frequency",
    "Panel",
    "SeriesError",
    "concat_series",
    "detect",
    "evaluation_indices",
    "make_control",
]


def make_control(method: str, preset: str | None = None, **options: Any) -> Any:
    """Settings object for ``method``: the preset (if any) with ``options`` replaced."""
    spec = registry.get(method)
    if preset is not None:
        if not spec.presets or preset not in spec.presets:
            known = ", ".join(sorted(spec.presets or {})) or "none"
            raise ValueError(f"method {method!r} has no preset {preset!r} (presets: {known})")
        base = spec.presets[preset]()
        return dataclasses.replace(base, **options) if options else base
    return spec.control_type(**options)


def detect(
    panel: Panel,
    method: str,
    control: Any = None,
    *,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
    preset: str | None = None,
    **options: Any,
) -> DetectionResult:
    """Run ``method`` on ``panel`` for the periods ``start``..``end`` (inclusive).

    Either pass a settings object as ``control`` or keyword ``options`` (field
    names of the method's settings dataclass), optionally on top of a ``preset``.
    """
    spec = registry.get(method)
    if control is None:
        control = make_control(method, preset, **options)
    elif options or preset:
        raise ValueError("pass either control or options/preset, not both")
    idx = evaluation_indices(panel, start, end)
    return spec.run(panel, control, idx)
