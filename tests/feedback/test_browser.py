"""In a real browser (Debian's chromium, Playwright) against ``dhnet serve`` on a fresh SQLite database: a
deployment's team lead issues an invitation code on the team's page; a nurse signs in on a phone, redeems it, rates
the deployment with the form (no JavaScript needed), and — hers being the fifth rating — sees the averages appear as
a bar chart of the five dimensions.

The server is this module's own (migrate and a small world only), so the test is quick and independent of the
database the rest of the package runs on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import launched_chromium, throwaway_site

PASSWORD = "correct horse battery staple 42"
P = "KE-FB0001"
SETUP = f"""
import django
django.setup()
from dhnet.accounts import services as accounts
from dhnet.atlas.models import Project
from dhnet.feedback import services
from dhnet.orgunits import services as orgunits
operator = accounts.operator_actor("cli:e2e")
orgunits.create_unit(operator, code="XX", name="Country", parent_code=None, population=1000)
lead, _ = accounts.create_user(operator, "teamlead", role="partner", orgunit_code="XX", password={PASSWORD!r})
accounts.create_user(operator, "nurse", role="viewer", orgunit_code="XX", password={PASSWORD!r})
project = Project.objects.create(public_id={P!r}, name="Community health app", country="KE", status="published",
                                 stage="scale")
project.team.add(lead)
team = accounts.actor_for_user(lead, mfa_verified=True)
for i in range(4):
    user, _ = accounts.create_user(operator, f"rater{{i}}", role="viewer", orgunit_code="XX")
    rater = accounts.actor_for_user(user, mfa_verified=True)
    code = services.issue_invitation(team, {P!r}, {{"label": f"r{{i}}", "audience": "health_worker"}}).code
    services.redeem(rater, code)
    services.rate(rater, {P!r}, {{"usability": 4, "reliability": 3, "fit": 5, "support": 2, "data_value": 4}})
print("ready")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_site(tmp_path_factory.mktemp("feedback-e2e"), SETUP) as url:
        yield url


@pytest.fixture(scope="module")
def browser(site: str, playwright_driver: Any) -> Iterator[Any]:
    with launched_chromium(playwright_driver) as chromium:
        yield chromium


def _sign_in(page: Any, site: str, username: str, next_path: str) -> None:
    page.goto(f"{site}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}{next_path}")


def test_invite_redeem_rate_and_see_the_averages(site: str, browser: Any) -> None:
    lead = browser.new_context()
    page = lead.new_page()
    _sign_in(page, site, "teamlead", f"/feedback/projects/{P}/invitations/")
    page.fill("#label", "Nurses of the district hospital")
    page.select_option("#audience", "health_worker")
    page.fill("#max_uses", "10")
    page.click("#invite-form button[type=submit]")
    code = page.locator("#code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert "0 of 10" in page.locator("#invitations").inner_text()
    lead.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = phone.new_page()
    page.goto(f"{site}/feedback/projects/{P}/")
    assert "Not enough ratings yet (4 of 5)" in page.locator("#summary-count").inner_text()
    assert page.locator("svg.ratings-chart").count() == 0
    _sign_in(page, site, "nurse", "/feedback/redeem/")
    page.fill("#code", code.lower())
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{site}/feedback/projects/{P}/")
    for dimension, score in (("usability", 3), ("reliability", 4), ("fit", 5), ("support", 1), ("data_value", 4)):
        page.check(f"#rate-form input[name={dimension}][value='{score}']")
    page.fill("#text", "The stock-out alerts reach us before the shelf is empty.")
    page.click("#rate-form button[type=submit]")
    page.wait_for_url(f"{site}/feedback/projects/{P}/")
    assert page.locator("#summary-count").inner_text().startswith("5 ratings")
    assert page.locator("svg.ratings-chart rect.bar").count() == 5
    means = page.locator("table#means").inner_text()
    assert re.search(r"Usability\s+3\.80", means)  # (4 x 4 + 3) / 5
    assert re.search(r"Training and support\s+1\.80", means)  # (4 x 2 + 1) / 5
    assert "The stock-out alerts reach us" in page.locator("#user-ratings").inner_text()
    assert "Your rating" in page.locator("#rate").inner_text()
    phone.close()
