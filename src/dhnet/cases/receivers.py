"""Connections to other contexts' signals (set up by :meth:`CasesConfig.ready`)."""

from __future__ import annotations

from typing import Any


def connect() -> None:
    """Re-point cases when the identity context links two persons (if that context is installed)."""
    try:
        from dhnet.identity.events import persons_linked
    except ImportError:  # the identity context is not installed yet
        return
    persons_linked.connect(_on_persons_linked, dispatch_uid="dhnet.cases.persons_linked")


def _on_persons_linked(sender: Any, kept: str, merged: str, **kwargs: Any) -> None:
    from dhnet.cases import services

    services.repoint(merged, kept)
