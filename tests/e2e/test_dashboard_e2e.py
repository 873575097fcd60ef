"""In a real browser: sign in (with the second factor), the map shows the districts, filters update the page in
place (htmx) and without JavaScript, open a signal, verify it and fill the IHR Annex 2 form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "e2e"


def _login(page: Any, server: Server, username: str) -> None:
    page.goto(f"{server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", server.users[username]["password"])
    page.click("button[type=submit]")
    if "/login/totp/" in page.url:
        code = server.dhnet("totp-code", username).strip()
        assert re.fullmatch(r"\d{6}", code)
        page.fill("#id_code", code)
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]


def test_epidemiologist_signs_in_sees_the_map_verifies_a_signal_and_assesses_it(server: Server, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _login(page, server, "demo-epi")  # a role that requires TOTP
    assert page.url.rstrip("/") == server.url
    districts = page.locator("svg.map a[data-code]")
    assert districts.count() == 23
    assert page.locator("svg.map path.c0, svg.map path.c1, svg.map path.c2").count() == 23
    assert page.locator("svg.map path[class^=c]:not(.c0)").count() >= 1  # districts with open signals
    assert page.locator("svg.curve rect.b").count() > 40
    tooltip = page.locator("svg.map a[data-code='09162'] title").text_content() or ""
    assert tooltip.startswith("SK Muenchen")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert (SCREENSHOTS / "dashboard.png").stat().st_size > 20_000

    # htmx: a filter change swaps the dashboard in place (the page is not reloaded) and updates the address
    page.evaluate("window.__stay = 1")
    page.check("input[name=measure][value=incidence]")
    page.wait_for_url(re.compile(r"measure=incidence"))
    page.wait_for_selector("#map-h:has-text('Incidence per 100,000')")
    assert page.evaluate("window.__stay") == 1
    # a district on the map: its curve
    page.click("svg.map a[data-code='09162']")
    page.wait_for_selector("#curve-h:has-text('SK Muenchen')")

    # open a signal from the dashboard's list, verify it, then the IHR Annex 2 instrument
    page.goto(f"{server.url}/dashboard/signals/?disease=influenza")
    first = page.locator("table.signals tbody a").first
    title = first.get_attribute("title")
    first.click()
    page.wait_for_selector("#signal-title")
    assert page.locator("#signal-title").text_content() == title
    assert page.locator("#signal-status").get_attribute("data-status") == "new"
    page.click("#action-verify")
    page.wait_for_selector("#signal-status[data-status=verified]")
    page.click("#ihr-start")
    page.wait_for_selector("#ihr-form")
    for _ in range(12):
        if page.locator("#ihr-save").count():
            break
        fieldset = page.locator("#ihr-form fieldset")
        step = (fieldset.get_attribute("id") or "").removeprefix("ihr-step-")
        if step == "notifiable":
            page.check("#ihr-notifiable-none")
        elif step == "assessed":
            page.locator("#ihr-form fieldset input[type=radio]").first.check()
        else:
            page.check(f"#ihr-{step}-yes")
        page.click("#ihr-next")
        page.wait_for_selector("#ihr-form")
    assert page.locator("#ihr-result").count() == 1
    page.click("#ihr-save")
    page.wait_for_selector("#ihr .ihr-assessment")
    assert page.locator("#timeline [data-kind=ihr]").count() == 1
    context.close()


def test_filters_work_without_javascript(server: Server, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, server, "demo-region")
    assert page.locator("svg.map a[data-code]").count() == 23  # Upper Bavaria: the subset's districts
    page.select_option("#f-disease", "salmonellosis")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "disease=salmonellosis" in page.url
    assert page.locator("table.bars").count() == 1  # states without polygons: a list
    context.close()


def test_a_district_officer_sees_one_district_and_a_partner_no_signals(server: Server, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    _login(page, server, "demo-district")
    codes = page.locator("svg.map a[data-code]").evaluate_all("els => els.map(e => e.dataset.code)")
    assert codes == ["09162"]
    context.close()
    context = browser.new_context()
    page = context.new_page()
    _login(page, server, "demo-partner")
    assert page.locator("svg.map a[data-code]").count() == 23
    assert page.locator("input[name=measure][value=signals]").count() == 0
    assert page.locator("table.signals").count() == 0
    assert page.goto(f"{server.url}/dashboard/signals/").status == 403
    context.close()
