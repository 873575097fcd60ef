"""The hand-off to the platform's job queue (:mod:`dhnet.jobs`).

Jobs of this context:

``notifications.fanout`` (payload ``{"signal": id, "kind": ..., "actor": ...}``)
    Enqueued by the ``signal_changed`` receiver: creates the deliveries of one signal change
    (:func:`dhnet.notifications.services.fan_out`), off the request that changed the signal, retried by the queue
    if it fails. Coalesced per signal and kind (a burst of changes is fanned out once, with the latest state).
``notifications.fanout_batch`` (payload ``{"changes": [[id, kind], ...], "actor": ...}``)
    Enqueued by the ``signals_changed`` receiver (a detection run's changes in bulk), at most
    :data:`FANOUT_BATCH` changes per job: runs :func:`~dhnet.notifications.services.fan_out` for each, every change
    in its own transaction. ``fan_out`` creates nothing twice, so a retried job (after a failure of one change, which
    fails the job once all the others are done) repeats only what is missing.
``notifications.attempt`` (payload ``{"delivery": id}``)
    One attempt of one delivery (:func:`dhnet.notifications.services.attempt`). Enqueued when a delivery is created
    and again, at ``next_attempt_at``, after each failed attempt that will be retried; coalesced per delivery. The
    back-off of deliveries (1 min, 5 min, 30 min, 2 h, 12 h with jitter) is the delivery's own: the job itself
    fails only on unexpected errors (then the queue retries it).
``notifications.sweep`` (every 10 minutes)
    Enqueues an attempt for every due pending delivery whose job went missing (a lost enqueue, a crash); attempts
    are claimed on the delivery row, so a duplicate job never sends twice.
``notifications.digest`` (daily at 06:00 local time) and ``notifications.reminders`` (daily at 08:00)
    :func:`~dhnet.notifications.services.run_digest` and :func:`~dhnet.notifications.services.run_reminders` as the
    platform; both are idempotent per day (digest) or per org unit and week (reminders), so the reminder of a week
    goes out at the first run after the week ended, on Monday morning.

``dhnet notify digest|reminders|run`` run the same services by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dhnet.jobs import JobContext, enqueue, register_handler, register_schedule

FANOUT_JOB = "notifications.fanout"
FANOUT_BATCH_JOB = "notifications.fanout_batch"
#: Signal changes per batch fan-out job.
FANOUT_BATCH = 1000
ATTEMPT_JOB = "notifications.attempt"
SWEEP_JOB = "notifications.sweep"
DIGEST_JOB = "notifications.digest"
REMINDERS_JOB = "notifications.reminders"
REQUESTED_BY = "system:notifications"


def enqueue_fanout(signal_id: int, kind: str, actor_username: str) -> None:
    """Fan out one committed change of a signal in the background."""
    enqueue(
        FANOUT_JOB,
        {"signal": signal_id, "kind": kind, "actor": actor_username[:150]},
        dedupe_key=f"{FANOUT_JOB}:{signal_id}:{kind}",
        requested_by=REQUESTED_BY,
    )


def fanout_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.jobs import PermanentError
    from dhnet.notifications import services

    signal_id, kind = ctx.payload.get("signal"), ctx.payload.get("kind")
    if isinstance(signal_id, bool) or not isinstance(signal_id, int) or not isinstance(kind, str):
        raise PermanentError("payload: expected a signal id and a kind")
    created = services.fan_out(signal_id, kind, str(ctx.payload.get("actor", "")))
    return {"signal": signal_id, "kind": kind, "deliveries": [d.pk for d in created]}


def enqueue_fanout_batch(changes: list[tuple[int, str]], actor_username: str) -> int:
    """Fan out many committed changes in the background: one job per :data:`FANOUT_BATCH` changes; their count."""
    jobs = 0
    for start in range(0, len(changes), FANOUT_BATCH):
        chunk = [[pk, kind] for pk, kind in changes[start : start + FANOUT_BATCH]]
        enqueue(FANOUT_BATCH_JOB, {"changes": chunk, "actor": actor_username[:150]}, requested_by=REQUESTED_BY)
        jobs += 1
    return jobs


def fanout_batch_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.jobs import PermanentError
    from dhnet.notifications import services

    raw = ctx.payload.get("changes")
    if not isinstance(raw, list):
        raise PermanentError("payload.changes: expected a list of [signal id, kind]")
    changes: list[tuple[int, str]] = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or isinstance(item[0], bool)
            or not isinstance(item[0], int)
            or not isinstance(item[1], str)
        ):
            raise PermanentError(f"payload.changes[{i}]: expected [signal id, kind]")
        changes.append((item[0], item[1]))
    actor = str(ctx.payload.get("actor", ""))
    deliveries, failed = 0, []
    for n, (signal_id, kind) in enumerate(changes):
        if n % 100 == 0:
            ctx.progress(n, len(changes), "fanning out signal changes")
        try:
            deliveries += len(services.fan_out(signal_id, kind, actor))
        except Exception as exc:  # the others still go out; the job fails at the end and is retried
            failed.append(f"signal {signal_id} ({kind}): {exc}")
    if failed:
        raise RuntimeError(f"fan-out failed for {len(failed)} of {len(changes)} changes; first: {failed[0]}")
    return {"changes": len(changes), "deliveries": deliveries}


def enqueue_attempt(delivery_id: int, run_at: dt.datetime | None) -> None:
    """Schedule one attempt of delivery ``delivery_id`` at ``run_at`` (None: now)."""
    enqueue(
        ATTEMPT_JOB,
        {"delivery": delivery_id},
        dedupe_key=f"{ATTEMPT_JOB}:{delivery_id}",
        run_after=run_at,
        requested_by=REQUESTED_BY,
    )


def attempt_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.jobs import PermanentError
    from dhnet.notifications import services
    from dhnet.notifications.models import PENDING

    raw = ctx.payload.get("delivery")
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise PermanentError("payload.delivery: expected a delivery id")
    result = services.attempt(raw)
    if not result.attempted and result.status == PENDING and result.next_attempt_at is not None:
        enqueue_attempt(raw, result.next_attempt_at)  # ran before the delivery was due: come back then
    return {
        "delivery": raw,
        "attempted": result.attempted,
        "status": result.status,
        "next_attempt_at": result.next_attempt_at.isoformat() if result.next_attempt_at else None,
        "error": result.error[:500],
    }


def sweep_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.notifications import services

    now = services.clock()
    ids = services.due(now)
    for pk in ids:
        enqueue_attempt(pk, now)
    return {"enqueued": len(ids)}


def digest_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.notifications import services

    report = services.run_digest(services.SYSTEM)
    return {"queued": len(report.created), "skipped": report.skipped}


def reminders_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.notifications import services

    report = services.run_reminders(services.SYSTEM)
    return {"queued": len(report.created), "skipped": report.skipped}


def register() -> None:
    """Register the job handlers and the schedules (called from the app's ``ready``)."""
    register_handler(FANOUT_JOB, fanout_job, max_attempts=5)
    register_handler(FANOUT_BATCH_JOB, fanout_batch_job, max_attempts=5, lease=dt.timedelta(minutes=15))
    register_handler(ATTEMPT_JOB, attempt_job, max_attempts=3, lease=dt.timedelta(minutes=2))
    register_handler(SWEEP_JOB, sweep_job, max_attempts=1, exclusive=True)
    register_handler(DIGEST_JOB, digest_job, max_attempts=3, exclusive=True)
    register_handler(REMINDERS_JOB, reminders_job, max_attempts=3, exclusive=True)
    register_schedule(SWEEP_JOB, every="10m")
    register_schedule(DIGEST_JOB, at="06:00")
    register_schedule(REMINDERS_JOB, at="08:00")
