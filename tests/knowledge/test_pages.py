"""Pages and API endpoints of the repository: the authorization matrix (every role x every protected page and
endpoint), public reading, upload by form and API, and the document reader's marks and escaping."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.knowledge import services
from dhnet.knowledge.models import Chunk, Document, Item
from dhnet.platform.access import Actor
from tests.knowledge import helpers
from tests.platform.fixtures import ROLES, actor_of, login

pytestmark = pytest.mark.django_db

WRITE = services.WRITE
REVIEW = services.REVIEW
ITEM = {"kind": "guideline", "title": "Data exchange", "countries": ["KE"], "tags": ["so:1"]}
FORM = {"kind": "guideline", "title": "Data exchange", "countries": "KE", "tags": "so:1"}


@dataclass(frozen=True)
class Case:
    """A protected page or endpoint. ``hidden``: the object is an unpublished item of someone else, which only
    reviewers see (404 to the other writers)."""

    label: str
    method: str
    url: str
    permission: str
    ok: int = 200
    hidden: bool = False
    form: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    upload: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("new item page", "get", "/knowledge/items/new/", WRITE),
    Case("create item page", "post", "/knowledge/items/new/", WRITE, 302, form=FORM),
    Case("edit page", "get", "/knowledge/items/{draft}/edit/", WRITE, hidden=True),
    Case("edit page, published item", "get", "/knowledge/items/{published}/edit/", WRITE, 403),
    Case("save edit page", "post", "/knowledge/items/{draft}/edit/", WRITE, 302, hidden=True, form=FORM),
    Case("upload page", "post", "/knowledge/items/{draft}/upload/", WRITE, 302, hidden=True, upload=True),
    Case("submit page", "post", "/knowledge/items/{draft}/submit/", WRITE, 302, hidden=True),
    Case("review page", "post", "/knowledge/items/{review}/review/", REVIEW, 302, form={"decision": "approve"}),
    Case("archive page", "post", "/knowledge/items/{published}/archive/", REVIEW, 302),
    Case("review queue", "get", "/knowledge/review/", REVIEW),
    Case("create item api", "post", "/api/v1/knowledge/items", WRITE, 201, body=ITEM),
    Case("update item api", "put", "/api/v1/knowledge/items/{draft}", WRITE, 200, hidden=True, body=ITEM),
    Case("submit api", "post", "/api/v1/knowledge/items/{draft}/submit", WRITE, 200, hidden=True),
    Case(
        "review api",
        "post",
        "/api/v1/knowledge/items/{review}/reviews",
        REVIEW,
        201,
        body={"decision": "comment", "comment": "Cite the law."},
    ),
    Case("archive api", "post", "/api/v1/knowledge/items/{published}/archive", REVIEW),
    Case("upload api", "post", "/api/v1/knowledge/items/{draft}/documents", WRITE, 201, hidden=True, upload=True),
]


@pytest.fixture
def objects(users: dict[str, User], operator: Actor) -> dict[str, str]:
    """A draft, an item in review and a published item of a writer outside the matrix."""
    author, _ = accounts.create_user(operator, "author", role="district_officer", orgunit_code="D21")
    writer = actor_of(author)
    reviewer = actor_of(users["knowledge_manager"])
    out = {}
    for state in ("draft", "review", "published"):
        item = services.create_item(writer, services.ItemInput(kind="lesson_learned", title=f"{state} item"))
        if state != "draft":
            services.submit_item(writer, item.public_id)
        if state == "published":
            services.review_item(reviewer, item.public_id, "approve")
        out[state] = str(item.public_id)
    return out


def _expected(role: str, case: Case) -> int:
    permissions = ROLE_PERMISSIONS[role]
    if case.permission not in permissions:
        return 403
    if case.hidden and REVIEW not in permissions:
        return 404
    return case.ok


def _request(client: Client, case: Case, objects: dict[str, str]) -> int:
    url = case.url.format(**objects)
    if case.upload:
        upload = SimpleUploadedFile("lessons.md", helpers.MARKDOWN, content_type="text/markdown")
        return client.post(url, {"file": upload}).status_code
    if case.body is not None:
        data = json.dumps(case.body)
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.method == "post":
        return client.post(url, case.form or {}).status_code
    return getattr(client, case.method)(url).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], objects: dict[str, str]) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, objects) == _expected(role, case), (role, case.label)


def test_anonymous_visitors_are_sent_to_log_in_or_refused(objects: dict[str, str]) -> None:
    client = Client()
    assert client.get("/knowledge/items/new/").status_code == 302
    assert client.post("/api/v1/knowledge/items", ITEM, content_type="application/json").status_code == 401


# --- public reading -----------------------------------------------------------------------------------------------


def test_public_pages_show_published_items_only(objects: dict[str, str]) -> None:
    client = Client()
    home = client.get("/knowledge/").content.decode()
    assert "published item" in home
    assert "draft item" not in home
    assert "review item" not in home
    assert client.get(f"/knowledge/items/{objects['published']}/").status_code == 200
    assert client.get(f"/knowledge/items/{objects['draft']}/").status_code == 404
    assert client.get("/knowledge/items/not-a-uuid/").status_code == 404
    listed = client.get("/api/v1/knowledge/items").json()
    assert [i["title"] for i in listed["items"]] == ["published item"]
    assert client.get(f"/api/v1/knowledge/items/{objects['review']}").status_code == 404


def test_the_creator_sees_the_draft_through_the_api_with_a_token(objects: dict[str, str], operator: Actor) -> None:
    author = User.objects.get(username="author")
    _, secret = accounts.create_token(operator, author, name="t", scopes=["knowledge:item:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = client.get(f"/api/v1/knowledge/items/{objects['draft']}").json()
    assert body["status"] == "draft"
    assert body["actions"] == ["edit", "upload", "submit"]
    assert {i["status"] for i in client.get("/api/v1/knowledge/items").json()["items"]} == {
        "draft",
        "in_review",
        "published",
    }


def test_reviewers_filter_by_status(users: dict[str, User], objects: dict[str, str]) -> None:
    client = login(Client(), users["knowledge_manager"])
    body = client.get("/api/v1/knowledge/items?status=in_review").json()
    assert [i["title"] for i in body["items"]] == ["review item"]
    page = client.get("/knowledge/?status=in_review").content.decode()
    assert "review item" in page
    assert "published item" not in page
    assert client.get("/api/v1/knowledge/items?country=Kenya").status_code == 400


def test_the_home_page_filters(users: dict[str, User], objects: dict[str, str]) -> None:
    reviewer = actor_of(users["knowledge_manager"])
    tagged = services.create_item(
        reviewer, services.ItemInput(kind="guideline", title="Tagged", countries=("SN",), tags=("so:1", "so:2"))
    )
    client = login(Client(), users["knowledge_manager"])
    page = client.get("/knowledge/?tag=so:1+so:2&country=sn").content.decode()
    assert f'id="item-{tagged.public_id}"' in page
    assert "published item" not in page
    refused = client.get("/knowledge/?tag=so:9")
    assert refused.status_code == 400
    assert "unknown tag &#x27;so:9&#x27;" in refused.content.decode()
    detail = client.get(f"/knowledge/items/{tagged.public_id}/").content.decode()
    assert '<abbr title="SN">Senegal</abbr>' in detail


# --- create, upload, workflow by form and API ---------------------------------------------------------------------


def test_form_workflow(users: dict[str, User]) -> None:
    writer = login(Client(), users["partner"])
    response = writer.post("/knowledge/items/new/", {**FORM, "countries": "KE, UG"})
    assert response.status_code == 302
    item = Item.objects.get()
    assert item.countries == ["KE", "UG"]
    url = f"/knowledge/items/{item.public_id}/"
    assert response["Location"] == url + "?done=created"
    bad = writer.post("/knowledge/items/new/", {**FORM, "countries": "Kenya"})
    assert bad.status_code == 400
    assert "countries[0]: &#x27;Kenya&#x27; is not an ISO 3166-1 alpha-2 country code" in bad.content.decode()
    upload = SimpleUploadedFile("guide.html", helpers.HTML, content_type="text/html")
    assert writer.post(url + "upload/", {"file": upload})["Location"] == url + "?done=attached"
    again = SimpleUploadedFile("guide.html", helpers.HTML, content_type="text/html")
    assert writer.post(url + "upload/", {"file": again})["Location"] == url + "?done=known"
    page = writer.get(url).content.decode()
    assert "Surveillance guide &gt; Information centres" in page or "Information centres" in page
    assert writer.post(url + "submit/")["Location"] == url + "?done=submitted"
    reviewer = login(Client(), users["national_epidemiologist"])
    assert reviewer.get("/knowledge/review/").content.decode().count(str(item.public_id)) >= 1
    approved = reviewer.post(url + "review/", {"decision": "approve", "comment": ""})
    assert approved["Location"] == url + "?done=approve"
    assert Item.objects.get().status == "published"
    assert "Approved and published." in reviewer.get(url + "?done=approve").content.decode()


def test_a_malformed_upload_is_refused_naming_the_reason(users: dict[str, User]) -> None:
    writer = login(Client(), users["partner"])
    item = services.create_item(actor_of(users["partner"]), services.ItemInput(kind="guideline", title="t"))
    url = f"/knowledge/items/{item.public_id}/"
    for name, data, word in helpers.malformed():
        response = writer.post(url + "upload/", {"file": SimpleUploadedFile(name, data)})
        assert response.status_code == 400, name
        assert f"{name}: " in response.content.decode()
        assert word in response.content.decode()
    assert writer.post(url + "upload/", {}).status_code == 400
    assert not Document.objects.exists()
    assert not Chunk.objects.exists()


def test_api_workflow_and_idempotent_upload(users: dict[str, User]) -> None:
    writer = login(Client(), users["district_officer"])
    created = writer.post("/api/v1/knowledge/items", ITEM, content_type="application/json")
    assert created.status_code == 201
    item_id = created.json()["id"]
    assert created.json()["tags"] == ["so:1"]
    url = f"/api/v1/knowledge/items/{item_id}/documents"
    first = writer.post(url, {"file": SimpleUploadedFile("l.md", helpers.MARKDOWN)})
    assert first.status_code == 201
    assert first.json()["sections"] == 3
    second = writer.post(url, {"file": SimpleUploadedFile("again.md", helpers.MARKDOWN)})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    bad = writer.post(url, {"file": SimpleUploadedFile("x.docx", b"PK not really")})
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("x.docx: DOCX")
    assert Document.objects.count() == 1
    document = writer.get(f"/api/v1/knowledge/documents/{first.json()['id']}").json()
    assert [s["path"] for s in document["outline"]][1] == "Lessons from the pilot > Training"
    assert document["passages"][0]["text"]
    assert writer.post(f"/api/v1/knowledge/items/{item_id}/submit").json()["status"] == "in_review"
    reviewer = login(Client(), users["knowledge_manager"])
    bad_decision = reviewer.post(
        f"/api/v1/knowledge/items/{item_id}/reviews", {"decision": "maybe"}, content_type="application/json"
    )
    assert bad_decision.status_code == 400
    approved = reviewer.post(
        f"/api/v1/knowledge/items/{item_id}/reviews", {"decision": "approve"}, content_type="application/json"
    )
    assert approved.status_code == 201
    assert Client().get(f"/api/v1/knowledge/items/{item_id}").json()["status"] == "published"


# --- the document reader ------------------------------------------------------------------------------------------


def _published_document(users: dict[str, User], data: bytes, name: str) -> Document:
    reviewer = actor_of(users["knowledge_manager"])
    item = services.create_item(reviewer, services.ItemInput(kind="guideline", title="Reader"))
    document = services.attach_document(reviewer, item.public_id, data, name)
    services.submit_item(reviewer, item.public_id)
    services.review_item(reviewer, item.public_id, "approve")
    return document


def test_the_document_page_marks_the_cited_passage_and_the_query(users: dict[str, User]) -> None:
    document = _published_document(users, helpers.HTML, "guide.html")
    chunk = document.chunks.get(text__contains="Pseudonymization")
    page = Client().get(f"/knowledge/documents/{document.public_id}/?chunk={chunk.pk}&q=pseudonymisation+privacy")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="chunk-{chunk.pk}"' in html
    for other in document.chunks.exclude(pk=chunk.pk):
        assert f'id="chunk-{other.pk}"' in html
    cited = re.search(rf'<p class="passage cited" id="chunk-{chunk.pk}"[^>]*>(.*?)</p>', html, re.S)
    assert cited is not None
    assert '<mark class="hit">' in cited.group(1)
    assert '<mark class="term">Privacy</mark>' in html
    assert 'id="section-2" data-path="Surveillance guide &gt; Privacy"' in html


def test_the_document_page_escapes_the_text(users: dict[str, User]) -> None:
    text = b"Notes\n\nThe form said <script>alert('x')</script> & more <b>bold</b> words.\n"
    document = _published_document(users, text, "notes.txt")
    html = Client().get(f"/knowledge/documents/{document.public_id}/?q=script+bold").content.decode()
    assert "<script>alert" not in html
    assert '&lt;<mark class="term">script</mark>&gt;alert(&#x27;x&#x27;)' in html
    assert "&amp; more" in html


def test_an_unpublished_document_is_404_to_the_public(users: dict[str, User]) -> None:
    reviewer = actor_of(users["knowledge_manager"])
    item = services.create_item(reviewer, services.ItemInput(kind="guideline", title="Draft"))
    document = services.attach_document(reviewer, item.public_id, helpers.TEXT, "case.txt")
    assert Client().get(f"/knowledge/documents/{document.public_id}/").status_code == 404
    assert Client().get(f"/api/v1/knowledge/documents/{document.public_id}").status_code == 404
    assert login(Client(), users["viewer"]).get(f"/knowledge/documents/{document.public_id}/").status_code == 404
    assert (
        login(Client(), users["knowledge_manager"]).get(f"/knowledge/documents/{document.public_id}/").status_code
        == 200
    )


def test_the_item_page_names_its_events_of_visible_networks_only(users: dict[str, User]) -> None:
    import datetime as dt

    from dhnet.network.models import Event, EventOutcome, Membership, Network, Organisation

    reviewer = actor_of(users["knowledge_manager"])
    org = Organisation.objects.create(slug="demo-moh", name="Ministry (demo)", kind="member_state")
    item = services.create_item(
        reviewer, services.ItemInput(kind="lesson_learned", title="Lesson", authors=("demo-moh",))
    )
    services.submit_item(reviewer, item.public_id)
    services.review_item(reviewer, item.public_id, "approve")
    start = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    for slug, visibility in (("open", "public"), ("closed", "private")):
        network = Network.objects.create(slug=f"{slug}-net", name=f"{slug} network", visibility=visibility)
        event = Event.objects.create(
            network=network, slug=f"{slug}-rt", title=f"{slug} roundtable", starts_at=start, ends_at=start
        )
        EventOutcome.objects.create(event=event, item=item, note=f"{slug} note")
    url = f"/knowledge/items/{item.public_id}/"
    public = Client().get(url).content.decode()
    assert "open roundtable" in public
    assert "closed roundtable" not in public
    assert f'href="/network/organisations/{org.slug}/"' in public
    Membership.objects.create(network=Network.objects.get(slug="closed-net"), user=users["viewer"], role="member")
    member = login(Client(), users["viewer"]).get(url).content.decode()
    assert "closed roundtable" in member


def test_a_nul_character_in_a_filter_is_a_400_or_ignored(users: dict[str, User]) -> None:
    client = login(Client(), users["knowledge_manager"])
    assert client.get("/api/v1/knowledge/items?q=a%00b").status_code == 200
    refused = client.get("/api/v1/knowledge/items?author=x%00y")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "authors[0]: contains a NUL character"
    assert client.get("/knowledge/?tag=so%001").status_code == 400
