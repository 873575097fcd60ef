"""The knowledge repository's domain logic: items, their review workflow, documents and their ingest.

Every function takes the acting :class:`~dhnet.platform.access.Actor` first, checks what it may do, works in one
transaction and records the audit trail in that same transaction (writes, and reads of unpublished items).

Who sees what (``docs/knowledge-design.md``): a published item is public; a draft or an item in review only to
its creator, its editors and holders of ``knowledge:item:review``; an archived item to reviewers and its creator.
To anyone else such an item does not exist (404).

Who does what: holders of ``knowledge:item:write`` create drafts; the creator, the editors and reviewers edit a
draft, attach documents to it and submit it for review; reviewers (``knowledge:item:review``) comment, request
changes (back to draft), approve (published) and archive.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.audit.services import record
from dhnet.knowledge import parsing
from dhnet.knowledge.models import (
    Chunk,
    Document,
    Item,
    ItemKind,
    ItemReview,
    ItemStatus,
    ReviewDecision,
    Section,
)
from dhnet.knowledge.parsing.sniff import EXTENSIONS
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound

WRITE = "knowledge:item:write"
REVIEW = "knowledge:item:review"

# The states and decisions as plain strings (the values of ItemStatus and ReviewDecision).
DRAFT, IN_REVIEW, PUBLISHED, ARCHIVED = "draft", "in_review", "published", "archived"
COMMENT, REQUEST_CHANGES, APPROVE = "comment", "request_changes", "approve"

#: Upload limit in bytes unless ``settings.DHNET_KNOWLEDGE_MAX_DOCUMENT_BYTES`` says otherwise.
DEFAULT_MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
LICENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")
MAX_TITLE = 300
MAX_SUMMARY = 10_000
MAX_COMMENT = 10_000
MAX_LIST = 100


def max_document_bytes() -> int:
    """The largest document accepted, from the settings (``DHNET_KNOWLEDGE_MAX_DOCUMENT_BYTES``)."""
    return int(getattr(settings, "DHNET_KNOWLEDGE_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES))


# --- visibility ---------------------------------------------------------------------------------------------------


def visible_items(actor: Actor) -> QuerySet[Item]:
    """The items ``actor`` may see (the rule of the module docstring); search filters its chunks with this too."""
    items = Item.objects.all()
    if actor.has(REVIEW):
        return items
    visible = Q(status=PUBLISHED)
    if actor.user_id is not None:
        edited = Item.editors.through.objects.filter(user_id=actor.user_id).values("item_id")
        visible |= Q(created_by_id=actor.user_id) & ~Q(status=PUBLISHED)
        visible |= Q(pk__in=edited, status__in=(DRAFT, IN_REVIEW))
    return items.filter(visible)


def is_editor(actor: Actor, item: Item) -> bool:
    """Whether ``actor`` is the item's creator or one of its named editors."""
    if actor.user_id is None:
        return actor.via == "cli" and item.created_by_id is None and item.created_by_name == actor.username
    return item.created_by_id == actor.user_id or item.editors.filter(pk=actor.user_id).exists()


def may_edit(actor: Actor, item: Item) -> bool:
    """Whether ``actor`` may change the item's metadata and documents now (a draft; reviewers also in review)."""
    if actor.has(REVIEW):
        return item.status in (DRAFT, IN_REVIEW)
    return item.status == DRAFT and actor.has(WRITE) and is_editor(actor, item)


def _get(actor: Actor, public_id: Any, *, lock: bool = False) -> Item:
    item_id = _uuid(public_id, "item")
    items = visible_items(actor)
    if lock:
        items = items.select_for_update()
    item = items.filter(public_id=item_id).first()
    if item is None:
        raise NotFound(f"item {item_id} not found")
    return item


def _uuid(value: Any, what: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"{what} {str(value)[:64]!r} not found") from None


def _audit_read(actor: Actor, item: Item, action: str, object_type: str, object_id: str) -> None:
    """Record reading an unpublished item (published ones are public: reading them is not audited)."""
    if item.status != PUBLISHED:
        record(
            actor,
            action,
            object_type=object_type,
            object_id=object_id,
            detail={"item": str(item.public_id), "status": item.status},
            permission=REVIEW if actor.has(REVIEW) else None,
        )


# --- reading ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemQuery:
    """Filters of the item list. ``statuses``: reviewers see any; others only within what they may see."""

    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    q: str = ""
    mine: bool = False
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True)
class ItemDetail:
    """An item with what its page shows, and what the actor may do with it."""

    item: Item
    documents: list[Document]
    reviews: list[ItemReview]
    actions: tuple[str, ...]
    editors: list[str] = field(default_factory=list)
    #: The events (roundtables, ...) this item is an outcome of, of networks the actor may see.
    outcomes: list[Any] = field(default_factory=list)


def list_items(actor: Actor, query: ItemQuery) -> tuple[int, list[Item]]:
    """The items ``actor`` may see matching ``query``, most recently published/updated first, and their count."""
    for kind in query.kinds:
        if kind not in ItemKind.values:
            raise Invalid(f"kind: unknown kind {kind!r} (one of {', '.join(ItemKind.values)})")
    for status in query.statuses:
        if status not in ItemStatus.values:
            raise Invalid(f"status: unknown status {status!r} (one of {', '.join(ItemStatus.values)})")
    if not 1 <= query.limit <= 200:
        raise Invalid("limit: between 1 and 200")
    if query.offset < 0:
        raise Invalid("offset: not negative")
    items = visible_items(actor)
    if query.kinds:
        items = items.filter(kind__in=query.kinds)
    if query.statuses:
        items = items.filter(status__in=query.statuses)
    if query.mine:
        if actor.user_id is None:
            return 0, []
        edited = Item.editors.through.objects.filter(user_id=actor.user_id).values("item_id")
        items = items.filter(Q(created_by_id=actor.user_id) | Q(pk__in=edited))
    for country in query.countries:
        items = items.filter(pk__in=_with_country(items, _country(country, "country")))
    if query.tags:
        concepts = _resolve_tags(query.tags)
        for concept in concepts:
            items = items.filter(pk__in=Item.tags.through.objects.filter(concept=concept).values("item_id"))
    if query.authors:
        for org in _resolve_authors(query.authors):
            items = items.filter(pk__in=Item.authors.through.objects.filter(organisation=org).values("item_id"))
    if query.q.strip():
        text = query.q.strip()[:200].replace("\x00", "")
        items = items.filter(Q(title__icontains=text) | Q(summary__icontains=text))
    total = items.count()
    page = list(
        items.order_by(F("published_on").desc(nulls_last=True), "-updated_at", "-id").prefetch_related(
            "authors", "tags__scheme"
        )[query.offset : query.offset + query.limit]
    )
    return total, page


def _with_country(items: QuerySet[Item], code: str) -> list[int]:
    """The ids of ``items`` working in country ``code`` (a JSON list: portable across SQLite and PostgreSQL)."""
    return [pk for pk, countries in items.values_list("pk", "countries") if code in (countries or [])]


def review_queue(actor: Actor) -> list[Item]:
    """Items waiting for review, oldest first (reviewers only)."""
    if not actor.has(REVIEW):
        raise Forbidden("the review queue requires knowledge:item:review")
    return list(Item.objects.filter(status=IN_REVIEW).order_by("updated_at", "id"))


def actions_for(actor: Actor, item: Item) -> tuple[str, ...]:
    """The workflow actions ``actor`` may take on ``item`` now (the buttons of its page)."""
    actions: list[str] = []
    if may_edit(actor, item):
        actions += ["edit", "upload"]
    if item.status == DRAFT and may_edit(actor, item):
        actions.append("submit")
    if actor.has(REVIEW):
        if item.status == IN_REVIEW:
            actions += ["comment", "request_changes", "approve"]
        elif item.status == DRAFT:
            actions.append("comment")
        if item.status == PUBLISHED:
            actions.append("archive")
    return tuple(actions)


def get_item(actor: Actor, public_id: Any) -> ItemDetail:
    """One item with its documents and review history (404 when ``actor`` may not see it)."""
    with transaction.atomic():
        item = _get(actor, public_id)
        _audit_read(actor, item, "knowledge.item.read", "knowledge.item", str(item.public_id))
        documents = list(item.documents.order_by("id"))
        reviews = list(item.reviews.order_by("at", "id")) if actions_for(actor, item) or is_editor(actor, item) else []
        editors = list(item.editors.order_by("username").values_list("username", flat=True))
        return ItemDetail(item, documents, reviews, actions_for(actor, item), editors, _outcomes(actor, item))


def _outcomes(actor: Actor, item: Item) -> list[Any]:
    """The item's event outcomes, only from events of networks ``actor`` may see (private ones stay hidden)."""
    from dhnet.network.services import visible_networks

    return list(
        item.event_outcomes.filter(event__network__in=visible_networks(actor))
        .select_related("event", "event__network")
        .order_by("event__starts_at", "id")
    )


@dataclass(frozen=True)
class DocumentView:
    """A document with its sections and chunks in order (the document page)."""

    document: Document
    item: Item
    sections: list[Section]
    chunks: list[Chunk]


def get_document(actor: Actor, public_id: Any) -> DocumentView:
    """One document of an item ``actor`` may see, with its section tree and chunks (404 otherwise)."""
    doc_id = _uuid(public_id, "document")
    with transaction.atomic():
        document = (
            Document.objects.filter(public_id=doc_id, item__in=visible_items(actor)).select_related("item").first()
        )
        if document is None:
            raise NotFound(f"document {doc_id} not found")
        _audit_read(actor, document.item, "knowledge.document.read", "knowledge.document", doc_id)
        sections = list(document.sections.order_by("ordinal"))
        chunks = list(document.chunks.order_by("ordinal").defer("embedding"))
        return DocumentView(document, document.item, sections, chunks)


# --- writing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemInput:
    """The editable metadata of an item, as given by a form or the API (validated by the services)."""

    kind: str
    title: str
    summary: str = ""
    countries: tuple[str, ...] = ()
    licence: str = ""
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()


@functools.cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English short name (the network context's table, read once)."""
    from dhnet.network.timezones import countries

    return countries()


def _country(raw: str, where: str) -> str:
    code = str(raw).strip().upper()
    if not COUNTRY_RE.match(code) or code not in country_names():
        raise Invalid(f"{where}: {str(raw)[:20]!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _values(raw: Iterable[Any], where: str) -> list[str]:
    """Non-empty stripped strings; a NUL character (which PostgreSQL cannot store or compare) is ``Invalid``."""
    values = [str(v).strip() for v in raw if str(v).strip()]
    for index, value in enumerate(values):
        if "\x00" in value:
            raise Invalid(f"{where}[{index}]: contains a NUL character")
    return values


def _resolve_tags(tags: Iterable[str]) -> list[Any]:
    from dhnet.taxonomy.services import resolve_tags

    return list(resolve_tags(_values(tags, "tags")))


def _resolve_authors(slugs: Iterable[str]) -> list[Any]:
    from dhnet.network.services import organisations_by_slug

    return list(organisations_by_slug(_values(slugs, "authors")))


def _resolve_editors(usernames: Iterable[str]) -> list[User]:
    names = list(dict.fromkeys(_values(usernames, "editors")))
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    for index, name in enumerate(names):
        if name not in found:
            raise Invalid(f"editors[{index}]: no user {name[:150]!r}")
    return [found[n] for n in names]


@dataclass(frozen=True)
class _Clean:
    kind: str
    title: str
    summary: str
    countries: list[str]
    licence: str
    tags: list[Any]
    authors: list[Any]
    editors: list[User]


def _clean(data: ItemInput) -> _Clean:
    if data.kind not in ItemKind.values:
        raise Invalid(f"kind: unknown kind {data.kind!r} (one of {', '.join(ItemKind.values)})")
    title = " ".join(str(data.title).split())
    if not title:
        raise Invalid("title: required")
    if len(title) > MAX_TITLE:
        raise Invalid(f"title: at most {MAX_TITLE} characters")
    summary = str(data.summary).strip()
    if len(summary) > MAX_SUMMARY:
        raise Invalid(f"summary: at most {MAX_SUMMARY} characters")
    for name, values in (("countries", data.countries), ("tags", data.tags), ("authors", data.authors)):
        if len(values) > MAX_LIST:
            raise Invalid(f"{name}: at most {MAX_LIST}")
    for name, text in (("title", title), ("summary", summary), ("licence", data.licence)):
        if "\x00" in text:
            raise Invalid(f"{name}: contains a NUL character")
    countries = list(dict.fromkeys(_country(c, f"countries[{i}]") for i, c in enumerate(data.countries)))
    licence = str(data.licence).strip()
    if licence and not LICENCE_RE.match(licence):
        raise Invalid(f"licence: {licence[:64]!r} is not an SPDX identifier (e.g. CC-BY-4.0, CC-BY-NC-SA-3.0-IGO)")
    return _Clean(
        kind=data.kind,
        title=title,
        summary=summary,
        countries=countries,
        licence=licence,
        tags=_resolve_tags(data.tags),
        authors=_resolve_authors(data.authors),
        editors=_resolve_editors(data.editors),
    )


def _apply(item: Item, clean: _Clean) -> None:
    item.kind = clean.kind
    item.title = clean.title
    item.summary = clean.summary
    item.countries = clean.countries
    item.licence = clean.licence
    item.save()
    item.tags.set(clean.tags)
    item.authors.set(clean.authors)
    item.editors.set(clean.editors)


def _snapshot(item: Item) -> dict[str, Any]:
    return {"kind": item.kind, "title": item.title, "status": item.status, "countries": list(item.countries or [])}


def create_item(actor: Actor, data: ItemInput) -> Item:
    """A new draft item by ``actor`` (``knowledge:item:write``), audited ``knowledge.item.create``."""
    if not actor.has(WRITE):
        raise Forbidden("creating an item requires knowledge:item:write")
    clean = _clean(data)
    with transaction.atomic():
        item = Item(created_by_id=actor.user_id, created_by_name=actor.username[:150])
        _apply(item, clean)
        record(
            actor,
            "knowledge.item.create",
            object_type="knowledge.item",
            object_id=str(item.public_id),
            detail=_snapshot(item),
            permission=WRITE,
        )
    return item


def update_item(actor: Actor, public_id: Any, data: ItemInput) -> Item:
    """Change an item's metadata (a draft, by its creator/editors or a reviewer; reviewers also in review)."""
    clean = _clean(data)
    with transaction.atomic():
        item = _get(actor, public_id, lock=True)
        if not may_edit(actor, item):
            raise Forbidden(f"item {item.public_id} is {item.status}: you may not edit it now")
        before = _snapshot(item)
        _apply(item, clean)
        record(
            actor,
            "knowledge.item.update",
            object_type="knowledge.item",
            object_id=str(item.public_id),
            detail={"before": before, "after": _snapshot(item)},
            permission=REVIEW if actor.has(REVIEW) else WRITE,
        )
    return item


def submit_item(actor: Actor, public_id: Any) -> Item:
    """Send a draft for review (draft -> in_review)."""
    with transaction.atomic():
        item = _get(actor, public_id, lock=True)
        if item.status != DRAFT:
            raise Conflict(f"item {item.public_id} is {item.status}, not a draft: it cannot be submitted")
        if not may_edit(actor, item):
            raise Forbidden(f"only the creator, the editors or a reviewer submit item {item.public_id}")
        _transition(actor, item, IN_REVIEW, "knowledge.item.submit", WRITE)
    return item


def _transition(actor: Actor, item: Item, status: str, action: str, permission: str, **detail: Any) -> None:
    before = item.status
    item.status = status
    if status == PUBLISHED and item.published_on is None:
        item.published_on = timezone.localdate()
    item.save(update_fields=["status", "published_on", "updated_at"])
    record(
        actor,
        action,
        object_type="knowledge.item",
        object_id=str(item.public_id),
        detail={"from": before, "to": status, **detail},
        permission=permission,
    )


def review_item(actor: Actor, public_id: Any, decision: str, comment: str = "") -> ItemReview:
    """A reviewer's comment, request for changes (in_review -> draft) or approval (in_review -> published)."""
    if not actor.has(REVIEW):
        raise Forbidden("reviewing requires knowledge:item:review")
    if decision not in ReviewDecision.values:
        raise Invalid(f"decision: unknown decision {decision!r} (one of {', '.join(ReviewDecision.values)})")
    comment = str(comment).strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid(f"comment: at most {MAX_COMMENT} characters")
    if "\x00" in comment:
        raise Invalid("comment: contains a NUL character")
    if decision == COMMENT and not comment:
        raise Invalid("comment: required for a comment")
    if decision == REQUEST_CHANGES and not comment:
        raise Invalid("comment: say which changes are requested")
    with transaction.atomic():
        item = _get(actor, public_id, lock=True)
        if decision == COMMENT:
            if item.status not in (DRAFT, IN_REVIEW):
                raise Conflict(f"item {item.public_id} is {item.status}: comments go on drafts and items in review")
        elif item.status != IN_REVIEW:
            raise Conflict(f"item {item.public_id} is {item.status}, not in review")
        review = ItemReview.objects.create(
            item=item, reviewer_id=actor.user_id, reviewer_name=actor.username[:150], decision=decision, comment=comment
        )
        if decision == APPROVE:
            _transition(actor, item, PUBLISHED, "knowledge.item.publish", REVIEW, review=review.pk)
        elif decision == REQUEST_CHANGES:
            _transition(actor, item, DRAFT, "knowledge.item.request_changes", REVIEW, review=review.pk)
        else:
            record(
                actor,
                "knowledge.item.comment",
                object_type="knowledge.item",
                object_id=str(item.public_id),
                detail={"review": review.pk},
                permission=REVIEW,
            )
    return review


def archive_item(actor: Actor, public_id: Any) -> Item:
    """Withdraw a published item (published -> archived; reviewers only)."""
    if not actor.has(REVIEW):
        raise Forbidden("archiving requires knowledge:item:review")
    with transaction.atomic():
        item = _get(actor, public_id, lock=True)
        if item.status != PUBLISHED:
            raise Conflict(f"item {item.public_id} is {item.status}, not published: only published items are archived")
        _transition(actor, item, ARCHIVED, "knowledge.item.archive", REVIEW)
    return item


# --- documents ----------------------------------------------------------------------------------------------------


def _media_type(filename: str, given: str | None) -> str | None:
    """The media type to parse as: None (the parser decides) when the filename's extension names a format we read,
    since browsers and clients send generic or wrong types (``text/plain`` for a DOCX); else the type given."""
    if Path(filename).suffix.lower() in EXTENSIONS:
        return None
    base = (given or "").split(";", 1)[0].strip().lower()
    if not base or base in ("application/octet-stream", "binary/octet-stream"):
        return None
    return base


def _index(document: Document) -> None:
    """Hand the stored chunks to search (full-text index and embeddings), in the ingest's transaction."""
    from dhnet.knowledge import search

    search.index_document(document)


def attach_document(
    actor: Actor, item_public_id: Any, data: bytes, filename: str, media_type: str | None = None
) -> Document:
    """The document stored from ``data`` on the item (see :func:`attach`, which also says whether it is new)."""
    return attach(actor, item_public_id, data, filename, media_type)[0]


def attach(
    actor: Actor, item_public_id: Any, data: bytes, filename: str, media_type: str | None = None
) -> tuple[Document, bool]:
    """Parse ``data``, chunk it and store the document with its sections and chunks, then index it for search.

    All in one transaction, audited ``knowledge.document.attach``: a file that cannot be parsed is ``Invalid``
    naming the reason and stores nothing. The same file (by SHA-256) attached to the same item again returns the
    stored document and stores nothing new (``False``: nothing was stored).
    """
    filename = Path(str(filename).replace("\\", "/")).name.strip()[:255] or "document"
    if "\x00" in filename:
        raise Invalid("filename: contains a NUL character")
    limit = max_document_bytes()
    if len(data) > limit:
        raise Invalid(f"{filename}: {len(data)} bytes is larger than the limit of {limit} bytes")
    sha256 = hashlib.sha256(data).hexdigest()
    item = _get(actor, item_public_id)
    existing = item.documents.filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    if not may_edit(actor, item):
        raise Forbidden(f"item {item.public_id} is {item.status}: you may not attach documents to it now")
    parsed, pieces = _parse(data, filename, media_type)
    try:
        with transaction.atomic():
            return _attach(actor, item.public_id, parsed, pieces, data, filename, sha256)
    except IntegrityError:
        # The same file, attached concurrently: the other request stored it.
        existing = Document.objects.filter(item=item, sha256=sha256).first()
        if existing is None:
            raise
        return existing, False


def _parse(
    data: bytes, filename: str, media_type: str | None = None
) -> tuple[parsing.ParsedDocument, list[parsing.ParsedChunk]]:
    """Parse and chunk a file; a file that cannot be parsed is ``Invalid`` naming it and the reason."""
    try:
        parsed = parsing.parse_document(
            data, filename, _media_type(filename, media_type), max_bytes=max_document_bytes()
        )
        pieces = list(parsing.chunk_document(parsed))
    except parsing.DocumentError as exc:
        reason = str(exc)
        raise Invalid(reason if reason.startswith(f"{filename}: ") else f"{filename}: {reason}") from None
    if not pieces:
        raise Invalid(f"{filename}: no text to index")
    if "\x00" in parsed.text:
        raise Invalid(f"{filename}: the text contains a NUL character")
    return parsed, pieces


def _attach(
    actor: Actor,
    item_public_id: Any,
    parsed: parsing.ParsedDocument,
    pieces: Sequence[parsing.ParsedChunk],
    data: bytes,
    filename: str,
    sha256: str,
) -> tuple[Document, bool]:
    """Store a parsed document on an item and index it (in the caller's transaction), audited; False: stored before."""
    item = _get(actor, item_public_id, lock=True)
    existing = item.documents.filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    if not may_edit(actor, item):
        raise Forbidden(f"item {item.public_id} is {item.status}: you may not attach documents to it now")
    document = _store(item, parsed, pieces, data, filename, sha256)
    _index(document)
    record(
        actor,
        "knowledge.document.attach",
        object_type="knowledge.document",
        object_id=str(document.public_id),
        detail={
            "item": str(item.public_id),
            "filename": filename,
            "sha256": sha256,
            "sections": len(parsed.sections),
            "chunks": len(pieces),
        },
        permission=REVIEW if actor.has(REVIEW) else WRITE,
    )
    return document, True


def _store(
    item: Item,
    parsed: parsing.ParsedDocument,
    pieces: Sequence[parsing.ParsedChunk],
    data: bytes,
    filename: str,
    sha256: str,
) -> Document:
    document = Document.objects.create(
        item=item,
        filename=filename,
        media_type=parsed.media_type,
        sha256=sha256,
        size=len(data),
        title=(parsed.title or "")[:300],
        pages=max(1, int(parsed.pages or 1)),
        text=parsed.text,
        parsed_at=timezone.now(),
    )
    sections = Section.objects.bulk_create(
        [
            Section(
                document=document,
                ordinal=index,
                level=s.level,
                heading=s.heading[:500],
                path=" > ".join(s.path),
                page=max(1, s.page),
                start=s.start,
                end=s.end,
            )
            for index, s in enumerate(parsed.sections)
        ]
    )
    if any(s.pk is None for s in sections):  # backends without RETURNING on bulk insert
        sections = list(document.sections.order_by("ordinal"))
    Chunk.objects.bulk_create(
        [
            Chunk(
                document=document,
                section=sections[c.section_index],
                ordinal=index,
                text=c.text,
                tokens=c.tokens,
                page=max(1, c.page),
                start=c.start,
                end=c.end,
            )
            for index, c in enumerate(pieces)
        ],
        batch_size=500,
    )
    return document


# --- ingest (the command line) ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    """What ingesting one file did: the item, its document and whether anything new was stored."""

    path: str
    item: Item
    document: Document
    created: bool


def ingest_files(
    actor: Actor,
    paths: Sequence[str | Path],
    *,
    title: str | None = None,
    tags: Sequence[str] = (),
    kind: str = "guideline",
    licence: str = "",
    publish: bool = True,
    progress: Callable[[Ingested], None] | None = None,
) -> list[Ingested]:
    """One item per file (title from ``title`` or the document), published at once when ``publish``.

    For operators (``dhnet knowledge ingest``): needs ``knowledge:item:write`` and, to publish, ``:review``.
    Idempotent: a file whose SHA-256 is already stored in an item (the same bytes) is not ingested again. Every
    file is read and checked before any is stored; each file is then stored in its own transaction.
    """
    if not actor.has(WRITE) or (publish and not actor.has(REVIEW)):
        raise Forbidden("ingesting requires knowledge:item:write (and knowledge:item:review to publish)")
    if not paths:
        raise Invalid("paths: give at least one file")
    if title is not None and len(paths) > 1:
        raise Invalid("--title: names one item; give one file with it")
    tag_list = tuple(tags)
    _resolve_tags(tag_list)  # unknown tags fail before anything is stored
    files: list[tuple[str, bytes]] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise Invalid(f"{path}: no such file")
        data = path.read_bytes()
        if len(data) > max_document_bytes():
            raise Invalid(f"{path}: {len(data)} bytes is larger than the limit of {max_document_bytes()} bytes")
        files.append((str(path), data))
    prepared: list[tuple[str, bytes, str, Document | None, Any]] = []
    for name, data in files:  # every file parsed before any is stored: a bad one refuses the whole batch
        sha256 = hashlib.sha256(data).hexdigest()
        stored = Document.objects.filter(sha256=sha256).select_related("item").order_by("id").first()
        parsed = None if stored is not None else _parse(data, name)
        prepared.append((name, data, sha256, stored, parsed))
    results: list[Ingested] = []
    done: dict[str, Ingested] = {}  # the same file twice in one batch: stored once
    for name, data, sha256, stored, parsed in prepared:
        if stored is not None:
            results.append(Ingested(name, stored.item, stored, False))
        elif sha256 in done:
            results.append(Ingested(name, done[sha256].item, done[sha256].document, False))
        else:
            results.append(_ingest_one(actor, name, data, sha256, parsed, title, tag_list, kind, licence, publish))
            done[sha256] = results[-1]
        if progress is not None:
            progress(results[-1])
    return results


def _ingest_one(
    actor: Actor,
    name: str,
    data: bytes,
    sha256: str,
    prepared: tuple[parsing.ParsedDocument, list[parsing.ParsedChunk]],
    title: str | None,
    tags: tuple[str, ...],
    kind: str,
    licence: str,
    publish: bool,
) -> Ingested:
    """Store one parsed file as a new item (published when ``publish``), in one transaction."""
    parsed, pieces = prepared
    item_title = " ".join((title or parsed.title or Path(name).stem).split())[:MAX_TITLE]
    with transaction.atomic():
        item = create_item(actor, ItemInput(kind=kind, title=item_title, licence=licence, tags=tags))
        document, _ = _attach(actor, item.public_id, parsed, pieces, data, Path(name).name, sha256)
        if publish:
            _transition(actor, item, PUBLISHED, "knowledge.item.publish", REVIEW, via="ingest")
    return Ingested(name, item, document, True)
