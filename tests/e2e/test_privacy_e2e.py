"""In a real browser, on the demo's case reports (FHIR intake, pseudonymised): a district officer's line list holds
their district's cases and no identities; a person proves control of their e-mail address with a one-time code
(real SMTP on loopback), downloads what is held about them, sees who accessed it and withdraws research consent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Server
from tests.e2e.test_dashboard_e2e import SCREENSHOTS, _login


def _demo_people() -> list[dict[str, Any]]:
    """The persons of the demo's case-report Bundles (the same seeded generator as ``dhnet demo --subset``)."""
    from dhnet.cli.demo import SUBSET_CASE_BUNDLES, demo_case_generator

    generator = demo_case_generator(subset=True)
    people = []
    for i in range(SUBSET_CASE_BUNDLES):
        bundle = generator.bundle(i)
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        emails = [t["value"] for t in patient.get("telecom", []) if t.get("system") == "email"]
        people.append(
            {
                "family": patient["name"][0]["family"],
                "given": patient["name"][0]["given"][0],
                "district": patient["address"][0]["district"],
                "email": emails[0] if emails else None,
            }
        )
    return people


def test_district_line_list_has_its_cases_and_no_identities(server: Server, browser: Any) -> None:
    people = _demo_people()
    in_munich = [p for p in people if p["district"] == "09162"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, server, "demo-district")  # district officer of Munich (09162)
    page.click('nav >> text="Cases"')  # exact: not "Business cases"
    page.wait_for_url(f"{server.url}/cases/")  # the click only starts the navigation
    rows = page.locator("#case-table tbody tr[id^=case-]")
    assert rows.count() == len(in_munich)
    districts = set(page.locator("#case-table tbody tr[id^=case-] td:nth-child(3)").all_inner_texts())
    assert districts <= {"Munich (SK Muenchen)", "SK Muenchen", "München"} or len(districts) <= 1
    html = page.content()
    for person in people:  # no name of anyone, in the district or not
        assert person["family"] not in html
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cases-district.png"), full_page=True)
    if in_munich:
        rows.first.locator("a").first.click()
        page.wait_for_load_state()
        assert "/cases/" in page.url
        for person in people:
            assert person["family"] not in page.content()
    context.close()


def test_a_person_opens_their_data_with_a_code_and_withdraws_research_consent(server: Server, browser: Any) -> None:
    person = next(p for p in _demo_people() if p["email"])
    context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)  # a phone
    page = context.new_page()
    page.goto(f"{server.url}/")
    page.click("nav >> text=My data")
    page.wait_for_load_state()
    page.fill("#a-contact", person["email"])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    mail = server.mailbox.wait_for(person["email"])
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    code = re.search(r"\b(\d{6})\b", body.get_content())
    assert code, body.get_content()
    page.fill("#a-code", code.group(1))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your data"
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    bundle = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    types = {e["resource"]["resourceType"] for e in bundle.get("entry", [])}
    assert "Patient" in types  # their identity, from the vault, for them
    assert "Condition" in types  # their case(s)
    assert "AuditEvent" in types  # who accessed their record (the intake, at least)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["name"][0]["family"] == person["family"]
    page.click("#withdraw-research")
    page.wait_for_load_state()
    assert "withdr" in page.content().lower()
    page.screenshot(path=str(SCREENSHOTS / "my-data-phone.png"), full_page=True)
    context.close()
