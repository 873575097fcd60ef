# mypy: warn-return-any=False
"""Services of the signals context.

* :mod:`~dhnet.signals.services.detection` -- run every active alert rule over the counts, store
  :class:`~dhnet.signals.models.Detection` rows, merge alarms into signals (:mod:`.merging`);
* :mod:`~dhnet.signals.services.workflow` -- triage (the WHO EWARS state machine), assignment, comments, risk
  assessment, escalation, the IHR (2005) Annex 2 assessment (its decision logic: :mod:`.ihr`);
* :mod:`~dhnet.signals.services.reports` -- event-based surveillance: reports of events and rumours;
* :mod:`~dhnet.signals.services.queries` -- the audited reads behind the pages and the API.

This module holds what they share: the permissions, the visibility of a signal, and the change notification.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet

from dhnet.orgunits.services import in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, NotFound
from dhnet.signals.events import signal_changed, signals_changed
from dhnet.signals.models import Signal

log = logging.getLogger(__name__)

READ = "surveillance:signal:read"
WRITE = "surveillance:signal:write"
RUN = "surveillance:run:write"
#: Reporting an event or rumour is open to every signed-in user (every role holds this permission).
REPORT = "accounts:profile:read"


def require(actor: Actor, permission: str) -> None:
    if not actor.has(permission):
        raise Forbidden(f"requires {permission}")


def visible_signals(actor: Actor, permission: str = READ) -> QuerySet[Signal]:
    """Signals whose org unit lies where ``actor`` holds ``permission`` (a role holds at its org unit and below)."""
    return in_jurisdiction(Signal.objects.all(), actor, permission, path_field="orgunit__path")


def level_of_path(path: str) -> int:
    """Depth of a materialised path (``/1/7/`` is level 2); 0 for the operator's ``/``."""
    return max(0, path.count("/") - 1)


#: Identifiers beyond a SQL integer cannot exist (and would overflow the database driver).
MAX_ID = 2**63 - 1


def get_visible(actor: Actor, signal_id: int, *, lock: bool = False) -> Signal:
    """The signal if ``actor`` may read it, else :class:`NotFound` (existence is not revealed)."""
    if not 0 < signal_id <= MAX_ID:
        raise NotFound(f"signal {signal_id} not found")
    qs = visible_signals(actor).select_related("orgunit", "disease", "rule", "assigned_to")
    if lock:
        qs = qs.select_for_update(of=("self",))
    signal = qs.filter(pk=signal_id).first()
    if signal is None:
        raise NotFound(f"signal {signal_id} not found")
    return signal


#: Changes sent per :data:`~dhnet.signals.events.signals_changed` (receivers' writes for them commit together).
NOTIFY_BATCH = 5000


def notify_changes(
    changes: list[tuple[int, str]], actor_username: str, *, timed: Callable[[float], None] | None = None
) -> None:
    """Send :data:`~dhnet.signals.events.signals_changed` for every ``(signal_id, kind)`` once the current
    transaction commits (one callback for the whole batch, see :func:`send_changes`)."""
    if changes:
        transaction.on_commit(lambda: send_changes(changes, actor_username, timed=timed))


def send_changes(
    changes: list[tuple[int, str]], actor_username: str, *, timed: Callable[[float], None] | None = None
) -> None:
    """Send the committed ``changes`` now, in bulk: one :data:`~dhnet.signals.events.signals_changed` per
    :data:`NOTIFY_BATCH` changes, each in its own transaction (the receivers' writes, e.g. the notifications'
    queued fan-out, commit together; a failing receiver is logged and loses nothing of the signals' own work).
    ``timed`` gets the seconds the receivers took."""
    began = time.perf_counter()
    for start in range(0, len(changes), NOTIFY_BATCH):
        chunk = list(changes[start : start + NOTIFY_BATCH])
        try:
            with transaction.atomic():
                signals_changed.send(sender=Signal, changes=chunk, actor_username=actor_username)
        except Exception:
            log.exception("signals: a receiver of signals_changed failed for %d changes", len(chunk))
    if timed is not None:
        timed(time.perf_counter() - began)


def notify_changed(signal_id: int, kind: str, actor_username: str) -> None:
    """Send :data:`~dhnet.signals.events.signal_changed` once the current transaction commits."""
    transaction.on_commit(
        lambda: signal_changed.send(sender=Signal, signal_id=signal_id, kind=kind, actor_username=actor_username)
    )
