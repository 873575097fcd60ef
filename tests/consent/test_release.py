"""Dynamic consent reaches releases at once: persons grant research use through FHIR Consents in their case
Bundles; one withdraws on the right-of-access page; the very next research line list (dhnet.release) excludes
them, a surveillance one (legal basis) does not."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client

from dhnet.fhir.models import StoredResource
from dhnet.release import services as release
from tests.cases.fixtures import bundle, condition, encounter, observation, patient, post, urn
from tests.consent.test_fhir_consent import consent
from tests.notifications.fixtures import SmtpServer
from tests.platform.fixtures import actor_of, login

pytestmark = pytest.mark.django_db

PEOPLE = 6


def _bundle(i: int) -> dict[str, Any]:
    person = patient(
        national=f"N-{i}",
        name=[{"family": f"Family{i}", "given": [f"Given{i}"]}],
        telecom=[{"system": "email", "value": f"person{i}@example.org"}],
    )
    case = condition(encounter=urn(3), key=f"C-{i}")
    visit = encounter(identifier=[{"system": "https://clinic.example.org/encounters", "value": f"E-{i}"}])
    lab = observation(identifier=[{"system": "https://lab.example.org/results", "value": f"L-{i}"}])
    return bundle(person, case, visit, lab, consent(key=f"K-{i}"))


def _line_list(users: Any, purpose: str) -> dict[str, Any]:
    query = release.LineListQuery(disease="measles", area="D11", k=2, purpose=purpose, max_suppression=1.0)
    return release.export_line_list(actor_of(users["national_epidemiologist"]), query).metadata


def test_withdrawal_on_the_access_page_excludes_the_person_from_the_next_research_release(
    users: Any, diseases: Any, smtp_server: SmtpServer
) -> None:
    officer = login(Client(), users["district_officer"])
    for i in range(PEOPLE):
        assert post(officer, "/fhir", _bundle(i)).status_code == 200
    assert StoredResource.objects.filter(resource_type="Consent").count() == PEOPLE
    before = _line_list(users, "research")
    assert before["records_considered"] == PEOPLE
    assert before["excluded_without_consent"] == 0

    person = Client()
    person.post("/my-data/", {"kind": "email", "contact": "person0@example.org"})
    deadline = time.monotonic() + 10
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    code = re.search(r"\b(\d{6})\b", smtp_server.messages[0].get_content())
    assert code
    assert person.post("/my-data/code/", {"code": code.group(1)}).status_code == 302
    assert person.post("/my-data/consent/", {"purpose": "research", "decision": "withdraw"}).status_code == 302

    after = _line_list(users, "research")
    assert after["records_considered"] == PEOPLE - 1
    assert after["excluded_without_consent"] == 1
    surveillance = _line_list(users, "surveillance")
    assert surveillance["records_considered"] == PEOPLE
