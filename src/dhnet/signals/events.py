"""In-process notifications between contexts, so that the signals context need not know who listens.

``signal_changed`` is sent (after the transaction commits, via ``transaction.on_commit``) whenever a signal is
created or changes state; keyword arguments: ``signal_id`` (int), ``kind`` (the :class:`SignalEvent` kind, e.g.
``"created"``, ``"alarm"``, ``"status"``, ``"escalate"``, ``"risk"``), ``actor_username`` (str).
The notifications context connects to it.
"""

from django.dispatch import Signal as _DispatchSignal

signal_changed = _DispatchSignal()
