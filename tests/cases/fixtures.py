"""Fixtures and builders of the case tests: case-report Bundles built by hand (small, readable) and by
:class:`dhnet.cases.generate.CaseGenerator` (many, realistic)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.diseases.models import Disease
from dhnet.fhir.measurereport import ICD11, ORGUNIT_CODE_SYSTEM
from tests.platform.fixtures import login

NATIONAL = "urn:oid:2.16.840.1.113883.4.1"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ONSET = dt.date(2024, 1, 30)  # a Tuesday of ISO week 2024-W05 (Monday 2024-01-29)

#: The direct identifiers of :func:`patient`: none may appear outside the identity vault's tables.
IDENTIFIERS = (
    "Erika",
    "Mustermann",
    "X12345678",
    "+49 151 2345678",
    "erika.mustermann@example.org",
    "Heidestrasse 17",
    "1984-03-17",
    "51147",
)


@pytest.fixture
def diseases(db: Any) -> dict[str, Disease]:
    return {d.code: d for d in Disease.objects.all()}


@pytest.fixture
def reporter(users: dict[str, User], diseases: dict[str, Disease]) -> Client:
    """The district officer of D11 (writes case reports in D11 only)."""
    return login(Client(), users["district_officer"])


def patient(district: str = "D11", national: str = "X12345678", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": NATIONAL, "value": national}],
        "name": [{"use": "official", "family": "Mustermann", "given": ["Erika"]}],
        "telecom": [
            {"system": "phone", "value": "+49 151 2345678"},
            {"system": "email", "value": "erika.mustermann@example.org"},
        ],
        "gender": "female",
        "birthDate": "1984-03-17",
        "address": [{"line": ["Heidestrasse 17"], "city": "Koeln", "postalCode": "51147", "district": district}],
    }
    data.update(changes)
    return data


def condition(
    subject: str = "urn:uuid:00000000-0000-4000-8000-000000000001",
    *,
    key: str = "C-1",
    system: str = ICD11,
    code: str = "1F03",
    verification: str = "confirmed",
    onset: str | None = ONSET.isoformat(),
    encounter: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Condition",
        "identifier": [{"system": "https://clinic.example.org/cases", "value": key}],
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": verification}]},
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": subject, "display": "Erika Mustermann"},
        "recordedDate": "2024-02-01",
    }
    if onset is not None:
        data["onsetDateTime"] = onset
    if encounter is not None:
        data["encounter"] = {"reference": encounter}
    data.update(changes)
    return data


def encounter(subject: str = "urn:uuid:00000000-0000-4000-8000-000000000001", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": "https://clinic.example.org/encounters", "value": "E-1"}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": subject},
        "period": {"start": "2024-01-31", "end": "2024-02-03"},
        "serviceProvider": {"identifier": {"system": ORGUNIT_CODE_SYSTEM, "value": "D11"}},
    }
    data.update(changes)
    return data


def observation(subject: str = "urn:uuid:00000000-0000-4000-8000-000000000001", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": "https://lab.example.org/results", "value": "L-1"}],
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": "20479-8", "display": "Measles virus IgM Ab"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2024-01-31",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}]},
        "interpretation": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "POS"}
                ]
            }
        ],
    }
    data.update(changes)
    return data


def urn(n: int) -> str:
    return f"urn:uuid:00000000-0000-4000-8000-{n:012d}"


def bundle(*resources: dict[str, Any], btype: str = "transaction", if_none_exist: bool = False) -> dict[str, Any]:
    """A Bundle whose entry i has fullUrl ``urn(i + 1)`` (so the Patient first is ``urn(1)``)."""
    entries = []
    for i, resource in enumerate(resources):
        request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
        if if_none_exist and resource.get("identifier"):
            ident = resource["identifier"][0]
            request["ifNoneExist"] = f"identifier={ident['system']}|{ident['value']}"
        entries.append({"fullUrl": urn(i + 1), "resource": copy.deepcopy(resource), "request": request})
    return {"resourceType": "Bundle", "type": btype, "entry": entries}


def case_bundle(**changes: Any) -> dict[str, Any]:
    """Patient, Condition (measles, ICD-11), Encounter (inpatient, D11), a positive IgM Observation."""
    return bundle(
        patient(**changes.pop("patient", {})),
        condition(encounter=urn(3), **changes.pop("condition", {})),
        encounter(**changes.pop("encounter", {})),
        observation(**changes.pop("observation", {})),
    )


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data, content_type="application/fhir+json", **headers)


def issues(response: Any) -> list[tuple[str, str]]:
    """(expression, diagnostics) of an OperationOutcome answer."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return [((i.get("expression") or [""])[0], i["diagnostics"]) for i in body["issue"]]
