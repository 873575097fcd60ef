"""dhnet.jobs: a database-backed job queue (no broker), its worker and periodic schedules.

Register handlers and schedules from an app's ``ready()`` (:func:`register_handler`, :func:`register_schedule`),
enqueue with :func:`enqueue`; run ``dhnet worker`` (or ``dhnet serve --with-worker``). See
:mod:`dhnet.jobs.registry` and :mod:`dhnet.jobs.services`.
"""

from __future__ import annotations

from typing import Any

from dhnet.jobs.registry import JobContext, PermanentError, register_handler, register_schedule

__all__ = ["JobContext", "PermanentError", "enqueue", "register_handler", "register_schedule"]


def enqueue(kind: str, payload: dict[str, Any] | None = None, **options: Any) -> Any:
    """Queue a job (see :func:`dhnet.jobs.services.enqueue`); returns ``(job, created)``."""
    from dhnet.jobs.services import enqueue as _enqueue

    return _enqueue(kind, payload, **options)
