"""The maturity journey in a real browser (Debian's chromium, Playwright) against ``dhnet serve`` on loopback.

A ministry planner, administrator of Ghana, opens Ghana's 2025 assessment and invites a focal point; the focal
point, without an account, fills every indicator through the link and adds evidence; the planner submits; an
expert reviewer comments on an indicator; the planner may not approve what they submitted (four eyes); a second
administrator of Ghana approves and publishes; the public profile then shows the published radar with the
component scores computed by hand below, and the comparison and the map place Ghana in its phase.

The server is this module's own (migrate + four users and two appointments; no demo data), so the test is quick
and does not depend on the database the rest of the suite runs on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, launched_chromium, throwaway_site

PASSWORD = "correct horse battery staple 42"
COUNTRY, YEAR = "GH", "2025"
SCREENSHOTS = ROOT / "var" / "e2e"
SETUP = f"""
import django
django.setup()
from dhnet.accounts import services as accounts
from dhnet.atlas import services as atlas
from dhnet.orgunits import services as orgunits
operator = accounts.operator_actor("cli:e2e")
orgunits.create_unit(operator, code="GH", name="Ghana", parent_code=None, population=34000000)
for name, role in (("planner1", "digital_health_planner"), ("planner2", "digital_health_planner"),
                   ("expert1", "expert_reviewer")):
    accounts.create_user(operator, name, role=role, orgunit_code="GH", password={PASSWORD!r})
atlas.appoint_country_admin(operator, "planner1", {COUNTRY!r})
atlas.appoint_country_admin(operator, "planner2", {COUNTRY!r})
print("ok")
"""

#: The focal point's answers (gdhm-current). Components by hand (top-level indicators only; -1 left out):
#: C1 Leadership & Governance (1-4: 3, 4, 2, 3) = 3.0; C2 Strategy & Investment (5, 6: -1, -1) no score;
#: C3 Legislation (7-10: 2, 3, 3, 2) = 2.5; C4 Workforce (11-14: 4, 4, 4, 3) = 3.75; C5 Standards (15, 16: 1, 2)
#: = 1.5; C6 Infrastructure (17, 18: 5, 5) = 5.0; C7 Services (19-23: 2, 2, 3, 3, 2) = 2.4.
#: Overall (3 + 2.5 + 3.75 + 1.5 + 5 + 2.4) / 6 = 3.025 -> 3.0 -> phase 3. Sub-indicators (answered 5) do not count.
ANSWERS = {
    **dict(zip(("1", "2", "3", "4"), (3, 4, 2, 3), strict=True)),
    "5": -1,
    "6": -1,
    **dict(zip(("7", "8", "9", "10"), (2, 3, 3, 2), strict=True)),
    **dict(zip(("11", "12", "13", "14"), (4, 4, 4, 3), strict=True)),
    "15": 1,
    "16": 2,
    "17": 5,
    "18": 5,
    **dict(zip(("19", "20", "21", "22", "23"), (2, 2, 3, 3, 2), strict=True)),
    **dict.fromkeys(("2a", "4a", "5a", "6a", "9a", "21a", "21b", "21c"), 5),
}
RADAR = {
    "Leadership & Governance": "3.0",
    "Legislation, Policy, & Compliance": "2.5",
    "Workforce": "3.8",  # 3.75 shown with one decimal
    "Standards & Interoperability": "1.5",
    "Infrastructure": "5.0",
    "Services & Applications": "2.4",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_site(tmp_path_factory.mktemp("maturity-e2e"), SETUP) as url:
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


def _press(page: Any, label: str) -> Any:
    """Press the button labelled ``label`` in the page's main content; the response of the navigation."""
    with page.expect_navigation() as navigation:
        page.locator(f"main button:has-text({label!r})").first.click()
    return navigation.value


def test_assess_review_approve_publish_and_see_the_radar(site: str, browser: Any) -> None:
    # 1. The planner opens Ghana's 2025 assessment and invites a focal point: the link is shown once.
    planner = _sign_in(browser, site, "planner1")
    planner.goto(f"{site}/maturity/assessments/")
    form = planner.locator("main form[action='/maturity/assessments/new/']")
    form.locator("input[name=country]").fill(COUNTRY)
    form.locator("input[name=year]").fill(YEAR)
    with planner.expect_navigation():
        form.locator("button[type=submit]").click()
    match = re.search(r"/maturity/assessments/(MA-[A-Z0-9]{6})/", planner.url)
    assert match, f"not on the new assessment's page: {planner.url}"
    pid = match.group(1)
    assert planner.locator("#status").inner_text() == "Draft"
    invite = planner.locator("#links form")
    invite.locator("input[name=name]").fill("Ama Mensah")
    invite.locator("input[name=email]").fill("ama.mensah@example.org")
    with planner.expect_navigation():
        invite.locator("button[type=submit]").click()
    link = planner.locator("#link").inner_text().strip()
    assert "/maturity/fill/" in link

    # Not public yet: the profile has no published assessment, the draft is 404 to a visitor.
    visitor = browser.new_context().new_page()
    visitor.goto(f"{site}/maturity/countries/{COUNTRY}/")
    assert visitor.locator("#empty").count() == 1
    assert visitor.goto(f"{site}/maturity/assessments/{pid}/").status == 404

    # 2. The focal point, without an account, fills every indicator through the link and adds evidence.
    focal = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    focal.goto(link if link.startswith("http") else f"{site}{link}")
    assert focal.locator("#status").inner_text() == "Draft"
    for code, phase in ANSWERS.items():
        focal.locator(f"input[name='phase_{code}'][value='{phase}']").check()
    focal.locator("textarea[name=note_1]").fill("The digital health unit meets monthly.")
    response = _press(focal, "Save answers")
    assert response.status == 200
    assert "23 of 23 answered" in focal.locator("#progress").inner_text()  # the top-level indicators
    evidence = focal.locator("#i-1 form[enctype='multipart/form-data']")
    focal.locator("#i-1 details summary").first.click()
    evidence.locator("select[name=kind]").select_option("text")
    evidence.locator("input[name=text]").fill("Terms of reference of the digital health unit, 2024")
    with focal.expect_navigation():
        evidence.locator("button[type=submit]").click()
    assert "Terms of reference of the digital health unit" in focal.locator("#i-1").inner_text()
    assert "focal point ama.mensah@example.org" in focal.locator("#i-1").inner_text()
    focal.context.close()

    # 3. The planner submits.
    planner.goto(f"{site}/maturity/assessments/{pid}/")
    _press(planner, "Submit for review")
    assert planner.locator("#status").inner_text() == "Submitted for review"

    # 4. The expert reviewer comments on indicator 1.
    expert = _sign_in(browser, site, "expert1")
    expert.goto(f"{site}/maturity/assessments/{pid}/")
    comment = expert.locator("#i-1 form[action$='/comments/']")
    comment.locator("input[name=text]").fill("Is the unit's mandate written down? Phase 3 looks right.")
    with expert.expect_navigation():
        comment.locator("button[type=submit]").click()
    assert "Is the unit's mandate written down?" in expert.locator("#i-1").inner_text()
    expert.context.close()

    # 5. Four eyes: the planner who submitted may not approve; a second administrator of Ghana approves, publishes.
    planner.goto(f"{site}/maturity/assessments/{pid}/")
    if planner.locator("main button[value=approve]").count():
        with planner.expect_navigation() as refused:
            planner.locator("main button[value=approve]").click()
        assert refused.value.status == 403
    planner.context.close()
    second = _sign_in(browser, site, "planner2")
    second.goto(f"{site}/maturity/assessments/{pid}/")
    assert "Is the unit's mandate written down?" in second.locator("#i-1").inner_text()
    _press(second, "Approve")
    assert second.locator("#status").inner_text() == "Approved"
    _press(second, "Publish")
    assert second.locator("#status").inner_text() == "Published"
    second.context.close()

    # 6. The public profile shows the published radar with the component scores, and the indicator table.
    visitor.goto(f"{site}/maturity/countries/{COUNTRY}/")
    radar = visitor.locator("svg#radar")
    assert radar.count() == 1
    points = radar.locator("circle.pt").evaluate_all(
        "els => els.map(e => [e.getAttribute('data-component'), e.getAttribute('data-score')])"
    )
    assert dict(points) == RADAR
    assert "Strategy & Investment: no score" in radar.locator("desc").text_content()
    assert visitor.locator("#overall-score").inner_text() == "3.0"
    assert visitor.locator("#overall-phase").inner_text() == "3"
    row = visitor.locator("#indicator-table tr[data-indicator='1']")
    assert row.locator("td.num").inner_text() == "1"  # one piece of evidence
    assert "The digital health unit meets monthly." in row.inner_text()
    assert visitor.locator("#synthetic-note").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visitor.screenshot(path=str(SCREENSHOTS / "maturity-profile.png"), full_page=True)

    # 7. The comparison ranks Ghana in phase 3; the map colours it.
    visitor.goto(f"{site}/maturity/compare/?country={COUNTRY}")
    assert visitor.locator("#position-rank").inner_text() == "1"
    assert visitor.locator("#compare-table tr[data-country=GH] .phase").inner_text() == "3"
    visitor.goto(f"{site}/maturity/map/?region=AFR")
    ghana = visitor.locator("#phasemap a[data-code=GH] path").first
    assert ghana.get_attribute("class") == "p3"
    assert ghana.locator("title").text_content() == "Ghana: phase 3"
    visitor.context.close()
