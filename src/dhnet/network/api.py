"""``/api/v1/network``: organisations, contacts, networks, join requests, events (thin handlers over the services).

Organisations, public networks and their events are public: those endpoints take no authentication but honour an
API token or session when one is sent (a contact's details and private networks then show as the caller may see
them); a token that does not authenticate is a 401, not an anonymous read.
"""

import datetime as dt
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import Field

from dhnet.network import services
from dhnet.network.models import Event, JoinRequest, Membership, Network, Organisation
from dhnet.platform.access import Actor, public, request_actor, requires

router = Router(tags=["network"])


def _viewer(request: HttpRequest) -> Actor:
    """The caller of a public endpoint: the token's actor if a token is sent, else the session's (or anonymous)."""
    if request.headers.get("Authorization"):
        from dhnet.accounts.auth import TokenAuth

        if TokenAuth()(request) is None:
            raise AuthenticationError()
    return request_actor(request)


# --- schemas --------------------------------------------------------------------------------------------------------


class OrganisationOut(Schema):
    slug: str
    name: str
    kind: str
    countries: list[str]
    focus_areas: list[str] = Field(description="taxonomy tags <scheme>:<code>")
    website: str
    description: str


class ContactOut(Schema):
    id: int
    name: str
    role_title: str
    email: str | None = Field(description="null unless the caller may see contact details")
    phone: str | None
    visible_to_members: bool
    details_shown: bool


class OrganisationDetailOut(OrganisationOut):
    contacts: list[ContactOut]
    networks: list[str]


class OrganisationIn(Schema):
    slug: str = Field("", max_length=80, description="derived from the name when empty")
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    countries: list[str] = Field(default_factory=list, max_length=300)
    focus_areas: list[str] = Field(default_factory=list, max_length=300, description="tags, e.g. cdhi-v1:1.1.1")
    website: str = Field("", max_length=300)
    description: str = Field("", max_length=20_000)


class OrganisationPatch(Schema):
    name: str | None = Field(None, max_length=200)
    kind: str | None = Field(None, max_length=40)
    countries: list[str] | None = Field(None, max_length=300)
    focus_areas: list[str] | None = Field(None, max_length=300)
    website: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=20_000)


class ContactIn(Schema):
    name: str = Field(max_length=200)
    role_title: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    visible_to_members: bool = False


class OrganisationFilter(Schema):
    kind: str = Field("", max_length=40)
    country: str = Field("", max_length=8, description="ISO 3166-1 alpha-2")
    focus: str = Field("", max_length=60, description="a tag; matches the concept and those below it")
    q: str = Field("", max_length=100)


class NetworkOut(Schema):
    slug: str
    name: str
    kind: str
    visibility: str
    parent: str | None
    description: str
    organisations: list[str]


class TreeNodeOut(Schema):
    slug: str
    name: str
    kind: str
    visibility: str
    parent: str | None
    depth: int
    members: int


class MemberOut(Schema):
    username: str
    role: str
    organisation: str | None
    joined_at: dt.datetime


class NetworkDetailOut(NetworkOut):
    ancestors: list[str]
    children: list[str]
    members: list[MemberOut]
    my_role: str | None
    my_request: str | None = Field(description="the caller's pending join request, if any (its status)")
    events: list[str]


class NetworkIn(Schema):
    slug: str = Field("", max_length=80)
    name: str = Field(max_length=200)
    kind: str = Field("network", max_length=40)
    visibility: str = Field("public", max_length=10)
    parent: str = Field("", max_length=80)
    description: str = Field("", max_length=20_000)
    organisations: list[str] = Field(default_factory=list, max_length=300)
    coordinators: list[str] = Field(default_factory=list, max_length=50, description="usernames")


class NetworkPatch(Schema):
    name: str | None = Field(None, max_length=200)
    kind: str | None = Field(None, max_length=40)
    visibility: str | None = Field(None, max_length=10)
    parent: str | None = Field(None, max_length=80)
    description: str | None = Field(None, max_length=20_000)
    organisations: list[str] | None = Field(None, max_length=300)


class MemberIn(Schema):
    role: str = Field("member", max_length=12)
    organisation: str = Field("", max_length=80)


class JoinIn(Schema):
    message: str = Field("", max_length=2000)
    organisation: str = Field("", max_length=80)


class JoinRequestOut(Schema):
    id: int
    network: str
    username: str
    organisation: str | None
    message: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


class JoinDecisionIn(Schema):
    approve: bool
    role: str = Field("member", max_length=12)


class AgendaIn(Schema):
    time: str = Field(max_length=40, description="ISO 8601 (naive: organiser's zone) or HH:MM on the start day")
    title: str = Field(max_length=300)
    speaker: str = Field("", max_length=200)


class EventIn(Schema):
    slug: str = Field("", max_length=80, description="derived from title and start date when empty")
    title: str = Field(max_length=200)
    kind: str = Field("roundtable", max_length=12)
    starts_at: str = Field(max_length=40, description="ISO 8601; naive times are in the organiser's timezone")
    ends_at: str = Field(max_length=40)
    timezone: str = Field("UTC", max_length=64, description="the organiser's IANA zone")
    location: str = Field("", max_length=200)
    link: str = Field("", max_length=300)
    description: str = Field("", max_length=20_000)
    agenda: list[AgendaIn] = Field(default_factory=list, max_length=60)
    organisations: list[str] = Field(default_factory=list, max_length=300)


class NetworkEventOut(Schema):
    slug: str
    network: str
    title: str
    kind: str
    starts_at: dt.datetime = Field(description="UTC")
    ends_at: dt.datetime
    timezone: str = Field(description="the organiser's zone")
    location: str
    link: str


class AgendaOut(Schema):
    time: dt.datetime | None = Field(description="in the requested zone")
    title: str
    speaker: str


class OutcomeOut(Schema):
    item: UUID
    title: str
    note: str


class EventDetailOut(NetworkEventOut):
    zone: str = Field(description="the zone of the times below (?tz=, else UTC)")
    local_starts_at: dt.datetime
    local_ends_at: dt.datetime
    description: str
    agenda: list[AgendaOut]
    participants: list[str]
    organisations: list[str]
    outcomes: list[OutcomeOut]


class OutcomeIn(Schema):
    item: str = Field(max_length=64, description="the knowledge item's public id")
    note: str = Field("", max_length=2000)


class EventFilter(Schema):
    network: str = Field("", max_length=80)
    upcoming: bool = False


class ZoneQuery(Schema):
    tz: str = Field("UTC", max_length=64, description="IANA time zone to show the times in")


# --- serialisers ----------------------------------------------------------------------------------------------------


def organisation_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        slug=org.slug,
        name=org.name,
        kind=org.kind,
        countries=list(org.countries or []),
        focus_areas=[c.tag for c in org.focus_areas.all()],
        website=org.website,
        description=org.description,
    )


def network_out(network: Network) -> NetworkOut:
    return NetworkOut(
        slug=network.slug,
        name=network.name,
        kind=network.kind,
        visibility=network.visibility,
        parent=network.parent.slug if network.parent else None,
        description=network.description,
        organisations=[o.slug for o in network.organisations.all()],
    )


def member_out(m: Membership) -> MemberOut:
    return MemberOut(
        username=m.user.username,
        role=m.role,
        organisation=m.organisation.slug if m.organisation else None,
        joined_at=m.joined_at,
    )


def request_out(r: JoinRequest) -> JoinRequestOut:
    return JoinRequestOut(
        id=r.pk,
        network=r.network.slug,
        username=r.user.username,
        organisation=r.organisation.slug if r.organisation else None,
        message=r.message,
        status=r.status,
        created_at=r.created_at,
        decided_at=r.decided_at,
    )


def event_out(e: Event) -> NetworkEventOut:
    return NetworkEventOut(
        slug=e.slug,
        network=e.network.slug,
        title=e.title,
        kind=e.kind,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        timezone=e.timezone,
        location=e.location,
        link=e.link,
    )


def _set(payload: Any) -> dict[str, Any]:
    return dict(payload.model_dump(exclude_unset=True))


# --- organisations --------------------------------------------------------------------------------------------------


@router.get("/network/organisations", auth=None, response=list[OrganisationOut], summary="Stakeholder organisations")
@public
def list_organisations(request: HttpRequest, filters: Query[OrganisationFilter]) -> list[OrganisationOut]:
    query = services.OrganisationFilter(**filters.model_dump())
    return [organisation_out(o) for o in services.list_organisations(_viewer(request), query)]


@router.post("/network/organisations", response={200: OrganisationOut, 201: OrganisationOut}, summary="Register one")
@requires(services.ORG_WRITE)
def create_organisation(request: HttpRequest, payload: OrganisationIn) -> Status[OrganisationOut]:
    org, created = services.create_organisation(request_actor(request), payload.model_dump())
    return Status(201 if created else 200, organisation_out(org))


@router.get(
    "/network/organisations/{slug}",
    auth=None,
    response=OrganisationDetailOut,
    summary="One organisation with its contacts (e-mail and phone only to who may see them; audited)",
)
@public
def get_organisation(request: HttpRequest, slug: str) -> OrganisationDetailOut:
    detail = services.get_organisation(_viewer(request), slug)
    base = organisation_out(detail.organisation).model_dump()
    return OrganisationDetailOut(
        **base,
        contacts=[ContactOut(**vars(c)) for c in detail.contacts],
        networks=[n.slug for n in detail.networks],
    )


@router.patch("/network/organisations/{slug}", response=OrganisationOut, summary="Change an organisation")
@requires(services.ORG_WRITE)
def update_organisation(request: HttpRequest, slug: str, payload: OrganisationPatch) -> OrganisationOut:
    return organisation_out(services.update_organisation(request_actor(request), slug, _set(payload)))


@router.post(
    "/network/organisations/{slug}/contacts", response={200: ContactOut, 201: ContactOut}, summary="Add a contact"
)
@requires(services.ORG_WRITE)
def add_contact(request: HttpRequest, slug: str, payload: ContactIn) -> Status[ContactOut]:
    contact, created = services.add_contact(request_actor(request), slug, payload.model_dump())
    out = ContactOut(
        id=contact.pk,
        name=contact.name,
        role_title=contact.role_title,
        email=contact.email,
        phone=contact.phone,
        visible_to_members=contact.visible_to_members,
        details_shown=True,
    )
    return Status(201 if created else 200, out)


@router.delete("/network/organisations/{slug}/contacts/{contact_id}", response={204: None}, summary="Remove a contact")
@requires(services.ORG_WRITE)
def delete_contact(request: HttpRequest, slug: str, contact_id: int) -> Status[None]:
    services.delete_contact(request_actor(request), slug, contact_id)
    return Status(204, None)


# --- networks -------------------------------------------------------------------------------------------------------


@router.get(
    "/network/networks",
    auth=None,
    response=list[TreeNodeOut],
    summary="The network of networks: visible networks as a tree (depth-first)",
)
@public
def list_networks(request: HttpRequest) -> list[TreeNodeOut]:
    return [
        TreeNodeOut(
            slug=node.network.slug,
            name=node.network.name,
            kind=node.network.kind,
            visibility=node.network.visibility,
            parent=node.network.parent.slug if node.network.parent else None,
            depth=node.depth,
            members=node.members,
        )
        for node in services.network_tree(_viewer(request))
    ]


@router.post("/network/networks", response={200: NetworkOut, 201: NetworkOut}, summary="Create a network or CoP")
@requires(services.NETWORK_WRITE)
def create_network(request: HttpRequest, payload: NetworkIn) -> Status[NetworkOut]:
    network, created = services.create_network(request_actor(request), payload.model_dump())
    return Status(201 if created else 200, network_out(network))


@router.get(
    "/network/networks/{slug}",
    auth=None,
    response=NetworkDetailOut,
    summary="One network (private ones: members only, else 404)",
)
@public
def get_network(request: HttpRequest, slug: str) -> NetworkDetailOut:
    d = services.get_network(_viewer(request), slug)
    return NetworkDetailOut(
        **network_out(d.network).model_dump(),
        ancestors=[n.slug for n in d.ancestors],
        children=[n.slug for n in d.children],
        members=[member_out(m) for m in d.members],
        my_role=d.membership.role if d.membership else None,
        my_request=d.pending_request.status if d.pending_request else None,
        events=[e.slug for e in d.events],
    )


@router.patch("/network/networks/{slug}", response=NetworkOut, summary="Change a network (its coordinators)")
@requires(services.JOIN)
def update_network(request: HttpRequest, slug: str, payload: NetworkPatch) -> NetworkOut:
    return network_out(services.update_network(request_actor(request), slug, _set(payload)))


@router.get("/network/networks/{slug}/members", response=list[MemberOut], summary="Members of a network")
@requires(services.JOIN)
def list_members(request: HttpRequest, slug: str) -> list[MemberOut]:
    return [member_out(m) for m in services.list_members(request_actor(request), slug)]


@router.put(
    "/network/networks/{slug}/members/{username}",
    response={200: MemberOut, 201: MemberOut},
    summary="Add a member or change their role, e.g. appoint a coordinator (coordinators)",
)
@requires(services.JOIN)
def set_member(request: HttpRequest, slug: str, username: str, payload: MemberIn) -> Status[MemberOut]:
    m, created = services.set_member(request_actor(request), slug, username, payload.role, payload.organisation)
    return Status(201 if created else 200, member_out(m))


@router.post(
    "/network/networks/{slug}/join",
    response={200: JoinRequestOut, 201: JoinRequestOut},
    summary="Ask to join (the pending request again if one is open)",
)
@requires(services.JOIN)
def request_to_join(request: HttpRequest, slug: str, payload: JoinIn) -> Status[JoinRequestOut]:
    join, created = services.request_to_join(request_actor(request), slug, payload.message, payload.organisation)
    return Status(201 if created else 200, request_out(join))


@router.get(
    "/network/networks/{slug}/requests",
    response=list[JoinRequestOut],
    summary="The approval queue: pending join requests (coordinators; audited)",
)
@requires(services.JOIN)
def list_requests(request: HttpRequest, slug: str, status: str = "pending") -> list[JoinRequestOut]:
    return [request_out(r) for r in services.join_requests(request_actor(request), slug, status)]


@router.post(
    "/network/requests/{request_id}/decision", response=JoinRequestOut, summary="Approve or decline (coordinators)"
)
@requires(services.JOIN)
def decide_request(request: HttpRequest, request_id: int, payload: JoinDecisionIn) -> JoinRequestOut:
    join = services.decide_request(request_actor(request), request_id, payload.approve, payload.role)
    return request_out(join)


# --- events ---------------------------------------------------------------------------------------------------------


@router.get("/network/events", auth=None, response=list[NetworkEventOut], summary="Events of the visible networks")
@public
def list_events(request: HttpRequest, filters: Query[EventFilter]) -> list[NetworkEventOut]:
    events = services.list_events(_viewer(request), filters.network, filters.upcoming)
    return [event_out(e) for e in events]


@router.post(
    "/network/networks/{slug}/events",
    response={200: NetworkEventOut, 201: NetworkEventOut},
    summary="Plan an event with its agenda (coordinators)",
)
@requires(services.JOIN)
def create_event(request: HttpRequest, slug: str, payload: EventIn) -> Status[NetworkEventOut]:
    event, created = services.create_event(request_actor(request), slug, payload.model_dump())
    return Status(201 if created else 200, event_out(event))


@router.get(
    "/network/events/{slug}",
    auth=None,
    response=EventDetailOut,
    summary="One event, its times and agenda in the zone asked for (?tz=, IANA; UTC otherwise)",
)
@public
def get_event(request: HttpRequest, slug: str, query: Query[ZoneQuery]) -> EventDetailOut:
    d = services.get_event(_viewer(request), slug, query.tz)
    return EventDetailOut(
        **event_out(d.event).model_dump(),
        zone=d.zone,
        local_starts_at=d.starts_at,
        local_ends_at=d.ends_at,
        description=d.event.description,
        agenda=[AgendaOut(time=a.at, title=a.title, speaker=a.speaker) for a in d.agenda],
        participants=[u.username for u in d.participants],
        organisations=[o.slug for o in d.organisations],
        outcomes=[OutcomeOut(item=o.item.public_id, title=o.item.title, note=o.note) for o in d.outcomes],
    )


@router.post("/network/events/{slug}/participants", response={204: None}, summary="Take part (again: no change)")
@requires(services.JOIN)
def participate(request: HttpRequest, slug: str) -> Status[None]:
    services.participate(request_actor(request), slug, True)
    return Status(204, None)


@router.delete("/network/events/{slug}/participants", response={204: None}, summary="Withdraw from an event")
@requires(services.JOIN)
def withdraw(request: HttpRequest, slug: str) -> Status[None]:
    services.participate(request_actor(request), slug, False)
    return Status(204, None)


@router.post(
    "/network/events/{slug}/outcomes",
    response={200: OutcomeOut, 201: OutcomeOut},
    summary="Link a knowledge item that came out of the event (coordinators)",
)
@requires(services.JOIN)
def add_outcome(request: HttpRequest, slug: str, payload: OutcomeIn) -> Status[OutcomeOut]:
    outcome, created = services.add_outcome(request_actor(request), slug, payload.item, payload.note)
    return Status(
        201 if created else 200, OutcomeOut(item=outcome.item.public_id, title=outcome.item.title, note=outcome.note)
    )
