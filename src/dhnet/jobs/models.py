# mypy: disallow-subclassing-any=False, warn-return-any=False
"""The job queue's tables: :class:`Job` (one unit of background work) and :class:`Schedule` (periodic jobs).

The queue lives in the database so that a SQLite deployment needs no broker. Two partial unique indexes carry the
guarantees the worker relies on:

* ``job_dedupe_queued``: at most one *queued* job per non-empty ``dedupe_key`` (repeated enqueues coalesce);
* ``job_lock_running``: at most one *running* job per non-empty ``lock_key`` (handlers registered ``exclusive``,
  e.g. detection runs, never run twice at once, whichever worker or command started them).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """One unit of background work, claimed by one worker at a time under a renewable lease."""

    kind = models.CharField(max_length=64, help_text="handler name, e.g. 'signals.detect'")
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    lock_key = models.CharField(max_length=64, blank=True, default="")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True, default="", help_text="latest progress message")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="claims so far (including the running one)")
    max_attempts = models.PositiveSmallIntegerField(default=5)
    run_after = models.DateTimeField(default=timezone.now, help_text="not claimed before this time")
    locked_by = models.CharField(max_length=128, blank=True, default="", help_text="worker holding the job")
    locked_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="the lease ends here unless renewed")
    error = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    requested_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(fields=["status", "run_after"], name="job_due"),
            models.Index(fields=["kind", "-created_at"], name="job_kind_recent"),
            # Coalescing looks a key up with a bound parameter, which the partial unique index below cannot serve.
            models.Index(fields=["dedupe_key", "status"], name="job_dedupe_lookup"),
        )
        constraints = (
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status="queued") & ~Q(dedupe_key=""),
                name="job_dedupe_queued",
            ),
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=Q(status="running") & ~Q(lock_key=""),
                name="job_lock_running",
            ),
        )

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))


class Schedule(models.Model):
    """When a periodic job is next due. Rows are created from the code's ``register_schedule`` defaults;
    ``customised`` rows (changed by an operator with ``dhnet jobs schedule``) keep their own timing."""

    kind = models.CharField(max_length=64, unique=True)
    every_seconds = models.PositiveIntegerField()
    at = models.TimeField(null=True, blank=True, help_text="local time of day the runs are anchored at")
    payload = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    customised = models.BooleanField(default=False)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_job_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("kind",)

    def __str__(self) -> str:
        return f"schedule {self.kind}"
