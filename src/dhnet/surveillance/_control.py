"""Shared validation for method settings ("control" dataclasses).

Every method's settings are a frozen dataclass whose ``__post_init__`` calls
these helpers, so a bad value raises a ``ValueError`` that names the setting
(by its R control name in kebab-case, as on the command line) and the value.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any


def option_name(field: str) -> str:
    """``past_weeks_not_included`` -> ``past-weeks-not-included`` (the CLI spelling)."""
    return field.replace("_", "-")


def require(condition: bool, field: str, value: Any, expectation: str) -> None:
    """Raise ``ValueError`` naming ``field`` unless ``condition`` holds."""
    if not condition:
        raise ValueError(f"{option_name(field)}: {expectation}, got {value!r}")


def int_at_least(field: str, value: Any, minimum: int) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    require(ok, field, value, f"must be an integer >= {minimum}")


def float_in(field: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    require(ok, field, value, f"must be a number in {left}{lo}, {hi}{right}")


def one_of(field: str, value: Any, allowed: Collection[Any]) -> None:
    require(value in allowed, field, value, "must be one of " + ", ".join(repr(a) for a in allowed))
