"""IDSR completeness and timeliness, missing reports, and the DHIS2 mappings and settings API."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from dhnet.audit.models import AuditRecord
from dhnet.orgunits import services as orgunits
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.reporting import services
from dhnet.reporting.models import DataElementMapping, Submission
from tests.platform.fixtures import actor_of, login
from tests.reporting.helpers import MONDAY, WEEK

W04 = MONDAY - dt.timedelta(weeks=1)


@pytest.fixture
def reports(tree: dict[str, OrgUnit]) -> None:
    """W04: D11 on time, D12 late, D21 on time; W05: D11 late only."""
    now = timezone.now()
    for code, week, on_time in (("D11", W04, True), ("D12", W04, False), ("D21", W04, True), ("D11", MONDAY, False)):
        Submission.objects.create(
            orgunit=tree[code], period_start=week, first_received_at=now, last_received_at=now, on_time=on_time,
            source="form",
        )  # fmt: skip


def _cells(table: services.CompletenessTable) -> dict[str, list[tuple[int, int, int]]]:
    return {r.code: [(c.expected, c.received, c.on_time) for c in r.weeks] for r in table.rows}


def test_completeness_rolls_up_the_hierarchy(reports: None, operator: Actor) -> None:
    table = services.completeness(operator, "2024-W04", WEEK, depth=2)
    assert table.labels == ["2024-W04", "2024-W05"]
    assert _cells(table) == {
        "DE": [(3, 3, 2), (3, 1, 0)],
        "R1": [(2, 2, 1), (2, 1, 0)],
        "D11": [(1, 1, 1), (1, 1, 0)],
        "D12": [(1, 1, 0), (1, 0, 0)],
        "R2": [(1, 1, 1), (1, 0, 0)],
        "D21": [(1, 1, 1), (1, 0, 0)],
    }
    de = table.rows[0]
    assert (de.weeks[0].completeness, de.weeks[0].timeliness) == (100.0, 66.7)
    assert (de.total.expected, de.total.received, de.total.on_time) == (6, 4, 2)
    shallow = services.completeness(operator, "2024-W04", WEEK, root="R1", depth=0)
    assert [r.code for r in shallow.rows] == ["R1"]
    assert AuditRecord.objects.filter(action="reporting.completeness.read").count() == 2


def test_completeness_is_limited_to_the_jurisdiction(reports: None, users: dict[str, Any]) -> None:
    regional = actor_of(users["regional_officer"])
    table = services.completeness(regional, "2024-W04", depth=5)
    assert _cells(table) == {"R1": [(2, 2, 1)], "D11": [(1, 1, 1)], "D12": [(1, 1, 0)]}
    district = actor_of(users["district_officer"])
    assert _cells(services.completeness(district, "2024-W04")) == {"D11": [(1, 1, 1)]}
    with pytest.raises(NotFound):
        services.completeness(district, "2024-W04", root="D12")
    with pytest.raises(Invalid, match="to: before from"):
        services.completeness(district, WEEK, "2024-W04")
    with pytest.raises(Invalid, match="at most 104 weeks"):
        services.completeness(district, "2020-W01", WEEK)
    with pytest.raises(Invalid, match="week:"):
        services.completeness(district, "soon")
    with pytest.raises(Forbidden):
        services.completeness(Actor.anonymous(), WEEK)


def test_a_unit_added_below_a_district_changes_the_reporting_units(reports: None, operator: Actor) -> None:
    orgunits.create_unit(operator, code="F111", name="Facility", parent_code="D11")
    table = services.completeness(operator, WEEK, root="D11", depth=1)
    assert _cells(table) == {"D11": [(1, 0, 0)], "F111": [(1, 0, 0)]}  # the facility reports now, not D11
    services.update_settings(operator, {"reporting_level": 3})
    assert _cells(services.completeness(operator, WEEK, root="D11", depth=1))["D11"] == [(1, 1, 0)]


def test_missing_reports(reports: None, operator: Actor, users: dict[str, Any]) -> None:
    missing = services.missing_reports(operator, WEEK)
    assert [(m.code, m.parent_code) for m in missing] == [("D12", "R1"), ("D21", "R2")]
    assert missing[0].deadline.date() == dt.date(2024, 2, 6)
    assert [m.code for m in services.missing_reports(operator, "2024-W04")] == []
    assert [m.code for m in services.missing_reports(actor_of(users["regional_officer"]), WEEK)] == ["D12"]
    assert [m.code for m in services.missing_reports(operator, MONDAY, root="R2")] == ["D21"]
    assert AuditRecord.objects.filter(action="reporting.missing.read").exists()


def test_completeness_and_missing_api_and_page(reports: None, users: dict[str, Any]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    body = client.get("/api/v1/reporting/completeness?from=2024-W04&to=2024-W05&depth=1").json()
    assert body["weeks"] == ["2024-W04", "2024-W05"]
    assert body["deadline_days"] == 2
    assert [r["orgunit"] for r in body["rows"]] == ["DE", "R1", "R2"]
    de = body["rows"][0]
    assert de["weeks"][0] == {
        "week": "2024-W04", "expected": 3, "received": 3, "on_time": 2, "completeness": 100.0, "timeliness": 66.7,
    }  # fmt: skip
    assert client.get("/api/v1/reporting/completeness?from=nope").status_code == 400
    assert client.get("/api/v1/reporting/completeness").status_code == 422
    missing = client.get(f"/api/v1/reporting/missing?week={WEEK}").json()
    assert missing["count"] == 2
    assert [m["orgunit"] for m in missing["items"]] == ["D12", "D21"]
    assert missing["deadline"].startswith("2024-02-06T23:59:59")
    page = client.get("/reporting/completeness/?from=2024-W04&to=2024-W05&depth=2")
    assert page.status_code == 200
    assert b"66.7%" in page.content
    assert b"District 21" in page.content
    assert client.get("/reporting/completeness/?from=xyz").status_code == 400
    district = login(Client(), users["district_officer"])
    assert district.get("/api/v1/reporting/completeness?from=2024-W04&orgunit=D21").status_code == 404


# --- mappings and settings ------------------------------------------------------------------------------------------


def test_mappings_api(users: dict[str, Any]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    created = client.post(
        "/api/v1/reporting/mappings",
        data=json.dumps({"data_element": "YellowFev01", "disease": "yellow_fever"}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    mapping_id = created.json()["id"]
    assert created.json()["measure"] == "cases"
    dup = client.post(
        "/api/v1/reporting/mappings",
        data=json.dumps({"data_element": "YellowFev01", "disease": "measles"}),
        content_type="application/json",
    )
    assert dup.status_code == 409
    for body, message in (
        ({"disease": "measles"}, "data_element: give"),
        ({"data_element": "x", "disease": "nope"}, "disease: unknown disease 'nope'"),
        ({"data_element": "x", "disease": "measles", "measure": "births"}, "measure:"),
    ):
        bad = client.post("/api/v1/reporting/mappings", data=json.dumps(body), content_type="application/json")
        assert bad.status_code == 400, bad.json()
        assert bad.json()["detail"].startswith(message), bad.json()
    patched = client.patch(
        f"/api/v1/reporting/mappings/{mapping_id}",
        data=json.dumps({"measure": "deaths"}),
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["measure"] == "deaths"
    assert [m["id"] for m in client.get("/api/v1/reporting/mappings").json()] == [mapping_id]
    assert client.delete(f"/api/v1/reporting/mappings/{mapping_id}").status_code == 204
    assert not DataElementMapping.objects.exists()
    assert AuditRecord.objects.filter(action__startswith="reporting.mapping.").count() == 3


def test_mappings_and_settings_pages(users: dict[str, Any]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    assert (
        client.post(
            "/reporting/mappings/new/", {"data_element": "Rabies00001", "disease": "rabies", "measure": "cases"}
        ).status_code
        == 302
    )
    page = client.get("/reporting/mappings/")
    assert b"Rabies00001" in page.content
    bad = client.post(
        "/reporting/mappings/new/", {"data_element": "Rabies00001", "disease": "rabies", "measure": "cases"}
    )
    assert bad.status_code == 409
    assert b"mapped already" in bad.content
    assert client.post("/reporting/settings/update/", {"deadline_days": "3", "reporting_level": ""}).status_code == 302
    assert services.reporting_settings().deadline_days == 3
    assert b"on day 3" in client.get("/reporting/settings/").content
    bad = client.post("/reporting/settings/update/", {"deadline_days": "99"})
    assert bad.status_code == 400
    assert b"deadline_days" in bad.content
    api = client.patch(
        "/api/v1/reporting/settings", data=json.dumps({"reporting_level": 3}), content_type="application/json"
    )
    assert api.json() == {"deadline_days": 3, "reporting_level": 3}
    officer = login(Client(), users["district_officer"])
    assert b"Save" not in officer.get("/reporting/settings/").content  # read-only for data entry
