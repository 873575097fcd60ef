"""Stakeholders and communities: the domain logic of the network context (see docs/knowledge-design.md).

Who sees what:

- Organisations, their contacts' names and titles, public networks and their events are public (anyone, signed in
  or not): the network of networks is meant to be found. Reading them is not audited.
- A contact's e-mail and phone are shown to signed-in holders of ``network:contact:read``, and — when the contact
  is ``visible_to_members`` — to members of a network the organisation belongs to. Every read of them is audited
  (``network.contact.read``).
- A private network, its members and events are visible to its members and to holders of ``network:network:write``;
  others get 404 (existence is not revealed). Reading one is audited (``network.network.read``).
- Coordinators of a network (and holders of ``network:network:write``) decide join requests, appoint members and
  coordinators, plan events and link their outcomes.

Every write checks permission, runs in one transaction and records its audit entry in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from dhnet.accounts.models import User
from dhnet.audit.services import record
from dhnet.network import timezones
from dhnet.network.models import (
    Contact,
    Event,
    EventKind,
    JoinRequest,
    MemberRole,
    Membership,
    Network,
    NetworkKind,
    Organisation,
    OrganisationKind,
    RequestStatus,
    Visibility,
)
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.platform.validate import choice as _choice
from dhnet.platform.validate import text as _text

ORG_WRITE = "network:organisation:write"
CONTACT_READ = "network:contact:read"
NETWORK_WRITE = "network:network:write"
JOIN = "network:membership:request"
COORDINATOR = "coordinator"  # MemberRole.COORDINATOR

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
MAX_LIST = 300
MAX_AGENDA = 60
MAX_TEXT = 20_000


# --- validation helpers ---------------------------------------------------------------------------------------------


def _slug(raw: Any, fallback: str, where: str = "slug") -> str:
    value = _text(raw, where, max_length=80)
    if not value:
        value = slugify(fallback)[:80].strip("-")
        if not value:
            raise Invalid(f"{where}: cannot be derived from {fallback[:40]!r}; give one (a-z, 0-9, -)")
    if not SLUG_RE.match(value):
        raise Invalid(f"{where}: {value[:40]!r} is not a slug (lower-case letters, digits and -)")
    return value


def _countries(raw: Any, where: str = "countries") -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,;]+", raw) if part]
    if not isinstance(raw, list | tuple):
        raise Invalid(f"{where}: expected a list of ISO 3166-1 alpha-2 codes")
    if len(raw) > MAX_LIST:
        raise Invalid(f"{where}: more than {MAX_LIST} countries")
    known = timezones.countries()
    codes: list[str] = []
    for i, item in enumerate(raw):
        code = str(item).strip().upper()
        if code not in known:
            raise Invalid(f"{where}[{i}]: {str(item)[:20]!r} is not an ISO 3166-1 alpha-2 country code")
        if code not in codes:
            codes.append(code)
    return codes


def _url(raw: Any, where: str) -> str:
    value = _text(raw, where, max_length=300)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise Invalid(f"{where}: {value[:60]!r} is not an http(s) URL") from None
    return value


def _email(raw: Any, where: str) -> str:
    value = _text(raw, where, max_length=254)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise Invalid(f"{where}: {value[:60]!r} is not an e-mail address") from None
    return value


def _names(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,]+", raw) if part]
    if not isinstance(raw, list | tuple):
        raise Invalid(f"{where}: expected a list")
    if len(raw) > MAX_LIST:
        raise Invalid(f"{where}: more than {MAX_LIST} entries")
    return list(dict.fromkeys(_text(v, f"{where}[{i}]", max_length=150) for i, v in enumerate(raw)))


def _focus_areas(raw: Any) -> list[Any]:
    from dhnet.taxonomy.services import resolve_tags

    tags = _names(raw, "focus_areas")
    try:
        return resolve_tags(tags)
    except Invalid as exc:
        raise Invalid(f"focus_areas: {exc.message}") from None


def _users(usernames: Iterable[str], where: str) -> list[User]:
    wanted = list(dict.fromkeys(usernames))
    found = {u.username: u for u in User.objects.filter(username__in=wanted, is_active=True)}
    for i, name in enumerate(wanted):
        if name not in found:
            raise Invalid(f"{where}[{i}]: no user {name!r}")
    return [found[n] for n in wanted]


def _user_of(actor: Actor, what: str) -> int:
    if actor.user_id is None:
        raise Invalid(f"only a signed-in user can {what}")
    return actor.user_id


# --- organisations --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationFilter:
    kind: str = ""
    country: str = ""
    focus: str = ""  # a tag <scheme>:<code>; organisations with that concept or one below it
    q: str = ""


def organisation(slug: str) -> Organisation:
    """One organisation by slug (``NotFound`` naming it). Organisations are public (contact details are not)."""
    found = None if "\x00" in slug else Organisation.objects.filter(slug=slug).first()
    if found is None:
        raise NotFound(f"no organisation {slug!r}")
    return found


def organisations_by_slug(slugs: Iterable[str]) -> list[Organisation]:
    """The organisations named, in the order given, without repeats; ``Invalid`` naming an unknown slug."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs))
    found = {o.slug: o for o in Organisation.objects.filter(slug__in=wanted)}
    for slug in wanted:
        if slug not in found:
            raise Invalid(f"unknown organisation {slug!r}")
    return [found[s] for s in wanted]


def list_organisations(actor: Actor, filters: OrganisationFilter | None = None) -> list[Organisation]:
    """The organisations matching the filters, by name (public data: not audited).

    ``focus`` matches the concept and every concept below it (an organisation working on intervention 1.1.1 is
    found under category 1.1 and group 1.0).
    """
    filters = filters or OrganisationFilter()
    orgs = Organisation.objects.prefetch_related("focus_areas__scheme").order_by("name")
    if filters.kind:
        orgs = orgs.filter(kind=_choice(filters.kind, OrganisationKind, "kind"))
    if filters.focus:
        from dhnet.taxonomy.services import concept, parse_tag

        scheme_code, code = parse_tag(filters.focus)
        try:
            root = concept(scheme_code, code)
        except NotFound:
            raise Invalid(f"focus: unknown tag {filters.focus!r}") from None
        ids = _descendant_ids(root)
        orgs = orgs.filter(focus_areas__in=ids).distinct()
    if filters.q:
        q = _text(filters.q, "q", max_length=100)
        orgs = orgs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    result = list(orgs)
    if filters.country:
        code = _countries([filters.country], "country")[0]
        result = [o for o in result if code in (o.countries or [])]
    return result


def focus_options() -> list[Any]:
    """The concepts organisations work on, with their ancestors, in scheme order (for the focus-area filter)."""
    from dhnet.taxonomy.models import Concept

    used = set(Organisation.focus_areas.through.objects.values_list("concept_id", flat=True))
    wanted, frontier = set(used), set(used)
    while frontier:
        frontier = (
            set(Concept.objects.filter(pk__in=frontier, parent__isnull=False).values_list("parent_id", flat=True))
            - wanted
        )
        wanted |= frontier
    return list(Concept.objects.filter(pk__in=wanted).select_related("scheme").order_by("scheme__code", "ordinal"))


def _descendant_ids(root: Any) -> list[int]:
    from dhnet.taxonomy.models import Concept

    ids, frontier = [root.pk], [root.pk]
    while frontier:
        frontier = list(Concept.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids.extend(frontier)
    return ids


@dataclass(frozen=True)
class ContactView:
    """A contact as one viewer sees it: e-mail and phone are None unless ``details_shown``."""

    id: int
    name: str
    role_title: str
    email: str | None
    phone: str | None
    visible_to_members: bool
    details_shown: bool


@dataclass
class OrganisationDetail:
    organisation: Organisation
    contacts: list[ContactView]
    networks: list[Network]
    can_edit: bool


def _may_see_contact_details(actor: Actor, org: Organisation) -> tuple[bool, bool]:
    """(every contact's details, details of contacts visible to members) for ``actor`` at ``org``."""
    if not actor.is_authenticated:
        return False, False
    if actor.has(CONTACT_READ):
        return True, True
    if actor.user_id is None:
        return False, False
    member = Membership.objects.filter(user_id=actor.user_id, network__organisations=org).exists()
    return False, member


def contacts_of(actor: Actor, org: Organisation) -> list[ContactView]:
    """The contacts of ``org`` with personal details where ``actor`` may see them; showing any is audited."""
    every, members_only = _may_see_contact_details(actor, org)
    views: list[ContactView] = []
    shown: list[int] = []
    for c in org.contacts.all():
        show = every or (members_only and c.visible_to_members)
        if show and (c.email or c.phone):
            shown.append(c.pk)
        views.append(
            ContactView(
                id=c.pk,
                name=c.name,
                role_title=c.role_title,
                email=c.email if show else None,
                phone=c.phone if show else None,
                visible_to_members=c.visible_to_members,
                details_shown=show,
            )
        )
    if shown:
        with transaction.atomic():
            record(
                actor,
                "network.contact.read",
                object_type="network.organisation",
                object_id=org.slug,
                detail={"contacts": shown, "as": "contact_reader" if every else "network_member"},
                permission=CONTACT_READ if every else None,
            )
    return views


def get_organisation(actor: Actor, slug: str) -> OrganisationDetail:
    """An organisation's page: its data, contacts (details as ``actor`` may see them) and visible networks."""
    org = organisation(slug)
    networks = list(visible_networks(actor).filter(organisations=org).order_by("name"))
    return OrganisationDetail(
        organisation=org, contacts=contacts_of(actor, org), networks=networks, can_edit=actor.has(ORG_WRITE)
    )


ORGANISATION_FIELDS = ("name", "kind", "countries", "focus_areas", "website", "description")


def _organisation_values(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(data) - set(ORGANISATION_FIELDS) - {"slug"})
    if unknown:
        raise Invalid(f"{unknown[0]}: not a field of an organisation")
    values: dict[str, Any] = {}
    if not partial or "name" in data:
        values["name"] = _text(data.get("name"), "name", max_length=200, required=True)
    if not partial or "kind" in data:
        values["kind"] = _choice(data.get("kind"), OrganisationKind, "kind")
    if not partial or "countries" in data:
        values["countries"] = _countries(data.get("countries"))
    if not partial or "website" in data:
        values["website"] = _url(data.get("website"), "website")
    if not partial or "description" in data:
        values["description"] = _text(data.get("description"), "description", max_length=MAX_TEXT)
    if not partial or "focus_areas" in data:
        values["focus_areas"] = _focus_areas(data.get("focus_areas"))
    return values


def _organisation_snapshot(org: Organisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "kind": org.kind,
        "countries": list(org.countries or []),
        "focus_areas": sorted(c.tag for c in org.focus_areas.select_related("scheme")),
        "website": org.website,
        "description": org.description,
    }


def create_organisation(actor: Actor, data: dict[str, Any]) -> tuple[Organisation, bool]:
    """Register an organisation; returns it and whether it is new.

    Sending the same payload again returns the stored organisation unchanged (no duplicate); a different
    organisation under a slug already taken is a ``Conflict`` naming the slug.
    """
    if not actor.has(ORG_WRITE):
        raise Forbidden(f"requires {ORG_WRITE}")
    values = _organisation_values(data, partial=False)
    slug = _slug(data.get("slug"), values["name"])
    focus = values.pop("focus_areas")
    with transaction.atomic():
        existing = Organisation.objects.select_for_update().filter(slug=slug).first()
        if existing is not None:
            wanted = {**values, "focus_areas": sorted(c.tag for c in focus)}
            if _organisation_snapshot(existing) == wanted:
                return existing, False
            raise Conflict(f"slug: an organisation {slug!r} exists already")
        try:
            with transaction.atomic():
                org = Organisation.objects.create(slug=slug, created_by_id=actor.user_id, **values)
        except IntegrityError:
            raise Conflict(f"slug: an organisation {slug!r} exists already") from None
        org.focus_areas.set(focus)
        record(
            actor,
            "network.organisation.create",
            object_type="network.organisation",
            object_id=slug,
            detail=_organisation_snapshot(org),
            permission=ORG_WRITE,
        )
    return org, True


def update_organisation(actor: Actor, slug: str, changes: dict[str, Any]) -> Organisation:
    """Change the fields given (``slug`` cannot change: it is the organisation's name in URLs and item authors)."""
    if not actor.has(ORG_WRITE):
        raise Forbidden(f"requires {ORG_WRITE}")
    if "slug" in changes:
        raise Invalid("slug: cannot be changed")
    values = _organisation_values(changes, partial=True)
    focus = values.pop("focus_areas", None)
    with transaction.atomic():
        org = Organisation.objects.select_for_update().filter(slug=slug).first()
        if org is None:
            raise NotFound(f"no organisation {slug!r}")
        before = _organisation_snapshot(org)
        for name, value in values.items():
            setattr(org, name, value)
        org.save()
        if focus is not None:
            org.focus_areas.set(focus)
        after = _organisation_snapshot(org)
        changed = {k: after[k] for k in after if after[k] != before[k]}
        if changed:
            record(
                actor,
                "network.organisation.update",
                object_type="network.organisation",
                object_id=slug,
                detail={"changes": changed},
                permission=ORG_WRITE,
            )
    return org


def add_contact(actor: Actor, slug: str, data: dict[str, Any]) -> tuple[Contact, bool]:
    """Add a contact to an organisation; the same contact (name and e-mail) again is not stored twice."""
    if not actor.has(ORG_WRITE):
        raise Forbidden(f"requires {ORG_WRITE}")
    unknown = sorted(set(data) - {"name", "role_title", "email", "phone", "visible_to_members"})
    if unknown:
        raise Invalid(f"{unknown[0]}: not a field of a contact")
    values: dict[str, Any] = {
        "name": _text(data.get("name"), "name", max_length=200, required=True),
        "role_title": _text(data.get("role_title"), "role_title", max_length=200),
        "email": _email(data.get("email"), "email"),
        "phone": _text(data.get("phone"), "phone", max_length=40),
        "visible_to_members": bool(data.get("visible_to_members", False)),
    }
    if values["phone"] and not re.fullmatch(r"[0-9+() .\-/]{3,40}", values["phone"]):
        raise Invalid(f"phone: {values['phone'][:40]!r} is not a telephone number")
    with transaction.atomic():
        org = Organisation.objects.select_for_update().filter(slug=slug).first()
        if org is None:
            raise NotFound(f"no organisation {slug!r}")
        existing = org.contacts.filter(name=values["name"], email=values["email"]).first()
        if existing is not None:
            return existing, False
        contact = Contact.objects.create(organisation=org, **values)
        record(
            actor,
            "network.contact.create",
            object_type="network.contact",
            object_id=contact.pk,
            detail={"organisation": slug, "name": contact.name},
            permission=ORG_WRITE,
        )
    return contact, True


def delete_contact(actor: Actor, slug: str, contact_id: int) -> None:
    if not actor.has(ORG_WRITE):
        raise Forbidden(f"requires {ORG_WRITE}")
    with transaction.atomic():
        contact = Contact.objects.filter(organisation__slug=slug, pk=contact_id).first()
        if contact is None:
            raise NotFound(f"no contact {contact_id} at organisation {slug!r}")
        record(
            actor,
            "network.contact.delete",
            object_type="network.contact",
            object_id=contact_id,
            detail={"organisation": slug, "name": contact.name},
            permission=ORG_WRITE,
        )
        contact.delete()


# --- networks -------------------------------------------------------------------------------------------------------


def visible_networks(actor: Actor) -> QuerySet[Network]:
    """Public networks, the private ones ``actor`` is a member of, and all for ``network:network:write``."""
    networks = Network.objects.all()
    if actor.has(NETWORK_WRITE):
        return networks
    visible = Q(visibility=Visibility.PUBLIC)
    if actor.user_id is not None:
        mine = Membership.objects.filter(user_id=actor.user_id).values("network_id")
        visible |= Q(pk__in=mine)
    return networks.filter(visible)


def _network(actor: Actor, slug: str, *, lock: bool = False) -> Network:
    if "\x00" in slug:  # no slug has one (PostgreSQL cannot even compare it): no such network
        raise NotFound(f"no network {slug!r}")
    networks = visible_networks(actor)
    if lock:
        networks = networks.select_for_update()
    found = networks.filter(slug=slug).first()
    if found is None:
        raise NotFound(f"no network {slug!r}")
    return found


def is_coordinator(actor: Actor, network: Network) -> bool:
    if actor.has(NETWORK_WRITE):
        return True
    if actor.user_id is None:
        return False
    return Membership.objects.filter(network=network, user_id=actor.user_id, role=MemberRole.COORDINATOR).exists()


def _require_coordinator(actor: Actor, network: Network, what: str) -> None:
    if not is_coordinator(actor, network):
        raise Forbidden(f"only a coordinator of {network.slug!r} (or {NETWORK_WRITE}) may {what}")


def _audit_private_read(actor: Actor, network: Network, action: str = "network.network.read") -> None:
    if network.is_private:
        record(
            actor,
            action,
            object_type="network.network",
            object_id=network.slug,
            permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
        )


@dataclass(frozen=True)
class TreeNode:
    network: Network
    depth: int
    members: int


def network_tree(actor: Actor) -> list[TreeNode]:
    """The visible networks as a tree in depth-first order (a network whose parent is hidden starts a tree)."""
    networks = list(
        visible_networks(actor).select_related("parent").annotate(member_count=Count("memberships")).order_by("name")
    )
    ids = {n.pk for n in networks}
    children: dict[int | None, list[Network]] = {}
    for n in networks:
        parent = n.parent_id if n.parent_id in ids else None
        children.setdefault(parent, []).append(n)
    nodes: list[TreeNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for n in children.get(parent, []):
            nodes.append(TreeNode(network=n, depth=depth, members=getattr(n, "member_count", 0)))
            walk(n.pk, depth + 1)

    walk(None, 0)
    return nodes


@dataclass
class NetworkDetail:
    network: Network
    ancestors: list[Network]
    children: list[Network]
    organisations: list[Organisation]
    members: list[Membership]  # empty for anonymous viewers
    membership: Membership | None
    pending_request: JoinRequest | None
    can_manage: bool
    can_request: bool
    requests: list[JoinRequest] = field(default_factory=list)  # pending, for coordinators
    events: list[Event] = field(default_factory=list)


def get_network(actor: Actor, slug: str) -> NetworkDetail:
    """A network's page: where it sits in the network of networks, organisations, members, join state, events.

    Members are listed to signed-in viewers only; the pending requests to coordinators (and that listing is
    audited). Reading a private network is audited.
    """
    with transaction.atomic():
        network = _network(actor, slug)
        visible = visible_networks(actor)
        ancestors: list[Network] = []
        seen = {network.pk}
        current = network.parent
        while current is not None and current.pk not in seen and len(ancestors) < 50:
            seen.add(current.pk)
            if visible.filter(pk=current.pk).exists():
                ancestors.insert(0, current)
            current = current.parent
        members: list[Membership] = []
        membership = None
        pending = None
        if actor.is_authenticated:
            members = list(
                network.memberships.select_related("user", "organisation").order_by("role", "user__username")
            )
        if actor.user_id is not None:
            membership = next((m for m in members if m.user_id == actor.user_id), None)
            pending = network.join_requests.filter(user_id=actor.user_id, status=RequestStatus.PENDING).first()
        can_manage = is_coordinator(actor, network)
        requests: list[JoinRequest] = []
        if can_manage:
            requests = list(
                network.join_requests.filter(status=RequestStatus.PENDING).select_related("user", "organisation")
            )
            if requests:
                record(
                    actor,
                    "network.joinrequest.list",
                    object_type="network.network",
                    object_id=network.slug,
                    detail={"requests": [r.pk for r in requests]},
                    permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
                )
        _audit_private_read(actor, network)
        return NetworkDetail(
            network=network,
            ancestors=ancestors,
            children=list(visible.filter(parent=network).order_by("name")),
            organisations=list(network.organisations.order_by("name")),
            members=members,
            membership=membership,
            pending_request=pending,
            can_manage=can_manage,
            can_request=actor.has(JOIN) and actor.user_id is not None and membership is None and pending is None,
            requests=requests,
            events=list(network.events.order_by("starts_at")),
        )


NETWORK_FIELDS = ("name", "kind", "parent", "visibility", "description", "organisations")


def _network_values(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(data) - set(NETWORK_FIELDS) - {"slug", "coordinators"})
    if unknown:
        raise Invalid(f"{unknown[0]}: not a field of a network")
    values: dict[str, Any] = {}
    if not partial or "name" in data:
        values["name"] = _text(data.get("name"), "name", max_length=200, required=True)
    if not partial or "kind" in data:
        values["kind"] = _choice(data.get("kind") or NetworkKind.NETWORK, NetworkKind, "kind")
    if not partial or "visibility" in data:
        values["visibility"] = _choice(data.get("visibility") or Visibility.PUBLIC, Visibility, "visibility")
    if not partial or "description" in data:
        values["description"] = _text(data.get("description"), "description", max_length=MAX_TEXT)
    if not partial or "parent" in data:
        parent = _text(data.get("parent"), "parent", max_length=80)
        values["parent"] = parent or None
    if not partial or "organisations" in data:
        try:
            values["organisations"] = organisations_by_slug(_names(data.get("organisations"), "organisations"))
        except Invalid as exc:
            raise Invalid(f"organisations: {exc.message}") from None
    return values


def _parent_of(actor: Actor, slug: str | None, network: Network | None) -> Network | None:
    if not slug:
        return None
    parent = visible_networks(actor).filter(slug=slug).first()
    if parent is None:
        raise Invalid(f"parent: no network {slug!r}")
    current: Network | None = parent
    hops = 0
    while current is not None and hops < 100:
        if network is not None and current.pk == network.pk:
            raise Invalid(f"parent: {slug!r} is {network.slug!r} itself or one of its sub-networks (a cycle)")
        current = current.parent
        hops += 1
    return parent


def _network_snapshot(network: Network) -> dict[str, Any]:
    return {
        "name": network.name,
        "kind": network.kind,
        "visibility": network.visibility,
        "description": network.description,
        "parent": network.parent.slug if network.parent else None,
        "organisations": sorted(network.organisations.values_list("slug", flat=True)),
    }


def create_network(actor: Actor, data: dict[str, Any]) -> tuple[Network, bool]:
    """Create a network or community of practice (``network:network:write``); returns it and whether it is new.

    The creator (a user) becomes its first coordinator, as do the users named in ``coordinators``. The same
    payload again returns the stored network; another network under a taken slug is a ``Conflict``.
    """
    if not actor.has(NETWORK_WRITE):
        raise Forbidden(f"requires {NETWORK_WRITE}")
    values = _network_values(data, partial=False)
    slug = _slug(data.get("slug"), values["name"])
    coordinators = _users(_names(data.get("coordinators"), "coordinators"), "coordinators")
    organisations = values.pop("organisations")
    with transaction.atomic():
        parent = _parent_of(actor, values.pop("parent"), None)
        existing = Network.objects.select_for_update().filter(slug=slug).first()
        if existing is not None:
            wanted = {**values, "parent": parent.slug if parent else None}
            wanted["organisations"] = sorted(o.slug for o in organisations)
            if _network_snapshot(existing) == wanted:
                return existing, False
            raise Conflict(f"slug: a network {slug!r} exists already")
        network = Network.objects.create(slug=slug, parent=parent, created_by_id=actor.user_id, **values)
        network.organisations.set(organisations)
        appointed = list(dict.fromkeys([*([actor.user_id] if actor.user_id else []), *(u.pk for u in coordinators)]))
        Membership.objects.bulk_create(
            [Membership(network=network, user_id=uid, role=MemberRole.COORDINATOR) for uid in appointed]
        )
        record(
            actor,
            "network.network.create",
            object_type="network.network",
            object_id=slug,
            detail={**_network_snapshot(network), "coordinators": appointed},
            permission=NETWORK_WRITE,
        )
    return network, True


def update_network(actor: Actor, slug: str, changes: dict[str, Any]) -> Network:
    """Change the fields given (coordinators of the network or ``network:network:write``)."""
    if "slug" in changes or "coordinators" in changes:
        raise Invalid(f"{'slug' if 'slug' in changes else 'coordinators'}: cannot be changed here")
    values = _network_values(changes, partial=True)
    with transaction.atomic():
        network = _network(actor, slug, lock=True)
        _require_coordinator(actor, network, "change it")
        before = _network_snapshot(network)
        organisations = values.pop("organisations", None)
        if "parent" in values:
            values["parent"] = _parent_of(actor, values["parent"], network)
        for name, value in values.items():
            setattr(network, name, value)
        network.save()
        if organisations is not None:
            network.organisations.set(organisations)
        after = _network_snapshot(network)
        changed = {k: after[k] for k in after if after[k] != before[k]}
        if changed:
            record(
                actor,
                "network.network.update",
                object_type="network.network",
                object_id=slug,
                detail={"changes": changed},
                permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
            )
    return network


def network_for_planning(actor: Actor, slug: str) -> Network:
    """A network whose events ``actor`` may plan (its coordinators): the event form's subject."""
    network = _network(actor, slug)
    _require_coordinator(actor, network, "plan its events")
    return network


def list_members(actor: Actor, slug: str) -> list[Membership]:
    """The members of a visible network (signed-in viewers; the members of a private one: audited)."""
    if not actor.is_authenticated:
        raise Forbidden("sign in to see the members of a network")
    with transaction.atomic():
        network = _network(actor, slug)
        _audit_private_read(actor, network, "network.membership.list")
        return list(network.memberships.select_related("user", "organisation").order_by("role", "user__username"))


def set_member(
    actor: Actor, slug: str, username: str, role: str, organisation_slug: str = ""
) -> tuple[Membership, bool]:
    """Add a user to a network or change their role (coordinators; appointing coordinators included).

    The last coordinator cannot be demoted (a network always has someone to decide its join requests).
    """
    role = _choice(role, MemberRole, "role")
    with transaction.atomic():
        network = _network(actor, slug, lock=True)
        _require_coordinator(actor, network, "appoint members")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise NotFound(f"no user {username!r}")
        org = organisation(organisation_slug) if organisation_slug else None
        membership = Membership.objects.filter(network=network, user=user).first()
        created = membership is None
        if membership is None:
            membership = Membership.objects.create(network=network, user=user, role=role, organisation=org)
        else:
            if (
                membership.role == COORDINATOR
                and role != COORDINATOR
                and not network.memberships.filter(role=MemberRole.COORDINATOR).exclude(pk=membership.pk).exists()
            ):
                raise Conflict(f"role: {username!r} is the last coordinator of {slug!r}")
            unchanged = membership.role == role and (org is None or membership.organisation_id == org.pk)
            if unchanged:
                return membership, False
            membership.role = role
            if org is not None:
                membership.organisation = org
            membership.save(update_fields=["role", "organisation"])
        network.join_requests.filter(user=user, status=RequestStatus.PENDING).update(
            status=RequestStatus.APPROVED, decided_by_id=actor.user_id, decided_at=timezone.now()
        )
        record(
            actor,
            "network.membership.set",
            object_type="network.network",
            object_id=slug,
            detail={"user": username, "role": role, "organisation": organisation_slug or None, "new": created},
            permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
        )
    return membership, created


def request_to_join(
    actor: Actor, slug: str, message: str = "", organisation_slug: str = ""
) -> tuple[JoinRequest, bool]:
    """Ask to join a visible network; returns the request and whether it is new.

    A second request while one is pending returns the pending one (no duplicate); a member asking again is a
    ``Conflict``.
    """
    if not actor.has(JOIN):
        raise Forbidden(f"requires {JOIN}")
    user_id = _user_of(actor, "ask to join a network")
    text = _text(message, "message", max_length=2000)
    with transaction.atomic():
        network = _network(actor, slug, lock=True)
        org = organisation(organisation_slug) if organisation_slug else None
        if Membership.objects.filter(network=network, user_id=user_id).exists():
            raise Conflict(f"you are a member of {slug!r} already")
        pending = network.join_requests.filter(user_id=user_id, status=RequestStatus.PENDING).first()
        if pending is not None:
            return pending, False
        join = JoinRequest.objects.create(network=network, user_id=user_id, message=text, organisation=org)
        record(
            actor,
            "network.joinrequest.create",
            object_type="network.joinrequest",
            object_id=join.pk,
            detail={"network": slug, "organisation": organisation_slug or None},
            permission=JOIN,
        )
    return join, True


def join_requests(actor: Actor, slug: str, status: str = "pending") -> list[JoinRequest]:
    """A network's join requests (coordinators): its approval queue by default. Audited."""
    status = _choice(status, RequestStatus, "status")
    with transaction.atomic():
        network = _network(actor, slug)
        _require_coordinator(actor, network, "see its join requests")
        requests = list(network.join_requests.filter(status=status).select_related("user", "organisation", "network"))
        record(
            actor,
            "network.joinrequest.list",
            object_type="network.network",
            object_id=slug,
            detail={"status": status, "requests": [r.pk for r in requests]},
            permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
        )
    return requests


def decide_request(actor: Actor, request_id: int, approve: bool, role: str = "member") -> JoinRequest:
    """Approve (the user becomes a member with ``role``) or decline a join request (coordinators).

    Deciding a decided request the same way again changes nothing; the other way is a ``Conflict``.
    """
    role = _choice(role, MemberRole, "role")
    with transaction.atomic():
        join = JoinRequest.objects.select_for_update().filter(pk=request_id).select_related("network").first()
        if join is None or not visible_networks(actor).filter(pk=join.network_id).exists():
            raise NotFound(f"no join request {request_id}")
        _require_coordinator(actor, join.network, "decide its join requests")
        decision = RequestStatus.APPROVED if approve else RequestStatus.DECLINED
        if join.status != RequestStatus.PENDING:
            if join.status == decision:
                return join
            raise Conflict(f"join request {request_id} was {join.status} already")
        join.status = decision
        join.decided_by_id = actor.user_id
        join.decided_at = timezone.now()
        join.save(update_fields=["status", "decided_by", "decided_at"])
        if approve:
            Membership.objects.get_or_create(
                network=join.network, user_id=join.user_id, defaults={"role": role, "organisation": join.organisation}
            )
        record(
            actor,
            f"network.joinrequest.{'approve' if approve else 'decline'}",
            object_type="network.joinrequest",
            object_id=join.pk,
            detail={"network": join.network.slug, "user": join.user_id, "role": role if approve else None},
            permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
        )
    return join


# --- events ---------------------------------------------------------------------------------------------------------


def visible_events(actor: Actor) -> QuerySet[Event]:
    return Event.objects.filter(network__in=visible_networks(actor)).select_related("network")


def list_events(actor: Actor, network_slug: str = "", upcoming: bool = False) -> list[Event]:
    """Events of the networks ``actor`` may see, by start time (of one network if ``network_slug``)."""
    events = visible_events(actor)
    if network_slug:
        events = events.filter(network=_network(actor, network_slug))
    if upcoming:
        events = events.filter(ends_at__gte=timezone.now())
    return list(events.order_by("starts_at", "id"))


@dataclass(frozen=True)
class AgendaEntry:
    at: dt.datetime | None  # in the viewer's zone
    title: str
    speaker: str


@dataclass
class EventDetail:
    event: Event
    zone: str
    offset: str
    starts_at: dt.datetime  # in the viewer's zone
    ends_at: dt.datetime
    organiser_starts_at: dt.datetime  # in the organiser's zone
    agenda: list[AgendaEntry]
    participants: list[User]  # signed-in viewers only
    organisations: list[Organisation]
    outcomes: list[Any]  # EventOutcome rows whose item the viewer may see
    participating: bool
    can_manage: bool
    can_participate: bool


def get_event(actor: Actor, slug: str, zone_name: str = "UTC") -> EventDetail:
    """An event with its times in the viewer's zone (``zone_name``: IANA name; UTC if unknown)."""
    where = timezones.zone(zone_name) or timezones.UTC
    with transaction.atomic():
        event = visible_events(actor).filter(slug=slug).first()
        if event is None:
            raise NotFound(f"no event {slug!r}")
        _audit_private_read(actor, event.network, "network.event.read")
        organiser = timezones.zone(event.timezone) or timezones.UTC
        agenda = []
        for entry in event.agenda or []:
            at = _instant(entry.get("time"))
            agenda.append(
                AgendaEntry(
                    at=at.astimezone(where) if at else None,
                    title=str(entry.get("title", "")),
                    speaker=str(entry.get("speaker", "")),
                )
            )
        participants = list(event.participants.order_by("username")) if actor.is_authenticated else []
        participating = actor.user_id is not None and event.participants.filter(pk=actor.user_id).exists()
        return EventDetail(
            event=event,
            zone=str(where.key),
            offset=timezones.utc_offset(event.starts_at, where),
            starts_at=event.starts_at.astimezone(where),
            ends_at=event.ends_at.astimezone(where),
            organiser_starts_at=event.starts_at.astimezone(organiser),
            agenda=agenda,
            participants=participants,
            organisations=list(event.organisations.order_by("name")),
            outcomes=_visible_outcomes(actor, event),
            participating=participating,
            can_manage=is_coordinator(actor, event.network),
            can_participate=actor.has(JOIN) and actor.user_id is not None and not participating,
        )


def _visible_outcomes(actor: Actor, event: Event) -> list[Any]:
    from dhnet.knowledge.services import visible_items

    outcomes = getattr(event, "outcomes", None)
    if outcomes is None:
        return []
    return list(outcomes.filter(item__in=visible_items(actor)).select_related("item").order_by("id"))


def _instant(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _when(raw: Any, where: str, zone: Any, day: dt.date | None = None) -> dt.datetime:
    """An instant from ISO 8601 (naive: in the organiser's ``zone``) or, given ``day``, ``HH:MM`` on that day."""
    if isinstance(raw, dt.datetime):
        value = raw
    else:
        text = _text(raw, where, max_length=40, required=True)
        if day is not None and re.fullmatch(r"\d{1,2}:\d{2}", text):
            hour, minute = (int(p) for p in text.split(":"))
            if hour > 23 or minute > 59:
                raise Invalid(f"{where}: {text!r} is not a time of day")
            value = dt.datetime.combine(day, dt.time(hour, minute))
        else:
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                raise Invalid(f"{where}: {text!r} is not an ISO 8601 date and time (or HH:MM)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC)


def _agenda(raw: Any, zone: Any, starts: dt.datetime, ends: dt.datetime) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid("agenda: expected a list of {time, title, speaker}")
    if len(raw) > MAX_AGENDA:
        raise Invalid(f"agenda: more than {MAX_AGENDA} entries")
    day = starts.astimezone(zone).date()
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise Invalid(f"agenda[{i}]: expected an object with time, title, speaker")
        unknown = sorted(set(item) - {"time", "title", "speaker"})
        if unknown:
            raise Invalid(f"agenda[{i}].{unknown[0]}: not a field of an agenda entry")
        at = _when(item.get("time"), f"agenda[{i}].time", zone, day)
        if not starts <= at <= ends:
            raise Invalid(
                f"agenda[{i}].time: {at.isoformat()} is outside the event ({starts.isoformat()} to {ends.isoformat()})"
            )
        entries.append(
            {
                "time": at.isoformat(),
                "title": _text(item.get("title"), f"agenda[{i}].title", max_length=300, required=True),
                "speaker": _text(item.get("speaker"), f"agenda[{i}].speaker", max_length=200),
            }
        )
    entries.sort(key=lambda e: e["time"])
    return entries


EVENT_FIELDS = (
    "slug",
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "timezone",
    "location",
    "link",
    "description",
    "agenda",
    "organisations",
)


def create_event(actor: Actor, network_slug: str, data: dict[str, Any]) -> tuple[Event, bool]:
    """Plan an event of a network (its coordinators); times naive or ``HH:MM`` are in the organiser's ``timezone``.

    The slug defaults to the title and start date, so the same payload again returns the stored event (no
    duplicate); a different event under a taken slug is a ``Conflict``.
    """
    unknown = sorted(set(data) - set(EVENT_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: not a field of an event")
    title = _text(data.get("title"), "title", max_length=200, required=True)
    kind = _choice(data.get("kind") or EventKind.ROUNDTABLE, EventKind, "kind")
    zone_name = _text(data.get("timezone") or "UTC", "timezone", max_length=64)
    zone = timezones.zone(zone_name)
    if zone is None:
        raise Invalid(f"timezone: {zone_name!r} is not an IANA time zone (e.g. Europe/Zurich)")
    starts = _when(data.get("starts_at"), "starts_at", zone)
    ends = _when(data.get("ends_at"), "ends_at", zone)
    if ends < starts:
        raise Invalid("ends_at: before starts_at")
    if ends - starts > dt.timedelta(days=31):
        raise Invalid("ends_at: an event lasts at most 31 days")
    values = {
        "title": title,
        "kind": kind,
        "starts_at": starts,
        "ends_at": ends,
        "timezone": zone_name,
        "location": _text(data.get("location"), "location", max_length=200),
        "link": _url(data.get("link"), "link"),
        "description": _text(data.get("description"), "description", max_length=MAX_TEXT),
        "agenda": _agenda(data.get("agenda"), zone, starts, ends),
    }
    try:
        orgs = organisations_by_slug(_names(data.get("organisations"), "organisations"))
    except Invalid as exc:
        raise Invalid(f"organisations: {exc.message}") from None
    slug = _slug(data.get("slug"), f"{title} {starts.date().isoformat()}")
    with transaction.atomic():
        network = _network(actor, network_slug, lock=True)
        _require_coordinator(actor, network, "plan its events")
        existing = Event.objects.filter(slug=slug).first()
        if existing is not None:
            same = existing.network_id == network.pk and all(getattr(existing, k) == v for k, v in values.items())
            if same and sorted(existing.organisations.values_list("slug", flat=True)) == sorted(o.slug for o in orgs):
                return existing, False
            raise Conflict(f"slug: an event {slug!r} exists already")
        event = Event.objects.create(network=network, slug=slug, created_by_id=actor.user_id, **values)
        event.organisations.set(orgs)
        record(
            actor,
            "network.event.create",
            object_type="network.event",
            object_id=slug,
            detail={"network": network.slug, "title": title, "starts_at": starts.isoformat()},
            permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
        )
    return event, True


def participate(actor: Actor, slug: str, attend: bool = True) -> bool:
    """Register (or with ``attend=False`` withdraw) the actor as a participant; returns whether anything changed."""
    if not actor.has(JOIN):
        raise Forbidden(f"requires {JOIN}")
    user_id = _user_of(actor, "take part in an event")
    with transaction.atomic():
        event = visible_events(actor).select_for_update().filter(slug=slug).first()
        if event is None:
            raise NotFound(f"no event {slug!r}")
        present = event.participants.filter(pk=user_id).exists()
        if present == attend:
            return False
        if attend:
            event.participants.add(user_id)
        else:
            event.participants.remove(user_id)
        record(
            actor,
            "network.event.participate" if attend else "network.event.withdraw",
            object_type="network.event",
            object_id=slug,
            permission=JOIN,
        )
    return True


def add_outcome(actor: Actor, slug: str, item_public_id: Any, note: str = "") -> tuple[Any, bool]:
    """Link an event to a knowledge item that came out of it (its coordinators; an item they may see).

    Linking the same item again updates the note only (one outcome per event and item).
    """
    from dhnet.knowledge.services import visible_items
    from dhnet.network.models import EventOutcome

    text = _text(note, "note", max_length=2000)
    with transaction.atomic():
        event = visible_events(actor).filter(slug=slug).first()
        if event is None:
            raise NotFound(f"no event {slug!r}")
        _require_coordinator(actor, event.network, "record its outcomes")
        item = _visible_item(visible_items(actor), item_public_id)
        outcome, created = EventOutcome.objects.get_or_create(event=event, item=item, defaults={"note": text})
        if not created and outcome.note == text:
            return outcome, False
        if not created:
            outcome.note = text
            outcome.save(update_fields=["note"])
        record(
            actor,
            "network.event.outcome",
            object_type="network.event",
            object_id=slug,
            detail={"item": str(item.public_id), "new": created},
            permission=NETWORK_WRITE if actor.has(NETWORK_WRITE) else None,
        )
    return outcome, created


def _visible_item(items: QuerySet[Any], public_id: Any) -> Any:
    import uuid

    try:
        key = uuid.UUID(str(public_id))
    except (ValueError, TypeError, AttributeError):
        raise Invalid(f"item: {str(public_id)[:64]!r} is not a knowledge item id (UUID)") from None
    item = items.filter(public_id=key).first()
    if item is None:
        raise Invalid(f"item: no knowledge item {key}")
    return item


def organisation_kinds() -> Sequence[tuple[str, str]]:
    return OrganisationKind.choices


# Country reference: WHO regions (data/who_regions.json) and country names. Public reference data, not audited.

WHO_REGIONS_FILE = Path(__file__).resolve().parent / "data" / "who_regions.json"


@functools.cache
def _who_regions() -> dict[str, Any]:
    """The parsed ``who_regions.json``: region code -> {name, office, countries: {alpha-2: WHO name}}."""
    regions: dict[str, Any] = json.loads(WHO_REGIONS_FILE.read_text(encoding="utf-8"))["regions"]
    return regions


@functools.cache
def _region_of() -> dict[str, str]:
    return {country: code for code, region in _who_regions().items() for country in region["countries"]}


def who_regions() -> dict[str, str]:
    """The six WHO regions: code (AFR, AMR, SEAR, EUR, EMR, WPR) -> English name, in the file's order."""
    return {code: region["name"] for code, region in _who_regions().items()}


def who_region(code: str) -> str | None:
    """The WHO region code of a WHO Member State by its ISO 3166-1 alpha-2 code (any case), e.g. ``KE`` -> ``AFR``;
    ``None`` for a code that is not a Member State (an area such as ``PR`` or ``PS``, or an unknown code)."""
    return _region_of().get(str(code).strip().upper())


def countries_in_region(region: str) -> list[str]:
    """The alpha-2 codes of the Member States of a WHO region, sorted; the region is given by its code (``afr``,
    ``SEAR``), its office (``AFRO``, ``PAHO``) or its name (``African Region``), in any case.

    ``Invalid`` names an unknown region and lists the known codes.
    """
    wanted = str(region).strip().casefold()
    for code, data in _who_regions().items():
        offices = {part.casefold() for part in data["office"].split("/")}
        if wanted in {code.casefold(), data["name"].casefold()} | offices:
            return sorted(data["countries"])
    known = ", ".join(_who_regions())
    raise Invalid(f"region: {str(region)[:64]!r} is not a WHO region (one of {known})")


def country_name(code: str) -> str:
    """The English name of a country by its ISO 3166-1 alpha-2 code (any case): the WHO name for a Member State
    (``TZ`` -> ``United Republic of Tanzania``), else the ISO 3166 short name (``PR`` -> ``Puerto Rico``), else the
    code itself as given (so a page never fails on an odd code)."""
    key = str(code).strip().upper()
    region = _region_of().get(key)
    if region is not None:
        name: str = _who_regions()[region]["countries"][key]
        return name
    return timezones.countries().get(key, str(code))
