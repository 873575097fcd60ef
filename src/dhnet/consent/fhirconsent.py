"""FHIR R4 ``Consent``: the parser (pure, property-tested) and rendering decisions as Consent (the intake handler,
:class:`dhnet.consent.handler.ConsentHandler`, uses the parser).

What we accept beyond the generic R4 validation of :mod:`dhnet.fhir.validation` (every issue names its element):

- ``status`` ``active`` (in force), ``inactive`` (no longer in force: a withdrawal) or ``rejected`` (refused: a
  withdrawal); ``draft``/``proposed`` are not decisions and ``entered-in-error`` is not supported (422);
- ``scope`` coded in ``http://terminology.hl7.org/CodeSystem/consentscope``; ``category`` (1..*) coded in LOINC,
  consentcategorycodes or v3-ActCode;
- ``patient``: the ``fullUrl`` of the Bundle's Patient (``urn:uuid:...``), a stored ``Patient/<id>``, or an
  identifier in :data:`PSEUDONYM_SYSTEM` (a pseudonym);
- ``provision.type`` ``permit`` or ``deny`` and at least one ``provision.purpose`` from v3-ActReason mapped to a
  purpose (:data:`dhnet.consent.purposes.ACT_REASON`);
- plausible dates: ``dateTime`` not in the future, ``provision.period`` not ending before it starts.

A grant is an active ``permit``; an active ``deny``, an ``inactive`` or a ``rejected`` Consent is a withdrawal.
For ``surveillance`` (PUBHLTH...) the Consent is recorded as the legal basis it rests on, and a withdrawal of it is
refused (it is not consent). The stored Consent is a pseudonymised copy: ``patient`` becomes the pseudonym
identifier; the narrative and source attachment (which may carry names) are dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from dhnet.consent import models as m
from dhnet.consent import purposes as p
from dhnet.consent import services
from dhnet.fhir.measurereport import CANONICAL_BASE
from dhnet.fhir.outcome import Issue

PSEUDONYM_SYSTEM = f"{CANONICAL_BASE}/sid/pseudonym"
DECISION_STATUSES = ("active", "inactive", "rejected")
NOT_DECISIONS = ("draft", "proposed", "entered-in-error")
PATIENT_REF_RE = re.compile(r"^Patient/([A-Za-z0-9\-.]{1,64})$")
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
DROPPED = ("text", "sourceAttachment", "contained")


@dataclass
class ParsedConsent:
    """What a valid Consent says."""

    status: str
    scope: str
    patient_reference: str | None
    patient_pseudonym: str | None
    provision_type: str
    purposes: list[tuple[str, str]]  # (purpose, element path)
    decided_at: dt.datetime | None = None
    period_end: dt.datetime | None = None
    identifiers: list[tuple[str, str]] = field(default_factory=list)

    def decision_for(self, purpose: str) -> str:
        if self.status == "active" and self.provision_type == "permit":
            return m.LEGAL_BASIS if purpose in p.LEGAL_BASIS else m.GRANT
        return m.WITHDRAW


def _codings(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, dict):
        return []
    codings = value.get("coding")
    if not isinstance(codings, list):
        return []
    return [(i, c) for i, c in enumerate(codings) if isinstance(c, dict)]


def _datetime(raw: Any) -> dt.datetime | None:
    """An R4 date or dateTime as an aware datetime (a date or partial date: its first moment, UTC)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return dt.datetime(int(text), 1, 1, tzinfo=dt.UTC)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return dt.datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=dt.UTC)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time.min, tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def parse(
    data: Any, root: str = "Consent", *, now: dt.datetime | None = None
) -> tuple[ParsedConsent | None, list[Issue]]:
    """Check a Consent (already valid R4 JSON, or anything: never raises) against our profile."""
    if not isinstance(data, dict):
        return None, [Issue("structure", "a Consent is a JSON object", root)]
    issues: list[Issue] = []
    moment = now or timezone.now()

    status = data.get("status")
    if status in NOT_DECISIONS:
        issues.append(
            Issue(
                "not-supported",
                f"status {status!r} is not a decision: send active (in force), inactive (withdrawn) or rejected",
                f"{root}.status",
            )
        )
    elif status not in DECISION_STATUSES:
        issues.append(Issue("required", "status is required: active, inactive or rejected", f"{root}.status"))

    scope = ""
    scope_codings = _codings(data.get("scope"))
    known = [(i, c) for i, c in scope_codings if c.get("system") == p.SCOPE_SYSTEM]
    if not known:
        issues.append(Issue("required", f"scope needs a coding in {p.SCOPE_SYSTEM}", f"{root}.scope"))
    else:
        i, coding = known[0]
        if coding.get("code") not in p.SCOPES:
            issues.append(
                Issue(
                    "code-invalid",
                    f"unknown scope code {str(coding.get('code'))[:40]!r} (expected {', '.join(sorted(p.SCOPES))})",
                    f"{root}.scope.coding[{i}].code",
                )
            )
        else:
            scope = str(coding["code"])

    categories = data.get("category")
    if not isinstance(categories, list) or not categories:
        issues.append(Issue("required", "category is required (e.g. LOINC 59284-0)", f"{root}.category"))
    else:
        for ci, category in enumerate(categories):
            codings = _codings(category)
            if not any(c.get("system") in p.CATEGORY_SYSTEMS for _, c in codings):
                issues.append(
                    Issue(
                        "code-invalid",
                        "category needs a coding in a known system: " + ", ".join(sorted(p.CATEGORY_SYSTEMS)),
                        f"{root}.category[{ci}]",
                    )
                )

    patient_reference, patient_pseudonym = None, None
    patient = data.get("patient")
    if not isinstance(patient, dict):
        issues.append(Issue("required", "patient is required (a reference to the Patient)", f"{root}.patient"))
    else:
        reference = patient.get("reference")
        identifier = patient.get("identifier")
        if isinstance(reference, str):
            if reference.startswith("urn:uuid:") or PATIENT_REF_RE.match(reference):
                patient_reference = reference
            else:
                issues.append(
                    Issue(
                        "invalid",
                        f"patient.reference {reference[:80]!r}: expected urn:uuid:... (the Bundle's Patient) or "
                        "Patient/<id>",
                        f"{root}.patient.reference",
                    )
                )
        elif isinstance(identifier, dict):
            value = identifier.get("value")
            if identifier.get("system") != PSEUDONYM_SYSTEM:
                issues.append(
                    Issue(
                        "code-invalid",
                        f"patient.identifier: only pseudonyms ({PSEUDONYM_SYSTEM}) identify a person here",
                        f"{root}.patient.identifier.system",
                    )
                )
            elif not isinstance(value, str) or not services.PSEUDONYM_RE.match(value):
                issues.append(
                    Issue("invalid", "a pseudonym is 64 lower-case hex characters", f"{root}.patient.identifier.value")
                )
            else:
                patient_pseudonym = value
        else:
            issues.append(Issue("required", "patient needs a reference or a pseudonym identifier", f"{root}.patient"))

    decided_at = None
    if "dateTime" in data:
        decided_at = _datetime(data.get("dateTime"))
        if decided_at is None:
            issues.append(Issue("value", "dateTime is not a valid FHIR dateTime", f"{root}.dateTime"))
        elif decided_at > moment + FUTURE_TOLERANCE:
            issues.append(Issue("business-rule", "dateTime lies in the future", f"{root}.dateTime"))

    provision_type: str = ""
    purposes: list[tuple[str, str]] = []
    period_end: dt.datetime | None = None
    provision = data.get("provision")
    if not isinstance(provision, dict):
        issues.append(Issue("required", "provision (type and purpose) is required", f"{root}.provision"))
    else:
        raw_type = provision.get("type")
        provision_type = raw_type if isinstance(raw_type, str) else ""
        if provision_type not in ("permit", "deny"):
            issues.append(Issue("required", "provision.type is required: permit or deny", f"{root}.provision.type"))
        raw_purposes = provision.get("purpose")
        if not isinstance(raw_purposes, list) or not raw_purposes:
            issues.append(
                Issue(
                    "required",
                    f"provision.purpose is required: at least one code of {p.ACT_REASON_SYSTEM}",
                    f"{root}.provision.purpose",
                )
            )
        else:
            for pi, coding in enumerate(raw_purposes):
                where = f"{root}.provision.purpose[{pi}]"
                if not isinstance(coding, dict) or coding.get("system") != p.ACT_REASON_SYSTEM:
                    issues.append(Issue("code-invalid", f"purpose codes come from {p.ACT_REASON_SYSTEM}", where))
                    continue
                code = coding.get("code")
                if code not in p.ACT_REASON:
                    issues.append(
                        Issue(
                            "code-invalid",
                            f"purpose code {str(code)[:40]!r} is not one we map "
                            f"(known: {', '.join(sorted(p.ACT_REASON))})",
                            f"{where}.code",
                        )
                    )
                    continue
                purpose = p.ACT_REASON[code]
                if purpose not in [q for q, _ in purposes]:
                    purposes.append((purpose, where))
        period = provision.get("period")
        if isinstance(period, dict):
            start, end = _datetime(period.get("start")), _datetime(period.get("end"))
            if "start" in period and start is None:
                issues.append(Issue("value", "not a valid dateTime", f"{root}.provision.period.start"))
            if "end" in period and end is None:
                issues.append(Issue("value", "not a valid dateTime", f"{root}.provision.period.end"))
            if start is not None and end is not None and end < start:
                issues.append(Issue("business-rule", "the period ends before it starts", f"{root}.provision.period"))
            period_end = end

    identifiers = []
    raw_identifiers = data.get("identifier")
    for ident in raw_identifiers if isinstance(raw_identifiers, list) else []:
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            identifiers.append((str(ident.get("system") or ""), ident["value"]))

    parsed = ParsedConsent(
        status=str(status),
        scope=scope,
        patient_reference=patient_reference,
        patient_pseudonym=patient_pseudonym,
        provision_type=provision_type,
        purposes=purposes,
        decided_at=decided_at,
        period_end=period_end,
        identifiers=identifiers,
    )
    if not issues:
        for purpose, where in purposes:
            if purpose in p.LEGAL_BASIS and parsed.decision_for(purpose) == m.WITHDRAW:
                issues.append(
                    Issue(
                        "business-rule",
                        "public-health surveillance rests on a legal basis, not on consent, and cannot be withdrawn or "
                        "refused",
                        where,
                    )
                )
    return (None if issues else parsed), issues


def pseudonymised(data: dict[str, Any], pseudonym: str) -> dict[str, Any]:
    """The copy we store: the person named by their pseudonym only."""
    copy = {k: v for k, v in data.items() if k not in DROPPED}
    copy["patient"] = {"identifier": {"system": PSEUDONYM_SYSTEM, "value": pseudonym}}
    return copy


# --- rendering ------------------------------------------------------------------------------------------------------


def as_fhir(row: m.ConsentDecision) -> dict[str, Any]:
    """A decision as an R4 Consent (what search and the person's export answer)."""
    status = "active" if row.decision in (m.GRANT, m.LEGAL_BASIS) else "inactive"
    provision: dict[str, Any] = {
        "type": "permit" if status == "active" else "deny",
        "purpose": [{"system": p.ACT_REASON_SYSTEM, "code": p.PURPOSE_CODE[row.purpose]}],
    }
    if row.valid_until:
        provision["period"] = {"end": row.valid_until.isoformat()}
    scope = {"research": "research", "care": "treatment"}.get(row.purpose, "patient-privacy")
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": row.fhir_id or f"decision-{row.pk}",
        "status": status,
        "scope": {"coding": [{"system": p.SCOPE_SYSTEM, "code": scope}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": row.pseudonym}},
        "dateTime": (row.decided_at or row.recorded_at).isoformat(),
        "provision": provision,
    }
    if row.decision == m.LEGAL_BASIS:
        resource["policyRule"] = {"text": row.legal_basis}
    else:
        resource["policyRule"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "OPTIN" if row.decision == m.GRANT else "OPTOUT",
                }
            ]
        }
    if row.note:
        resource["extension"] = [{"url": f"{CANONICAL_BASE}/StructureDefinition/consent-note", "valueString": row.note}]
    return resource
