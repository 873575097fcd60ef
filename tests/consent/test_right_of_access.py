"""The right of access end to end: the code arrives by e-mail through a real SMTP server on loopback (aiosmtpd), or
in the SMS outbox; wrong, expired and reused codes fail; the same answer for unknown contacts; throttling; the
download (a FHIR Bundle with identity, consents and the access log) is audited; the person withdraws research
consent and a research release excludes them at once."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from dhnet.audit import services as audit
from dhnet.audit.models import AuditRecord, AuditSubject
from dhnet.consent import access, services, sms
from dhnet.consent.models import AccessCode, ConsentDecision, OutboxMessage
from dhnet.identity.services import register_person, reidentify
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid, Throttled
from tests.consent.fixtures import SmsGateway
from tests.identity.helpers import person
from tests.notifications.fixtures import SmtpServer, free_port
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db

EMAIL = "c.okafor@example.org"
PHONE = "+234 803 555 0101"


@pytest.fixture
def registered(tree: Any, operator: Actor) -> str:
    return register_person(operator, person(emails=(EMAIL,), phones=(PHONE,)), source="facility-a").pseudonym


def _mail(server: SmtpServer, count: int = 1) -> Any:
    """The ``count``-th message the SMTP server received (codes are sent in the background: wait up to 10 s)."""
    deadline = time.monotonic() + 10
    while len(server.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(server.messages) >= count
    return server.messages[count - 1]


def _code(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def _page(response: Any) -> str:
    """The page without its per-session CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def _start(client: Client, kind: str, contact: str) -> Any:
    return client.post("/my-data/", {"kind": kind, "contact": contact})


def test_code_by_email_opens_the_record(registered: str, smtp_server: SmtpServer, users: Any) -> None:
    # Someone with access reads the person's identity: that must appear in the person's access log.
    reidentify(actor_of(users["national_epidemiologist"]), registered, purpose="outbreak-investigation")
    client = Client()
    response = _start(client, "email", "  C.Okafor@Example.org ")
    assert response.status_code == 302
    assert response["Location"] == "/my-data/code/"
    message = _mail(smtp_server, 1)
    assert message["To"] == EMAIL
    code = _code(message.get_content())
    assert AccessCode.objects.get().code_hash != code  # hashed at rest
    assert code not in str(AccessCode.objects.values().get())

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert client.post("/my-data/code/", {"code": wrong}).status_code == 400
    assert client.post("/my-data/code/", {"code": code}).status_code == 302
    page = client.get("/my-data/record/")
    assert page.status_code == 200
    assert b"national_epidemiologist" in page.content
    assert b"outbreak-investigation" in page.content

    download = client.get("/my-data/download/")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/fhir+json")
    bundle = download.json()
    Bundle.model_validate(bundle)
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types[0] == "Patient"
    patient = bundle["entry"][0]["resource"]
    assert patient["name"][0]["family"] == "Okafor"
    assert patient["birthDate"] == "1988-04-12"
    events = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AuditEvent"]
    assert any(e["agent"][0]["altId"] == "national_epidemiologist" for e in events)
    downloads = AuditRecord.objects.filter(action="consent.access.download")
    assert downloads.count() == 1
    assert AuditSubject.objects.filter(record=downloads.get(), subject=registered).exists()
    assert audit.verify().ok

    # The code cannot be used again, even in a new browser that kept the ticket.
    ticket_client = Client()
    _start(ticket_client, "email", EMAIL)
    fresh = _code(_mail(smtp_server, 2).get_content())
    assert ticket_client.post("/my-data/code/", {"code": fresh}).status_code == 302
    assert ticket_client.post("/my-data/end/").status_code == 302
    assert ticket_client.get("/my-data/record/").status_code == 302  # closed: back to the start


def test_reuse_and_expiry_fail(registered: str, smtp_server: SmtpServer) -> None:
    ticket = access.request_code("email", EMAIL, ip="127.0.0.1")
    code = _code(_mail(smtp_server, 1).get_content())
    grant = access.verify_code(ticket, code, ip="127.0.0.1")
    assert grant.pseudonyms == (registered,)
    with pytest.raises(Invalid, match="used already"):
        access.verify_code(ticket, code, ip="127.0.0.1")

    ticket = access.request_code("email", EMAIL, ip="127.0.0.1")
    code = _code(_mail(smtp_server, 2).get_content())
    AccessCode.objects.filter(used_at__isnull=True).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Invalid, match="expired"):
        access.verify_code(ticket, code, ip="127.0.0.1")


def test_attempts_are_limited(registered: str, smtp_server: SmtpServer) -> None:
    ticket = access.request_code("email", EMAIL, ip="127.0.0.1")
    code = _code(_mail(smtp_server, 1).get_content())
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(access.MAX_ATTEMPTS):
        with pytest.raises(Invalid):
            access.verify_code(ticket, wrong, ip="127.0.0.1")
    with pytest.raises(Throttled):
        access.verify_code(ticket, code, ip="127.0.0.1")  # even the right code: the ticket is spent


def test_unknown_contact_gets_the_same_answer(registered: str, smtp_server: SmtpServer) -> None:
    known, unknown = Client(), Client()
    a = _start(known, "email", EMAIL)
    b = _start(unknown, "email", "nobody@example.org")
    assert (a.status_code, a["Location"]) == (b.status_code, b["Location"])
    assert _page(known.get("/my-data/code/")) == _page(unknown.get("/my-data/code/"))
    _mail(smtp_server, 1)
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1  # nothing sent to the unknown address
    # Whatever the unknown visitor tries, the answer is the generic one.
    assert b"wrong or no longer valid" in unknown.post("/my-data/code/", {"code": "123456"}).content


def test_requests_are_throttled_per_contact_and_per_address(registered: str, smtp_server: SmtpServer) -> None:
    for _ in range(access.PER_CONTACT):
        access.request_code("email", "someone@example.org", ip="10.0.0.1")
    with pytest.raises(Throttled):
        access.request_code("email", "someone@example.org", ip="10.0.0.2")
    for i in range(access.PER_IP - access.PER_CONTACT):
        access.request_code("email", f"x{i}@example.org", ip="10.0.0.1")
    with pytest.raises(Throttled):
        access.request_code("email", "fresh@example.org", ip="10.0.0.1")
    assert Client().post("/my-data/", {"kind": "email", "contact": "someone@example.org"}).status_code == 429


def test_code_by_sms_goes_to_the_outbox(registered: str) -> None:
    client = Client()
    assert _start(client, "phone", "+234-803-555-0101").status_code == 302
    sms = OutboxMessage.objects.get()
    assert sms.to == "+2348035550101"
    assert client.post("/my-data/code/", {"code": _code(sms.body)}).status_code == 302
    assert client.get("/my-data/record/").status_code == 200


def test_bad_contact_is_a_clear_400(tree: Any) -> None:
    response = Client().post("/my-data/", {"kind": "email", "contact": "not-an-address"})
    assert response.status_code == 400
    assert b"email: not an e-mail address" in response.content
    assert Client().post("/my-data/", {"kind": "fax", "contact": "1"}).status_code == 400
    assert not AccessCode.objects.exists()


def test_the_person_withdraws_research_consent_and_the_next_release_excludes_them(
    registered: str, smtp_server: SmtpServer, operator: Actor
) -> None:
    other = register_person(
        operator, person("Bello", "Musa", nid="NG-7654321", emails=("m.bello@example.org",), phones=()), source="x"
    ).pseudonym
    client = Client()
    _start(client, "email", EMAIL)
    client.post("/my-data/code/", {"code": _code(_mail(smtp_server, 1).get_content())})
    assert client.post("/my-data/consent/", {"purpose": "research", "decision": "grant"}).status_code == 302
    services.record_own(access.person_actor(None, [other]), [other], "research", "grant")
    assert services.permits([registered, other], "research") == {registered, other}
    assert client.post("/my-data/consent/", {"purpose": "research", "decision": "withdraw"}).status_code == 302
    assert services.permits([registered, other], "research") == {other}
    # Surveillance is not theirs to withdraw.
    assert client.post("/my-data/consent/", {"purpose": "surveillance", "decision": "withdraw"}).status_code == 400
    assert services.permits([registered], "surveillance") == {registered}
    assert b"Withdrawn" in client.get("/my-data/record/").content
    # The person's own decisions belong to their district (from the vault: no case here), so staff there see them.
    assert {row.orgunit.code for row in ConsentDecision.objects.filter(pseudonym=registered)} == {"D11"}


def test_pages_without_a_session_go_back_to_the_start(tree: Any) -> None:
    client = Client()
    for url in ("/my-data/code/", "/my-data/record/", "/my-data/download/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == "/my-data/"
    assert client.post("/my-data/consent/", {"purpose": "research", "decision": "grant"}).status_code == 302
    assert client.get("/my-data/").status_code == 200


def test_stale_codes_are_deleted(tree: Any) -> None:
    access.request_code("email", "old@example.org", ip="10.0.0.9")
    AccessCode.objects.update(created_at=timezone.now() - access.STALE - dt.timedelta(minutes=1))
    access.request_code("email", "new@example.org", ip="10.0.0.9")
    assert AccessCode.objects.count() == 1


def test_code_by_sms_through_the_http_gateway(registered: str, sms_gateway: SmsGateway) -> None:
    client = Client()
    assert _start(client, "phone", PHONE).status_code == 302
    deadline = time.monotonic() + 10
    while not sms_gateway.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sms_gateway.received[0]["to"] == "+2348035550101"
    assert sms_gateway.headers[0]["authorization"] == "Bearer gateway-token"
    assert not OutboxMessage.objects.exists()
    assert client.post("/my-data/code/", {"code": _code(sms_gateway.received[0]["text"])}).status_code == 302


def test_gateway_failures_are_reported(sms_gateway: SmsGateway) -> None:
    gateway = sms.HttpGatewayTransport(sms_gateway.url)
    sms_gateway.status = 503
    outcome = gateway.send("+4915112345678", "x")
    assert outcome.retry
    assert not outcome.ok
    sms_gateway.status = 400
    assert not gateway.send("+4915112345678", "x").retry
    assert "not set" in sms.HttpGatewayTransport("").send("+4915112345678", "x").error
    assert not sms.HttpGatewayTransport(f"http://127.0.0.1:{free_port()}/").send("+491", "x").ok
