"""``/api/v1/knowledge/...``: items, their review workflow and documents — thin handlers over the services.

Reading is public (``@public``): published items are meant to be found; drafts answer 404 to whoever may not see
them (the service decides). Writing requires ``knowledge:item:write``, reviewing ``knowledge:item:review``.
"""

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from dhnet.accounts.auth import SessionActorAuth, TokenAuth
from dhnet.knowledge import services
from dhnet.knowledge.models import Chunk, Document, Item, ItemReview, Section
from dhnet.platform.access import Actor, public, request_actor, requires
from dhnet.platform.errors import Invalid

router = Router(tags=["knowledge"])


def _anyone(request: HttpRequest) -> Actor:
    """Public reads: a token or session user reads as themselves (their drafts too), anyone else anonymously."""
    return request_actor(request)


#: Public endpoints: authenticated when credentials are given, anonymous otherwise.
PUBLIC_AUTH = [TokenAuth(), SessionActorAuth(), _anyone]


class ItemIn(Schema):
    kind: str = Field(..., max_length=32, description="good_practice, lesson_learned, guideline, business_case, ...")
    title: str = Field(..., max_length=300)
    summary: str = Field("", max_length=services.MAX_SUMMARY)
    countries: list[str] = Field([], max_length=services.MAX_LIST, description="ISO 3166-1 alpha-2 codes")
    licence: str = Field("", max_length=64, description='SPDX id, e.g. "CC-BY-4.0" or "CC-BY-NC-SA-3.0-IGO"')
    tags: list[str] = Field([], max_length=services.MAX_LIST, description="<scheme>:<code>, e.g. cdhi-v1:1.1.1, so:1")
    authors: list[str] = Field([], max_length=services.MAX_LIST, description="organisation slugs")
    editors: list[str] = Field([], max_length=services.MAX_LIST, description="usernames who may edit the draft")

    def to_input(self) -> services.ItemInput:
        return services.ItemInput(
            kind=self.kind,
            title=self.title,
            summary=self.summary,
            countries=tuple(self.countries),
            licence=self.licence,
            tags=tuple(self.tags),
            authors=tuple(self.authors),
            editors=tuple(self.editors),
        )


class ItemOut(Schema):
    id: uuid.UUID
    kind: str
    title: str
    summary: str
    status: str
    countries: list[str]
    licence: str
    tags: list[str]
    authors: list[str]
    published_on: dt.date | None
    created_by: str
    updated_at: dt.datetime

    @staticmethod
    def of(item: Item) -> "ItemOut":
        return ItemOut(
            id=item.public_id,
            kind=item.kind,
            title=item.title,
            summary=item.summary,
            status=item.status,
            countries=list(item.countries or []),
            licence=item.licence,
            tags=[c.tag for c in item.tags.all()],
            authors=[o.slug for o in item.authors.all()],
            published_on=item.published_on,
            created_by=item.created_by_name,
            updated_at=item.updated_at,
        )


class ItemPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ItemOut]


class DocumentOut(Schema):
    id: uuid.UUID
    item: uuid.UUID
    filename: str
    media_type: str
    sha256: str
    size: int
    title: str
    pages: int
    sections: int
    chunks: int
    parsed_at: dt.datetime

    @staticmethod
    def of(document: Document, item: Item) -> "DocumentOut":
        return DocumentOut(
            id=document.public_id,
            item=item.public_id,
            filename=document.filename,
            media_type=document.media_type,
            sha256=document.sha256,
            size=document.size,
            title=document.title,
            pages=document.pages,
            sections=document.sections.count(),
            chunks=document.chunks.count(),
            parsed_at=document.parsed_at,
        )


class ItemReviewOut(Schema):
    id: int
    reviewer: str
    decision: str
    comment: str
    at: dt.datetime

    @staticmethod
    def of(review: ItemReview) -> "ItemReviewOut":
        return ItemReviewOut(
            id=review.pk, reviewer=review.reviewer_name, decision=review.decision, comment=review.comment, at=review.at
        )


class ItemDetailOut(ItemOut):
    editors: list[str]
    documents: list[DocumentOut]
    reviews: list[ItemReviewOut]
    actions: list[str] = Field(description="what the caller may do now: edit, upload, submit, comment, approve, ...")


class SectionOut(Schema):
    ordinal: int
    level: int
    heading: str
    path: str
    page: int

    @staticmethod
    def of(section: Section) -> "SectionOut":
        return SectionOut(
            ordinal=section.ordinal, level=section.level, heading=section.heading, path=section.path, page=section.page
        )


class ChunkOut(Schema):
    id: int
    section: int = Field(description="ordinal of the chunk's section")
    ordinal: int
    text: str
    tokens: int
    page: int
    start: int
    end: int

    @staticmethod
    def of(chunk: Chunk, section_ordinal: int) -> "ChunkOut":
        return ChunkOut(
            id=chunk.pk,
            section=section_ordinal,
            ordinal=chunk.ordinal,
            text=chunk.text,
            tokens=chunk.tokens,
            page=chunk.page,
            start=chunk.start,
            end=chunk.end,
        )


class DocumentDetailOut(DocumentOut):
    outline: list[SectionOut]
    passages: list[ChunkOut]


class ItemReviewIn(Schema):
    decision: str = Field(..., max_length=32, description="comment, request_changes or approve")
    comment: str = Field("", max_length=services.MAX_COMMENT)


class ItemFilter(Schema):
    kind: list[str] = Field([], description="one or more kinds")
    tag: list[str] = Field([], description="<scheme>:<code>; items carrying every tag given")
    country: list[str] = Field([], description="ISO 3166-1 alpha-2; items working in every country given")
    status: list[str] = Field([], description="draft, in_review, published, archived (within what you may see)")
    author: list[str] = Field([], description="organisation slug")
    q: str = Field("", max_length=200, description="text in the title or summary")
    mine: bool = Field(False, description="only items I created or edit")
    limit: int = Field(25, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


def _detail(detail: services.ItemDetail) -> ItemDetailOut:
    return ItemDetailOut(
        **ItemOut.of(detail.item).model_dump(),
        editors=detail.editors,
        documents=[DocumentOut.of(d, detail.item) for d in detail.documents],
        reviews=[ItemReviewOut.of(r) for r in detail.reviews],
        actions=list(detail.actions),
    )


@router.get("/knowledge/items", auth=PUBLIC_AUTH, response=ItemPage, summary="Items I may see (published: everyone)")
@public
def list_items(request: HttpRequest, filters: Query[ItemFilter]) -> ItemPage:
    query = services.ItemQuery(
        kinds=tuple(filters.kind),
        tags=tuple(filters.tag),
        countries=tuple(filters.country),
        statuses=tuple(filters.status),
        authors=tuple(filters.author),
        q=filters.q,
        mine=filters.mine,
        limit=filters.limit,
        offset=filters.offset,
    )
    total, items = services.list_items(request_actor(request), query)
    return ItemPage(count=total, limit=filters.limit, offset=filters.offset, items=[ItemOut.of(i) for i in items])


@router.post("/knowledge/items", response={201: ItemOut}, summary="Create a draft item")
@requires(services.WRITE)
def create_item(request: HttpRequest, body: ItemIn) -> Status[ItemOut]:
    item = services.create_item(request_actor(request), body.to_input())
    return Status(201, ItemOut.of(item))


@router.get(
    "/knowledge/items/{item_id}", auth=PUBLIC_AUTH, response=ItemDetailOut, summary="One item with its documents"
)
@public
def get_item(request: HttpRequest, item_id: str) -> ItemDetailOut:
    return _detail(services.get_item(request_actor(request), item_id))


@router.put("/knowledge/items/{item_id}", response=ItemOut, summary="Change a draft's metadata")
@requires(services.WRITE)
def update_item(request: HttpRequest, item_id: str, body: ItemIn) -> ItemOut:
    return ItemOut.of(services.update_item(request_actor(request), item_id, body.to_input()))


@router.post("/knowledge/items/{item_id}/submit", response=ItemOut, summary="Send a draft for review")
@requires(services.WRITE)
def submit_item(request: HttpRequest, item_id: str) -> ItemOut:
    return ItemOut.of(services.submit_item(request_actor(request), item_id))


@router.post(
    "/knowledge/items/{item_id}/reviews",
    response={201: ItemReviewOut},
    summary="Comment, request changes (back to draft) or approve (published)",
)
@requires(services.REVIEW)
def review_item(request: HttpRequest, item_id: str, body: ItemReviewIn) -> Status[ItemReviewOut]:
    review = services.review_item(request_actor(request), item_id, body.decision, body.comment)
    return Status(201, ItemReviewOut.of(review))


@router.post("/knowledge/items/{item_id}/archive", response=ItemOut, summary="Archive a published item")
@requires(services.REVIEW)
def archive_item(request: HttpRequest, item_id: str) -> ItemOut:
    return ItemOut.of(services.archive_item(request_actor(request), item_id))


@router.post(
    "/knowledge/items/{item_id}/documents",
    response={200: DocumentOut, 201: DocumentOut},
    summary="Attach a document (PDF, DOCX, HTML, Markdown, text): parsed, chunked, indexed; 200 if already attached",
)
@requires(services.WRITE)
def attach_document(request: HttpRequest, item_id: str, file: File[UploadedFile]) -> Status[DocumentOut]:
    limit = services.max_document_bytes()
    if file.size is not None and file.size > limit:
        raise Invalid(f"file: {file.size} bytes is larger than the limit of {limit} bytes")
    data = file.read(limit + 1)
    document, created = services.attach(
        request_actor(request), item_id, data, file.name or "document", file.content_type
    )
    return Status(201 if created else 200, DocumentOut.of(document, document.item))


@router.get(
    "/knowledge/documents/{document_id}",
    auth=PUBLIC_AUTH,
    response=DocumentDetailOut,
    summary="A document with its section outline and passages",
)
@public
def get_document(request: HttpRequest, document_id: str) -> DocumentDetailOut:
    view = services.get_document(request_actor(request), document_id)
    ordinal_of: dict[int, int] = {s.pk: s.ordinal for s in view.sections}
    base: dict[str, Any] = DocumentOut.of(view.document, view.item).model_dump()
    return DocumentDetailOut(
        **base,
        outline=[SectionOut.of(s) for s in view.sections],
        passages=[ChunkOut.of(c, ordinal_of[c.section_id]) for c in view.chunks],
    )
