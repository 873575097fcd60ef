# mypy: disallow-untyped-decorators=False
"""Routes of the consent context on the FHIR endpoint: ``GET /fhir/AuditEvent`` and ``GET /fhir/Patient/<id>/Consent``.

The Consent search is a compartment search (FHIR R4 ``GET [base]/Patient/[id]/Consent``): ``<id>`` is a stored
Patient's id or the person's pseudonym. The type-level ``GET /fhir/Consent`` would share its URL with
``POST /fhir/Consent``, and the platform's URL access declarations (one per URL, :mod:`dhnet.fhir.urls`) and
authorization matrix cannot yet describe a URL with two operations of different permissions.

Registered on :data:`dhnet.fhir.api.fhir_api` when that module is imported (its last line imports this one); create,
read and vread of Consent come from the registry's :class:`~dhnet.consent.fhirconsent.ConsentHandler`. Thin: parse
the query, call one service, serialise the searchset Bundle.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from dhnet.consent import auditevent, fhirconsent, services
from dhnet.consent.purposes import parse_purpose
from dhnet.fhir.api import _base_url, _negotiate, _openapi, fhir_api, fhir_response
from dhnet.fhir.outcome import FhirError
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import Invalid

CONSENT_PARAMETERS = ("purpose", "status", "_count", "_offset", "_format")


def _pairs(request: HttpRequest) -> list[tuple[str, str]]:
    return [(name, value) for name in request.GET for value in request.GET.getlist(name)]


@fhir_api.get(
    "/AuditEvent",
    summary="Search the audit trail as AuditEvent (patient, agent, date, action, _count, _offset)",
    tags=["fhir"],
    url_name="auditevent-search",
    openapi_extra=_openapi(None, {200: "Bundle searchset of AuditEvent"}),
)
@requires(auditevent.READ)
def auditevent_search(request: HttpRequest) -> HttpResponse:
    _negotiate(request)
    query = auditevent.parse_query(_pairs(request))
    found = auditevent.search(request_actor(request), query)
    return fhir_response(auditevent.searchset(found, _base_url(request)))


def parse_consent_query(patient: str, pairs: list[tuple[str, str]]) -> tuple[services.DecisionFilter, int, int]:
    """The filter and paging of a Consent search of ``patient`` (a Patient id or a pseudonym), or a 400 naming the
    parameter."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in CONSENT_PARAMETERS:
            raise FhirError.one(
                400,
                "not-supported",
                f"unknown search parameter {name[:60]!r} (supported: {', '.join(CONSENT_PARAMETERS)})",
                name[:60],
            )
        if name in values:
            raise FhirError.one(400, "invalid", f"search parameter {name} given more than once", name)
        values[name] = value
    if services.PSEUDONYM_RE.match(patient):
        pseudonym = patient
    else:
        pseudonym = auditevent.pseudonym_of_patient(patient) or ""
        if not pseudonym:
            raise FhirError.one(404, "not-found", f"Patient/{patient[:64]} is not known", "Patient")
    purpose = values.get("purpose", "")
    try:
        purpose = parse_purpose(purpose) if purpose else ""
    except ValueError as exc:
        raise FhirError.one(400, "invalid", f"search parameter purpose: {exc}", "purpose") from exc
    status = values.get("status", "")
    if status not in ("", "active", "inactive"):
        raise FhirError.one(400, "invalid", "search parameter status: expected active or inactive", "status")
    count = auditevent._bounded_int("_count", values["_count"], 1, 100) if "_count" in values else 20
    offset = (
        auditevent._bounded_int("_offset", values["_offset"], 0, auditevent.MAX_OFFSET) if "_offset" in values else 0
    )
    flt = services.DecisionFilter(
        pseudonym=pseudonym,
        purpose=purpose,
        active={"": None, "active": True, "inactive": False}[status],
    )
    return flt, count, offset


@fhir_api.get(
    "/Patient/{patient}/Consent",
    summary="Consent decisions of a person (Patient id or pseudonym) in your jurisdiction: purpose, status, _count, "
    "_offset",
    tags=["fhir"],
    url_name="patient-consent-search",
    openapi_extra=_openapi(None, {200: "Bundle searchset of Consent"}),
)
@requires(services.READ)
def consent_search(request: HttpRequest, patient: str) -> HttpResponse:
    _negotiate(request)
    flt, count, offset = parse_consent_query(patient, _pairs(request))
    try:
        total, rows = services.search(request_actor(request), flt, offset=offset, limit=count)
    except Invalid as exc:
        raise FhirError.one(400, "invalid", exc.message) from exc
    resources = [fhirconsent.as_fhir(row) for row in rows]
    base = _base_url(request)
    params: dict[str, Any] = {k: v for k, v in request.GET.items() if k not in ("_offset",)}
    here = f"{base}Patient/{patient}/Consent"
    links = [{"relation": "self", "url": f"{here}?{urlencode({**params, '_offset': offset})}"}]
    if offset + count < total:
        links.append({"relation": "next", "url": f"{here}?{urlencode({**params, '_offset': offset + count})}"})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if resources:
        bundle["entry"] = [
            {"fullUrl": f"{base}Consent/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources
        ]
    return fhir_response(bundle)
