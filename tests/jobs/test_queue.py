"""The job queue: enqueue and coalescing, claims (order, races, exclusive kinds), retries with backoff, lease
recovery after a killed worker, progress, schedules, the worker loop."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from dhnet.jobs import registry, services, worker
from dhnet.jobs.models import Job, Schedule
from dhnet.platform.errors import Conflict, Invalid, NotFound

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Callable[..., registry.HandlerSpec]:
    """Register a handler for the test only."""
    monkeypatch.setattr(registry, "_HANDLERS", dict(registry._HANDLERS))
    monkeypatch.setattr(registry, "_SCHEDULES", dict(registry._SCHEDULES))

    def add(kind: str, fn: Callable[[Any], Any] | None = None, **options: Any) -> registry.HandlerSpec:
        return registry.register_handler(kind, fn or (lambda ctx: {"ok": True}), **options)

    return add


def _union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {"items": sorted(set(a.get("items", [])) | set(b.get("items", [])))}


# --- enqueue --------------------------------------------------------------------------------------------------------


def test_enqueue_coalesces_while_queued_and_not_once_running(register: Any) -> None:
    register("test.work", merge=_union)
    first, created = services.enqueue("test.work", {"items": [1]}, dedupe_key="k")
    assert created
    again, created = services.enqueue("test.work", {"items": [2]}, dedupe_key="k")
    assert not created
    assert again.pk == first.pk
    assert Job.objects.get(pk=first.pk).payload == {"items": [1, 2]}
    assert Job.objects.count() == 1
    # Once it runs, new work queues a new job (the running one may have read its input already).
    claimed = services.claim("w1")
    assert claimed is not None
    assert claimed.pk == first.pk
    third, created = services.enqueue("test.work", {"items": [3]}, dedupe_key="k")
    assert created
    assert third.pk != first.pk
    # Without a key, no coalescing.
    services.enqueue("test.work", {})
    services.enqueue("test.work", {})
    assert Job.objects.count() == 4


def test_enqueue_refuses_unknown_kinds_and_bad_payloads(register: Any) -> None:
    register("test.work")
    with pytest.raises(Invalid, match=r"no handler registered for job kind 'nope\.x'"):
        services.enqueue("nope.x")
    with pytest.raises(Invalid, match="payload: not JSON-serialisable"):
        services.enqueue("test.work", {"when": dt.date(2024, 1, 1)})
    with pytest.raises(ValueError, match="must be named"):
        registry.register_handler("Bad Kind", lambda ctx: None)
    with pytest.raises(ValueError, match="has a handler already"):
        registry.register_handler("test.work", lambda ctx: None)


def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(register: Any) -> None:
    from django.db import transaction

    register("test.work")

    def work() -> None:
        with transaction.atomic():
            services.enqueue("test.work")
            raise RuntimeError("the caller's work failed")

    with pytest.raises(RuntimeError):
        work()
    assert not Job.objects.exists()


# --- claims ---------------------------------------------------------------------------------------------------------


def test_claim_order_and_run_after(register: Any) -> None:
    register("test.work")
    later, _ = services.enqueue("test.work", {"n": 1}, run_after=T0 + dt.timedelta(minutes=5))
    a, _ = services.enqueue("test.work", {"n": 2}, run_after=T0 - dt.timedelta(minutes=1))
    b, _ = services.enqueue("test.work", {"n": 3}, run_after=T0 - dt.timedelta(minutes=1))
    assert services.claim("w", now=T0).pk == a.pk
    assert services.claim("w", now=T0).pk == b.pk
    assert services.claim("w", now=T0) is None  # the third is not due yet
    job = services.claim("w", now=T0 + dt.timedelta(minutes=5))
    assert job.pk == later.pk
    assert (job.status, job.locked_by, job.attempts) == ("running", "w", 1)
    assert job.lease_until == T0 + dt.timedelta(minutes=5) + registry.DEFAULT_LEASE


def test_claim_never_takes_a_job_claimed_meanwhile(register: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race on SQLite: another worker claims the candidate between our read and our update."""
    register("test.work")
    a, _ = services.enqueue("test.work", {"n": 1})
    b, _ = services.enqueue("test.work", {"n": 2})
    original = services._due

    def stale(now: dt.datetime, kinds: Any) -> Any:
        candidates = original(now, kinds)
        Job.objects.filter(pk=a.pk).update(status="running", locked_by="other")  # the other worker wins a
        return candidates

    monkeypatch.setattr(services, "_due", stale)
    if services.connection.features.has_select_for_update_skip_locked:
        pytest.skip("PostgreSQL claims under row locks (covered by the threaded race test)")
    job = services._claim_conditional("me", None, timezone.now())
    assert job is not None
    assert job.pk == b.pk
    assert Job.objects.get(pk=a.pk).locked_by == "other"


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_each_job_once(register: Any) -> None:
    register("test.work")
    jobs = [services.enqueue("test.work", {"n": i})[0].pk for i in range(24)]
    claims: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        mine: list[int] = []
        try:
            barrier.wait()
            while True:
                job = services.claim(name)
                if job is None:
                    break
                mine.append(job.pk)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            claims[name] = mine
            connections.close_all()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    taken = [pk for mine in claims.values() for pk in mine]
    assert sorted(taken) == sorted(jobs)  # every job once, none twice
    assert set(Job.objects.values_list("status", flat=True)) == {"running"}
    assert Job.objects.filter(attempts=1).count() == len(jobs)


def test_exclusive_kind_runs_once_at_a_time(register: Any) -> None:
    register("test.exclusive", exclusive=True)
    register("test.other")
    first, _ = services.enqueue("test.exclusive", {"n": 1})
    second, _ = services.enqueue("test.exclusive", {"n": 2})
    other, _ = services.enqueue("test.other")
    running = services.claim("w1")
    assert running.pk == first.pk
    assert services.claim("w2").pk == other.pk  # the second exclusive job waits
    assert services.claim("w3") is None
    with pytest.raises(Conflict, match=r"a test\.exclusive job is running already"):
        worker.run_inline("test.exclusive", {}, requested_by="cli:me")
    assert services.complete(running, "w1", {"done": 1})
    assert services.claim("w2").pk == second.pk


# --- outcomes -------------------------------------------------------------------------------------------------------


def test_retries_with_backoff_then_fails(register: Any) -> None:
    calls: list[int] = []

    def flaky(ctx: Any) -> None:
        calls.append(ctx.attempt)
        raise RuntimeError("the SMTP server is down")

    spec = register("test.flaky", flaky, max_attempts=3, backoff_base=dt.timedelta(seconds=10))
    job, _ = services.enqueue("test.flaky")
    now = timezone.now()
    for attempt in (1, 2):
        claimed = services.claim("w", now=now)
        assert claimed is not None
        assert claimed.attempts == attempt
        failed_at = timezone.now()
        assert worker.execute(claimed, "w") == "queued"
        row = Job.objects.get(pk=job.pk)
        assert row.status == "queued"
        assert "the SMTP server is down" in row.error
        assert failed_at + spec.backoff(attempt) <= row.run_after <= timezone.now() + spec.backoff(attempt)
        assert services.claim("w", now=row.run_after - dt.timedelta(seconds=1)) is None  # backing off
        now = row.run_after
    claimed = services.claim("w", now=now)
    assert worker.execute(claimed, "w") == "failed"
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.attempts, calls) == ("failed", 3, [1, 2, 3])
    assert row.finished_at is not None
    assert spec.backoff(1) == dt.timedelta(seconds=10)
    assert spec.backoff(3) == dt.timedelta(seconds=40)
    assert spec.backoff(30) == dt.timedelta(hours=1)  # capped


def test_permanent_errors_fail_at_once(register: Any) -> None:
    def bad(ctx: Any) -> None:
        raise registry.PermanentError("payload: no such delivery")

    def missing(ctx: Any) -> None:
        raise NotFound("delivery 7 not found")

    register("test.bad", bad)
    register("test.missing", missing)
    for kind in ("test.bad", "test.missing"):
        job, _ = services.enqueue(kind)
        assert worker.execute(services.claim("w"), "w") == "failed"
        assert Job.objects.get(pk=job.pk).attempts == 1


def test_success_stores_result_and_progress(register: Any) -> None:
    def work(ctx: Any) -> dict[str, Any]:
        for i in range(5):
            ctx.progress(i, 5, f"item {i}")
        return {"items": 5}

    register("test.work", work)
    job, _ = services.enqueue("test.work")
    seen: list[tuple[int, int, str]] = []
    claimed = services.claim("w")
    assert worker.execute(claimed, "w", hook=lambda d, t, m: seen.append((d, t, m))) == "done"
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.result, row.progress_done, row.progress_total) == ("done", {"items": 5}, 5, 5)
    assert row.lease_until is None
    assert row.error == ""
    assert seen[-1] == (4, 5, "item 4")
    assert row.percent == 100


def test_unknown_kind_in_the_queue_fails(register: Any) -> None:
    register("test.gone")
    job, _ = services.enqueue("test.gone")
    del registry._HANDLERS["test.gone"]
    assert worker.execute(services.claim("w"), "w") == "failed"
    assert "no handler registered" in Job.objects.get(pk=job.pk).error


# --- leases ---------------------------------------------------------------------------------------------------------


def test_killed_worker_lease_expires_and_the_job_is_recovered(register: Any) -> None:
    register("test.work", max_attempts=2)
    job, _ = services.enqueue("test.work", run_after=T0)
    dead = services.claim("dead-worker", now=T0)  # then the process is killed: no heartbeat, no outcome
    assert services.recover_expired(now=T0 + dt.timedelta(minutes=4)) == []  # the lease still holds
    assert services.recover_expired(now=T0 + dt.timedelta(minutes=6)) == [job.pk]
    row = Job.objects.get(pk=job.pk)
    assert row.status == "queued"
    assert "lease of worker dead-worker expired" in row.error
    assert row.locked_by == ""
    # A second worker takes it; the dead one (had it only stalled) can no longer record an outcome.
    again = services.claim("w2", now=row.run_after)
    assert again.pk == job.pk
    assert again.attempts == 2
    assert not services.complete(dead, "dead-worker", {"late": True})
    assert not services.renew(dead, "dead-worker")
    assert services.complete(again, "w2", {"ok": True})
    assert Job.objects.get(pk=job.pk).result == {"ok": True}


def test_lease_expiry_after_the_last_attempt_fails_the_job(register: Any) -> None:
    register("test.work", max_attempts=1)
    job, _ = services.enqueue("test.work", run_after=T0)
    services.claim("dead", now=T0)
    assert services.recover_expired(now=T0 + dt.timedelta(hours=1)) == [job.pk]
    row = Job.objects.get(pk=job.pk)
    assert row.status == "failed"
    assert "no claims left" in row.error


def test_renewal_and_lost_lease_stop_the_handler(register: Any) -> None:
    def work(ctx: Any) -> None:
        ctx.progress(1, 3)
        Job.objects.filter(pk=ctx.job_id).update(locked_by="thief")  # recovered and claimed elsewhere
        ctx.progress(3, 3)  # the final progress is always written: it finds the job gone

    register("test.work", work)
    services.enqueue("test.work", run_after=T0)
    job = services.claim("w", now=T0)
    assert services.renew(job, "w", now=T0 + dt.timedelta(minutes=4))
    assert Job.objects.get(pk=job.pk).lease_until == T0 + dt.timedelta(minutes=9)
    assert worker.execute(job, "w") == "lost"
    assert Job.objects.get(pk=job.pk).status == "running"  # the thief's run decides


def test_recovered_job_merges_into_a_queued_one_with_its_key(register: Any) -> None:
    register("test.work", merge=_union)
    job, _ = services.enqueue("test.work", {"items": [1]}, dedupe_key="k", run_after=T0)
    services.claim("dead", now=T0)
    newer, _ = services.enqueue("test.work", {"items": [2]}, dedupe_key="k")
    services.recover_expired(now=T0 + dt.timedelta(hours=1))
    assert Job.objects.get(pk=job.pk).status == "failed"
    assert f"continued as job {newer.pk}" in Job.objects.get(pk=job.pk).error
    assert Job.objects.get(pk=newer.pk).payload == {"items": [1, 2]}


# --- schedules ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "at", "after", "expected"),
    [
        (dt.timedelta(days=1), dt.time(2, 0), "2026-03-02T10:00", "2026-03-03T02:00"),
        (dt.timedelta(days=1), dt.time(2, 0), "2026-03-02T01:59", "2026-03-02T02:00"),
        (dt.timedelta(days=1), dt.time(2, 0), "2026-03-02T02:00", "2026-03-03T02:00"),
        (dt.timedelta(hours=1), None, "2026-03-02T10:00", "2026-03-02T11:00"),
        (dt.timedelta(hours=1), None, "2026-03-02T10:20", "2026-03-02T11:00"),
        (dt.timedelta(hours=6), dt.time(3, 0), "2026-03-02T10:00", "2026-03-02T15:00"),
        (dt.timedelta(hours=6), dt.time(3, 0), "2026-03-02T01:00", "2026-03-02T03:00"),
        (dt.timedelta(minutes=15), None, "2026-03-02T10:07", "2026-03-02T10:15"),
        (dt.timedelta(days=7), dt.time(6, 0), "2026-03-02T07:00", "2026-03-09T06:00"),
    ],
)
def test_next_run(every: dt.timedelta, at: dt.time | None, after: str, expected: str) -> None:
    moment = dt.datetime.fromisoformat(after).replace(tzinfo=dt.UTC)
    assert services.next_run(every, at, moment) == dt.datetime.fromisoformat(expected).replace(tzinfo=dt.UTC)


def test_next_run_daily_keeps_local_time_over_dst(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    before = dt.datetime(2026, 3, 28, 12, 0, tzinfo=berlin)  # DST starts on 29 March 2026
    nxt = services.next_run(dt.timedelta(days=1), dt.time(2, 30), before)
    assert nxt.astimezone(berlin).time() in (dt.time(2, 30), dt.time(3, 30))  # 02:30 does not exist that night
    after = services.next_run(dt.timedelta(days=1), dt.time(6, 0), dt.datetime(2026, 3, 29, 12, 0, tzinfo=berlin))
    assert after.astimezone(berlin) == dt.datetime(2026, 3, 30, 6, 0, tzinfo=berlin)


def test_schedule_enqueues_once_when_due(register: Any) -> None:
    register("test.nightly", merge=_union)
    registry._SCHEDULES.clear()  # the fixture's copy: only this schedule
    registry.register_schedule("test.nightly", at="02:00", payload={"items": ["x"]})
    services.sync_schedules(now=T0)
    row = Schedule.objects.get(kind="test.nightly")
    assert row.next_run_at == dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC)
    assert services.tick_schedules(now=T0) == []
    due = dt.datetime(2026, 3, 3, 2, 0, 5, tzinfo=dt.UTC)
    jobs = services.tick_schedules(now=due)
    assert [j.kind for j in jobs] == ["test.nightly"]
    assert jobs[0].payload == {"items": ["x"], "trigger": "schedule"}
    assert services.tick_schedules(now=due) == []  # another worker ticking at the same time gets nothing
    row.refresh_from_db()
    assert row.next_run_at == dt.datetime(2026, 3, 4, 2, 0, tzinfo=dt.UTC)
    assert row.last_job_id == jobs[0].pk


def test_operator_changes_a_schedule_and_it_outlives_code_defaults(register: Any, operator: Any) -> None:
    register("test.nightly")
    registry._SCHEDULES.clear()
    registry.register_schedule("test.nightly", at="02:00")
    row = services.set_schedule(operator, "test.nightly", every="1h")
    assert (row.every_seconds, row.customised) == (3600, True)
    services.sync_schedules()
    assert Schedule.objects.get(kind="test.nightly").every_seconds == 3600
    row = services.set_schedule(operator, "test.nightly", enabled=False)
    assert not row.enabled
    assert services.tick_schedules(now=timezone.now() + dt.timedelta(days=2)) == []
    row = services.set_schedule(operator, "test.nightly", reset=True, enabled=True)
    assert (row.every_seconds, row.customised, row.enabled) == (86400, False, True)
    with pytest.raises(Invalid, match="every"):
        services.set_schedule(operator, "test.nightly", every="5s")
    with pytest.raises(NotFound, match=r"schedule 'nope\.x' not found"):
        services.set_schedule(operator, "nope.x", every="1h")


def test_builtin_schedules_are_registered() -> None:
    kinds = set(registry.schedules())
    assert {"jobs.purge", "signals.detect"} <= kinds
    assert registry.schedules()["signals.detect"].at == dt.time(2, 0)
    assert registry.handler("signals.detect").exclusive


def test_purge_deletes_old_finished_jobs(register: Any) -> None:
    register("test.work")
    old, _ = services.enqueue("test.work")
    new, _ = services.enqueue("test.work")
    Job.objects.filter(pk=old.pk).update(status="done", finished_at=timezone.now() - dt.timedelta(days=40))
    Job.objects.filter(pk=new.pk).update(status="done", finished_at=timezone.now())
    purge, _ = services.enqueue("jobs.purge")
    assert worker.execute(services.claim("w", kinds=["jobs.purge"]), "w") == "done"
    assert set(Job.objects.values_list("pk", flat=True)) == {new.pk, purge.pk}


# --- the worker -----------------------------------------------------------------------------------------------------


def test_worker_once_drains_the_due_jobs(register: Any) -> None:
    done: list[int] = []
    register("test.work", lambda ctx: done.append(ctx.payload["n"]))
    for n in range(3):
        services.enqueue("test.work", {"n": n})
    services.enqueue("test.work", {"n": 99}, run_after=timezone.now() + dt.timedelta(hours=1))
    processed = worker.Worker(kinds=["test.work"]).run(once=True)
    assert (processed, done) == (3, [0, 1, 2])
    assert Job.objects.filter(status="queued").count() == 1


@pytest.mark.django_db(transaction=True)
def test_worker_threads_run_jobs_concurrently(register: Any) -> None:
    seen: set[int] = set()
    lock = threading.Lock()

    def work(ctx: Any) -> None:
        with lock:
            assert ctx.payload["n"] not in seen
            seen.add(ctx.payload["n"])

    register("test.work", work)
    for n in range(12):
        services.enqueue("test.work", {"n": n})
    processed = worker.Worker(concurrency=3, kinds=["test.work"]).run(once=True)
    assert processed == 12
    assert seen == set(range(12))
    assert set(Job.objects.values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db(transaction=True)
def test_background_worker_thread_stops(register: Any) -> None:
    event = threading.Event()
    register("test.work", lambda ctx: event.set())
    services.enqueue("test.work")
    work, thread = worker.start_in_thread(poll=0.05)
    try:
        assert event.wait(10)
    finally:
        work.stop()
        thread.join(10)
    assert not thread.is_alive()


@pytest.fixture
def _no_leak() -> Iterator[None]:
    yield
    connections.close_all()
