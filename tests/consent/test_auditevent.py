"""``GET /fhir/AuditEvent``: search by patient, agent, date and action over the hash-chained trail, paging, R4
validity of the answer (fhir.resources), 400 naming the parameter; the parameter parser under hypothesis."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.audit import services as audit
from dhnet.audit.models import AuditRecord
from dhnet.consent import auditevent, services
from dhnet.fhir.outcome import FhirError
from tests.consent.fixtures import pseudonym
from tests.platform.fixtures import actor_of, login

A, B = pseudonym("a"), pseudonym("b")


@pytest.fixture
def trail(users: Any) -> dict[str, Any]:
    """Decisions about A and B by the D11 officer, a read of A's history by the regional officer."""
    officer = actor_of(users["district_officer"])
    services.record_decision(officer, A, "research", "grant", orgunit_code="D11")
    services.record_decision(officer, B, "research", "grant", orgunit_code="D11")
    services.record_decision(officer, A, "research", "withdraw", orgunit_code="D11")
    services.history(actor_of(users["regional_officer"]), A)
    return {"admin": login(Client(), users["system_admin"])}


def _search(client: Client, query: str) -> dict[str, Any]:
    response = client.get(f"/fhir/AuditEvent{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)
    for entry in body.get("entry", []):
        AuditEvent.model_validate(entry["resource"])
    return body


@pytest.mark.django_db
def test_search_by_patient_agent_action_and_date(trail: dict[str, Any]) -> None:
    admin = trail["admin"]
    by_a = _search(admin, f"?patient={A}")
    assert by_a["total"] == 3  # grant, withdraw, the regional officer's read
    actions = [e["resource"]["subtype"][0]["code"] for e in by_a["entry"]]
    assert actions == ["consent.decision.read", "consent.decision.withdraw", "consent.decision.grant"]  # newest first
    assert {e["resource"]["action"] for e in by_a["entry"]} == {"R", "C"}
    read = by_a["entry"][0]["resource"]
    assert read["agent"][0]["altId"] == "regional_officer"
    assert read["entity"][0]["what"]["identifier"]["value"] == A
    assert _search(admin, f"?patient={A}&agent=regional_officer")["total"] == 1
    assert _search(admin, f"?patient={A},{B}&action=C")["total"] == 3
    assert _search(admin, f"?patient={A}&action=R")["total"] == 1
    today = timezone.now().date()
    assert _search(admin, f"?patient={A}&date=ge{today.isoformat()}")["total"] == 3
    assert _search(admin, f"?patient={A}&date=lt{today.isoformat()}")["total"] == 0
    assert _search(admin, f"?patient={A}&date={today:%Y-%m}")["total"] == 3
    tomorrow = today + dt.timedelta(days=1)
    assert _search(admin, f"?patient={A}&date=gt{today.isoformat()}&date=le{tomorrow.isoformat()}")["total"] == 0
    # The search itself is audited (and the chain still verifies).
    assert AuditRecord.objects.filter(action="audit.auditevent.list").count() == 8
    assert audit.verify().ok


@pytest.mark.django_db
def test_patient_by_stored_patient_id(users: Any, diseases: Any) -> None:
    from dhnet.fhir.models import StoredResource
    from tests.cases.fixtures import case_bundle, post

    officer = login(Client(), users["district_officer"])
    assert post(officer, "/fhir", case_bundle()).status_code == 200
    stored = StoredResource.objects.get(resource_type="Patient")
    admin = login(Client(), users["system_admin"])
    by_id = _search(admin, f"?patient=Patient/{stored.logical_id}")
    by_pseudonym = _search(admin, f"?patient={stored.subject}")
    assert by_id["total"] == by_pseudonym["total"] >= 1
    assert _search(admin, "?patient=Patient/unknown")["total"] == 0


@pytest.mark.django_db
def test_paging(trail: dict[str, Any]) -> None:
    admin = trail["admin"]
    first = _search(admin, "?agent=district_officer&_count=2")
    assert first["total"] == 3
    assert len(first["entry"]) == 2
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert "previous" not in links
    nxt = urlsplit(links["next"])
    second = _search(admin, f"?{nxt.query}")
    assert len(second["entry"]) == 1
    assert dict(parse_qsl(nxt.query))["_offset"] == "2"
    seqs = [e["resource"]["id"] for e in first["entry"] + second["entry"]]
    assert len(set(seqs)) == 3
    assert "next" not in {link["relation"] for link in second["link"]}


BAD = [
    ("?patient=12", "patient"),
    ("?patient=", "patient"),
    ("?date=2024-13-01", "date"),
    ("?date=ne2024", "date"),
    ("?date=2024-01-01T10:00:00", "date"),
    ("?action=X", "action"),
    ("?_count=0", "_count"),
    ("?_count=101", "_count"),
    ("?_offset=99999999999999999999", "_offset"),
    ("?agent=a&agent=b", "agent"),
    ("?subject=x", "subject"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "parameter"), BAD, ids=[q for q, _ in BAD])
def test_bad_parameters_are_400_naming_the_parameter(users: Any, query: str, parameter: str) -> None:
    response = login(Client(), users["system_admin"]).get(f"/fhir/AuditEvent{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == [parameter]


@pytest.mark.django_db
def test_requires_audit_read(users: Any) -> None:
    for role in ("national_epidemiologist", "district_officer", "viewer", "partner"):
        assert login(Client(), users[role]).get("/fhir/AuditEvent").status_code == 403
    assert Client().get("/fhir/AuditEvent").status_code == 401


def test_action_codes() -> None:
    assert auditevent.action_code("fhir.patient.create") == "C"
    assert auditevent.action_code("identity.person.reidentify") == "R"
    assert auditevent.action_code("accounts.user.update") == "U"
    assert auditevent.action_code("identity.person.purge") == "D"
    assert auditevent.action_code("audit.record.list") == "E"
    assert auditevent.action_code("accounts.login") == "E"


# --- the parameter parser under hypothesis --------------------------------------------------------------------------

NAMES = st.sampled_from([*auditevent.PARAMETERS, "x", "_sort", "patient:missing"])
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["ge2024", "le2024-02", "eq2024-02-03", "2024-02-03T10:00:00Z", "C,R", "E", A, f"Patient/{A[:8]}"]),
)


@settings(max_examples=400, derandomize=True)
@given(pairs=st.lists(st.tuples(NAMES, VALUES), max_size=5))
def test_parser_answers_a_query_or_a_400_naming_a_parameter(pairs: list[tuple[str, str]]) -> None:
    refused: FhirError | None = None
    try:
        query = auditevent.parse_query(pairs)
    except FhirError as exc:
        refused = exc
    if refused is not None:
        assert refused.status in (400, 406)
        assert refused.issues[0].expression in {name[:60] for name, _ in pairs}
        return
    assert 1 <= query.count <= auditevent.MAX_COUNT
    assert 0 <= query.offset <= auditevent.MAX_OFFSET
    assert set(query.actions) <= set(auditevent.ACTIONS)
    # The paging links' query string parses back to the same search.
    again = auditevent.parse_query(parse_qsl(query.params(), keep_blank_values=True))
    assert (again.patients, again.agents, again.actions, again.count, again.offset) == (
        query.patients,
        query.agents,
        query.actions,
        query.count,
        query.offset,
    )
    assert [(d.op, d.at) for d in again.dates] == [(d.op, d.at) for d in query.dates]
