# mypy: warn-return-any=False
"""What deliveries say: e-mail subjects and plain-text bodies, and the JSON document posted to webhooks.

Payloads are built once, when the delivery is created, and stored on it: every attempt sends the same content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from dhnet.orgunits.models import OrgUnit
from dhnet.signals.models import Detection, Signal, SignalStatus

#: Version of the webhook document (``"schema"`` field); bumped on incompatible changes.
WEBHOOK_SCHEMA = "dhnet.notification/1"

EVENT_LABELS = {
    "created": "New signal",
    "alarm": "New alarm",
    "status": "Status changed",
    "escalate": "Escalated",
    "risk": "Risk assessed",
    "ihr": "IHR assessment",
}


def site_url() -> str:
    """The public base URL for links in messages (``DHNET_BASE_URL``; see ``dhnet.platform.config``)."""
    return str(settings.DHNET_BASE_URL).rstrip("/")


def signal_url(signal_id: int) -> str:
    """The absolute URL of a signal's page."""
    try:
        path = reverse("signals:detail", args=[signal_id])
    except NoReverseMatch:  # the signal pages are not mounted (yet): their documented address
        path = f"/signals/{signal_id}/"
    return site_url() + path


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def period_label(signal: Signal) -> str:
    first, last = signal.first_period, signal.last_period
    if signal.source == "event":
        return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    if first == last:
        return f"{iso_week(first)} (week of {first.isoformat()})"
    return f"{iso_week(first)} to {iso_week(last)} ({first.isoformat()} to {last.isoformat()})"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


@dataclass(frozen=True)
class SignalFacts:
    """What a message says about a signal, read once."""

    id: int
    title: str
    source: str
    disease_code: str
    disease_name: str
    orgunit_code: str
    orgunit_name: str
    place: str
    period: str
    first_period: str
    last_period: str
    observed: float | None
    expected: float | None
    upperbound: float | None
    status: str
    status_label: str
    risk: str
    url: str

    @property
    def observed_vs_expected(self) -> str:
        if self.observed is None:
            return "n/a"
        text = f"{_number(self.observed)} observed vs {_number(self.expected)} expected"
        if self.upperbound is not None:
            text += f" (threshold {_number(self.upperbound)})"
        return text


def facts(signal: Signal) -> SignalFacts:
    """Read a signal (with its disease and org unit) and the detection of its last period."""
    detection = None
    if signal.disease_id is not None:
        detection = (
            Detection.objects.filter(
                disease_id=signal.disease_id,
                orgunit_id=signal.orgunit_id,
                period_start=signal.last_period,
                alarm=True,
            )
            .order_by("-score", "-id")
            .first()
        )
    observed = detection.observed if detection else signal.max_observed
    unit: OrgUnit = signal.orgunit
    return SignalFacts(
        id=signal.pk,
        title=signal.title,
        source=signal.source,
        disease_code=signal.disease.code if signal.disease else "",
        disease_name=signal.disease.name if signal.disease else (signal.hazard or "unspecified"),
        orgunit_code=unit.code,
        orgunit_name=unit.name,
        place=signal.place,
        period=period_label(signal),
        first_period=signal.first_period.isoformat(),
        last_period=signal.last_period.isoformat(),
        observed=observed,
        expected=detection.expected if detection else None,
        upperbound=detection.upperbound if detection else None,
        status=signal.status,
        status_label=SignalStatus(signal.status).label if signal.status in SignalStatus.values else signal.status,
        risk=signal.risk,
        url=signal_url(signal.pk),
    )


def signal_email(f: SignalFacts, event: str) -> dict[str, str]:
    """Subject and plain-text body of an immediate notification."""
    label = EVENT_LABELS.get(event, event)
    subject = f"[dhnet] {label}: {f.disease_name} in {f.orgunit_name} ({f.period.split(' ')[0]})"
    body = render_to_string("notifications/email/signal.txt", {"f": f, "label": label})
    return {"subject": subject[:250], "body": body}


def signal_document(f: SignalFacts, event: str, subscription_id: int) -> dict[str, Any]:
    """The JSON document posted to a webhook (the delivery id travels in the ``X-Dhnet-Delivery`` header)."""
    return {
        "schema": WEBHOOK_SCHEMA,
        "event": event,
        "subscription": subscription_id,
        "signal": {
            "id": f.id,
            "url": f.url,
            "title": f.title,
            "source": f.source,
            "disease": {"code": f.disease_code, "name": f.disease_name} if f.disease_code else None,
            "orgunit": {"code": f.orgunit_code, "name": f.orgunit_name},
            "place": f.place,
            "first_period": f.first_period,
            "last_period": f.last_period,
            "observed": f.observed,
            "expected": f.expected,
            "upperbound": f.upperbound,
            "status": f.status,
            "risk": f.risk or None,
        },
    }


@dataclass(frozen=True)
class DigestItem:
    facts: SignalFacts
    changes: tuple[str, ...]  # "new signal", "status: new -> verification", ...
    new: bool


def digest_email(username: str, since: dt.datetime, until: dt.datetime, items: Sequence[DigestItem]) -> dict[str, str]:
    new = sum(1 for i in items if i.new)
    subject = f"[dhnet] Daily digest {until.date().isoformat()}: {new} new signal(s), {len(items) - new} updated"
    body = render_to_string(
        "notifications/email/digest.txt",
        {"username": username, "since": since, "until": until, "items": items, "site": site_url()},
    )
    return {"subject": subject, "body": body}


def reminder_email(
    full_name: str, unit: OrgUnit, week_start: dt.date, deadline: dt.datetime | None = None
) -> dict[str, str]:
    week = iso_week(week_start)
    subject = f"[dhnet] Reminder: weekly report of {unit.name} for {week} is missing"
    body = render_to_string(
        "notifications/email/reminder.txt",
        {
            "name": full_name,
            "unit": unit,
            "week": week,
            "week_start": week_start,
            "week_end": week_start + dt.timedelta(days=6),
            "deadline": deadline,
            "site": site_url(),
        },
    )
    return {"subject": subject, "body": body}
