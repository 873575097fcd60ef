# mypy: warn-return-any=False
"""Notification services: subscriptions, fan-out of signal changes into deliveries, attempts with retries, the daily
digest and missing-report reminders.

Subscriptions are the user's own: every function that manages them takes the acting user and touches only their
rows (another user's subscription is "not found"). An area must lie where the user holds
``surveillance:signal:read``; webhooks need ``notifications:webhook:write`` (system integrators).

Deliveries are created by :func:`fan_out` (called for ``dhnet.signals.events.signal_changed``), :func:`run_digest`
and :func:`run_reminders`, and sent one attempt at a time by :func:`attempt` (the job queue's handler). Jurisdiction
is checked again at every attempt: a recipient who lost access to the signal's org unit gets nothing.

Every function takes ``now`` (default: the current time) so that retries and schedules can be tested with a
controllable clock.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dhnet.accounts.models import RoleAssignment, User
from dhnet.accounts.roles import DISTRICT_OFFICER
from dhnet.accounts.services import actor_for_user
from dhnet.audit import services as audit
from dhnet.diseases.models import Disease
from dhnet.notifications import content, queue, transports
from dhnet.notifications import models as m
from dhnet.notifications.models import SEVERITY_RANK, Channel, Delivery, Frequency, Severity, Subscription
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import in_jurisdiction, require_in_jurisdiction
from dhnet.platform.access import Actor, Grant
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.signals.models import Signal, SignalEvent

if TYPE_CHECKING:
    from dhnet.reporting.services import MissingReport

log = logging.getLogger(__name__)

#: The current time; every function takes ``now=`` too. Tests replace this to run the queue on a moved clock.
clock: Callable[[], dt.datetime] = timezone.now

READ = "surveillance:signal:read"
WEBHOOK = "notifications:webhook:write"
REPORT_WRITE = "surveillance:report:write"

#: Signal changes that are notified (``signal_changed`` kinds); comments and assignments are not.
NOTIFIED_EVENTS = frozenset({"created", "alarm", "status", "escalate", "risk", "ihr"})
#: Timeline kinds listed in the daily digest.
DIGEST_EVENTS = ("created", "status", "risk", "escalate")

#: Nominal delays before the 2nd, 3rd, ... attempt (1 min, 5 min, 30 min, 2 h, 12 h; the last repeats).
BACKOFF_SECONDS: tuple[int, ...] = (60, 300, 1800, 7200, 43200)
#: Each delay is multiplied by a uniform random factor in [1 - JITTER, 1 + JITTER].
JITTER = 0.2
DEFAULT_MAX_ATTEMPTS = 6
MAX_ATTEMPTS_LIMIT = 10
SECRET_MIN_LENGTH = 16

REPORTS_READ = "surveillance:aggregate:read"

#: The actor the platform itself acts as when it fans out, sends and schedules (recorded in the audit trail). It
#: reads which org units miss a report (``dhnet.reporting.services.missing_reports``) over the whole tree.
SYSTEM = Actor(
    user_id=None,
    username="system:notifications",
    grants=(
        Grant(
            role="system",
            orgunit_id=0,
            orgunit_code="*",
            orgunit_name="all org units",
            orgunit_path="/",
            permissions=frozenset({REPORTS_READ}),
        ),
    ),
    via="system",
    purpose="notification",
    mfa_verified=True,
)


# --- subscriptions --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionInput:
    orgunit: str  # code
    disease: str = ""  # code; "" = every disease (and event reports without one)
    min_severity: str = m.ANY
    channel: str = m.EMAIL
    frequency: str = m.IMMEDIATE
    webhook_url: str = ""
    webhook_secret: str = ""  # "" = generate one
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True)
class SubscriptionChange:
    """Fields to change (None: keep)."""

    min_severity: str | None = None
    frequency: str | None = None
    active: bool | None = None
    webhook_url: str | None = None
    max_attempts: int | None = None


def _require_user(actor: Actor) -> User:
    if actor.user_id is None:
        raise Forbidden("subscriptions belong to user accounts; log in as a user")
    if not actor.has(READ):
        raise Forbidden(f"requires {READ}")
    user = User.objects.filter(pk=actor.user_id, is_active=True).first()
    if user is None:
        raise Forbidden("the account is not active")
    return user


def _own(actor: Actor, subscription_id: int, *, lock: bool = False) -> Subscription:
    qs = Subscription.objects.select_related("disease", "orgunit")
    if lock:
        qs = qs.select_for_update(of=("self",))
    sub = qs.filter(pk=subscription_id, user_id=actor.user_id).first()
    if sub is None:
        raise NotFound(f"subscription {subscription_id} not found")
    return sub


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    allowed = list(choices)
    if value not in allowed:
        raise Invalid(f"{name}: expected one of {allowed}, got {value!r}")


def _check_max_attempts(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS_LIMIT:
        raise Invalid(f"max_attempts: must be between 1 and {MAX_ATTEMPTS_LIMIT}")


def _check_webhook_url(url: str) -> str:
    url = url.strip()
    if not url:
        raise Invalid("webhook_url: required for a webhook subscription")
    if len(url) > 2000:
        raise Invalid("webhook_url: longer than 2000 characters")
    problem = transports.check_url(url)
    if problem:
        raise Invalid(f"webhook_url: {problem}")
    return url


def _summary(sub: Subscription) -> dict[str, Any]:
    """The audited description of a subscription (never the secret)."""
    return {
        "orgunit": sub.orgunit.code,
        "disease": sub.disease.code if sub.disease else None,
        "min_severity": sub.min_severity,
        "channel": sub.channel,
        "frequency": sub.frequency,
        "webhook_url": sub.webhook_url or None,
        "max_attempts": sub.max_attempts,
        "active": sub.active,
    }


def list_subscriptions(actor: Actor) -> list[Subscription]:
    """The actor's own subscriptions."""
    user = _require_user(actor)
    with transaction.atomic():
        subs = list(
            Subscription.objects.select_related("disease", "orgunit").filter(user=user).order_by("created_at", "id")
        )
        audit.record(
            actor,
            "notifications.subscription.list",
            object_type="notifications.subscription",
            detail={"returned": len(subs)},
            permission=READ,
        )
    return subs


def get_subscription(actor: Actor, subscription_id: int) -> Subscription:
    _require_user(actor)
    with transaction.atomic():
        sub = _own(actor, subscription_id)
        audit.record(
            actor,
            "notifications.subscription.read",
            object_type="notifications.subscription",
            object_id=sub.pk,
            permission=READ,
        )
    return sub


def create_subscription(actor: Actor, data: SubscriptionInput) -> tuple[Subscription, str | None]:
    """Subscribe the actor; returns the subscription and, for a webhook, its secret (shown this once)."""
    user = _require_user(actor)
    _check_choice("min_severity", data.min_severity, Severity.values)
    _check_choice("channel", data.channel, Channel.values)
    _check_choice("frequency", data.frequency, Frequency.values)
    _check_max_attempts(data.max_attempts)
    secret: str | None = None
    url = ""
    if data.channel == m.WEBHOOK:
        if not actor.has(WEBHOOK):
            raise Forbidden(f"webhook subscriptions require {WEBHOOK}")
        if data.frequency != m.IMMEDIATE:
            raise Invalid("frequency: webhooks are sent immediately (the daily digest is e-mail only)")
        url = _check_webhook_url(data.webhook_url)
        secret = data.webhook_secret or secrets.token_urlsafe(32)
        if len(secret) < SECRET_MIN_LENGTH or len(secret) > 128:
            raise Invalid(f"webhook_secret: must be {SECRET_MIN_LENGTH} to 128 characters")
    else:
        if data.webhook_url or data.webhook_secret:
            raise Invalid("webhook_url: only for the webhook channel")
        if not user.email:
            raise Invalid("channel: your account has no e-mail address; ask an administrator to add one")
    with transaction.atomic():
        unit = OrgUnit.objects.filter(code=data.orgunit).first()
        if unit is None:
            raise NotFound(f"orgunit: org unit {data.orgunit!r} not found")
        try:
            require_in_jurisdiction(actor, READ, unit)
        except NotFound:
            raise NotFound(f"orgunit: org unit {data.orgunit!r} not found") from None
        disease = None
        if data.disease:
            disease = Disease.objects.filter(code=data.disease).first()
            if disease is None:
                raise NotFound(f"disease: disease {data.disease!r} not found")
        sub = Subscription.objects.create(
            user=user,
            disease=disease,
            orgunit=unit,
            min_severity=data.min_severity,
            channel=data.channel,
            frequency=data.frequency,
            webhook_url=url,
            webhook_secret=secret or "",
            max_attempts=data.max_attempts,
        )
        audit.record(
            actor,
            "notifications.subscription.create",
            object_type="notifications.subscription",
            object_id=sub.pk,
            detail=_summary(sub),
            permission=WEBHOOK if data.channel == m.WEBHOOK else READ,
        )
    return sub, secret


def update_subscription(actor: Actor, subscription_id: int, change: SubscriptionChange) -> Subscription:
    _require_user(actor)
    if change.min_severity is not None:
        _check_choice("min_severity", change.min_severity, Severity.values)
    if change.frequency is not None:
        _check_choice("frequency", change.frequency, Frequency.values)
    if change.max_attempts is not None:
        _check_max_attempts(change.max_attempts)
    with transaction.atomic():
        sub = _own(actor, subscription_id, lock=True)
        if sub.channel == m.WEBHOOK and not actor.has(WEBHOOK):
            raise Forbidden(f"webhook subscriptions require {WEBHOOK}")
        before = _summary(sub)
        if change.webhook_url is not None:
            if sub.channel != m.WEBHOOK:
                raise Invalid("webhook_url: only for the webhook channel")
            sub.webhook_url = _check_webhook_url(change.webhook_url)
        if change.frequency is not None:
            if sub.channel == m.WEBHOOK and change.frequency != m.IMMEDIATE:
                raise Invalid("frequency: webhooks are sent immediately (the daily digest is e-mail only)")
            sub.frequency = change.frequency
        if change.min_severity is not None:
            sub.min_severity = change.min_severity
        if change.active is not None:
            sub.active = change.active
        if change.max_attempts is not None:
            sub.max_attempts = change.max_attempts
        after = _summary(sub)
        changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if changed:
            sub.save()
            audit.record(
                actor,
                "notifications.subscription.update",
                object_type="notifications.subscription",
                object_id=sub.pk,
                detail={"changed": changed},
                permission=WEBHOOK if sub.channel == m.WEBHOOK else READ,
            )
    return sub


def delete_subscription(actor: Actor, subscription_id: int) -> None:
    """Delete the subscription; its pending deliveries are cancelled (sent ones stay on record)."""
    _require_user(actor)
    with transaction.atomic():
        sub = _own(actor, subscription_id, lock=True)
        summary = _summary(sub)
        cancelled = Delivery.objects.filter(subscription=sub, status=m.PENDING).update(
            status=m.CANCELLED, next_attempt_at=None, last_error="subscription deleted"
        )
        sub.delete()
        audit.record(
            actor,
            "notifications.subscription.delete",
            object_type="notifications.subscription",
            object_id=subscription_id,
            detail={**summary, "cancelled_deliveries": cancelled},
            permission=READ,
        )


def rotate_secret(actor: Actor, subscription_id: int, secret: str = "") -> tuple[Subscription, str]:
    """Give a webhook subscription a new secret (generated unless given); returns it once."""
    _require_user(actor)
    if not actor.has(WEBHOOK):
        raise Forbidden(f"requires {WEBHOOK}")
    new = secret or secrets.token_urlsafe(32)
    if len(new) < SECRET_MIN_LENGTH or len(new) > 128:
        raise Invalid(f"webhook_secret: must be {SECRET_MIN_LENGTH} to 128 characters")
    with transaction.atomic():
        sub = _own(actor, subscription_id, lock=True)
        if sub.channel != m.WEBHOOK:
            raise Invalid(f"subscription {subscription_id}: not a webhook subscription")
        sub.webhook_secret = new
        sub.save(update_fields=["webhook_secret", "updated_at"])
        audit.record(
            actor,
            "notifications.subscription.rotate_secret",
            object_type="notifications.subscription",
            object_id=sub.pk,
            permission=WEBHOOK,
        )
    return sub, new


def list_deliveries(actor: Actor, *, subscription_id: int | None = None, limit: int = 50) -> list[Delivery]:
    """The actor's most recent deliveries (of one of their subscriptions, or all addressed to them)."""
    user = _require_user(actor)
    if not 1 <= limit <= 500:
        raise Invalid("limit: must be between 1 and 500")
    with transaction.atomic():
        qs = Delivery.objects.select_related("signal", "subscription").filter(user=user)
        if subscription_id is not None:
            _own(actor, subscription_id)
            qs = qs.filter(subscription_id=subscription_id)
        rows = list(qs.order_by("-created_at", "-id")[:limit])
        audit.record(
            actor,
            "notifications.delivery.list",
            object_type="notifications.delivery",
            detail={"subscription": subscription_id, "returned": len(rows)},
            permission=READ,
        )
    return rows


def form_choices(actor: Actor) -> tuple[list[OrgUnit], list[Disease]]:
    """Org units (within the signal-read jurisdiction) and active diseases to subscribe to, for the page's form."""
    units = list(in_jurisdiction(OrgUnit.objects.defer("geometry"), actor, READ).order_by("path")[:2000])
    diseases = list(Disease.objects.filter(active=True).order_by("name"))
    return units, diseases


# --- matching -------------------------------------------------------------------------------------------------------


def ancestor_paths(path: str) -> list[str]:
    """``/1/7/42/`` -> ``['/1/', '/1/7/', '/1/7/42/']``: the subtrees that contain the unit."""
    ids = [part for part in path.split("/") if part]
    return ["/" + "/".join(ids[: i + 1]) + "/" for i in range(len(ids))]


def severity_matches(min_severity: str, risk: str) -> bool:
    """Whether a signal of assessed ``risk`` ("" = not assessed) reaches ``min_severity``."""
    if min_severity == m.ANY:
        return True
    return bool(risk) and SEVERITY_RANK.get(risk, 0) >= SEVERITY_RANK[min_severity]


def matching_subscriptions(signal: Signal, *, frequency: str | None = m.IMMEDIATE) -> list[Subscription]:
    """Active subscriptions whose disease, area and severity match ``signal`` (jurisdiction not yet checked)."""
    qs: QuerySet[Subscription] = Subscription.objects.select_related("user", "orgunit", "disease").filter(
        active=True, user__is_active=True, orgunit__path__in=ancestor_paths(signal.orgunit.path)
    )
    disease_q = Q(disease__isnull=True)
    if signal.disease_id is not None:
        disease_q |= Q(disease_id=signal.disease_id)
    qs = qs.filter(disease_q)
    if frequency is not None:
        qs = qs.filter(frequency=frequency)
    return [s for s in qs.order_by("id") if severity_matches(s.min_severity, signal.risk)]


def may_receive(user: User, subscription: Subscription | None, unit: OrgUnit) -> str:
    """Why ``user`` may not be told about something at ``unit`` now ("" when they may): checked at fan-out and
    again at every attempt."""
    if not user.is_active:
        return "the recipient's account is not active"
    actor = actor_for_user(user)
    if not any(unit.is_within(p) for p in actor.paths_for(READ)):
        return f"the recipient no longer holds {READ} at {unit.code}"
    if subscription is not None and subscription.channel == m.WEBHOOK and not actor.has(WEBHOOK):
        return f"the subscriber no longer holds {WEBHOOK}"
    return ""


def _event_key(signal: Signal, kind: str) -> str:
    """Identify the change being notified: the kind and the timeline entry of that kind (if the signals context wrote
    one), so that the same change sent twice is delivered once, while a later change of the same kind (a second
    status change) is a new notification."""
    event = SignalEvent.objects.filter(signal=signal, kind=kind).order_by("-at", "-id").values_list("id", flat=True)
    last = event.first()
    return f"{kind}:{last}" if last is not None else kind


def _create_delivery(**fields: Any) -> Delivery | None:
    """Insert one delivery unless its ``dedupe_key`` exists (None then)."""
    if Delivery.objects.filter(dedupe_key=fields["dedupe_key"]).exists():
        return None
    try:
        with transaction.atomic():
            return Delivery.objects.create(**fields)
    except IntegrityError:  # a concurrent fan-out inserted it first
        return None


def fan_out(signal_id: int, kind: str, actor_username: str = "", *, now: dt.datetime | None = None) -> list[Delivery]:
    """Create the deliveries for one change of a signal and hand them to the queue (once per subscription, signal
    and change: calling it again for the same change creates nothing)."""
    if kind not in NOTIFIED_EVENTS:
        return []
    now = now or clock()
    created: list[Delivery] = []
    with transaction.atomic():
        signal = Signal.objects.select_related("disease", "orgunit").filter(pk=signal_id).first()
        if signal is None:
            return []
        subs = matching_subscriptions(signal)
        if not subs:
            return []
        event_key = _event_key(signal, kind)
        f = content.facts(signal)
        for sub in subs:
            if may_receive(sub.user, sub, signal.orgunit):
                continue
            if sub.channel == m.EMAIL:
                if not sub.user.email:
                    continue
                recipient, payload = sub.user.email, content.signal_email(f, kind)
            else:
                recipient, payload = sub.webhook_url, content.signal_document(f, kind, sub.pk)
            delivery = _create_delivery(
                kind=m.SIGNAL,
                dedupe_key=f"signal:{signal.pk}:{event_key}:subscription:{sub.pk}",
                subscription=sub,
                user=sub.user,
                signal=signal,
                event=kind,
                channel=sub.channel,
                recipient=recipient,
                payload=payload,
                max_attempts=sub.max_attempts,
                next_attempt_at=now,
                created_at=now,
            )
            if delivery is None:
                continue
            audit.record(
                SYSTEM,
                "notifications.delivery.create",
                object_type="notifications.delivery",
                object_id=delivery.pk,
                detail={
                    "kind": delivery.kind,
                    "signal": signal.pk,
                    "event": kind,
                    "changed_by": actor_username,
                    "subscription": sub.pk,
                    "user": sub.user.username,
                    "channel": sub.channel,
                },
            )
            created.append(delivery)
        _enqueue_on_commit(created)
    return created


def _enqueue_on_commit(deliveries: Sequence[Delivery]) -> None:
    items = [(d.pk, d.next_attempt_at) for d in deliveries]

    def enqueue() -> None:
        for pk, at in items:
            queue.enqueue_attempt(pk, at)

    if items:
        transaction.on_commit(enqueue)


# --- attempts -------------------------------------------------------------------------------------------------------


def retry_delay(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: the nominal step with a random jitter of ±JITTER."""
    step = BACKOFF_SECONDS[min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1]
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return dt.timedelta(seconds=step * factor)


@dataclass
class AttemptResult:
    delivery_id: int
    status: str
    attempted: bool
    next_attempt_at: dt.datetime | None = None
    error: str = ""


def _finish(delivery: Delivery, status: str, reason: str, now: dt.datetime) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    if status == m.DELIVERED:
        delivery.delivered_at = now
    delivery.save()
    audit.record(
        SYSTEM,
        f"notifications.delivery.{status}",
        object_type="notifications.delivery",
        object_id=delivery.pk,
        detail={
            "kind": delivery.kind,
            "channel": delivery.channel,
            "user": delivery.user.username if delivery.user else None,
            "signal": delivery.signal_id,
            "attempts": delivery.attempts,
            "reason": reason[:500],
        },
    )


def _recheck(delivery: Delivery) -> str:
    """Why a pending delivery must not be sent any more ("" when it may)."""
    if delivery.kind == m.SIGNAL:
        sub = delivery.subscription
        if sub is None:
            return "subscription deleted"
        if not sub.active:
            return "subscription paused"
        if delivery.signal is None:
            return "signal deleted"
        if delivery.user is None:
            return "recipient deleted"
        reason = may_receive(delivery.user, sub, delivery.signal.orgunit)
        if reason:
            return reason
    if delivery.user is None:
        return "recipient deleted"
    if not delivery.user.is_active:
        return "the recipient's account is not active"
    if delivery.channel == m.EMAIL and not delivery.user.email:
        return "the recipient's account has no e-mail address"
    return ""


def attempt(delivery_id: int, *, now: dt.datetime | None = None, rng: random.Random | None = None) -> AttemptResult:
    """Make one attempt at a due, pending delivery (the job handler); anything else is left alone.

    The attempt is claimed first (``attempts`` counted, ``next_attempt_at`` pushed to the next back-off step, so a
    worker that dies mid-send is retried later), the message is sent outside any transaction, then the outcome is
    recorded: delivered; retried after the back-off; or failed (permanent error, or ``max_attempts`` reached).
    """
    now = now or clock()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("subscription", "user", "signal__orgunit")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        if delivery.status != m.PENDING:
            return AttemptResult(delivery.pk, delivery.status, attempted=False)
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return AttemptResult(delivery.pk, delivery.status, False, delivery.next_attempt_at)
        reason = _recheck(delivery)
        if reason:
            delivery.last_error = reason
            _finish(delivery, m.CANCELLED, reason, now)
            return AttemptResult(delivery.pk, delivery.status, False, error=reason)
        if delivery.channel == m.EMAIL and delivery.user is not None:
            delivery.recipient = delivery.user.email  # the address the account has now
        elif delivery.channel == m.WEBHOOK and delivery.subscription is not None:
            delivery.recipient = delivery.subscription.webhook_url
        secret = delivery.subscription.webhook_secret if delivery.subscription else ""
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + retry_delay(delivery.attempts, rng)  # the lease
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at", "recipient"])

    outcome = _send(delivery, secret, now)

    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",)).select_related("user").filter(pk=delivery_id).first()
        )
        if delivery is None:  # deleted meanwhile
            raise NotFound(f"delivery {delivery_id} not found")
        delivery.last_status_code = outcome.status_code
        if outcome.ok:
            delivery.last_error = ""
            _finish(delivery, m.DELIVERED, "delivered", now)
        elif not outcome.retry or delivery.attempts >= delivery.max_attempts:
            delivery.last_error = outcome.error
            why = outcome.error if not outcome.retry else f"gave up after {delivery.attempts} attempts: {outcome.error}"
            _finish(delivery, m.FAILED, why, now)
        else:
            delivery.last_error = outcome.error
            delivery.next_attempt_at = now + retry_delay(delivery.attempts, rng)
            delivery.save(update_fields=["last_error", "last_status_code", "next_attempt_at"])
            at = delivery.next_attempt_at
            transaction.on_commit(lambda: queue.enqueue_attempt(delivery_id, at))
    return AttemptResult(delivery.pk, delivery.status, True, delivery.next_attempt_at, outcome.error)


def _send(delivery: Delivery, secret: str, now: dt.datetime) -> transports.Outcome:
    payload = delivery.payload
    try:
        if delivery.channel == m.EMAIL:
            return transports.send_email(
                delivery.recipient, str(payload["subject"]), str(payload["body"]), delivery_id=delivery.pk
            )
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return transports.post_webhook(
            delivery.recipient, body, secret=secret, delivery_id=delivery.pk, timestamp=int(now.timestamp())
        )
    except Exception as exc:  # a bug or an unexpected library error must not leave the delivery claimed
        log.exception("delivery %s: unexpected error", delivery.pk)
        return transports.Outcome.temporary(f"unexpected error: {type(exc).__name__}: {exc}")


def due(now: dt.datetime | None = None, *, limit: int = 500) -> list[int]:
    """Ids of pending deliveries whose next attempt is due."""
    now = now or clock()
    qs = Delivery.objects.filter(status=m.PENDING, next_attempt_at__lte=now)
    return list(qs.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])


def run_due(
    now: dt.datetime | None = None, *, limit: int = 500, rng: random.Random | None = None
) -> list[AttemptResult]:
    """Attempt every due delivery once (a sweep; the queue normally runs each attempt as its own job)."""
    now = now or clock()
    return [attempt(pk, now=now, rng=rng) for pk in due(now, limit=limit)]


# --- the daily digest -----------------------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What a digest or reminder run did."""

    created: list[int] = field(default_factory=list)  # delivery ids
    skipped: int = 0  # already sent for this period (idempotence)
    recipients: list[str] = field(default_factory=list)
    not_yet_due: dt.datetime | None = None  # reminders: the deadline had not passed

    def summary(self) -> str:
        if self.not_yet_due is not None:
            return f"nothing sent: reports are due by {self.not_yet_due.isoformat(timespec='seconds')}"
        return f"{len(self.created)} message(s) queued, {self.skipped} already sent"


def _change_text(event: SignalEvent) -> str:
    if event.kind == "created":
        return "new signal"
    if event.kind == "status":
        return f"status {event.from_status or '?'} -> {event.to_status or '?'}"
    if event.kind == "risk":
        risk = event.data.get("risk") if isinstance(event.data, dict) else None
        return f"risk assessed{f' {risk}' if risk else ''}"
    if event.kind == "escalate":
        return "escalated"
    return event.kind


def _require_operator(actor: Actor) -> None:
    if actor.via not in ("cli", "system"):
        raise Forbidden("the digest and reminders are run by the platform's schedule or an operator")


def run_digest(actor: Actor, *, now: dt.datetime | None = None) -> RunReport:
    """Queue one e-mail per user with daily subscriptions: the new signals and changes of the last 24 hours in
    those subscriptions (within the user's jurisdiction). Idempotent per user and day."""
    _require_operator(actor)
    now = now or clock()
    since = now - dt.timedelta(hours=24)
    day = timezone.localdate(now)
    report = RunReport()
    with transaction.atomic():
        subs = list(
            Subscription.objects.select_related("user", "orgunit", "disease")
            .filter(active=True, user__is_active=True, channel=m.EMAIL, frequency=m.DAILY)
            .order_by("user_id", "id")
        )
        if not subs:
            audit.record(actor, "notifications.digest.run", object_type="notifications.delivery", detail={"queued": 0})
            return report
        events = list(
            SignalEvent.objects.select_related("signal__orgunit", "signal__disease")
            .filter(at__gt=since, at__lte=now, kind__in=DIGEST_EVENTS)
            .order_by("at", "id")
        )
        by_signal: dict[int, list[SignalEvent]] = {}
        signals: dict[int, Signal] = {}
        for event in events:
            by_signal.setdefault(event.signal_id, []).append(event)
            signals[event.signal_id] = event.signal
        by_user: dict[int, list[Subscription]] = {}
        for sub in subs:
            by_user.setdefault(sub.user_id, []).append(sub)
        facts_cache: dict[int, content.SignalFacts] = {}
        for user_subs in by_user.values():
            user = user_subs[0].user
            key = f"digest:{user.pk}:{day.isoformat()}"
            if not user.email:
                continue
            if Delivery.objects.filter(dedupe_key=key).exists():
                report.skipped += 1
                continue
            paths = actor_for_user(user).paths_for(READ)
            items = []
            for signal_id, signal_events in by_signal.items():
                signal = signals[signal_id]
                if not any(signal.orgunit.is_within(p) for p in paths):
                    continue
                if not any(_sub_matches(s, signal) for s in user_subs):
                    continue
                if signal_id not in facts_cache:
                    facts_cache[signal_id] = content.facts(signal)
                items.append(
                    content.DigestItem(
                        facts=facts_cache[signal_id],
                        changes=tuple(_change_text(e) for e in signal_events),
                        new=any(e.kind == "created" for e in signal_events),
                    )
                )
            if not items:
                continue
            delivery = _create_delivery(
                kind=m.DIGEST,
                dedupe_key=key,
                user=user,
                channel=m.EMAIL,
                recipient=user.email,
                payload=content.digest_email(user.get_username(), since, now, items),
                max_attempts=DEFAULT_MAX_ATTEMPTS,
                next_attempt_at=now,
                created_at=now,
            )
            if delivery is None:
                report.skipped += 1
                continue
            report.created.append(delivery.pk)
            report.recipients.append(user.get_username())
            audit.record(
                actor,
                "notifications.delivery.create",
                object_type="notifications.delivery",
                object_id=delivery.pk,
                detail={"kind": "digest", "user": user.get_username(), "day": day.isoformat(), "signals": len(items)},
            )
        audit.record(
            actor,
            "notifications.digest.run",
            object_type="notifications.delivery",
            detail={"day": day.isoformat(), "queued": len(report.created), "skipped": report.skipped},
        )
        _enqueue_on_commit(list(Delivery.objects.filter(pk__in=report.created)))
    return report


def _sub_matches(sub: Subscription, signal: Signal) -> bool:
    if sub.disease_id is not None and sub.disease_id != signal.disease_id:
        return False
    if not signal.orgunit.is_within(sub.orgunit.path):
        return False
    return severity_matches(sub.min_severity, signal.risk)


# --- missing-report reminders ---------------------------------------------------------------------------------------


def last_complete_week(now: dt.datetime) -> dt.date:
    """The Monday of the last complete ISO week before ``now`` (in the platform's time zone)."""
    today = timezone.localdate(now)
    return today - dt.timedelta(days=today.weekday() + 7)


def units_missing_report(actor: Actor, week_start: dt.date) -> list[MissingReport]:
    """The reporting units without a report for the week starting ``week_start`` (the reporting context decides
    which units report: ``dhnet.reporting.services.missing_reports``), read by ``actor`` when it sees the whole
    tree, else by the platform."""
    from dhnet.reporting import services as reporting

    reader = actor if "/" in actor.paths_for(REPORTS_READ) else SYSTEM
    return reporting.missing_reports(reader, week_start)


def officers_of(unit: OrgUnit) -> list[User]:
    """Active district officers holding their role at ``unit`` or above it."""
    assignments = RoleAssignment.objects.filter(
        role=DISTRICT_OFFICER, orgunit__path__in=ancestor_paths(unit.path), user__is_active=True
    ).select_related("user")
    users = {a.user_id: a.user for a in assignments}
    return [users[k] for k in sorted(users)]


def run_reminders(actor: Actor, *, now: dt.datetime | None = None, before_deadline: bool = False) -> RunReport:
    """Queue one e-mail to each district officer of every reporting unit without a submission for the last complete
    ISO week, once the week's reporting deadline has passed (or at once, ``before_deadline``). Idempotent per org
    unit, week and officer."""
    _require_operator(actor)
    now = now or clock()
    week_start = last_complete_week(now)
    week = content.iso_week(week_start)
    report = RunReport()
    with transaction.atomic():
        missing = units_missing_report(actor, week_start)
        due = missing[0].deadline if missing else None
        if due is not None and now <= due and not before_deadline:
            report.not_yet_due = due
            missing = []
        by_code = {u.code: u for u in OrgUnit.objects.filter(code__in=[m.code for m in missing])}
        units = [by_code[m.code] for m in missing if m.code in by_code]
        for unit in units:
            for user in officers_of(unit):
                if not user.email:
                    continue
                key = f"reminder:{week}:{unit.code}:{user.pk}"
                if Delivery.objects.filter(dedupe_key=key).exists():
                    report.skipped += 1
                    continue
                name = user.get_full_name() or user.get_username()
                delivery = _create_delivery(
                    kind=m.REMINDER,
                    dedupe_key=key,
                    user=user,
                    channel=m.EMAIL,
                    recipient=user.email,
                    payload=content.reminder_email(name, unit, week_start, due),
                    max_attempts=DEFAULT_MAX_ATTEMPTS,
                    next_attempt_at=now,
                    created_at=now,
                )
                if delivery is None:
                    report.skipped += 1
                    continue
                report.created.append(delivery.pk)
                report.recipients.append(user.get_username())
                audit.record(
                    actor,
                    "notifications.delivery.create",
                    object_type="notifications.delivery",
                    object_id=delivery.pk,
                    detail={"kind": "reminder", "user": user.get_username(), "orgunit": unit.code, "week": week},
                )
        audit.record(
            actor,
            "notifications.reminder.run",
            object_type="notifications.delivery",
            detail={
                "week": week,
                "deadline": due.isoformat() if due else None,
                "units_missing": len(units),
                "queued": len(report.created),
                "skipped": report.skipped,
            },
        )
        _enqueue_on_commit(list(Delivery.objects.filter(pk__in=report.created)))
    return report
