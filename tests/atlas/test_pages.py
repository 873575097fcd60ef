"""The registry's pages: what a project page shows, the forms (errors named, values kept), history and diff."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dhnet.atlas import services
from dhnet.atlas.models import CountryAdmin, Project
from dhnet.platform.access import Actor
from tests.atlas.helpers import make_world, project_payload
from tests.platform.fixtures import actor_of, login


@pytest.fixture
def world(operator: Actor, users: dict[str, Any]) -> dict[str, Any]:
    world = make_world(operator)
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="DE")
    partner, planner = actor_of(users["partner"]), actor_of(users["digital_health_planner"])
    budget = project_payload()["budget"] + [
        {"phase": "deployment", "funder": "gf", "year": 2022, "amount": "30000.00", "currency": "USD", "note": ""},
        {"phase": "operations", "funder": None, "year": 2022, "amount": "20000.00", "currency": "USD", "note": ""},
    ]
    project = services.create_project(partner, project_payload(budget=budget))
    for step in (services.submit, services.approve, services.publish):
        step(partner if step is services.submit else planner, project.public_id)
    world.update(pid=project.public_id, partner=partner, planner=planner)
    return world


def test_project_page_shows_everything(world: dict[str, Any], users: dict[str, Any]) -> None:
    page = Client().get(f"/atlas/projects/{world['pid']}/").content.decode()
    for text in ("National HMIS", "Germany", "At scale", "DHIS2", "University of Oslo", "Global Fund"):
        assert text in page, text
    assert "District 11" in page  # coverage by org unit, with its name
    assert "Old HMIS" in page  # an interoperability link to a named system
    assert 'id="budget-USD"' in page
    assert 'id="budget-EUR"' in page
    assert "150,000.00" in page  # USD deployment 2021 + 2022
    assert "170,000.00" in page  # USD grand total
    assert '<svg class="metric-chart"' in page
    assert "ada@example.org" not in page  # the contact e-mail is for signed-in users
    signed_in = login(Client(), users["viewer"]).get(f"/atlas/projects/{world['pid']}/").content.decode()
    assert "ada@example.org" in signed_in


def test_published_edit_awaits_approval_and_page_shows_the_published_version(
    world: dict[str, Any], users: dict[str, Any]
) -> None:
    client = login(Client(), users["partner"])
    form = client.get(f"/atlas/projects/{world['pid']}/edit/")
    assert form.status_code == 200
    values = {
        "name": "National HMIS",
        "country": "DE",
        "stage": "pilot",
        "products": "dhis2",
        "summary": "back to pilot",
        "budget": json.dumps(project_payload()["budget"]),
    }
    response = client.post(f"/atlas/projects/{world['pid']}/edit/", values)
    assert response.status_code == 302
    assert Project.objects.get(public_id=world["pid"]).status == "submitted"
    public = Client().get(f"/atlas/projects/{world['pid']}/").content.decode()
    assert "At scale" in public
    assert "last published version" in public
    own = client.get(f"/atlas/projects/{world['pid']}/").content.decode()
    assert "Pilot" in own
    assert "submitted" in own
    queue = login(Client(), users["digital_health_planner"]).get("/atlas/review/").content.decode()
    assert world["pid"] in queue


def test_form_errors_name_the_field_and_keep_the_values(world: dict[str, Any], users: dict[str, Any]) -> None:
    client = login(Client(), users["partner"])
    bad_json = client.post("/atlas/projects/new/", {"name": "Mine", "country": "DE", "budget": "[{"})
    assert bad_json.status_code == 400
    page = bad_json.content.decode()
    assert "budget: not valid JSON" in page
    assert 'value="Mine"' in page
    bad_year = [{"phase": "deployment", "year": 1890, "amount": "1.00", "currency": "USD"}]
    response = client.post("/atlas/projects/new/", {"name": "Mine", "country": "DE", "budget": json.dumps(bad_year)})
    assert response.status_code == 400
    assert "budget[0].year: 1890 is before 1990" in response.content.decode()
    assert not Project.objects.filter(name="Mine").exists()
    links = client.post("/atlas/projects/new/", {"name": "Mine", "country": "DE", "links": "just-a-word"})
    assert "links: line 1" in links.content.decode()


def test_history_and_diff_pages(world: dict[str, Any], users: dict[str, Any]) -> None:
    services.update_project(world["planner"], world["pid"], {"stage": "institutionalised", "funders": []})
    client = login(Client(), users["partner"])
    history = client.get(f"/atlas/projects/{world['pid']}/history/").content.decode()
    for summary in ("created", "submit", "approve", "publish", "edited"):
        assert summary in history
    diff = client.get(f"/atlas/projects/{world['pid']}/diff/?a=1&b=5").content.decode()
    assert "institutionalised" in diff
    assert "− gf" in diff
    assert "status" in diff
    assert client.get(f"/atlas/projects/{world['pid']}/diff/?a=x&b=1").status_code == 400
    assert client.get(f"/atlas/projects/{world['pid']}/diff/?a=1&b=99").status_code == 404
    public = Client().get(f"/atlas/projects/{world['pid']}/history/").content.decode()
    assert "created" not in public  # the public sees the published versions only


def test_workflow_buttons_and_refusals(world: dict[str, Any], users: dict[str, Any]) -> None:
    planner = login(Client(), users["digital_health_planner"])
    page = planner.get(f"/atlas/projects/{world['pid']}/").content.decode()
    assert 'value="archive"' in page
    assert 'value="return"' in page
    assert 'value="approve"' not in page
    missing_reason = planner.post(f"/atlas/projects/{world['pid']}/workflow/", {"action": "archive", "note": ""})
    assert missing_reason.status_code == 400
    assert "reason: required" in missing_reason.content.decode()
    wrong_state = planner.post(f"/atlas/projects/{world['pid']}/workflow/", {"action": "publish"})
    assert wrong_state.status_code == 409
    unknown = planner.post(f"/atlas/projects/{world['pid']}/workflow/", {"action": "explode"})
    assert unknown.status_code == 400
    partner_page = login(Client(), users["partner"]).get(f"/atlas/projects/{world['pid']}/").content.decode()
    assert 'value="archive"' not in partner_page


def test_product_pages(world: dict[str, Any], users: dict[str, Any]) -> None:
    page = Client().get("/atlas/products/dhis2/").content.decode()
    assert "BSD-3-Clause" in page
    assert "National HMIS" in page
    assert "standard:adx" in page
    client = login(Client(), users["partner"])
    bad = client.post("/atlas/products/new/", {"slug": "x", "name": "X", "languages": "klingon"})
    assert bad.status_code == 400
    assert "languages[0]" in bad.content.decode()
    listing = Client().get("/atlas/products/?q=dhis").content.decode()
    assert "DHIS2" in listing


def test_country_admin_page(world: dict[str, Any], users: dict[str, Any]) -> None:
    client = login(Client(), users["knowledge_manager"])
    refused = client.post("/atlas/admins/", {"username": "viewer", "country": "KE"})
    assert refused.status_code == 400
    assert "does not hold" in refused.content.decode()
    assert client.post("/atlas/admins/", {"username": "digital_health_planner", "country": "KE"}).status_code == 302
    page = client.get("/atlas/admins/").content.decode()
    assert "KE" in page
    assert "digital_health_planner" in page


def test_navigation_offers_my_projects_and_the_review_queue(world: dict[str, Any], users: dict[str, Any]) -> None:
    planner = login(Client(), users["digital_health_planner"]).get("/atlas/products/").content.decode()
    assert "/atlas/mine/" in planner
    assert "/atlas/review/" in planner
    partner = login(Client(), users["partner"]).get("/atlas/mine/").content.decode()
    assert world["pid"] in partner
    assert "Registry review" not in partner  # the partner approves nothing
    assert "My registry projects" not in Client().get("/atlas/products/").content.decode()
