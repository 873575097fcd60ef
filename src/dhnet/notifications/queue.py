"""The hand-off to the platform's job queue (``dhnet.jobs``).

Deliveries are attempted by :func:`dhnet.notifications.services.attempt`, a plain service function; this module
turns "attempt delivery N at time T" into a job and registers the handlers and the daily schedules. Until the job
queue is installed, nothing is enqueued and ``dhnet notify run`` sweeps the due deliveries instead.
"""

from __future__ import annotations

import datetime as dt

ATTEMPT_JOB = "notifications.attempt"
DIGEST_JOB = "notifications.digest"
REMINDERS_JOB = "notifications.reminders"


def enqueue_attempt(delivery_id: int, run_at: dt.datetime | None) -> None:
    """Schedule one attempt of delivery ``delivery_id`` at ``run_at`` (None: now)."""


def register() -> None:
    """Register the job handlers and the daily schedules (called from the app's ``ready``)."""
