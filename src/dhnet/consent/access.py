"""The right of access, for a person without an account: a one-time code, then their data and access log.

1. :func:`request_code`: the person gives the e-mail address or phone number on record. A 6-digit code is sent to
   it (e-mail through the platform's SMTP settings, phone through :mod:`dhnet.consent.sms`) when it belongs to
   someone; the answer (a ticket for the browser) is the same either way, so the page cannot be used to probe who
   is on record. Throttled per contact and per address (:data:`PER_CONTACT`, :data:`PER_IP` an hour).
2. :func:`verify_code`: the code (hashed at rest with the ticket, expiring after :data:`CODE_TTL`, at most
   :data:`MAX_ATTEMPTS` tries, usable once) opens an access session for the person's pseudonyms.
3. :func:`export`: everything held about them as a FHIR Bundle — their identity from the vault (Patient), their
   cases, their consent decisions and the audit records of who accessed their record (AuditEvent); audited.
   :func:`access_log` lists the same audit records for the page; :func:`dhnet.consent.services.record_own` lets
   them grant or withdraw research and secondary use (dynamic consent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.audit.models import AuditRecord
from dhnet.consent import auditevent, fhirconsent, sms
from dhnet.consent import models as m
from dhnet.consent.models import AccessCode, ConsentDecision
from dhnet.notifications import transports
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid, Throttled

log = logging.getLogger(__name__)

CODE_TTL = dt.timedelta(minutes=10)
SESSION_TTL = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
PER_CONTACT = 3  # codes an hour per contact
PER_IP = 10  # codes an hour per client address
WINDOW = dt.timedelta(hours=1)
STALE = dt.timedelta(days=1)  # codes older than this are deleted (well past expiry and the throttling window)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
PHONE_RE = re.compile(r"^\+?[0-9]{6,15}$")
GENERIC_WRONG = "the code is wrong or no longer valid: check it, or request a new one"
PURPOSE = "right-of-access"


def person_actor(ip: str | None, pseudonyms: list[str] | None = None) -> Actor:
    """The person acting on the right-of-access pages (no account): named in the audit trail as the data subject."""
    name = "data-subject" if not pseudonyms else f"data-subject:{sorted(pseudonyms)[0][:12]}"
    return Actor(user_id=None, username=name, via="anonymous", ip=ip, purpose=PURPOSE)


def normalise_contact(kind: str, value: str) -> str:
    """The canonical form of an e-mail address (trimmed, lower case) or phone number (digits and a leading +)."""
    text = (value or "").strip()
    if kind == m.EMAIL:
        text = text.lower()
        if not EMAIL_RE.match(text):
            raise Invalid("email: not an e-mail address")
        return text
    if kind == m.PHONE:
        text = re.sub(r"[\s\-./()]", "", text)
        if text.startswith("00"):
            text = "+" + text[2:]
        if not PHONE_RE.match(text):
            raise Invalid("phone: not a phone number (digits, optionally with a leading +)")
        return text
    raise Invalid(f"kind: expected email or phone, got {str(kind)[:20]!r}")


def _keyed(*parts: str) -> str:
    key = f"dhnet.consent.access:{settings.SECRET_KEY}".encode()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _pseudonyms_for(kind: str, contact: str) -> list[str]:
    from dhnet.identity import services as identity

    return sorted(set(identity.pseudonyms_for_contact(kind, contact)))


def request_code(kind: str, contact: str, *, ip: str | None) -> str:
    """Send a code to ``contact`` if it is on record; the browser's ticket in every case (or 429 when throttled)."""
    normalised = normalise_contact(kind, contact)
    contact_hash = _keyed(kind, normalised)
    now = timezone.now()
    since = now - WINDOW
    if AccessCode.objects.filter(contact_hash=contact_hash, created_at__gte=since).count() >= PER_CONTACT:
        raise Throttled("too many codes requested for this contact: try again in an hour")
    if ip and AccessCode.objects.filter(ip=ip, created_at__gte=since).count() >= PER_IP:
        raise Throttled("too many codes requested from this address: try again in an hour")
    AccessCode.objects.filter(created_at__lt=now - STALE).delete()  # spent or expired long ago: nothing to keep
    pseudonyms = _pseudonyms_for(kind, normalised)
    code = f"{secrets.randbelow(10**6):06d}"
    ticket = secrets.token_urlsafe(32)
    with transaction.atomic():
        row = AccessCode.objects.create(
            ticket=_ticket_hash(ticket),
            kind=kind,
            contact_hash=contact_hash,
            code_hash=_keyed(ticket, code),
            pseudonyms=pseudonyms,
            ip=(ip or "")[:45],
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        audit.record(
            person_actor(ip),
            "consent.access.request",
            object_type="consent.accesscode",
            object_id=row.pk,
            detail={"kind": kind},
            subjects=pseudonyms,
        )
    if pseudonyms:
        _dispatch(kind, normalised, code, row.pk)
    return ticket


def _dispatch(kind: str, contact: str, code: str, row_id: int) -> None:
    """Send the code without making the answer wait for the mail or SMS server: the request takes as long whether
    or not the contact is on record (no timing probe). The development outbox writes to the database, in this
    request."""
    transport = sms.transport() if kind == m.PHONE else None
    if isinstance(transport, sms.OutboxTransport):
        _send(kind, contact, code, row_id, transport)
        return
    threading.Thread(
        target=_send, args=(kind, contact, code, row_id, transport), name=f"access-code-{row_id}", daemon=True
    ).start()


def _send(kind: str, contact: str, code: str, row_id: int, transport: sms.SmsTransport | None) -> None:
    minutes = int(CODE_TTL.total_seconds() // 60)
    text = (
        f"Your dhnet access code is {code}. It is valid for {minutes} minutes and can be used once. "
        "If you did not ask for it, ignore this message."
    )
    if kind == m.EMAIL:
        outcome = transports.send_email(contact, "Your dhnet access code", text, delivery_id=row_id)
    else:
        outcome = (transport or sms.transport()).send(contact, text)
    if not outcome.ok:
        log.warning("access code %s could not be sent by %s: %s", row_id, kind, outcome.error)


@dataclass(frozen=True)
class AccessGrant:
    """An opened access session: the person's pseudonyms until ``expires_at``."""

    pseudonyms: tuple[str, ...]
    expires_at: dt.datetime

    def as_session(self) -> dict[str, Any]:
        return {"pseudonyms": list(self.pseudonyms), "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_session(cls, data: Any) -> AccessGrant | None:
        """The grant kept in the session, or None when absent, malformed or expired."""
        if not isinstance(data, dict):
            return None
        try:
            expires = dt.datetime.fromisoformat(str(data["expires_at"]))
            pseudonyms = tuple(str(p) for p in data["pseudonyms"])
        except (KeyError, TypeError, ValueError):
            return None
        if expires <= timezone.now() or not pseudonyms:
            return None
        return cls(pseudonyms, expires)


def verify_code(ticket: str, code: str, *, ip: str | None) -> AccessGrant:
    """Check the code of ``ticket``: an access session, or :class:`Invalid`/:class:`Throttled` (attempts count)."""
    code = (code or "").strip().replace(" ", "")
    if not re.fullmatch(r"\d{6}", code):
        raise Invalid("code: enter the 6 digits you received")
    now = timezone.now()
    with transaction.atomic():
        row = AccessCode.objects.select_for_update().filter(ticket=_ticket_hash(ticket or "")).first()
        if row is None:
            raise Invalid(GENERIC_WRONG)
        if row.attempts >= MAX_ATTEMPTS:
            raise Throttled("too many wrong codes: request a new one")
        row.attempts += 1
        row.save(update_fields=["attempts"])
    ok = hmac.compare_digest(row.code_hash, _keyed(ticket, code))
    if not ok or row.used_at is not None or row.expires_at <= now or not row.pseudonyms:
        if row.used_at is not None:
            raise Invalid("code: this code was used already; request a new one")
        if ok and row.expires_at <= now:
            raise Invalid("code: this code has expired; request a new one")
        raise Invalid(GENERIC_WRONG)
    with transaction.atomic():
        used = AccessCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
        if not used:  # a concurrent use won
            raise Invalid("code: this code was used already; request a new one")
        audit.record(
            person_actor(ip, row.pseudonyms),
            "consent.access.verify",
            object_type="consent.accesscode",
            object_id=row.pk,
            subjects=row.pseudonyms,
        )
    return AccessGrant(tuple(row.pseudonyms), now + SESSION_TTL)


def access_log(pseudonyms: tuple[str, ...] | list[str]) -> list[AuditRecord]:
    """The audit records that concern the person (who accessed or changed their record, when, why), newest first."""
    return list(
        AuditRecord.objects.filter(subjects__subject__in=list(pseudonyms))
        .distinct()
        .prefetch_related("subjects")
        .order_by("-seq")[:1000]
    )


def _patient(pseudonyms: tuple[str, ...]) -> dict[str, Any] | None:
    from dhnet.identity import services as identity

    person = identity.identity_for_subject(list(pseudonyms))
    if person is None:
        return None
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pseudonyms[0][:64],
        "identifier": [{"system": fhirconsent.PSEUDONYM_SYSTEM, "value": p} for p in pseudonyms]
        + [{"system": s, "value": v} for s, v in person.identifiers if s and v],
    }
    name: dict[str, Any] = {}
    if person.family:
        name["family"] = person.family
    if person.given:
        name["given"] = person.given.split()
    if name:
        patient["name"] = [name]
    telecom = [{"system": "phone", "value": v} for v in person.phones if v]
    telecom += [{"system": "email", "value": v} for v in person.emails if v]
    if telecom:
        patient["telecom"] = telecom
    if person.sex in ("male", "female", "other", "unknown"):
        patient["gender"] = person.sex
    if person.birth_date:
        patient["birthDate"] = person.birth_date.isoformat()
    address: dict[str, Any] = {}
    if person.address_lines:
        address["line"] = [line for line in person.address_lines if line]
    if person.orgunit_code:
        address["district"] = person.orgunit_code
    if address:
        patient["address"] = [address]
    return patient


def _cases(pseudonyms: tuple[str, ...]) -> list[dict[str, Any]]:
    from dhnet.cases import services as cases

    finder = getattr(cases, "cases_of_subjects", None)
    if finder is None:  # the cases context does not offer its export yet
        return []
    return list(finder(list(pseudonyms)))


def export(grant: AccessGrant, *, ip: str | None, base_url: str) -> dict[str, Any]:
    """Everything held about the person as a FHIR ``collection`` Bundle (audited, with the person as subject)."""
    pseudonyms = grant.pseudonyms
    resources: list[dict[str, Any]] = []
    with transaction.atomic():
        patient = _patient(pseudonyms)
        if patient is not None:
            resources.append(patient)
        resources += _cases(pseudonyms)
        decisions = ConsentDecision.objects.filter(pseudonym__in=list(pseudonyms)).order_by("recorded_at", "id")
        resources += [fhirconsent.as_fhir(row) for row in decisions]
        resources += [auditevent.as_fhir(row, only=pseudonyms) for row in access_log(pseudonyms)]
        audit.record(
            person_actor(ip, list(pseudonyms)),
            "consent.access.download",
            object_type="consent.person",
            detail={"resources": len(resources)},
            subjects=pseudonyms,
        )
    entries = []
    for resource in resources:
        rid = resource.get("id") or str(uuid.uuid4())
        entries.append({"fullUrl": f"{base_url}{resource['resourceType']}/{rid}", "resource": resource})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timezone.now().isoformat(timespec="milliseconds"),
    }
    if entries:
        bundle["entry"] = entries
    return bundle
