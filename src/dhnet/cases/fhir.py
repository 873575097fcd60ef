"""FHIR handlers of case-based reports: ``Patient``, ``Encounter``, ``Condition`` and lab ``Observation``.

Registered in :data:`dhnet.fhir.registry.HANDLERS`; :mod:`dhnet.fhir.services` calls them for single creates and
for every entry of a Bundle, Patients first (see :attr:`~dhnet.fhir.base.ResourceHandler.rank`), so that a
reference to an earlier-prepared entry (``urn:uuid:`` fullUrl) resolves to what its handler found.

Pseudonymisation at the door: the ``Patient`` handler hands the direct identifiers (names, identifiers, telecom,
address lines, exact birth date) to :func:`dhnet.identity.services.register_person` and stores only a
pseudonymised Patient: the pseudonym under :data:`PSEUDONYM_SYSTEM`, gender, birth year and district. Every stored
resource is stripped of its narrative and of reference ``display`` texts (which carry names), and names its person
by the pseudonym (``subject.identifier``) beside the literal reference rewritten to ``Patient/<id>``.

Checks beyond the generic R4 validation, each an ``OperationOutcome`` issue naming the element: required value
sets (Condition clinical and verification status; gender, Encounter and Observation status are generic), known code
systems (ICD-11 MMS, ICD-10, LOINC, SNOMED CT, the platform's disease codes), a Condition code of the disease
catalogue, references that resolve (an entry of the Bundle or a stored resource), plausible dates (not after
today, not before 1900, not before the birth date) and jurisdiction (403: the reporter must hold
``surveillance:report:write`` at the case's district).

Conditional create: a Condition identifier seen before answers that case (200, nothing stored), as does
``ifNoneExist``; a Patient whose person (by the vault's matching) is stored already answers the stored Patient.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dhnet.cases import services as case_services
from dhnet.cases.models import Case, Classification, LabResult, PatientSubmission, age_band
from dhnet.fhir.base import Context, Prepared, ResourceHandler, checksum
from dhnet.fhir.measurereport import CANONICAL_BASE, DISEASE_SYSTEM, ICD10, ICD11, ORGUNIT_CODE_SYSTEM
from dhnet.fhir.models import ResourceIdentifier, StoredResource
from dhnet.fhir.outcome import FhirError, Issue
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.reporting import services as reporting

PSEUDONYM_SYSTEM = f"{CANONICAL_BASE}/sid/pseudonym"
WRITE = "surveillance:report:write"
READ = "surveillance:report:read"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
HL7_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
CLINICAL_SYSTEM = f"{HL7_TERMINOLOGY}condition-clinical"
VERIFICATION_SYSTEM = f"{HL7_TERMINOLOGY}condition-ver-status"
OBSERVATION_CATEGORY = f"{HL7_TERMINOLOGY}observation-category"
DISCHARGE_SYSTEM = f"{HL7_TERMINOLOGY}discharge-disposition"
CLINICAL_CODES = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
VERIFICATION_CODES = ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error")
#: Condition.verificationStatus -> case classification (refuted and entered-in-error are no case)
CLASSIFICATION_OF = {
    "confirmed": Classification.CONFIRMED,
    "provisional": Classification.PROBABLE,
    "differential": Classification.PROBABLE,
    "unconfirmed": Classification.SUSPECTED,
}
DISEASE_SYSTEMS = {ICD11: "icd11", ICD10: "icd10", DISEASE_SYSTEM: "code"}
CONDITION_CODE_SYSTEMS = (*DISEASE_SYSTEMS, SNOMED)
LAB_CODE_SYSTEMS = (LOINC, SNOMED)
INPATIENT_CLASSES = ("IMP", "ACUTE", "NONAC")
EARLIEST = dt.date(1900, 1, 1)
MAX_KEY = 255
DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


# --- what entries resolve to -----------------------------------------------------------------------------------------


@dataclass
class PatientRef:
    """A Patient as other resources see it (the exact birth date only in memory, for ages and plausibility)."""

    logical_id: str
    pseudonym: str
    orgunit: OrgUnit | None
    sex: str
    birth_date: dt.date | None
    birth_year: int | None
    deceased: bool
    district_path: str


@dataclass
class EncounterRef:
    logical_id: str
    patient: PatientRef | None
    orgunit: OrgUnit | None
    orgunit_path: str
    hospitalised: bool
    died: bool


@dataclass
class ConditionRef:
    logical_id: str
    key: tuple[str, str]
    patient: PatientRef
    encounter: EncounterRef | None
    evidence: list[str] = field(default_factory=list)  # references of Observations named as evidence
    case_id: int | None = None  # known for a stored Condition (a new one's case is found by its key)


@dataclass
class CaseFacts:
    """What a new Condition makes of its Case (created after the Condition is stored)."""

    values: dict[str, Any]


@dataclass
class LabFacts:
    case_key: tuple[str, str] | None
    case_id: int | None
    values: dict[str, Any]


# --- helpers -------------------------------------------------------------------------------------------------------


#: (monotonic deadline, date) of the last :func:`today`: every date of every entry is compared with today, and the
#: time-zone lookup behind :func:`django.utils.timezone.localdate` was a few per cent of a Bundle's intake.
_today: tuple[float, dt.date] = (0.0, dt.date.min)


def today() -> dt.date:
    """Today's date in the platform's time zone (the platform activates no other), re-read at most once a second."""
    global _today
    deadline, day = _today
    if time.monotonic() < deadline:
        return day
    day = timezone.localdate()
    _today = (time.monotonic() + 1.0, day)
    return day


def parse_date(value: Any) -> tuple[dt.date | None, int | None]:
    """(the date or the first day of a partial date, the year) of a FHIR date/dateTime string; (None, None) when
    unparsable (the generic validation reports those)."""
    if not isinstance(value, str):
        return None, None
    m = DATE_RE.match(value)
    if m is None:
        return None, None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return dt.date(year, month, day), year
    except ValueError:
        return None, year


def age_at(patient: PatientRef, when: dt.date) -> int | None:
    """Age in whole years at ``when``: exact with a birth date, else the difference of years."""
    if patient.birth_date is not None and len(str(patient.birth_date)) == 10:
        b = patient.birth_date
        return when.year - b.year - ((when.month, when.day) < (b.month, b.day))
    if patient.birth_year is not None:
        return when.year - patient.birth_year
    return None


def _codings(concept: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [(i, c) for i, c in enumerate(concept["coding"]) if isinstance(c, dict)]


def _clean(value: Any) -> Any:
    """A copy without narrative (``text`` of a resource) and without ``display`` of references (names).

    (Scalars are taken as they are without a call of their own: most values of a resource are scalars.)
    """
    if isinstance(value, dict):
        is_reference = "reference" in value or ("identifier" in value and "display" in value)
        return {
            k: _clean(v) if isinstance(v, dict | list) else v
            for k, v in value.items()
            if not (is_reference and k == "display") and k != "authorString"
        }
    if isinstance(value, list):
        return [_clean(v) if isinstance(v, dict | list) else v for v in value]
    return value


def _strip(data: dict[str, Any]) -> dict[str, Any]:
    content = {k: v for k, v in data.items() if k not in ("id", "meta", "text")}
    return dict(_clean(content))


#: Resource types that identify people: not accepted as contained resources (they would bypass the vault).
PERSON_TYPES = frozenset({"Patient", "Person", "RelatedPerson", "Practitioner"})


def _contained_people(data: dict[str, Any], root: str, issues: list[Issue]) -> None:
    contained = data.get("contained")
    for i, resource in enumerate(contained if isinstance(contained, list) else []):
        if isinstance(resource, dict) and resource.get("resourceType") in PERSON_TYPES:
            issues.append(
                Issue(
                    "not-supported",
                    f"a contained {resource['resourceType']} is not accepted: send the person as an entry of the "
                    "Bundle (their identifiers go to the identity vault)",
                    f"{root}.contained[{i}]",
                )
            )


def _identifier_keys(data: dict[str, Any], root: str, issues: list[Issue]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for i, ident in enumerate(data.get("identifier") or []):
        if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
            continue
        system = str(ident["system"]) if isinstance(ident.get("system"), str) else ""
        if len(ident["value"]) > MAX_KEY or len(system) > MAX_KEY:
            issues.append(
                Issue(
                    "too-long",
                    f"identifier system and value: at most {MAX_KEY} characters",
                    f"{root}.identifier[{i}].value",
                )
            )
            continue
        keys.append((system, str(ident["value"])))
    return keys


def _require_jurisdiction(actor: Actor, unit: OrgUnit, path: str) -> None:
    if not any(unit.is_within(p) for p in actor.paths_for(WRITE)):
        raise FhirError.one(403, "forbidden", f"org unit {unit.code!r} is outside your jurisdiction for {WRITE}", path)


def _unit_by_code(context: Context, code: str) -> OrgUnit | None:
    cache: dict[str, OrgUnit | None] = context.state.setdefault("cases.units", {})
    if code not in cache:
        unit = OrgUnit.objects.filter(code=code).first()
        if unit is None:
            named = list(OrgUnit.objects.filter(name__iexact=code)[:2])
            unit = named[0] if len(named) == 1 else None
        cache[code] = unit
    return cache[code]


def _unit_of_identifier(context: Context, ref: Any, path: str, issues: list[Issue]) -> OrgUnit | None:
    """The org unit a Reference names by identifier (:data:`ORGUNIT_CODE_SYSTEM`), else None (issue if unknown)."""
    ident = ref.get("identifier") if isinstance(ref, dict) else None
    if not isinstance(ident, dict) or ident.get("system") != ORGUNIT_CODE_SYSTEM:
        return None
    value = ident.get("value")
    unit = _unit_by_code(context, value) if isinstance(value, str) else None
    if unit is None:
        issues.append(Issue("not-found", f"no org unit with code {value!r}", f"{path}.identifier.value"))
    return unit


def _reporting_unit(context: Context, unit: OrgUnit) -> bool:
    """Whether ``unit`` reports counts (the reporting level, or by default a unit without children), as
    :func:`dhnet.reporting.services.ingest` requires of the case counts."""
    cache: dict[int, bool] = context.state.setdefault("cases.reporting_units", {})
    if unit.pk not in cache:
        level = context.state.get("cases.reporting_level", "?")
        if level == "?":
            level = context.state["cases.reporting_level"] = reporting.reporting_settings().reporting_level
        cache[unit.pk] = unit.level == level if level is not None else not unit.children.exists()
    return cache[unit.pk]


def _assigned_id(context: Context) -> str:
    ids: dict[str, str] = context.state.setdefault("fhir.assigned", {})
    if context.full_url and context.full_url in ids:
        return ids[context.full_url]
    return str(uuid.uuid4())


def _remember(context: Context, value: Any, resource_type: str, logical_id: str) -> None:
    """Make this entry resolvable by its fullUrl (and ``Type/id`` of a RESTful fullUrl)."""
    if context.full_url:
        context.entries[context.full_url] = value
        parts = context.full_url.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == resource_type and context.full_url.startswith(("http://", "https://")):
            context.entries[f"{resource_type}/{parts[-1]}"] = value


def _if_none_exist_match(context: Context, resource_type: str, root: str) -> str | None:
    """The logical id that ``ifNoneExist`` (``identifier=[system|]value``) of this request matches, if any."""
    query = context.state.get("fhir.if_none_exist")
    if not query:
        return None
    from dhnet.fhir.services import identifier_query

    where = None if root == resource_type else root.rsplit(".resource", 1)[0] + ".request.ifNoneExist"
    system, value = identifier_query(query, where)
    index: dict[tuple[str, str], list[tuple[str, str]]] | None = context.state.get("fhir.if_none_exist_index")
    if index is not None:  # a Bundle's conditions, looked up at once
        ids = sorted({lid for s, lid in index.get((resource_type, value), []) if system is None or s == system})[:2]
    else:
        qs = ResourceIdentifier.objects.filter(resource__resource_type=resource_type, value=value)
        if system is not None:
            qs = qs.filter(system=system)
        ids = sorted(set(qs.values_list("resource__logical_id", flat=True)[:2]))
    if len(ids) > 1:
        raise FhirError.one(412, "multiple-matches", f"ifNoneExist {query!r} matches several resources", where)
    return ids[0] if ids else None


def _resolve(
    context: Context, ref: Any, path: str, expected: str, issues: list[Issue], *, required: bool = False
) -> Any:
    """What a Reference (at ``path``) resolves to: an entry of this request (its handler's ``*Ref``) or a stored
    resource of type ``expected``; None with an issue when it resolves to nothing."""
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        if required:
            issues.append(Issue("required", f"a reference to a {expected} is required", path))
        return None
    target = ref["reference"].strip()
    where = f"{path}.reference"
    if target in context.entries:
        found = context.entries[target]
        kind = {PatientRef: "Patient", EncounterRef: "Encounter", ConditionRef: "Condition"}.get(type(found))
        if kind != expected:
            issues.append(
                Issue("invalid", f"reference {target!r} names a {kind or 'resource'}, not a {expected}", where)
            )
            return None
        return found
    if target.startswith(("urn:uuid:", "urn:oid:")):
        issues.append(Issue("not-found", f"reference {target!r} resolves to no entry of this Bundle", where))
        return None
    m = re.match(r"^(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$", target)
    if m is None or m.group(1) != expected:
        issues.append(Issue("invalid", f"reference {target!r}: expected {expected}/<id> or an entry's fullUrl", where))
        return None
    stored = (
        StoredResource.objects.select_related("orgunit").filter(resource_type=expected, logical_id=m.group(2)).first()
    )
    if stored is None:
        issues.append(Issue("not-found", f"reference {target!r}: no such {expected} is stored here", where))
        return None
    return _from_stored(context, stored, issues, where)


def _from_stored(context: Context, stored: StoredResource, issues: list[Issue], where: str) -> Any:
    content = stored.content
    if stored.resource_type == "Patient":
        _, year = parse_date(content.get("birthDate"))
        return PatientRef(
            stored.logical_id,
            stored.subject,
            stored.orgunit,
            content.get("gender", "unknown"),
            None,
            year,
            bool(content.get("deceasedBoolean")),
            where,
        )
    if stored.resource_type == "Encounter":
        return EncounterRef(stored.logical_id, None, stored.orgunit, where, _inpatient(content), _expired(content))
    case = Case.objects.filter(fhir_id=stored.logical_id).first()
    if case is None:
        issues.append(Issue("not-found", f"Condition/{stored.logical_id} is not a case report", where))
        return None
    patient = PatientRef("", case.pseudonym, case.orgunit, case.sex, None, None, False, where)
    return ConditionRef(stored.logical_id, (case.source_system, case.source_value), patient, None, case_id=case.pk)


def _inpatient(content: dict[str, Any]) -> bool:
    cls = content.get("class")
    return isinstance(cls, dict) and cls.get("code") in INPATIENT_CLASSES


def _expired(content: dict[str, Any]) -> bool:
    hosp = content.get("hospitalization")
    disposition = hosp.get("dischargeDisposition") if isinstance(hosp, dict) else None
    return any(c.get("code") == "exp" for _, c in _codings(disposition))


def _subject_reference(patient: PatientRef) -> dict[str, Any]:
    ref: dict[str, Any] = {"identifier": {"system": PSEUDONYM_SYSTEM, "value": patient.pseudonym}}
    if patient.logical_id:
        ref = {"reference": f"Patient/{patient.logical_id}", **ref}
    return ref


def _check_date(
    value: Any, path: str, issues: list[Issue], *, birth: PatientRef | None = None, what: str = "date"
) -> dt.date | None:
    day, year = parse_date(value)
    if day is None:
        return None
    if day > today():
        issues.append(Issue("business-rule", f"{what} {value!r} is in the future", path))
    elif day < EARLIEST:
        issues.append(Issue("business-rule", f"{what} {value!r} is before {EARLIEST.year}", path))
    elif birth is not None and birth.birth_date is not None and day < birth.birth_date:
        issues.append(Issue("business-rule", f"{what} {value!r} is before the person's birth date", path))
    elif birth is not None and birth.birth_date is None and birth.birth_year and year and year < birth.birth_year:
        issues.append(Issue("business-rule", f"{what} {value!r} is before the person's birth year", path))
    return day


def _existing_by_checksum(resource_type: str, digest: str) -> str | None:
    found = StoredResource.objects.filter(resource_type=resource_type, checksum=digest).values_list(
        "logical_id", flat=True
    )
    return next(iter(found), None)


def _fresh(context: Context) -> set[str]:
    """The logical ids this request assigned to new resources (uuid4s: nothing stored names them yet)."""
    fresh: set[str] = context.state.setdefault("cases.fresh", set())
    return fresh


def _new_subject(context: Context, patient: PatientRef | None) -> bool:
    """Whether the Patient is new in this request: content referencing it cannot have been stored before, so
    there is no stored copy to look for by content."""
    return patient is not None and bool(patient.logical_id) and patient.logical_id in _fresh(context)


def _prepared(
    resource_type: str,
    content: dict[str, Any],
    root: str,
    context: Context,
    *,
    orgunit: OrgUnit | None,
    identifiers: list[tuple[str, str]],
    subject: str,
    existing_id: str | None,
    extra: Any = None,
    summary: dict[str, Any] | None = None,
    by_content: bool = True,
) -> Prepared:
    """``by_content``: look for a stored resource with the same content when no ``existing_id`` is known (not
    needed where identity decides: a Patient by its person, a Condition by its identifier)."""
    digest = checksum(content)
    if existing_id is None and by_content:
        existing_id = _existing_by_checksum(resource_type, digest)
    logical_id = None if existing_id else _assigned_id(context)
    if logical_id is not None:
        _fresh(context).add(logical_id)
    return Prepared(
        resource_type=resource_type,
        data=content,
        root=root,
        checksum=digest,
        orgunit=orgunit,
        identifiers=identifiers,
        summary=summary or {},
        logical_id=logical_id,
        existing_id=existing_id,
        subject=subject,
        extra=extra,
    )


@dataclass
class _PatientFacts:
    unit: OrgUnit
    district_path: str
    birth: dt.date | None
    birth_year: int | None
    identity: Any  # dhnet.identity.services.PersonIdentity
    digest: str


# --- Patient ---------------------------------------------------------------------------------------------------------


class PatientHandler(ResourceHandler):
    resource_type = "Patient"
    write_permission = WRITE
    read_permission = READ
    rank = 10
    documentation = (
        "The person of a case report. Direct identifiers (names, identifiers, telecom, address lines, exact birth "
        "date) go to the identity vault and are not stored here: the stored Patient is pseudonymised (identifier "
        f"{PSEUDONYM_SYSTEM}, gender, birth year, district). The district is address.district (an org-unit code or "
        f"name) or managingOrganization.identifier ({ORGUNIT_CODE_SYSTEM})."
    )

    def _identity(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> _PatientFacts:
        """The checks of a Patient and the identity it hands to the vault, or :class:`FhirError`."""
        from dhnet.identity.services import PersonIdentity

        issues: list[Issue] = []
        birth, birth_year = None, None
        if "birthDate" in data:
            birth = _check_date(data.get("birthDate"), f"{root}.birthDate", issues, what="birth date")
            _, birth_year = parse_date(data.get("birthDate"))
        unit, district_path = self._district(data, root, context, issues)
        if data.get("contained"):
            issues.append(
                Issue("not-supported", "contained resources are not accepted on a Patient", f"{root}.contained")
            )
        if issues:
            raise FhirError(422, issues)
        if unit is None:
            raise FhirError.one(
                422,
                "required",
                "the district is required: address.district (an org-unit code or name) or managingOrganization "
                f"with an identifier in {ORGUNIT_CODE_SYSTEM}",
                f"{root}.address",
            )
        _require_jurisdiction(actor, unit, district_path)
        family, given = _name(data)
        identity = PersonIdentity(
            family=family,
            given=given,
            birth_date=birth if _exact(data.get("birthDate")) else None,
            sex=data.get("gender", "") if isinstance(data.get("gender"), str) else "",
            identifiers=tuple(
                (i.get("system", ""), i["value"])
                for i in data.get("identifier") or []
                if isinstance(i, dict) and isinstance(i.get("value"), str)
            ),
            phones=_telecom(data, "phone"),
            emails=_telecom(data, "email"),
            address_lines=_address_lines(data),
            orgunit_code=unit.code,
        )
        return _PatientFacts(unit, district_path, birth, birth_year, identity, _submission_digest(data))

    def prepare_all(self, actor: Actor, items: list[tuple[Any, str]], context: Context) -> None:
        """The persons of a Bundle's Patients registered at once (:func:`~dhnet.identity.services.register_persons`)
        and the Patients received before looked up in one query; :meth:`profile_check` then finds them in the
        context. A Patient that fails its checks is left to :meth:`profile_check` (which reports it), as is every
        Patient when the registration refuses one (registered one by one, the refusal names it)."""
        from dhnet.identity.services import register_persons, registration_detail

        codes = set()
        for data, _ in items:
            for address in data.get("address") or [] if isinstance(data, dict) else []:
                if isinstance(address, dict) and isinstance(address.get("district"), str):
                    codes.add(address["district"].strip())
                    break
            else:
                org = data.get("managingOrganization") if isinstance(data, dict) else None
                ident = org.get("identifier") if isinstance(org, dict) else None
                if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                    codes.add(ident["value"])
        _prefetch_units(context, codes)
        facts: list[tuple[str, _PatientFacts]] = []
        checked: dict[str, tuple[Any, _PatientFacts]] = context.state.setdefault("cases.patient_facts", {})
        for data, root in items:
            try:
                f = self._identity(actor, data, root, context)
            except FhirError:
                continue
            facts.append((root, f))
            checked[root] = (data, f)
        submissions: dict[str, str] = context.state.setdefault("cases.submissions", {})
        digests = sorted({f.digest for _, f in facts if f.digest} - set(submissions))
        if digests:
            submissions.update(PatientSubmission.objects.filter(digest__in=digests).values_list("digest", "pseudonym"))
            context.state.setdefault("cases.submissions_looked_up", set()).update(digests)
        pending: list[tuple[str, _PatientFacts]] = []
        seen: set[str] = set()
        for root, f in facts:
            if f.digest and (f.digest in submissions or f.digest in seen):
                continue  # received before, or repeated in this Bundle: the first one's person
            seen.add(f.digest)
            pending.append((root, f))
        if not pending:
            _prefetch_patients(context, set(submissions.values()))
            return
        try:
            registrations = register_persons(
                actor, [f.identity for _, f in pending], source=f"fhir:{actor.username}"[:100], audited=False
            )
        except (Invalid, NotFound, Forbidden):
            _prefetch_patients(context, set(submissions.values()))
            return
        except Conflict as exc:  # the client retries (as for a deadlock with a concurrent Bundle)
            raise FhirError.one(409, "conflict", str(exc), pending[0][0]) from exc
        _prefetch_patients(context, set(submissions.values()) | {r.pseudonym for r in registrations})
        context.state["cases.registered"] = {root: r for (root, _), r in zip(pending, registrations, strict=True)}
        context.audit.setdefault("persons", []).extend(registration_detail(registrations))
        context.subjects.update(r.pseudonym for r in registrations)

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        from dhnet.identity.services import register_person

        checked = context.state.get("cases.patient_facts", {}).get(root)
        # checked by prepare_all already (the same resource: its facts), else now
        f = checked[1] if checked is not None and checked[0] is data else self._identity(actor, data, root, context)
        unit, district_path, birth, birth_year, identity = f.unit, f.district_path, f.birth, f.birth_year, f.identity
        digest = f.digest
        pseudonym = context.state.setdefault("cases.submissions", {}).get(digest) if digest else None
        if pseudonym is None and digest and digest not in context.state.get("cases.submissions_looked_up", ()):
            pseudonym = PatientSubmission.objects.filter(digest=digest).values_list("pseudonym", flat=True).first()
        match = "resent"
        if pseudonym is None:
            registration = context.state.get("cases.registered", {}).get(root)
            if registration is None:
                try:
                    registration = register_person(actor, identity, source=f"fhir:{actor.username}"[:100])
                except Invalid as exc:  # the vault's checks name its own fields: answer with the Patient's element
                    raise _identity_error(exc, data, root) from None
            pseudonym, match = registration.pseudonym, str(registration.match)
            if digest:  # written at once by finish()
                context.state.setdefault("cases.new_submissions", []).append((digest, pseudonym, root))
        if digest:
            context.state["cases.submissions"][digest] = pseudonym
        gender = data.get("gender") if isinstance(data.get("gender"), str) else "unknown"
        content: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": [{"system": PSEUDONYM_SYSTEM, "value": pseudonym}],
            "gender": gender,
        }
        if birth_year is not None:
            content["birthDate"] = f"{birth_year:04d}"
        deceased = bool(data.get("deceasedBoolean")) or "deceasedDateTime" in data
        if deceased:
            content["deceasedBoolean"] = True
        content["address"] = [{"district": unit.code}]
        existing = _stored_patient(context, pseudonym)
        prepared = _prepared(
            "Patient",
            content,
            root,
            context,
            orgunit=unit,
            identifiers=[(PSEUDONYM_SYSTEM, pseudonym)],
            subject=pseudonym,
            existing_id=existing,
            summary={"orgunit": unit.code, "match": match},
            by_content=False,
        )
        logical_id = prepared.existing_id or prepared.logical_id or ""
        context.state.setdefault("cases.patients", {})[pseudonym] = logical_id
        ref = PatientRef(logical_id, pseudonym, unit, str(gender), birth, birth_year, deceased, district_path)
        _remember(context, ref, "Patient", logical_id)
        return prepared

    def finish(self, actor: Actor, context: Context) -> None:
        """The submissions of the request's Patients (digest -> person) in one insert; a Patient received by a
        concurrent request meanwhile is a 409 naming it."""
        pending: list[tuple[str, str, str]] = context.state.pop("cases.new_submissions", [])
        if not pending:
            return
        try:
            with transaction.atomic():
                PatientSubmission.objects.bulk_create(
                    [PatientSubmission(digest=d, pseudonym=p) for d, p, _ in pending], batch_size=500
                )
        except IntegrityError:
            for digest, pseudonym, root in pending:
                try:
                    with transaction.atomic():
                        PatientSubmission.objects.create(digest=digest, pseudonym=pseudonym)
                except IntegrityError as exc:
                    raise FhirError.one(
                        409, "conflict", "this Patient was received by a concurrent request meanwhile: retry", root
                    ) from exc

    def _district(
        self, data: dict[str, Any], root: str, context: Context, issues: list[Issue]
    ) -> tuple[OrgUnit | None, str]:
        for i, address in enumerate(data.get("address") or []):
            if isinstance(address, dict) and isinstance(address.get("district"), str):
                path = f"{root}.address[{i}].district"
                unit = _unit_by_code(context, address["district"].strip())
                if unit is None:
                    issues.append(Issue("not-found", f"no org unit with code or name {address['district']!r}", path))
                return unit, path
        path = f"{root}.managingOrganization"
        unit = _unit_of_identifier(context, data.get("managingOrganization"), path, issues)
        return unit, f"{path}.identifier.value"


def _submission_digest(data: dict[str, Any]) -> str:
    """The keyed hash of a received Patient (without ``id`` and ``meta``), or "" without a pseudonym secret."""
    secret = getattr(settings.CONFIG, "pseudonym_key", None)
    if not secret:
        return ""
    canonical = json.dumps(
        {k: v for k, v in data.items() if k not in ("id", "meta")}, sort_keys=True, separators=(",", ":")
    )
    return hmac.new(secret, b"cases-patient|" + canonical.encode(), hashlib.sha256).hexdigest()


def _prefetch_patients(context: Context, pseudonyms: set[str]) -> None:
    """The stored Patients of these persons, in one query (for :func:`_stored_patient`)."""
    wanted = sorted(pseudonyms - set(context.state.get("cases.patients", {})))
    known: dict[str, str] = context.state.setdefault("cases.patients", {})
    looked_up: set[str] = context.state.setdefault("cases.patients_looked_up", set())
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = StoredResource.objects.filter(resource_type="Patient", subject__in=chunk).values_list(
            "subject", "logical_id"
        )
        for subject, logical_id in rows:
            known.setdefault(subject, logical_id)
        looked_up.update(chunk)


def _prefetch_units(context: Context, codes: set[str]) -> None:
    """The org units of these codes in one query (for :func:`_unit_by_code`), and which of them have children
    (for :func:`_reporting_unit`)."""
    cache: dict[str, OrgUnit | None] = context.state.setdefault("cases.units", {})
    wanted = sorted(c for c in codes if c and c not in cache)
    if not wanted:
        return
    units = list(OrgUnit.objects.filter(code__in=wanted[:1000]))
    for unit in units:
        cache[unit.code] = unit
    level = context.state.get("cases.reporting_level", "?")
    if level == "?":
        level = context.state["cases.reporting_level"] = reporting.reporting_settings().reporting_level
    if level is None and units:
        parents = set(OrgUnit.objects.filter(parent_id__in=[u.pk for u in units]).values_list("parent_id", flat=True))
        reporting_units: dict[int, bool] = context.state.setdefault("cases.reporting_units", {})
        for unit in units:
            reporting_units.setdefault(unit.pk, unit.pk not in parents)


def _stored_patient(context: Context, pseudonym: str) -> str | None:
    """The stored Patient of a person (one per pseudonym), also when an earlier entry of this request stores it."""
    known: dict[str, str] = context.state.setdefault("cases.patients", {})
    if pseudonym not in known and pseudonym in context.state.get("cases.patients_looked_up", ()):
        return None
    if pseudonym not in known:
        found = StoredResource.objects.filter(resource_type="Patient", subject=pseudonym).values_list(
            "logical_id", flat=True
        )
        first = next(iter(found), None)
        if first is None:
            return None
        known[pseudonym] = first
    return known[pseudonym]


def _exact(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 10


def _name(data: dict[str, Any]) -> tuple[str, str]:
    names = [n for n in data.get("name") or [] if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    family = str(official["family"]) if isinstance(official.get("family"), str) else ""
    given = " ".join(g for g in official.get("given") or [] if isinstance(g, str))
    if not family and not given and isinstance(official.get("text"), str):
        family = str(official["text"])
    return family, given


_IDENTITY_FIELD = re.compile(r"^(phones|emails|identifiers|address_lines|family|given|orgunit_code)(?:\[(\d+)\])?: ")
_NAME_PART = {"family": "family", "given": "given"}


def _identity_error(exc: Invalid, data: dict[str, Any], root: str) -> FhirError:
    """The identity vault's refusal (``phones[0]: ...``) as an OperationOutcome at the Patient element it came from:
    the n-th phone is the n-th ``telecom`` with system phone, the n-th identifier the n-th with a value, etc."""
    message = exc.message
    match = _IDENTITY_FIELD.match(message)
    expression = root
    if match:
        field_name, index = match.group(1), int(match.group(2) or 0)
        if field_name in ("phones", "emails"):
            system = "phone" if field_name == "phones" else "email"
            positions = [
                j
                for j, t in enumerate(data.get("telecom") or [])
                if isinstance(t, dict) and t.get("system") == system and isinstance(t.get("value"), str)
            ]
            expression = f"{root}.telecom[{positions[index]}].value" if index < len(positions) else f"{root}.telecom"
        elif field_name == "identifiers":
            positions = [
                j
                for j, i in enumerate(data.get("identifier") or [])
                if isinstance(i, dict) and isinstance(i.get("value"), str)
            ]
            expression = (
                f"{root}.identifier[{positions[index]}].value" if index < len(positions) else f"{root}.identifier"
            )
        elif field_name in _NAME_PART:  # the name :func:`_name` used: the official one, else the first
            names = [(j, n) for j, n in enumerate(data.get("name") or []) if isinstance(n, dict)]
            used = next((j for j, n in names if n.get("use") == "official"), names[0][0] if names else 0)
            expression = f"{root}.name[{used}].{_NAME_PART[field_name]}"
        else:
            expression = f"{root}.address"
    return FhirError.one(400, "value", message, expression)


def _telecom(data: dict[str, Any], system: str) -> tuple[str, ...]:
    return tuple(
        t["value"]
        for t in data.get("telecom") or []
        if isinstance(t, dict) and t.get("system") == system and isinstance(t.get("value"), str)
    )


def _address_lines(data: dict[str, Any]) -> tuple[str, ...]:
    lines: list[str] = []
    for address in data.get("address") or []:
        if not isinstance(address, dict):
            continue
        lines += [line for line in address.get("line") or [] if isinstance(line, str)]
        lines += [address[k] for k in ("postalCode", "city", "text") if isinstance(address.get(k), str)]
    return tuple(lines)


# --- Encounter -------------------------------------------------------------------------------------------------------


class EncounterHandler(ResourceHandler):
    resource_type = "Encounter"
    write_permission = WRITE
    read_permission = READ
    rank = 20
    documentation = (
        "The visit of a case: subject (a Patient), class (inpatient classes mark a hospitalised case), "
        f"serviceProvider.identifier ({ORGUNIT_CODE_SYSTEM}) naming the district, discharge disposition exp (died)."
    )

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        issues: list[Issue] = []
        patient = _resolve(context, data.get("subject"), f"{root}.subject", "Patient", issues)
        provider = _unit_of_identifier(context, data.get("serviceProvider"), f"{root}.serviceProvider", issues)
        unit_path = f"{root}.serviceProvider.identifier.value"
        period: dict[str, Any] = data["period"] if isinstance(data.get("period"), dict) else {}
        for key in ("start", "end"):
            if key in period:
                _check_date(period[key], f"{root}.period.{key}", issues, birth=patient, what=f"period.{key}")
        identifiers = _identifier_keys(data, root, issues)
        _contained_people(data, root, issues)
        if issues:
            raise FhirError(422, issues)
        unit = provider or (patient.orgunit if patient else None)
        if unit is None:
            raise FhirError.one(
                422,
                "required",
                f"the district is required: serviceProvider.identifier ({ORGUNIT_CODE_SYSTEM}) or a subject",
                f"{root}.serviceProvider",
            )
        if provider is None:
            unit_path = patient.district_path if patient else unit_path
        _require_jurisdiction(actor, unit, unit_path)
        content = _strip(data)
        if patient is not None:
            content["subject"] = _subject_reference(patient)
        existing = _if_none_exist_match(context, "Encounter", root)
        prepared = _prepared(
            "Encounter",
            content,
            root,
            context,
            orgunit=unit,
            identifiers=identifiers,
            subject=patient.pseudonym if patient else "",
            existing_id=existing,
            summary={"orgunit": unit.code},
            by_content=not _new_subject(context, patient),
        )
        logical_id = prepared.existing_id or prepared.logical_id or ""
        ref = EncounterRef(logical_id, patient, unit, unit_path, _inpatient(data), _expired(data))
        _remember(context, ref, "Encounter", logical_id)
        return prepared


# --- Condition -------------------------------------------------------------------------------------------------------


class ConditionHandler(ResourceHandler):
    resource_type = "Condition"
    write_permission = WRITE
    read_permission = READ
    rank = 30
    documentation = (
        "A case of a notifiable disease: code in ICD-11 MMS or ICD-10 (a disease of the catalogue), subject (a "
        "Patient), verificationStatus (confirmed, provisional/differential = probable, unconfirmed = suspected), "
        "onset and recordedDate. The identifier makes a retry or a duplicate store nothing new."
    )

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        issues: list[Issue] = []
        patient = _resolve(context, data.get("subject"), f"{root}.subject", "Patient", issues, required=True)
        encounter = _resolve(context, data.get("encounter"), f"{root}.encounter", "Encounter", issues)
        disease, icd_system, icd_code = self._disease(data, root, context, issues)
        clinical = self._status(data, root, "clinicalStatus", CLINICAL_SYSTEM, CLINICAL_CODES, issues)
        verification = self._status(data, root, "verificationStatus", VERIFICATION_SYSTEM, VERIFICATION_CODES, issues)
        if verification in ("refuted", "entered-in-error"):
            issues.append(
                Issue(
                    "business-rule",
                    f"a Condition with verificationStatus {verification!r} is not a case report",
                    f"{root}.verificationStatus",
                )
            )
        onset = self._onset(data, root, patient, issues)
        recorded = None
        if "recordedDate" in data:
            recorded = _check_date(
                data["recordedDate"], f"{root}.recordedDate", issues, birth=patient, what="recordedDate"
            )
        identifiers = _identifier_keys(data, root, issues)
        _contained_people(data, root, issues)
        if issues:
            raise FhirError(422, issues)
        assert patient is not None
        assert disease is not None
        unit = patient.orgunit or (encounter.orgunit if encounter else None)
        unit_path = patient.district_path if patient.orgunit else (encounter.orgunit_path if encounter else root)
        if unit is None:
            raise FhirError.one(422, "required", "the case has no district (Patient or Encounter)", f"{root}.subject")
        _require_jurisdiction(actor, unit, unit_path)
        if not _reporting_unit(context, unit):
            raise FhirError.one(
                422,
                "business-rule",
                f"org unit {unit.code!r} is not a reporting unit: a case belongs to a district that reports",
                unit_path,
            )
        content = _strip(data)
        content["subject"] = _subject_reference(patient)
        if encounter is not None:
            content["encounter"] = {"reference": f"Encounter/{encounter.logical_id}"}
        evidence = self._evidence(content, context)
        key = identifiers[0] if identifiers else ("urn:dhnet:condition-checksum", checksum(content))
        seen: dict[tuple[str, str], str] = context.state.setdefault("cases.condition_keys", {})
        if key in seen:
            raise FhirError.one(
                422, "duplicate", f"Condition identifier {key[0]}|{key[1]} repeats {seen[key]}", f"{root}.identifier"
            )
        seen[key] = root
        if key in context.state.get("cases.case_keys_looked_up", ()):
            existing_id = context.state["cases.case_keys"].get(key)
        else:
            existing = Case.objects.filter(source_system=key[0], source_value=key[1]).values_list("fhir_id", flat=True)
            existing_id = next(iter(existing), None)
        existing_id = existing_id or _if_none_exist_match(context, "Condition", root)
        report_date = today()
        when = onset or recorded or report_date
        age = age_at(patient, when)
        died = patient.deceased or (encounter.died if encounter else False)
        facts = CaseFacts(
            {
                "pseudonym": patient.pseudonym,
                "disease": disease,
                "orgunit": unit,
                "icd_code": icd_code[:32],
                "icd_system": icd_system[:255],
                "classification": CLASSIFICATION_OF.get(verification or "unconfirmed", Classification.SUSPECTED),
                "clinical_status": clinical or "",
                "onset_date": onset,
                "diagnosis_date": recorded,
                "report_date": report_date,
                "age_years": age if age is not None and 0 <= age < 150 else None,
                "age_band": age_band(age),
                "sex": patient.sex if patient.sex in ("male", "female", "other", "unknown") else "unknown",
                "outcome": "died" if died else "",
                "hospitalised": encounter.hospitalised if encounter else None,
                "source_system": key[0],
                "source_value": key[1],
                "created_by": actor.username[:150],
            }
        )
        prepared = _prepared(
            "Condition",
            content,
            root,
            context,
            orgunit=unit,
            identifiers=identifiers,
            subject=patient.pseudonym,
            existing_id=existing_id,
            extra=facts,
            summary={"orgunit": unit.code, "disease": disease.code},
            by_content=False,
        )
        logical_id = prepared.existing_id or prepared.logical_id or ""
        ref = ConditionRef(logical_id, key, patient, encounter, evidence)
        _remember(context, ref, "Condition", logical_id)
        context.state.setdefault("cases.conditions", []).append(ref)
        return prepared

    def prepare_all(self, actor: Actor, items: list[tuple[Any, str]], context: Context) -> None:
        """The cases of the Conditions' identifiers looked up in one query (for :meth:`profile_check`)."""
        keys = set()
        for data, root in items:
            found = _identifier_keys(data, root, []) if isinstance(data, dict) else []
            if found:
                keys.add(found[0])
        known: dict[tuple[str, str], str] = context.state.setdefault("cases.case_keys", {})
        looked_up: set[tuple[str, str]] = context.state.setdefault("cases.case_keys_looked_up", set())
        for fhir_id, system, value in case_services.by_source(keys, "fhir_id"):
            known.setdefault((system, value), fhir_id)
        looked_up.update(keys)

    def _disease(self, data: dict[str, Any], root: str, context: Context, issues: list[Issue]) -> tuple[Any, str, str]:
        path = f"{root}.code"
        codings = _codings(data.get("code"))
        if not codings:
            issues.append(Issue("required", "the disease is required: code.coding in ICD-11 MMS or ICD-10", path))
            return None, "", ""
        found = None
        for i, coding in codings:
            system, code = coding.get("system"), coding.get("code")
            where = f"{path}.coding[{i}]"
            if system not in CONDITION_CODE_SYSTEMS:
                issues.append(
                    Issue(
                        "code-invalid",
                        f"code system {system!r} is not known here (known: ICD-11 MMS {ICD11}, ICD-10 {ICD10}, "
                        f"SNOMED CT {SNOMED}, {DISEASE_SYSTEM})",
                        f"{where}.system",
                    )
                )
                continue
            if system == SNOMED or not isinstance(code, str):
                continue
            matches = context.diseases().match(DISEASE_SYSTEMS[system], code)
            if not matches:
                issues.append(Issue("code-invalid", f"{code!r} names no disease of the catalogue", f"{where}.code"))
            elif len(matches) > 1:
                issues.append(Issue("multiple-matches", f"{code!r} names several diseases", f"{where}.code"))
            elif not matches[0].active:
                issues.append(Issue("business-rule", f"disease {matches[0].code!r} is not active", f"{where}.code"))
            elif found is not None and found[0].pk != matches[0].pk:
                issues.append(Issue("conflict", "the codings name different diseases", f"{where}.code"))
            elif found is None:
                found = (matches[0], str(system), code)
        if found is None:
            if not any(i.expression and i.expression.startswith(path) for i in issues):
                issues.append(
                    Issue("code-invalid", "no coding in ICD-11 MMS or ICD-10 names a notifiable disease", path)
                )
            return None, "", ""
        return found

    def _status(
        self,
        data: dict[str, Any],
        root: str,
        name: str,
        system: str,
        codes: tuple[str, ...],
        issues: list[Issue],
    ) -> str | None:
        result = None
        for i, coding in _codings(data.get(name)):
            where = f"{root}.{name}.coding[{i}]"
            if coding.get("system") != system:
                issues.append(Issue("code-invalid", f"{name} must be coded in {system}", f"{where}.system"))
            elif coding.get("code") not in codes:
                issues.append(
                    Issue(
                        "code-invalid",
                        f"{coding.get('code')!r} is not in the required value set ({' | '.join(codes)})",
                        f"{where}.code",
                    )
                )
            else:
                result = result or coding["code"]
        return result

    def _onset(
        self, data: dict[str, Any], root: str, patient: PatientRef | None, issues: list[Issue]
    ) -> dt.date | None:
        if "onsetDateTime" in data:
            return _check_date(
                data["onsetDateTime"], f"{root}.onset.ofType(dateTime)", issues, birth=patient, what="onset"
            )
        period = data.get("onsetPeriod")
        if isinstance(period, dict) and "start" in period:
            return _check_date(
                period["start"], f"{root}.onset.ofType(Period).start", issues, birth=patient, what="onset"
            )
        return None

    def _evidence(self, content: dict[str, Any], context: Context) -> list[str]:
        refs = []
        for evidence in content.get("evidence") or []:
            for detail in evidence.get("detail") or [] if isinstance(evidence, dict) else []:
                if isinstance(detail, dict) and isinstance(detail.get("reference"), str):
                    refs.append(detail["reference"])
        return refs

    def after_store(self, actor: Actor, stored: list[tuple[Prepared, StoredResource]], context: Context) -> None:
        cases = [Case(**p.extra.values, fhir_id=s.logical_id) for p, s in stored if isinstance(p.extra, CaseFacts)]
        created = case_services.add_cases(cases)
        context.state.setdefault("cases.new", []).extend(created)

    def finish(self, actor: Actor, context: Context) -> None:
        created = context.state.get("cases.new") or []
        if created:
            case_services.feed_counts(actor, created)


# --- Observation -----------------------------------------------------------------------------------------------------


class ObservationHandler(ResourceHandler):
    resource_type = "Observation"
    write_permission = WRITE
    read_permission = READ
    rank = 40
    documentation = (
        "A laboratory result of a case: code in LOINC, subject (a Patient), effective date (specimen), value and "
        "interpretation. It belongs to the case named by focus, by the Condition's evidence, or to the one case of "
        "its subject in the Bundle."
    )

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        issues: list[Issue] = []
        patient = _resolve(context, data.get("subject"), f"{root}.subject", "Patient", issues, required=True)
        encounter = _resolve(context, data.get("encounter"), f"{root}.encounter", "Encounter", issues)
        loinc, display = self._code(data, root, issues)
        self._category(data, root, issues)
        specimen = None
        if "effectiveDateTime" in data:
            specimen = _check_date(
                data["effectiveDateTime"], f"{root}.effective.ofType(dateTime)", issues, birth=patient, what="effective"
            )
        elif isinstance(data.get("effectivePeriod"), dict) and "start" in data["effectivePeriod"]:
            specimen = _check_date(
                data["effectivePeriod"]["start"], f"{root}.effective.ofType(Period).start", issues, birth=patient
            )
        condition = self._case(data, root, context, patient, issues)
        identifiers = _identifier_keys(data, root, issues)
        _contained_people(data, root, issues)
        if issues:
            raise FhirError(422, issues)
        assert patient is not None
        assert condition is not None
        unit = condition.patient.orgunit or patient.orgunit
        if unit is not None:
            _require_jurisdiction(actor, unit, f"{root}.subject")
        content = _strip(data)
        content["subject"] = _subject_reference(patient)
        if encounter is not None:
            content["encounter"] = {"reference": f"Encounter/{encounter.logical_id}"}
        content["focus"] = [{"reference": f"Condition/{condition.logical_id}"}]
        value, interpretation = _value(data), _interpretation(data)
        facts = LabFacts(
            condition.key,
            condition.case_id,
            {
                "loinc": loinc[:32],
                "display": display[:255],
                "status": str(data.get("status", "final"))[:16],
                "value": value[:255],
                "interpretation": interpretation[:32],
                "specimen_date": specimen,
            },
        )
        return _prepared(
            "Observation",
            content,
            root,
            context,
            orgunit=unit,
            identifiers=identifiers,
            subject=patient.pseudonym,
            existing_id=_if_none_exist_match(context, "Observation", root),
            extra=facts,
            summary={"loinc": loinc},
            by_content=not _new_subject(context, patient),
        )

    def _code(self, data: dict[str, Any], root: str, issues: list[Issue]) -> tuple[str, str]:
        found = ("", "")
        codings = _codings(data.get("code"))
        for i, coding in codings:
            system = coding.get("system")
            if system not in LAB_CODE_SYSTEMS:
                issues.append(
                    Issue(
                        "code-invalid",
                        f"code system {system!r} is not known here (lab tests in LOINC {LOINC}, or SNOMED CT)",
                        f"{root}.code.coding[{i}].system",
                    )
                )
            elif system == LOINC and isinstance(coding.get("code"), str) and not found[0]:
                found = (coding["code"], str(coding.get("display", "")))
        if codings and not found[0] and not any((i.expression or "").startswith(f"{root}.code") for i in issues):
            issues.append(Issue("code-invalid", "a lab Observation needs a LOINC code", f"{root}.code"))
        return found

    def _category(self, data: dict[str, Any], root: str, issues: list[Issue]) -> None:
        for i, category in enumerate(data.get("category") or []):
            for j, coding in _codings(category):
                if coding.get("system") == OBSERVATION_CATEGORY and coding.get("code") != "laboratory":
                    issues.append(
                        Issue(
                            "business-rule",
                            f"only laboratory Observations are accepted, not {coding.get('code')!r}",
                            f"{root}.category[{i}].coding[{j}].code",
                        )
                    )

    def _case(
        self,
        data: dict[str, Any],
        root: str,
        context: Context,
        patient: PatientRef | None,
        issues: list[Issue],
    ) -> ConditionRef | None:
        focus = [f for f in data.get("focus") or [] if isinstance(f, dict)]
        for i, ref in enumerate(focus):
            found = _resolve(context, ref, f"{root}.focus[{i}]", "Condition", issues)
            if found is not None:
                return found
        if focus or patient is None:
            return None
        conditions: list[ConditionRef] = context.state.get("cases.conditions", [])
        if context.full_url:
            named = [c for c in conditions if context.full_url in c.evidence]
            if named:
                return named[0]
        own = [c for c in conditions if c.patient.pseudonym == patient.pseudonym]
        if len(own) == 1:
            return own[0]
        issues.append(
            Issue(
                "required",
                "a lab Observation belongs to a case: name the Condition in focus (or send it in the same Bundle, "
                f"{'one Condition per person' if own else 'with a Condition of this subject'})",
                f"{root}.focus",
            )
        )
        return None

    def after_store(self, actor: Actor, stored: list[tuple[Prepared, StoredResource]], context: Context) -> None:
        facts = [(p.extra, s.logical_id) for p, s in stored if isinstance(p.extra, LabFacts)]
        case_services.add_lab_results(
            [(f.case_id, f.case_key, LabResult(fhir_id=logical_id, **f.values)) for f, logical_id in facts]
        )


def _value(data: dict[str, Any]) -> str:
    if isinstance(data.get("valueCodeableConcept"), dict):
        concept = data["valueCodeableConcept"]
        codings = _codings(concept)
        if codings:
            c = codings[0][1]
            return str(c.get("display") or c.get("code") or "")
        return str(concept.get("text", ""))
    if isinstance(data.get("valueQuantity"), dict):
        q = data["valueQuantity"]
        return f"{q.get('value', '')} {q.get('unit') or q.get('code') or ''}".strip()
    for key in ("valueString", "valueBoolean", "valueInteger"):
        if key in data:
            return str(data[key])
    return ""


def _interpretation(data: dict[str, Any]) -> str:
    for concept in data.get("interpretation") or []:
        for _, coding in _codings(concept):
            if isinstance(coding.get("code"), str):
                return str(coding["code"])
    return ""
