"""``GET /api/v1/knowledge/search``: the repository's passages best answering a query, each citing its source.

Public (``@public``) like the rest of the repository's reading: anonymous callers search published items; a token or
session user also finds the drafts they may see (the service decides, and audits reading unpublished passages).
"""

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from dhnet.knowledge import search
from dhnet.knowledge.api import PUBLIC_AUTH
from dhnet.platform.access import public, request_actor

router = Router(tags=["knowledge"])


class SearchQuery(Schema):
    q: str = Field(..., max_length=search.MAX_QUERY_CHARS, description="the question or words, in plain language")
    mode: str = Field("hybrid", max_length=16, description="hybrid (default), fulltext or semantic")
    limit: int = Field(10, ge=1, le=search.MAX_LIMIT)
    kind: list[str] = Field([], max_length=10, description="item kinds: good_practice, lesson_learned, ...")
    tag: list[str] = Field([], max_length=20, description="<scheme>:<code>, e.g. so:1 or cdhi-v1:1.1.1")
    country: list[str] = Field([], max_length=20, description="ISO 3166-1 alpha-2 codes")
    published_from: dt.date | None = Field(None, alias="from", description="published on or after")
    published_to: dt.date | None = Field(None, alias="to", description="published on or before")


class HitOut(Schema):
    document: str = Field(description="the document's title")
    section: str = Field(description='heading path, e.g. "Strategic Objectives > Collaboration ..."')
    text: str = Field(description="the passage (chunk)")
    score: float = Field(description="rank score of the mode used (higher is better)")
    item: str = Field(description="public id of the item")
    item_title: str
    document_id: str = Field(description="public id of the document")
    page: int
    chunk: int = Field(description="id of the passage")
    url: str = Field(description="the document page at the passage, with the query's words marked")
    highlighted_html: str = Field(description="the passage as HTML: query words in <mark>, the rest escaped")


class SearchOut(Schema):
    query: str
    mode_requested: str
    mode_used: str
    semantic_available: bool
    notice: str = Field(description="e.g. that semantic search is unavailable and full-text answered instead")
    hits: list[HitOut]


@router.get("/search", auth=PUBLIC_AUTH, response=SearchOut, summary="Search the repository's passages (hybrid)")
@public
def search_passages(request: HttpRequest, params: Query[SearchQuery]) -> SearchOut:
    filters = search.SearchFilters(
        kinds=tuple(params.kind),
        tags=tuple(params.tag),
        countries=tuple(params.country),
        published_from=params.published_from,
        published_to=params.published_to,
    )
    result = search.search(request_actor(request), params.q, limit=params.limit, mode=params.mode, filters=filters)
    return SearchOut(
        query=result.query,
        mode_requested=result.mode_requested,
        mode_used=result.mode_used,
        semantic_available=result.semantic_available,
        notice=result.notice,
        hits=[HitOut(**h.as_json(), highlighted_html=h.highlighted_html) for h in result.hits],
    )
