"""``/api/v1/jobs``: the background job queue (thin handlers over :mod:`dhnet.jobs.services`)."""

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from dhnet.jobs import services
from dhnet.jobs.schemas import JobOut, JobPage
from dhnet.platform.access import request_actor, requires

router = Router(tags=["jobs"])


class JobFilter(Schema):
    status: str = Field("", max_length=16, description="queued, running, done or failed")
    kind: str = Field("", max_length=64, description="job kind, e.g. signals.detect")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=services.MAX_OFFSET)


@router.get("/jobs", response=JobPage, summary="Background jobs, newest first, with progress")
@requires(services.PERMISSION)
def list_jobs(request: HttpRequest, filters: Query[JobFilter]) -> JobPage:
    query = services.JobQuery(status=filters.status, kind=filters.kind, limit=filters.limit, offset=filters.offset)
    total, jobs = services.list_jobs(request_actor(request), query)
    return JobPage(count=total, limit=filters.limit, offset=filters.offset, items=[JobOut.of(j) for j in jobs])


@router.get("/jobs/{job_id}", response=JobOut, summary="One job: status, progress, error, result")
@requires(services.PERMISSION)
def get_job(request: HttpRequest, job_id: int) -> JobOut:
    return JobOut.of(services.get_job(request_actor(request), job_id))


@router.post("/jobs/{job_id}/retry", response=JobOut, summary="Queue a failed job again")
@requires(services.PERMISSION)
def retry_job(request: HttpRequest, job_id: int) -> JobOut:
    return JobOut.of(services.retry_job(request_actor(request), job_id))
