"""The connection to the signals context: every committed change of a signal is fanned out to its subscribers."""

from __future__ import annotations

import logging
from typing import Any

from dhnet.signals.events import signal_changed

log = logging.getLogger(__name__)


def on_signal_changed(sender: Any, *, signal_id: int, kind: str, actor_username: str = "", **_: Any) -> None:
    """Create the deliveries for the change (sent after the signals transaction committed).

    A failure here must not fail the request that changed the signal (it has committed already): it is logged, and
    the change can be fanned out again later (deliveries are deduplicated).
    """
    from dhnet.notifications import services

    try:
        services.fan_out(signal_id, kind, actor_username)
    except Exception:
        log.exception("notifications: fan-out of signal %s (%s) failed", signal_id, kind)


def connect() -> None:
    signal_changed.connect(on_signal_changed, dispatch_uid="dhnet.notifications.on_signal_changed")
