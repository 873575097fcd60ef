"""What a resource handler is: :class:`ResourceHandler`, the :class:`Prepared` resource it answers, and the
per-request :class:`Context` handlers share (caches, the entries of a Bundle already resolved).

Kept apart from :mod:`dhnet.fhir.registry` so that handlers of other contexts (``dhnet.cases.fhir``,
``dhnet.consent.fhir``) can subclass :class:`ResourceHandler` while the registry imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dhnet.fhir import measurereport
from dhnet.fhir.outcome import FhirError
from dhnet.fhir.validation import validate
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.reporting import services as reporting

if TYPE_CHECKING:
    from dhnet.fhir.models import StoredResource


def checksum(data: dict[str, Any]) -> str:
    """The reporting service's payload checksum of a resource without ``id`` and ``meta`` (server-managed), so
    that a retry is recognised whatever id the client put in."""
    return reporting.checksum_of({k: v for k, v in data.items() if k not in ("id", "meta")})


@dataclass
class Context:
    """What handlers share while one request is processed (caches, and what earlier entries resolved to).

    ``full_url`` is the ``fullUrl`` of the Bundle entry being prepared (None for a single create); ``entries``
    maps the fullUrls (and ``Type/id`` of RESTful fullUrls) of prepared entries to what their handler put there;
    ``state`` holds per-handler data of the request (keyed by the handler's name); ``audit`` and ``subjects``:
    what handlers add to the request's audit record (detail entries, pseudonyms of the persons concerned).
    """

    catalogue: measurereport.Catalogue | None = None
    full_url: str | None = None
    entries: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    subjects: set[str] = field(default_factory=set)

    def diseases(self) -> measurereport.Catalogue:
        if self.catalogue is None:
            self.catalogue = measurereport.Catalogue.load()
        return self.catalogue


@dataclass
class Prepared:
    """A resource that passed every check, ready to store.

    ``logical_id``: an id chosen before storing (so that other entries can reference it), else one is assigned;
    ``existing_id``: the logical id of a stored resource this one is a repeat of (a conditional create the handler
    resolved itself, e.g. a Condition identifier seen before): nothing is stored, that one is answered;
    ``subject``: the pseudonym of the person the resource is about (the person's access log, their export);
    ``extra``: handler data for :meth:`ResourceHandler.after_store`.
    """

    resource_type: str
    data: dict[str, Any]
    root: str
    checksum: str
    orgunit: OrgUnit | None
    identifiers: list[tuple[str, str]]
    rows: list[measurereport.Row] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    logical_id: str | None = None
    existing_id: str | None = None
    subject: str = ""
    extra: Any = None


class ResourceHandler:
    """Base class: what a resource type needs (override :meth:`profile_check`)."""

    resource_type: ClassVar[str]
    write_permission: ClassVar[str]
    read_permission: ClassVar[str]
    interactions: ClassVar[tuple[str, ...]] = ("create", "read", "vread")
    #: search parameters supported in conditional create (``If-None-Exist``)
    conditional_params: ClassVar[tuple[str, ...]] = ("identifier",)
    documentation: ClassVar[str] = ""
    #: the order in which the entries of a Bundle are prepared (lower first): a resource is prepared after those
    #: it may reference (Patient before Encounter before Condition before Observation)
    rank: ClassVar[int] = 50

    def prepare(self, actor: Actor, data: Any, root: str, context: Context, *, validated: bool = False) -> Prepared:
        """Validate and resolve ``data``, or raise :class:`FhirError` (400 generic, 422 profile, 403 jurisdiction).

        ``validated``: the generic R4 validation passed already (the entry of a Bundle validated as a whole).
        """
        if not validated:
            generic = validate(data, root=root, expected={self.resource_type})
            if not generic.ok:
                raise FhirError(400, [i for i in generic.issues if i.is_error])
        return self.profile_check(actor, data, root, context)

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        raise NotImplementedError

    def prepare_all(self, actor: Actor, items: list[tuple[Any, str]], context: Context) -> None:
        """Called once per transaction Bundle before its entries are prepared, with the (resource, root) of every
        entry of this type: work done for all of them at once (bulk lookups) goes into ``context`` for
        :meth:`profile_check`. Must not raise for a bad resource (:meth:`profile_check` reports it)."""

    def after_store(self, actor: Actor, stored: list[tuple[Prepared, StoredResource]], context: Context) -> None:
        """Called once per request in the same transaction with the resources of this type that were stored
        (not those found as repeats), in :attr:`rank` order of the handlers; raise :class:`FhirError` to refuse."""

    def finish(self, actor: Actor, context: Context) -> None:
        """Called once per request after every :meth:`after_store`, for handlers that took part."""
