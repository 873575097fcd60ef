# mypy: warn-return-any=False
"""The job queue: enqueue (with coalescing), claim (safe on SQLite and PostgreSQL), finish, retry with backoff,
recover expired leases, and enqueue periodic jobs when due.

Claiming
    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` on the due jobs, then the claim in the same transaction, so
    concurrent workers never wait on each other nor take the same job. SQLite (no row locks): an atomic
    ``UPDATE job SET status='running', ... WHERE id=? AND status='queued'``; the worker whose update changed a row
    owns the job, the others move on to the next candidate.

Leases
    A claim holds the job until ``lease_until``; the worker renews it (a heartbeat thread, and every progress
    report). A killed worker stops renewing; :func:`recover_expired` (run by every worker) then requeues the job
    with backoff, or fails it when ``max_attempts`` claims were made. Finishing is conditional on still holding the
    claim (``locked_by`` and ``attempts``), so a worker that lost its lease cannot overwrite a newer run's outcome.

Coalescing
    ``enqueue(..., dedupe_key=K)`` while a job with key ``K`` is still *queued* returns that job (its payload merged
    with the handler's ``merge``) instead of adding one; once it runs, the next enqueue queues a new one, so work
    arriving during a run is never lost.

Functions without an actor are the queue's machinery (called by workers and by other services, which check
permissions themselves); the read functions for pages and the API take the actor and are audited.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.jobs import registry
from dhnet.jobs.models import Job, JobStatus, Schedule
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)

#: Reading the queue and starting runs (pages, API, command line).
PERMISSION = "surveillance:run:write"
MAX_PAYLOAD_BYTES = 64 * 1024
#: The largest offset of a page (a SQL integer, less a page).
MAX_OFFSET = 2**63 - 1 - 1000
T = TypeVar("T")


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease expired and the job was recovered)."""


def worker_name(suffix: str = "") -> str:
    """``host:pid:thread`` (plus ``suffix``), what ``locked_by`` records."""
    name = f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
    return (f"{name}:{suffix}" if suffix else name)[:128]


def _json(value: Any, what: str) -> Any:
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{what}: not JSON-serialisable ({exc})") from None
    if len(text) > MAX_PAYLOAD_BYTES:
        raise Invalid(f"{what}: larger than {MAX_PAYLOAD_BYTES} bytes")
    return json.loads(text)


# --- enqueue ----------------------------------------------------------------------------------------------------


def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str = "",
    run_after: dt.datetime | None = None,
    requested_by: str = "system",
    max_attempts: int | None = None,
) -> tuple[Job, bool]:
    """Queue a job of ``kind``; ``(job, created)``. With ``dedupe_key``, coalesce into a queued job with that key.

    Call it inside the caller's transaction when the job must exist only if that transaction commits.
    """
    spec = registry.handler(kind)
    if spec is None:
        raise Invalid(f"kind: no handler registered for job kind {kind!r}")
    data = _json(dict(payload or {}), "payload")
    if len(dedupe_key) > 200:
        raise Invalid("dedupe_key: at most 200 characters")
    when = run_after or timezone.now()
    with transaction.atomic():
        if dedupe_key:
            merged = _coalesce(spec, dedupe_key, data, when)
            if merged is not None:
                return merged, False
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    kind=kind,
                    payload=data,
                    dedupe_key=dedupe_key,
                    lock_key=kind if spec.exclusive else "",
                    run_after=when,
                    requested_by=requested_by[:150],
                    max_attempts=max_attempts or spec.max_attempts,
                )
        except IntegrityError:  # a concurrent enqueue inserted the same key first
            merged = _coalesce(spec, dedupe_key, data, when)
            if merged is None:
                raise
            return merged, False
    return job, True


def _coalesce(spec: registry.HandlerSpec, key: str, data: dict[str, Any], when: dt.datetime) -> Job | None:
    existing = Job.objects.select_for_update().filter(dedupe_key=key, status=JobStatus.QUEUED).first()
    if existing is None:
        return None
    new_payload = _json(spec.merge(existing.payload, data), "payload") if spec.merge else existing.payload
    run_after = min(existing.run_after, when)
    changed = Job.objects.filter(pk=existing.pk, status=JobStatus.QUEUED).update(
        payload=new_payload, run_after=run_after
    )
    if not changed:  # claimed meanwhile: the caller inserts a new one
        return None
    existing.payload, existing.run_after = new_payload, run_after
    return existing


# --- claim, renew, finish ---------------------------------------------------------------------------------------


def _due(now: dt.datetime, kinds: Iterable[str] | None) -> QuerySet[Job]:
    qs = Job.objects.filter(status=JobStatus.QUEUED, run_after__lte=now).order_by("run_after", "id")
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    return qs


def _lease(job_kind: str) -> dt.timedelta:
    spec = registry.handler(job_kind)
    return spec.lease if spec else registry.DEFAULT_LEASE


def _locked(exc: OperationalError) -> bool:
    return "locked" in str(exc).lower()


def retrying(fn: Callable[[], T], *, attempts: int = 8) -> T:
    """Run ``fn``, again after a short pause when SQLite reports a lock it did not wait out (its shared-cache mode
    answers "table is locked" at once; a busy file database after the timeout). Outside transactions only."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if not _locked(exc) or connection.in_atomic_block or attempt == attempts - 1:
                raise
            time.sleep(0.005 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def claim(worker: str, *, kinds: Iterable[str] | None = None, now: dt.datetime | None = None) -> Job | None:
    """Take the next due job for ``worker`` (None when nothing is due)."""
    moment = now or timezone.now()
    wanted = list(kinds) if kinds is not None else None
    if connection.features.has_select_for_update_skip_locked:
        return _claim_skip_locked(worker, wanted, moment)
    return retrying(lambda: _claim_conditional(worker, wanted, moment))


def _claim_skip_locked(worker: str, kinds: list[str] | None, now: dt.datetime) -> Job | None:
    with transaction.atomic():
        for job in _due(now, kinds).select_for_update(skip_locked=True)[:20]:
            job.status = JobStatus.RUNNING
            job.locked_by = worker
            job.locked_at = now
            job.lease_until = now + _lease(job.kind)
            job.attempts += 1
            job.started_at = job.started_at or now
            try:
                with transaction.atomic():
                    job.save(
                        update_fields=["status", "locked_by", "locked_at", "lease_until", "attempts", "started_at"]
                    )
            except IntegrityError:  # an exclusive job of this kind is running elsewhere
                continue
            return job
    return None


def _claim_conditional(worker: str, kinds: list[str] | None, now: dt.datetime) -> Job | None:
    for pk, kind in _due(now, kinds).values_list("pk", "kind")[:20]:
        try:
            with transaction.atomic():  # the claim and the read of the claimed row commit (or fail) together
                changed = Job.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
                    status=JobStatus.RUNNING,
                    locked_by=worker,
                    locked_at=now,
                    lease_until=now + _lease(kind),
                    attempts=F("attempts") + 1,
                )
                if not changed:  # another worker was first
                    continue
                Job.objects.filter(pk=pk, started_at__isnull=True).update(started_at=now)
                return Job.objects.get(pk=pk)
        except IntegrityError:  # an exclusive job of this kind is running elsewhere
            continue
    return None


def _held(job: Job, worker: str) -> QuerySet[Job]:
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, locked_by=worker, attempts=job.attempts)


def renew(job: Job, worker: str, *, now: dt.datetime | None = None, **fields: Any) -> bool:
    """Extend the lease (and store progress ``fields``); False when the worker no longer holds the job."""
    until = (now or timezone.now()) + _lease(job.kind)
    return bool(retrying(lambda: _held(job, worker).update(lease_until=until, **fields)))


def complete(job: Job, worker: str, result: dict[str, Any] | None, *, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    try:
        data = _json(result or {}, "result")
    except Invalid as exc:
        data = {"unserialisable": exc.message}
    fields: dict[str, Any] = {
        "status": JobStatus.DONE,
        "result": data,
        "finished_at": now,
        "lease_until": None,
        "error": "",
    }
    if job.progress_total:
        fields["progress_done"] = job.progress_total
    return bool(retrying(lambda: _held(job, worker).update(**fields)))


def fail(
    job: Job, worker: str, error: str, *, retry: bool, now: dt.datetime | None = None, permanent: bool = False
) -> str:
    """Record a failed attempt: requeue with backoff while claims remain (and ``retry``), else fail for good.

    Returns the new status (``queued`` or ``failed``), or ``lost`` when the worker no longer held the job.
    """
    moment = now or timezone.now()
    spec = registry.handler(job.kind)
    text = error[-8000:]

    def record() -> str:
        with transaction.atomic():
            held = _held(job, worker)
            if retry and not permanent and job.attempts < job.max_attempts:
                delay = spec.backoff(job.attempts) if spec else dt.timedelta(seconds=30)
                return _requeue(held, job, moment + delay, f"attempt {job.attempts} failed: {text}")
            changed = held.update(status=JobStatus.FAILED, error=text, finished_at=moment, lease_until=None)
        return "failed" if changed else "lost"

    return retrying(record)


def _requeue(held: QuerySet[Job], job: Job, run_after: dt.datetime, error: str) -> str:
    """Put a held job back into the queue; if a job with its dedupe key is queued meanwhile, merge into that."""
    try:
        with transaction.atomic():
            changed = held.update(
                status=JobStatus.QUEUED, run_after=run_after, error=error, locked_by="", lease_until=None
            )
        return "queued" if changed else "lost"
    except IntegrityError:
        spec = registry.handler(job.kind)
        other = _coalesce(spec, job.dedupe_key, job.payload, run_after) if spec else None
        note = f" (continued as job {other.pk})" if other else ""
        changed = held.update(status=JobStatus.FAILED, error=error + note, finished_at=timezone.now())
        return "failed" if changed else "lost"


def recover_expired(*, now: dt.datetime | None = None) -> list[int]:
    """Requeue (or fail, when no claims remain) running jobs whose lease has expired: their worker died."""
    now = now or timezone.now()
    recovered = []
    for job in Job.objects.filter(status=JobStatus.RUNNING, lease_until__lt=now).order_by("id")[:100]:
        held = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_until__lt=now, attempts=job.attempts)
        message = f"lease of worker {job.locked_by} expired at {job.lease_until:%Y-%m-%d %H:%M:%S}Z"
        with transaction.atomic():
            if job.attempts < job.max_attempts:
                spec = registry.handler(job.kind)
                delay = spec.backoff(job.attempts) if spec else dt.timedelta(seconds=30)
                status = _requeue(held, job, now + delay, message + "; requeued")
            else:
                changed = held.update(
                    status=JobStatus.FAILED,
                    error=f"{message}; no claims left ({job.attempts} of {job.max_attempts})",
                    finished_at=now,
                    lease_until=None,
                )
                status = "failed" if changed else "lost"
        if status != "lost":
            log.warning("jobs: job %s (%s): %s; now %s", job.pk, job.kind, message, status)
            recovered.append(job.pk)
    return recovered


# --- schedules --------------------------------------------------------------------------------------------------


def next_run(every: dt.timedelta, at: dt.time | None, after: dt.datetime) -> dt.datetime:
    """The first run strictly after ``after``: ``anchor + k * every``, the anchor being ``at`` (local time, midnight
    when None) on the local day of ``after``. Whole-day periods step in local calendar days (stable over DST)."""
    tz = timezone.get_default_timezone()
    local = after.astimezone(tz)
    anchor = dt.datetime.combine(local.date(), at or dt.time(0), tzinfo=tz)
    seconds = every.total_seconds()
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        candidate = anchor
        while candidate <= after:
            candidate = dt.datetime.combine(candidate.date() + dt.timedelta(days=days), at or dt.time(0), tzinfo=tz)
        while candidate - dt.timedelta(days=days) > after:
            candidate = dt.datetime.combine(candidate.date() - dt.timedelta(days=days), at or dt.time(0), tzinfo=tz)
        return candidate
    k = math.floor((after - anchor).total_seconds() / seconds) + 1
    return anchor + dt.timedelta(seconds=k * seconds)


def sync_schedules(*, now: dt.datetime | None = None) -> list[Schedule]:
    """Create the rows of registered schedules; apply code defaults to rows no operator has customised."""
    now = now or timezone.now()
    rows = []
    for spec in registry.schedules().values():
        every = int(spec.every.total_seconds())
        row = Schedule.objects.filter(kind=spec.kind).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Schedule.objects.create(
                        kind=spec.kind,
                        every_seconds=every,
                        at=spec.at,
                        payload=spec.payload,
                        next_run_at=next_run(spec.every, spec.at, now),
                    )
            except IntegrityError:  # another worker created it
                row = Schedule.objects.get(kind=spec.kind)
        elif not row.customised and (row.every_seconds, row.at, row.payload) != (every, spec.at, spec.payload):
            row.every_seconds, row.at, row.payload = every, spec.at, spec.payload
            row.next_run_at = next_run(spec.every, spec.at, now)
            row.save(update_fields=["every_seconds", "at", "payload", "next_run_at", "updated_at"])
        rows.append(row)
    return rows


def tick_schedules(*, now: dt.datetime | None = None) -> list[Job]:
    """Enqueue every enabled schedule that is due (once, whichever worker gets there first)."""
    now = now or timezone.now()
    sync_schedules(now=now)
    jobs = []
    for row in Schedule.objects.filter(enabled=True, next_run_at__lte=now):
        if registry.handler(row.kind) is None:
            continue
        following = next_run(dt.timedelta(seconds=row.every_seconds), row.at, now)
        with transaction.atomic():
            won = Schedule.objects.filter(pk=row.pk, next_run_at=row.next_run_at).update(
                next_run_at=following, last_enqueued_at=now
            )
            if not won:
                continue
            payload = {**row.payload, "trigger": row.payload.get("trigger", "schedule")}
            job, _ = enqueue(row.kind, payload, dedupe_key=f"{row.kind}", requested_by=f"schedule:{row.kind}")
            Schedule.objects.filter(pk=row.pk).update(last_job_id=job.pk)
        jobs.append(job)
    return jobs


def set_schedule(
    actor: Actor,
    kind: str,
    *,
    every: str | None = None,
    at: str | None = None,
    enabled: bool | None = None,
    reset: bool = False,
) -> Schedule:
    """Change a schedule's timing (the change outlives code defaults) or ``reset`` it to them."""
    _require(actor)
    spec = registry.schedules().get(kind)
    if spec is None:
        known = ", ".join(sorted(registry.schedules())) or "none"
        raise NotFound(f"schedule {kind!r} not found (registered: {known})")
    try:
        delta = registry.parse_every(every) if every is not None else None
        anchor = registry.parse_time(at) if at not in (None, "") else None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    now = timezone.now()
    with transaction.atomic():
        sync_schedules(now=now)
        row = Schedule.objects.select_for_update().get(kind=kind)
        if reset:
            row.every_seconds, row.at, row.customised = int(spec.every.total_seconds()), spec.at, False
        if delta is not None:
            row.every_seconds, row.customised = int(delta.total_seconds()), True
        if at is not None:
            row.at, row.customised = anchor, True
        if enabled is not None:
            row.enabled = enabled
        row.next_run_at = next_run(dt.timedelta(seconds=row.every_seconds), row.at, now)
        row.save()
        audit.record(
            actor,
            "jobs.schedule.update",
            object_type="jobs.schedule",
            object_id=kind,
            detail={
                "every_seconds": row.every_seconds,
                "at": row.at.isoformat() if row.at else None,
                "enabled": row.enabled,
                "customised": row.customised,
            },
            permission=PERMISSION,
        )
    return row


# --- reading (pages, API, command line) -------------------------------------------------------------------------


def _require(actor: Actor) -> None:
    if not actor.has(PERMISSION):
        raise Forbidden(f"requires {PERMISSION}")


@dataclass(frozen=True)
class JobQuery:
    status: str = ""
    kind: str = ""
    limit: int = 50
    offset: int = 0


def list_jobs(actor: Actor, query: JobQuery) -> tuple[int, list[Job]]:
    """Jobs, newest first: (total, one page). The queue is platform-wide (jobs belong to no org unit)."""
    _require(actor)
    if query.status and query.status not in JobStatus.values:
        raise Invalid(f"status: expected one of {', '.join(JobStatus.values)}")
    if not 1 <= query.limit <= 500:
        raise Invalid("limit: must be between 1 and 500")
    if not 0 <= query.offset <= MAX_OFFSET:
        raise Invalid(f"offset: must be between 0 and {MAX_OFFSET}")
    qs = Job.objects.all()
    if query.status:
        qs = qs.filter(status=query.status)
    if query.kind:
        qs = qs.filter(kind=query.kind)
    with transaction.atomic():
        total = qs.count()
        jobs = list(qs.order_by("-created_at", "-id")[query.offset : query.offset + query.limit])
        audit.record(
            actor,
            "jobs.job.list",
            object_type="jobs.job",
            detail={"status": query.status, "kind": query.kind, "offset": query.offset, "returned": len(jobs)},
            permission=PERMISSION,
        )
    return total, jobs


def get_job(actor: Actor, job_id: int) -> Job:
    _require(actor)
    if not 0 < job_id <= MAX_OFFSET:
        raise NotFound(f"job {job_id} not found")
    with transaction.atomic():
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            raise NotFound(f"job {job_id} not found")
        audit.record(actor, "jobs.job.read", object_type="jobs.job", object_id=job_id, permission=PERMISSION)
    return job


def list_schedules(actor: Actor) -> list[Schedule]:
    _require(actor)
    with transaction.atomic():
        sync_schedules()
        rows = list(Schedule.objects.order_by("kind"))
        audit.record(actor, "jobs.schedule.list", object_type="jobs.schedule", permission=PERMISSION)
    return rows


def retry_job(actor: Actor, job_id: int) -> Job:
    """Queue a failed job again (one more claim allowed)."""
    _require(actor)
    if not 0 < job_id <= MAX_OFFSET:
        raise NotFound(f"job {job_id} not found")
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise NotFound(f"job {job_id} not found")
        if job.status != JobStatus.FAILED:
            raise Conflict(f"job {job_id}: only a failed job can be retried (it is {job.status})")
        try:
            with transaction.atomic():
                Job.objects.filter(pk=job.pk).update(
                    status=JobStatus.QUEUED,
                    run_after=timezone.now(),
                    max_attempts=max(job.max_attempts, job.attempts + 1),
                    finished_at=None,
                )
        except IntegrityError:
            raise Conflict(f"job {job_id}: a job with the same key is queued already") from None
        audit.record(actor, "jobs.job.retry", object_type="jobs.job", object_id=job_id, permission=PERMISSION)
    job.refresh_from_db()
    return job
