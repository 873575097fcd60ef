"""Name -> method table used by the command line, the platform and Dask workers.

A method is registered with its public name (as in ``dhnet detect --method``),
its settings dataclass and a function ``run(panel, control, idx)`` where
``idx`` are the indices of the periods to evaluate (earlier periods are
history).  Every ``run`` returns a :class:`~dhnet.surveillance.result.DetectionResult`
for exactly those periods.

Method modules register themselves when imported.  :data:`MODULES` names the
module of every built-in method, so that :func:`get` imports only the module of
the method asked for (start-up time of ``dhnet detect``) and :func:`names` lists
every method without importing any.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dhnet.surveillance.result import DetectionResult
from dhnet.surveillance.series import Panel

RunFn = Callable[[Panel, Any, NDArray[np.intp]], DetectionResult]

#: Built-in method name -> the module that registers it (kept in step with the modules by a test).
MODULES: dict[str, str] = {
    "cusum": "dhnet.surveillance.cusum",
    "ears": "dhnet.surveillance.ears",
    "farrington-flexible": "dhnet.surveillance.farrington",
    "glrnb": "dhnet.surveillance.glr",
    "glrpois": "dhnet.surveillance.glr",
    "minmax": "dhnet.surveillance.outliers",
    "modified-zscore": "dhnet.surveillance.outliers",
    "threshold": "dhnet.surveillance.thresholds",
    "zscore": "dhnet.surveillance.outliers",
}


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
    if name not in _REGISTRY and name in MODULES:
        importlib.import_module(MODULES[name])  # registers it
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(names())}") from None


def names() -> list[str]:
    """Every method name (built-in and registered), without importing the method modules."""
    return sorted({*MODULES, *_REGISTRY})


def _load_all() -> None:
    # Importing the method modules registers them.
    from dhnet.surveillance import methods  # noqa: F401
