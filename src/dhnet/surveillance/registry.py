"""Name -> method table used by the command line, the platform and Dask workers.

A method is registered with its public name (as in ``dhnet detect --method``),
its settings dataclass and a function ``run(panel, control, idx)`` where
``idx`` are the indices of the periods to evaluate (earlier periods are
history).  Every ``run`` returns a :class:`~dhnet.surveillance.result.DetectionResult`
for exactly those periods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import Panel

RunFn = Callable[[Panel, Any, NDArray[np.intp]], DetectionResult]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    control_type: type[Any]
    run: RunFn
    summary: str
    presets: dict[str, Callable[[], Any]] | None = None


_REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"method {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> MethodSpec:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(names())}") from None


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def _load_all() -> None:
    # Importing the method modules registers them.
    from dhnet.surveillance import methods  # noqa: F401
