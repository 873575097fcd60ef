"""The connection to the signals context: every committed change of a signal is fanned out to its subscribers."""

from __future__ import annotations

import logging
from typing import Any

from dhnet.signals.events import signal_changed, signals_changed

log = logging.getLogger(__name__)


def on_signal_changed(sender: Any, *, signal_id: int, kind: str, actor_username: str = "", **_: Any) -> None:
    """Queue the fan-out of a committed change (a job: off the request, retried by the queue if it fails).

    Sent after the signals transaction committed: a failure here must not fail the request that changed the
    signal, so it is logged (the change can be fanned out again later: deliveries are deduplicated).
    """
    from dhnet.notifications import queue, services

    if kind not in services.NOTIFIED_EVENTS:
        return
    try:
        queue.enqueue_fanout(signal_id, kind, actor_username)
    except Exception:
        log.exception("notifications: could not queue the fan-out of signal %s (%s)", signal_id, kind)


def on_signals_changed(sender: Any, *, changes: list[tuple[int, str]], actor_username: str = "", **_: Any) -> None:
    """Queue the fan-out of many committed changes (a detection run) as a few batch jobs, not one job per signal:
    queueing is then a handful of inserts however many signals a run created."""
    from dhnet.notifications import queue, services

    notified = [(int(pk), kind) for pk, kind in changes if kind in services.NOTIFIED_EVENTS]
    if not notified:
        return
    try:
        queue.enqueue_fanout_batch(notified, actor_username)
    except Exception:
        log.exception("notifications: could not queue the fan-out of %d signal changes", len(notified))


def connect() -> None:
    signal_changed.connect(on_signal_changed, dispatch_uid="dhnet.notifications.on_signal_changed")
    signals_changed.connect(on_signals_changed, dispatch_uid="dhnet.notifications.on_signals_changed")
