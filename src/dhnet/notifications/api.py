"""``/api/v1/notifications``: thin handlers over :mod:`dhnet.notifications.services`."""

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.notifications import services
from dhnet.notifications.models import Delivery, Subscription
from dhnet.notifications.schemas import (
    DeliveryOut,
    SecretIn,
    SecretOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)
from dhnet.platform.access import request_actor, requires

router = Router(tags=["notifications"])

READ = services.READ
WEBHOOK = services.WEBHOOK


class Limit(Schema):
    limit: int = Field(50, ge=1, le=500)


def _out(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.pk,
        orgunit=sub.orgunit.code,
        orgunit_name=sub.orgunit.name,
        disease=sub.disease.code if sub.disease else None,
        min_severity=sub.min_severity,
        channel=sub.channel,
        frequency=sub.frequency,
        webhook_url=sub.webhook_url or None,
        max_attempts=sub.max_attempts,
        active=sub.active,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def _delivery(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.pk,
        kind=d.kind,
        subscription=d.subscription_id,
        signal=d.signal_id,
        event=d.event,
        channel=d.channel,
        recipient=d.recipient,
        status=d.status,
        attempts=d.attempts,
        max_attempts=d.max_attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        delivered_at=d.delivered_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
    )


@router.get("/notifications/subscriptions", response=list[SubscriptionOut], summary="My subscriptions")
@requires(READ)
def list_subscriptions(request: HttpRequest) -> list[SubscriptionOut]:
    return [_out(s) for s in services.list_subscriptions(request_actor(request))]


WEBHOOK_DOC = """
Subscribe yourself to the signals of a disease (or every disease) in an org unit and everything below it, within
your `surveillance:signal:read` jurisdiction. E-mail goes to your account's address, at once or in the daily
digest.

**Webhooks** (`notifications:webhook:write`): each notification is a `POST` of a JSON document
(`"schema": "dhnet.notification/1"`) with the headers `X-Dhnet-Delivery` (the delivery id, the same on every retry),
`X-Dhnet-Timestamp` (Unix seconds of the attempt) and `X-Dhnet-Signature: sha256=<hex>`, where `<hex>` is the
HMAC-SHA256 keyed with the subscription's secret (UTF-8) of the timestamp, a `.`, and the raw body:
`hmac(secret, f"{timestamp}.".encode() + body, sha256)`. Compare in constant time, reject timestamps more than
5 minutes old, drop repeated delivery ids. Answer 2xx to acknowledge; 429, 5xx and timeouts are retried after about
1 min, 5 min, 30 min, 2 h and 12 h (with jitter) up to `max_attempts`; other 4xx fail at once. Redirects are not
followed to another origin. The secret is returned once, here and by `POST .../secret`.
"""


@router.post(
    "/notifications/subscriptions",
    response={201: SubscriptionCreated},
    summary="Subscribe to signals of a disease in an area (webhooks: system integrators; the secret is shown once)",
    description=WEBHOOK_DOC,
)
@requires(READ)
def create_subscription(request: HttpRequest, payload: SubscriptionIn) -> Status[SubscriptionCreated]:
    sub, secret = services.create_subscription(request_actor(request), services.SubscriptionInput(**payload.dict()))
    return Status(201, SubscriptionCreated(**_out(sub).model_dump(), webhook_secret=secret))


@router.get("/notifications/subscriptions/{subscription_id}", response=SubscriptionOut, summary="One subscription")
@requires(READ)
def get_subscription(request: HttpRequest, subscription_id: int) -> SubscriptionOut:
    return _out(services.get_subscription(request_actor(request), subscription_id))


@router.patch(
    "/notifications/subscriptions/{subscription_id}",
    response=SubscriptionOut,
    summary="Change, pause or resume a subscription",
)
@requires(READ)
def update_subscription(request: HttpRequest, subscription_id: int, payload: SubscriptionPatch) -> SubscriptionOut:
    change = services.SubscriptionChange(**payload.dict())
    return _out(services.update_subscription(request_actor(request), subscription_id, change))


@router.delete("/notifications/subscriptions/{subscription_id}", response={204: None}, summary="Unsubscribe")
@requires(READ)
def delete_subscription(request: HttpRequest, subscription_id: int) -> Status[None]:
    services.delete_subscription(request_actor(request), subscription_id)
    return Status(204, None)


@router.post(
    "/notifications/subscriptions/{subscription_id}/secret",
    response=SecretOut,
    summary="Replace a webhook's HMAC secret (returned once)",
)
@requires(WEBHOOK)
def rotate_secret(request: HttpRequest, subscription_id: int, payload: SecretIn) -> SecretOut:
    sub, secret = services.rotate_secret(request_actor(request), subscription_id, payload.webhook_secret)
    return SecretOut(id=sub.pk, webhook_secret=secret)


@router.get(
    "/notifications/subscriptions/{subscription_id}/deliveries",
    response=list[DeliveryOut],
    summary="Recent deliveries of one of my subscriptions",
)
@requires(READ)
def subscription_deliveries(request: HttpRequest, subscription_id: int, q: Query[Limit]) -> list[DeliveryOut]:
    rows = services.list_deliveries(request_actor(request), subscription_id=subscription_id, limit=q.limit)
    return [_delivery(d) for d in rows]


@router.get(
    "/notifications/deliveries",
    response=list[DeliveryOut],
    summary="My recent deliveries (notifications, digests, reminders)",
)
@requires(READ)
def list_deliveries(request: HttpRequest, q: Query[Limit]) -> list[DeliveryOut]:
    return [_delivery(d) for d in services.list_deliveries(request_actor(request), limit=q.limit)]
