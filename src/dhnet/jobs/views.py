# mypy: disallow-untyped-decorators=False
"""The job queue page: jobs with progress, schedules, retry of a failed job."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dhnet.jobs import services
from dhnet.jobs.models import JobStatus
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import ServiceError

PER_PAGE = 50


def _error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return render(
        request, "platform/error.html", {"title": "Cannot do that", "message": exc.message}, status=exc.status
    )


@requires(services.PERMISSION)
@require_GET
def list_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    status = request.GET.get("status", "")
    status = status if status in JobStatus.values else ""
    kind = request.GET.get("kind", "").strip()[:64]
    raw_page = request.GET.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
    query = services.JobQuery(status=status, kind=kind, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    total, jobs = services.list_jobs(actor, query)
    schedules = services.list_schedules(actor)
    active = any(j.status in (JobStatus.QUEUED, JobStatus.RUNNING) for j in jobs)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "jobs/list.html",
        {
            "jobs": jobs,
            "total": total,
            "page": page,
            "has_next": page * PER_PAGE < total,
            "status": status,
            "kind": kind,
            "statuses": JobStatus.choices,
            "schedules": schedules,
            "refresh": active,
            "query": params.urlencode(),
        },
    )


@requires(services.PERMISSION)
@require_GET
def detail_view(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = services.get_job(request_actor(request), job_id)
    except ServiceError as exc:
        return _error(request, exc)
    return render(request, "jobs/detail.html", {"job": job, "refresh": job.status in ("queued", "running")})


@requires(services.PERMISSION)
@require_POST
def retry_view(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        services.retry_job(request_actor(request), job_id)
    except ServiceError as exc:
        return _error(request, exc)
    return redirect("jobs:detail", job_id=job_id)
