# mypy: disallow-subclassing-any=False
"""Organisations (stakeholders) and their contacts, networks and communities of practice, memberships, join
requests, events (roundtables, webinars, meetings) and their outcomes.

A network may belong to another network (``parent``): the network of networks. A private network, its members and
its events are visible only to its members and to holders of ``network:network:write``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OrganisationKind(models.TextChoices):
    MEMBER_STATE = "member_state", "Member state"
    DEVELOPMENT_PARTNER = "development_partner", "Foundation or development partner"
    CSO_NGO = "cso_ngo", "Civil-society organisation or NGO"
    ACADEMIA = "academia", "Academia"
    WHO_CC = "who_cc", "WHO collaborating centre"
    PRIVATE_SECTOR = "private_sector", "Private sector"
    UN_AGENCY = "un_agency", "UN agency"
    OTHER = "other", "Other"


class Organisation(models.Model):
    """A stakeholder: where it works (ISO 3166-1 alpha-2 countries) and on what (taxonomy concepts)."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=OrganisationKind.choices)
    countries = models.JSONField(default=list, blank=True)
    focus_areas = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="organisations")
    website = models.URLField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person to contact at an organisation. Name and title are public; e-mail and phone are not (see services)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    role_title = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    visible_to_members = models.BooleanField(default=False)

    class Meta:
        ordering = ("organisation_id", "name", "id")

    def __str__(self) -> str:
        return self.name


class NetworkKind(models.TextChoices):
    NETWORK = "network", "Network"
    COMMUNITY_OF_PRACTICE = "community_of_practice", "Community of practice"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private (members only)"


class Network(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=NetworkKind.choices, default=NetworkKind.NETWORK)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    description = models.TextField(blank=True)
    organisations = models.ManyToManyField(Organisation, blank=True, related_name="networks")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def is_private(self) -> bool:
        return self.visibility == Visibility.PRIVATE


class MemberRole(models.TextChoices):
    COORDINATOR = "coordinator", "Coordinator"
    MEMBER = "member", "Member"
    OBSERVER = "observer", "Observer"


class Membership(models.Model):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="network_memberships")
    role = models.CharField(max_length=12, choices=MemberRole.choices, default=MemberRole.MEMBER)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("network_id", "role", "joined_at", "id")
        constraints = (models.UniqueConstraint(fields=["network", "user"], name="network_membership_unique"),)


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class JoinRequest(models.Model):
    """A user's request to join a network; a coordinator (or ``network:network:write``) decides."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=["network", "user"],
                condition=models.Q(status="pending"),
                name="network_joinrequest_one_pending",
            ),
        )


class EventKind(models.TextChoices):
    ROUNDTABLE = "roundtable", "Roundtable"
    WEBINAR = "webinar", "Webinar"
    MEETING = "meeting", "Meeting"


class Event(models.Model):
    """A roundtable, webinar or meeting of a network; times in UTC, shown in each viewer's time zone.

    ``agenda``: a list of ``{"time": ISO 8601 UTC instant, "title": str, "speaker": str}``; ``timezone``: the
    organiser's IANA zone (shown next to the viewer's).
    """

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="events")
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=EventKind.choices, default=EventKind.ROUNDTABLE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    location = models.CharField(max_length=200, blank=True)
    link = models.URLField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    agenda = models.JSONField(default=list, blank=True)
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="network_events")
    organisations = models.ManyToManyField(Organisation, blank=True, related_name="events")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("starts_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")), name="event_ends_after_start"
            ),
        )

    def __str__(self) -> str:
        return self.title


class EventOutcome(models.Model):
    """A knowledge item that came out of an event (in migration 0002: it depends on knowledge's 0001)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="outcomes")
    item = models.ForeignKey("knowledge.Item", on_delete=models.CASCADE, related_name="event_outcomes")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("event_id", "id")
        constraints = (models.UniqueConstraint(fields=["event", "item"], name="network_eventoutcome_unique"),)
