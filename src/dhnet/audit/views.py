"""The audit-trail page for administrators: paginated, filtered by user, action and date."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dhnet.audit import services
from dhnet.platform.access import request_actor, requires


def _date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@requires("audit:record:read")
def records_view(request: HttpRequest) -> HttpResponse:
    params = request.GET
    flt = services.RecordFilter(
        username=params.get("user", "").strip()[:150],
        action=params.get("action", "").strip()[:100],
        date_from=_date(params.get("from")),
        date_to=_date(params.get("to")),
    )
    page_raw = params.get("page", "1")
    page = services.search(request_actor(request), flt, page=int(page_raw) if page_raw.isdigit() else 1)
    query = params.copy()
    query.pop("page", None)
    return render(request, "audit/records.html", {"page": page, "filter": flt, "query": query.urlencode()})
