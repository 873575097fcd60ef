# mypy: disallow-untyped-decorators=False
"""Routes of the consent context on the FHIR endpoint: ``GET /fhir/AuditEvent`` and ``GET /fhir/Consent`` (search).

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

CONSENT_PARAMETERS = ("patient", "purpose", "status", "_count", "_offset", "_format")


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


def parse_consent_query(pairs: list[tuple[str, str]]) -> tuple[services.DecisionFilter, int, int]:
    """The filter and paging of a Consent search, or a 400 naming the parameter."""
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
    pseudonym = values.get("patient", "").removeprefix(f"{fhirconsent.PSEUDONYM_SYSTEM}|")
    if fhirconsent.PATIENT_REF_RE.match(pseudonym):
        pseudonym = auditevent.pseudonym_of_patient(pseudonym.removeprefix("Patient/")) or "0" * 64  # unknown: none
    if pseudonym and not services.PSEUDONYM_RE.match(pseudonym):
        raise FhirError.one(
            400, "invalid", "search parameter patient: expected a pseudonym (64 hex) or Patient/<id>", "patient"
        )
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
    "/Consent",
    summary="Search consent decisions in your jurisdiction (patient, purpose, status, _count, _offset)",
    tags=["fhir"],
    url_name="consent-search",
    openapi_extra=_openapi(None, {200: "Bundle searchset of Consent"}),
)
@requires(services.READ)
def consent_search(request: HttpRequest) -> HttpResponse:
    _negotiate(request)
    flt, count, offset = parse_consent_query(_pairs(request))
    try:
        total, rows = services.search(request_actor(request), flt, offset=offset, limit=count)
    except Invalid as exc:
        raise FhirError.one(400, "invalid", exc.message) from exc
    resources = [fhirconsent.as_fhir(row) for row in rows]
    base = _base_url(request)
    params: dict[str, Any] = {k: v for k, v in request.GET.items() if k not in ("_offset",)}
    links = [{"relation": "self", "url": f"{base}Consent?{urlencode({**params, '_offset': offset})}"}]
    if offset + count < total:
        links.append({"relation": "next", "url": f"{base}Consent?{urlencode({**params, '_offset': offset + count})}"})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if resources:
        bundle["entry"] = [
            {"fullUrl": f"{base}Consent/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources
        ]
    return fhir_response(bundle)
