# mypy: disallow-untyped-decorators=False
"""Pages of the knowledge repository: the repository's home (latest items, filters), an item with its documents
and workflow buttons, the create/edit forms, the upload form, the reviewers' queue, and a document with its
sections and passages (the cited passage and the query's words marked). Thin: parse, call one service, render.

The search page (``/knowledge/search``) belongs to ``search_views``.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dhnet.knowledge import rendering, services
from dhnet.knowledge.models import Item, ItemKind, ItemStatus, ReviewDecision
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, ServiceError

PER_PAGE = 25


def _error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return render(
        request, "platform/error.html", {"title": "Cannot do that", "message": exc.message}, status=exc.status
    )


def _page(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _list(params: QueryDict, name: str) -> tuple[str, ...]:
    """The values of a repeated or space/comma-separated parameter (``?tag=so:1 so:2`` or ``?tag=so:1&tag=so:2``)."""
    values = [v for raw in params.getlist(name) for v in re.split(r"[\s,;]+", raw) if v]
    return tuple(v[:100] for v in values)[:20]


# --- the repository's home ----------------------------------------------------------------------------------------


@public
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Latest items the visitor may see, with filters by kind, tag, country and (for reviewers) status."""
    actor = request_actor(request)
    page = _page(request.GET.get("page"))
    query = services.ItemQuery(
        kinds=tuple(k for k in _list(request.GET, "kind") if k in ItemKind.values),
        tags=_list(request.GET, "tag"),
        countries=_list(request.GET, "country"),
        statuses=tuple(s for s in _list(request.GET, "status") if s in ItemStatus.values),
        q=request.GET.get("q", "").strip()[:200],
        mine=request.GET.get("mine") == "1",
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    error, status = "", 200
    try:
        total, items = services.list_items(actor, query)
    except ServiceError as exc:
        total, items, error, status = 0, [], exc.message, exc.status
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "items": items,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "has_next": page * PER_PAGE < total,
        "query": params.urlencode(),
        "filter": query,
        "kinds": ItemKind.choices,
        "statuses": ItemStatus.choices,
        "error": error,
        "can_write": actor.has(services.WRITE),
        "can_review": actor.has(services.REVIEW),
    }
    return render(request, "knowledge/home.html", context, status=status)


# --- one item -----------------------------------------------------------------------------------------------------


def _render_item(request: HttpRequest, item_id: str, *, error: str = "", status: int = 200) -> HttpResponse:
    try:
        detail = services.get_item(request_actor(request), item_id)
    except ServiceError as exc:
        return _error(request, exc)
    item = detail.item
    return render(
        request,
        "knowledge/item.html",
        {
            "d": detail,
            "item": item,
            "tags": list(item.tags.select_related("scheme").order_by("scheme__code", "ordinal")),
            "authors": list(item.authors.order_by("name")),
            "countries": [(c, services.country_names().get(c, c)) for c in item.countries or []],
            "outlines": [(doc, list(doc.sections.order_by("ordinal"))) for doc in detail.documents],
            "decisions": ReviewDecision.choices,
            "error": error,
            "done": request.GET.get("done", "")[:40],
            "max_bytes": services.max_document_bytes(),
        },
        status=status,
    )


@public
@require_GET
def item_detail(request: HttpRequest, item_id: str) -> HttpResponse:
    return _render_item(request, item_id)


def _form_input(post: QueryDict) -> services.ItemInput:
    def split(name: str) -> tuple[str, ...]:
        return tuple(v for v in post.get(name, "").replace(",", " ").split() if v)[: services.MAX_LIST + 1]

    return services.ItemInput(
        kind=post.get("kind", ""),
        title=post.get("title", ""),
        summary=post.get("summary", ""),
        countries=split("countries"),
        licence=post.get("licence", ""),
        tags=split("tags"),
        authors=split("authors"),
        editors=split("editors"),
    )


def _form_values(item: Item | None, editors: list[str] | None = None) -> dict[str, str]:
    if item is None:
        return {"kind": "good_practice", "licence": "CC-BY-4.0"}
    return {
        "kind": item.kind,
        "title": item.title,
        "summary": item.summary,
        "countries": " ".join(item.countries or []),
        "licence": item.licence,
        "tags": " ".join(c.tag for c in item.tags.select_related("scheme")),
        "authors": " ".join(o.slug for o in item.authors.all()),
        "editors": " ".join(editors or []),
    }


def _render_form(
    request: HttpRequest, values: dict[str, Any], *, item: Item | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "knowledge/item_form.html",
        {"values": values, "item": item, "kinds": ItemKind.choices, "error": error},
        status=status,
    )


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def item_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render_form(request, _form_values(None))
    try:
        item = services.create_item(request_actor(request), _form_input(request.POST))
    except ServiceError as exc:
        return _render_form(request, request.POST.dict(), error=exc.message, status=exc.status)
    return redirect(reverse("knowledge:item", args=[item.public_id]) + "?done=created")


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def item_edit(request: HttpRequest, item_id: str) -> HttpResponse:
    actor = request_actor(request)
    try:
        detail = services.get_item(actor, item_id)
    except ServiceError as exc:
        return _error(request, exc)
    if "edit" not in detail.actions:
        return _error(request, Forbidden(f"item {detail.item.public_id} is {detail.item.status}: you may not edit it"))
    if request.method == "GET":
        return _render_form(request, _form_values(detail.item, detail.editors), item=detail.item)
    try:
        item = services.update_item(actor, item_id, _form_input(request.POST))
    except ServiceError as exc:
        return _render_form(request, request.POST.dict(), item=detail.item, error=exc.message, status=exc.status)
    return redirect(reverse("knowledge:item", args=[item.public_id]) + "?done=saved")


@requires(services.WRITE)
@require_POST
def item_upload(request: HttpRequest, item_id: str) -> HttpResponse:
    """Attach an uploaded file (multipart ``file``): parsed, chunked and indexed, or refused naming the reason."""
    upload = request.FILES.get("file")
    if upload is None:
        return _render_item(request, item_id, error="file: choose a file to upload", status=400)
    limit = services.max_document_bytes()
    if upload.size is not None and upload.size > limit:
        return _render_item(
            request,
            item_id,
            error=f"{upload.name}: {upload.size} bytes is larger than the limit of {limit} bytes",
            status=400,
        )
    try:
        document, created = services.attach(
            request_actor(request), item_id, upload.read(limit + 1), upload.name or "document", upload.content_type
        )
    except ServiceError as exc:
        return _render_item(request, item_id, error=exc.message, status=exc.status)
    return redirect(
        reverse("knowledge:item", args=[document.item.public_id]) + ("?done=attached" if created else "?done=known")
    )


@requires(services.WRITE)
@require_POST
def item_submit(request: HttpRequest, item_id: str) -> HttpResponse:
    try:
        item = services.submit_item(request_actor(request), item_id)
    except ServiceError as exc:
        return _render_item(request, item_id, error=exc.message, status=exc.status)
    return redirect(reverse("knowledge:item", args=[item.public_id]) + "?done=submitted")


@requires(services.REVIEW)
@require_POST
def item_review(request: HttpRequest, item_id: str) -> HttpResponse:
    decision = request.POST.get("decision", "")
    try:
        review = services.review_item(request_actor(request), item_id, decision, request.POST.get("comment", ""))
    except ServiceError as exc:
        return _render_item(request, item_id, error=exc.message, status=exc.status)
    return redirect(reverse("knowledge:item", args=[review.item.public_id]) + f"?done={review.decision}")


@requires(services.REVIEW)
@require_POST
def item_archive(request: HttpRequest, item_id: str) -> HttpResponse:
    try:
        item = services.archive_item(request_actor(request), item_id)
    except ServiceError as exc:
        return _render_item(request, item_id, error=exc.message, status=exc.status)
    return redirect(reverse("knowledge:item", args=[item.public_id]) + "?done=archived")


@requires(services.REVIEW)
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    items = services.review_queue(request_actor(request))
    return render(request, "knowledge/review_queue.html", {"items": items})


# --- a document ---------------------------------------------------------------------------------------------------


@public
@require_GET
def document_detail(request: HttpRequest, document_id: str) -> HttpResponse:
    """A document's sections and passages; ``?chunk=`` marks the cited passage, ``?q=`` the query's words."""
    try:
        view = services.get_document(request_actor(request), document_id)
    except ServiceError as exc:
        return _error(request, exc)
    raw_chunk = request.GET.get("chunk", "")
    hit = int(raw_chunk) if raw_chunk.isdigit() and len(raw_chunk) < 19 else None
    query = request.GET.get("q", "")[:200]
    blocks = rendering.render_document(view.document.text, view.sections, view.chunks, hit=hit, query=query)
    return render(
        request,
        "knowledge/document.html",
        {"view": view, "document": view.document, "item": view.item, "blocks": blocks, "hit": hit, "q": query},
    )
