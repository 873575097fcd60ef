# mypy: disallow-untyped-decorators=False
"""The search page, ``/knowledge/search?q=``: passages citing document, section path and page, highlighted.

Thin: the query string is parsed into :class:`dhnet.knowledge.search.SearchFilters`, one service call ranks, the
template renders. A malformed filter (a date that is not one, an unknown kind or tag) is shown on the page with a
400, never a 500; an empty query shows the form alone.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dhnet.knowledge import embedding, search
from dhnet.knowledge.models import ItemKind
from dhnet.platform.access import public, request_actor
from dhnet.platform.errors import Invalid, ServiceError

#: Hits per page, and the most a visitor may ask for.
DEFAULT_LIMIT = 10
MAX_PAGE_LIMIT = 50


def _list(params: QueryDict, name: str) -> tuple[str, ...]:
    """Every value of a repeated parameter, also split at commas and spaces (``tag=so:1 so:2``)."""
    values = [part for raw in params.getlist(name) for part in raw.replace(",", " ").split()]
    return tuple(dict.fromkeys(v[:100] for v in values))[:20]


def _date(params: QueryDict, name: str) -> dt.date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name}: {raw[:20]!r} is not a date (YYYY-MM-DD)") from None


def _limit(params: QueryDict) -> int:
    raw = params.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_LIMIT:
        raise Invalid(f"limit: a number between 1 and {MAX_PAGE_LIMIT}")
    return int(raw)


@public
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """Search form and results; each hit links to the document page at the passage."""
    params = request.GET
    q = params.get("q", "").strip()
    mode = params.get("mode", "hybrid").strip() or "hybrid"
    context: dict[str, object] = {
        "q": q,
        "mode": mode,
        "modes": search.MODES,
        "kinds": ItemKind.choices,
        "selected_kinds": _list(params, "kind"),
        "tags": " ".join(_list(params, "tag")),
        "countries": " ".join(_list(params, "country")),
        "date_from": params.get("from", "")[:10],
        "date_to": params.get("to", "")[:10],
        "result": None,
        "error": "",
        "semantic_available": embedding.available(),
    }
    status = 200
    if q:
        try:
            filters = search.SearchFilters(
                kinds=_list(params, "kind"),
                tags=_list(params, "tag"),
                countries=_list(params, "country"),
                published_from=_date(params, "from"),
                published_to=_date(params, "to"),
            )
            context["result"] = search.search(
                request_actor(request), q, limit=_limit(params), mode=mode, filters=filters
            )
        except ServiceError as exc:
            context["error"], status = exc.message, exc.status
    return render(request, "knowledge/search.html", context, status=status)
