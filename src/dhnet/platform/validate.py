"""Small validators the services share: each returns the cleaned value or raises ``Invalid`` naming the field.

``where`` is the name the caller's message uses for the field (``title``, ``rows[3].unit``), so that a bad row in a
batch is named exactly. Country codes are checked by :func:`dhnet.network.timezones.country_code`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dhnet.platform.errors import Invalid


def text(raw: Any, where: str, *, max_length: int, required: bool = False) -> str:
    """``raw`` stripped: None is empty; not text, a NUL character, empty when required or too long is ``Invalid``."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise Invalid(f"{where}: expected text")
    value = raw.strip()
    if "\x00" in value:
        raise Invalid(f"{where}: contains a NUL character")
    if required and not value:
        raise Invalid(f"{where}: required")
    if len(value) > max_length:
        raise Invalid(f"{where}: longer than {max_length} characters")
    return value


def choice(raw: Any, choices: Iterable[Any], where: str) -> str:
    """``raw`` if it is one of ``choices`` (a Django ``TextChoices`` class or plain strings), else ``Invalid``
    listing them."""
    value = text(raw, where, max_length=40, required=True)
    allowed = [getattr(c, "value", c) for c in choices]
    if value not in allowed:
        raise Invalid(f"{where}: {value[:40]!r} is not one of {', '.join(allowed)}")
    return value
