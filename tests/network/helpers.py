"""The network test world: organisations with contacts, a public network coordinated by the district officer with a
public sub-network, a private network (with the partner as member) holding organisation ``acme``, events in both, a
pending join request and a published knowledge item."""

from __future__ import annotations

from typing import Any

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.knowledge.models import Item
from dhnet.network import services
from dhnet.platform.access import Actor

NW = frozenset({"system_admin", "national_epidemiologist", "knowledge_manager"})
COORD = NW | {"district_officer"}
PRIVATE_SEES = NW | {"partner"}
CONTACT_READERS = NW | {"regional_officer"}

EVENT = {
    "title": "Roundtable on surveillance data",
    "kind": "roundtable",
    "starts_at": "2026-12-10T14:00",
    "ends_at": "2026-12-10T16:00",
    "timezone": "Europe/Zurich",
    "agenda": [
        {"time": "14:00", "title": "Welcome", "speaker": "Chair"},
        {"time": "2026-12-10T15:30:00+01:00", "title": "Wrap-up", "speaker": ""},
    ],
}


def make_world(operator: Actor, users: dict[str, User]) -> dict[str, Any]:
    services.create_organisation(
        operator,
        {
            "slug": "acme",
            "name": "Acme Health NGO",
            "kind": "cso_ngo",
            "countries": ["KE"],
            "focus_areas": ["cdhi-v1:1.1.1"],
        },
    )
    services.create_organisation(
        operator,
        {
            "slug": "beta",
            "name": "Beta University",
            "kind": "academia",
            "countries": ["SN", "KE"],
            "focus_areas": ["hsc:2.1"],
        },
    )
    open_contact, _ = services.add_contact(
        operator,
        "acme",
        {"name": "Ann Open", "email": "ann@example.org", "phone": "+254 1", "visible_to_members": True},
    )
    closed_contact, _ = services.add_contact(
        operator, "acme", {"name": "Bob Closed", "email": "bob@example.org", "visible_to_members": False}
    )
    services.create_network(
        operator,
        {"slug": "pub", "name": "Public network", "organisations": ["beta"], "coordinators": ["district_officer"]},
    )
    services.create_network(
        operator, {"slug": "sub", "name": "Sub network", "parent": "pub", "kind": "community_of_practice"}
    )
    services.create_network(
        operator,
        {"slug": "priv", "name": "Private group", "parent": "pub", "visibility": "private", "organisations": ["acme"]},
    )
    services.set_member(operator, "priv", "partner", "member")
    services.create_event(operator, "pub", {**EVENT, "slug": "ev"})
    services.create_event(operator, "priv", {**EVENT, "slug": "priv-ev", "title": "Private meeting", "kind": "meeting"})
    applicant, _ = accounts.create_user(operator, "applicant", role="viewer", orgunit_code="D21")
    join, _ = services.request_to_join(accounts.actor_for_user(applicant, mfa_verified=True), "pub", "please")
    item = Item.objects.create(kind="good_practice", title="A good practice", status="published", created_by_name="x")
    draft = Item.objects.create(kind="guideline", title="A draft", status="draft", created_by_name="x")
    return {
        "request": join.pk,
        "contact": closed_contact.pk,
        "open_contact": open_contact.pk,
        "item": str(item.public_id),
        "draft": str(draft.public_id),
        "applicant": applicant,
    }
