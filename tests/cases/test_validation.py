"""Every validation failure of the case intake is an OperationOutcome issue naming the element; a rejected Bundle
stores nothing; jurisdiction; the HL7 R4 examples of the four resource types (accepted or refused for a reason)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dhnet.cases.generate import DEFECTS, CaseGenerator
from dhnet.cases.models import Case, LabResult
from dhnet.fhir.models import StoredResource
from tests.cases.fixtures import case_bundle, condition, issues, post, urn

EXAMPLES = Path(__file__).resolve().parents[1] / "fhir" / "data" / "r4-examples"

#: Defects whose issue sits at the generator's element or at its parent (generic validation names e.g. the
#: identifier element for a too-long value).
DEFECT_NAMES = sorted(DEFECTS)


def _nothing_stored() -> None:
    assert Case.objects.count() == 0
    assert LabResult.objects.count() == 0
    assert StoredResource.objects.count() == 0


@pytest.mark.parametrize("defect", DEFECT_NAMES)
def test_each_generated_defect_is_refused_at_its_element(defect: str, reporter: Client) -> None:
    bad = CaseGenerator(5, districts=["D11"], start=dt.date(2024, 1, 1)).invalid(3, defect)
    response = post(reporter, "/fhir", bad.bundle)
    assert 400 <= response.status_code < 500, response.content
    found = issues(response)
    assert any(path == bad.expression or path.startswith(bad.expression) for path, _ in found), (bad.expression, found)
    _nothing_stored()


@pytest.mark.parametrize(
    ("changes", "status", "path"),
    [
        ({"patient": {"gender": "F"}}, 400, "Bundle.entry[0].resource.gender"),
        ({"patient": {"birthDate": "2999-01-01"}}, 422, "Bundle.entry[0].resource.birthDate"),
        ({"patient": {"birthDate": "1850-01-01"}}, 422, "Bundle.entry[0].resource.birthDate"),
        ({"patient": {"district": "NOWHERE"}}, 422, "Bundle.entry[0].resource.address[0].district"),
        ({"condition": {"code": "XN6P4"}}, 422, "Bundle.entry[1].resource.code.coding[0].code"),
        ({"condition": {"system": "http://example.org/x"}}, 422, "Bundle.entry[1].resource.code.coding[0].system"),
        ({"condition": {"verification": "maybe"}}, 422, "Bundle.entry[1].resource.verificationStatus.coding[0].code"),
        ({"condition": {"verification": "refuted"}}, 422, "Bundle.entry[1].resource.verificationStatus"),
        ({"condition": {"onset": "1980-01-01"}}, 422, "Bundle.entry[1].resource.onset.ofType(dateTime)"),
        ({"condition": {"onset": "2999-01-01"}}, 422, "Bundle.entry[1].resource.onset.ofType(dateTime)"),
        ({"condition": {"subject": urn(99)}}, 422, "Bundle.entry[1].resource.subject.reference"),
        ({"condition": {"subject": "Patient/nope"}}, 422, "Bundle.entry[1].resource.subject.reference"),
        ({"condition": {"subject": urn(3)}}, 422, "Bundle.entry[1].resource.subject.reference"),
        ({"encounter": {"status": "done"}}, 400, "Bundle.entry[2].resource.status"),
        ({"observation": {"status": "complete"}}, 400, "Bundle.entry[3].resource.status"),
        (
            {"observation": {"code": {"coding": [{"system": "http://example.org/lab", "code": "x"}]}}},
            422,
            "Bundle.entry[3].resource.code.coding[0].system",
        ),
        (
            {"observation": {"effectiveDateTime": "2999-01-01"}},
            422,
            "Bundle.entry[3].resource.effective.ofType(dateTime)",
        ),
        ({"patient": {"district": "D21"}}, 403, "Bundle.entry[0].resource.address[0].district"),
    ],
)
def test_validation_failures_name_the_element(
    changes: dict[str, Any], status: int, path: str, reporter: Client
) -> None:
    response = post(reporter, "/fhir", case_bundle(**changes))
    assert response.status_code == status, response.content
    assert path in [p for p, _ in issues(response)], issues(response)
    _nothing_stored()


def test_a_district_officer_reports_only_in_their_district(reporter: Client) -> None:
    response = post(
        reporter,
        "/fhir",
        case_bundle(
            patient={"district": "D12"},
            encounter={
                "serviceProvider": {
                    "identifier": {"system": "https://dhnet.example/fhir/sid/orgunit-code", "value": "D12"}
                }
            },
        ),
    )
    assert response.status_code == 403
    assert "outside your jurisdiction" in issues(response)[0][1]
    _nothing_stored()


def test_a_single_condition_references_a_stored_patient(reporter: Client) -> None:
    first = post(reporter, "/fhir", case_bundle())
    patient_id = first.json()["entry"][0]["response"]["location"].split("/")[1]
    response = post(
        reporter,
        "/fhir/Condition",
        condition(f"Patient/{patient_id}", key="C-2", system="http://hl7.org/fhir/sid/icd-10", code="A00"),
    )
    assert response.status_code == 201, response.content
    assert Case.objects.count() == 2
    case = Case.objects.get(source_value="C-2")
    assert case.disease.code == "cholera"
    assert case.pseudonym == Case.objects.get(source_value="C-1").pseudonym
    assert case.age_years == 2024 - 1984 - 1 or case.age_years == 2024 - 1984  # only the birth year is stored
    again = post(
        reporter,
        "/fhir/Condition",
        condition(f"Patient/{patient_id}", key="C-2", system="http://hl7.org/fhir/sid/icd-10", code="A00"),
    )
    assert again.status_code == 200
    assert Case.objects.count() == 2
    missing = post(reporter, "/fhir/Condition", condition("Patient/unknown", key="C-3"))
    assert missing.status_code == 422
    assert issues(missing)[0][0] == "Condition.subject.reference"


def test_a_changed_resend_of_a_condition_identifier_stores_nothing(reporter: Client) -> None:
    post(reporter, "/fhir", case_bundle())
    changed = case_bundle(condition={"verification": "provisional"})
    response = post(reporter, "/fhir", changed)
    assert response.status_code == 200
    assert response.json()["entry"][1]["response"]["status"] == "200 OK"
    assert Case.objects.get().classification == "confirmed"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("patient-example.json", "address[0].district"),  # 'Rainbow' names no org unit (district required)
        ("condition-example.json", "subject.reference"),  # Patient/example is not stored here
        ("encounter-example.json", "subject.reference"),  # Patient/example is not stored here
        ("observation-example.json", "subject.reference"),  # Patient/example is not stored here
    ],
)
def test_hl7_examples_are_refused_for_a_stated_reason(name: str, reason: str, reporter: Client) -> None:
    data = json.loads((EXAMPLES / name).read_text())
    data.pop("id", None)
    response = post(reporter, f"/fhir/{data['resourceType']}", data)
    assert response.status_code == 422, response.content
    assert any(path.endswith(reason) for path, _ in issues(response)), issues(response)


def test_the_hl7_patient_example_is_accepted_with_a_district(reporter: Client) -> None:
    data = json.loads((EXAMPLES / "patient-example.json").read_text())
    for address in data["address"]:
        address["district"] = "D11"
    response = post(reporter, "/fhir/Patient", data)
    assert response.status_code == 201, response.content
    stored = response.json()
    assert "name" not in stored
    assert "telecom" not in stored
    assert "text" not in stored
    assert stored["birthDate"] == data["birthDate"][:4]


def test_a_case_belongs_to_a_reporting_unit(users: Any, diseases: Any) -> None:
    from tests.platform.fixtures import login

    national = login(Client(), users["national_epidemiologist"])
    response = post(
        national,
        "/fhir",
        case_bundle(
            patient={"district": "R1"},
            encounter={
                "serviceProvider": {
                    "identifier": {"system": "https://dhnet.example/fhir/sid/orgunit-code", "value": "R1"}
                }
            },
        ),
    )
    assert response.status_code == 422, response.content
    assert (
        "Bundle.entry[0].resource.address[0].district",
        "org unit 'R1' is not a reporting unit: a case belongs to a district that reports",
    ) in issues(response)
    _nothing_stored()


def test_a_contained_person_is_refused(reporter: Client) -> None:
    contained = [{"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Heilmann"}]}]
    response = post(
        reporter, "/fhir", case_bundle(condition={"contained": contained, "asserter": {"reference": "#dr"}})
    )
    assert response.status_code == 422, response.content
    assert "Bundle.entry[1].resource.contained[0]" in [p for p, _ in issues(response)]
    _nothing_stored()
