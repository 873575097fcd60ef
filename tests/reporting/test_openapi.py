"""The documented refusals of ``POST /api/v1/reporting/counts`` (found by tests/apischema: a body that is not JSON
answered ninja's ``{"detail"}``, a missing permission ``{"detail", "code"}``, where only the batch rejection
``{"detail", "code", "total", "errors"}`` was documented)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.platform.fixtures import login
from tests.reporting.helpers import WEEK

URL = "/api/v1/reporting/counts"


def _documented(client: Client, status: str) -> set[frozenset[str]]:
    """The sets of required properties of the answers documented for ``status``."""
    schema = client.get("/api/v1/openapi.json").json()
    answer = schema["paths"][URL]["post"]["responses"][status]["content"]["application/json"]["schema"]
    components = schema["components"]["schemas"]
    refs = [option["$ref"] for option in answer["anyOf"]]
    return {frozenset(components[ref.rsplit("/", 1)[1]]["required"]) for ref in refs}


def test_unparsable_body_and_missing_permission_are_documented(users: dict[str, Any]) -> None:
    officer = login(Client(), users["district_officer"])
    unparsable = officer.post(URL, b"\xff\x16", content_type="application/json")
    assert unparsable.status_code == 400
    assert any(required <= set(unparsable.json()) for required in _documented(officer, "400"))

    viewer = login(Client(), users["viewer"])
    body = {"rows": [{"orgunit": "D11", "disease": "measles", "period": WEEK, "cases": 1}]}
    forbidden = viewer.post(URL, body, content_type="application/json")
    assert forbidden.status_code == 403
    assert any(required <= set(forbidden.json()) for required in _documented(viewer, "403"))

    rejected = officer.post(URL, {"rows": [{**body["rows"][0], "cases": -1}]}, content_type="application/json")
    assert rejected.status_code == 400
    assert {"detail", "code", "total", "errors"} <= set(rejected.json())
