"""API schemas of the job queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema

from dhnet.jobs.models import Job


class JobOut(Schema):
    id: int
    kind: str
    status: str
    payload: dict[str, Any]
    progress_done: int
    progress_total: int
    percent: int | None
    message: str
    attempts: int
    max_attempts: int
    run_after: dt.datetime
    locked_by: str
    lease_until: dt.datetime | None
    error: str
    result: dict[str, Any]
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.pk,
            kind=job.kind,
            status=job.status,
            payload=job.payload,
            progress_done=job.progress_done,
            progress_total=job.progress_total,
            percent=job.percent,
            message=job.message,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            run_after=job.run_after,
            locked_by=job.locked_by,
            lease_until=job.lease_until,
            error=job.error,
            result=job.result,
            requested_by=job.requested_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[JobOut]
