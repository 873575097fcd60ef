"""POST /fhir with transaction (all or nothing) and batch (entry by entry) Bundles of MeasureReports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.diseases.models import Disease
from dhnet.fhir.models import StoredResource
from dhnet.fhir.validation import validate
from dhnet.reporting.models import CountValue, ImportBatch
from tests.fhir.fixtures import group, post, report
from tests.platform.fixtures import login


def bundle(resources: list[dict[str, Any]], btype: str = "transaction", **request: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": btype,
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                "resource": resource,
                "request": {"method": "POST", "url": "MeasureReport", **request},
            }
            for i, resource in enumerate(resources)
        ],
    }


@pytest.fixture
def regional(users: dict[str, User], diseases: dict[str, Disease]) -> Client:
    return login(Client(), users["regional_officer"])


def _five() -> list[dict[str, Any]]:
    """D11 and D12 (region R1) for two weeks, and one more for D11."""
    weeks = [(dt.date(2024, 1, 22), dt.date(2024, 1, 28)), (dt.date(2024, 1, 29), dt.date(2024, 2, 4))]
    resources = [report(unit, period=week) for unit in ("D11", "D12") for week in weeks]
    resources.append(report("D11", groups=[group("http://hl7.org/fhir/sid/icd-10", "B05", 12, 1)], identifier="x"))
    return resources


def test_transaction_stores_everything(regional: Client) -> None:
    resources = _five()
    resources[4]["period"] = {"start": "2024-01-15", "end": "2024-01-21"}
    response = post(regional, "/fhir", bundle(resources))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resourceType"] == "Bundle"
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 5
    assert all(e["response"]["location"].startswith("MeasureReport/") for e in body["entry"])
    assert StoredResource.objects.count() == 5
    assert ImportBatch.objects.count() == 1  # one batch per transaction
    assert CountValue.objects.count() == 4 * 4 + 2
    # The same transaction again: nothing new, every entry 200.
    again = post(regional, "/fhir/", bundle(resources)).json()
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK"] * 5
    assert StoredResource.objects.count() == 5
    assert ImportBatch.objects.count() == 1


def test_transaction_is_all_or_nothing(regional: Client) -> None:
    resources = _five()
    resources[3]["group"][0]["population"][0]["count"] = -4
    response = post(regional, "/fhir", bundle(resources))
    assert response.status_code == 422
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    expressions = [i["expression"][0] for i in body["issue"]]
    assert "Bundle.entry[3].resource.group[0].population[0].count" in expressions
    # entry 4 repeats entry 0's week for measles with the same values but is fine; nothing stored at all:
    assert not StoredResource.objects.exists()
    assert not CountValue.objects.exists()
    assert not ImportBatch.objects.exists()


def test_transaction_generic_errors_and_conflicts(regional: Client) -> None:
    resources = _five()
    resources[1]["status"] = "done"
    resources[2]["group"][0]["population"] = "many"
    response = post(regional, "/fhir", bundle(resources))
    assert response.status_code == 400
    expressions = {i["expression"][0] for i in response.json()["issue"]}
    assert {"Bundle.entry[1].resource.status", "Bundle.entry[2].resource.group[0].population"} <= expressions
    # Two entries giving different counts for the same cell.
    resources = _five()
    resources[4]["group"] = [group(cases=13)]
    conflict = post(regional, "/fhir", bundle(resources))
    assert conflict.status_code == 422
    issue = conflict.json()["issue"][0]
    assert issue["code"] == "conflict"
    assert issue["expression"] == ["Bundle.entry[4].resource.group[0].population[0].count"]
    assert not CountValue.objects.exists()


def test_transaction_jurisdiction(users: dict[str, User], diseases: dict[str, Disease]) -> None:
    officer = login(Client(), users["district_officer"])
    response = post(officer, "/fhir", bundle(_five()))  # D12 is not the officer's
    assert response.status_code == 403
    issues = response.json()["issue"]
    assert {i["expression"][0] for i in issues} == {
        "Bundle.entry[2].resource.subject.identifier.value",
        "Bundle.entry[3].resource.subject.identifier.value",
    }
    assert not StoredResource.objects.exists()


@pytest.mark.parametrize(
    ("mutate", "status", "expression"),
    [
        (lambda b: b["entry"][1]["request"].update(method="PUT"), 422, "Bundle.entry[1].request.method"),
        (lambda b: b["entry"][1]["request"].update(url="Patient"), 400, "Bundle.entry[1].request.url"),
        (lambda b: b["entry"][1].pop("request"), 400, "Bundle.entry[1]"),
        (lambda b: b["entry"][0]["resource"].update(resourceType="Patient"), 400, "Bundle.entry[0].request.url"),
        (lambda b: b.update(type="collection"), 422, "Bundle.type"),
        (lambda b: b["entry"][1].update(fullUrl="MeasureReport/1"), 400, "Bundle.entry[1].fullUrl"),
        (lambda b: b["entry"][1]["request"].update(ifNoneExist="x=1"), 400, "Bundle.entry[1].request.ifNoneExist"),
    ],
)
def test_transaction_request_errors(regional: Client, mutate: Any, status: int, expression: str) -> None:
    data = bundle(_five())
    mutate(data)
    response = post(regional, "/fhir", data)
    assert response.status_code == status, response.content
    assert expression in [i.get("expression", [None])[0] for i in response.json()["issue"]]
    assert not StoredResource.objects.exists()


def test_transaction_if_none_exist(regional: Client) -> None:
    assert post(regional, "/fhir/MeasureReport", report(identifier="w5")).status_code == 201
    data = bundle([report(identifier="w5", groups=[group(cases=40)])], ifNoneExist="identifier=w5")
    body = post(regional, "/fhir", data).json()
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert CountValue.objects.get(disease__code="measles", measure="cases").value == 12


def test_batch_answers_entry_by_entry(regional: Client) -> None:
    resources = _five()
    resources[1]["group"][0]["code"]["coding"][0]["code"] = "NOPE"
    resources[2]["colour"] = "red"
    resources[3]["subject"]["identifier"]["value"] = "D21"  # region 2: not the regional officer's
    response = post(regional, "/fhir", bundle(resources, "batch"))
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "400 Bad Request", "403 Forbidden", "201 Created"]
    bad = body["entry"][1]["response"]["outcome"]["issue"][0]
    assert bad["expression"] == ["Bundle.entry[1].resource.group[0].code.coding[0].code"]
    assert body["entry"][2]["response"]["outcome"]["issue"][0]["expression"] == ["Bundle.entry[2].resource.colour"]
    assert StoredResource.objects.count() == 2


def test_not_a_bundle(regional: Client) -> None:
    response = post(regional, "/fhir", report())
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "invalid"
    assert post(regional, "/fhir", {"resourceType": "Bundle"}).status_code == 400
    empty = post(regional, "/fhir", {"resourceType": "Bundle", "type": "transaction"}).json()
    assert empty["type"] == "transaction-response"
    assert "entry" not in empty


def test_responses_are_valid_fhir(regional: Client) -> None:
    resources = _five()
    resources[1]["status"] = "pending"
    for btype in ("transaction", "batch"):
        body = post(regional, "/fhir", bundle(resources, btype)).json()
        assert validate(body).ok, (btype, [i.message() for i in validate(body).issues])
