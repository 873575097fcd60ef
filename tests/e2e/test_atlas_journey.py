"""The atlas journey in a real browser (Debian's chromium, Playwright) against ``dhnet serve`` on loopback.

A partner registers a deployment through the registry's pages and submits it; the ministry planner, appointed
administrator of the country, approves and publishes it from the review queue; the deployment then shows on the
public map (its country counted and coloured) and in the public search; the planner records a need whose
health-system challenge the deployment's intervention addresses and sees the deployment and its product among the
need's ranked matches, each with the parts of its score explained.

The deployment is tagged in CDISAH 2023 codes (``cdhi-2023:3.3.1``) while the challenge -> intervention table of
the matching is written in CDHI v1 codes (``hsc:1.2`` -> ``cdhi-v1:3.3.1``): the match exists only through the
taxonomy's crosswalk.

The server is this module's own (migrate + a few users, one organisation and one product; no demo data), so the
test is quick and does not depend on the database the rest of the suite runs on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import launched_chromium, throwaway_site

PASSWORD = "correct horse battery staple 42"
COUNTRY = "KE"
PROJECT = "Kisumu notifiable disease alerts (e2e)"
PRODUCT = "Notifyr (e2e)"
NEED = "Late notification of outbreaks in Kisumu (e2e)"
SETUP = f"""
import django
django.setup()
from dhnet.accounts import services as accounts
from dhnet.atlas import services as atlas
from dhnet.network import services as network
from dhnet.orgunits import services as orgunits
operator = accounts.operator_actor("cli:e2e")
orgunits.create_unit(operator, code="KE", name="Kenya", parent_code=None, population=54000000)
orgunits.create_unit(operator, code="KE-42", name="Kisumu", parent_code="KE", population=1200000)
accounts.create_user(operator, "partner1", role="partner", orgunit_code="KE", password={PASSWORD!r})
accounts.create_user(operator, "planner1", role="digital_health_planner", orgunit_code="KE", password={PASSWORD!r})
atlas.appoint_country_admin(operator, "planner1", {COUNTRY!r})
network.create_organisation(
    operator, {{"slug": "kisumu-health", "name": "Kisumu County Health (e2e)", "kind": "member_state",
               "countries": ["KE"]}}
)
atlas.create_product(
    operator,
    {{"slug": "notifyr", "name": {PRODUCT!r}, "licence": "Apache-2.0", "open_source": True,
      "maturity": "mature", "standards": ["standard:hl7-fhir"], "interventions": ["cdhi-v1:3.3.1"],
      "languages": ["en", "sw"], "offline": True}},
)
print("ok")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_site(tmp_path_factory.mktemp("atlas-e2e"), SETUP) as url:
        yield url


@pytest.fixture(scope="module")
def browser(site: str, playwright_driver: Any) -> Iterator[Any]:
    with launched_chromium(playwright_driver) as chromium:
        yield chromium


def _sign_in(browser: Any, site: str, username: str) -> Any:
    """A fresh browser context signed in as ``username`` through the login page; returns its page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login" not in page.url, f"{username} could not sign in"
    return page


def _fill(page: Any, name: str, value: str) -> None:
    """Fill the form field called ``name`` (input, textarea or select) in the page's main form."""
    field = page.locator(f"main [name={name}]").first
    tag = field.evaluate("e => e.tagName.toLowerCase()")
    if tag == "select":
        field.select_option(value)
    else:
        field.fill(value)


def _click(page: Any, label: str) -> None:
    """Press the button (or submit input) labelled ``label`` in the page's main content and wait for the page."""
    page.locator(f"main button:has-text({label!r}), main input[type=submit][value={label!r}]").first.click()
    page.wait_for_load_state()


def test_register_approve_map_search_and_match(site: str, browser: Any) -> None:
    # 1. A partner registers the deployment through the registry's form and submits it for approval.
    partner = _sign_in(browser, site, "partner1")
    partner.goto(f"{site}/atlas/projects/new/")
    _fill(partner, "name", PROJECT)
    _fill(partner, "country", COUNTRY)
    _fill(partner, "stage", "scale")
    _fill(partner, "products", "notifyr")
    _fill(partner, "interventions", "cdhi-2023:3.3.1")
    _fill(partner, "implementers", "kisumu-health")
    _click(partner, "Register")
    match = re.search(r"/atlas/projects/(KE-[A-Z0-9]{6})/", partner.url)
    assert match, f"not on the new project's page: {partner.url}"
    public_id = match.group(1)
    assert PROJECT in partner.locator("main h1").inner_text()
    assert partner.locator("#status").inner_text() == "draft"
    _click(partner, "Submit for approval")
    assert partner.locator("#status").inner_text() == "submitted"
    partner.context.close()

    # Not yet public: the map and the search of an anonymous visitor do not show it.
    visitor = browser.new_context().new_page()
    visitor.goto(f"{site}/atlas/?q=Kisumu")
    assert visitor.locator(f"#atlas-results li[data-project={public_id}]").count() == 0
    assert visitor.goto(f"{site}/atlas/projects/{public_id}/").status == 404

    # 2. The planner, administrator of KE, finds it in the review queue, approves and publishes it.
    planner = _sign_in(browser, site, "planner1")
    planner.goto(f"{site}/atlas/review/")
    planner.click(f"main a[href='/atlas/projects/{public_id}/']")
    planner.wait_for_load_state()
    assert planner.locator("#status").inner_text() == "submitted"
    _click(planner, "Approve")
    assert planner.locator("#status").inner_text() == "approved"
    _click(planner, "Publish")
    assert planner.locator("#status").inner_text() == "published"

    # 3. On the public map: Kenya counted and coloured (class c0 is "no project"); in the public search, also
    # through the crosswalk (the filter names the v1 code, the project carries the 2023 one).
    visitor.goto(f"{site}/atlas/map/")
    # The table sits in a closed <details> (the map comes first): read its text, not what is rendered.
    assert visitor.locator("#country-table tr[data-country=KE] td.num").text_content() == "1"
    kenya = visitor.locator("#world a[data-code=KE] path").first
    assert kenya.get_attribute("class") != "c0"
    assert kenya.locator("title").text_content() == "Kenya: 1 project"
    visitor.goto(f"{site}/atlas/?q=Kisumu")
    assert visitor.locator(f"#atlas-results li[data-project={public_id}]").count() == 1
    visitor.goto(f"{site}/atlas/?intervention=cdhi-v1:3.3.1")
    assert visitor.locator(f"#atlas-results li[data-project={public_id}]").count() == 1
    assert visitor.goto(f"{site}/atlas/projects/{public_id}/").status == 200
    visitor.context.close()

    # 4. The planner records a need (late notification: health-system challenge hsc:1.2) and sees the deployment
    # and its product among the ranked matches, each with its explained parts.
    planner.goto(f"{site}/needs/new")
    _fill(planner, "country", COUNTRY)
    _fill(planner, "title", NEED)
    _fill(planner, "challenges", "hsc:1.2")
    _fill(planner, "languages", "sw")
    _fill(planner, "connectivity", "intermittent")
    _click(planner, "Record the need")
    assert planner.locator("main h1").inner_text() == NEED
    deployment = planner.locator(f"section.match#project-{public_id}")
    product = planner.locator("section.match#product-notifyr")
    assert deployment.count() == 1, planner.locator("main").inner_text()
    assert product.count() == 1
    assert PROJECT in deployment.locator("h3").inner_text()
    assert PRODUCT in product.locator("h3").inner_text()
    for candidate in (deployment, product):
        parts = candidate.locator("table.parts tbody tr")
        assert parts.count() >= 6  # every part of the score shown, with its weight, value, points and reason
        score = float(candidate.locator(".score").inner_text())
        points = sum(float(row.locator("td").nth(3).inner_text()) for row in parts.all())
        assert score == pytest.approx(100 * points, abs=0.1)  # the score is the sum of its parts
    why = deployment.locator("table.parts").inner_text()
    assert "hsc:1.2 via cdhi-2023:3.3.1" in why  # the v1 challenge table reached the 2023 tag by the crosswalk
    assert "works offline" in why
    ranked = planner.locator("section.match").evaluate_all("els => els.map(e => e.id)")
    assert ranked.index(f"project-{public_id}") < 5
    planner.context.close()
