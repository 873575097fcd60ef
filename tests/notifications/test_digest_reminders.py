"""The daily digest and the missing-report reminders (services, real SMTP, and the ``dhnet notify`` commands)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.cli import main
from dhnet.notifications import services
from dhnet.notifications.models import Delivery
from dhnet.notifications.services import SubscriptionInput
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.errors import Forbidden
from dhnet.reporting.models import Submission
from dhnet.signals.models import Signal, SignalEvent
from tests.notifications.fixtures import T0, WEEK, SignalFactory, SmtpServer
from tests.platform.fixtures import actor_of


def at(signal: Signal, when: dt.datetime, kind: str = "created", **fields: Any) -> None:
    """Put a timeline entry of ``signal`` at ``when`` (the created entry exists; others are added)."""
    if kind == "created":
        SignalEvent.objects.filter(signal=signal, kind="created").update(at=when)
        return
    event = SignalEvent.objects.create(signal=signal, actor_username="officer", kind=kind, **fields)
    SignalEvent.objects.filter(pk=event.pk).update(at=when)


@pytest.fixture
def digest_world(emails: dict[str, User], make_signal: SignalFactory) -> dict[str, Signal]:
    regional = actor_of(emails["regional_officer"])
    services.create_subscription(regional, SubscriptionInput(orgunit="R1", frequency="daily"))
    services.create_subscription(
        actor_of(emails["national_epidemiologist"]),
        SubscriptionInput(orgunit="DE", disease="cholera", min_severity="high", frequency="daily"),
    )
    services.create_subscription(actor_of(emails["viewer"]), SubscriptionInput(orgunit="R1"))  # immediate only
    signals = {
        "new": make_signal("D11"),
        "changed": make_signal("D12", period=WEEK - dt.timedelta(days=14)),
        "elsewhere": make_signal("D21"),
        "old": make_signal("D11", period=WEEK - dt.timedelta(days=7)),
        "cholera": make_signal("D12", "cholera", risk="high"),
    }
    at(signals["new"], T0 - dt.timedelta(hours=2))
    at(signals["changed"], T0 - dt.timedelta(days=3))
    at(signals["changed"], T0 - dt.timedelta(hours=1), "status", from_status="new", to_status="verification")
    at(signals["elsewhere"], T0 - dt.timedelta(hours=1))
    at(signals["old"], T0 - dt.timedelta(hours=30))
    at(signals["cholera"], T0 - dt.timedelta(hours=5))
    return signals


def test_one_digest_per_user_with_the_last_24_hours(
    digest_world: dict[str, Signal], operator: Any, smtp_server: SmtpServer
) -> None:
    report = services.run_digest(operator, now=T0)
    assert sorted(report.recipients) == ["national_epidemiologist", "regional_officer"]
    assert report.skipped == 0
    for pk in report.created:
        assert services.attempt(pk, now=T0).status == "delivered"
    mails = {m["To"]: m for m in smtp_server.messages}
    assert set(mails) == {"regional_officer@example.org", "national_epidemiologist@example.org"}

    regional = mails["regional_officer@example.org"]
    assert regional["Subject"] == "[dhnet] Daily digest 2024-06-12: 2 new signal(s), 1 updated"
    body = regional.get_content()
    assert "Measles in District 11 (D11), 2024-W23" in body
    assert "new signal" in body
    assert "Measles in District 12 (D12), 2024-W21" in body
    assert "status new -> verification" in body
    assert "Cholera in District 12 (D12)" in body
    assert "District 21" not in body  # outside the subscription
    assert "2024-W22" not in body  # the old signal: more than 24 hours ago
    assert f"/signals/{digest_world['new'].pk}/" in body

    national = mails["national_epidemiologist@example.org"].get_content()
    assert "Cholera in District 12" in national
    assert "Measles" not in national

    # Idempotent per user and day.
    again = services.run_digest(operator, now=T0 + dt.timedelta(hours=3))
    assert (again.created, again.skipped) == ([], 2)
    assert Delivery.objects.filter(kind="digest").count() == 2
    run = AuditRecord.objects.filter(action="notifications.digest.run").order_by("seq").first()
    assert run is not None
    assert run.detail == {"day": "2024-06-12", "queued": 2, "skipped": 0}


def test_no_digest_without_news(digest_world: dict[str, Signal], operator: Any) -> None:
    report = services.run_digest(operator, now=T0 + dt.timedelta(days=3))
    assert report.created == []


def test_digest_respects_the_jurisdiction(digest_world: dict[str, Signal], operator: Any, emails: Any) -> None:
    # The regional officer moves to region 2: their R1 subscription yields nothing.
    officer = emails["regional_officer"]
    officer.role_assignments.update(orgunit=OrgUnit.objects.get(code="R2"))
    report = services.run_digest(operator, now=T0)
    assert report.recipients == ["national_epidemiologist"]


def test_last_complete_iso_week() -> None:
    utc = dt.UTC
    assert services.last_complete_week(T0) == WEEK
    assert services.last_complete_week(dt.datetime(2024, 6, 10, 0, 30, tzinfo=utc)) == WEEK
    assert services.last_complete_week(dt.datetime(2024, 6, 9, 23, 0, tzinfo=utc)) == dt.date(2024, 5, 27)
    assert services.last_complete_week(dt.datetime(2021, 1, 4, 8, tzinfo=utc)) == dt.date(2020, 12, 28)  # 2020-W53


@pytest.fixture
def reporting_world(emails: dict[str, User], operator: Any, tree: dict[str, OrgUnit]) -> dict[str, User]:
    officer12, _ = accounts.create_user(
        operator, "officer12", role="district_officer", orgunit_code="D12", email="o12@x.org"
    )
    officer21, _ = accounts.create_user(operator, "officer21", role="district_officer", orgunit_code="D21")  # no e-mail
    officers = {"D11": emails["district_officer"], "D12": officer12, "D21": officer21}
    received = dt.datetime(2024, 6, 10, 8, tzinfo=dt.UTC)
    Submission.objects.create(
        orgunit=tree["D11"],
        period_start=WEEK,
        first_received_at=received,
        last_received_at=received,
        on_time=True,
        source="form",
    )
    Submission.objects.create(  # D12 reported the week before, not the last one
        orgunit=tree["D12"],
        period_start=WEEK - dt.timedelta(days=7),
        first_received_at=received,
        last_received_at=received,
        on_time=True,
        source="form",
    )
    return officers


def test_reminders_for_units_without_a_report(
    reporting_world: dict[str, User], operator: Any, smtp_server: SmtpServer
) -> None:
    assert [u.code for u in services.units_missing_report(operator, WEEK)] == ["D12", "D21"]
    report = services.run_reminders(operator, now=T0)
    assert report.recipients == ["officer12"]
    (pk,) = report.created
    assert services.attempt(pk, now=T0).status == "delivered"
    (message,) = smtp_server.messages
    assert message["To"] == "o12@x.org"
    assert message["Subject"] == "[dhnet] Reminder: weekly report of District 12 for 2024-W23 is missing"
    body = message.get_content()
    assert "District 12 (D12) for 2024-W23" in body
    assert "(2024-06-03 to 2024-06-09); it was due by\r\n2024-06-11 23:59 UTC." in body
    # Idempotent per org unit and week (and officer), whenever it runs again that week.
    again = services.run_reminders(operator, now=T0 + dt.timedelta(days=2))
    assert (again.created, again.skipped) == ([], 1)
    # The next week is a new reminder (D11 has not reported W24).
    later = services.run_reminders(operator, now=T0 + dt.timedelta(days=7))
    assert sorted(later.recipients) == ["district_officer", "officer12"]
    assert AuditRecord.objects.filter(action="notifications.reminder.run").count() == 3


def test_reminders_wait_for_the_deadline(reporting_world: dict[str, User], operator: Any) -> None:
    monday = dt.datetime(2024, 6, 10, 8, tzinfo=dt.UTC)  # W23's reports are due by Tuesday 23:59
    report = services.run_reminders(operator, now=monday)
    assert report.created == []
    assert report.summary() == "nothing sent: reports are due by 2024-06-11T23:59:59+00:00"
    assert services.run_reminders(operator, now=monday, before_deadline=True).recipients == ["officer12"]


def test_scheduled_reminders_run_as_the_platform(reporting_world: dict[str, User], smtp_server: SmtpServer) -> None:
    report = services.run_reminders(services.SYSTEM, now=T0)
    assert report.recipients == ["officer12"]
    read = AuditRecord.objects.get(action="reporting.missing.read")
    assert (read.actor_username, read.via) == ("system:notifications", "system")


def test_digest_and_reminders_are_for_the_platform_or_an_operator(emails: dict[str, User]) -> None:
    with pytest.raises(Forbidden):
        services.run_digest(actor_of(emails["system_admin"]), now=T0)
    with pytest.raises(Forbidden):
        services.run_reminders(actor_of(emails["system_admin"]), now=T0)


def test_cli_notify_digest_and_reminders(
    digest_world: dict[str, Signal], reporting_world: dict[str, User], smtp_server: SmtpServer
) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["notify", "digest", "--at", T0.isoformat()])
    assert result.exit_code == 0, result.output
    assert "notify digest: 2 message(s) queued, 0 already sent; 2 delivered" in result.output
    result = runner.invoke(main, ["notify", "digest", "--at", T0.isoformat()])
    assert "0 message(s) queued, 2 already sent" in result.output
    result = runner.invoke(main, ["notify", "reminders", "--at", "2024-06-12"])
    assert result.exit_code == 0, result.output
    assert "notify reminders: 2024-W23: 1 message(s) queued, 0 already sent; 1 delivered" in result.output
    assert len(smtp_server.messages) == 3
    assert AuditRecord.objects.filter(action="notifications.digest.run", actor_username__startswith="cli:").exists()
    result = runner.invoke(main, ["notify", "digest", "--at", "yesterday"])
    assert result.exit_code == 2
    assert "expected an ISO date" in result.output


def test_cli_notify_run_sweeps_due_deliveries(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer
) -> None:
    services.create_subscription(actor_of(emails["viewer"]), SubscriptionInput(orgunit="R1"))
    services.fan_out(make_signal("D11").pk, "created", now=T0)
    result = CliRunner().invoke(main, ["notify", "run", "--at", (T0 + dt.timedelta(minutes=1)).isoformat()])
    assert result.exit_code == 0, result.output
    assert "notify run: 1 due; 1 delivered" in result.output
    assert len(smtp_server.messages) == 1
