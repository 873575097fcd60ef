"""FHIR Consent intake: in a case Bundle (patient by urn:uuid), single create (Patient/<id> or pseudonym), retries
store nothing new, dynamic consent through FHIR, validation errors with element paths (nothing stored), search
and read in the jurisdiction; the parser under hypothesis (never raises, every issue names a Consent element)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.audit.models import AuditSubject
from dhnet.consent import fhirconsent, services
from dhnet.consent.models import ConsentDecision
from dhnet.fhir.models import StoredResource
from tests.cases.fixtures import bundle, condition, encounter, issues, observation, patient, post, urn
from tests.consent.fixtures import pseudonym
from tests.platform.fixtures import login

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


def consent(
    patient_ref: str = "urn:uuid:00000000-0000-4000-8000-000000000001",
    *,
    status: str = "active",
    ptype: str = "permit",
    purpose: str = "HRESCH",
    key: str = "K-1",
    **changes: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Consent",
        "identifier": [{"system": "https://clinic.example.org/consents", "value": key}],
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": patient_ref},
        "dateTime": "2024-02-01T10:00:00Z",
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": ptype, "purpose": [{"system": ACT_REASON, "code": purpose}]},
    }
    data.update(changes)
    return data


@pytest.fixture
def officer(users: Any, diseases: Any) -> Client:
    """The D11 district officer: surveillance:report:write and consent:consent:write in D11."""
    return login(Client(), users["district_officer"])


def _case_with_consent(**changes: Any) -> dict[str, Any]:
    return bundle(patient(), condition(encounter=urn(3)), encounter(), observation(), consent(**changes))


def _pseudonym_of_stored_patient() -> str:
    return StoredResource.objects.get(resource_type="Patient").subject


@pytest.mark.django_db
def test_consent_in_a_case_bundle(officer: Client) -> None:
    response = post(officer, "/fhir", _case_with_consent())
    assert response.status_code == 200, response.content
    person = _pseudonym_of_stored_patient()
    row = ConsentDecision.objects.get()
    assert (row.pseudonym, row.purpose, row.decision, row.channel) == (person, "research", "grant", "fhir")
    assert row.orgunit is not None
    assert row.orgunit.code == "D11"
    stored = StoredResource.objects.get(resource_type="Consent")
    assert row.fhir_id == stored.logical_id
    assert stored.content["patient"] == {"identifier": {"system": fhirconsent.PSEUDONYM_SYSTEM, "value": person}}
    assert "Mustermann" not in str(stored.content)
    assert services.permits([person], "research") == {person}
    assert AuditSubject.objects.filter(subject=person, record__action="consent.decision.grant").exists()
    # The same Bundle again (a retry): nothing new anywhere.
    again = post(officer, "/fhir", _case_with_consent())
    assert again.status_code == 200
    assert ConsentDecision.objects.count() == 1
    assert StoredResource.objects.filter(resource_type="Consent").count() == 1


@pytest.mark.django_db
def test_withdrawal_through_fhir_applies_to_the_next_release(officer: Client) -> None:
    post(officer, "/fhir", _case_with_consent())
    person = _pseudonym_of_stored_patient()
    patient_id = StoredResource.objects.get(resource_type="Patient").logical_id
    assert services.permits([person], "research") == {person}
    withdrawn = consent(f"Patient/{patient_id}", status="inactive", key="K-2")
    response = post(officer, "/fhir/Consent", withdrawn)
    assert response.status_code == 201, response.content
    assert services.permits([person], "research") == set()
    assert list(ConsentDecision.objects.order_by("id").values_list("decision", flat=True)) == ["grant", "withdraw"]
    # A deny by pseudonym identifier, for secondary use: recorded as a withdrawal.
    by_pseudonym = consent(key="K-3", ptype="deny", purpose="HOPERAT")
    by_pseudonym["patient"] = {"identifier": {"system": fhirconsent.PSEUDONYM_SYSTEM, "value": person}}
    assert post(officer, "/fhir/Consent", by_pseudonym).status_code == 201
    assert ConsentDecision.objects.filter(purpose="secondary", decision="withdraw").count() == 1


@pytest.mark.django_db
def test_surveillance_consent_is_recorded_as_a_legal_basis(officer: Client) -> None:
    response = post(officer, "/fhir", _case_with_consent(purpose="PUBHLTH"))
    assert response.status_code == 200, response.content
    row = ConsentDecision.objects.get()
    assert row.decision == "legal-basis"
    assert "public-health law" in row.legal_basis
    refused = post(officer, "/fhir", _case_with_consent(purpose="PUBHLTH", status="rejected", key="K-9"))
    assert refused.status_code == 422
    assert issues(refused)[0][0] == "Bundle.entry[4].resource.provision.purpose[0]"


BAD = [
    ({"status": "draft"}, "Consent.status", 422),
    (
        {"provision": {"type": "permit", "purpose": [{"system": ACT_REASON, "code": "NOPE"}]}},
        "Consent.provision.purpose[0].code",
        422,
    ),
    (
        {"provision": {"type": "permit", "purpose": [{"system": "http://example.org/x", "code": "HRESCH"}]}},
        "Consent.provision.purpose[0]",
        422,
    ),
    ({"provision": {"type": "permit"}}, "Consent.provision.purpose", 422),
    ({"scope": {"coding": [{"system": "http://example.org/scope", "code": "research"}]}}, "Consent.scope", 422),
    ({"category": [{"coding": [{"system": "http://example.org/cat", "code": "x"}]}]}, "Consent.category[0]", 422),
    ({"dateTime": "2999-01-01T00:00:00Z"}, "Consent.dateTime", 422),
    ({"patient": {"reference": "Patient/unknown-id"}}, "Consent.patient.reference", 422),
    ({"patient": {"reference": "Practitioner/1"}}, "Consent.patient.reference", 422),
    ({"status": "maybe"}, "Consent.status", 400),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "where", "status"), BAD, ids=[w for _, w, _ in BAD])
def test_invalid_consent_names_the_element_and_stores_nothing(
    officer: Client, change: dict[str, Any], where: str, status: int
) -> None:
    data = consent("Patient/x", **change) if "patient" not in change else consent(**change)
    if "patient" not in change:
        data["patient"] = {"identifier": {"system": fhirconsent.PSEUDONYM_SYSTEM, "value": pseudonym("p")}}
    response = post(officer, "/fhir/Consent", data)
    assert response.status_code == status, response.content
    assert where in [w for w, _ in issues(response)]
    assert not ConsentDecision.objects.exists()
    assert not StoredResource.objects.filter(resource_type="Consent").exists()


@pytest.mark.django_db
def test_rejected_bundle_stores_no_consent(officer: Client) -> None:
    data = _case_with_consent()
    data["entry"][1]["resource"]["code"]["coding"][0]["code"] = "XXXX"  # not in the catalogue
    response = post(officer, "/fhir", data)
    assert response.status_code == 422
    assert not ConsentDecision.objects.exists()
    assert not StoredResource.objects.exists()


@pytest.mark.django_db
def test_jurisdiction_of_consent_writes_and_reads(users: Any, diseases: Any, officer: Client) -> None:
    post(officer, "/fhir", _case_with_consent())
    person = _pseudonym_of_stored_patient()
    consent_id = StoredResource.objects.get(resource_type="Consent").logical_id
    # D21's officer may neither record a consent for a D11 person nor read it.
    other = login(Client(), users["district_officer"])
    from dhnet.accounts import services as accounts
    from tests.platform.fixtures import actor_of

    stranger, _ = accounts.create_user(
        actor_of(users["system_admin"]), "d21", role="district_officer", orgunit_code="D21"
    )
    other = login(Client(), stranger)
    data = consent(key="K-7", status="inactive")
    data["patient"] = {"identifier": {"system": fhirconsent.PSEUDONYM_SYSTEM, "value": person}}
    denied = post(other, "/fhir/Consent", data)
    assert denied.status_code == 403
    assert issues(denied)[0][0] == "Consent.patient"
    assert other.get(f"/fhir/Consent/{consent_id}").status_code == 404
    assert other.get(f"/fhir/Patient/{person}/Consent").json()["total"] == 0
    found = officer.get(f"/fhir/Patient/{person}/Consent?purpose=research&status=active")
    assert found.status_code == 200
    body = found.json()
    Bundle.model_validate(body)
    assert body["total"] == 1
    Consent.model_validate(body["entry"][0]["resource"])
    assert officer.get(f"/fhir/Consent/{consent_id}").status_code == 200
    patient_id = StoredResource.objects.get(resource_type="Patient").logical_id
    assert officer.get(f"/fhir/Patient/{patient_id}/Consent").json()["total"] == 1
    assert officer.get(f"/fhir/Patient/{person}/Consent?status=inactive").json()["total"] == 0
    assert officer.get("/fhir/Patient/unknown/Consent").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?patient=abc", "patient"),
        ("?purpose=marketing", "purpose"),
        ("?status=draft", "status"),
        ("?_count=0", "_count"),
        ("?_offset=-1", "_offset"),
        ("?sort=x", "sort"),
        ("?purpose=a&purpose=b", "purpose"),
    ],
)
def test_consent_search_bad_parameters(officer: Client, query: str, parameter: str) -> None:
    response = officer.get(f"/fhir/Patient/{pseudonym('x')}/Consent{query}")
    assert response.status_code == 400
    assert issues(response)[0][0] == parameter


# --- the parser under hypothesis ------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
FIELDS = ["status", "scope", "category", "patient", "dateTime", "provision", "identifier"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(field=st.sampled_from(FIELDS), value=JSON, drop=st.booleans())
def test_parser_never_raises_and_names_consent_elements(field: str, value: Any, drop: bool) -> None:
    data = consent()
    if drop:
        data.pop(field, None)
    else:
        data[field] = value
    parsed, found = fhirconsent.parse(data, "Consent", now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert (parsed is None) == bool(found)
    for issue in found:
        assert issue.expression is not None
        assert issue.expression.startswith("Consent")
    if parsed is not None:
        assert parsed.status in fhirconsent.DECISION_STATUSES
        assert parsed.purposes


@settings(max_examples=200, derandomize=True)
@given(
    status=st.sampled_from(["active", "inactive", "rejected"]),
    provision=st.sampled_from(["permit", "deny"]),
    codes=st.lists(
        st.sampled_from(sorted(set(fhirconsent.p.ACT_REASON) - {"PUBHLTH", "POPHLTH", "DISASTER", "THREAT"})),
        min_size=1,
        max_size=4,
    ),
)
def test_parser_decisions(status: str, provision: str, codes: list[str]) -> None:
    data = consent(status=status, ptype=provision)
    data["provision"]["purpose"] = [{"system": ACT_REASON, "code": c} for c in codes]
    parsed, found = fhirconsent.parse(copy.deepcopy(data))
    assert not found
    assert parsed is not None
    expected = "grant" if (status, provision) == ("active", "permit") else "withdraw"
    assert {parsed.decision_for(q) for q, _ in parsed.purposes} == {expected}
    assert len(parsed.purposes) == len({fhirconsent.p.ACT_REASON[c] for c in codes})


def test_parser_refuses_non_objects() -> None:
    assert fhirconsent.parse([1, 2])[1][0].expression == "Consent"


@pytest.mark.django_db
def test_generated_case_bundles_with_consents(users: Any, diseases: Any) -> None:
    """The cases context's generator (realistic Bundles, 60 % with a research Consent): every Consent becomes one
    decision of the Bundle's person; sending everything again records nothing new."""
    from dhnet.cases.generate import CaseGenerator

    admin = login(Client(), users["system_admin"])
    generator = CaseGenerator(7, districts=["D11", "D12", "D21"], consent_share=0.6, returning=0.0)
    bundles = list(generator.bundles(30))
    expected: dict[str, str] = {}
    for data in bundles:
        response = post(admin, "/fhir", data)
        assert response.status_code == 200, response.content[:500]
    consents = [e["resource"] for data in bundles for e in data["entry"] if e["resource"]["resourceType"] == "Consent"]
    assert consents
    rows = list(ConsentDecision.objects.all())
    assert len(rows) == len(consents)
    for row in rows:
        expected[row.fhir_id] = row.decision
        stored = StoredResource.objects.get(logical_id=row.fhir_id)
        assert stored.subject == row.pseudonym or stored.content["patient"]["identifier"]["value"] == row.pseudonym
    decisions = {"permit": "grant", "deny": "withdraw"}
    assert sorted(decisions[c["provision"]["type"]] for c in consents) == sorted(expected.values())
    for data in bundles:
        assert post(admin, "/fhir", data).status_code == 200
    assert ConsentDecision.objects.count() == len(consents)
