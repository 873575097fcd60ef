"""The few special functions of :mod:`.farrington` without the import cost of ``scipy.special``.

``import scipy.special`` takes about 0.15 s (its package initialisation loads scipy's array-API layer,
which pulls in ``numpy.testing`` and ``numpy.f2py``), while the compiled ufuncs themselves load in a few
milliseconds.  ``dhnet detect`` pays every millisecond of start-up, so this module loads only the extension
module ``scipy.special._ufuncs`` (the ufuncs ``scipy.special`` re-exports: the very same functions, so
results are bit-identical), by importing it under a temporary bare package object that stands in for
``scipy.special`` while the extension loads; the bare package is removed from ``sys.modules`` at once, so a
later ``import scipy.special`` runs the real package initialisation (which then reuses the loaded extension).
If ``scipy.special`` is already imported, or anything about the shortcut fails (another scipy layout), the
ordinary ``scipy.special`` is used.

The normal quantile of a constant (:func:`ndtri`) comes from the standard library (``NormalDist.inv_cdf``,
Wichura's AS241 as R's ``qnorm``, accurate to about 1e-16 like scipy's ``ndtri``), without loading scipy.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

__all__ = ["ndtri", "ufuncs"]

_lock = threading.Lock()
_ufuncs: Any = None


def _load() -> Any:
    if "scipy.special" in sys.modules:
        return sys.modules["scipy.special"]
    try:
        spec = importlib.util.find_spec("scipy.special")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("scipy.special has no package path")
        bare = types.ModuleType("scipy.special")
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__spec__ = spec
        bare.__package__ = "scipy.special"
        sys.modules["scipy.special"] = bare
        try:
            mod = importlib.import_module("scipy.special._ufuncs")
        finally:
            if sys.modules.get("scipy.special") is bare:
                del sys.modules["scipy.special"]
            parent = sys.modules.get("scipy")
            # (not getattr: scipy's module __getattr__ would import the real scipy.special)
            if parent is not None and vars(parent).get("special") is bare:
                delattr(parent, "special")
        for name in ("betainc", "betaincc", "gammainc", "gammaincc", "ndtr", "stdtr"):
            getattr(mod, name)
        return mod
    except ImportError:  # pragma: no cover - another scipy layout: the ordinary import
        return importlib.import_module("scipy.special")


def ufuncs() -> Any:
    """The module holding scipy's special-function ufuncs (``betainc``, ``gammaincc``, ``ndtr``, ``stdtr``, ...)."""
    global _ufuncs
    if _ufuncs is None:
        with _lock:
            if _ufuncs is None:
                _ufuncs = _load()
    return _ufuncs


def ndtri(p: float) -> float:
    """The standard normal quantile of ``p`` in (0, 1) (R's ``qnorm(p)``).

    The C implementation behind ``statistics.NormalDist.inv_cdf`` (``_statistics``), without importing
    ``statistics`` (which loads ``random``, ``fractions`` and ``decimal``)."""
    try:
        from _statistics import _normal_dist_inv_cdf
    except ImportError:  # pragma: no cover - another Python implementation
        import statistics

        return statistics.NormalDist().inv_cdf(p)
    return float(_normal_dist_inv_cdf(p, 0.0, 1.0))
