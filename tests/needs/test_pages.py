"""The needs pages: recording a need with the form, the ranked matches drawn as stacked bars with a table of every
part, deciding through the buttons (history shown), and the portfolio gaps page with its links."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.needs.models import MatchDecision, Need
from tests.needs.helpers import appoint, make_registry
from tests.platform.fixtures import login

FORM = {
    "country": "KE",
    "title": "Stock-outs in Kisumu",
    "challenges": ["hsc:2.1", "hsc:1.2"],
    "level": "subnational",
    "places": "Kisumu\nSiaya",
    "languages": "en, sw",
    "connectivity": "intermittent",
    "standards": ["standard:hl7-fhir", "standard:adx"],
    "budget": "100000",
    "currency": "USD",
}


@pytest.fixture
def planner(users: dict[str, User]) -> Client:
    make_registry()
    appoint(users["digital_health_planner"], "KE")
    return login(Client(), users["digital_health_planner"])


def test_record_then_see_ranked_explained_matches_and_decide(planner: Client) -> None:
    form = planner.get("/needs/new").content.decode()
    assert '<option value="KE">Kenya (KE)</option>' in form  # only the countries the planner administers
    assert 'value="hsc:2.1"' in form
    response = planner.post("/needs/new", FORM)
    assert response.status_code == 302
    need = Need.objects.get()
    assert response["Location"] == f"/needs/{need.public_id}/"
    assert need.places == ["Kisumu", "Siaya"]
    assert need.languages == ["en", "sw"]
    page = planner.get(response["Location"]).content.decode()
    order = re.findall(r'<section class="card match" id="([a-z]+-[A-Za-z0-9-]+)"', page)
    assert order == [
        "project-KE-AAAAAA",
        "product-dhis2",
        "project-UG-CCCCCC",
        "project-KE-BBBBBB",
        "product-openlmis",
        "product-closedsys",
    ]
    top = page[page.index('id="project-KE-AAAAAA"') : page.index('id="product-dhis2"')]
    assert '<span class="score">80.0</span> / 100' in top
    # the stacked bar: interventions 0.15 of 1 -> 45 px of 300, then standards 0.15 -> 45 px from x=45
    assert (
        '<rect x="0.0" width="45.0" height="18" fill="#0072B2"><title>Interventions for the challenges: 15.0 points'
        in top
    )
    assert '<rect x="45.0" width="45.0" height="18" fill="#E69F00">' in top
    assert "<td>Cost vs. budget</td><td>0.05</td><td>1.00</td><td>0.0500</td>" in top
    assert "this deployment&#x27;s cost USD 80,000, within the budget of USD 100,000" in top
    assert "Accept</button>" in top
    assert "weight 0.3 (30.0 points at most)" in page
    assert "No decision yet." in page
    decided = planner.post(
        f"/needs/{need.public_id}/decide", {"kind": "product", "ref": "dhis2", "decision": "accepted", "score": "68.3"}
    )
    assert decided["Location"] == f"/needs/{need.public_id}/#product-dhis2"
    refused = planner.post(
        f"/needs/{need.public_id}/decide", {"kind": "product", "ref": "dhis2", "decision": "rejected"}
    )
    assert refused.status_code == 400
    assert "note: required to reject a match" in refused.content.decode()
    planner.post(
        f"/needs/{need.public_id}/decide",
        {"kind": "project", "ref": "KE-BBBBBB", "decision": "annotated", "note": "pilot ends in June"},
    )
    page = planner.get(f"/needs/{need.public_id}/").content.decode()
    history = page[page.index('id="decisions"') :]
    assert history.index("DHIS2 (product)") < history.index("Project KE-BBBBBB (KE-BBBBBB)")
    assert "pilot ends in June" in history
    assert "Latest decision: <strong>Accepted</strong> by digital_health_planner" in page
    assert MatchDecision.objects.count() == 2


def test_form_errors_name_the_field_and_keep_the_values(planner: Client) -> None:
    response = planner.post("/needs/new", FORM | {"budget": "lots"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "budget: &#x27;lots&#x27; is not an amount" in page
    assert 'value="Stock-outs in Kisumu"' in page
    assert not Need.objects.exists()


def test_list_and_analytics_pages(planner: Client) -> None:
    planner.post("/needs/new", FORM)
    planner.post("/needs/new", FORM | {"title": "Follow-up", "challenges": ["hsc:5.4"], "public": "on"})
    listing = planner.get("/needs/?country=KE").content.decode()
    assert "Kenya" in listing
    assert listing.count("/needs/KE-N") == 2
    assert '<a href="/needs/analytics/KE/">portfolio gaps</a>' in listing
    assert Client().get("/needs/").content.decode().count("/needs/KE-N") == 1  # the public one only
    gaps = planner.get("/needs/analytics/KE/").content.decode()
    assert "Unfunded needs (2)" in gaps
    assert "Neglected challenges (36 of the 43)" in gaps
    follow_up = Need.objects.get(title="Follow-up").public_id
    assert f'<a href="/needs/{follow_up}/">{follow_up}</a>' in gaps
    assert planner.get("/needs/analytics/kenya/").status_code == 400


def test_anonymous_sees_a_public_need_without_buttons(planner: Client, users: dict[str, Any]) -> None:
    planner.post("/needs/new", FORM | {"public": "on"})
    need = Need.objects.get()
    page = Client().get(f"/needs/{need.public_id}/").content.decode()
    assert '<span class="score">80.0</span>' in page
    assert "Accept</button>" not in page


def test_edit_page_changes_status_and_publishes(planner: Client) -> None:
    planner.post("/needs/new", FORM)
    need = Need.objects.get()
    form = planner.get(f"/needs/{need.public_id}/edit").content.decode()
    assert 'value="Stock-outs in Kisumu"' in form
    assert "Kisumu\nSiaya</textarea>" in form
    assert 'value="en sw"' in form
    assert '<option value="open" selected>' in form
    changed = planner.post(f"/needs/{need.public_id}/edit", FORM | {"status": "addressed", "public": "on"})
    assert changed.status_code == 302
    need.refresh_from_db()
    assert (need.status, need.public) == ("addressed", True)
    refused = planner.post(f"/needs/{need.public_id}/edit", FORM | {"status": "done"})
    assert refused.status_code == 400
    assert "status: &#x27;done&#x27; is not one of open, addressed, closed" in refused.content.decode()
    assert planner.post(f"/needs/{need.public_id}/edit", FORM | {"country": "UG"}).status_code == 302  # ignored
    need.refresh_from_db()
    assert need.country == "KE"
    assert (
        f'<a href="/needs/{need.public_id}/edit">change</a>'
        in planner.get(f"/needs/{need.public_id}/").content.decode()
    )
