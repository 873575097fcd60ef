"""End to end: the signals context's own services change a signal, ``signal_changed`` goes out on commit, the
queue fans it out and sends e-mail (real SMTP) and webhooks (real HTTP) to the matching subscribers."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.jobs import services as jobs
from dhnet.jobs.worker import execute
from dhnet.notifications import services
from dhnet.notifications.models import Delivery
from dhnet.notifications.services import SubscriptionInput
from dhnet.signals.services import reports, workflow
from tests.notifications.fixtures import SmtpServer, WebhookServer
from tests.platform.fixtures import actor_of


def drain(capture: Any) -> list[str]:
    """Run every due job (and the jobs they queue on commit) as a worker would."""
    ran: list[str] = []
    while True:
        with capture(execute=True):
            job = jobs.claim("test-worker", now=timezone.now())
            if job is None:
                return ran
            execute(job, "test-worker")
            ran.append(job.kind)


def test_triage_of_an_event_notifies_subscribers(
    emails: dict[str, User],
    diseases: Any,
    smtp_server: SmtpServer,
    webhook_server: WebhookServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    services.create_subscription(actor_of(emails["regional_officer"]), SubscriptionInput(orgunit="R1"))
    services.create_subscription(
        actor_of(emails["system_admin"]),
        SubscriptionInput(
            orgunit="DE",
            min_severity="high",
            channel="webhook",
            webhook_url=webhook_server.url(),
            webhook_secret=webhook_server.secret,
        ),
    )
    reporter = actor_of(emails["district_officer"])
    with django_capture_on_commit_callbacks(execute=True):
        signal, _ = reports.report_event(
            reporter,
            reports.EventReport(
                orgunit="D11",
                date=timezone.localdate(),
                hazard="cluster of fever with rash",
                description="Five children with fever and rash at the primary school",
                place="primary school",
                disease="measles",
            ),
        )
    assert drain(django_capture_on_commit_callbacks) == ["notifications.fanout", "notifications.attempt"]
    assert [m["Subject"] for m in smtp_server.messages] == [
        f"[dhnet] New signal: Measles in District 11 ({timezone.localdate().isoformat()})"
    ]
    assert "Place:     District 11 (D11), primary school" in smtp_server.messages[0].get_content()
    assert webhook_server.requests == []  # not assessed yet: below the webhook's minimum

    officer = actor_of(emails["regional_officer"])
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(officer, signal.pk, "verify")
    drain(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.assess_risk(
            officer,
            signal.pk,
            workflow.RiskInput(hazard="measles", exposure="unvaccinated pupils", context="school", risk="high"),
        )
    drain(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.comment(officer, signal.pk, "parents informed")  # comments are not notified
    drain(django_capture_on_commit_callbacks)

    subjects = [m["Subject"].split(":")[0] for m in smtp_server.messages]
    assert subjects == ["[dhnet] New signal", "[dhnet] Status changed", "[dhnet] Risk assessed"]
    assert "Status:    Risk assessed, risk high" in smtp_server.messages[-1].get_content()
    (hook,) = webhook_server.requests
    assert hook.signature_ok
    assert (hook.json()["event"], hook.json()["signal"]["risk"]) == ("risk", "high")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert Delivery.objects.count() == 4
