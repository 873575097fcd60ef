"""The queue's own periodic job: purge old finished jobs (``jobs.purge``, daily)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dhnet.jobs.registry import JobContext, register_handler, register_schedule

PURGE = "jobs.purge"
KEEP_DONE = dt.timedelta(days=30)
KEEP_FAILED = dt.timedelta(days=90)


def purge(ctx: JobContext) -> dict[str, Any]:
    from django.utils import timezone

    from dhnet.jobs.models import Job, JobStatus

    now = timezone.now()
    done = Job.objects.filter(status=JobStatus.DONE, finished_at__lt=now - KEEP_DONE).delete()[0]
    failed = Job.objects.filter(status=JobStatus.FAILED, finished_at__lt=now - KEEP_FAILED).delete()[0]
    return {"deleted_done": done, "deleted_failed": failed}


def register() -> None:
    register_handler(PURGE, purge, max_attempts=3)
    register_schedule(PURGE, at="03:30")
