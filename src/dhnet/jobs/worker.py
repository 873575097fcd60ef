# mypy: warn-return-any=False
"""The worker: claims due jobs and runs their handlers (``dhnet worker``, or a thread of ``dhnet serve``).

Each of ``concurrency`` threads loops: claim a job, run it (a heartbeat thread renews the lease meanwhile), record
the outcome. The first thread also does the upkeep every few seconds: recover jobs whose lease expired (a killed
worker) and enqueue due schedules. ``once`` does the upkeep, drains the due jobs and returns.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, close_old_connections, connection, connections, transaction
from django.utils import timezone

from dhnet.jobs import registry, services
from dhnet.jobs.models import Job, JobStatus
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)

#: Errors that a retry cannot fix: the job fails at the first attempt.
PERMANENT = (registry.PermanentError, Invalid, Forbidden, NotFound)
UPKEEP_SECONDS = 5.0
PROGRESS_SECONDS = 0.5


class Context:
    """The :class:`~dhnet.jobs.registry.JobContext` given to handlers."""

    def __init__(self, job: Job, worker: str, hook: Callable[[int, int, str], None] | None = None) -> None:
        self.job = job
        self.job_id = job.pk
        self.kind = job.kind
        self.payload: dict[str, Any] = dict(job.payload)
        self.attempt = job.attempts
        self.requested_by = job.requested_by
        self.worker = worker
        self._hook = hook
        self._last_write = 0.0

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report progress (stored at most twice a second, and at the end); raises ``LeaseLost`` if the job was
        taken away from this worker."""
        job = self.job
        job.progress_done = max(0, int(done))
        if total is not None:
            job.progress_total = max(0, int(total))
        if message is not None:
            job.message = message[:255]
        if self._hook is not None:
            self._hook(job.progress_done, job.progress_total, job.message)
        now = time.monotonic()
        final = job.progress_total and job.progress_done >= job.progress_total
        if not final and now - self._last_write < PROGRESS_SECONDS:
            return
        self._last_write = now
        held = services.renew(
            job,
            self.worker,
            progress_done=job.progress_done,
            progress_total=job.progress_total,
            message=job.message,
        )
        if not held:
            raise services.LeaseLost(f"job {job.pk}: lease lost by {self.worker}")


class _Heartbeat(threading.Thread):
    """Renews the lease every third of it while the handler runs (its own database connection)."""

    def __init__(self, job: Job, worker: str, interval: float) -> None:
        super().__init__(name=f"heartbeat-{job.pk}", daemon=True)
        self.job, self.worker, self.interval = job, worker, interval
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(self.interval):
                try:
                    if not services.renew(self.job, self.worker):
                        log.warning("jobs: job %s: lease lost by %s", self.job.pk, self.worker)
                        return
                except Exception:  # a busy database: try again at the next beat
                    log.warning("jobs: job %s: heartbeat failed", self.job.pk, exc_info=True)
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.done.set()


def execute(job: Job, worker: str, *, hook: Callable[[int, int, str], None] | None = None) -> str:
    """Run one claimed job to its outcome; returns the job's new status (``lost`` if the lease was lost)."""
    spec = registry.handler(job.kind)
    if spec is None:
        return services.fail(job, worker, f"no handler registered for job kind {job.kind!r}", retry=False)
    context = Context(job, worker, hook)
    beat = _Heartbeat(job, worker, max(1.0, spec.lease.total_seconds() / 3))
    beat.start()
    started = time.monotonic()
    try:
        result = spec.fn(context)
    except services.LeaseLost as exc:
        log.warning("jobs: %s", exc)
        return "lost"
    except Exception as exc:
        permanent = isinstance(exc, PERMANENT)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        detail = f"{type(exc).__name__}: {message}"
        if not permanent:
            detail += "\n" + "".join(traceback.format_exception(exc)[-6:])
        log.warning("jobs: job %s (%s) attempt %s failed: %s", job.pk, job.kind, job.attempts, message)
        return services.fail(job, worker, detail, retry=True, permanent=permanent)
    finally:
        beat.stop()
    if not services.complete(job, worker, result):
        log.warning("jobs: job %s: finished after its lease was lost; result discarded", job.pk)
        return "lost"
    log.info("jobs: job %s (%s) done in %.1f s", job.pk, job.kind, time.monotonic() - started)
    return "done"


def run_inline(
    kind: str,
    payload: dict[str, Any],
    *,
    requested_by: str,
    hook: Callable[[int, int, str], None] | None = None,
) -> Job:
    """Run a job of ``kind`` now, in this process (the command line), recorded in the queue like any other.

    A handler registered ``exclusive`` refuses to start while another job of its kind runs (:class:`Conflict`).
    The job gets one attempt; its outcome is in the returned row.
    """
    spec = registry.handler(kind)
    if spec is None:
        raise Invalid(f"kind: no handler registered for job kind {kind!r}")
    data = services._json(payload, "payload")
    worker = services.worker_name("inline")
    now = timezone.now()
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                payload=data,
                status=JobStatus.RUNNING,
                lock_key=kind if spec.exclusive else "",
                attempts=1,
                max_attempts=1,
                locked_by=worker,
                locked_at=now,
                lease_until=now + spec.lease,
                started_at=now,
                requested_by=requested_by[:150],
            )
    except IntegrityError:
        running = Job.objects.filter(lock_key=kind, status=JobStatus.RUNNING).first()
        where = f" (job {running.pk} on {running.locked_by})" if running else ""
        raise Conflict(f"a {kind} job is running already{where}; try again when it has finished") from None
    execute(job, worker, hook=hook)
    job.refresh_from_db()
    return job


class Worker:
    """Claims and runs jobs with ``concurrency`` threads until stopped (or, with ``once``, until none is due)."""

    def __init__(
        self,
        *,
        concurrency: int = 1,
        poll: float = 1.0,
        kinds: list[str] | None = None,
        name: str = "",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency: at least 1")
        self.concurrency = concurrency
        self.poll = poll
        self.kinds = kinds
        self.name = name
        self.stop_event = threading.Event()
        self.processed = 0
        self._lock = threading.Lock()
        self._last_upkeep = 0.0

    def stop(self) -> None:
        self.stop_event.set()

    def upkeep(self) -> None:
        """Recover expired leases and enqueue due schedules (errors are logged: the loop goes on)."""
        self._last_upkeep = time.monotonic()
        try:
            services.recover_expired()
            services.tick_schedules()
        except Exception:
            log.exception("jobs: upkeep failed")

    def run(self, *, once: bool = False) -> int:
        """Work until :meth:`stop` (or, with ``once``, until no job is due); returns the number of jobs run."""
        self.upkeep()
        threads = [
            threading.Thread(target=self._loop, args=(i, once), name=f"worker-{i}", daemon=True)
            for i in range(1, self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            self._loop(0, once, close=False)
        finally:
            if not once:
                self.stop()
            for thread in threads:
                thread.join()
        return self.processed

    def _loop(self, index: int, once: bool, close: bool = True) -> None:
        worker = services.worker_name(self.name)
        try:
            while not self.stop_event.is_set():
                if index == 0 and not once and time.monotonic() - self._last_upkeep >= UPKEEP_SECONDS:
                    self.upkeep()
                if not connection.in_atomic_block:  # (a caller's transaction, e.g. a test, keeps its connection)
                    close_old_connections()  # drop a broken or expired connection between jobs
                try:
                    job = services.claim(worker, kinds=self.kinds)
                except Exception:  # e.g. the database is unreachable: wait and try again
                    log.exception("jobs: claim failed")
                    self.stop_event.wait(self.poll)
                    continue
                if job is None:
                    if once:
                        break
                    self.stop_event.wait(self.poll)
                    continue
                execute(job, worker)
                with self._lock:
                    self.processed += 1
        finally:
            if close:
                connections.close_all()


def start_in_thread(*, concurrency: int = 1, poll: float = 2.0) -> tuple[Worker, threading.Thread]:
    """Run a worker in a daemon thread of this process (``dhnet serve --with-worker``)."""
    worker = Worker(concurrency=concurrency, poll=poll, name="serve")

    def main() -> None:
        try:
            worker.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=main, name="dhnet-worker", daemon=True)
    thread.start()
    return worker, thread
