"""E-mail through Django's SMTP backend to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.notifications import services
from dhnet.notifications.models import Delivery
from dhnet.notifications.services import SubscriptionInput
from dhnet.platform.config import Config
from tests.notifications.fixtures import T0, SignalFactory, SmtpServer, free_port
from tests.platform.fixtures import actor_of


def test_signal_email_reaches_the_smtp_server(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer
) -> None:
    services.create_subscription(actor_of(emails["regional_officer"]), SubscriptionInput(orgunit="R1"))
    signal = make_signal("D12", observed=12, expected=3.2)
    (delivery,) = services.fan_out(signal.pk, "created", "detector", now=T0)
    result = services.attempt(delivery.pk, now=T0)
    assert (result.attempted, result.status) == (True, "delivered")

    (message,) = smtp_server.messages
    assert smtp_server.handler.envelopes == [("dhnet@example.org", ["regional_officer@example.org"])]
    assert message["To"] == "regional_officer@example.org"
    assert message["From"] == "dhnet@example.org"
    assert message["X-Dhnet-Delivery"] == str(delivery.pk)
    assert message["Subject"] == "[dhnet] New signal: Measles in District 12 (2024-W23)"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    for expected in (
        "Disease:   Measles (measles)",
        "Place:     District 12 (D12)",
        "Period:    2024-W23 (week of 2024-06-03)",
        "Observed:  12 observed vs 3.2 expected (threshold 7)",
        "Status:    New",
        f"http://127.0.0.1:8000/signals/{signal.pk}/",  # DHNET_BASE_URL, dev default
    ):
        assert expected in body, expected

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.delivered_at, delivery.next_attempt_at) == (
        "delivered",
        1,
        T0,
        None,
    )
    assert AuditRecord.objects.filter(action="notifications.delivery.delivered", object_id=str(delivery.pk)).exists()
    # Delivered is final: another attempt sends nothing.
    assert services.attempt(delivery.pk, now=T0 + dt.timedelta(hours=1)).attempted is False
    assert len(smtp_server.messages) == 1


def test_event_signal_and_risk_in_the_body(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer
) -> None:
    services.create_subscription(actor_of(emails["national_epidemiologist"]), SubscriptionInput(orgunit="DE"))
    signal = make_signal("D21", None, risk="high", status="verified")
    (delivery,) = services.fan_out(signal.pk, "created", now=T0)
    services.attempt(delivery.pk, now=T0)
    body = smtp_server.messages[0].get_content()
    assert "Disease:   unexplained deaths" in body
    assert "Period:    2024-06-03" in body
    assert "Status:    Verified, risk high" in body


def test_refused_recipient_is_a_permanent_failure(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.refuse.add("viewer@example.org")
    services.create_subscription(actor_of(emails["viewer"]), SubscriptionInput(orgunit="R1"))
    (delivery,) = services.fan_out(make_signal("D11").pk, "created", now=T0)
    result = services.attempt(delivery.pk, now=T0)
    delivery.refresh_from_db()
    assert (result.status, delivery.status, delivery.attempts, delivery.last_status_code) == (
        "failed",
        "failed",
        1,
        550,
    )
    assert "recipient refused" in delivery.last_error
    assert smtp_server.messages == []


def test_deferred_recipient_and_unreachable_server_are_retried(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer, settings: Any
) -> None:
    smtp_server.handler.defer.add("viewer@example.org")
    services.create_subscription(actor_of(emails["viewer"]), SubscriptionInput(orgunit="R1"))
    (delivery,) = services.fan_out(make_signal("D11").pk, "created", now=T0)
    result = services.attempt(delivery.pk, now=T0)
    assert result.status == "pending"
    assert result.next_attempt_at is not None
    assert T0 + dt.timedelta(seconds=48) <= result.next_attempt_at <= T0 + dt.timedelta(seconds=72)
    # The server goes away: a connection error is retried too.
    settings.EMAIL_PORT = free_port()
    second = services.attempt(delivery.pk, now=result.next_attempt_at)
    delivery.refresh_from_db()
    assert (second.status, delivery.attempts) == ("pending", 2)
    assert "SMTP" in delivery.last_error
    # Back again and accepting: delivered on the third attempt.
    settings.EMAIL_PORT = smtp_server.port
    smtp_server.handler.defer.clear()
    assert second.next_attempt_at is not None
    assert services.attempt(delivery.pk, now=second.next_attempt_at).status == "delivered"
    assert len(smtp_server.messages) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 3


def test_the_current_address_is_used(
    emails: dict[str, User], make_signal: SignalFactory, smtp_server: SmtpServer
) -> None:
    viewer = emails["viewer"]
    services.create_subscription(actor_of(viewer), SubscriptionInput(orgunit="R1"))
    first, second = (services.fan_out(make_signal(unit).pk, "created", now=T0)[0] for unit in ("D11", "D12"))
    viewer.email = "new-address@example.org"
    viewer.save(update_fields=["email"])
    assert services.attempt(first.pk, now=T0).status == "delivered"
    assert smtp_server.handler.envelopes[0][1] == ["new-address@example.org"]
    viewer.email = ""
    viewer.save(update_fields=["email"])
    result = services.attempt(second.pk, now=T0)
    assert (result.status, result.error) == ("cancelled", "the recipient's account has no e-mail address")
    assert len(smtp_server.messages) == 1


def test_settings_come_from_the_typed_config() -> None:
    config = Config.from_env(
        {
            "DHNET_EMAIL_HOST": "smtp.example.org",
            "DHNET_EMAIL_PORT": "2525",
            "DHNET_EMAIL_USER": "dhnet",
            "DHNET_EMAIL_PASSWORD": "pw",
            "DHNET_EMAIL_USE_TLS": "1",
            "DHNET_EMAIL_FROM": "alerts@example.org",
        }
    )
    assert (config.email_host, config.email_port, config.email_user, config.email_use_tls, config.email_from) == (
        "smtp.example.org",
        2525,
        "dhnet",
        True,
        "alerts@example.org",
    )
