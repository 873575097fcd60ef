"""Webhooks against a real HTTP server on loopback: signature, retries with back-off and jitter (on a controllable
clock), permanent failures, timeouts and redirects."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.notifications import services, transports
from dhnet.notifications.models import Delivery
from dhnet.notifications.services import SubscriptionChange, SubscriptionInput
from dhnet.signals.models import Signal
from tests.notifications.fixtures import T0, SignalFactory, WebhookServer
from tests.platform.fixtures import actor_of


def hook(users: dict[str, User], server: WebhookServer, *, max_attempts: int = 6, path: str = "/hook") -> int:
    sub, secret = services.create_subscription(
        actor_of(users["system_admin"]),
        SubscriptionInput(
            orgunit="DE",
            channel="webhook",
            webhook_url=server.url(path),
            webhook_secret=server.secret,
            max_attempts=max_attempts,
        ),
    )
    assert secret == server.secret
    return int(sub.pk)


def one_delivery(signal: Signal) -> Delivery:
    (delivery,) = services.fan_out(signal.pk, "created", "detector", now=T0)
    return delivery


def test_signed_post_with_the_documented_scheme(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer
) -> None:
    sub_id = hook(users, webhook_server)
    signal = make_signal("D12")
    delivery = one_delivery(signal)
    result = services.attempt(delivery.pk, now=T0)
    assert (result.status, result.attempted) == ("delivered", True)

    (request,) = webhook_server.requests
    assert request.signature_ok
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-dhnet-delivery"] == str(delivery.pk)
    assert request.headers["x-dhnet-timestamp"] == str(int(T0.timestamp()))
    # The scheme, recomputed independently: HMAC-SHA256(secret, "<timestamp>." + raw body).
    signed = request.headers["x-dhnet-timestamp"].encode() + b"." + request.body
    expected = "sha256=" + hmac.new(webhook_server.secret.encode(), signed, hashlib.sha256).hexdigest()
    assert request.headers["x-dhnet-signature"] == expected
    # The timestamp is covered: the same body with another timestamp does not verify.
    assert not transports.verify(webhook_server.secret, str(int(T0.timestamp()) + 1), request.body, expected)
    doc = request.json()
    assert doc["schema"] == "dhnet.notification/1"
    assert (doc["event"], doc["subscription"]) == ("created", sub_id)
    assert doc["signal"]["id"] == signal.pk
    assert doc["signal"]["disease"] == {"code": "measles", "name": "Measles"}
    assert doc["signal"]["orgunit"] == {"code": "D12", "name": "District 12"}
    assert (doc["signal"]["observed"], doc["signal"]["expected"], doc["signal"]["status"]) == (12.0, 3.2, "new")
    assert doc["signal"]["url"].endswith(f"/signals/{signal.pk}/")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.attempts) == ("delivered", 200, 1)
    assert json.loads(json.dumps(delivery.payload)) == doc


def test_retries_with_backoff_then_delivered(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer
) -> None:
    webhook_server.responses = [503, 500, 429, 502]
    hook(users, webhook_server)
    delivery = one_delivery(make_signal("D11"))
    rng = random.Random(7)
    now = T0
    waits = []
    for attempt in range(1, 5):
        result = services.attempt(delivery.pk, now=now, rng=rng)
        assert (result.attempted, result.status) == (True, "pending"), attempt
        assert result.next_attempt_at is not None
        wait = (result.next_attempt_at - now).total_seconds()
        nominal = services.BACKOFF_SECONDS[attempt - 1]
        assert nominal * 0.8 <= wait <= nominal * 1.2, (attempt, wait)
        waits.append(wait)
        # Not due yet: nothing happens before the back-off has passed.
        early = services.attempt(delivery.pk, now=result.next_attempt_at - dt.timedelta(seconds=1), rng=rng)
        assert early.attempted is False
        assert services.run_due(result.next_attempt_at - dt.timedelta(seconds=1)) == []
        now = result.next_attempt_at
    assert waits == sorted(waits)  # 1 min, 5 min, 30 min, 2 h (each with jitter)
    (final,) = services.run_due(now, rng=rng)
    assert (final.delivery_id, final.status) == (delivery.pk, "delivered")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error, delivery.delivered_at) == ("delivered", 5, "", now)
    # Every attempt: the same delivery id, a fresh timestamp, a valid signature.
    assert len(webhook_server.requests) == 5
    assert all(r.signature_ok for r in webhook_server.requests)
    assert {r.headers["x-dhnet-delivery"] for r in webhook_server.requests} == {str(delivery.pk)}
    stamps = [int(r.headers["x-dhnet-timestamp"]) for r in webhook_server.requests]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 5


def test_gives_up_after_max_attempts(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer
) -> None:
    webhook_server.default = 500
    hook(users, webhook_server, max_attempts=3)
    delivery = one_delivery(make_signal("D11"))
    now = T0
    statuses = []
    for _ in range(3):
        result = services.attempt(delivery.pk, now=now)
        statuses.append(result.status)
        now = result.next_attempt_at or now
    assert statuses == ["pending", "pending", "failed"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert delivery.last_error == "HTTP 500"
    assert services.attempt(delivery.pk, now=now + dt.timedelta(days=1)).attempted is False
    assert len(webhook_server.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_4xx_other_than_429_is_permanent(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer, status: int
) -> None:
    webhook_server.responses = [status]
    hook(users, webhook_server)
    delivery = one_delivery(make_signal("D11"))
    result = services.attempt(delivery.pk, now=T0)
    delivery.refresh_from_db()
    assert (result.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, status)
    assert len(webhook_server.requests) == 1


def test_a_wrong_secret_is_rejected_by_the_receiver(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer
) -> None:
    hook(users, webhook_server)
    webhook_server.secret = "another-secret-the-receiver-expects"
    delivery = one_delivery(make_signal("D11"))
    assert services.attempt(delivery.pk, now=T0).status == "failed"
    assert webhook_server.requests[0].signature_ok is False


def test_timeout_is_retried(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer, monkeypatch: Any
) -> None:
    import threading

    monkeypatch.setattr(transports, "WEBHOOK_TIMEOUT", 0.3)
    webhook_server.hang = threading.Event()
    webhook_server.hang.set()
    hook(users, webhook_server)
    delivery = one_delivery(make_signal("D11"))
    result = services.attempt(delivery.pk, now=T0)
    delivery.refresh_from_db()
    assert (result.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("timeout")
    webhook_server.hang.clear()
    webhook_server.release.set()
    assert result.next_attempt_at is not None
    assert services.attempt(delivery.pk, now=result.next_attempt_at).status == "delivered"


def test_unreachable_receiver_is_retried(users: dict[str, User], make_signal: SignalFactory) -> None:
    from tests.notifications.fixtures import free_port

    services.create_subscription(
        actor_of(users["system_admin"]),
        SubscriptionInput(orgunit="DE", channel="webhook", webhook_url=f"http://127.0.0.1:{free_port()}/h"),
    )
    delivery = one_delivery(make_signal("D11"))
    result = services.attempt(delivery.pk, now=T0)
    assert result.status == "pending"
    assert "connection" in Delivery.objects.get(pk=delivery.pk).last_error


def test_redirects_to_another_host_are_never_followed(
    users: dict[str, User],
    make_signal: SignalFactory,
    webhook_server_factory: Callable[[], WebhookServer],
) -> None:
    receiver = webhook_server_factory()
    elsewhere = webhook_server_factory()
    # localhost is another host name than 127.0.0.1 (and so is another port): refused, nothing sent there.
    hook(users, receiver)
    for target in (elsewhere.url("/x").replace("127.0.0.1", "localhost"), elsewhere.url("/x")):
        receiver.responses = [(307, {"Location": target})]
        delivery = one_delivery(make_signal("D11"))
        result = services.attempt(delivery.pk, now=T0)
        delivery.refresh_from_db()
        assert (result.status, delivery.last_status_code) == ("failed", 307), target
        assert "redirect to another host refused" in delivery.last_error
    assert elsewhere.requests == []


def test_same_origin_307_is_followed_and_other_redirects_fail(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer
) -> None:
    webhook_server.responses = [(308, {"Location": "/moved"})]
    hook(users, webhook_server)
    signal = make_signal("D11")
    delivery = one_delivery(signal)
    assert services.attempt(delivery.pk, now=T0).status == "delivered"
    assert [r.path for r in webhook_server.requests] == ["/hook", "/moved"]
    assert all(r.signature_ok for r in webhook_server.requests)
    # A 302 would turn the POST into a GET: not followed.
    webhook_server.responses = [(302, {"Location": "/moved"})]
    other = make_signal("D12")
    (second,) = services.fan_out(other.pk, "created", now=T0)
    assert services.attempt(second.pk, now=T0).status == "failed"
    assert "redirect not followed" in Delivery.objects.get(pk=second.pk).last_error


def test_paused_or_deleted_subscription_cancels_pending_retries(
    users: dict[str, User], make_signal: SignalFactory, webhook_server: WebhookServer
) -> None:
    webhook_server.default = 503
    sub_id = hook(users, webhook_server)
    delivery = one_delivery(make_signal("D11"))
    result = services.attempt(delivery.pk, now=T0)
    assert result.status == "pending"
    assert result.next_attempt_at is not None
    services.update_subscription(actor_of(users["system_admin"]), sub_id, SubscriptionChange(active=False))
    later = services.attempt(delivery.pk, now=result.next_attempt_at)
    delivery.refresh_from_db()
    assert (later.attempted, delivery.status, delivery.last_error) == (False, "cancelled", "subscription paused")
    assert len(webhook_server.requests) == 1


def test_backoff_schedule_and_jitter() -> None:
    rng = random.Random(1)
    for attempts, nominal in [(1, 60), (2, 300), (3, 1800), (4, 7200), (5, 43200), (6, 43200), (9, 43200)]:
        delays = {services.retry_delay(attempts, rng).total_seconds() for _ in range(50)}
        assert all(nominal * 0.8 <= d <= nominal * 1.2 for d in delays)
        assert len(delays) > 40  # jittered, not a fixed delay


@pytest.mark.parametrize(
    "url",
    ["http://example.org/h", "https://example.org:8443/a?b=c", "http://127.0.0.1:9/x", "HTTPS://Example.org/"],
)
def test_accepted_urls(url: str) -> None:
    assert transports.check_url(url) is None
