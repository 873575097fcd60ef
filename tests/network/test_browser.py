"""In a real browser (Debian's chromium, Playwright) against ``dhnet serve`` on a fresh SQLite database with the
network demo: a newcomer in Tokyo finds who works on what, opens the roundtable and sees its agenda in their own
time zone (detected by the page from the browser's Intl API), signs in and asks to join a community of practice.

The server is this module's own (migrate + the network demo only, no surveillance data), so the test is quick and
does not depend on the database the rest of the package runs on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import launched_chromium, throwaway_site

PASSWORD = "correct horse battery staple 42"
SETUP = f"""
import django
django.setup()
from dhnet.accounts import services as accounts
from dhnet.orgunits import services as orgunits
from dhnet.network.demo import load_demo
operator = accounts.operator_actor("cli:e2e")
orgunits.create_unit(operator, code="XX", name="Country", parent_code=None, population=1000)
accounts.create_user(operator, "newcomer", role="viewer", orgunit_code="XX", password={PASSWORD!r})
print(load_demo(operator))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_site(tmp_path_factory.mktemp("network-e2e"), SETUP) as url:
        yield url


@pytest.fixture(scope="module")
def browser(site: str, playwright_driver: Any) -> Iterator[Any]:
    with launched_chromium(playwright_driver) as chromium:
        yield chromium


def test_a_newcomer_in_tokyo_finds_the_roundtable_and_asks_to_join(site: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{site}/network/")
    page.select_option("#f-kind", "who_cc")
    page.click("#org-filters button[type=submit]")
    page.wait_for_url(re.compile(r"/network/\?kind=who_cc"))  # the click only starts the navigation
    rows = page.locator("#organisations tbody tr")
    assert rows.count() == 1
    assert "WHO Collaborating Centre for Digital Surveillance (demo)" in rows.first.inner_text()

    page.click(".network-nav >> text=Networks and communities")
    page.wait_for_url(f"{site}/network/networks/")
    tree = page.locator("#network-tree li")
    names = tree.all_inner_texts()
    assert names[0].startswith("Digital Health Network of Networks (demo)")
    assert not any("steering group" in n for n in names)  # private: members only
    page.click(".network-nav >> text=Events")
    page.click("text=Roundtable: sharing knowledge on digital health across networks (demo)")
    # The page reads the browser's zone (Intl), stores it in the tz cookie and shows the times in it:
    # 14:00 in Zurich (UTC+1 in December) is 22:00 in Tokyo.
    page.wait_for_function("document.getElementById('zone').textContent === 'Asia/Tokyo'")
    assert page.locator("#agenda td.agenda-time").first.inner_text() == "22:00"
    assert "UTC+09:00" in page.locator("#when").inner_text()
    assert "Organiser's time: 10 December 2026, 14:00 Europe/Zurich" in page.locator("#when").inner_text()

    page.goto(f"{site}/network/networks/demo-cop-surveillance-information-systems/")
    page.click("#sign-in-to-join")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/network/networks/demo-cop-surveillance-information-systems/")
    page.fill("#j-msg", "I run our district's IDSR system")
    page.click("#join-button")
    assert "Your request to join is pending" in page.locator("#membership").inner_text()
    context.close()
