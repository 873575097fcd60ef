"""Deliveries go through the job queue: one job per attempt, at the delivery's back-off, on a moved clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.jobs import registry
from dhnet.jobs import services as jobs
from dhnet.jobs.models import Job
from dhnet.jobs.worker import execute
from dhnet.notifications import queue, services
from dhnet.notifications.models import Delivery
from dhnet.notifications.services import SubscriptionInput
from tests.notifications.fixtures import T0, SignalFactory, SmtpServer, WebhookServer
from tests.platform.fixtures import actor_of


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    c = Clock(T0)
    monkeypatch.setattr(services, "clock", c)
    return c


def run_due_jobs(now: dt.datetime) -> list[str]:
    """Claim and run every job due at ``now``, as a worker does; their kinds."""
    ran = []
    while (job := jobs.claim("test-worker", now=now)) is not None:
        execute(job, "test-worker")
        ran.append(job.kind)
    return ran


def test_handlers_and_schedules_are_registered() -> None:
    for kind in (queue.FANOUT_JOB, queue.ATTEMPT_JOB, queue.SWEEP_JOB, queue.DIGEST_JOB, queue.REMINDERS_JOB):
        assert registry.handler(kind) is not None, kind
    schedules = registry.schedules()
    assert schedules[queue.DIGEST_JOB].at == dt.time(6, 0)
    assert schedules[queue.DIGEST_JOB].every == dt.timedelta(days=1)
    assert schedules[queue.REMINDERS_JOB].at == dt.time(8, 0)
    assert schedules[queue.SWEEP_JOB].every == dt.timedelta(minutes=10)


def test_webhook_retries_run_as_jobs_at_the_backoff(
    users: dict[str, User],
    make_signal: SignalFactory,
    webhook_server: WebhookServer,
    clock: Clock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook_server.responses = [503, 503]
    services.create_subscription(
        actor_of(users["system_admin"]),
        SubscriptionInput(
            orgunit="DE", channel="webhook", webhook_url=webhook_server.url(), webhook_secret=webhook_server.secret
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = services.fan_out(make_signal("D11").pk, "created", now=clock.now)
    (job,) = Job.objects.filter(kind=queue.ATTEMPT_JOB)
    assert (job.payload, job.run_after, job.status) == ({"delivery": delivery.pk}, T0, "queued")

    with django_capture_on_commit_callbacks(execute=True):
        assert run_due_jobs(clock.now) == [queue.ATTEMPT_JOB]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    retry = Job.objects.get(kind=queue.ATTEMPT_JOB, status="queued")
    assert retry.run_after == delivery.next_attempt_at
    assert dt.timedelta(seconds=48) <= retry.run_after - T0 <= dt.timedelta(seconds=72)
    assert run_due_jobs(T0 + dt.timedelta(seconds=30)) == []  # not due yet: no request

    clock.now = retry.run_after
    with django_capture_on_commit_callbacks(execute=True):
        assert run_due_jobs(clock.now) == [queue.ATTEMPT_JOB]
    second = Job.objects.get(kind=queue.ATTEMPT_JOB, status="queued")
    assert dt.timedelta(seconds=240) <= second.run_after - clock.now <= dt.timedelta(seconds=360)

    clock.now = second.run_after
    with django_capture_on_commit_callbacks(execute=True):
        assert run_due_jobs(clock.now) == [queue.ATTEMPT_JOB]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(webhook_server.requests) == 3
    assert not Job.objects.filter(kind=queue.ATTEMPT_JOB, status="queued").exists()
    done = Job.objects.filter(kind=queue.ATTEMPT_JOB).order_by("id").last()
    assert done is not None
    assert done.result["status"] == "delivered"


def test_a_job_that_runs_early_comes_back_when_due(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer, clock: Clock
) -> None:
    services.create_subscription(actor_of(emails["viewer"]), SubscriptionInput(orgunit="R1"))
    (delivery,) = services.fan_out(make_signal("D11").pk, "created", now=T0 + dt.timedelta(minutes=5))
    queue.enqueue_attempt(delivery.pk, T0)  # e.g. a sweep that saw it early, or a clock skew
    run_due_jobs(T0)
    assert smtp_server.messages == []
    (again,) = Job.objects.filter(kind=queue.ATTEMPT_JOB, status="queued")
    assert again.run_after == T0 + dt.timedelta(minutes=5)
    clock.now = again.run_after
    run_due_jobs(clock.now)
    assert len(smtp_server.messages) == 1
    assert Delivery.objects.get(pk=delivery.pk).status == "delivered"


def test_the_sweep_enqueues_due_deliveries_once(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer, clock: Clock
) -> None:
    services.create_subscription(actor_of(emails["viewer"]), SubscriptionInput(orgunit="R1"))
    services.create_subscription(actor_of(emails["regional_officer"]), SubscriptionInput(orgunit="R1"))
    deliveries = services.fan_out(make_signal("D11").pk, "created", now=T0)  # no job: on_commit never ran
    assert len(deliveries) == 2
    assert not Job.objects.filter(kind=queue.ATTEMPT_JOB).exists()
    jobs.enqueue(queue.SWEEP_JOB, {}, run_after=T0)
    queue.enqueue_attempt(deliveries[0].pk, T0)  # one of them has its job already: not enqueued twice
    ran = run_due_jobs(T0)
    assert sorted(ran) == [queue.ATTEMPT_JOB, queue.ATTEMPT_JOB, queue.SWEEP_JOB]
    assert len(smtp_server.messages) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_missing_delivery_fails_its_job_permanently(db: Any) -> None:
    jobs.enqueue(queue.ATTEMPT_JOB, {"delivery": 424242}, run_after=T0)
    jobs.enqueue(queue.ATTEMPT_JOB, {"delivery": "x"}, run_after=T0)
    run_due_jobs(T0)
    assert list(Job.objects.values_list("status", "attempts")) == [("failed", 1), ("failed", 1)]
