"""Subscriptions: who is notified of which signal change (disease, area subtree, severity), jurisdiction at
subscription and at delivery time, deduplication, the ``signal_changed`` connection, and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.accounts import services as accounts
from dhnet.accounts.models import RoleAssignment, User
from dhnet.audit.models import AuditRecord
from dhnet.jobs import services as jobs
from dhnet.jobs.models import Job
from dhnet.jobs.worker import execute
from dhnet.notifications import queue, services
from dhnet.notifications.models import Delivery, Subscription
from dhnet.notifications.services import SubscriptionChange, SubscriptionInput
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.signals.events import signal_changed, signals_changed
from dhnet.signals.models import SignalEvent
from tests.notifications.fixtures import T0, SignalFactory
from tests.platform.fixtures import actor_of


def subscribe(user: User, orgunit: str, **kwargs: Any) -> Subscription:
    sub, _ = services.create_subscription(actor_of(user), SubscriptionInput(orgunit=orgunit, **kwargs))
    return sub


def recipients(signal_id: int, kind: str = "created") -> list[str]:
    return sorted(d.user.username for d in services.fan_out(signal_id, kind, "tester", now=T0))


def test_disease_filter(emails: dict[str, User], make_signal: SignalFactory) -> None:
    subscribe(emails["national_epidemiologist"], "DE", disease="measles")
    subscribe(emails["regional_officer"], "R1", disease="cholera")
    subscribe(emails["viewer"], "R1")  # every disease
    measles = make_signal("D11", "measles")
    assert recipients(measles.pk) == ["national_epidemiologist", "viewer"]
    cholera = make_signal("D12", "cholera")
    assert recipients(cholera.pk) == ["regional_officer", "viewer"]
    event = make_signal("D12", None)  # event-based, no disease: only "every disease" subscriptions
    assert recipients(event.pk) == ["viewer"]


def test_area_is_the_org_unit_and_everything_below(emails: dict[str, User], make_signal: SignalFactory) -> None:
    subscribe(emails["national_epidemiologist"], "DE")
    subscribe(emails["regional_officer"], "R1")
    subscribe(emails["regional_officer"], "D12")
    subscribe(emails["district_officer"], "D11")
    assert recipients(make_signal("D11").pk) == ["district_officer", "national_epidemiologist", "regional_officer"]
    assert recipients(make_signal("D12").pk) == ["national_epidemiologist", "regional_officer", "regional_officer"]
    assert recipients(make_signal("R1").pk) == ["national_epidemiologist", "regional_officer"]
    assert recipients(make_signal("D21").pk) == ["national_epidemiologist"]


def test_minimum_severity(emails: dict[str, User], make_signal: SignalFactory) -> None:
    subscribe(emails["national_epidemiologist"], "DE", min_severity="any")
    subscribe(emails["regional_officer"], "R1", min_severity="moderate")
    subscribe(emails["viewer"], "R1", min_severity="high")
    signal = make_signal("D11")
    assert recipients(signal.pk) == ["national_epidemiologist"]  # not assessed: only "any"
    for risk, expected in [
        ("low", ["national_epidemiologist"]),
        ("moderate", ["national_epidemiologist", "regional_officer"]),
        ("high", ["national_epidemiologist", "regional_officer", "viewer"]),
        ("very_high", ["national_epidemiologist", "regional_officer", "viewer"]),
    ]:
        signal.risk = risk
        signal.save()
        SignalEvent.objects.create(signal=signal, actor_username="epi", kind="risk", data={"risk": risk})
        assert recipients(signal.pk, "risk") == expected, risk


def test_paused_daily_and_unnotified_kinds(emails: dict[str, User], make_signal: SignalFactory) -> None:
    paused = subscribe(emails["national_epidemiologist"], "DE")
    services.update_subscription(
        actor_of(emails["national_epidemiologist"]), paused.pk, SubscriptionChange(active=False)
    )
    subscribe(emails["regional_officer"], "R1", frequency="daily")  # goes into the digest instead
    subscribe(emails["viewer"], "R1")
    signal = make_signal("D11")
    assert recipients(signal.pk) == ["viewer"]
    assert recipients(signal.pk, "comment") == []
    assert recipients(signal.pk, "assign") == []


def test_deduplicated_per_subscription_signal_and_change(emails: dict[str, User], make_signal: SignalFactory) -> None:
    sub = subscribe(emails["viewer"], "R1")
    signal = make_signal("D11")
    assert len(services.fan_out(signal.pk, "created", now=T0)) == 1
    assert services.fan_out(signal.pk, "created", now=T0) == []  # the same change again: nothing new
    signal_changed.send(sender=None, signal_id=signal.pk, kind="created", actor_username="x")
    assert Delivery.objects.filter(subscription=sub).count() == 1
    # A status change is a new notification; the same status change sent twice is one.
    SignalEvent.objects.create(
        signal=signal, actor_username="o", kind="status", from_status="new", to_status="verification"
    )
    assert len(services.fan_out(signal.pk, "status", now=T0)) == 1
    assert services.fan_out(signal.pk, "status", now=T0) == []
    SignalEvent.objects.create(
        signal=signal, actor_username="o", kind="status", from_status="verification", to_status="verified"
    )
    assert len(services.fan_out(signal.pk, "status", now=T0)) == 1
    assert Delivery.objects.filter(subscription=sub).count() == 3
    assert len({d.dedupe_key for d in Delivery.objects.all()}) == 3


def test_signals_changed_queues_batch_jobs(
    emails: dict[str, User], make_signal: SignalFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A detection run's changes arrive in bulk: a few batch jobs, not one job per signal; a rerun adds nothing."""
    monkeypatch.setattr(queue, "FANOUT_BATCH", 2)
    subscribe(emails["regional_officer"], "R1")
    signals = [make_signal("D12"), make_signal("D11"), make_signal("D21")]  # D21 is outside R1
    changes = [(s.pk, "created") for s in signals] + [(signals[0].pk, "comment")]
    signals_changed.send(sender=None, changes=changes, actor_username="system:detection")
    batch = Job.objects.filter(kind=queue.FANOUT_BATCH_JOB).order_by("pk")
    assert [len(j.payload["changes"]) for j in batch] == [2, 1]  # the comment is not notified
    assert not Job.objects.filter(kind=queue.FANOUT_JOB).exists()
    assert not Delivery.objects.exists()
    for _ in range(2):
        claimed = jobs.claim("test-worker")
        assert claimed is not None
        assert claimed.kind == queue.FANOUT_BATCH_JOB
        assert execute(claimed, "test-worker") == "done"
    assert sorted(d.signal_id for d in Delivery.objects.all()) == sorted([signals[0].pk, signals[1].pk])
    assert Job.objects.get(pk=batch[0].pk).result == {"changes": 2, "deliveries": 2}
    # The same changes again (a retried send): the fan-out creates nothing new.
    signals_changed.send(sender=None, changes=changes, actor_username="system:detection")
    while (claimed := jobs.claim("test-worker")) is not None:
        if claimed.kind == queue.FANOUT_BATCH_JOB:
            assert execute(claimed, "test-worker") == "done"
        else:
            execute(claimed, "test-worker")
    assert Delivery.objects.count() == 2


def test_batch_fan_out_rejects_a_bad_payload(db: Any) -> None:
    from dhnet.jobs import PermanentError

    class Ctx:
        def __init__(self) -> None:
            self.payload: dict[str, Any] = {"changes": [[1, "created"], ["x", "created"]]}

        def progress(self, *args: Any) -> None:
            pass

    with pytest.raises(PermanentError, match=r"payload\.changes\[1\]"):
        queue.fanout_batch_job(Ctx())  # type: ignore[arg-type]


def test_signal_changed_queues_the_fan_out(emails: dict[str, User], make_signal: SignalFactory) -> None:
    subscribe(emails["regional_officer"], "R1")
    signal = make_signal("D12")
    signal_changed.send(sender=None, signal_id=signal.pk, kind="created", actor_username="detector")
    signal_changed.send(sender=None, signal_id=signal.pk, kind="created", actor_username="detector")  # coalesced
    signal_changed.send(sender=None, signal_id=signal.pk, kind="comment", actor_username="x")  # not notified
    (job,) = Job.objects.filter(kind=queue.FANOUT_JOB)
    assert job.payload == {"signal": signal.pk, "kind": "created", "actor": "detector"}
    assert not Delivery.objects.exists()  # nothing done in the sender's request
    claimed = jobs.claim("test-worker")
    assert claimed is not None
    assert execute(claimed, "test-worker") == "done"
    delivery = Delivery.objects.get()
    assert (delivery.user, delivery.signal, delivery.event, delivery.status) == (
        emails["regional_officer"],
        signal,
        "created",
        "pending",
    )
    assert delivery.recipient == "regional_officer@example.org"
    assert "Measles" in delivery.payload["subject"]
    claimed.refresh_from_db()
    assert claimed.result == {"signal": signal.pk, "kind": "created", "deliveries": [delivery.pk]}
    # An unknown signal fans out to nobody.
    signal_changed.send(sender=None, signal_id=999999, kind="created", actor_username="x")
    unknown = jobs.claim("test-worker")
    assert unknown is not None
    assert execute(unknown, "test-worker") == "done"
    assert Delivery.objects.count() == 1


def test_subscribing_outside_the_jurisdiction_is_not_found(emails: dict[str, User]) -> None:
    officer = emails["district_officer"]  # at D11
    subscribe(officer, "D11")
    for code in ("D12", "R1", "DE", "D21", "NOPE"):
        with pytest.raises(NotFound, match="orgunit"):
            subscribe(officer, code)
    with pytest.raises(NotFound, match="disease"):
        subscribe(officer, "D11", disease="nope")
    with pytest.raises(Forbidden):  # partners see aggregates only, not signals
        subscribe(emails["partner"], "DE")


def test_email_needs_an_address_and_webhooks_need_the_permission(users: dict[str, User]) -> None:
    with pytest.raises(Invalid, match="no e-mail address"):
        subscribe(users["viewer"], "R1")
    with pytest.raises(Forbidden, match="notifications:webhook:write"):
        subscribe(users["national_epidemiologist"], "DE", channel="webhook", webhook_url="https://example.org/h")
    sub, secret = services.create_subscription(
        actor_of(users["system_admin"]),
        SubscriptionInput(orgunit="DE", channel="webhook", webhook_url="https://example.org/h"),
    )
    assert secret
    assert len(secret) >= 32
    assert sub.webhook_secret == secret


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "only http"),
        ("file:///etc/passwd", "only http"),
        ("javascript:alert(1)", "only http"),
        ("http:///nohost", "no host"),
        ("https://user:pw@example.org/", "credentials"),
        ("https://example.org:99999/", "valid URL"),
        ("", "required"),
    ],
)
def test_webhook_urls_are_http_or_https(users: dict[str, User], url: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.create_subscription(
            actor_of(users["system_admin"]), SubscriptionInput(orgunit="DE", channel="webhook", webhook_url=url)
        )


def test_invalid_choices_and_secrets(emails: dict[str, User]) -> None:
    admin = actor_of(emails["system_admin"])
    with pytest.raises(Invalid, match="min_severity"):
        services.create_subscription(admin, SubscriptionInput(orgunit="DE", min_severity="extreme"))
    with pytest.raises(Invalid, match="webhook_secret"):
        services.create_subscription(
            admin,
            SubscriptionInput(orgunit="DE", channel="webhook", webhook_url="https://e.org/", webhook_secret="short"),
        )
    with pytest.raises(Invalid, match="frequency"):
        services.create_subscription(
            admin, SubscriptionInput(orgunit="DE", channel="webhook", webhook_url="https://e.org/", frequency="daily")
        )
    with pytest.raises(Invalid, match="max_attempts"):
        services.create_subscription(admin, SubscriptionInput(orgunit="DE", max_attempts=0))
    assert not Subscription.objects.exists()


def test_jurisdiction_is_checked_again_at_delivery_time(
    emails: dict[str, User], make_signal: SignalFactory, operator: Any
) -> None:
    moved = accounts.create_user(operator, "mover", role="regional_officer", orgunit_code="R1", email="m@example.org")[
        0
    ]
    subscribe(moved, "D11")
    signal = make_signal("D11")
    (delivery,) = services.fan_out(signal.pk, "created", now=T0)
    # The officer moves to the other region before the message goes out: nothing is sent.
    RoleAssignment.objects.filter(user=moved).update(orgunit=signal.orgunit.parent.parent.children.get(code="R2"))
    result = services.attempt(delivery.pk, now=T0)
    delivery.refresh_from_db()
    assert (result.attempted, delivery.status, delivery.attempts) == (False, "cancelled", 0)
    assert "no longer holds surveillance:signal:read" in delivery.last_error
    # New changes are not fanned out to them either.
    assert recipients(make_signal("D11").pk) == []


def test_only_own_subscriptions(emails: dict[str, User]) -> None:
    mine = subscribe(emails["regional_officer"], "R1")
    other = actor_of(emails["national_epidemiologist"])
    for call in (
        lambda: services.get_subscription(other, mine.pk),
        lambda: services.update_subscription(other, mine.pk, SubscriptionChange(active=False)),
        lambda: services.delete_subscription(other, mine.pk),
        lambda: services.list_deliveries(other, subscription_id=mine.pk),
    ):
        with pytest.raises(NotFound):
            call()
    assert services.list_subscriptions(other) == []
    assert Subscription.objects.get(pk=mine.pk).active


def test_subscription_changes_and_deliveries_are_audited(emails: dict[str, User], make_signal: SignalFactory) -> None:
    actor = actor_of(emails["regional_officer"])
    sub = subscribe(emails["regional_officer"], "R1", disease="measles")
    services.update_subscription(actor, sub.pk, SubscriptionChange(min_severity="high", active=False))
    services.update_subscription(actor, sub.pk, SubscriptionChange(active=True, min_severity="any"))
    (delivery,) = services.fan_out(make_signal("D12").pk, "created", now=T0)
    services.delete_subscription(actor, sub.pk)
    rows = list(AuditRecord.objects.filter(action__startswith="notifications.").order_by("seq"))
    actions = [(r.action, r.actor_username) for r in rows]
    assert actions == [
        ("notifications.subscription.create", "regional_officer"),
        ("notifications.subscription.update", "regional_officer"),
        ("notifications.subscription.update", "regional_officer"),
        ("notifications.delivery.create", "system:notifications"),
        ("notifications.subscription.delete", "regional_officer"),
    ]
    assert rows[0].detail["orgunit"] == "R1"
    assert rows[0].detail["disease"] == "measles"
    assert rows[1].detail["changed"] == {"min_severity": ["any", "high"], "active": [True, False]}
    assert rows[3].object_id == str(delivery.pk)
    assert rows[3].detail["user"] == "regional_officer"
    assert rows[4].detail["cancelled_deliveries"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "cancelled"


def test_webhook_secret_is_never_audited(users: dict[str, User]) -> None:
    sub, secret = services.create_subscription(
        actor_of(users["system_admin"]),
        SubscriptionInput(orgunit="DE", channel="webhook", webhook_url="https://e.org/", webhook_secret="k" * 20),
    )
    _, new = services.rotate_secret(actor_of(users["system_admin"]), sub.pk)
    assert new != secret
    for row in AuditRecord.objects.filter(action__startswith="notifications."):
        assert secret not in str(row.detail)
        assert new not in str(row.detail)
    assert AuditRecord.objects.filter(action="notifications.subscription.rotate_secret").count() == 1
