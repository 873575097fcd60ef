"""The API end to end: the worked example's figures as JSON, the same create again is the same case (200), a bad
row is a 400 whose detail names the row and field with nothing stored, uploads by body and multipart, versions,
diff and copy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.accounts.models import User
from dhnet.businesscase.models import BusinessCase, CostLine
from tests.businesscase.helpers import BENEFITS, COSTS, COSTS_CSV, FIELDS, appoint
from tests.platform.fixtures import login

pytestmark = pytest.mark.django_db
BODY = FIELDS | {"costs": COSTS, "benefits": BENEFITS}


@pytest.fixture
def client(users: dict[str, User]) -> Client:
    appoint(users["digital_health_planner"], "KE")
    return login(Client(), users["digital_health_planner"])


def _post(client: Client, url: str, body: Any, method: str = "POST") -> Any:
    return client.generic(method, url, data=json.dumps(body), content_type="application/json")


def test_create_and_figures(client: Client) -> None:
    response = _post(client, "/api/v1/business-cases", BODY)
    assert response.status_code == 201
    data = response.json()
    figures = data["figures"]
    assert (figures["pv_costs"], figures["pv_benefits"], figures["npv"]) == ("231697.44", "270553.94", "38856.49")
    assert (figures["roi"], figures["benefit_cost_ratio"]) == ("0.167704", "1.167704")
    assert (figures["payback_year"], figures["discounted_payback_year"]) == (2028, 2028)
    assert figures["years"][1]["discount_factor"] == "0.9523809524"
    assert figures["costs_by_phase"] == {
        "planning_development": "50000.00",
        "deployment": "100000.00",
        "scaling": "0.00",
        "operations": "90000.00",
    }
    assert figures["sensitivity"]["npv"][0][2][1] == "46888.15"
    assert data["costs"][0] == {
        "phase": "deployment",
        "category": "hardware",
        "year": 2025,
        "amount": "100000.00",
        "note": "servers",
    }
    again = _post(client, "/api/v1/business-cases", BODY)
    assert again.status_code == 200
    assert again.json()["public_id"] == data["public_id"]
    assert BusinessCase.objects.count() == 1
    listed = client.get("/api/v1/business-cases?country=KE").json()
    assert [c["public_id"] for c in listed] == [data["public_id"]]


def test_bad_rows_are_400_naming_them(client: Client) -> None:
    response = _post(client, "/api/v1/business-cases", BODY | {"costs": [COSTS[0], COSTS[1] | {"year": 2024}]})
    assert response.status_code == 400
    assert response.json()["detail"] == "row 2: year: 2024 is not between 2025 and 2028"
    assert not BusinessCase.objects.exists()
    public_id = _post(client, "/api/v1/business-cases", BODY).json()["public_id"]
    url = f"/api/v1/business-cases/{public_id}/lines"
    response = _post(client, url, {"benefits": [BENEFITS[0] | {"kind": "joy"}]}, "PUT")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("row 1: kind: 'joy' is not one of time_saved")
    assert _post(client, url, {}, "PUT").json()["detail"] == "body: send costs, benefits or both"
    assert client.get("/api/v1/business-cases/BC-1").status_code == 404
    assert client.get("/api/v1/business-cases/BC-222222").status_code == 404


def test_uploads_versions_diff_copy(client: Client) -> None:
    public_id = _post(client, "/api/v1/business-cases", FIELDS).json()["public_id"]
    url = f"/api/v1/business-cases/{public_id}/upload?kind=costs"
    response = client.post(url, COSTS_CSV, content_type="text/csv")
    assert response.status_code == 200
    assert response.json()["version"] == 2
    upload = SimpleUploadedFile("costs.csv", COSTS_CSV.encode(), content_type="text/csv")
    assert client.post(url, {"file": upload}).json()["version"] == 2  # the same table: no new version
    assert CostLine.objects.count() == 5
    bad = client.post(url, "phase,category,year,amount\nops,people,2025,1\n", content_type="text/csv")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("row 2: phase: 'ops' is not one of")
    assert client.post(url, {"nofile": "x"}).json()["detail"] == "file: the multipart form has no field 'file'"
    versions = client.get(f"/api/v1/business-cases/{public_id}/versions").json()
    assert [(v["version"], v["change"]) for v in versions] == [(2, "costs replaced (csv)"), (1, "created")]
    diff = client.get(f"/api/v1/business-cases/{public_id}/diff?a=1&b=2").json()
    assert {"what": "cost operations/maintenance/2027", "before": "", "after": "30000.00"} in diff
    copy = _post(client, f"/api/v1/business-cases/{public_id}/copy", {"title": "Variant", "discount_rate": "0.08"})
    assert copy.status_code == 201
    assert (copy.json()["title"], copy.json()["discount_rate"], len(copy.json()["costs"])) == ("Variant", "0.08", 5)
