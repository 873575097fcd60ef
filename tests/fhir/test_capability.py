"""GET /fhir/metadata (a CapabilityStatement that the R4B models accept) and the OpenAPI document of /fhir."""

from __future__ import annotations

from typing import Any

from django.test import Client
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from dhnet.fhir.registry import HANDLERS
from dhnet.fhir.validation import validate


def test_capability_statement(db: Any) -> None:
    response = Client().get("/fhir/metadata", HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    data = response.json()
    statement = CapabilityStatement.model_validate(data)  # fhir.resources itself
    assert statement.fhirVersion == "4.0.1"
    assert statement.kind == "instance"
    assert "json" in statement.format
    assert validate(data).ok
    rest = data["rest"][0]
    assert rest["mode"] == "server"
    assert "Bearer" in rest["security"]["description"]
    assert {"MeasureReport", "Patient", "Encounter", "Condition", "Observation"} <= {
        r["type"] for r in rest["resource"]
    }
    by_type = {r["type"]: r for r in rest["resource"]}
    report = by_type["MeasureReport"]
    assert [i["code"] for i in report["interaction"]] == ["create", "read", "vread"]
    assert report["conditionalCreate"] is True
    audit = by_type["AuditEvent"]  # searched, never written through FHIR
    assert [i["code"] for i in audit["interaction"]] == ["search-type"]
    assert {p["name"] for p in audit["searchParam"]} >= {"patient", "agent", "date", "action"}
    assert [r["type"] for r in rest["resource"]] == sorted(by_type)
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch"]
    assert data["implementation"]["url"] == "http://testserver/fhir/"


def test_openapi_document(db: Any) -> None:
    schema = Client().get("/fhir/openapi.json").json()
    assert schema["info"]["title"] == "dhnet FHIR R4"
    paths = schema["paths"]
    expected = {"/fhir/", "/fhir/metadata"}
    for rtype in HANDLERS:
        expected |= {
            f"/fhir/{rtype}",
            f"/fhir/{rtype}/{{logical_id}}",
            f"/fhir/{rtype}/{{logical_id}}/_history/{{vid}}",
        }
    assert expected <= set(paths)  # other contexts add searches (e.g. /fhir/AuditEvent)
    create = paths["/fhir/MeasureReport"]["post"]
    assert "application/fhir+json" in create["requestBody"]["content"]
    assert "application/fhir+json" in create["responses"]["201"]["content"]
    assert Client().get("/fhir/docs").status_code == 200


def test_unknown_paths_and_methods_answer_operation_outcomes(db: Any) -> None:
    client = Client()
    missing = client.get("/fhir/Basic/1")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    wrong = client.delete("/fhir/metadata")
    assert wrong.status_code == 405
    assert wrong.json()["issue"][0]["code"] == "not-supported"
