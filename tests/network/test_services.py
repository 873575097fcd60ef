"""The network services through the API and pages: contact details by role (audited), bad input, idempotent retries,
join requests and approval, the network tree, events in the viewer's time zone, outcomes, filters, the demo."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.knowledge.models import Item
from dhnet.network import demo, services
from dhnet.network.models import Contact, Event, EventOutcome, JoinRequest, Membership, Network, Organisation
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid
from tests.network.helpers import CONTACT_READERS, EVENT, make_world
from tests.platform.fixtures import ROLES, actor_of, login


@pytest.fixture
def world(users: dict[str, User], operator: Actor) -> dict[str, Any]:
    return make_world(operator, users)


def _post(client: Client, url: str, body: Any, method: str = "POST") -> Any:
    return client.generic(method, url, data=json.dumps(body), content_type="application/json")


# --- contacts -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_contact_details_only_to_who_may_see_them(role: str, users: dict[str, User], world: dict[str, Any]) -> None:
    """network:contact:read sees every contact's details; the partner, member of a network acme belongs to, sees
    those visible to members; the others only names and titles. Every showing is audited."""
    before = AuditRecord.objects.filter(action="network.contact.read").count()
    client = login(Client(), users[role])
    body = client.get("/api/v1/network/organisations/acme").json()
    shown = {c["name"]: c["email"] for c in body["contacts"]}
    page = client.get("/network/organisations/acme/").content.decode()
    if role in CONTACT_READERS:
        assert shown == {"Ann Open": "ann@example.org", "Bob Closed": "bob@example.org"}
    elif role == "partner":
        assert shown == {"Ann Open": "ann@example.org", "Bob Closed": None}
    else:
        assert shown == {"Ann Open": None, "Bob Closed": None}
    assert ("bob@example.org" in page) == (role in CONTACT_READERS)
    assert ("ann@example.org" in page) == (role in CONTACT_READERS or role == "partner")
    audited = AuditRecord.objects.filter(action="network.contact.read").count() - before
    assert audited == (2 if role in CONTACT_READERS or role == "partner" else 0)  # API read + page read
    if audited:
        last = AuditRecord.objects.filter(action="network.contact.read").order_by("-seq").first()
        assert last is not None
        assert last.actor_username == role
        assert last.object_id == "acme"


def test_anonymous_sees_names_but_no_contact_details(world: dict[str, Any]) -> None:
    client = Client()
    body = client.get("/api/v1/network/organisations/acme").json()
    assert [(c["name"], c["email"], c["phone"]) for c in body["contacts"]] == [
        ("Ann Open", None, None),
        ("Bob Closed", None, None),
    ]
    page = client.get("/network/organisations/acme/").content.decode()
    assert "Ann Open" in page
    assert "example.org" not in page
    assert "sign in" in page
    assert not AuditRecord.objects.filter(action="network.contact.read").exists()


def test_a_bad_token_on_a_public_endpoint_is_401(world: dict[str, Any]) -> None:
    client = Client(HTTP_AUTHORIZATION="Bearer dhn_not_a_token")
    assert client.get("/api/v1/network/organisations/acme").status_code == 401


def test_a_token_sees_contact_details(users: dict[str, User], world: dict[str, Any]) -> None:
    from dhnet.accounts import services as accounts

    officer = users["regional_officer"]
    _, raw = accounts.create_token(actor_of(officer), officer, name="t", scopes=["network:contact:read"])
    body = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/network/organisations/acme").json()
    assert {c["email"] for c in body["contacts"]} == {"ann@example.org", "bob@example.org"}


# --- organisations: bad input, idempotence, filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "X", "kind": "guild"}, "kind: 'guild' is not one of member_state"),
        ({"name": "X", "kind": "academia", "countries": ["KE", "XX"]}, "countries[1]: 'XX' is not an ISO 3166-1"),
        (
            {"name": "X", "kind": "academia", "focus_areas": ["hsc:2.1", "cdhi-v1:9"]},
            "focus_areas: unknown tag 'cdhi-v1:9'",
        ),
        ({"name": "X", "kind": "academia", "focus_areas": ["nocolon"]}, "focus_areas: tag 'nocolon' is not"),
        ({"name": "X", "kind": "academia", "website": "ftp://x"}, "website: 'ftp://x' is not an http(s) URL"),
        ({"name": "X", "kind": "academia", "slug": "Bad Slug"}, "slug: 'Bad Slug' is not a slug"),
        ({"name": "  ", "kind": "academia"}, "name: required"),
        ({"name": "X\x00", "kind": "academia"}, "name: contains a NUL character"),
        ({"name": "!!!", "kind": "academia"}, "slug: cannot be derived from '!!!'"),
    ],
)
def test_bad_organisations_are_refused_naming_the_field(
    users: dict[str, User], world: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    client = login(Client(), users["knowledge_manager"])
    count = Organisation.objects.count()
    response = _post(client, "/api/v1/network/organisations", body)
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(message), response.json()
    assert Organisation.objects.count() == count


def test_creating_an_organisation_twice_stores_it_once(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    body = {"name": "Gamma Institute", "kind": "who_cc", "countries": ["de", "KE"], "focus_areas": ["so:1", "hsc:2.1"]}
    first = _post(client, "/api/v1/network/organisations", body)
    assert first.status_code == 201
    assert first.json()["slug"] == "gamma-institute"
    assert first.json()["countries"] == ["DE", "KE"]
    assert _post(client, "/api/v1/network/organisations", body).status_code == 200
    assert Organisation.objects.filter(slug="gamma-institute").count() == 1
    assert AuditRecord.objects.filter(action="network.organisation.create", object_id="gamma-institute").count() == 1
    other = _post(client, "/api/v1/network/organisations", {**body, "kind": "academia"})
    assert other.status_code == 409
    assert other.json()["detail"] == "slug: an organisation 'gamma-institute' exists already"


def test_contacts_are_not_duplicated_and_are_validated(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["knowledge_manager"])
    body = {"name": "Cy", "email": "cy@example.org"}
    assert _post(client, "/api/v1/network/organisations/beta/contacts", body).status_code == 201
    assert _post(client, "/api/v1/network/organisations/beta/contacts", body).status_code == 200
    assert Contact.objects.filter(organisation__slug="beta").count() == 1
    bad = _post(client, "/api/v1/network/organisations/beta/contacts", {"name": "Di", "email": "not-mail"})
    assert (bad.status_code, bad.json()["detail"]) == (400, "email: 'not-mail' is not an e-mail address")
    bad = _post(client, "/api/v1/network/organisations/beta/contacts", {"name": "Di", "phone": "call me"})
    assert bad.json()["detail"] == "phone: 'call me' is not a telephone number"
    assert _post(client, "/api/v1/network/organisations/nope/contacts", body).status_code == 404


def test_patch_changes_only_the_fields_given_and_is_audited(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["knowledge_manager"])
    response = _post(client, "/api/v1/network/organisations/acme", {"focus_areas": ["so:4"]}, "PATCH")
    assert response.status_code == 200
    assert response.json()["focus_areas"] == ["so:4"]
    assert response.json()["countries"] == ["KE"]
    record = AuditRecord.objects.filter(action="network.organisation.update").get()
    assert record.detail == {"changes": {"focus_areas": ["so:4"]}}
    assert _post(client, "/api/v1/network/organisations/acme", {"slug": "x"}, "PATCH").json()["slug"] == "acme"


def test_filters_by_kind_country_and_focus_area_below_it(world: dict[str, Any]) -> None:
    client = Client()

    def slugs(query: str) -> list[str]:
        return [o["slug"] for o in client.get(f"/api/v1/network/organisations?{query}").json()]

    assert slugs("") == ["acme", "beta"]
    assert slugs("kind=academia") == ["beta"]
    assert slugs("country=sn") == ["beta"]
    assert slugs("country=KE") == ["acme", "beta"]
    assert slugs("focus=cdhi-v1:1.1.1") == ["acme"]
    assert slugs("focus=cdhi-v1:1.0") == ["acme"]  # the group above the intervention
    assert slugs("focus=hsc:2") == ["beta"]
    assert slugs("q=univ") == ["beta"]
    bad = client.get("/api/v1/network/organisations?country=ZZ")
    assert (bad.status_code, bad.json()["detail"]) == (
        400,
        "country[0]: 'ZZ' is not an ISO 3166-1 alpha-2 country code",
    )
    page = client.get("/network/?kind=academia").content.decode()
    assert "Beta University" in page
    assert "Acme Health NGO" not in page
    assert 'value="cdhi-v1:1.1"' in page  # the focus filter offers the concepts in use and those above them


# --- networks, joining, approval ------------------------------------------------------------------------------------


def test_the_tree_nests_networks_and_hides_private_ones(users: dict[str, User], world: dict[str, Any]) -> None:
    tree = [(n["slug"], n["depth"]) for n in Client().get("/api/v1/network/networks").json()]
    assert tree == [("pub", 0), ("sub", 1)]
    partner = login(Client(), users["partner"])
    assert [(n["slug"], n["depth"]) for n in partner.get("/api/v1/network/networks").json()] == [
        ("pub", 0),
        ("priv", 1),
        ("sub", 1),
    ]
    page = partner.get("/network/networks/").content.decode()
    assert page.index("Public network") < page.index("Private group") < page.index("Sub network")
    detail = Client().get("/api/v1/network/networks/sub").json()
    assert (detail["ancestors"], detail["members"]) == (["pub"], [])  # members: signed-in viewers only


def test_reading_a_private_network_is_audited(users: dict[str, User], world: dict[str, Any]) -> None:
    partner = login(Client(), users["partner"])
    assert partner.get("/network/networks/priv/").status_code == 200
    record = AuditRecord.objects.filter(action="network.network.read").get()
    assert (record.actor_username, record.object_id) == ("partner", "priv")
    assert partner.get("/network/networks/pub/").status_code == 200
    assert AuditRecord.objects.filter(action="network.network.read").count() == 1  # public: not audited


def test_no_cycles_in_the_network_of_networks(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["knowledge_manager"])
    response = _post(client, "/api/v1/network/networks/pub", {"parent": "sub"}, "PATCH")
    assert response.status_code == 400
    assert response.json()["detail"] == "parent: 'sub' is 'pub' itself or one of its sub-networks (a cycle)"
    assert Network.objects.get(slug="pub").parent is None
    assert _post(client, "/api/v1/network/networks/sub", {"parent": ""}, "PATCH").json()["parent"] is None


def test_join_request_approval_and_retries(users: dict[str, User], world: dict[str, Any]) -> None:
    viewer = login(Client(), users["viewer"])
    first = _post(viewer, "/api/v1/network/networks/pub/join", {"message": "I work on IDSR"})
    assert first.status_code == 201
    assert _post(viewer, "/api/v1/network/networks/pub/join", {"message": "again"}).status_code == 200
    assert JoinRequest.objects.filter(network__slug="pub", user=users["viewer"]).count() == 1
    page = viewer.get("/network/networks/pub/").content.decode()
    assert "Your request to join is pending" in page
    assert "join-button" not in page
    coordinator = login(Client(), users["district_officer"])
    queue = coordinator.get("/api/v1/network/networks/pub/requests").json()
    assert sorted(r["username"] for r in queue) == ["applicant", "viewer"]
    assert "approval-queue" in coordinator.get("/network/networks/pub/").content.decode()
    request_id = first.json()["id"]
    decided = _post(
        coordinator, f"/api/v1/network/requests/{request_id}/decision", {"approve": True, "role": "observer"}
    )
    assert decided.json()["status"] == "approved"
    assert Membership.objects.get(network__slug="pub", user=users["viewer"]).role == "observer"
    again = _post(coordinator, f"/api/v1/network/requests/{request_id}/decision", {"approve": True})
    assert again.status_code == 200  # the same decision again: no change
    other = _post(coordinator, f"/api/v1/network/requests/{request_id}/decision", {"approve": False})
    assert (other.status_code, other.json()["detail"]) == (409, f"join request {request_id} was approved already")
    member_again = _post(viewer, "/api/v1/network/networks/pub/join", {})
    assert (member_again.status_code, member_again.json()["detail"]) == (409, "you are a member of 'pub' already")
    assert "You are a <strong>observer</strong>" in viewer.get("/network/networks/pub/").content.decode()


def test_the_join_button_and_the_approval_page_flow(users: dict[str, User], world: dict[str, Any]) -> None:
    viewer = login(Client(), users["viewer"])
    assert 'id="join-button"' in viewer.get("/network/networks/sub/").content.decode()
    assert viewer.post("/network/networks/sub/join/", {"message": "hello"}).status_code == 302
    join = JoinRequest.objects.get(network__slug="sub", user=users["viewer"])
    manager = login(Client(), users["knowledge_manager"])
    assert "hello" in manager.get("/network/networks/sub/").content.decode()
    response = manager.post(f"/network/networks/sub/requests/{join.pk}/", {"decision": "decline", "role": "member"})
    assert response.status_code == 302
    join.refresh_from_db()
    assert join.status == "declined"
    assert join.decided_by == users["knowledge_manager"]
    assert not Membership.objects.filter(network__slug="sub", user=users["viewer"]).exists()


def test_the_last_coordinator_stays(users: dict[str, User], world: dict[str, Any], operator: Actor) -> None:
    with pytest.raises(Conflict, match="last coordinator"):
        services.set_member(operator, "pub", "district_officer", "member")
    services.set_member(operator, "pub", "viewer", "coordinator")
    services.set_member(operator, "pub", "district_officer", "member")
    with pytest.raises(Forbidden):
        services.set_member(actor_of(users["district_officer"]), "pub", "regional_officer", "member")


def test_the_cli_operator_cannot_join(world: dict[str, Any], operator: Actor) -> None:
    with pytest.raises(Invalid, match="only a signed-in user"):
        services.request_to_join(operator, "pub")


# --- events ---------------------------------------------------------------------------------------------------------


def test_event_times_in_the_viewer_zone(world: dict[str, Any]) -> None:
    """14:00 in Zurich (CET, UTC+1) on 10 December is 13:00 UTC, 22:00 in Tokyo, 10:00 in São Paulo."""
    event = Event.objects.get(slug="ev")
    assert event.starts_at.isoformat() == "2026-12-10T13:00:00+00:00"
    assert [a["time"] for a in event.agenda] == ["2026-12-10T13:00:00+00:00", "2026-12-10T14:30:00+00:00"]
    api = Client().get("/api/v1/network/events/ev?tz=Asia/Tokyo").json()
    assert api["zone"] == "Asia/Tokyo"
    assert api["local_starts_at"].startswith("2026-12-10T22:00:00+09:00")
    assert [a["time"][11:16] for a in api["agenda"]] == ["22:00", "23:30"]
    client = Client()
    page = client.get("/network/events/ev/?tz=America/Sao_Paulo").content.decode()
    assert "10:00" in page
    assert "America/Sao_Paulo" in page
    assert "UTC-03:00" in page
    assert "network/tz.js" not in page  # an explicit zone: no detection
    client.cookies["tz"] = "Asia/Kolkata"
    page = client.get("/network/events/ev/").content.decode()
    assert "18:30" in page
    assert "Asia/Kolkata" in page
    assert "UTC+05:30" in page
    assert "Organiser's time: 10 December 2026, 14:00 Europe/Zurich" in page
    client.cookies["tz"] = "Mars/Olympus"
    page = client.get("/network/events/ev/").content.decode()
    assert 'id="zone">UTC<' in page
    assert "13:00" in page
    assert "network/tz.js" in page  # the page sets the cookie from the browser's zone


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Europe/Geneva"}, "timezone: 'Europe/Geneva' is not an IANA time zone"),
        ({"ends_at": "2026-12-10T13:00"}, "ends_at: before starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at: 'tomorrow' is not an ISO 8601 date and time"),
        (
            {"agenda": [{"time": "14:00", "title": "a"}, {"time": "17:00", "title": "b"}]},
            "agenda[1].time: 2026-12-10T16:00",
        ),
        ({"agenda": [{"time": "25:00", "title": "a"}]}, "agenda[0].time: '25:00' is not a time of day"),
        ({"agenda": [{"time": "14:00", "title": ""}]}, "agenda[0].title: required"),
        ({"organisations": ["acme", "nope"]}, "organisations: unknown organisation 'nope'"),
        ({"link": "javascript:alert(1)"}, "link: 'javascript:alert(1)' is not an http(s) URL"),
    ],
)
def test_bad_events_are_refused_naming_the_field(
    users: dict[str, User], world: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    client = login(Client(), users["district_officer"])
    count = Event.objects.count()
    response = _post(client, "/api/v1/network/networks/pub/events", {**EVENT, **change})
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(message), response.json()
    assert Event.objects.count() == count


def test_the_same_event_twice_is_stored_once(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    body = {**EVENT, "title": "Second roundtable"}
    first = _post(client, "/api/v1/network/networks/pub/events", body)
    assert (first.status_code, first.json()["slug"]) == (201, "second-roundtable-2026-12-10")
    assert _post(client, "/api/v1/network/networks/pub/events", body).status_code == 200
    assert Event.objects.filter(title="Second roundtable").count() == 1
    changed = _post(client, "/api/v1/network/networks/pub/events", {**body, "location": "Dakar"})
    assert changed.status_code == 409


def test_the_event_form_reads_agenda_lines(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    form = {
        "title": "Webinar on HSC",
        "kind": "webinar",
        "timezone": "Africa/Nairobi",
        "starts_at": "2026-11-30T09:00",
        "ends_at": "2026-11-30T10:00",
        "agenda": "09:00 | Opening | Ann\n\n09:30 | Panel",
    }
    assert client.post("/network/networks/pub/events/new/", form).status_code == 302
    event = Event.objects.get(title="Webinar on HSC")
    assert event.agenda == [
        {"time": "2026-11-30T06:00:00+00:00", "title": "Opening", "speaker": "Ann"},
        {"time": "2026-11-30T06:30:00+00:00", "title": "Panel", "speaker": ""},
    ]
    bad = client.post("/network/networks/pub/events/new/", {**form, "agenda": "11:00 | Late"})
    assert bad.status_code == 400
    assert "agenda[0].time" in bad.content.decode()


def test_participants_and_outcomes(users: dict[str, User], world: dict[str, Any]) -> None:
    viewer = login(Client(), users["viewer"])
    assert viewer.post("/network/events/ev/participate/", {"attend": "1"}).status_code == 302
    assert viewer.post("/network/events/ev/participate/", {"attend": "1"}).status_code == 302
    assert list(Event.objects.get(slug="ev").participants.all()) == [users["viewer"]]
    assert "You take part" in viewer.get("/network/events/ev/").content.decode()
    manager = login(Client(), users["knowledge_manager"])
    for item in (world["item"], world["draft"]):
        assert _post(manager, "/api/v1/network/events/ev/outcomes", {"item": item, "note": "n"}).status_code == 201
    assert _post(manager, "/api/v1/network/events/ev/outcomes", {"item": world["item"], "note": "n"}).status_code == 200
    assert EventOutcome.objects.count() == 2
    public = Client().get("/api/v1/network/events/ev").json()
    assert [o["title"] for o in public["outcomes"]] == ["A good practice"]  # the draft stays hidden
    assert sorted(o["title"] for o in manager.get("/api/v1/network/events/ev").json()["outcomes"]) == [
        "A draft",
        "A good practice",
    ]
    assert f"/knowledge/items/{world['item']}/" in Client().get("/network/events/ev/").content.decode()
    bad = _post(manager, "/api/v1/network/events/ev/outcomes", {"item": "not-a-uuid"})
    assert (bad.status_code, bad.json()["detail"]) == (400, "item: 'not-a-uuid' is not a knowledge item id (UUID)")
    assert public["participants"] == []  # anonymous: not listed
    assert viewer.get("/api/v1/network/events/ev").json()["participants"] == ["viewer"]


# --- demo -----------------------------------------------------------------------------------------------------------


def test_the_demo_loads_once(users: dict[str, User], operator: Actor) -> None:
    from dhnet.accounts import services as accounts

    accounts.create_user(operator, "demo-knowledge", role="knowledge_manager", orgunit_code="DE")
    accounts.create_user(operator, "demo-district", role="district_officer", orgunit_code="D11")
    item = Item.objects.create(kind="lesson_learned", title="Lesson", status="published", created_by_name="x")
    first = demo.load_demo(operator)
    assert first.startswith("network demo: 17 of 17")
    assert "outcome linked to 'Lesson'" in first
    counts = (Organisation.objects.count(), Network.objects.count(), Event.objects.count(), Contact.objects.count())
    assert demo.load_demo(operator) == "network demo: 0 of 17 organisations, networks and events new"
    assert counts == (
        Organisation.objects.count(),
        Network.objects.count(),
        Event.objects.count(),
        Contact.objects.count(),
    )
    assert {o.kind for o in Organisation.objects.all()} == {
        "member_state",
        "development_partner",
        "cso_ngo",
        "academia",
        "who_cc",
        "private_sector",
        "un_agency",
        "other",
    }
    assert all(o.name.endswith("(demo)") for o in Organisation.objects.all())
    nested = Network.objects.get(slug=demo.REGIONAL)
    assert nested.parent is not None
    assert nested.parent.slug == demo.ROOT
    assert Network.objects.get(slug=demo.COP).kind == "community_of_practice"
    roundtable = Event.objects.get(slug=demo.ROUNDTABLE)
    assert roundtable.kind == "roundtable"
    assert len(roundtable.agenda) == 5
    assert list(EventOutcome.objects.values_list("item_id", flat=True)) == [item.pk]
    assert Membership.objects.filter(user__username="demo-knowledge", role="coordinator").count() == 4
    assert Membership.objects.filter(user__username="demo-district", network__slug=demo.COP).exists()


def test_a_percent_encoded_tz_cookie_is_read(world: dict[str, Any]) -> None:
    client = Client()
    client.cookies["tz"] = "Asia%2FTokyo"
    page = client.get("/network/events/ev/").content.decode()
    assert 'id="zone">Asia/Tokyo<' in page
    assert "22:00" in page


def test_the_edit_page_changes_an_organisation(users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users["knowledge_manager"])
    form = client.get("/network/organisations/acme/edit/").content.decode()
    assert 'value="cdhi-v1:1.1.1"' in form
    assert 'name="slug"' not in form  # the slug stays
    bad = client.post("/network/organisations/acme/edit/", {"name": "Acme", "kind": "cso_ngo", "countries": "KE XX"})
    assert bad.status_code == 400
    assert "countries[1]: &#x27;XX&#x27; is not an ISO 3166-1 alpha-2 country code" in bad.content.decode()
    assert Organisation.objects.get(slug="acme").countries == ["KE"]
    form_data = {"name": "Acme Health", "kind": "cso_ngo", "countries": "KE UG", "focus_areas": "so:1 hsc:2.1"}
    assert client.post("/network/organisations/acme/edit/", form_data).status_code == 302
    acme = Organisation.objects.get(slug="acme")
    assert (acme.name, acme.countries) == ("Acme Health", ["KE", "UG"])
    assert sorted(c.tag for c in acme.focus_areas.all()) == ["hsc:2.1", "so:1"]
