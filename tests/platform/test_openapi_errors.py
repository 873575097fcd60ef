"""The OpenAPI document of ``/api/v1/`` declares the error answers (found by tests/apischema: a 401, 403, 404 or
422 of any operation was an undocumented status code)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.platform.fixtures import login


def test_every_operation_that_can_fail_documents_its_errors(users: dict[str, Any]) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if operation.get("security") or operation.get("parameters") or operation.get("requestBody"):
                assert "4XX" in responses, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in responses, (method, path)
    assert set(schema["paths"]["/api/v1/health"]["get"]["responses"]) == {"200", "503"}  # public, cannot fail
    assert schema["paths"]["/api/v1/orgunits"]["get"]["responses"]["200"]  # declared answers are kept


def test_error_answers_have_the_documented_shapes(users: dict[str, Any]) -> None:
    unauthenticated = Client().get("/api/v1/me")
    assert unauthenticated.status_code == 401
    assert isinstance(unauthenticated.json()["detail"], str)
    viewer = login(Client(), users["viewer"])
    forbidden = viewer.post("/api/v1/diseases", {"code": "x", "name": "X"}, content_type="application/json")
    assert forbidden.status_code == 403
    assert set(forbidden.json()) == {"detail", "code"}
    invalid = viewer.get("/api/v1/orgunits?limit=abc")
    assert invalid.status_code == 422
    assert isinstance(invalid.json()["detail"], list)
