"""In-process notifications between contexts, so that the signals context need not know who listens.

``signal_changed`` is sent (after the transaction commits, via ``transaction.on_commit``) whenever a signal is
created or changes state; keyword arguments: ``signal_id`` (int), ``kind`` (the :class:`SignalEvent` kind, e.g.
``"created"``, ``"alarm"``, ``"status"``, ``"escalate"``, ``"risk"``), ``actor_username`` (str).
The notifications context connects to it.

``signals_changed`` is the bulk form, sent by detection runs (thousands of changes at once) instead of one
``signal_changed`` per change: keyword arguments ``changes`` (a list of ``(signal_id, kind)``, committed) and
``actor_username``. A receiver that wants every change connects to both.
"""

from django.dispatch import Signal as _DispatchSignal

signal_changed = _DispatchSignal()

signals_changed = _DispatchSignal()
"""The bulk form of :data:`signal_changed`: many committed changes at once (a detection run)."""
