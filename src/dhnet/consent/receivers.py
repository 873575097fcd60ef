"""Connections to other contexts' signals (set up by :meth:`ConsentConfig.ready`)."""

from __future__ import annotations

from typing import Any


def connect() -> None:
    """Re-point consent records when the identity context links two persons (if that context is installed)."""
    try:
        from dhnet.identity.events import persons_linked
    except ImportError:  # the identity context is not installed yet
        return
    persons_linked.connect(_on_persons_linked, dispatch_uid="dhnet.consent.persons_linked")


def _on_persons_linked(sender: Any, kept: str, merged: str, **kwargs: Any) -> None:
    from dhnet.consent import services

    services.repoint(merged, kept)
