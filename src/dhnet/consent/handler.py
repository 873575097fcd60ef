"""The registry handler of FHIR ``Consent`` (``POST /fhir/Consent`` and Consent entries of transaction Bundles).

:meth:`ConsentHandler.profile_check` parses the Consent (:func:`dhnet.consent.fhirconsent.parse`), resolves its
patient to a pseudonym (the Bundle's Patient through the request context, a stored ``Patient/<id>``, or a pseudonym
identifier) and checks the jurisdiction (``consent:consent:write`` at the person's district); the decisions are
recorded by :meth:`ConsentHandler.after_store`, in the same transaction, only for Consents actually stored — a
retried or duplicated submission stores nothing and so records nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from dhnet.consent import models as m
from dhnet.consent import services
from dhnet.consent.fhirconsent import PATIENT_REF_RE, PSEUDONYM_SYSTEM, ParsedConsent, parse, pseudonymised
from dhnet.fhir.base import Context, Prepared, ResourceHandler, checksum
from dhnet.fhir.outcome import FhirError
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor


def _entry_pseudonym(entry: Any) -> tuple[str | None, OrgUnit | None]:
    """The pseudonym (and district) of what the Bundle's Patient handler put in the context."""
    if isinstance(entry, str) and services.PSEUDONYM_RE.match(entry):
        return entry, None
    subject = getattr(entry, "subject", None) or getattr(entry, "pseudonym", None)
    orgunit = getattr(entry, "orgunit", None)
    if isinstance(subject, str) and services.PSEUDONYM_RE.match(subject):
        return subject, orgunit if isinstance(orgunit, OrgUnit) else None
    return None, None


def _stored_patient(logical_id: str) -> tuple[str | None, OrgUnit | None]:
    from dhnet.fhir.models import StoredResource

    row = (
        StoredResource.objects.filter(resource_type="Patient", logical_id=logical_id).select_related("orgunit").first()
    )
    if row is None:
        return None, None
    subject = getattr(row, "subject", "")
    return (subject or None), row.orgunit


def resolve_patient(parsed: ParsedConsent, context: Context, root: str) -> tuple[str, OrgUnit | None]:
    """The person's pseudonym and district, or :class:`FhirError` naming ``patient``."""
    where = f"{root}.patient.reference"
    if parsed.patient_pseudonym:
        return parsed.patient_pseudonym, None
    reference = parsed.patient_reference or ""
    if reference in context.entries:
        pseudonym, unit = _entry_pseudonym(context.entries[reference])
        if pseudonym:
            return pseudonym, unit
    if reference.startswith("urn:uuid:"):
        raise FhirError.one(422, "not-found", f"{reference} is not the fullUrl of a Patient in this Bundle", where)
    match = PATIENT_REF_RE.match(reference)
    pseudonym, unit = _stored_patient(match.group(1)) if match else (None, None)
    if not pseudonym:
        raise FhirError.one(422, "not-found", f"{reference} is not a known Patient", where)
    return pseudonym, unit


class ConsentHandler(ResourceHandler):
    resource_type = "Consent"
    write_permission = services.WRITE
    read_permission = services.READ
    interactions = ("create", "read", "vread", "search-type")
    rank = 90  # after the Patient it references
    documentation = (
        "A person's consent per purpose (provision.purpose, v3-ActReason): care (TREAT...), research (HRESCH...), "
        "other secondary use (HOPERAT...) — dynamic: a later Consent (active deny, inactive, rejected) withdraws it "
        "for every later release. Public-health surveillance (PUBHLTH) rests on a legal basis, not consent: recorded "
        "as such, never withdrawn. patient: the Bundle's Patient (urn:uuid), Patient/<id>, or the pseudonym "
        f"identifier ({PSEUDONYM_SYSTEM}). Stored pseudonymised."
    )

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        parsed, issues = parse(data, root)
        if parsed is None:
            raise FhirError(422, issues)
        pseudonym, unit = resolve_patient(parsed, context, root)
        unit = unit or services.person_orgunit(pseudonym) or services.home_orgunit(actor, services.WRITE)
        if unit is None:
            raise FhirError.one(
                422,
                "business-rule",
                "the person's district is unknown: send the Patient in the Bundle",
                f"{root}.patient",
            )
        if not any(unit.is_within(path) for path in actor.paths_for(services.WRITE)):
            raise FhirError.one(
                403,
                "forbidden",
                f"the person's district {unit.code} is outside your jurisdiction for {services.WRITE}",
                f"{root}.patient",
            )
        source = checksum(data)
        decisions = [
            services.NewDecision(
                pseudonym=pseudonym,
                purpose=purpose,
                decision=parsed.decision_for(purpose),
                decided_at=parsed.decided_at,
                valid_until=parsed.period_end,
                fhir_status=parsed.status,
                source_key=hashlib.sha256(f"fhir:{source}:{purpose}".encode()).hexdigest(),
                note=f"FHIR Consent, scope {parsed.scope}",
            )
            for purpose, _ in parsed.purposes
        ]
        return Prepared(
            resource_type=self.resource_type,
            data=pseudonymised(data, pseudonym),
            root=root,
            checksum=source,
            orgunit=unit,
            identifiers=parsed.identifiers,
            summary={
                "orgunit": unit.code,
                "status": parsed.status,
                "purposes": [q for q, _ in parsed.purposes],
                "provision": parsed.provision_type,
            },
            subject=pseudonym,
            extra=decisions,
        )

    def after_store(self, actor: Actor, stored: list[tuple[Prepared, Any]], context: Context) -> None:
        """Record the decisions of the Consents stored (a repeat stores nothing, so records nothing), all at once."""
        groups = [
            (
                [services.NewDecision(**{**item.__dict__, "fhir_id": resource.logical_id}) for item in prepared.extra],
                prepared.orgunit,
            )
            for prepared, resource in stored
        ]
        services.store_all(actor, groups, channel=m.FHIR, permission=services.WRITE)
